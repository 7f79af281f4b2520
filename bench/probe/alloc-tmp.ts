import { Session } from "node:inspector/promises";
import { writeFileSync } from "node:fs";
import { startAgents, startLibraryNode } from "../lib/agents.js";
import { closedLoop } from "../lib/load.js";
const cluster = await startAgents();
const node = await startLibraryNode(cluster, {});
const s = new Session(); s.connect();
const loop = (round: number) => closedLoop({ concurrency: 64, durationMs: 3000, maxOps: 1_000_000, warmupOps: 200 }, async (w, i) => {
  const key = `c64/${round}/${w}`; const value = `w${w}-${i}`;
  await node.locker.lock(key, value, { leaseMs: 10_000 }); await node.locker.release(key, value); return true; });
await loop(0);
await s.post("HeapProfiler.startSampling", { samplingInterval: 8192, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
const r = await loop(1);
const prof = await s.post("HeapProfiler.stopSampling");
writeFileSync("/tmp/alloc.heapprofile", JSON.stringify((prof as { profile: unknown }).profile));
console.log("ops", r.ok);
await node.close(); await cluster.stop();
