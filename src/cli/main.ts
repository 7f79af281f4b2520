// The `locker` command: runs an agent, or talks to one over HTTP (--http,
// LOCKER_HTTP). Exit codes are documented in EXIT and in the README.
import { spawn, type ChildProcess } from "node:child_process";
import { hostname } from "node:os";
import { LockerError, type LockerErrorCode } from "../errors.js";
import { LeaderElection } from "../recipes/election.js";
import { Mutex, randomHolderId } from "../recipes/mutex.js";
import { SystemClock } from "../util/clock.js";
import { cryptoSeededRandom } from "../util/random.js";
import { agentUsage, ConfigError, DEFAULT_HTTP } from "../agent/config.js";
import { formatDuration, parseDuration } from "../agent/duration.js";
import { AgentClient, AgentUnreachableError } from "./client.js";
import { Keyring } from "../wire/keyring.js";

/** Exit codes; the README's table is generated from the same words. */
export const EXIT = {
  ok: 0,
  /** The check failed: locked, mismatch, contention. */
  failed: 1,
  usage: 2,
  notFound: 3,
  /** no_quorum or unavailable: the cluster cannot answer now. */
  noQuorum: 4,
  timeout: 5,
  /** The agent could not be reached. */
  unreachable: 6,
  /** The agent refused the request as invalid. */
  invalid: 7,
  /** exec/elect: the lock was lost and the command was stopped. */
  lockLost: 124,
  /** exec/elect: the command could not be started. */
  cannotRun: 126,
  commandNotFound: 127,
} as const;

export function exitCodeFor(e: unknown): number {
  if (e instanceof AgentUnreachableError) return EXIT.unreachable;
  if (e instanceof LockerError) {
    const byCode: Record<LockerErrorCode, number> = {
      locked: EXIT.failed,
      mismatch: EXIT.failed,
      contention: EXIT.failed,
      not_found: EXIT.notFound,
      no_quorum: EXIT.noQuorum,
      unavailable: EXIT.noQuorum,
      timeout: EXIT.timeout,
      invalid: EXIT.invalid,
    };
    return byCode[e.code];
  }
  if (e instanceof UsageError || e instanceof ConfigError) return EXIT.usage;
  return EXIT.failed;
}

class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

interface FlagSpec {
  name: string;
  /** The value's placeholder ("DURATION"); absent for a flag without a value. */
  arg?: string;
  help: string;
}

interface CommandSpec {
  name: string;
  args: string; // for the usage line
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
  { name: "json", help: "print the agent's JSON answer" },
  { name: "help", help: "show help" },
];

const LEASE: FlagSpec = { name: "lease", arg: "DURATION", help: "lease length, e.g. 10s or 500ms (default 10s)" };

const COMMANDS: CommandSpec[] = [
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
  { name: "voters", args: "", summary: "show the voter configuration (version and voters)", flags: [], min: 0, max: 0 },
  { name: "promote", args: "NAME", summary: "make member NAME (a replica) a voter; one voter changes at a time", flags: [], min: 1, max: 1 },
  { name: "remove-voter", args: "NAME", summary: "take voter NAME out of the configuration (it stays as a replica)", flags: [], min: 1, max: 1 },
  { name: "status", args: "", summary: "show the agent's status", flags: [], min: 0, max: 0 },
  {
    name: "exec",
    args: "KEY -- CMD [ARGS...]",
    summary: "hold KEY while CMD runs; stop CMD if the lock is lost; exit with CMD's code",
    flags: [LEASE, { name: "timeout", arg: "DURATION", help: "how long to wait for KEY (default: until acquired)" }, { name: "kill-after", arg: "DURATION", help: "SIGKILL this long after SIGTERM (default 5s)" }],
    min: 1,
    max: 1,
    command: true,
  },
  {
    name: "elect",
    args: "NAME -- CMD [ARGS...]",
    summary: "run CMD only while this process leads election NAME",
    flags: [LEASE, { name: "id", arg: "ID", help: "this candidate's id (default hostname-pid-random)" }, { name: "kill-after", arg: "DURATION", help: "SIGKILL this long after SIGTERM (default 5s)" }],
    min: 1,
    max: 1,
    command: true,
  },
];

