// The agent's configuration, resolved in one place: defaults < JSON --config file
// < LOCKER_<FLAG> environment variables < command-line flags. Bad input is a ConfigError.
import { DEFAULT_MAX_CLOCK_SKEW_MS } from "../cas/recovery.js";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { DEFAULT_MULTICAST_GROUP, DEFAULT_MULTICAST_PORT } from "../discovery/multicast.js";
import { DEFAULT_LIMITS } from "../limits.js";
import { formatDuration, parseDuration } from "./duration.js";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

export interface AgentConfig {
  /** Unique member name; voters are listed by name. */
  name: string;
  /** UDP address for membership and CAS rounds, "host:port". */
  bind: string;
  /** HTTP API address, "host:port". */
  http: string;
  /** Seed members to join, "host:port" each. */
  join: string[];
  /** Static voter set, by member name. Empty when `expect` is used. */
  voters: string[];
  /** Bootstrap by expecting this many voters instead of a static list (0 = unused). */
  expect: number;
  /** Join as a non-voting replica. */
  replica: boolean;
  logLevel: LogLevel;
  /** Longest lease a client may ask for; also the quiet period of a restarted voter that cannot recover from the others. */
  maxLeaseMs: number;
  /** Keep the ballot floor in --data-dir, so tokens increase across a restart of every voter (default true). */
  persistFloor: boolean;
  /** The clock assumption a restarted voter's recovery rests on: every two hosts' wall clocks differ by at most this. */
  maxClockSkewMs: number;
  maxKeyBytes: number;
  maxValueBytes: number;
  /** Cluster label carried by every datagram: nodes of other clusters are ignored. */
  cluster: string;
  /**
   * Where the agent keeps a small state file that tells a fresh voter (never granted a
   * lease) from a restarted one, which must sit out the quiet period. "" = keep nothing
   * (every start is then treated as a restart).
   */
  dataDir: string;
  /**
   * Base64 AES-256 keys (32 bytes each) sealing every datagram; the first one
   * encrypts, all of them decrypt (rotation). Empty = no encryption.
   */
  encrypt: string[];
  /** A file holding the keys (one base64 key per line or comma-separated); must not be readable by group or others. */
  encryptFile: string;
  /** Allow unsealed datagrams on a non-loopback bind. */
  insecure: boolean;
  /** Key affinity: "true" (forward each key to its coordinator), "contended" (only contended keys) or "false". */
  affinity: string;
  /** The address other members reach this node at, "host" or "host:port" ("" = derive it from --bind). */
  advertise: string;
  /** Multicast discovery: "auto" (on when no --join is given and the bind is not loopback), "true" or "false". */
  discover: "auto" | "true" | "false";
  discoverGroup: string;
  discoverPort: number;
  /** Interface address beacons leave from ("" = the advertised address's). */
  discoverInterface: string;
  /** File holding the HTTP API's bearer token (mode 600); "" = no token asked. */
  httpTokenFile: string;
  /** PEM certificate chain for HTTPS ("" = plain HTTP); needs tlsKey. */
  tlsCert: string;
  /** PEM private key for HTTPS (mode 600). */
  tlsKey: string;
  /** Open HTTP connections from one source address (IPv6: its /64). */
  httpMaxConnectionsPerSource: number;
  /** Concurrent long-polls from one source address. */
  httpMaxWaitsPerSource: number;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

type Kind = "string" | "list" | "int" | "bool" | "tristate" | "duration" | "address" | "level";

interface OptionSpec {
  key: keyof AgentConfig;
  flag: string;
  kind: Kind;
  arg: string;
  help: string;
  min?: number;
  max?: number;
}

/** One table drives flags, environment variables, config-file keys and the usage text. */
export const AGENT_OPTIONS: readonly OptionSpec[] = [
  { key: "name", flag: "name", kind: "string", arg: "NAME", help: "unique member name (default: hostname:udp-port)" },
  { key: "bind", flag: "bind", kind: "address", arg: "HOST:PORT", help: "UDP address for membership and CAS" },
  { key: "http", flag: "http", kind: "address", arg: "HOST:PORT", help: "HTTP API address (loopback by default)" },
  { key: "join", flag: "join", kind: "list", arg: "HOST:PORT[,...]", help: "seed members to join" },
  { key: "voters", flag: "voters", kind: "list", arg: "NAME[,...]", help: "static voter set, by member name" },
  { key: "expect", flag: "expect", kind: "int", arg: "N", help: "bootstrap: the first N members that see each other vote", min: 1, max: 15 },
  { key: "replica", flag: "replica", kind: "bool", arg: "", help: "join as a non-voting replica" },
  { key: "logLevel", flag: "log-level", kind: "level", arg: "LEVEL", help: LOG_LEVELS.join("|") },
  { key: "maxLeaseMs", flag: "max-lease", kind: "duration", arg: "DURATION", help: "longest lease a client may take; a restarted voter waits this long before voting", min: 10, max: 3_600_000 },
  { key: "maxClockSkewMs", flag: "max-clock-skew", kind: "duration", arg: "DURATION", help: "most two hosts' wall clocks may differ; a restarted voter recovers from the others on this assumption", min: 0, max: 60_000 },
  { key: "persistFloor", flag: "persist-floor", kind: "bool", arg: "", help: "keep the ballot floor in --data-dir (written about once a second under load): tokens increase even across a restart of every voter" },
  { key: "maxKeyBytes", flag: "max-key-bytes", kind: "int", arg: "N", help: "largest key, in UTF-8 bytes", min: 1, max: 4096 },
  { key: "maxValueBytes", flag: "max-value-bytes", kind: "int", arg: "N", help: "largest value, in encoded (CBOR) bytes", min: 1, max: 16384 },
  { key: "cluster", flag: "cluster", kind: "string", arg: "LABEL", help: "cluster label; datagrams of other clusters are dropped" },
  { key: "encrypt", flag: "encrypt", kind: "list", arg: "KEY[,KEY...]", help: "base64 32-byte keys (locker keygen): seal every datagram with AES-256-GCM; the first encrypts, all decrypt" },
  { key: "dataDir", flag: "data-dir", kind: "string", arg: "DIR", help: "state directory: tells a fresh node from a restarted one (quiet period), remembers members to rejoin" },
  { key: "encryptFile", flag: "encrypt-file", kind: "string", arg: "FILE", help: "file with the base64 keys (one per line); mode 600: not readable by group or others" },
  { key: "insecure", flag: "insecure", kind: "bool", arg: "", help: "allow unsealed datagrams on a non-loopback bind (anyone on the network can then forge locks)" },
  { key: "affinity", flag: "affinity", kind: "string", arg: "MODE", help: "key affinity: contended (a key seen contended goes to its coordinator among the voters; others run here), true (every key goes to its coordinator), false" },
  { key: "advertise", flag: "advertise", kind: "string", arg: "HOST[:PORT]", help: "address other members reach this node at (default: --bind, or the host's one private address for 0.0.0.0)" },
  { key: "discover", flag: "discover", kind: "tristate", arg: "", help: "multicast discovery of peers: true, false, or auto (on when no --join and the bind is not loopback)" },
  { key: "discoverGroup", flag: "discover-group", kind: "string", arg: "ADDR", help: "multicast group of discovery beacons" },
  { key: "discoverPort", flag: "discover-port", kind: "int", arg: "PORT", help: "UDP port of discovery beacons", min: 1, max: 65535 },
  { key: "discoverInterface", flag: "discover-interface", kind: "string", arg: "ADDR", help: "interface address beacons leave from (default: the advertised address's)" },
  { key: "httpTokenFile", flag: "http-token-file", kind: "string", arg: "FILE", help: "HTTP API bearer token, first line of FILE (mode 600); every request but GET /v1/health then needs it" },
  { key: "tlsCert", flag: "tls-cert", kind: "string", arg: "FILE", help: "PEM certificate chain: serve the HTTP API over HTTPS (with --tls-key)" },
  { key: "tlsKey", flag: "tls-key", kind: "string", arg: "FILE", help: "PEM private key for --tls-cert (mode 600)" },
  { key: "httpMaxConnectionsPerSource", flag: "http-max-connections-per-source", kind: "int", arg: "N", help: "open HTTP connections one client address may hold (IPv6: per /64)", min: 1, max: 4096 },
  { key: "httpMaxWaitsPerSource", flag: "http-max-waits-per-source", kind: "int", arg: "N", help: "concurrent long-polls (?wait=) one client address may hold", min: 1, max: 2048 },
];

export const DEFAULT_UDP_PORT = 7946;
export const DEFAULT_HTTP = "127.0.0.1:7947";

export function defaultConfig(): Omit<AgentConfig, "name"> {
  return {
    bind: `127.0.0.1:${DEFAULT_UDP_PORT}`,
    http: DEFAULT_HTTP,
    join: [],
    voters: [],
    expect: 0,
    replica: false,
    logLevel: "info",
    maxLeaseMs: DEFAULT_LIMITS.maxLeaseMs,
    maxClockSkewMs: DEFAULT_MAX_CLOCK_SKEW_MS,
    persistFloor: true,
    maxKeyBytes: DEFAULT_LIMITS.maxKeyBytes,
    maxValueBytes: DEFAULT_LIMITS.maxValueBytes,
    cluster: "locker",
    dataDir: ".locker",
    encrypt: [],
    encryptFile: "",
    insecure: false,
    affinity: "contended",
    advertise: "",
    discover: "auto",
    discoverGroup: DEFAULT_MULTICAST_GROUP,
    discoverPort: DEFAULT_MULTICAST_PORT,
    discoverInterface: "",
    httpTokenFile: "",
    tlsCert: "",
    tlsKey: "",
    httpMaxConnectionsPerSource: 256,
    httpMaxWaitsPerSource: 128,
  };
}

export interface ResolveInput {
  argv: readonly string[];
  env: Record<string, string | undefined>;
  /** Reads the --config file; injectable for tests. */
  readFile?: (path: string) => string;
}

/** Resolves flags, environment and config file against the defaults. Throws ConfigError. */
export function resolveAgentConfig(input: ResolveInput): AgentConfig {
  const fromFlags = parseFlags(input.argv);
  const configPath = fromFlags.config ?? input.env.LOCKER_CONFIG;
  const fromFile = configPath ? parseConfigFile(configPath, input.readFile ?? ((p) => readFileSync(p, "utf8"))) : {};
  const fromEnv = parseEnv(input.env);
  const merged = { ...defaultConfig(), ...fromFile, ...fromEnv, ...fromFlags.values } as Partial<AgentConfig>;
  return finish(merged);
}

function finish(c: Partial<AgentConfig>): AgentConfig {
  const bind = c.bind!;
  const name = c.name ?? `${hostname()}:${splitAddress(bind).port}`;
  if (name.length === 0 || Buffer.byteLength(name) > 128) throw new ConfigError("--name must be 1 to 128 bytes");
  const voters = c.voters ?? [];
  const expect = c.expect ?? 0;
  if (voters.length > 0 && expect > 0) throw new ConfigError("give either --voters or --expect, not both");
  if (voters.length > 15) throw new ConfigError("at most 15 voters");
  if (new Set(voters).size !== voters.length) throw new ConfigError("--voters lists a name twice");
  const join = c.join ?? [];
  if (join.length > 64) throw new ConfigError("at most 64 --join addresses");
  for (const a of join) splitAddress(a, "--join");
  let finalVoters = voters;
  if (voters.length === 0 && expect === 0) {
    if (c.replica) throw new ConfigError("--replica needs the cluster's --voters (or --expect)");
    if (join.length > 0) throw new ConfigError("--join needs --voters or --expect: a quorum is a majority of a fixed voter set");
    // Alone, with no cluster to join: a single-node cluster that is its own sole voter.
    finalVoters = [name];
  }
  const encrypt = c.encrypt ?? [];
  for (const k of encrypt) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(k) || Buffer.from(k, "base64").length !== 32) {
      throw new ConfigError("--encrypt: each key must be 32 bytes in base64 (make one with `locker keygen`)");
    }
  }
  if (c.replica && finalVoters.includes(name)) throw new ConfigError(`--replica, but this node's name ${name} is in --voters`);
  if (!["true", "false", "contended"].includes(String(c.affinity))) throw new ConfigError(`--affinity must be true, false or contended, got ${JSON.stringify(c.affinity)}`);
  if (c.encryptFile && encrypt.length > 0) throw new ConfigError("give either --encrypt or --encrypt-file, not both");
  // Safe by default (like Redis's protected mode): plain datagrams only where nobody else can send them.
  const bindHost = splitAddress(bind).host;
  const loopback = bindHost === "localhost" || bindHost === "::1" || /^127\./.test(bindHost);
  if (!loopback && encrypt.length === 0 && !c.encryptFile && !c.insecure) {
    throw new ConfigError(
      `refusing to bind ${bind} without a key: anyone on this network could forge locks or take over the voter set.\n` +
        "Make a key with `locker keygen`, store it in a file only you can read (chmod 600) and give that file to every node with --encrypt-file FILE " +
        "(or the key in LOCKER_ENCRYPT); or pass --insecure to accept the risk",
    );
  }
  return {
    ...(c as AgentConfig),
    name,
    voters: finalVoters,
    expect,
    join,
  };
}

