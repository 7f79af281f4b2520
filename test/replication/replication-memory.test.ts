// Replication and reconfiguration on the in-memory network (virtual time):
// pushes reach replicas within two intervals, a joiner catches up by
// snapshot, lossy links converge, and voters change one at a time while
// writes keep succeeding.
import test from "ava";
import { isLockerError } from "../../src/errors.js";
import { encodeValue } from "../../src/cas/value.js";
import { replCodec } from "../../src/replication/messages.js";
import { successorKey } from "../../src/cluster/configurator.js";
import { ChannelId } from "../../src/transport/types.js";
import { configOf, ReplSim } from "../sim/replication-cluster.js";

const VOTERS = ["v1", "v2", "v3"];

function cluster(seed: number, faults = {}): ReplSim {
  const sim = new ReplSim({ seed, faults });
  const cfg = configOf(1, VOTERS);
  for (const n of [...VOTERS, "r1", "r2"]) sim.start(n, cfg, { quietPeriodMs: 0 });
  return sim;
}

test("a lock taken on a voter is visible by dirtyRead on both replicas within two push intervals", async (t) => {
  const sim = cluster(1);
  await sim.run(50);
  const r = await sim.settle(sim.node("v1").locker.lock("job", "owner-a", { leaseMs: 1500 }));
  const committedAt = sim.clock.now();
  const seen = await sim.runUntil(() => ["r1", "r2"].every((n) => sim.node(n).locker.dirtyRead("job")?.value === "owner-a"), 200);
  t.true(seen, "both replicas hold the key within 200 ms");
  t.true(sim.clock.now() - committedAt <= 200);
  const e = sim.node("r2").locker.dirtyRead("job")!;
  t.is(e.token, r.token);
  t.true(e.leaseRemainingMs > 0 && e.leaseRemainingMs <= 1500);
  // Release: gone on the replicas too.
  await sim.settle(sim.node("v2").locker.release("job", "owner-a"));
  t.true(await sim.runUntil(() => ["r1", "r2"].every((n) => sim.node(n).locker.dirtyRead("job") === undefined), 200));
});

test("waitFor on a replica resolves when the key arrives; the lease expires locally", async (t) => {
  const sim = cluster(2);
  await sim.run(50);
  const waiting = sim.node("r1").locker.waitFor("leader", 5000);
  await sim.run(30);
  await sim.settle(sim.node("v3").locker.lock("leader", { id: 7 }, { leaseMs: 300 }));
  t.deepEqual(await sim.settle(waiting), { id: 7 });
  const released = sim.node("r1").locker.waitForRelease("leader", 5000);
  await sim.settle(released, 1000);
  t.is(sim.node("r1").locker.dirtyRead("leader"), undefined, "expired on the replica's own clock");
});

test("a client on a replica writes: the replica coordinates the round with the voters", async (t) => {
  const sim = cluster(3);
  await sim.run(50);
  const r = await sim.settle(sim.node("r1").locker.lock("k", "from-replica", { leaseMs: 1000 }));
  t.true(r.token > 0n);
  t.is(sim.node("v1").locker.dirtyRead("k")?.value, "from-replica");
  t.true(await sim.runUntil(() => sim.node("r2").locker.dirtyRead("k")?.value === "from-replica", 200));
  const e = await sim.settle(sim.node("r2").locker.lock("k", "other", { leaseMs: 1000 }).catch((x: unknown) => x));
  t.true(isLockerError(e, "locked"));
});

test("lease extensions refresh a replica that missed the original change (anti-entropy)", async (t) => {
  const sim = cluster(4);
  await sim.run(50);
  // r1 is cut off while the lock is taken: every push to it is lost.
  sim.net.partition(["r1"]);
  await sim.settle(sim.node("v1").locker.lock("k", "a", { leaseMs: 1800 }));
  await sim.run(1600); // pushes to r1 time out and are dropped (bounded retries)
  t.is(sim.node("r1").locker.dirtyRead("k"), undefined);
  sim.net.heal();
  await sim.settle(sim.node("v1").locker.extendLease("k", "a", 1800));
  t.true(await sim.runUntil(() => sim.node("r1").locker.dirtyRead("k")?.value === "a", 300));
});

