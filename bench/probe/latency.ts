// Probe (not a benchmark; bench/compare.ts is): where a sequential library
// lock's time goes, with key affinity on (operations forwarded to the key's
// coordinator) and off (this node proposes). A library node joins 3 agents
// on 127.0.0.1 and locks and releases 16 keys in turn, 2,000 times.
//
//   npm run build && node dist/bench/probe/latency.js
import { startAgents, startLibraryNode } from "../lib/agents.js";
import { fmtMs, summarize } from "../lib/stats.js";

const CYCLES = 2000;
const WARMUP = 200;
const cluster = await startAgents();
try {
  for (const affinity of [true, "contended", false] as const) {
    const node = await startLibraryNode(cluster, { name: `lib-${String(affinity)}`, affinity });
    const lock: number[] = [];
    const release: number[] = [];
    for (let i = 0; i < CYCLES; i++) {
      const key = `k${i % 16}`;
      const t0 = performance.now();
      await node.locker.lock(key, "v", { leaseMs: 5000 });
      const t1 = performance.now();
      await node.locker.release(key, "v");
      const t2 = performance.now();
      if (i < WARMUP) continue;
      lock.push(t1 - t0);
      release.push(t2 - t1);
    }
    const l = summarize(lock);
    const r = summarize(release);
    console.log(`affinity=${String(affinity)}: lock p50 ${fmtMs(l.p50Ms)} p90 ${fmtMs(l.p90Ms)}; release p50 ${fmtMs(r.p50Ms)} p90 ${fmtMs(r.p90Ms)}`, JSON.stringify(node.affinity.stats));
    await node.close();
  }
} finally {
  await cluster.stop();
}
