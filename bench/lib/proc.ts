// Child processes of a benchmark: node fixtures spoken to over IPC, and
// external servers (etcd, redis) run under a guard process. Every child is
// killed when the benchmark exits, fails or gets a signal: nothing is left running.
import { fork, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
/** dist/bench, where the compiled fixtures live. */
export const BENCH_DIST = join(here, "..");

const children = new Set<ChildProcess>();
/** Guards of external servers: never SIGKILLed by us, or their server would be orphaned; they stop it themselves once disconnected. */
const guards = new WeakSet<ChildProcess>();
let hooked = false;
let shuttingDown = false;
const exitHooks: Array<() => void> = [];

/** True once a signal asked the benchmark to stop: results of such a run are not written. */
export function interrupted(): boolean {
  return shuttingDown;
}

/** Runs `fn` when the benchmark exits, however it exits (e.g. removing temporary directories). */
export function atExit(fn: () => void): void {
  hookExit();
  exitHooks.push(fn);
}

function runExitHooks(): void {
  for (const fn of exitHooks.splice(0)) {
    try {
      fn();
    } catch {
      // best effort on the way out
    }
  }
}

function killAll(): void {
  for (const c of children) {
    try {
      if (guards.has(c)) c.disconnect();
      else c.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  children.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    killAll();
    runExitHooks();
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      if (shuttingDown) return;
      shuttingDown = true;
      // Fixtures exit and guards stop their servers (SIGTERM, then SIGKILL
      // after 2 s) when their IPC channel closes: wait for them, then kill
      // whatever is left.
      for (const c of children) {
        try {
          c.disconnect();
        } catch {
          // already disconnected
        }
      }
      const deadline = Date.now() + 5000;
      const poll = (): void => {
        if (children.size === 0 || Date.now() > deadline) {
          killAll();
          process.exit(130);
        }
        setTimeout(poll, 50);
      };
      poll();
    });
  }
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** A node fixture process: `call` sends a command and awaits its reply. */
export class Fixture {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  exited = false;
  /** What the fixture sent with its ready message. */
  info: Record<string, unknown> = {};

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.on("message", (m: unknown) => {
      const r = m as Reply;
      const w = this.waiting.get(r.id);
      if (!w) return;
      this.waiting.delete(r.id);
      clearTimeout(w.timer);
      if (r.ok) w.resolve(r.result);
      else w.reject(new Error(`${name}: ${r.error}`));
    });
    child.on("exit", (code, signal) => {
      this.exited = true;
      children.delete(child);
      for (const w of this.waiting.values()) {
        clearTimeout(w.timer);
        w.reject(new Error(`${name} exited (${code ?? signal})`));
      }
      this.waiting.clear();
    });
  }

  /** Forks dist/bench/<script> and waits for its `{ready}` message. */
  static async start(name: string, script: string, args: string[] = [], options: { execArgv?: string[]; readyTimeoutMs?: number; guard?: boolean } = {}): Promise<Fixture> {
    hookExit();
    if (shuttingDown) throw new Error(`not starting ${name}: shutting down`);
    const child = fork(join(BENCH_DIST, script), args, { execArgv: options.execArgv ?? [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    children.add(child);
    if (options.guard) guards.add(child);
    // A send on a channel closed by a signal handler is reported here; the exit handler deals with the child.
    child.on("error", () => {});
    const f = new Fixture(name, child);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within ${options.readyTimeoutMs ?? 15000} ms`)), options.readyTimeoutMs ?? 15000);
      f.waiting.set(0, {
        resolve: (info) => {
          f.info = (info ?? {}) as Record<string, unknown>;
          resolve();
        },
        reject,
        timer,
      });
    });
    try {
      await ready;
    } catch (e) {
      child.kill(options.guard ? "SIGTERM" : "SIGKILL");
      throw e;
    }
    return f;
  }

  call<T>(cmd: string, args: unknown = {}, timeoutMs = 60_000): Promise<T> {
    if (this.exited || !this.child.connected) return Promise.reject(new Error(`${this.name} has exited or is disconnected`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: ${cmd} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ id, cmd, args });
    });
  }

  /** Asks the fixture to exit, then kills it if it does not within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    try {
      if (this.child.connected) this.child.send({ id: -1, cmd: "exit", args: {} });
    } catch {
      // channel already closed
    }
    // A guard stops its server (SIGTERM, SIGKILL after 2 s) and then exits: never kill it first.
    const t = guards.has(this.child) ? undefined : setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await gone;
    if (t) clearTimeout(t);
  }
}

/** In a fixture: serves commands from the parent; exits when the parent goes away. */
export function serveFixture(handlers: Record<string, (args: any) => unknown>, onExit: () => Promise<void> | void = () => {}): void {
  const send = (r: Reply): void => {
    if (process.connected) process.send!(r);
  };
  const exit = async (): Promise<void> => {
    try {
      await onExit();
    } finally {
      process.exit(0);
    }
  };
  process.on("disconnect", () => void exit());
  process.on("message", (m: { id: number; cmd: string; args: unknown }) => {
    if (m.cmd === "exit") {
      void exit();
      return;
    }
    const h = handlers[m.cmd];
    if (!h) {
      send({ id: m.id, ok: false, error: `unknown command ${m.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => h(m.args))
      .then(
        (result) => send({ id: m.id, ok: true, result }),
        (e: unknown) => send({ id: m.id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
      );
  });
}

/** In a fixture, once it is ready (id 0 is the ready message). */
export function fixtureReady(info: unknown = {}): void {
  process.send!({ id: 0, ok: true, result: info });
}

/**
 * Runs an external server under dist/bench/lib/guard.js, which kills it when
 * this process goes away (even on SIGKILL, via the closed IPC channel).
 */
export async function startServer(name: string, command: string, args: string[], logFile: string): Promise<Fixture> {
  return Fixture.start(name, "lib/guard.js", [logFile, command, ...args], { readyTimeoutMs: 10_000, guard: true });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
