// Recovery after a reconfiguration whose rewrite could have listed the
// restarted (quiet, empty) voter: found by review. "Settled" must mean every
// key was re-chosen under the running configuration, so a quiet voter's
// listing never counts (src/cluster/configurator.ts rewrite, replicator
// serveKeys). The schedule: "k" chosen on n1 and n3 only; n4 added as a voter
// while n1 restarts empty; n3's fence reply to n1 lost; then n3 cut off and
// "k" asked for again — it must not be granted while the first lease runs.
import test, { type ExecutionContext } from "ava";
import { LockerError } from "../../src/errors.js";
import { configOf, ReplSim } from "./replication-cluster.js";

async function settleOrError<T>(sim: ReplSim, p: Promise<T>, ms = 5000): Promise<T | LockerError> {
  try {
    return await sim.settle(p, ms);
  } catch (e) {
    if (e instanceof LockerError) return e;
    throw e;
  }
}

async function scenario(t: ExecutionContext, enabled: boolean) {
  const sim = new ReplSim({
    seed: 7,
    faults: { lossRate: 0, duplicateRate: 0, minDelayMs: 0.2, maxDelayMs: 1, reorderRate: 0, reorderDelayMs: 0 },
    locker: { maxLeaseMs: 10_000, limits: { minLeaseMs: 10, maxTimeoutMs: 5000 }, defaultTimeoutMs: 1000, recovery: { enabled, maxClockSkewMs: 50, requestTimeoutMs: 200 } },
    transport: { request: { attemptTimeoutMs: 50, retries: 3, timeoutMs: 1000 } },
  });
  const v1 = configOf(1, ["n1", "n2", "n3"]);
  for (const n of ["n1", "n2", "n3"]) sim.start(n, v1, { quietPeriodMs: 0 });
  sim.start("n4", v1, { quietPeriodMs: 0 }); // a replica
  await sim.run(50);

  // 1. "k" is chosen on n1 and n3 only (n2 cut off).
  sim.net.partition(["n2"]);
  const first = await settleOrError(sim, sim.node("n3").locker.lock("k", "first", { leaseMs: 10_000 }));
  t.false(first instanceof LockerError, `first lock: ${String(first)}`);
  sim.net.heal();
  t.truthy(sim.node("n1").locker.cas.acceptor!.inspect("k"));
  t.is(sim.node("n2").locker.cas.acceptor!.inspect("k"), undefined);

  // 2. n4 is added as a voter, coordinated by n4. As soon as n1 runs version 2
  // (spread), n1 crashes and restarts with empty memory: the rewrite's listing
  // (n4 itself, then n1, then n2 — a quorum of version 2) takes n1's empty one.
  const change = sim.node("n4").configurator.addVoter({ name: "n4", address: "n4" });
  let n1 = sim.node("n1");
  let restarted = false;
  await sim.runUntil(() => {
    if (!restarted && sim.node("n1").locker.cas.configVersion === 2) {
      sim.crash("n1");
      n1 = sim.start("n1", configOf(2, ["n1", "n2", "n3", "n4"]));
      restarted = true;
    }
    return restarted;
  }, 3000);
  t.true(restarted);
  const r1 = await settleOrError(sim, change, 5000);
  t.log(`the change: ${r1 instanceof LockerError ? r1.message : "done"}`);
  await sim.run(3500); // every node learns version 2 (n2/n3 waited on peeks to the crashed n1)
  for (const n of ["n1", "n2", "n3", "n4"]) t.is(sim.node(n).locker.cas.configVersion, 2, n);
  if (r1 instanceof LockerError) {
    // Completing the unsettled change: its rewrite lists n4, n1 (still quiet, empty: its gate waits for the settle) and n2.
    const r2 = await settleOrError(sim, sim.node("n4").configurator.addVoter({ name: "n4", address: "n4" }), 5000);
    t.log(`completing it: ${r2 instanceof LockerError ? r2.message : "done"}`);
  }
  // Before the fix the rewrite listed n1's empty acceptor and never read "k": n2 and n4 had no state for it.
  t.log(`after the change, "k" on n2: ${JSON.stringify(sim.node("n2").locker.cas.acceptor!.inspect("k")?.accepted ?? null)}, on n4: ${JSON.stringify(sim.node("n4").locker.cas.acceptor!.inspect("k")?.accepted ?? null)}`);
  t.log(`after the change: n1 recovery ${JSON.stringify(n1.locker.cas.recoveryStatus)}, quiet ${n1.locker.cas.quiet}`);
  // n1's next attempt: the gate passes (version 2 is settled); n3's answer to
  // the fence is lost (a link outage of 250 ms from n3 to n1); 2 of the 3 others suffice.
  const served = (n: string): number => (sim.node(n).locker.cas as unknown as { fenceServer: { served: number } }).fenceServer.served;
  const before = served("n2");
  if (enabled) await sim.runUntil(() => served("n2") > before, 3000);
  sim.net.block("n3", "n1");
  await sim.run(250);
  sim.net.heal();

  // 4. n1 recovers under version 2 (gate: settled) from n2 and n4 (need 2 of 3 others).
  if (enabled) await sim.runUntil(() => n1.locker.cas.recoveryStatus.state === "recovered", 3000);
  t.log(`n1 ${JSON.stringify(n1.locker.cas.recoveryStatus)} quiet ${n1.locker.cas.quiet} quietUntil-now ${n1.locker.cas.acceptor!.config.quietUntil - sim.clock.now()}`);

  // 5. n3 (the only voter still holding "k") is cut off while the first lease still runs.
  t.true(!(first instanceof LockerError) && sim.clock.now() < first.safeUntil - 1000, "the schedule reaches step 5 inside the first lease");
  sim.net.heal();
  sim.net.partition(["n3"]);
  const second = await settleOrError(sim, sim.node("n2").locker.lock("k", "second", { leaseMs: 100 }));
  t.log(`first ${JSON.stringify(first, (_k, v) => (typeof v === "bigint" ? v.toString() : v))} second ${second instanceof LockerError ? second.code : "granted"}; now ${sim.clock.now()}`);
  return { second, n1 };
}

test("a key chosen without the third voter survives a reconfiguration during a restart, with recovery on: no second holder", async (t) => {
  const { second } = await scenario(t, true);
  t.true(second instanceof LockerError && (second.code === "locked" || second.code === "no_quorum"), `the second lock: ${String(second)}`);
});

test("the same schedule without recovery: no second holder either", async (t) => {
  const { second } = await scenario(t, false);
  t.true(second instanceof LockerError && (second.code === "no_quorum" || second.code === "locked"), `the second lock: ${String(second)}`);
});
