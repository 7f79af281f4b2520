// Failure detection on the simulated network: a crash is detected by every
// member within the bound derived from the timings (min suspicion + 7 probe
// intervals + 2 gossip rounds, see crashDetectionBoundMs; it was 35 s at 20
// members before Lifeguard confirmations worked), and 10% loss for an hour
// accuses no one.
import test from "ava";
import { lanProfile, suspicionTimeoutMs } from "@locker/membership";
import { crashDetectionBoundMs, deathsOf, falseDeaths, SimCluster } from "./membership-cluster.js";

/** Lifeguard's bound, derived from the timings (see crashDetectionBoundMs). */
function detectionBoundMs(n: number): number {
  return crashDetectionBoundMs(lanProfile, n);
}

/** The same with the probe and gossip part stretched by a health multiplier (Lifeguard LHA slows a struggling prober). */
function lossBoundMs(n: number, multiplier: number): number {
  const minMs = suspicionTimeoutMs(lanProfile.suspicionMult, n, lanProfile.probeIntervalMs);
  return minMs + multiplier * (crashDetectionBoundMs(lanProfile, n) - minMs);
}

test("a crashed member is marked dead by every other member within the suspicion bound", async (t) => {
  const n = 20;
  const c = new SimCluster({ seed: 21 });
  const nodes = await c.start(n);
  t.true(c.timeUntil(() => c.converged(), 30_000) !== undefined);
  c.clock.runFor(5_000);
  const victim = nodes[7]!;
  c.crash(victim.name);
  const t0 = c.clock.now();
  const others = nodes.filter((x) => x !== victim);
  const took = c.timeUntil(() => others.every((o) => o.m.member(victim.name)?.state === "dead"), 120_000);
  const bound = detectionBoundMs(n);
  const minMs = suspicionTimeoutMs(lanProfile.suspicionMult, n, lanProfile.probeIntervalMs);
  t.log(`n=${n}: all ${n - 1} marked the crash dead after ${took} ms (suspicion min ${minMs} ms, max ${lanProfile.suspicionMaxTimeoutMult * minMs} ms, bound ${bound} ms)`);
  t.not(took, undefined);
  t.true(took! <= bound);
  t.is(deathsOf(others, victim.name, t0), n - 1);
  t.deepEqual(falseDeaths(others, new Set([victim.name])), []);
  for (const o of others) o.m.close();
});

test("10% datagram loss for 60 simulated minutes with 50 members: no healthy member declared dead; a crash is still detected", async (t) => {
  t.timeout(300_000); // ~12 s of CPU on an idle machine
  const n = 50;
  const c = new SimCluster({ seed: 31 });
  const nodes = await c.start(n);
  t.true(c.timeUntil(() => c.converged(), 30_000) !== undefined);
  c.net.setFaults({ lossRate: 0.1 });
  const hourMs = 60 * 60_000;
  c.clock.runFor(hourMs);
  const stats = nodes.map((x) => x.m.stats());
  const sum = (f: (s: (typeof stats)[number]) => number): number => stats.reduce((a, s) => a + f(s), 0);
  const fd = falseDeaths(nodes, new Set());
  t.log(`60 min at 10% loss, n=${n}: probes ${sum((s) => s.probes)}, failed probes ${sum((s) => s.probesFailed)}, suspicions raised ${sum((s) => s.suspicionsRaised)}, refutations ${sum((s) => s.refutations)}, false deaths ${fd.length}, network lost ${c.net.counters.lost} of ${c.net.counters.sent}`);
  t.deepEqual(fd, []);
  t.true(c.converged());

  // Still under loss, a real crash is detected by everyone within the bound. Local health awareness
  // stretches a struggling member's probe interval and timeout by (health score + 1), on purpose:
  // the probe part of the bound is stretched by the largest multiplier at the time of the crash.
  const victim = nodes[13]!;
  const multiplier = 1 + Math.max(...nodes.map((x) => x.m.stats().healthScore));
  const bound = lossBoundMs(n, multiplier);
  c.crash(victim.name);
  const others = nodes.filter((x) => x !== victim);
  const took = c.timeUntil(() => others.every((o) => o.m.member(victim.name)?.state === "dead"), 120_000);
  t.log(`crash under 10% loss detected by all ${n - 1} after ${took} ms (largest health multiplier ${multiplier}; bound ${bound} ms)`);
  t.not(took, undefined);
  t.true(took! <= bound);
  t.deepEqual(falseDeaths(others, new Set([victim.name])), []);
  for (const o of others) o.m.close();
});
