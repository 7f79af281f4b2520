// A 10-member cluster split 6|4: each side declares the other dead; after the
// heal all 10 are alive again on every member.
import test from "ava";
import { SimCluster } from "./membership-cluster.js";

test("partition 6|4: each side declares the other dead, and after the heal all 10 are alive everywhere", async (t) => {
  const c = new SimCluster({ seed: 51, profile: "lan" });
  const nodes = await c.start(10);
  t.not(c.timeUntil(() => c.converged(), 30_000), undefined);
  const a = nodes.slice(0, 6);
  const b = nodes.slice(6);
  c.net.partition(a.map((x) => x.address), b.map((x) => x.address));
  const sidesSplit = (): boolean =>
    a.every((x) => b.every((y) => x.m.member(y.name)?.state === "dead")) && b.every((y) => a.every((x) => y.m.member(x.name)?.state === "dead"));
  const splitMs = c.timeUntil(sidesSplit, 120_000);
  t.not(splitMs, undefined, "the sides did not declare each other dead");
  // Each side keeps itself whole.
  t.true(c.converged(a) && c.converged(b));
  c.clock.runFor(5_000);
  c.net.heal();
  const healMs = c.timeUntil(() => c.converged(nodes), 120_000);
  t.log(`partition 6|4: every member saw the other side dead after ${splitMs} ms; after the heal all 10 alive on every member after ${healMs} ms`);
  t.not(healMs, undefined, "the cluster did not heal");
  for (const x of nodes) t.is(x.m.members().filter((m) => m.state === "alive").length, 9);
  for (const x of nodes) x.m.close();
});