/**
 * The flags, through node's util.parseArgs (the CLI's parser too). Booleans
 * and tristates take a value only glued on (`--discover=false`), so a bare
 * one is rewritten to `=true` first and the next argument is never
 * swallowed; every other flag takes the next argument or `=VALUE`.
 */
function parseFlags(argv: readonly string[]): { values: Partial<AgentConfig>; config?: string } {
  const glued = argv.map((arg) => {
    const spec = arg.startsWith("--") && !arg.includes("=") ? AGENT_OPTIONS.find((o) => o.flag === arg.slice(2)) : undefined;
    return spec && (spec.kind === "bool" || spec.kind === "tristate") ? `${arg}=true` : arg;
  });
  const options: Record<string, { type: "string" }> = { config: { type: "string" } };
  for (const o of AGENT_OPTIONS) options[o.flag] = { type: "string" };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: glued, options, strict: true, allowPositionals: false, tokens: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    const flag = /'(--?[^' ]+)/.exec(err.message)?.[1];
    if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new ConfigError(`unknown flag ${flag ?? err.message} (see locker agent --help)`);
    if (err.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") throw new ConfigError(`unexpected argument ${JSON.stringify(/'([^']*)'/.exec(err.message)?.[1] ?? "")}`);
    if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const spec = AGENT_OPTIONS.find((o) => `--${o.flag}` === flag);
      throw new ConfigError(flag === "--config" ? "--config needs a FILE" : `${flag ?? "a flag"} needs a value${spec ? ` ${spec.arg}` : ""}`);
    }
    throw new ConfigError(err.message);
  }
  const values: Partial<AgentConfig> = {};
  let config: string | undefined;
  // In command-line order, so a repeated flag's last value wins.
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== "option") continue;
    const value = token.value ?? "";
    if (token.name === "config") {
      config = value;
      continue;
    }
    setValue(values, AGENT_OPTIONS.find((o) => o.flag === token.name)!, value, `--${token.name}`);
  }
  return config === undefined ? { values } : { values, config };
}