function mainUsage(): string {
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
    "  4 no quorum/unavailable, 5 timeout, 6 agent unreachable, 7 invalid request;",
    "  exec/elect: CMD's code, 124 lock lost (CMD stopped), 126 cannot run CMD, 127 CMD not found.",
    "",
    "Run `locker COMMAND --help` for a command's flags.",
  ].join("\n");
}

function flagLine(f: FlagSpec): string {
  return `  --${(f.name + (f.arg ? " " + f.arg : "")).padEnd(26)} ${f.help}`;
}

function commandUsage(c: CommandSpec): string {
  if (c.name === "agent") return agentUsage();
  const flags = [...c.flags, ...GLOBAL_FLAGS];
  const extra = c.command
    ? [
        "",
        "CMD gets LOCKER_KEY, LOCKER_VALUE and LOCKER_TOKEN (the fencing token) in its environment,",
        "runs in its own process group, and receives SIGINT/SIGTERM/SIGHUP sent to locker.",
        c.name === "exec"
          ? "Exit code: CMD's (128+N if signal N ended it); 124 if the lock was lost and CMD was stopped."
          : "Exit code: CMD's, once CMD exits by itself while leading (128+N if signal N ended it).",
      ]
    : ["", "Exit codes: 0 ok, 1 check failed, 2 usage, 3 not found, 4 no quorum, 5 timeout, 6 agent unreachable, 7 invalid."];
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

interface Parsed {
  positional: string[];
  flags: Map<string, string>;
  command: string[];
}

function parseArgs(spec: CommandSpec, argv: readonly string[]): Parsed {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  let command: string[] = [];
  const all = [...spec.flags, ...GLOBAL_FLAGS];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      if (!spec.command) throw new UsageError(`locker ${spec.name} takes no command after --`, spec.name);
      command = argv.slice(i + 1);
      break;
    }
    if (a === "-h") {
      flags.set("help", "true");
      continue;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const f = all.find((x) => x.name === name);
      if (!f) throw new UsageError(`unknown flag --${name} for locker ${spec.name}`, spec.name);
      if (f.arg) {
        const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined) throw new UsageError(`--${name} needs a value`, spec.name);
        flags.set(name, v);
      } else {
        if (eq >= 0) throw new UsageError(`--${name} takes no value`, spec.name);
        flags.set(name, "true");
      }
      continue;
    }
    positional.push(a);
  }
  if (flags.has("help")) return { positional, flags, command };
  if (positional.length < spec.min || positional.length > spec.max) {
    throw new UsageError(`locker ${spec.name} expects ${spec.args || "no arguments"}, got ${positional.length} argument(s)`, spec.name);
  }
  if (spec.command && command.length === 0) throw new UsageError(`locker ${spec.name} needs a command after --`, spec.name);
  return { positional, flags, command };
}

