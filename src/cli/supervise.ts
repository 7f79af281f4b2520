// `locker exec` and `locker elect`: run a command while holding a key (or
// leading an election), in its own process group, forwarding signals, and stop
// it (SIGTERM, then SIGKILL) when the lock or the leadership is lost.
import { spawn, type ChildProcess } from "node:child_process";
import { hostname } from "node:os";
import { LockerError } from "../errors.js";
import { LeaderElection } from "../recipes/election.js";
import { Mutex, randomHolderId } from "../recipes/mutex.js";
import type { SystemClock } from "../util/clock.js";
import { cryptoSeededRandom } from "../util/random.js";
import { durationFlag, type Parsed } from "./args.js";
import type { AgentClient } from "./client.js";
import { EXIT, exitCodeFor, signalExitCode } from "./exit.js";
import type { Io } from "./io.js";

/** Signals forwarded to the child; the child runs in its own process group. */
export const FORWARDED: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

interface RunningChild {
  child: ChildProcess;
  /** Resolves with the exit code to report (128+N when killed by signal N). */
  exited: Promise<number>;
  /** Sends `signal` (default SIGTERM) to the group, SIGKILL after killAfterMs; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

function startChild(command: string[], env: Record<string, string>, killAfterMs: number, io: Io, clock: SystemClock): RunningChild {
  const child = spawn(command[0]!, command.slice(1), { stdio: "inherit", env: { ...process.env, ...env }, detached: true });
  const exited = new Promise<number>((resolve) => {
    child.once("error", (e: NodeJS.ErrnoException) => {
      io.err(`locker: cannot run ${command[0]}: ${e.message}`);
      resolve(e.code === "ENOENT" ? EXIT.commandNotFound : EXIT.cannotRun);
    });
    child.once("exit", (code, signal) => {
      resolve(code ?? (signal ? signalExitCode(signal) : 128));
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
    stop: (signal = "SIGTERM") => {
      stopping ??= (async () => {
        kill(signal);
        const timer = clock.setTimer(killAfterMs, () => kill("SIGKILL"));
        const code = await exited;
        clock.clearTimer(timer);
        return code;
      })();
      return stopping;
    },
  };
}

function defaultId(prefix: string): string {
  return `${hostname()}-${process.pid}-${randomHolderId(cryptoSeededRandom(), prefix).split("-").pop()}`;
}

export async function execCommand(p: Parsed, key: string, client: AgentClient, clock: SystemClock, io: Io): Promise<number> {
  const leaseMs = durationFlag(p, "lease", 10_000);
  const killAfterMs = durationFlag(p, "kill-after", 5_000);
  const timeoutMs = p.flags.has("timeout") ? durationFlag(p, "timeout", 0) : Infinity;
  const value = defaultId("exec");
  const mutex = new Mutex(client, key, { leaseMs, value, clock });
  const stopWaiting = new AbortController();
  // The exit code says which signal stopped the wait (128+N), as a shell would.
  let interruptedBy: NodeJS.Signals | undefined;
  const onSignalBeforeStart = (s: NodeJS.Signals): void => {
    interruptedBy ??= s;
    stopWaiting.abort(new LockerError("unavailable", "interrupted"));
  };
  for (const s of FORWARDED) process.on(s, onSignalBeforeStart);
  let token: bigint;
  try {
    token = await mutex.acquire({ timeoutMs, signal: stopWaiting.signal });
  } catch (e) {
    if (stopWaiting.signal.aborted) {
      io.err(`locker exec: interrupted (${interruptedBy}) while waiting for ${key}`);
      return signalExitCode(interruptedBy ?? "SIGINT");
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

export async function electCommand(p: Parsed, name: string, client: AgentClient, clock: SystemClock, io: Io): Promise<number> {
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
      // The child gets the signal locker got, so its exit code tells which one.
      const code = c ? await c.stop(s) : signalExitCode(s);
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
