// Probe (not a benchmark; bench/compare.ts is): what a library node allocates
// per lock+release cycle at C=64, joined to 3 agents on 127.0.0.1, and where
// (V8's sampling heap profiler, counting objects already collected too).
// Garbage is CPU here: the collector was a fifth of a busy library node's time.
//
//   npm run build && node dist/bench/probe/alloc.js
import { Session } from "node:inspector/promises";
import { startAgents, startLibraryNode } from "../lib/agents.js";
import { closedLoop } from "../lib/load.js";

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const cluster = await startAgents();
try {
  const node = await startLibraryNode(cluster);
  const loop = (round: number) =>
    closedLoop({ concurrency: 64, durationMs: 3000, maxOps: 1_000_000, warmupOps: 200 }, async (w, i) => {
      const key = `alloc/${round}/${w}`;
      const value = `w${w}-${i}`;
      await node.locker.lock(key, value, { leaseMs: 10_000 });
      await node.locker.release(key, value);
      return true;
    });
  await loop(0); // warm the JIT first
  const session = new Session();
  session.connect();
  await session.post("HeapProfiler.startSampling", { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
  const r = await loop(1);
  const { profile } = (await session.post("HeapProfiler.stopSampling")) as unknown as { profile: { head: ProfileNode } };
  session.disconnect();
  const bySite = new Map<string, number>();
  let total = 0;
  const walk = (n: ProfileNode): void => {
    const f = n.callFrame;
    const site = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/dist\//, "")}:${f.lineNumber + 1}`;
    bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
    total += n.selfSize;
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  console.log(`${r.ok} cycles: ${(total / r.ok).toFixed(0)} bytes allocated per cycle (sampled, this process)`);
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${(bytes / r.ok).toFixed(0).padStart(6)} B  ${site}`);
  await node.close();
} finally {
  await cluster.stop();
}
