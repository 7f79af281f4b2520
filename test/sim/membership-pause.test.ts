// A member stalls (GC-like pause) 2 s out of every 10 s. With Lifeguard no
// member is falsely declared dead; the same runs with Lifeguard off are
// reported side by side (false deaths, false suspicions).
import test from "ava";
import type { MembershipConfig } from "@locker/membership";
import { falseDeaths, SimCluster } from "./membership-cluster.js";

interface PauseResult {
  falseDeaths: number;
  falseSuspicions: number;
  refutations: number;
}

const MINUTES = 20;

async function pauseRun(lifeguard: boolean, config: Partial<MembershipConfig>): Promise<PauseResult> {
  const c = new SimCluster({ seed: 41, profile: "lan", config: { ...config, lifeguard } });
  const nodes = await c.start(10);
  c.timeUntil(() => c.converged(), 30_000);
  const paused = nodes[4]!;
  for (let cycle = 0; cycle < MINUTES * 6; cycle++) {
    c.net.pause(paused.address, 2_000);
    c.clock.runFor(10_000);
  }
  c.clock.runFor(30_000); // let the last suspicions resolve
  const result = {
    falseDeaths: falseDeaths(nodes, new Set()).length,
    falseSuspicions: nodes.reduce((s, x) => s + x.events.filter((e) => e.e.type === "suspect").length, 0),
    refutations: nodes.reduce((s, x) => s + x.m.stats().refutations, 0),
  };
  for (const x of nodes) x.m.close();
  return result;
}

const show = (r: PauseResult): string => `false deaths ${r.falseDeaths}, false suspicions ${r.falseSuspicions}, refutations ${r.refutations}`;

test("a member paused 2 s of every 10 s is never declared dead with Lifeguard (lan profile); Lifeguard off reported", async (t) => {
  const on = await pauseRun(true, {});
  const off = await pauseRun(false, {});
  t.log(`${MINUTES} simulated minutes, 10 members, one paused 2 s every 10 s, lan profile (suspicion ≥ 4 s):`);
  t.log(`  Lifeguard on : ${show(on)}`);
  t.log(`  Lifeguard off: ${show(off)}`);
  t.is(on.falseDeaths, 0);
  t.true(on.falseSuspicions > 0, "the pauses must actually raise suspicions, or the scenario tests nothing");
});

test("the same with a suspicion floor below the pause (probe 500 ms, suspicionMult 3 → 1.5 s): Lifeguard on none, off some", async (t) => {
  const tight: Partial<MembershipConfig> = { probeIntervalMs: 500, probeTimeoutMs: 250, suspicionMult: 3 };
  const on = await pauseRun(true, tight);
  const off = await pauseRun(false, tight);
  t.log(`tight timings (suspicion min 1.5 s, Lifeguard max 9 s):`);
  t.log(`  Lifeguard on : ${show(on)}`);
  t.log(`  Lifeguard off: ${show(off)}`);
  t.is(on.falseDeaths, 0);
  // Deterministic seed: documents that this is a real stress in which classic SWIM fails.
  t.true(off.falseDeaths > 0);
});
