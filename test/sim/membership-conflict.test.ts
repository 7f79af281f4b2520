// Name conflicts on the simulated network (memberlist's conflict handling):
// a second live node under a live member's name, at another address, never
// flips the record; the members that see it report a conflict with both
// addresses, and the newcomer learns it is the duplicate. A restart elsewhere
// after the old record died is no conflict.
import test from "ava";
import { SimCluster } from "./membership-cluster.js";

test("a duplicate name at another address: the record is not flipped, members report the conflict, the newcomer is told it is the duplicate", async (t) => {
  const c = new SimCluster({ seed: 101 });
  const nodes = await c.start(5);
  t.not(c.timeUntil(() => c.converged(), 30_000), undefined);
  const original = nodes[2]!;
  const t0 = c.clock.now();
  const dup = c.add("m2", {}, "impostor:7946");
  await c.settle([dup.m.bootstrap([nodes[0]!.address])], 10_000);
  c.clock.runFor(5_000);
  const others = nodes.filter((x) => x !== original);
  for (const o of others) t.is(o.m.member("m2")?.address, "m2:7946", `${o.name} kept the original address`);
  for (const o of others) t.is(o.m.member("m2")?.state, "alive");
  const seen = others.filter((o) => o.conflicts.some(({ c: x }) => x.name === "m2" && x.existing === "m2:7946" && x.other === "impostor:7946" && !x.self));
  t.log(`members that reported the conflict: ${seen.map((o) => o.name).join(", ")}; counted ${others.map((o) => o.m.stats().conflicts).join("/")}; the duplicate: ${JSON.stringify(dup.conflicts.map((x) => x.c))}`);
  t.true(seen.length >= 1, "the seed at least saw the claim");
  t.true(seen.every((o) => o.m.stats().conflicts >= 1));
  t.true(dup.conflicts.some(({ c: x }) => x.self && x.name === "m2" && x.existing === "m2:7946" && x.other === "impostor:7946"), "the newcomer learns it is the duplicate (existing: the live holder's address)");
  t.false(original.conflicts.some(({ c: x }) => x.self), "the original is never told it is the duplicate");
  // The app stops the duplicate (the agent exits non-zero); nothing was disturbed.
  dup.m.close();
  c.net.crash(dup.address);
  c.clock.runFor(10_000);
  t.true(c.converged(nodes), "the original cluster is whole and undisturbed");
  t.deepEqual(nodes.flatMap((o) => o.events.filter(({ at, e }) => at >= t0 && e.member.name === "m2").map(({ e }) => `${o.name}: ${e.type}`)), []);
  for (const x of nodes) x.m.close();
});

test("a restart at another address after the old record died is no conflict: the new address is taken everywhere", async (t) => {
  const c = new SimCluster({ seed: 102 });
  const nodes = await c.start(5);
  t.not(c.timeUntil(() => c.converged(), 30_000), undefined);
  c.crash("m3");
  const others = nodes.filter((x) => x.name !== "m3");
  t.not(c.timeUntil(() => others.every((o) => o.m.member("m3")?.state === "dead"), 60_000), undefined);
  const moved = c.add("m3", {}, "m3-new:7946");
  await c.settle([moved.m.bootstrap([nodes[0]!.address])], 10_000);
  const took = c.timeUntil(() => others.every((o) => o.m.member("m3")?.state === "alive" && o.m.member("m3")?.address === "m3-new:7946"), 30_000);
  t.log(`alive at the new address everywhere after ${took} ms`);
  t.not(took, undefined);
  t.deepEqual([...others, moved].flatMap((x) => x.conflicts), []);
  for (const x of [...others, moved]) x.m.close();
});