export function envName(spec: OptionSpec): string {
  return `LOCKER_${spec.flag.toUpperCase().replace(/-/g, "_")}`;
}

function parseEnv(env: Record<string, string | undefined>): Partial<AgentConfig> {
  const values: Partial<AgentConfig> = {};
  for (const spec of AGENT_OPTIONS) {
    const v = env[envName(spec)];
    if (v !== undefined && v !== "") setValue(values, spec, v, envName(spec));
  }
  return values;
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function parseConfigFile(path: string, read: (p: string) => string): Partial<AgentConfig> {
  let text: string;
  try {
    text = read(path);
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  const values: Partial<AgentConfig> = {};
  for (const [k, v] of Object.entries(raw)) {
    // Keys as the flag is spelled ("log-level") or in camelCase ("logLevel").
    const spec = AGENT_OPTIONS.find((o) => o.flag === k || camel(o.flag) === k);
    if (!spec) throw new ConfigError(`config file ${path}: unknown key ${JSON.stringify(k)}`);
    const where = `config file ${path}: ${k}`;
    if (spec.kind === "list" && Array.isArray(v)) {
      if (!v.every((x) => typeof x === "string")) throw new ConfigError(`${where} must be a list of strings`);
      setValue(values, spec, v.join(","), where);
    } else if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") {
      setValue(values, spec, String(v), where);
    } else {
      throw new ConfigError(`${where} has the wrong type`);
    }
  }
  return values;
}

function setValue(out: Partial<AgentConfig>, spec: OptionSpec, text: string, where: string): void {
  const o = out as Record<string, unknown>;
  switch (spec.kind) {
    case "string":
      if (text.length > 1024) throw new ConfigError(`${where} is too long`);
      o[spec.key] = text;
      return;
    case "list": {
      const items = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
      if (spec.key === "join") for (const a of items) splitAddress(a, where);
      o[spec.key] = items;
      return;
    }
    case "address":
      splitAddress(text, where);
      o[spec.key] = text;
      return;
    case "int": {
      if (!/^\d+$/.test(text)) throw new ConfigError(`${where} must be a whole number, got ${JSON.stringify(text)}`);
      const n = Number(text);
      checkBounds(n, spec, where, String);
      o[spec.key] = n;
      return;
    }
    case "bool": {
      const t = text.toLowerCase();
      if (["true", "1", "yes"].includes(t)) o[spec.key] = true;
      else if (["false", "0", "no"].includes(t)) o[spec.key] = false;
      else throw new ConfigError(`${where} must be true or false, got ${JSON.stringify(text)}`);
      return;
    }
    case "tristate": {
      const t = text.toLowerCase();
      if (["true", "1", "yes"].includes(t)) o[spec.key] = "true";
      else if (["false", "0", "no"].includes(t)) o[spec.key] = "false";
      else if (t === "auto") o[spec.key] = "auto";
      else throw new ConfigError(`${where} must be true, false or auto, got ${JSON.stringify(text)}`);
      return;
    }
    case "duration": {
      let ms: number;
      try {
        ms = parseDuration(text);
      } catch (e) {
        throw new ConfigError(`${where}: ${(e as Error).message}`);
      }
      checkBounds(ms, spec, where, formatDuration);
      o[spec.key] = ms;
      return;
    }
    case "level":
      if (!(LOG_LEVELS as readonly string[]).includes(text)) {
        throw new ConfigError(`${where} must be one of ${LOG_LEVELS.join(", ")}`);
      }
      o[spec.key] = text;
      return;
  }
}

function checkBounds(n: number, spec: OptionSpec, where: string, show: (n: number) => string): void {
  if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
    throw new ConfigError(`${where} must be between ${show(spec.min ?? 0)} and ${show(spec.max ?? Infinity)}`);
  }
}