test("a member that joins late pulls a snapshot of every live key, then follows the stream", async (t) => {
  const sim = cluster(5);
  await sim.run(50);
  const v1 = sim.node("v1").locker;
  const n = 2000;
  const batch: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) batch.push(v1.lock(`key-${i}`, { i }, { leaseMs: 2000 }));
  await sim.settle(Promise.all(batch));
  const joiner = sim.start("r3", configOf(1, VOTERS), { quietPeriodMs: 0 });
  const t0 = sim.clock.now();
  await sim.settle(joiner.replicator.whenSynced());
  t.log(`snapshot of ${joiner.replicator.stats.lastSnapshotEntries} keys in ${(sim.clock.now() - t0).toFixed(1)} virtual ms`);
  t.is(joiner.locker.keys("key-", 10_000).length, n);
  t.deepEqual(joiner.locker.dirtyRead("key-1234")?.value, { i: 1234 });
  await sim.settle(v1.update("key-7", { i: 7 }, "changed"));
  t.true(await sim.runUntil(() => joiner.locker.dirtyRead("key-7")?.value === "changed", 250));
});

test("replicas converge over a lossy, duplicating, reordering network", async (t) => {
  const sim = cluster(6, { lossRate: 0.2, duplicateRate: 0.1, reorderRate: 0.2, reorderDelayMs: 20, minDelayMs: 0.2, maxDelayMs: 3 });
  await sim.run(50);
  const voters = VOTERS.map((v) => sim.node(v).locker);
  for (let round = 0; round < 6; round++) {
    const ops: Promise<unknown>[] = [];
    for (let i = round * 10; i < round * 10 + 10; i++) {
      const l = voters[i % 3]!;
      const key = `k${i % 10}`;
      // Alternate takes and releases so keys change many times, spread over several push intervals.
      ops.push((round % 2 === 0 ? l.lock(key, `v${i}`, { leaseMs: 1900 }) : l.release(key, `v${i - 10}`)).catch(() => undefined));
    }
    await sim.settle(Promise.all(ops));
    await sim.run(60);
  }
  // The truth: a linearizable read of each key.
  const truth = new Map<string, unknown>();
  for (let i = 0; i < 20; i++) truth.set(`k${i}`, (await sim.settle(voters[0]!.read(`k${i}`)))?.value);
  const agree = (): boolean => ["r1", "r2"].every((r) => [...truth].every(([k, v]) => sim.node(r).locker.dirtyRead(k)?.value === v));
  t.true(await sim.runUntil(agree, 1500), "replicas hold what a quorum read returns");
  const s = sim.node("v1").replicator.stats;
  t.log(`v1 pushed ${s.pushBatchesSent} batches, ${s.pushFailures} failed; r1 store ${JSON.stringify(sim.node("r1").replicator.stats.store)}`);
  t.true(sim.node("r1").replicator.stats.store.stale > 0, "duplicates and other voters' copies were recognised as old");
});

