// Benchmark: what the persisted ballot floor (--persist-floor, on by default)
// costs. Two sets of 3 real agents in one run, alternating, the same HTTP
// workload (C workers, each lock+release on its own key, requests spread over
// the agents): one with the floor in --data-dir, one with --persist-floor=false.
// Prints cycles/s, lock latency and the floor writes each voter made (from
// /v1/status), plus the latency of one durable floor write on this disk.
// Usage: npm run bench:floor -- [--seconds S] [--concurrency C] [--rounds N]
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ballotFloorFile } from "../src/agent/state-file.js";
import { httpError, httpJson, startAgents, type AgentCluster } from "./lib/agents.js";
import { closedLoop } from "./lib/load.js";
import { fmtMs, fmtNum, summarize } from "./lib/stats.js";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "8" }, concurrency: { type: "string", default: "16" }, rounds: { type: "string", default: "2" } } });
const SECONDS = Number(values.seconds);
const C = Number(values.concurrency);
const ROUNDS = Number(values.rounds);
if (!(SECONDS > 0 && SECONDS <= 120 && Number.isInteger(C) && C >= 1 && C <= 256 && Number.isInteger(ROUNDS) && ROUNDS >= 1 && ROUNDS <= 10)) {
  process.stderr.write("usage: npm run bench:floor -- [--seconds 1..120] [--concurrency 1..256] [--rounds 1..10]\n");
  process.exit(2);
}

/** One durable write of the floor file, many times: its latency on this disk. */
function writeLatency(): ReturnType<typeof summarize> {
  const dir = mkdtempSync(join(tmpdir(), "locker-floor-"));
  try {
    const store = ballotFloorFile(dir, "bench", () => {})!;
    const samples: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      store.save(1_000_000 + i);
      samples.push(performance.now() - t0);
    }
    return summarize(samples);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(persist: boolean): Promise<{ cyclesPerSec: number; lockP50: number; lockP99: number; errors: Record<string, number>; floorWrites: number[] }> {
  const cluster: AgentCluster = await startAgents({ names: ["f1", "f2", "f3"], agentArgs: persist ? [] : ["--persist-floor=false"] });
  const agent = new http.Agent({ keepAlive: true, maxSockets: C });
  try {
    const run = Date.now().toString(36);
    const r = await closedLoop({ concurrency: C, durationMs: SECONDS * 1000, maxOps: 5_000_000, warmupOps: 2 * C }, async (w, i) => {
      const a = cluster.agents[(w + i) % cluster.agents.length]!;
      const key = `floor/${run}/${w}`;
      const value = `w${w}-${i}`;
      const lock = await httpJson(agent, a.http, "PUT", `/v1/keys/${key}`, { value, leaseMs: 5000 });
      if (lock.status !== 200) throw httpError(lock, "lock");
      const rel = await httpJson(agent, a.http, "POST", `/v1/keys/${key}/release`, { value });
      if (rel.status !== 200) throw httpError(rel, "release");
      return true;
    });
    const floorWrites: number[] = [];
    for (const a of cluster.agents) {
      const s = await httpJson(agent, a.http, "GET", "/v1/status");
      floorWrites.push(Number((s.json.summary as { floorWrites?: number }).floorWrites ?? 0));
    }
    const lat = summarize(r.latencies);
    return { cyclesPerSec: r.okPerSec, lockP50: lat.p50Ms, lockP99: lat.p99Ms, errors: r.errors, floorWrites };
  } finally {
    agent.destroy();
    await cluster.stop();
  }
}

const w = writeLatency();
console.log(`one durable floor write (write + fsync + rename): p50 ${fmtMs(w.p50Ms)}, p99 ${fmtMs(w.p99Ms)}`);
const rows: Array<{ persist: boolean; r: Awaited<ReturnType<typeof measure>> }> = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const persist of round % 2 === 0 ? [true, false] : [false, true]) {
    const r = await measure(persist);
    rows.push({ persist, r });
    console.log(
      `${persist ? "floor on " : "floor off"}  C=${C}: ${fmtNum(r.cyclesPerSec)} cycles/s, cycle p50 ${fmtMs(r.lockP50)} p99 ${fmtMs(r.lockP99)}, floor writes per voter ${r.floorWrites.join("/")} in ${SECONDS} s${Object.keys(r.errors).length ? `, errors ${JSON.stringify(r.errors)}` : ""}`,
    );
  }
}
const mean = (p: boolean): number => {
  const xs = rows.filter((x) => x.persist === p).map((x) => x.r.cyclesPerSec);
  return xs.reduce((a, b) => a + b, 0) / xs.length;
};
console.log(`ratio floor on / off: ${(mean(true) / mean(false)).toFixed(3)} (cycles/s, mean of ${ROUNDS} rounds each)`);
