// Starts locker nodes as OS processes (optionally inside a network namespace)
// and sends them operations over stdin; every reply is awaited, not slept for.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { IP_COMMAND } from "./netns.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/node-process.js", import.meta.url));

export interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  code?: string;
  message?: string;
  at: number;
}

export class NodeProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private readonly eventWaiters: { match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] = [];
  readonly events: Record<string, unknown>[] = [];
  address = "";
  stderr = "";

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      if (typeof msg.id === "number") {
        this.waiting.get(msg.id)?.(msg as unknown as Reply);
        this.waiting.delete(msg.id);
        return;
      }
      this.events.push(msg);
      for (let i = this.eventWaiters.length - 1; i >= 0; i--) {
        if (this.eventWaiters[i]!.match(msg)) this.eventWaiters.splice(i, 1)[0]!.resolve(msg);
      }
    });
    child.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
  }

  /** Spawns a node; `netns` runs it inside that namespace (root only). */
  static async start(opts: { name: string; bind: string; voters: string[]; join?: string[]; netns?: string }): Promise<NodeProcess> {
    const args = [FIXTURE, "--name", opts.name, "--bind", opts.bind, "--voters", opts.voters.join(",")];
    if (opts.join?.length) args.push("--join", opts.join.join(","));
    const child = opts.netns ? spawn(IP_COMMAND, ["netns", "exec", opts.netns, process.execPath, ...args]) : spawn(process.execPath, args);
    const p = new NodeProcess(opts.name, child);
    const ready = await p.waitEvent((e) => e.event === "ready", 20_000);
    p.address = String(ready.address);
    return p;
  }

  waitEvent(match: (e: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: event not seen in ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
      this.eventWaiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  call(op: string, ...args: unknown[]): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no reply to ${op} in 60 s; stderr: ${this.stderr}`)), 60_000);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.child.stdin!.write(JSON.stringify({ id, op, args }) + "\n");
    });
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.kill(signal);
    });
  }
}
