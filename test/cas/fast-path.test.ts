// The one-round-trip fast path on the pure cores: a proposer that made the
// last change skips prepare; anyone else's round in between sends it back to
// both phases, and nothing is lost either way.
import test from "ava";
import { peekVerdict, type CasOp } from "../../src/cas/proposer.js";
import { encodeValue } from "../../src/cas/value.js";
import { PureCluster } from "./pure-harness.js";

const v = encodeValue;
const V = ["a1", "a2", "a3"];

test("second change of a quiet key by the same node: accept only (one round trip)", (t) => {
  const c = new PureCluster(V);
  const first = c.operate("p", "k", { kind: "lock", value: v("x"), leaseMs: 5000 });
  t.is(first.outcome?.kind, "done");
  t.deepEqual(first.delivered, { prepare: 3, accept: 3 });
  const second = c.operate("p", "k", { kind: "update", expected: v("x"), value: v("y") });
  t.is(second.outcome?.kind, "done");
  t.deepEqual(second.delivered, { prepare: 0, accept: 3 }, "no prepare: 3 accepts, one round trip");
  t.is(second.rounds, 1);
  const third = c.operate("p", "k", { kind: "release", value: v("y") });
  t.deepEqual(third.delivered, { prepare: 0, accept: 3 });
  const fourth = c.operate("p", "k", { kind: "lock", value: v("z"), leaseMs: 5000 });
  t.deepEqual(fourth.delivered, { prepare: 0, accept: 3 });
  t.is(fourth.outcome?.kind, "done");
  if (first.outcome?.kind === "done" && fourth.outcome?.kind === "done") {
    t.true(fourth.outcome.result.record!.token > first.outcome.result.record!.token);
  }
});

test("another proposer's round in between: the fast path is refused and falls back safely", (t) => {
  const c = new PureCluster(V);
  c.operate("p", "k", { kind: "lock", value: v("x"), leaseMs: 5000 });
  // q reads (a prepare at a higher ballot) — p's promise is gone on a majority.
  const r = c.operate("q", "k", { kind: "read" });
  t.is(r.outcome?.kind, "done");
  const upd = c.operate("p", "k", { kind: "update", expected: v("x"), value: v("y") });
  t.is(upd.outcome?.kind, "done");
  t.is(upd.rounds, 2, "fast round refused, then both phases");
  const check = c.operate("q", "k", { kind: "read" });
  if (check.outcome?.kind === "done") t.deepEqual(check.outcome.result.record?.value, v("y"));
  else t.fail();
});

test("a lost promise on one acceptor still lets the fast path through a majority", (t) => {
  const c = new PureCluster(V);
  c.operate("p", "k", { kind: "lock", value: v("x"), leaseMs: 5000 });
  // q prepares on a3 only (its round then fails): a3 promised q's higher ballot.
  const q = c.operate("q", "k", { kind: "read" }, { reach: (_ph, voter) => voter === "a3" });
  t.not(q.outcome?.kind, "done");
  const upd = c.operate("p", "k", { kind: "update", expected: v("x"), value: v("y") });
  t.is(upd.outcome?.kind, "done");
  t.is(upd.rounds, 1);
  t.deepEqual(upd.delivered, { prepare: 0, accept: 3 });
});

test("failed checks are answered only after a write-back on the fast path, and keep it", (t) => {
  const c = new PureCluster(V);
  c.operate("p", "k", { kind: "lock", value: v("x"), leaseMs: 5000 });
  const op: CasOp = { kind: "lock", value: v("again"), leaseMs: 5000 };
  const r = c.operate("p", "k", op);
  t.is(r.outcome?.kind, "failed");
  t.deepEqual(r.delivered, { prepare: 0, accept: 3 });
  const r2 = c.operate("p", "k", op);
  t.deepEqual(r2.delivered, { prepare: 0, accept: 3 });
});

test("the fast path never resurrects a lease its cache thinks expired early", (t) => {
  const c = new PureCluster(V);
  const l = c.operate("p", "k", { kind: "lock", value: v("x"), leaseMs: 100 });
  t.is(l.outcome?.kind, "done");
  c.advance(99);
  const u = c.operate("p", "k", { kind: "update", expected: v("x"), value: v("y") });
  t.is(u.outcome?.kind, "done", "still live at 99 ms");
  c.advance(1);
  const r = c.operate("q", "k", { kind: "read" });
  t.is(r.outcome?.kind, "done");
  if (r.outcome?.kind === "done") t.is(r.outcome.result.record, null, "the carried lease ended at 100 ms");
});

test("peek verdict: held only when a quorum agrees on one live accepted state", (t) => {
  const b1 = { c: 10, node: "a" };
  const b2 = { c: 11, node: "b" };
  const rec = { value: v("x"), leaseMs: 1000, token: 10 };
  const r = (accepted: typeof b1 | null, record: typeof rec | null, lapsed = false) => ({ accepted, record, lapsed, recvAt: 0 });
  t.truthy(peekVerdict([r(b1, rec), r(b1, rec)], 2, 500));
  t.is(peekVerdict([r(b1, rec)], 2, 500), null, "fewer than a quorum");
  t.is(peekVerdict([r(b1, rec), r(b2, rec)], 2, 500), null, "different ballots");
  t.is(peekVerdict([r(b1, rec), r(b1, null, true)], 2, 500), null, "lapsed somewhere");
  t.is(peekVerdict([r(b1, rec), r(b1, rec)], 2, 1500), null, "the lease ran out");
  t.is(peekVerdict([r(null, null), r(null, null)], 2, 0), null, "never written");
});
