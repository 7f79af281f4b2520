// A voter configuration (who votes, at which version) and its one encoding,
// used by the wire codecs that carry it and by the registers that agree on
// it. Lives below replication: the configurator (./configurator.ts) needs it
// without replication's messages, and replication's codec carries it.
import { MAX_NODE_NAME_BYTES } from "../cas/ballot.js";
import { MAX_CONFIG_VERSION } from "../cas/messages.js";
import { WireError } from "../wire/errors.js";

/** A voter configuration: who votes, at which version. */
export interface VoterConfig {
  readonly version: number;
  /** Sorted by name; names are unique. */
  readonly voters: ReadonlyArray<{ readonly name: string; readonly address: string }>;
}

/** A member as the configurator sees it: its name and where it is reached. */
export interface MemberSpec {
  readonly name: string;
  readonly address: string;
}

/** Bound on voters in one configuration. */
export const MAX_VOTERS = 31;
export const MAX_ADDRESS_BYTES = 256;

function fail(what: string): never {
  throw new WireError("bad_message", `bad voter configuration: ${what}`);
}

function pair(x: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(x) || x.length > max) fail(what);
  return x;
}

export function encodeConfig(c: VoterConfig): unknown[] {
  return [c.version, c.voters.map((v) => [v.name, v.address])];
}

/** A configuration from its encoding; every field bounded, voters sorted by unique name. Throws WireError. */
export function decodeConfig(x: unknown): VoterConfig {
  const a = pair(x, "config", 2);
  if (a.length !== 2) fail("config arity");
  const version = a[0];
  // A configuration version is bounded (see MAX_CONFIG_VERSION: a forged 2^32 − 1 once stopped all writes).
  if (typeof version !== "number" || !Number.isInteger(version) || version < 0 || version > MAX_CONFIG_VERSION) fail("config version");
  const voters = pair(a[1], "voters", MAX_VOTERS).map((v) => {
    const p = pair(v, "voter", 2);
    if (p.length !== 2) fail("voter arity");
    const [name, address] = p;
    if (typeof name !== "string" || name.length === 0 || Buffer.byteLength(name, "utf8") > MAX_NODE_NAME_BYTES) fail("voter name");
    if (typeof address !== "string" || address.length === 0 || Buffer.byteLength(address) > MAX_ADDRESS_BYTES) fail("voter address");
    return { name, address };
  });
  if (voters.length === 0) fail("no voters");
  for (let i = 1; i < voters.length; i++) if (!(voters[i - 1]!.name < voters[i]!.name)) fail("voters not sorted by unique name");
  return { version, voters };
}

/** The configuration as every node holds it: voters sorted by name, checked like one from the wire. */
export function normalizeConfig(version: number, voters: ReadonlyArray<{ name: string; address: string }>): VoterConfig {
  const sorted = [...voters].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  return decodeConfig(encodeConfig({ version, voters: sorted }));
}

export function configsEqual(a: VoterConfig, b: VoterConfig): boolean {
  return a.version === b.version && a.voters.length === b.voters.length && a.voters.every((v, i) => v.name === b.voters[i]!.name && v.address === b.voters[i]!.address);
}
