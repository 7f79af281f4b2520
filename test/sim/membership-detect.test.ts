// Crash detection time on the simulated network with lan timings, against the
// bound derived from those timings (crashDetectionBoundMs): over several seeds,
// every survivor shows a crashed member dead within the bound, and the 5-member
// case is compared with memberlist's measured time for the same shape.
import test from "ava";
import { lanProfile, suspicionTimeoutMs } from "@locker/membership";
import { crashDetectionBoundMs, crashDetectionMedianBoundMs, falseDeaths, quantiles, SimCluster } from "./membership-cluster.js";

/** memberlist 0.2.2, DefaultLANConfig, 5 agents on loopback, SIGKILL one: every survivor shows it dead after (issue 10). */
const MEMBERLIST_5_MS = { min: 5400, max: 6600 };
const SEEDS = 8;

async function detectOnce(n: number, seed: number): Promise<{ tookMs: number | undefined; falseDeaths: number }> {
  const c = new SimCluster({ seed, profile: "lan" });
  const nodes = await c.start(n);
  c.timeUntil(() => c.converged(), 30_000);
  c.clock.runFor(5_000 + (seed % 7) * 137); // crash at a different phase of the probe rounds per seed
  const victim = nodes[1 + (seed % (n - 1))]!;
  c.crash(victim.name);
  const others = nodes.filter((x) => x !== victim);
  const tookMs = c.timeUntil(() => others.every((o) => o.m.member(victim.name)?.state === "dead"), 120_000);
  const fd = falseDeaths(others, new Set([victim.name])).length;
  for (const o of others) o.m.close();
  return { tookMs, falseDeaths: fd };
}

for (const n of [5, 20]) {
  test(`SIGKILL one of ${n} (lan timings, ${SEEDS} seeds): every survivor shows it dead within min suspicion + 7 probes + 2 gossip rounds, the median within min suspicion + 3 probes + 2 gossip rounds`, async (t) => {
    const runs = [];
    for (let s = 1; s <= SEEDS; s++) runs.push(await detectOnce(n, 1000 + s));
    const took = runs.map((r) => r.tookMs ?? Infinity);
    const q = quantiles(took);
    const bound = crashDetectionBoundMs(lanProfile, n);
    const medianBound = crashDetectionMedianBoundMs(lanProfile, n);
    const minMs = suspicionTimeoutMs(lanProfile.suspicionMult, n, lanProfile.probeIntervalMs);
    t.log(`n=${n}: dead everywhere after ${took.join(", ")} ms (min ${q.min}, median ${q.median}, max ${q.max}); suspicion min ${minMs} ms, max ${minMs * lanProfile.suspicionMaxTimeoutMult} ms; bound ${bound} ms, median bound ${medianBound} ms`);
    if (n === 5) t.log(`memberlist, same shape and timings (measured): ${MEMBERLIST_5_MS.min}–${MEMBERLIST_5_MS.max} ms; 1.2× its slowest ${1.2 * MEMBERLIST_5_MS.max} ms; ours/memberlist max ${(q.max / MEMBERLIST_5_MS.max).toFixed(2)}`);
    for (const [i, x] of took.entries()) t.true(x <= bound, `seed ${1001 + i}: ${x} ms > bound ${bound} ms`);
    t.true(q.median <= medianBound, `median ${q.median} ms > ${medianBound} ms`);
    if (n === 5) t.true(q.max <= 1.2 * MEMBERLIST_5_MS.max, "within 1.2× memberlist");
    t.deepEqual(runs.map((r) => r.falseDeaths), runs.map(() => 0));
  });
}
