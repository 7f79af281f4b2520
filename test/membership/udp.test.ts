// Real UDP: five OS processes on 127.0.0.1 form a cluster; SIGKILL of one is
// detected by all others; a restart under the same name rejoins alive.
import test from "ava";
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const fixture = fileURLToPath(new URL("./fixtures/node.js", import.meta.url));

interface View {
  alive: string[];
  suspect: string[];
  dead: string[];
  left: string[];
}

class NodeProcess {
  readonly child: ChildProcess;
  address = "";
  view: View = { alive: [], suspect: [], dead: [], left: [] };
  readonly lines: Record<string, unknown>[] = [];
  private waiters: (() => void)[] = [];
  exited = false;

  constructor(readonly name: string, seeds: string[]) {
    this.child = spawn(process.execPath, [fixture, name, seeds.join(",")], { stdio: ["pipe", "pipe", "inherit"] });
    this.child.on("exit", () => {
      this.exited = true;
      this.poke();
    });
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      this.lines.push(o);
      if (o.type === "ready") this.address = o.address as string;
      if (o.type === "view") this.view = o as unknown as View;
      this.poke();
    });
  }

  private poke(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits (real time) until `pred` holds, re-checking on every line this process prints. */
  waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}; view ${JSON.stringify(this.view)}`)), timeoutMs);
      const check = (): void => {
        if (pred()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    this.child.kill(signal);
  }
}

test("5 processes on 127.0.0.1: SIGKILL is detected by all, a restart under the same name rejoins alive", async (t) => {
  t.timeout(110_000);
  const procs: NodeProcess[] = [];
  try {
    const first = new NodeProcess("n0", []);
    procs.push(first);
    await first.waitFor(() => first.address !== "", 20_000, "its address");
    for (let i = 1; i < 5; i++) procs.push(new NodeProcess(`n${i}`, [first.address]));
    const names = procs.map((p) => p.name);
    const t0 = Date.now();
    await Promise.all(procs.map((p) => p.waitFor(() => names.filter((x) => x !== p.name).every((x) => p.view.alive.includes(x)), 30_000, "all 4 others alive")));
    t.log(`5 processes formed a cluster in ${Date.now() - t0} ms (local profile)`);

    const victim = procs[3]!;
    const killedAt = Date.now();
    victim.kill("SIGKILL");
    const others = procs.filter((p) => p !== victim);
    await Promise.all(others.map((p) => p.waitFor(() => p.view.dead.includes(victim.name), 30_000, `${victim.name} dead`)));
    t.log(`SIGKILL of ${victim.name} seen as dead by all 4 others after ${Date.now() - killedAt} ms`);
    for (const p of others) t.false(p.view.alive.includes(victim.name));

    // Restart under the same name (a new port): it must rejoin and be alive everywhere.
    const restarted = new NodeProcess(victim.name, [first.address]);
    procs[3] = restarted;
    const restartAt = Date.now();
    await Promise.all(others.map((p) => p.waitFor(() => p.view.alive.includes(victim.name), 30_000, `${victim.name} alive again`)));
    await restarted.waitFor(() => others.every((p) => restarted.view.alive.includes(p.name)), 30_000, "all others alive");
    t.log(`restarted ${victim.name} alive on all members after ${Date.now() - restartAt} ms`);
    // No healthy process was ever declared dead.
    const falseDeaths = procs.flatMap((p) => p.lines.filter((l) => l.type === "event" && l.event === "dead" && l.member !== victim.name));
    t.deepEqual(falseDeaths, []);
  } finally {
    for (const p of procs) if (!p.exited) p.kill("SIGKILL");
  }
});
