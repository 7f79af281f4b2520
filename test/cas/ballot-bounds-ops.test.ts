// The ballot bounds of an operation (key affinity's forwards, CasNode.execute):
// `atMost` below this node's clock runs nothing and says so; `above` runs
// only with ballots beyond the bound, so the lock's token (its ballot
// counter) is above it; and the bound a forward carries leads both the wall
// clock (plus the allowed skew) and the HLC by the budget.
import test from "ava";
import { isLockerError } from "../../src/errors.js";
import { createMemoryLockers } from "../../src/locker-cluster.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { settle } from "../support/virtual-time.js";

function cluster() {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(3) });
  const { lockers } = createMemoryLockers({ net, count: 3, random: new SeededRandom(4), options: { maxLeaseMs: 10_000 } });
  return { clock, lockers };
}

test("atMost below this node's clock: not run (details ran: false), the key untouched", async (t) => {
  const { clock, lockers } = cluster();
  const e = await settle(clock, lockers[0]!.lock("k", "a", { leaseMs: 1000, ballots: { atMost: 1 } }).then(() => undefined, (err: unknown) => err));
  t.true(isLockerError(e, "unavailable"), String(e));
  t.is((e as { details?: Record<string, unknown> }).details?.["ran"], false);
  t.is(await settle(clock, lockers[1]!.read("k")), undefined);
  for (const l of lockers) await l.close();
});

test("above: the lock's token is above the bound, and the next bound leads the raised HLC by the budget", async (t) => {
  const { clock, lockers } = cluster();
  const cas = lockers[0]!.cas;
  const budgetMs = 1000;
  const cap = cas.forwardBallotCap(budgetMs);
  // The wall term: wall + skew (2 s by default) + budget.
  t.true(cap >= (Math.floor(clock.wallNow()) + 2000 + budgetMs) * 1024);
  const r = await settle(clock, lockers[0]!.lock("k", "a", { leaseMs: 1000, ballots: { above: cap } }));
  t.true(r.token > BigInt(cap), `token ${r.token} above the bound ${cap}`);
  // The HLC term: this node's HLC is now above `cap`, and so the next bound is at least that plus the budget.
  t.true(cas.forwardBallotCap(budgetMs) >= cap + budgetMs * 1024);
  for (const l of lockers) await l.close();
});
