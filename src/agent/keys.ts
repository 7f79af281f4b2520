// The gossip keys of an agent: from --encrypt-file (mode-checked, as ssh
// checks its keys) or LOCKER_ENCRYPT / --encrypt (the command-line form is
// visible to every user of the host through `ps`, so it warns).
import { readFileSync, statSync } from "node:fs";
import { ConfigError, type AgentConfig } from "./config.js";

const KEY_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;
const MAX_KEYS = 16;

export function parseKeys(text: string, where: string): string[] {
  const keys = text
    .split(/[\s,]+/)
    .map((k) => k.trim())
    .filter((k) => k.length > 0 && !k.startsWith("#"));
  if (keys.length === 0) throw new ConfigError(`${where} holds no key (make one with \`locker keygen\`)`);
  if (keys.length > MAX_KEYS) throw new ConfigError(`${where} holds ${keys.length} keys; at most ${MAX_KEYS}`);
  for (const k of keys) {
    if (!KEY_PATTERN.test(k) || Buffer.from(k, "base64").length !== 32) {
      throw new ConfigError(`${where}: each key must be 32 bytes in base64 (make one with \`locker keygen\`)`);
    }
  }
  return keys;
}

/** Reads --encrypt-file; refuses a file that group or others can read or write. */
export function readKeyFile(path: string): string[] {
  let mode: number;
  let text: string;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`--encrypt-file ${path}: ${(e as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(`--encrypt-file ${path} is readable by other users (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
  }
  if (text.length > 64 * 1024) throw new ConfigError(`--encrypt-file ${path} is too large to be a key file`);
  return parseKeys(text, `--encrypt-file ${path}`);
}

/** The keys the agent seals datagrams with (primary first), or undefined for plain datagrams. */
export function agentKeys(config: AgentConfig): Buffer[] | undefined {
  const keys = config.encryptFile ? readKeyFile(config.encryptFile) : config.encrypt;
  return keys.length > 0 ? keys.map((k) => Buffer.from(k, "base64")) : undefined;
}
