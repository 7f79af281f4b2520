// A 10-member cluster split 6|4: each side declares the other dead; after the
// heal all 10 are alive again on every member.
import test from "ava";
import { lanProfile } from "@locker/membership";
import { SimCluster, type SimNode } from "./membership-cluster.js";

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

/** Dead events whose observer and victim were on the same side of the partition. */
function sameSideDeaths(nodes: SimNode[], sides: SimNode[][]): string[] {
  const sideOf = new Map<string, number>();
  sides.forEach((s, i) => s.forEach((x) => sideOf.set(x.name, i)));
  return nodes.flatMap((o) => o.events.filter(({ e }) => e.type === "dead" && sideOf.get(e.member.name) === sideOf.get(o.name)).map(({ at, e }) => `${o.name} saw ${e.member.name} dead at ${at}`));
}

// The heal comes at different moments: while suspicions run, just as the deaths are
// announced, and well after. Seen on a 5-host LAN before the fix: members on the same
// side shown dead for 99–202 ms after the heal (a death declared on the other side,
// gossiped across), which made the majority answer no_quorum.
// 0 = the moment every member shows the other side dead (as the LAN test heals): the last
// announcements of those deaths are still queued and cross over.
for (const healAfterMs of [0, 3_000, 9_000, 12_000, 40_000]) {
  test(`partition 2|3 healed ${healAfterMs === 0 ? "as soon as each side shows the other dead" : `${healAfterMs / 1000} s after it began`}: nobody ever shows a member of its own side dead, and all heal within the reconnect bound`, async (t) => {
    const results: string[] = [];
    for (const seed of [61, 62, 63, 64, 65, 66]) {
      const c = new SimCluster({ seed, profile: "lan" });
      const nodes = await c.start(5);
      t.not(c.timeUntil(() => c.converged(), 30_000), undefined);
      c.clock.runFor(2_000 + seed * 91);
      const a = nodes.slice(0, 2);
      const b = nodes.slice(2);
      c.net.partition(a.map((x) => x.address), b.map((x) => x.address));
      if (healAfterMs > 0) c.clock.runFor(healAfterMs);
      else {
        const split = (): boolean => a.every((x) => b.every((y) => x.m.member(y.name)?.state === "dead" && y.m.member(x.name)?.state === "dead"));
        t.not(c.timeUntil(split, 120_000, 1), undefined);
      }
      c.net.heal();
      const healedAt = c.clock.now();
      const healMs = c.timeUntil(() => c.converged(nodes), 60_000);
      // Members dead on the other side come back through reconnect (one try per interval per member), gossip
      // to the recently dead, or the buddy pings of a running suspicion; then the refutations spread.
      const bound = lanProfile.reconnectIntervalMs + 2 * lanProfile.probeIntervalMs;
      const lateDeaths = nodes.flatMap((o) => o.events.filter(({ at, e }) => e.type === "dead" && at > healedAt)).length;
      results.push(`seed ${seed}: healed in ${healMs ?? "never"} ms, deaths after the heal ${lateDeaths}`);
      t.deepEqual(sameSideDeaths(nodes, [a, b]), [], `seed ${seed}`);
      t.not(healMs, undefined, `seed ${seed} never healed`);
      t.true(healMs! <= bound, `seed ${seed}: healed in ${healMs} ms, bound ${bound} ms`);
      for (const x of nodes) x.m.close();
    }
    t.log(results.join("; "));
  });
}
