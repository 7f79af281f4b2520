// Benchmark: this package's SWIM + Lifeguard against happn-swim (the installable
// swim-js), side by side, real processes on loopback, matched protocol periods.
// Measures join convergence, SIGKILL detection, false positives at 10% loss and
// datagrams/s per node. Prints a table and writes bench/results/membership.json.
import { type ChildProcess, spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const fixture = fileURLToPath(new URL("./membership-node.js", import.meta.url));
const resultsPath = fileURLToPath(new URL("../../bench/results/membership.json", import.meta.url));
type Impl = "locker" | "swim";

interface Line {
  type: string;
  id: string;
  t: number;
  [k: string]: unknown;
}

class Proc {
  readonly child: ChildProcess;
  id = "";
  address = "";
  alive = new Set<string>();
  dead = new Set<string>();
  readonly views: { t: number; alive: string[]; dead: string[] }[] = [];
  datagramsSent = -1;
  exited = false;
  private waiters: (() => void)[] = [];

  constructor(impl: Impl, name: string, port: number) {
    this.child = spawn(process.execPath, [fixture, impl, name, String(port)], { stdio: ["pipe", "pipe", "inherit"] });
    this.child.on("exit", () => {
      this.exited = true;
      this.poke();
    });
    createInterface({ input: this.child.stdout! }).on("line", (s) => {
      let l: Line;
      try {
        l = JSON.parse(s) as Line;
      } catch {
        return;
      }
      if (l.type === "ready") {
        this.id = l.id;
        this.address = l.address as string;
      } else if (l.type === "view") {
        this.alive = new Set(l.alive as string[]);
        this.dead = new Set(l.dead as string[]);
        this.views.push({ t: l.t, alive: l.alive as string[], dead: l.dead as string[] });
      } else if (l.type === "stats") {
        this.datagramsSent = l.datagramsSent as number;
      }
      this.poke();
    });
  }

  send(cmd: string): void {
    if (!this.exited) this.child.stdin!.write(cmd + "\n");
  }

  private poke(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves true when pred holds, false after timeoutMs. */
  waitFor(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(pred()), timeoutMs);
      const check = (): void => {
        if (pred()) {
          clearTimeout(timer);
          resolve(true);
        } else this.waiters.push(check);
      };
      check();
    });
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function datagramsPerSecond(procs: Proc[], windowMs: number): Promise<number> {
  const read = async (): Promise<number[]> => {
    for (const p of procs) {
      p.datagramsSent = -1;
      p.send("stats");
    }
    await Promise.all(procs.map((p) => p.waitFor(() => p.datagramsSent >= 0, 5000)));
    return procs.map((p) => p.datagramsSent);
  };
  const a = await read();
  const t0 = Date.now();
  await sleep(windowMs);
  const b = await read();
  const secs = (Date.now() - t0) / 1000;
  return b.reduce((s, x, i) => s + (x - a[i]!), 0) / procs.length / secs;
}

interface RunResult {
  impl: Impl;
  n: number;
  joinConvergenceMs: number | null;
  detectionMs: { median: number; max: number; undetected: number; samples: number[] };
  falsePositivesAtLoss: number;
  falsePositiveMembersAtLoss: number;
  lossWindowS: number;
  datagramsPerSecPerNode: number;
}

let nextPort = 40_000 + randomInt(15_000); // happn-swim needs its port up front

async function run(impl: Impl, n: number, opts: { kills: number; lossWindowMs: number; rateWindowMs: number }): Promise<RunResult> {
  const procs: Proc[] = [];
  try {
    for (let i = 0; i < n; i++) procs.push(new Proc(impl, `b${i}`, nextPort++));
    await Promise.all(procs.map((p) => p.waitFor(() => p.id !== "", 20_000)));
    const ids = procs.map((p) => p.id);
    const everyoneSeesAll = (ps: Proc[], idset: string[]): boolean => ps.every((p) => idset.every((id) => id === p.id || p.alive.has(id)));

    // Join: the first bootstraps alone, then all others join through it at once
    // (after the processes have settled from starting up, which is not what is measured).
    await sleep(2000);
    procs[0]!.send("join");
    await sleep(300);
    const joinStart = Date.now();
    for (const p of procs.slice(1)) p.send(`join ${procs[0]!.address}`);
    const converged = await Promise.all(procs.map((p) => p.waitFor(() => everyoneSeesAll([p], ids), 30_000)));
    const joinConvergenceMs = converged.every(Boolean) ? Date.now() - joinStart : null;

    await sleep(2000);
    const dgps = await datagramsPerSecond(procs, opts.rateWindowMs);

    // SIGKILL detection: kill members one at a time; time until every survivor declares it dead
    // (this package: state "dead"; happn-swim: state Faulty — suspicion alone does not count).
    const samples: number[] = [];
    let undetected = 0;
    const live = new Set(procs);
    for (let k = 0; k < opts.kills; k++) {
      const victim = procs[1 + k * Math.floor((n - 1) / opts.kills)]!;
      live.delete(victim);
      const t0 = Date.now();
      victim.child.kill("SIGKILL");
      const ok = await Promise.all([...live].map((p) => p.waitFor(() => p.dead.has(victim.id), 30_000)));
      if (ok.every(Boolean)) samples.push(Date.now() - t0);
      else undetected++;
      await sleep(1000);
    }

    // False positives at 10% loss (dropped at each receiving socket): a survivor
    // declared dead (happn-swim: Faulty) by another survivor, counted per observer and transition.
    const survivors = [...live];
    const survivorIds = new Set(survivors.map((p) => p.id));
    const lossStart = Date.now();
    for (const p of survivors) p.send("loss 0.1");
    await sleep(opts.lossWindowMs);
    for (const p of survivors) p.send("loss 0");
    let falsePositives = 0;
    const victims = new Set<string>();
    for (const p of survivors) {
      let prevDead = new Set<string>();
      for (const v of p.views) {
        const nowDead = new Set(v.dead);
        if (v.t >= lossStart) {
          for (const id of nowDead) {
            if (survivorIds.has(id) && !prevDead.has(id)) {
              falsePositives++;
              victims.add(id);
            }
          }
        }
        prevDead = nowDead;
      }
    }
    return {
      impl,
      n,
      joinConvergenceMs,
      detectionMs: { median: median(samples), max: samples.length ? Math.max(...samples) : NaN, undetected, samples },
      falsePositivesAtLoss: falsePositives,
      falsePositiveMembersAtLoss: victims.size,
      lossWindowS: opts.lossWindowMs / 1000,
      datagramsPerSecPerNode: dgps,
    };
  } finally {
    for (const p of procs) if (!p.exited) p.child.kill("SIGKILL");
    await sleep(500);
  }
}

function fmt(x: number | null, digits = 0): string {
  return x === null || Number.isNaN(x) ? "—" : x.toFixed(digits);
}

async function main(): Promise<void> {
  const sizes = (process.env.BENCH_SIZES ?? "10,50").split(",").map(Number);
  const opts = { kills: 5, lossWindowMs: Number(process.env.BENCH_LOSS_MS ?? 20_000), rateWindowMs: 5_000 };
  const results: RunResult[] = [];
  const started = Date.now();
  for (const n of sizes) {
    for (const impl of (process.env.BENCH_IMPLS ?? "locker,swim").split(",") as Impl[]) {
      process.stderr.write(`running ${impl} n=${n} ...\n`);
      results.push(await run(impl, n, opts));
    }
  }
  const header = ["impl", "N", "join conv. ms", "kill detect median ms", "max ms", "undetected", `false deaths @10% loss (${opts.lossWindowMs / 1000}s)`, "members hit", "datagrams/s/node"];
  const rows = results.map((r) => [
    r.impl === "locker" ? "@locker/membership" : "happn-swim",
    String(r.n),
    fmt(r.joinConvergenceMs),
    fmt(r.detectionMs.median),
    fmt(r.detectionMs.max),
    String(r.detectionMs.undetected),
    String(r.falsePositivesAtLoss),
    String(r.falsePositiveMembersAtLoss),
    fmt(r.datagramsPerSecPerNode, 1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
  console.log(line(header));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const r of rows) console.log(line(r));
  console.log(`\nprotocol period 200 ms, ping timeout 100 ms, 2 indirect probes for both; @locker/membership runs its "local" profile; happn-swim its default dissemination factor (15).`);
  console.log(`loss: 10% of received datagrams dropped at the socket (dgram 'message' events) in every process, for both implementations.`);
  console.log(`note: happn-swim 1.0.3 never passes its suspectTimeout option on (swim.js hands Membership \`this.suspectTimeout\`, undefined), so a suspect becomes Faulty after its built-in 10 ms: fast detection, many false positives.`);
  console.log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  mkdirSync(fileURLToPath(new URL("../../bench/results/", import.meta.url)), { recursive: true });
  writeFileSync(resultsPath, JSON.stringify({ date: new Date().toISOString(), protocolPeriodMs: 200, pingTimeoutMs: 100, indirectChecks: 2, lossRate: 0.1, results }, null, 2) + "\n");
  console.log(`wrote ${resultsPath}`);
}

await main();
