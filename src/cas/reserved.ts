// Keys the cluster keeps for itself (clients cannot use a key that starts
// with NUL): the registers that record which voter configuration follows
// which (src/cluster/configurator.ts).
/** Prefix of the registers of agreed voter configurations. */
export const CONFIG_KEY = "\u0000locker/config";

/**
 * The configuration version a peek of a configuration register carries to be
 * answered whatever version the acceptor runs. A peek changes nothing, and
 * what it reads is how a node checks that a configuration it was told about
 * was chosen by a quorum of the configuration before it.
 */
export const ANY_CONFIG_VERSION = 0;

export function isConfigRegister(key: string): boolean {
  return key.startsWith(CONFIG_KEY + "/");
}
