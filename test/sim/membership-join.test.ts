// 100 members join through one seed on the simulated network; every member
// must see all 100 alive within a bound derived from the protocol's parameters.
import test from "ava";
import { lanProfile, retransmitLimit } from "@locker/membership";
import { SimCluster, type SimNode } from "./membership-cluster.js";

test("100 members join through one seed and all see 100 alive within the derived bound", async (t) => {
  const n = 100;
  const c = new SimCluster({ seed: 11, profile: "lan" });
  const nodes: SimNode[] = [];
  for (let i = 0; i < n; i++) nodes.push(c.add(`m${i}`));
  const seed = nodes[0]!;
  // All 99 join at the same instant through the one seed: the worst case for the seed's queue.
  const joins = nodes.map((node, i) => node.m.bootstrap(i === 0 ? [] : [seed.address]));
  const t0 = c.clock.now();
  await c.settle(joins, 10_000);
  const joinedMs = c.clock.now() - t0;

  // Derived bound. Each joiner's push-pull with the seed makes the seed queue an
  // alive update per joiner. A member forwards each update L = retransmitLimit
  // times, gossiping to g members every gossip interval with U updates per
  // datagram, so it has pushed its whole queue (≤ n updates) out L times within
  // ceil(n·L / (g·U)) gossip rounds. Each of those n·L sends lands on a random
  // member, so a member misses a given update with probability ≈ e^(−L)
  // (L = 12 at n = 100: 6·10⁻⁶); we allow two such drain periods (a member first
  // has to receive an update before it forwards it) plus one probe interval.
  const c0 = lanProfile;
  const L = retransmitLimit(c0.retransmitMult, n);
  const updateBytes = 34; // an alive update: [0, "m42", "m42:7946", inc, null]
  const U = Math.floor((1400 - 64) / updateBytes);
  const drainRounds = Math.ceil((n * L) / (c0.gossipNodes * U));
  const boundMs = 2 * drainRounds * c0.gossipIntervalMs + c0.probeIntervalMs;

  const convergedAfter = c.timeUntil(() => c.converged(nodes), 60_000);
  t.log(`joined (all bootstrap() resolved) after ${joinedMs} ms; L=${L} U=${U} drainRounds=${drainRounds}; bound ${boundMs} ms; all 100 saw 100 alive after ${convergedAfter === undefined ? "never" : joinedMs + convergedAfter} ms`);
  t.not(convergedAfter, undefined, "the cluster never converged");
  t.true(joinedMs + convergedAfter! <= boundMs, `converged after ${joinedMs + convergedAfter!} ms, bound ${boundMs} ms`);
  for (const node of nodes) t.is(node.m.members().filter((m) => m.state === "alive").length, n - 1);
  const malformed = nodes.reduce((s, node) => s + node.m.stats().malformed, 0);
  t.is(malformed, 0);
  for (const node of nodes) node.m.close();
});

test("a seed replays exactly: two runs with 5% loss give the same event trace", async (t) => {
  const trace = async (): Promise<string[]> => {
    const c = new SimCluster({ seed: 77, profile: "lan", faults: { lossRate: 0.05, minDelayMs: 0.2, maxDelayMs: 5 } });
    const nodes = await c.start(20);
    c.clock.runFor(30_000);
    c.crash("m5");
    c.clock.runFor(60_000);
    const lines = nodes.flatMap((x) => x.events.map(({ at, e }) => `${at.toFixed(3)} ${x.name} ${e.type} ${e.member.name}@${e.member.incarnation}`));
    for (const x of nodes) x.m.close();
    return lines;
  };
  const a = await trace();
  const b = await trace();
  t.true(a.length > 400);
  t.deepEqual(a, b);
});
