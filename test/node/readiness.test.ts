import test from "ava";
import { readiness } from "../../src/node/readiness.js";
import { advertisedReadiness } from "../../src/node/node.js";

const up = (...names: string[]) => (n: string) => names.includes(n);

test("ready with a majority of voters up and no quiet period", (t) => {
  t.deepEqual(readiness({ self: "a", voters: ["a", "b", "c"], isUp: up("b"), quietRemainingMs: 0 }), { ready: true });
});

test("no quorum names the unreachable voters", (t) => {
  const r = readiness({ self: "a", voters: ["a", "b", "c"], isUp: up(), quietRemainingMs: 0 });
  t.false(r.ready);
  t.is(r.reason, "no quorum: 1 of 3 voters alive (unreachable: b, c)");
});

test("a lone voter in its quiet period says so, with the time left — not '0 of 1 alive'", (t) => {
  const r = readiness({ self: "a", voters: ["a"], isUp: up(), quietRemainingMs: 41_200 });
  t.false(r.ready);
  t.is(r.reason, "quiet period: this voter restarted and votes again in 42 s");
});

test("a quiet voter with both others up is ready: the cluster serves through them", (t) => {
  t.true(readiness({ self: "a", voters: ["a", "b", "c"], isUp: up("b", "c"), quietRemainingMs: 10_000 }).ready);
  t.false(readiness({ self: "a", voters: ["a", "b", "c"], isUp: up("b"), quietRemainingMs: 10_000 }).ready);
});

test("bootstrapping says what it waits for", (t) => {
  t.deepEqual(readiness({ bootstrapping: "2 of 3 expected members visible", self: "a", voters: [], isUp: up(), quietRemainingMs: 0 }), {
    ready: false,
    reason: "bootstrapping: 2 of 3 expected members visible",
  });
});

test("the readiness a node advertises to the others drops countdowns and attempt numbers, so it changes only with the state", (t) => {
  t.deepEqual(advertisedReadiness({ ready: true }), { ok: true });
  const a = advertisedReadiness(readiness({ self: "n1", voters: ["n1"], isUp: () => true, quietRemainingMs: 42_000, quietNote: " (a single voter has no other voter to recover from)" }));
  const b = advertisedReadiness(readiness({ self: "n1", voters: ["n1"], isUp: () => true, quietRemainingMs: 41_000, quietNote: " (a single voter has no other voter to recover from)" }));
  t.deepEqual(a, b);
  t.deepEqual(a, { ok: false, why: "quiet period: this voter restarted and votes again (a single voter has no other voter to recover from)" });
  const c = advertisedReadiness({ ready: false, reason: `no quorum: ${"x".repeat(500)}` });
  t.true(c.why!.length <= 160);
});
