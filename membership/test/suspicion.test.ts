import test from "ava";
import fc from "fast-check";
import { remainingSuspicionTime, Suspicion, suspicionTimeoutMs } from "../src/suspicion.js";

test("remainingSuspicionTime matches memberlist's table", (t) => {
  // (confirmations, k, elapsed, min, max) → remaining, from memberlist's suspicion_test.go cases
  const cases: [number, number, number, number, number, number][] = [
    [0, 3, 0, 2000, 30_000, 30_000],
    [1, 3, 2000, 2000, 30_000, 14_000],
    [2, 3, 3000, 2000, 30_000, 4810],
    [3, 3, 4000, 2000, 30_000, -2000],
    [4, 3, 5000, 2000, 30_000, -3000],
    [5, 3, 10_000, 2000, 30_000, -8000],
  ];
  for (const [n, k, elapsed, min, max, want] of cases) t.is(remainingSuspicionTime(n, k, elapsed, min, max), want, `n=${n}`);
});

test("remainingSuspicionTime shrinks with confirmations and never goes below the minimum", (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10 }), (n, k, minMs, mult) => {
      const maxMs = minMs * mult;
      const a = remainingSuspicionTime(n, k, 0, minMs, maxMs);
      const b = remainingSuspicionTime(n + 1, k, 0, minMs, maxMs);
      return b <= a && b >= minMs && a <= maxMs;
    }),
  );
  t.pass();
});

test("suspicionTimeoutMs scales with log10 of the cluster size", (t) => {
  t.is(suspicionTimeoutMs(4, 1, 1000), 4000);
  t.is(suspicionTimeoutMs(4, 10, 1000), 4000);
  t.is(suspicionTimeoutMs(4, 100, 1000), 8000);
  t.is(suspicionTimeoutMs(4, 1000, 1000), 12_000);
});

test("Suspicion counts only new, independent confirmations, up to k", (t) => {
  const s = new Suspicion(3, 1000, 2, 2000, 12_000, "a");
  t.is(s.remainingMs(1000), 12_000);
  t.false(s.confirm("a"), "the suspector itself is no confirmation");
  t.true(s.confirm("b"));
  t.false(s.confirm("b"), "a repeat is no confirmation");
  const afterOne = s.remainingMs(1000);
  t.true(afterOne < 12_000 && afterOne > 2000);
  t.true(s.confirm("c"));
  t.is(s.remainingMs(1000), 2000);
  t.false(s.confirm("d"), "beyond k nothing changes");
  t.is(s.confirmations, 2);
  t.is(s.remainingMs(3000), 0);
});

test("Suspicion with k = 0 runs the minimum", (t) => {
  const s = new Suspicion(0, 0, 0, 500, 500, "a");
  t.false(s.confirm("b"));
  t.is(s.remainingMs(100), 400);
});