function durationFlag(p: Parsed, name: string, fallbackMs: number): number {
  const v = p.flags.get(name);
  if (v === undefined) return fallbackMs;
  try {
    return parseDuration(v);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
}

const processIo: Io = {
  out: (t) => process.stdout.write(t + "\n"),
  err: (t) => process.stderr.write(t + "\n"),
  env: process.env,
};

/** Runs the CLI; resolves with the exit code (the agent command resolves when it stops). */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? io.err : io.out)(mainUsage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version") {
    io.out("locker 0.1.0");
    return EXIT.ok;
  }
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) {
    io.err(`locker: unknown command ${JSON.stringify(name)}\n\n${mainUsage()}`);
    return EXIT.usage;
  }
  if (spec.name === "agent") {
    if (rest.includes("--help") || rest.includes("-h")) {
      io.out(agentUsage());
      return EXIT.ok;
    }
    const { runAgentFromArgs } = await import("../agent/agent.js");
    try {
      return await runAgentFromArgs(rest, io.env);
    } catch (e) {
      if (e instanceof ConfigError) {
        io.err(`locker agent: ${e.message}\n\nRun \`locker agent --help\` for the flags.`);
        return EXIT.usage;
      }
      // Could not start (address in use, a refused option): not a usage error, not a check.
      io.err(`locker agent: ${(e as Error).message}`);
      return EXIT.failed;
    }
  }
  if (spec.name === "keygen") {
    if (rest.includes("--help") || rest.includes("-h")) {
      io.out(commandUsage(spec));
      return EXIT.ok;
    }
    if (rest.length > 0) {
      io.err(`locker: keygen takes no arguments\n\n${commandUsage(spec)}`);
      return EXIT.usage;
    }
    io.out(Keyring.generateKey().toString("base64"));
    return EXIT.ok;
  }
  let parsed: Parsed;
  try {
    parsed = parseArgs(spec, rest);
  } catch (e) {
    io.err(`locker: ${(e as Error).message}\n\n${commandUsage(spec)}`);
    return EXIT.usage;
  }
  if (parsed.flags.has("help")) {
    io.out(commandUsage(spec));
    return EXIT.ok;
  }
  const json = parsed.flags.has("json");
  const address = parsed.flags.get("http") ?? io.env.LOCKER_HTTP ?? DEFAULT_HTTP;
  const clock = new SystemClock();
  let client: AgentClient;
  try {
    client = new AgentClient(address, clock);
  } catch (e) {
    io.err(`locker: ${(e as Error).message}`);
    return EXIT.usage;
  }
  try {
    return await run(spec, parsed, client, clock, io, json);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`locker: ${e.message}\n\n${commandUsage(spec)}`);
      return EXIT.usage;
    }
    if (json && e instanceof LockerError) io.out(JSON.stringify({ error: e.code, message: e.message }));
    else io.err(`locker ${spec.name}: ${e instanceof LockerError ? `${e.code}: ` : ""}${(e as Error).message}`);
    return exitCodeFor(e);
  } finally {
    client.close();
    clock.clearAll();
  }
}

async function run(spec: CommandSpec, p: Parsed, client: AgentClient, clock: SystemClock, io: Io, json: boolean): Promise<number> {
  const [a, b, c] = p.positional as [string, string, string];
  const show = (body: Record<string, unknown>, human: string): number => {
    io.out(json ? JSON.stringify(body) : human);
    return EXIT.ok;
  };
  const path = AgentClient.keyPath;
  switch (spec.name) {
    case "lock": {
      const leaseMs = durationFlag(p, "lease", 10_000);
      const timeoutMs = p.flags.has("timeout") ? durationFlag(p, "timeout", 0) : undefined;
      const r = await client.lockRaw(a, b, leaseMs, timeoutMs);
      return show(r as unknown as Record<string, unknown>, r.token);
    }
    case "update": {
      const r = await client.call("POST", path(a, "update"), { expected: b, value: c });
      return show(r, `updated ${a} (token ${String(r.token)})`);
    }
    case "extend": {
      const r = await client.extendRaw(a, b, durationFlag(p, "lease", 10_000));
      return show(r as unknown as Record<string, unknown>, `extended ${a} for ${formatDuration(r.leaseMs ?? 0)} (token ${r.token})`);
    }
    case "release": {
      const r = await client.call("POST", path(a, "release"), { value: b });
      return show(r, `released ${a}`);
    }
    case "get": {
      const r = await client.call("GET", path(a) + (p.flags.has("consistent") ? "?consistent=true" : ""));
      return show(r, printable(r.value));
    }
    case "wait": {
      const timeoutMs = durationFlag(p, "timeout", 30_000);
      if (timeoutMs > 300_000) throw new UsageError("--timeout: at most 5m");
      const released = p.flags.has("released");
      const r = await client.call("GET", `${path(a)}?wait=${released ? "released" : "present"}&timeoutMs=${timeoutMs}`, undefined, timeoutMs + 15_000);
      return show(r, released ? `${a} is free` : printable(r.value));
    }
    case "keys": {
      const r = await client.call("GET", `/v1/keys${a !== undefined ? `?prefix=${encodeURIComponent(a)}` : ""}`);
      const rows = (Array.isArray(r.keys) ? r.keys : []) as Record<string, unknown>[];
      const lines = rows.map((k) => [String(k.key), printable(k.value), String(k.token), formatDuration(Number(k.leaseRemainingMs) || 0)]);
      const more = r.truncated === true ? "\n(more keys not listed)" : "";
      return show(r, table(["KEY", "VALUE", "TOKEN", "LEASE LEFT"], lines) + more);
    }
    case "members": {
      const r = await client.call("GET", "/v1/members");
      const rows = (Array.isArray(r.members) ? r.members : []) as Record<string, unknown>[];
      const lines = rows.map((m) => [m.name, m.role, m.state, m.address, m.incarnation].map(String));
      return show(r, table(["NAME", "ROLE", "STATE", "ADDRESS", "INCARNATION"], lines));
    }
    case "voters":
    case "promote":
    case "remove-voter": {
      const r =
        spec.name === "voters"
          ? await client.call("GET", "/v1/voters")
          : await client.call(spec.name === "promote" ? "PUT" : "DELETE", `/v1/voters/${encodeURIComponent(a)}`, undefined, 120_000);
      const names = Array.isArray(r.voters) ? (r.voters as string[]) : [];
      return show(r, `version ${String(r.version)}: ${names.join(", ")}`);
    }
    case "status": {
      const r = await client.call("GET", "/v1/status");
      const summary = (r.summary ?? {}) as Record<string, unknown>;
      const human = [
        `name:            ${String(r.name)}`,
        `role:            ${String(r.role)}`,
        `ready:           ${r.ready === true ? "yes" : `no (${typeof r.reason === "string" ? r.reason : "not ready"})`}`,
        `voters:          ${Array.isArray(r.voters) ? r.voters.join(", ") : ""}`,
        `config version:  ${String(r.configVersion)}`,
        `members:         ${String(r.members)}`,
        `summary:         ${Object.entries(summary).map(([k, v]) => `${k}=${String(v)}`).join(" ")}`,
        `probe lag:       ${typeof r.lagMs === "number" ? r.lagMs.toFixed(1) + " ms" : "-"}`,
      ].join("\n");
      return show(r, human);
    }
    case "exec":
      return execCommand(p, a, client, clock, io);
    case "elect":
      return electCommand(p, a, client, clock, io);
  }
  throw new UsageError(`unknown command ${spec.name}`);
}