/** Splits "host:port" or "[v6]:port"; throws ConfigError naming `where` on anything else. */
export function splitAddress(text: string, where = "address"): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) throw new ConfigError(`${where}: expected HOST:PORT, got ${JSON.stringify(text)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(`${where}: port ${port} is out of range`);
  return { host: (m[1] ?? m[2])!, port };
}

export function agentUsage(): string {
  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  const lines = AGENT_OPTIONS.map((o) => {
    const flag = `--${o.flag}${o.arg ? " " + o.arg : ""}`;
    const d = defaults[o.key];
    const shown =
      o.kind === "duration" ? formatDuration(d as number) : Array.isArray(d) ? (d.length ? d.join(",") : "") : String(d);
    const def = o.key === "name" || shown === "" || shown === "0" ? "" : ` [default ${shown}]`;
    return `  ${flag.padEnd(30)} ${o.help}${def}\n  ${"".padEnd(30)} env ${envName(o)}`;
  });
  return [
    "Usage: locker agent [flags]",
    "",
    "Runs a locker node: SWIM membership and CAS rounds over UDP, an HTTP API for clients.",
    "Alone (no --join, --voters or --expect) it is a single-node cluster that is its own voter.",
    "",
    "Flags (each also as an environment variable, and as a key of the JSON --config file):",
    ...lines,
    `  ${"--config FILE".padEnd(30)} JSON object with any of the keys above (e.g. "logLevel")`,
    `  ${"".padEnd(30)} env LOCKER_CONFIG`,
    "",
    "Precedence: flags > environment > config file > defaults.",
    "SIGTERM or SIGINT: leave the cluster gracefully and exit 0.",
  ].join("\n");
}
