// Real UDP on loopback: 3 voters + 2 replicas as ClusterNodes (SWIM, Locker,
// replication, reconfiguration on one socket each). A lock is visible on both
// replicas within two push intervals; a 6th node joining a cluster holding
// 10,000 live keys holds all of them after catch-up; a replica is promoted and
// a voter removed while writes keep succeeding.
import test from "ava";
import { startNode, type LockerNode } from "../../src/node/node.js";
import { createUdpTransport, type Transport } from "../../src/transport/index.js";
import { SystemClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";

const PUSH_INTERVAL_MS = 100;

async function until(pred: () => boolean, timeoutMs: number, stepMs = 2): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) return pred();
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return true;
}

test("3 voters + 2 replicas over UDP: push latency, 10,000-key catch-up of a 6th node, promote and remove under writes", async (t) => {
  t.timeout(120_000);
  const clock = new SystemClock();
  const random = new SeededRandom(2026);
  const names = ["v1", "v2", "v3", "r1", "r2"];
  const transports = new Map<string, Transport>();
  for (const n of names) transports.set(n, await createUdpTransport({ bind: "127.0.0.1:0", clock, random: random.fork(), clusterLabel: "repl-test" }));
  const voters = ["v1", "v2", "v3"].map((n) => ({ name: n, address: transports.get(n)!.address }));
  const seeds = [voters[0]!.address];
  const nodes = new Map<string, LockerNode>();
  const start = (name: string, transport: Transport, s: readonly string[]): Promise<LockerNode> =>
    startNode({
      name,
      transport,
      clock,
      random: random.fork(),
      join: s,
      voters: voters.map((v) => v.name),
      profile: "local",
      // A brand-new cluster: no lease from an earlier life to wait out.
      quietPeriodMs: 0,
      limits: { maxPendingRounds: 20_000 },
      replication: { pushIntervalMs: PUSH_INTERVAL_MS },
    });
  try {
    nodes.set("v1", await start("v1", transports.get("v1")!, []));
    for (const n of names.slice(1)) nodes.set(n, await start(n, transports.get(n)!, seeds));
    t.true(await until(() => [...nodes.values()].every((x) => x.membership.members().filter((m) => m.state === "alive").length === 4), 10_000), "everyone sees everyone");

    // 1. A lock on a voter reaches both replicas' dirtyRead within two push intervals.
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await nodes.get("v1")!.locker.lock(`visible-${i}`, `owner-${i}`, { leaseMs: 30_000 });
      const committed = performance.now();
      const seen = await until(() => ["r1", "r2"].every((n) => nodes.get(n)!.locker.dirtyRead(`visible-${i}`)?.token === r.token), 2000, 1);
      t.true(seen);
      latencies.push(performance.now() - committed);
    }
    t.log(`lock → dirtyRead on both replicas: ${latencies.map((x) => x.toFixed(1)).join(", ")} ms (push interval ${PUSH_INTERVAL_MS} ms)`);
    t.true(Math.max(...latencies) <= 2 * PUSH_INTERVAL_MS, "within two push intervals");

    // 2. 10,000 live keys, then a 6th node joins and catches up.
    const keyCount = 10_000;
    const v1 = nodes.get("v1")!.locker;
    const tLoad = performance.now();
    for (let i = 0; i < keyCount; i += 500) {
      const chunk: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(keyCount, i + 500); j++) chunk.push(v1.lock(`bulk-${j}`, { n: j }, { leaseMs: 60_000, timeoutMs: 20_000 }));
      await Promise.all(chunk);
    }
    t.log(`loaded ${keyCount} keys in ${(performance.now() - tLoad).toFixed(0)} ms`);
    t.true(await until(() => nodes.get("r1")!.locker.keys("bulk-", 20_000).length === keyCount, 20_000), "replicas got the bulk load through pushes");
    const t6 = await createUdpTransport({ bind: "127.0.0.1:0", clock, random: random.fork(), clusterLabel: "repl-test" });
    const tJoin = performance.now();
    const sixth = await start("n6", t6, seeds);
    nodes.set("n6", sixth);
    await sixth.replicator.whenSynced();
    const catchUpMs = performance.now() - tJoin;
    const held = sixth.locker.keys("bulk-", 20_000).length;
    t.log(`6th node: joined and caught up with ${held} keys in ${catchUpMs.toFixed(0)} ms (snapshot pull ${sixth.replicator.stats.lastSnapshotMs.toFixed(0)} ms, ${sixth.replicator.stats.lastSnapshotEntries} entries)`);
    t.is(held, keyCount);
    t.deepEqual(sixth.locker.dirtyRead("bulk-9999")?.value, { n: 9999 });

    // 3. Promote a replica, remove a voter; a writer on a replica keeps going throughout.
    let writes = 0;
    const failures: string[] = [];
    let running = true;
    const writer = (async () => {
      for (let i = 0; running; i++) {
        try {
          await nodes.get("r2")!.locker.lock(`w-${i}`, i, { leaseMs: 30_000 });
          writes++;
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    })();
    const tPromote = performance.now();
    const c2 = await nodes.get("v2")!.configurator.promote("r1");
    const promoteMs = performance.now() - tPromote;
    t.deepEqual(c2.voters.map((v) => v.name), ["r1", "v1", "v2", "v3"]);
    const tRemove = performance.now();
    const c3 = await nodes.get("r1")!.configurator.removeVoter("v3");
    const removeMs = performance.now() - tRemove;
    t.deepEqual(c3.voters.map((v) => v.name), ["r1", "v1", "v2"]);
    const during = writes;
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await writer;
    t.log(`promote took ${promoteMs.toFixed(0)} ms, remove ${removeMs.toFixed(0)} ms (each rewrites ~${keyCount + 5} keys); ${during} writes during, ${writes} in all, failures: ${failures.length}`);
    t.true(during > 0);
    t.deepEqual(failures, []);
    t.true(nodes.get("r1")!.locker.cas.isVoter);
    t.true(await until(() => !nodes.get("v3")!.locker.cas.isVoter, 5000));
    t.true(await until(() => [...nodes.values()].every((x) => x.config().version === 3), 5000), "every node runs version 3");
    // The old data is still there under the new configuration.
    t.deepEqual((await nodes.get("n6")!.locker.read("bulk-4321"))?.value, { n: 4321 });
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.close()));
    for (const [n, tr] of transports) if (!nodes.has(n)) await tr.close();
    clock.clearAll();
  }
});
