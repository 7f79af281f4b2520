// Rejoin and reconnect on the simulated network (lan timings): a member
// restarted under its name and address (memory lost, incarnation from 0) is
// alive everywhere again with a fresh incarnation; a full restart of all
// members but one heals; a member started before its seed joins through
// retryJoin once the seed comes up. Each bound is derived from the timings.
import test from "ava";
import { lanProfile, retryJoin } from "@locker/membership";
import { SimCluster, type SimNode } from "./membership-cluster.js";

const c0 = lanProfile;

/**
 * A refutation or a new alive spreads like any update: a member gossips it to
 * gossipNodes others every gossip interval, so it reaches n members in about
 * log_g(n) rounds; allow twice that plus one round, and a probe interval for
 * the restarted member's own first contacts.
 */
function spreadBoundMs(n: number): number {
  const rounds = Math.ceil(Math.log(n) / Math.log(c0.gossipNodes)) + 1;
  return 2 * rounds * c0.gossipIntervalMs + c0.probeIntervalMs;
}

function aliveEverywhere(nodes: SimNode[], name: string, minIncarnation: number, address: string): boolean {
  return nodes.every((o) => {
    if (o.name === name) return true;
    const m = o.m.member(name);
    return m?.state === "alive" && m.incarnation >= minIncarnation && m.address === address;
  });
}

for (const when of ["before anyone noticed", "after it was declared dead", "after it left"] as const) {
  test(`a member restarted under its name and address ${when} is alive everywhere again with a fresh incarnation within the spread bound`, async (t) => {
    const n = 10;
    const c = new SimCluster({ seed: when.length * 7 });
    const nodes = await c.start(n);
    t.not(c.timeUntil(() => c.converged(), 30_000), undefined);
    // Give it an incarnation above 0, as a long-running member has.
    const victim = nodes[4]!;
    for (let i = 0; i < 3; i++) victim.m.updateMeta({ v: i });
    c.clock.runFor(3_000);
    const others = nodes.filter((x) => x !== victim);
    if (when === "after it left") await c.settle([victim.m.leave()], 10_000);
    c.crash(victim.name);
    if (when !== "before anyone noticed") {
      const gone = when === "after it left" ? "left" : "dead";
      t.not(c.timeUntil(() => others.every((o) => o.m.member(victim.name)?.state === gone), 60_000), undefined);
    }
    const held = Math.max(...others.map((o) => o.m.member(victim.name)!.incarnation));
    const again = c.restart(victim.name);
    const t0 = c.clock.now();
    await c.settle([again.m.bootstrap([nodes[0]!.address])], 10_000);
    const live = [...others, again];
    const took = c.timeUntil(() => aliveEverywhere(live, victim.name, held + 1, victim.address), 60_000);
    const bound = spreadBoundMs(n);
    t.log(`${when}: others held incarnation ${held}; alive everywhere at ${again.m.localMember().incarnation} after ${took === undefined ? "never" : c.clock.now() - t0} ms (bound ${bound} ms)`);
    t.not(took, undefined);
    t.true(c.clock.now() - t0 <= bound);
    t.true(again.m.localMember().incarnation > held, "outbid its old incarnation");
    t.deepEqual(live.flatMap((x) => x.conflicts), [], "a restart at the same address is not a conflict");
    c.clock.runFor(5_000);
    t.true(c.converged(live));
    for (const x of live) x.m.close();
  });
}

for (const quick of [true, false]) {
  test(`a full restart of all members but one heals (${quick ? "restarted at once" : "restarted after the survivor held them dead"}), the seed restarted without seeds`, async (t) => {
    const n = 5;
    const c = new SimCluster({ seed: quick ? 81 : 82 });
    const nodes = await c.start(n);
    t.not(c.timeUntil(() => c.converged(), 30_000), undefined);
    const survivor = nodes[n - 1]!;
    for (const x of nodes.slice(0, n - 1)) c.crash(x.name);
    if (!quick) t.not(c.timeUntil(() => nodes.slice(0, n - 1).every((x) => survivor.m.member(x.name)?.state === "dead"), 60_000), undefined);
    const restarted = nodes.slice(0, n - 1).map((x) => c.restart(x.name));
    const t0 = c.clock.now();
    // As the README's commands: the seed starts alone, the others join through it; nobody names the survivor.
    await c.settle(restarted.map((x, i) => x.m.bootstrap(i === 0 ? [] : [restarted[0]!.address])), 10_000);
    const all = [...restarted, survivor];
    const healed = c.timeUntil(() => c.converged(all), 120_000);
    // Held alive, the survivor probes each new process once per round of n−1 probe intervals; one that still
    // does not know it at the second ping asks it for its state. Held dead, its reconnect tries one every
    // reconnectIntervalMs.
    const bound = (quick ? 2 * (n - 1) * c0.probeIntervalMs : c0.reconnectIntervalMs) + spreadBoundMs(n);
    const tookMs = c.clock.now() - t0;
    t.log(`healed after ${healed === undefined ? "never" : tookMs} ms (bound ${bound} ms); survivor sees ${survivor.m.members().map((m) => `${m.name}@${m.incarnation}:${m.state}`).join(" ")}`);
    t.not(healed, undefined);
    t.true(tookMs <= bound);
    for (const x of all) x.m.close();
  });
}

test("a member started before its seed joins through retryJoin once the seed comes up, within the backoff wait", async (t) => {
  const c = new SimCluster({ seed: 91 });
  const early = c.add("m1");
  const attempts: number[] = [];
  const rj = retryJoin({
    membership: early.m, addresses: ["m0:7946"], clock: c.net.nodeClock(early.address), random: c.random.fork(),
    onAttempt: () => attempts.push(c.clock.now()),
  });
  await c.run(20_000); // the seed is not up for 20 s
  const failures = rj.failures;
  t.true(failures >= 3, `tried ${failures} times while the seed was down`);
  const seed = c.add("m0");
  await c.settle([seed.m.bootstrap([])], 1_000);
  const up = c.clock.now();
  const answered = await c.settle([rj.done], 120_000);
  const joinedMs = c.clock.now() - up;
  // The next attempt comes within the current backoff wait (jitter ±20 %), and a join attempt takes a round trip.
  const waitMs = 1.2 * Math.min(30_000, 1000 * 2 ** (failures - 1)) + c0.joinRetryIntervalMs;
  t.log(`${failures} failed attempts before the seed came up (at ${attempts.map((a) => (a / 1000).toFixed(1)).join(", ")} s); joined ${joinedMs} ms after it (bound ${waitMs} ms)`);
  t.deepEqual(answered, [1]);
  t.true(joinedMs <= waitMs);
  c.clock.runFor(3_000);
  t.true(early.m.isAlive("m0") && seed.m.isAlive("m1"));
  early.m.close();
  seed.m.close();
});