/** Strings print as they are (for scripts); other JSON values as JSON. */
function printable(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

/** Signals forwarded to the child; the child runs in its own process group. */
const FORWARDED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

interface RunningChild {
  child: ChildProcess;
  /** Resolves with the exit code to report (128+N when killed by signal N). */
  exited: Promise<number>;
  stop(): Promise<number>;
}

function startChild(command: string[], env: Record<string, string>, killAfterMs: number, io: Io, clock: SystemClock): RunningChild {
  const child = spawn(command[0]!, command.slice(1), { stdio: "inherit", env: { ...process.env, ...env }, detached: true });
  const exited = new Promise<number>((resolve) => {
    child.once("error", (e: NodeJS.ErrnoException) => {
      io.err(`locker: cannot run ${command[0]}: ${e.message}`);
      resolve(e.code === "ENOENT" ? EXIT.commandNotFound : EXIT.cannotRun);
    });
    child.once("exit", (code, signal) => {
      resolve(code ?? 128 + (signal ? signalNumber(signal) : 0));
    });
  });
  const kill = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, signal); // the whole group: `sh -c` children too
    } catch {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
  };
  let stopping: Promise<number> | undefined;
  return {
    child,
    exited,
    stop: () => {
      stopping ??= (async () => {
        kill("SIGTERM");
        const timer = clock.setTimer(killAfterMs, () => kill("SIGKILL"));
        const code = await exited;
        clock.clearTimer(timer);
        return code;
      })();
      return stopping;
    },
  };
}

function signalNumber(signal: NodeJS.Signals): number {
  const map: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };
  return map[signal] ?? 0;
}

function defaultId(prefix: string): string {
  return `${hostname()}-${process.pid}-${randomHolderId(cryptoSeededRandom(), prefix).split("-").pop()}`;
}

