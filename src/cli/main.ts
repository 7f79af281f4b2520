// The `locker` command: runs an agent, or talks to one over HTTP (--http,
// LOCKER_HTTP). Flags: args.ts; commands: commands.ts; exec/elect: supervise.ts;
// exit codes: exit.ts (documented there and in the README).
import { LockerError } from "../errors.js";
import { SystemClock } from "../util/clock.js";
import { ConfigError } from "../agent/config.js";
import { Keyring } from "../wire/keyring.js";
import { COMMANDS, commandUsage, httpAddress, mainUsage, parseCommandArgs, type Parsed } from "./args.js";
import { AgentClient, clientToken } from "./client.js";
import { runCommand } from "./commands.js";
import { EXIT, exitCodeFor, UsageError } from "./exit.js";
import { processIo, type Io } from "./io.js";

export { EXIT, exitCodeFor } from "./exit.js";
export type { Io } from "./io.js";

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
  if (spec.name === "agent") return runAgent(rest, io);
  const usageError = (e: unknown): number => {
    io.err(`locker: ${(e as Error).message}\n\n${commandUsage(spec)}`);
    return EXIT.usage;
  };
  let parsed: Parsed;
  try {
    parsed = parseCommandArgs(spec, rest);
  } catch (e) {
    return usageError(e);
  }
  if (parsed.flags.has("help")) {
    io.out(commandUsage(spec));
    return EXIT.ok;
  }
  if (spec.name === "keygen") {
    io.out(Keyring.generateKey().toString("base64"));
    return EXIT.ok;
  }
  let address: string;
  let token: string | undefined;
  try {
    address = httpAddress(parsed, io.env);
    token = clientToken(io.env, parsed.flags.get("http-token-file"));
  } catch (e) {
    return usageError(e);
  }
  const json = parsed.flags.has("json");
  const clock = new SystemClock();
  let client: AgentClient;
  try {
    client = new AgentClient(address, clock, undefined, token);
  } catch (e) {
    return usageError(e);
  }
  try {
    return await runCommand(spec, parsed, client, clock, io, json);
  } catch (e) {
    if (e instanceof UsageError) return usageError(e);
    if (json && e instanceof LockerError) io.out(JSON.stringify({ error: e.code, message: e.message }));
    else io.err(`locker ${spec.name}: ${e instanceof LockerError ? `${e.code}: ` : ""}${(e as Error).message}`);
    return exitCodeFor(e);
  } finally {
    client.close();
    clock.clearAll();
  }
}

/** `locker agent`: its flags are the agent's own (src/agent/config.ts). */
async function runAgent(args: string[], io: Io): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    io.out(commandUsage(COMMANDS.find((c) => c.name === "agent")!));
    return EXIT.ok;
  }
  const { runAgentFromArgs } = await import("../agent/agent.js");
  try {
    return await runAgentFromArgs(args, io.env);
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
