// The nemesis: real agents on a LAN of network namespaces, clients on every
// host recording every invocation and completion, and faults from a seeded
// schedule — partitions (random halves, the holder's side, one link only),
// SIGKILL and restart, SIGSTOP past the lease, packet loss, one host's wall
// clock 1.5 s ahead (libfaketime, on a crash-restart: recovery runs under the skew). The recorded
// history then goes through the simulator's checker (test/sim/checker.ts):
// per-key linearizability of the lease register, mutual exclusion of every
// holder's safe window and fencing order. Time is the test process's
// monotonic clock: every client runs here and reaches its agent through the
// host's relay, so invocations, completions and safe windows share one axis
// (a client's safe window starts at its invocation: the agent's own answer
// time is later, so this errs on the strict side).
//
// Used by test/netns/nemesis.test.ts (a short schedule in CI) and by
// `npm run nemesis -- --minutes N --seed S` (test/netns/nemesis-cli.ts).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { HistoryRecorder, outcomeOfErrorCode, type CheckOptions, type HistoryOp, type OpName, type Outcome, type Verdict } from "../sim/checker.js";
import { isLockerErrorCode } from "../../src/errors.js";
import { SeededRandom } from "../../src/util/random.js";
import { whenAllAlive, whenReady, type Agent, type Host, type Lan } from "./lan.js";

// Six keys over 15 clients. A 6-key run found a double holder under 20 %
// loss (test/netns/fixtures/violation-2026-12-03-loss.json, replay: node
// --stack-size=65500 dist/test/netns/nemesis-recheck.js FILE): a release
// forwarded to the key's coordinator ran there, its answer was lost, and the
// forwarder's own attempt answered `mismatch` ("nothing changed") after the
// next client had locked the freed key. Fixed in src/node/affinity.ts; the
// fixture stays as a test of the checker (nemesis-fixture.test.ts).
export const KEYS = ["n-a", "n-b", "n-c", "n-d", "n-e", "n-f"];
/** Lease of every lock; a pause lasts longer than this. */
export const LEASE_MS = 2000;
/** libfaketime (Debian's faketime), installed by scripts/ensure-test-tools.sh: the clock-skew fault needs it. */
const FAKETIME_LIB = (() => {
  for (const dir of ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"]) {
    const p = `${dir}/faketime/libfaketime.so.1`;
    if (existsSync(p)) return p;
  }
  return undefined;
})();

/** Each operation's budget (also the agent's --max-lease bounds the quiet period of a restarted voter). */
export const OP_TIMEOUT_MS = 3000;
export const PAUSE_MS = LEASE_MS + 1500;
const MAX_LEASE = "5s";
const nameOf = (h: Host): string => `${h.name}:7946`;

export interface NemesisOptions {
  seed: number;
  /** How long the faults run (the clients run through it, and a little after every heal). */
  durationMs: number;
  clientsPerHost: number;
  log: (line: string) => void;
}

/** One fault, on the timeline. */
interface FaultWindow {
  name: string;
  fromMs: number;
  toMs: number;
}

export interface NemesisResult {
  history: HistoryOp[];
  windows: FaultWindow[];
  verdict: Verdict;
  counts: Record<string, number>;
  /** Per window (and "calm"): ops completed, and latency percentiles of those that succeeded. */
  latency: Array<{ window: string; ops: number; ok: number; p50: number; p99: number; max: number }>;
}

