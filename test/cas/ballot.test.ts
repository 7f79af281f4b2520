// Ballots and the hybrid logical clock: a total order, ticks above everything
// seen, tokens that follow the counter order.
import test from "ava";
import fc from "fast-check";
import { compareBallots, HybridLogicalClock, HLC_TICKS_PER_MS, maxBallot, tokenOf } from "../../src/cas/ballot.js";

const ballot = fc.record({ c: fc.nat({ max: 1000 }), node: fc.constantFrom("a", "b", "c", "ab") });

test("compareBallots is a total order", (t) => {
  fc.assert(
    fc.property(ballot, ballot, ballot, (a, b, c) => {
      const ab = compareBallots(a, b);
      if (ab !== -compareBallots(b, a) && !(ab === 0 && compareBallots(b, a) === 0)) return false;
      if (ab === 0 && (a.c !== b.c || a.node !== b.node)) return false;
      if (ab <= 0 && compareBallots(b, c) <= 0 && compareBallots(a, c) > 0) return false;
      return true;
    }),
    { numRuns: 2000, seed: 1 },
  );
  t.is(compareBallots(maxBallot(null, { c: 1, node: "a" })!, { c: 1, node: "a" }), 0);
  t.is(maxBallot({ c: 2, node: "a" }, { c: 2, node: "b" })!.node, "b");
});

test("the HLC ticks strictly upward, above every observed counter, near wall time", (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.record({ wall: fc.integer({ min: 0, max: 1e6 }) }), fc.record({ seen: fc.integer({ min: 0, max: 2e9 }) })), { maxLength: 200 }),
      (events) => {
        const h = new HybridLogicalClock();
        let last = -1;
        let maxSeen = -1;
        for (const e of events) {
          if ("seen" in e) {
            // A counter implausibly far ahead of the last tick's wall time is refused (ballot-bounds.test.ts).
            if (h.observe(e.seen)) maxSeen = Math.max(maxSeen, e.seen);
            continue;
          }
          const c = h.tick(e.wall);
          if (c <= last || c <= maxSeen || c < e.wall * HLC_TICKS_PER_MS) return false;
          last = c;
        }
        return true;
      },
    ),
    { numRuns: 1000, seed: 2 },
  );
  t.pass();
});

test("tokens are the counters as bigints and keep their order", (t) => {
  t.is(tokenOf(1_740_800_000_000_000), 1_740_800_000_000_000n);
  t.true(tokenOf(5) < tokenOf(6));
});