async function execCommand(p: Parsed, key: string, client: AgentClient, clock: SystemClock, io: Io): Promise<number> {
  const leaseMs = durationFlag(p, "lease", 10_000);
  const killAfterMs = durationFlag(p, "kill-after", 5_000);
  const timeoutMs = p.flags.has("timeout") ? durationFlag(p, "timeout", 0) : Infinity;
  const value = defaultId("exec");
  const mutex = new Mutex(client, key, { leaseMs, value, clock });
  const stopWaiting = new AbortController();
  const onSignalBeforeStart = (): void => stopWaiting.abort(new LockerError("unavailable", "interrupted"));
  for (const s of FORWARDED) process.on(s, onSignalBeforeStart);
  let token: bigint;
  try {
    token = await mutex.acquire({ timeoutMs, signal: stopWaiting.signal });
  } catch (e) {
    if (stopWaiting.signal.aborted) {
      io.err(`locker exec: interrupted while waiting for ${key}`);
      return 128 + 2;
    }
    throw e;
  } finally {
    for (const s of FORWARDED) process.off(s, onSignalBeforeStart);
  }
  io.err(`locker: holding ${key} (token ${token}), running ${p.command.join(" ")}`);
  const child = startChild(p.command, { LOCKER_KEY: key, LOCKER_VALUE: value, LOCKER_TOKEN: token.toString() }, killAfterMs, io, clock);
  const forward = (s: NodeJS.Signals): void => {
    if (child.child.pid !== undefined) {
      try {
        process.kill(-child.child.pid, s);
      } catch {
        // gone
      }
    }
  };
  for (const s of FORWARDED) process.on(s, forward);
  let lost = false;
  mutex.once("lost", (reason) => {
    lost = true;
    io.err(`locker: lost the lock on ${key} (${reason.message}); stopping the command`);
    void child.stop();
  });
  try {
    const code = await child.exited;
    return lost ? EXIT.lockLost : code;
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
    await mutex.release().catch((e: Error) => io.err(`locker: could not release ${key}: ${e.message} (it expires with its lease)`));
  }
}

async function electCommand(p: Parsed, name: string, client: AgentClient, clock: SystemClock, io: Io): Promise<number> {
  const leaseMs = durationFlag(p, "lease", 10_000);
  const killAfterMs = durationFlag(p, "kill-after", 5_000);
  const candidate = p.flags.get("id") ?? defaultId("elect");
  const election = new LeaderElection(client, name, { leaseMs, candidate, clock });
  let child: RunningChild | undefined;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  let finishing = false;

  election.on("changed", (leader) => io.err(`locker: leader of ${name} is ${leader ?? "(none)"}`));
  election.on("elected", (token) => {
    if (finishing) return;
    io.err(`locker: elected leader of ${name} as ${candidate} (token ${token}), running ${p.command.join(" ")}`);
    const c = startChild(p.command, { LOCKER_ELECTION: name, LOCKER_KEY: election.key, LOCKER_VALUE: candidate, LOCKER_TOKEN: token.toString() }, killAfterMs, io, clock);
    child = c;
    void c.exited.then((code) => {
      if (child !== c) return; // stopped because leadership was lost; keep campaigning
      child = undefined;
      finishing = true;
      io.err(`locker: ${p.command[0]} exited with ${code}; resigning`);
      void election.resign().finally(() => resolveDone(code));
    });
  });
  election.on("lost", (reason) => {
    const c = child;
    child = undefined;
    if (c && !finishing) {
      io.err(`locker: lost leadership of ${name} (${reason.message}); stopping the command`);
      void c.stop();
    }
  });
  const onSignal = (s: NodeJS.Signals): void => {
    if (finishing) return;
    finishing = true;
    const c = child;
    child = undefined;
    void (async () => {
      const code = c ? await c.stop() : 128 + signalNumber(s);
      await election.resign().catch(() => undefined);
      resolveDone(code);
    })();
  };
  for (const s of FORWARDED) process.on(s, onSignal);
  try {
    election.campaign().catch((e: unknown) => {
      if (finishing) return;
      finishing = true;
      io.err(`locker elect: ${(e as Error).message}`);
      resolveDone(exitCodeFor(e));
    });
    return await done;
  } finally {
    for (const s of FORWARDED) process.off(s, onSignal);
  }
}