function command(lan: Lan): string[] {
  return [
    "--bind", "0.0.0.0:7946",
    "--http", "0.0.0.0:7947",
    "--voters", lan.hosts.map(nameOf).join(","),
    "--insecure",
    "--data-dir", "data",
    "--max-lease", MAX_LEASE,
    "--log-level", "info",
  ];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The HTTP answer of one operation as the checker's outcome. */
export function outcomeOf(op: OpName, status: number, json: Record<string, unknown>, invokeMs: number): Outcome {
  if (status === 200) {
    const token = typeof json.token === "string" ? BigInt(json.token) : undefined;
    const value = json.value === undefined ? undefined : typeof json.value === "string" ? json.value : JSON.stringify(json.value);
    if (op === "read") return { kind: "ok", value: value ?? null };
    if (op === "lock" || op === "extendLease") {
      return { kind: "ok", ...(token !== undefined ? { token } : {}), ...(typeof json.safeForMs === "number" ? { safeUntilMs: invokeMs + json.safeForMs } : {}) };
    }
    return { kind: "ok", ...(token !== undefined ? { token } : {}) };
  }
  // A consistent read of an absent key.
  if (op === "read" && status === 404) return { kind: "ok", value: null };
  const code = json.error;
  // An agent still starting (restarted by the nemesis) answers before it has a node: nothing was done.
  if (status === 503 && code === "unavailable" && typeof json.message === "string" && json.message.startsWith("the node is starting")) return { kind: "void", code: "starting" };
  if (isLockerErrorCode(code)) return outcomeOfErrorCode(code);
  return { kind: "unknown", code: `http ${status}` };
}

export async function runNemesis(lan: Lan, o: NemesisOptions): Promise<NemesisResult> {
  const random = new SeededRandom(o.seed);
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;
  const current = new Map<Host, Agent>();
  for (const h of lan.hosts) current.set(h, h.start(command(lan)));
  for (const a of current.values()) await whenReady(a, 60_000);
  await whenAllAlive([...current.values()], lan.hosts.map(nameOf), 30_000);
  o.log(`${lan.hosts.length} agents formed at ${(now() / 1000).toFixed(1)} s`);

  const recorder = new HistoryRecorder();
  const windows: FaultWindow[] = [];
  let running = true;

  const call = async (client: string, host: Host, key: string, op: OpName, method: string, path: string, body: Record<string, unknown> | undefined, args: { value?: string; newValue?: string; leaseMs?: number }): Promise<Outcome> => {
    const agent = current.get(host)!;
    const invokeMs = now();
    const id = recorder.invoke(invokeMs, client, key, op, { ...args, timeoutMs: OP_TIMEOUT_MS });
    let outcome: Outcome;
    try {
      const r = await agent.http(method, path, body ? { ...body, timeoutMs: OP_TIMEOUT_MS } : undefined, OP_TIMEOUT_MS + 1000);
      outcome = outcomeOf(op, r.status, r.json, invokeMs);
    } catch (e) {
      const m = (e as Error).message;
      // The relay opens a connection per request: one that could not even be
      // made ("connect ECONNREFUSED …", the agent killed) carried nothing, so
      // it had no effect. Any other failure (reset, no answer) came after the
      // request may have arrived: unknown.
      outcome = /\bconnect E[A-Z]+\b/.test(m) ? { kind: "void", code: "agent down" } : { kind: "unknown", code: /ECONNRESET|socket hang up/.test(m) ? "connection reset" : "no answer" };
    }
    recorder.complete(id, now(), outcome);
    return outcome;
  };

  // A client: lock a key, maybe extend and update it, release it; otherwise read it. Values name the client.
  const client = async (host: Host, n: number): Promise<void> => {
    const me = `${host.name}c${n}`;
    const r = random.fork();
    let round = 0;
    while (running) {
      round++;
      const key = KEYS[r.int(KEYS.length)]!;
      const path = `/v1/keys/${key}`;
      const mine = `${me}-${round}`;
      const got = await call(me, host, key, "lock", "PUT", path, { value: mine, leaseMs: LEASE_MS }, { value: mine, leaseMs: LEASE_MS });
      if (got.kind === "ok") {
        let value = mine;
        if (r.next() < 0.5) await call(me, host, key, "extendLease", "POST", `${path}/extend`, { value, leaseMs: LEASE_MS }, { value, leaseMs: LEASE_MS });
        if (r.next() < 0.5) {
          const next = `${mine}+`;
          const u = await call(me, host, key, "update", "POST", `${path}/update`, { expected: value, value: next }, { value, newValue: next });
          if (u.kind === "ok") value = next;
        }
        await sleep(r.int(200));
        await call(me, host, key, "release", "POST", `${path}/release`, { value }, { value });
      } else {
        await call(me, host, key, "read", "GET", `${path}?consistent=true`, undefined, {});
      }
      await sleep(20 + r.int(80));
    }
  };
  const clients = lan.hosts.flatMap((h) => Array.from({ length: o.clientsPerHost }, (_, i) => client(h, i + 1)));

  const fault = async (name: string, start: () => void | Promise<void>, holdMs: number, stop: () => void | Promise<void>): Promise<void> => {
    const w = { name, fromMs: now(), toMs: Infinity };
    windows.push(w);
    o.log(`${(w.fromMs / 1000).toFixed(1)} s: ${name}`);
    await start();
    await sleep(holdMs);
    await stop();
    w.toMs = now();
  };
  const pick = <T>(xs: readonly T[]): T => xs[random.int(xs.length)]!;
  const holderHost = async (): Promise<Host> => {
    for (const key of KEYS) {
      const r = await current.get(lan.hosts[0]!)!.http("GET", `/v1/keys/${key}`, undefined, 2000).catch(() => undefined);
      const v = r?.status === 200 ? String(r.json.value ?? "") : "";
      const h = lan.hosts.find((x) => v.startsWith(`${x.name}c`));
      if (h) return h;
    }
    return pick(lan.hosts);
  };
  const faults: Array<() => Promise<void>> = [
    async () => {
      const shuffled = [...lan.hosts].sort(() => random.next() - 0.5);
      const [a, b] = [shuffled.slice(0, 2), shuffled.slice(2)];
      await fault(`partition ${a.map((h) => h.name)} | ${b.map((h) => h.name)}`, () => lan.partition(a, b), 6000, () => lan.heal());
    },
    async () => {
      const h = await holderHost();
      await fault(`the holder's host ${h.name} alone in the minority`, () => lan.partition([h], lan.hosts.filter((x) => x !== h)), 6000, () => lan.heal());
    },
    async () => {
      const h = await holderHost();
      const others = lan.hosts.filter((x) => x !== h);
      const cut = [...others].sort(() => random.next() - 0.5).slice(0, 2);
      await fault(`the holder ${h.name} with the majority, ${cut.map((x) => x.name)} cut off`, () => lan.partition(cut, lan.hosts.filter((x) => !cut.includes(x))), 6000, () => lan.heal());
    },
    async () => {
      const [a, b] = [pick(lan.hosts), pick(lan.hosts)];
      if (a === b) return;
      await fault(`one link cut: ${a.name} ↮ ${b.name}`, () => lan.partition([a], [b]), 6000, () => lan.heal());
    },
    async () => {
      const h = pick(lan.hosts);
      await fault(`SIGKILL ${h.name}, restart after 2 s`, async () => void (await current.get(h)!.kill()), 2000, async () => {
        const a = current.get(h)!.restart();
        current.set(h, a);
        await whenReady(a, 30_000).catch(() => o.log(`${h.name} not ready 30 s after its restart`));
      });
    },
    async () => {
      const h = pick(lan.hosts);
      await fault(`SIGSTOP ${h.name} for ${PAUSE_MS} ms (past the lease)`, () => current.get(h)!.pause(), PAUSE_MS, () => current.get(h)!.resume());
    },
    async () => {
      await fault("20 % UDP loss on every host", () => lan.loss(20), 8000, () => lan.heal());
    },
    async () => {
      // A host's wall clock ahead by 1.5 s (within --max-clock-skew, 2 s), set
      // with libfaketime on a crash-restart (it then recovers under the skew),
      // and set right again the same way.
      const h = pick(lan.hosts);
      if (!FAKETIME_LIB) {
        o.log(`clock skew of ${h.name} skipped: libfaketime is not installed`);
        return;
      }
      const plain = current.get(h)!.env;
      const restartWith = async (env: Record<string, string>): Promise<void> => {
        await current.get(h)!.kill();
        const a = current.get(h)!.restart(env);
        current.set(h, a);
        await whenReady(a, 30_000).catch(() => o.log(`${h.name} not ready 30 s after its restart`));
      };
      await fault(
        `clock of ${h.name} 1.5 s ahead (SIGKILL, restart under libfaketime)`,
        () => restartWith({ ...plain, LD_PRELOAD: FAKETIME_LIB, FAKETIME: "+1.5s", FAKETIME_DONT_FAKE_MONOTONIC: "1" }),
        6000,
        () => restartWith(plain),
      );
    },
  ];

  // Every kind of fault once, in a seeded order, then random ones until the time is up; calm between them.
  const order = faults.map((f) => ({ f, k: random.next() })).sort((a, b) => a.k - b.k).map((x) => x.f);
  let i = 0;
  while (now() < o.durationMs || i < faults.length) {
    await (i < order.length ? order[i]! : pick(faults))();
    i++;
    await sleep(2500);
  }
  // Calm, so the clients see the healed cluster, then stop them.
  await sleep(3000);
  running = false;
  await Promise.all(clients);
  for (const a of current.values()) if (a.running) a.resume();

  const history = recorder.ops;
  // Kept for replaying the checker on it (node dist/test/netns/nemesis-recheck.js FILE).
  const historyFile = saveHistory(history, o.seed);
  o.log(`history saved in ${historyFile}`);
  // A paused voter applies what it holds when it resumes: the longest a grant can land after its answer.
  const verdict = await checkWithLargeStack(history, { grantSlackMs: PAUSE_MS + OP_TIMEOUT_MS + 1000, driftFactor: 0.01, maxSearchSteps: 5_000_000 });
  const counts: Record<string, number> = {};
  for (const op of history) {
    const k = `${op.op} ${op.outcome.kind === "ok" ? "ok" : op.outcome.code}`;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  const latency = [...windows.map((w, i) => ({ name: w.name, w: windows[i] })), { name: "calm", w: undefined }].map(({ name, w }) => {
    const inWindow = (op: HistoryOp): boolean => (w ? op.invokeMs >= w.fromMs && op.invokeMs < w.toMs : !windows.some((x) => op.invokeMs >= x.fromMs && op.invokeMs < x.toMs));
    const ops = history.filter(inWindow);
    const ok = ops.filter((op) => op.outcome.kind === "ok").map((op) => op.responseMs - op.invokeMs).sort((a, b) => a - b);
    const at = (q: number): number => (ok.length ? ok[Math.min(ok.length - 1, Math.floor(q * ok.length))]! : NaN);
    return { window: name, ops: ops.length, ok: ok.length, p50: at(0.5), p99: at(0.99), max: ok.length ? ok[ok.length - 1]! : NaN };
  });
  return { history, windows, verdict, counts, latency };
}

/** Writes the history as JSON under test-artifacts/nemesis/; returns the file. */
export function saveHistory(history: readonly HistoryOp[], seed: number): string {
  const dir = join(fileURLToPath(new URL("../../../", import.meta.url)), "test-artifacts", "nemesis");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `history-seed-${seed}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(history, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)));
  return file;
}

/** How long the checker may search before it is stopped and the verdict is "inconclusive" (the history is saved). */
export const CHECK_BUDGET_MS = 150_000;

/** checkHistory in a worker with a 1 GB stack (its search recurses once per operation of a key), stopped after `budgetMs`. */
export function checkWithLargeStack(history: readonly HistoryOp[], options: CheckOptions, budgetMs = CHECK_BUDGET_MS): Promise<Verdict> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./check-worker.js", import.meta.url), { workerData: { history, options }, resourceLimits: { stackSizeMb: 1024, maxOldGenerationSizeMb: 4096 } });
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`the checker did not finish within ${budgetMs / 1000} s (a violation makes it search everything; replay it on the saved history)`));
    }, budgetMs);
    worker.once("message", (v: Verdict) => {
      clearTimeout(timer);
      resolve(v);
      void worker.terminate();
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the checker's worker exited with ${code}`)));
  });
}

/** The report `npm run nemesis` and the CI test print. */
export function describeNemesis(r: NemesisResult): string {
  const lines = [
    `${r.history.length} operations, ${r.windows.length} faults; verdict: ${r.verdict.ok ? "ok" : "VIOLATION"} (${r.verdict.stats.searchSteps} search steps)`,
    "operations by outcome: " + Object.entries(r.counts).sort().map(([k, n]) => `${k} ${n}`).join(", "),
    "latency of successful operations by fault window (ms):",
    ...r.latency.map((l) => `  ${l.window.padEnd(52)} ops ${String(l.ops).padStart(5)}  ok ${String(l.ok).padStart(5)}  p50 ${l.p50.toFixed(0).padStart(5)}  p99 ${l.p99.toFixed(0).padStart(5)}  max ${l.max.toFixed(0).padStart(5)}`),
  ];
  if (!r.verdict.ok) lines.push(r.verdict.explanation);
  return lines.join("\n");
}
