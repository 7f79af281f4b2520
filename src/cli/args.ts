// The `locker` command's flags and arguments: one table of commands, parsed
// with Node's util.parseArgs, and the usage text generated from the same table.
import { parseArgs as nodeParseArgs } from "node:util";
import { agentUsage, DEFAULT_HTTP } from "../agent/config.js";
import { parseDuration } from "../agent/duration.js";
import { UsageError } from "./exit.js";

export interface FlagSpec {
  name: string;
  /** The value's placeholder ("DURATION"); absent for a flag without a value. */
  arg?: string;
  help: string;
}

export interface CommandSpec {
  name: string;
  /** For the usage line. */
  args: string;
  summary: string;
  flags: FlagSpec[];
  /** Positional argument count range. */
  min: number;
  max: number;
  /** Takes `-- CMD ARGS`. */
  command?: boolean;
}

const GLOBAL_FLAGS: FlagSpec[] = [
  { name: "http", arg: "HOST:PORT", help: `agent's HTTP address HOST:PORT (env LOCKER_HTTP, default ${DEFAULT_HTTP})` },
  { name: "http-token-file", arg: "FILE", help: "the agent's bearer token, first line of FILE (mode 600; env LOCKER_HTTP_TOKEN, LOCKER_HTTP_TOKEN_FILE)" },
  { name: "json", help: "print the agent's JSON answer" },
  { name: "help", help: "show help" },
];

const LEASE: FlagSpec = { name: "lease", arg: "DURATION", help: "lease length, e.g. 10s or 500ms (default 10s)" };
const KILL_AFTER: FlagSpec = { name: "kill-after", arg: "DURATION", help: "SIGKILL this long after SIGTERM (default 5s)" };

export const COMMANDS: readonly CommandSpec[] = [
  { name: "agent", args: "[flags]", summary: "run a locker node (see locker agent --help)", flags: [], min: 0, max: 0 },
  { name: "keygen", args: "", summary: "print a new random key for agent --encrypt", flags: [], min: 0, max: 0 },
  { name: "lock", args: "KEY VALUE", summary: "take KEY if it is free; prints the fencing token", flags: [LEASE, { name: "timeout", arg: "DURATION", help: "bound on the round, e.g. 5s" }], min: 2, max: 2 },
  { name: "update", args: "KEY EXPECTED NEW", summary: "replace KEY's value if it is EXPECTED (lease unchanged)", flags: [], min: 3, max: 3 },
  { name: "extend", args: "KEY VALUE", summary: "restart KEY's lease if it holds VALUE", flags: [LEASE], min: 2, max: 2 },
  { name: "release", args: "KEY VALUE", summary: "delete KEY if it holds VALUE", flags: [], min: 2, max: 2 },
  { name: "get", args: "KEY", summary: "print KEY's value (local copy; --consistent: quorum read)", flags: [{ name: "consistent", help: "linearizable read through a quorum" }], min: 1, max: 1 },
  {
    name: "wait",
    args: "KEY",
    summary: "wait until KEY is present (or --released)",
    flags: [
      { name: "released", help: "wait for release or expiry instead" },
      { name: "timeout", arg: "DURATION", help: "how long to wait (default 30s, at most 5m)" },
    ],
    min: 1,
    max: 1,
  },
  { name: "keys", args: "[PREFIX]", summary: "list keys held in the agent's local copy", flags: [], min: 0, max: 1 },
  { name: "members", args: "", summary: "list cluster members", flags: [], min: 0, max: 0 },
  { name: "watch", args: "[PREFIX]", summary: "print live events until Ctrl-C: members joining, suspected, dead; keys taken, released, expired (under PREFIX); election leaders", flags: [], min: 0, max: 1 },
  { name: "voters", args: "", summary: "show the voter configuration (version and voters)", flags: [], min: 0, max: 0 },
  { name: "promote", args: "NAME", summary: "make member NAME (a replica) a voter; one voter changes at a time", flags: [], min: 1, max: 1 },
  { name: "remove-voter", args: "NAME", summary: "take voter NAME out of the configuration (it stays as a replica)", flags: [], min: 1, max: 1 },
  { name: "status", args: "", summary: "show the agent's status", flags: [], min: 0, max: 0 },
  { name: "keyring", args: "list | install KEY | use KEY | remove KEY", summary: "show or rotate the gossip keys on every live member (install, then use, then remove the old)", flags: [], min: 1, max: 2 },
  {
    name: "exec",
    args: "KEY -- CMD [ARGS...]",
    summary: "hold KEY while CMD runs; stop CMD if the lock is lost; exit with CMD's code",
    flags: [LEASE, { name: "timeout", arg: "DURATION", help: "how long to wait for KEY (default: until acquired)" }, KILL_AFTER],
    min: 1,
    max: 1,
    command: true,
  },
  {
    name: "elect",
    args: "NAME -- CMD [ARGS...]",
    summary: "run CMD only while this process leads election NAME",
    flags: [LEASE, { name: "id", arg: "ID", help: "this candidate's id (default hostname-pid-random)" }, KILL_AFTER],
    min: 1,
    max: 1,
    command: true,
  },
];

