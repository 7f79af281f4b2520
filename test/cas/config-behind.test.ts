// A round refused by voters still on the older configuration (a change being
// spread) is retried within the budget: they run the new one a moment later.
// Found in CI: a write coordinated by a just-promoted voter answered
// "fewer than a majority of voters answered (2 refused: … other configuration)".
import test from "ava";
import { createMemoryLockers } from "../../src/locker-cluster.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { settle } from "../support/virtual-time.js";

test("voters one configuration behind: the round waits for them instead of answering no_quorum", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(9) });
  const { lockers } = createMemoryLockers({ net, count: 3, random: new SeededRandom(10), options: { maxLeaseMs: 10_000 } });
  const voters = lockers[0]!.cas.voters;
  t.is(lockers[0]!.applyConfiguration(2, voters), "unchanged");
  // The others learn version 2 only 40 ms later, as the coordinator's spread reaches them.
  clock.setTimer(40, () => {
    for (const l of lockers.slice(1)) l.applyConfiguration(2, voters);
  });
  const r = await settle(clock, lockers[0]!.lock("k", "a", { leaseMs: 1000, timeoutMs: 2000 }));
  t.is(r.value, "a");
  t.true(lockers[0]!.cas.stats.conflicts > 0, "it retried");
  for (const l of lockers) await l.close();
});