test("promote a replica, remove a voter: writes keep succeeding and no key is lost", async (t) => {
  const sim = cluster(7);
  await sim.run(50);
  const keys = Array.from({ length: 50 }, (_, i) => `lock-${i}`);
  await sim.settle(Promise.all(keys.map((k) => sim.node("v1").locker.lock(k, k, { leaseMs: 2000 }))));
  await sim.run(150);
  // A steady writer on a replica throughout.
  let writes = 0;
  let failures = 0;
  let running = true;
  const writer = (async () => {
    for (let i = 0; running; i++) {
      try {
        await sim.node("r2").locker.lock(`w-${i}`, i, { leaseMs: 2000 });
        writes++;
      } catch {
        failures++;
      }
    }
  })();
  await sim.run(100); // the writer is under way
  const before = writes;
  const tChange = sim.clock.now();
  const c1 = await sim.settle(sim.node("v2").configurator.promote("r1"));
  t.deepEqual(c1.voters.map((v) => v.name), ["r1", "v1", "v2", "v3"]);
  t.is(c1.version, 2);
  t.true(sim.node("r1").locker.cas.isVoter);
  const c2 = await sim.settle(sim.node("r1").configurator.removeVoter("v3"));
  t.deepEqual(c2.voters.map((v) => v.name), ["r1", "v1", "v2"]);
  t.false(sim.node("v3").locker.cas.isVoter, "the removed voter stepped down");
  const duringChanges = writes - before;
  t.log(`the two changes took ${(sim.clock.now() - tChange).toFixed(1)} virtual ms`);
  await sim.run(300); // and after them
  running = false;
  await sim.settle(writer);
  t.true(duringChanges > 0, "writes succeeded while the voters changed");
  t.log(`${duringChanges} writes from a replica during two reconfigurations, ${writes} in all, ${failures} failed`);
  t.true(writes > 5);
  t.is(failures, 0);
  // Every lock is still held, read through the new configuration; v3 (now a replica) can be partitioned away.
  sim.net.partition(["v3"]);
  for (const k of keys) t.is((await sim.settle(sim.node("r2").locker.read(k)))?.value, k);
  const taken = await sim.settle(sim.node("r1").locker.lock("lock-3", "thief", { leaseMs: 500 }).catch((e: unknown) => e));
  t.true(isLockerError(taken, "locked"));
  // The configuration key records the settled change; every node runs version 3.
  sim.net.heal();
  t.true(await sim.runUntil(() => [...sim.nodes.values()].every((n) => n.locker.cas.configVersion === 3), 2000), "every node learned version 3");
  for (const v of [1, 2]) t.truthy((await sim.settle(sim.node("v1").locker.cas.execute(successorKey(v), { kind: "read" }, 2000))).record, `the successor of version ${v} is recorded`);
  // The demoted voter follows the stream as a replica.
  await sim.settle(sim.node("v1").locker.lock("after", "x", { leaseMs: 1000 }));
  t.true(await sim.runUntil(() => sim.node("v3").locker.dirtyRead("after")?.value === "x", 1000));
});

test("a restarted voter catches up during its quiet period, and only then votes", async (t) => {
  const sim = cluster(8);
  await sim.run(50);
  await sim.settle(Promise.all(Array.from({ length: 300 }, (_, i) => sim.node("v1").locker.lock(`held-${i}`, i, { leaseMs: 1900 }))));
  sim.crash("v3");
  await sim.run(20);
  // Recovery off: this is the quiet period of a voter that cannot recover from the others.
  const v3 = sim.start("v3", configOf(1, VOTERS), { quietPeriodMs: 1000, recovery: { enabled: false } });
  t.true(v3.locker.cas.quiet);
  await sim.settle(v3.replicator.whenSynced(), 900);
  t.true(v3.locker.cas.quiet, "caught up before its quiet period ended");
  t.true(
    Array.from({ length: 300 }, (_, i) => v3.locker.dirtyRead(`held-${i}`)?.value === i).every(Boolean),
    "its local view (dirtyRead) holds every live key",
  );
  t.is(v3.locker.cas.acceptor!.size, 0, "its acceptor took none of it: copies never enter an acceptor");
  // While quiet it does not vote: with v1 cut off, v2 and v3 are no quorum.
  sim.net.partition(["v1"]);
  const refused = await sim.settle(sim.node("v2").locker.lock("during-quiet", "x", { leaseMs: 500, timeoutMs: 300 }).catch((e: unknown) => e));
  t.true(isLockerError(refused, "no_quorum"), String(refused));
  await sim.runUntil(() => !v3.locker.cas.quiet, 2000);
  const r = await sim.settle(sim.node("v2").locker.lock("after-quiet", "y", { leaseMs: 500 }));
  t.true(r.token > 0n, "after its quiet period it votes");
});

test("a push from a node that is not a voter is refused and changes nothing", async (t) => {
  const sim = cluster(9);
  await sim.run(50);
  const intruder = sim.net.transport("x").channel(ChannelId.replication, replCodec);
  const push = intruder.request("r1", {
    type: "push",
    from: "x",
    cfg: 1,
    entries: [{ key: "forged", ballot: { c: 9e15, node: "x" }, origin: null, record: { value: encodeValue("evil"), token: 1, remainingMs: 1000 } }],
  });
  const e = await sim.settle(push.catch((x: unknown) => x));
  t.true(isLockerError(e, "unavailable"));
  t.is(sim.node("r1").locker.dirtyRead("forged"), undefined);
  t.is(sim.node("r1").replicator.stats.pushesRefused, 1);
});