export function mainUsage(): string {
  return [
    "Usage: locker COMMAND [flags] [args]",
    "",
    "locker: atomic distributed check-and-set for short-lived keys.",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${(c.name + " " + c.args).padEnd(28)} ${c.summary}`),
    "",
    "Flags for every command:",
    ...GLOBAL_FLAGS.map(flagLine),
    "",
    "Exit codes: 0 ok, 1 check failed (locked/mismatch/contention), 2 usage, 3 not found,",
    "  4 no quorum/unavailable, 5 timeout, 6 agent unreachable, 7 invalid request, 8 unauthorized (token);",
    "  exec/elect: CMD's code, 124 lock lost (CMD stopped), 126 cannot run CMD, 127 CMD not found;",
    "  128+N when signal N stopped locker (130 SIGINT, 143 SIGTERM, 129 SIGHUP).",
    "",
    "A VALUE that starts with '-' goes after `--` (locker lock KEY -- -1).",
    "Run `locker COMMAND --help` for a command's flags.",
  ].join("\n");
}

function flagLine(f: FlagSpec): string {
  return `  --${(f.name + (f.arg ? " " + f.arg : "")).padEnd(26)} ${f.help}`;
}

export function commandUsage(c: CommandSpec): string {
  if (c.name === "agent") return agentUsage();
  const flags = [...c.flags, ...GLOBAL_FLAGS];
  const extra = c.command
    ? [
        "",
        "CMD gets LOCKER_KEY, LOCKER_VALUE and LOCKER_TOKEN (the fencing token) in its environment,",
        "runs in its own process group, and receives SIGINT/SIGTERM/SIGHUP sent to locker.",
        c.name === "exec"
          ? "Exit code: CMD's (128+N if signal N ended it); 124 if the lock was lost and CMD was stopped;\n  128+N if signal N stopped locker while it waited for KEY."
          : "Exit code: CMD's, once CMD exits by itself while leading (128+N if signal N ended it).",
      ]
    : ["", "Exit codes: 0 ok, 1 check failed, 2 usage, 3 not found, 4 no quorum, 5 timeout, 6 agent unreachable, 7 invalid, 8 unauthorized."];
  return [
    c.command ? `Usage: locker ${c.name} [flags] ${c.args}` : `Usage: locker ${c.name} ${c.args}${c.args ? " " : ""}[flags]`,
    "",
    c.summary,
    "",
    "Flags:",
    ...flags.map(flagLine),
    ...extra,
  ].join("\n");
}

export interface Parsed {
  positional: string[];
  /** Flags given, by name; a flag without a value maps to "true". */
  flags: Map<string, string>;
  /** After `--`, for exec and elect. */
  command: string[];
}

/** Parses one command's arguments (everything after the command name). @throws UsageError */
export function parseCommandArgs(spec: CommandSpec, argv: readonly string[]): Parsed {
  const all = [...spec.flags, ...GLOBAL_FLAGS];
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const f of all) options[f.name] = f.name === "help" ? { type: "boolean", short: "h" } : { type: f.arg ? "string" : "boolean" };
  const parsed = (() => {
    try {
      return nodeParseArgs({ args: [...argv], options, strict: true, allowPositionals: true, tokens: true });
    } catch (e) {
      throw new UsageError(parseErrorMessage(spec, e), spec.name);
    }
  })();
  const flags = new Map<string, string>();
  for (const [name, v] of Object.entries(parsed.values)) {
    // A repeated flag: the last one counts, as with most commands.
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined && last !== false) flags.set(name, String(last));
  }
  const terminator = parsed.tokens.find((t) => t.kind === "option-terminator")?.index ?? Infinity;
  const positional: string[] = [];
  const command: string[] = [];
  for (const t of parsed.tokens) {
    if (t.kind !== "positional") continue;
    if (t.index > terminator && spec.command) command.push(t.value);
    else positional.push(t.value);
  }
  if (flags.has("help")) return { positional, flags, command };
  if (positional.length < spec.min || positional.length > spec.max) {
    throw new UsageError(`locker ${spec.name} expects ${spec.args || "no arguments"}, got ${positional.length} argument(s)`, spec.name);
  }
  if (spec.command && command.length === 0) throw new UsageError(`locker ${spec.name} needs a command after --`, spec.name);
  return { positional, flags, command };
}

/** util.parseArgs's errors, said in this command's words. */
function parseErrorMessage(spec: CommandSpec, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const option = /'(-[^']*)'/.exec(err.message ?? "")?.[1];
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag ${option ?? ""} for locker ${spec.name}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return option && all(spec).some((f) => `--${f.name}` === option.split(" ")[0] && f.arg) ? `${option.split(" ")[0]} needs a value` : `${option?.split(" ")[0] ?? "a flag"} takes no value`;
    default:
      return err.message ?? String(e);
  }
}

function all(spec: CommandSpec): FlagSpec[] {
  return [...spec.flags, ...GLOBAL_FLAGS];
}

export function durationFlag(p: Parsed, name: string, fallbackMs: number): number {
  const v = p.flags.get(name);
  if (v === undefined) return fallbackMs;
  try {
    return parseDuration(v);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}

/** The agent's HTTP address, checked here so a bad one is a usage error (exit 2), not a failed request. @throws UsageError */
export function httpAddress(p: Parsed, env: Record<string, string | undefined>): string {
  const fromFlag = p.flags.get("http");
  const address = fromFlag ?? env.LOCKER_HTTP ?? DEFAULT_HTTP;
  const source = fromFlag !== undefined ? "--http" : env.LOCKER_HTTP !== undefined ? "LOCKER_HTTP" : "the default address";
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new UsageError(`${source}: expected HOST:PORT with a port in 1..65535, got ${JSON.stringify(address)}`);
  }
  return address;
}
