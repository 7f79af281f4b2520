// Leases at the edge of expiry on the pure cores: acceptors that accepted the
// same record at different times disagree on when it lapses; "absent" is only
// answered once written back, so no later majority can see the lease alive again.
import test from "ava";
import type { CasRequest } from "../../src/cas/messages.js";
import { encodeValue } from "../../src/cas/value.js";
import { PureCluster } from "./pure-harness.js";

const only = (q: string[]) => ({ reach: (_p: "prepare" | "accept", v: string) => q.includes(v) });

test("a late-accepted copy with a later expiry never resurrects a lease already answered absent", (t) => {
  const c = new PureCluster(["a1", "a2", "a3"]);
  // The lock reaches a1 and a2 at t=0; its accept to a3 is delayed by 200 ms (a retry after a partition).
  const round = c.newRound("p", "k", { kind: "lock", value: encodeValue("x"), leaseMs: 100 });
  const run = c.drive(round, {
    reach: (phase, v) => {
      if (phase === "accept" && v === "a3") return false;
      return true;
    },
  });
  t.is(run.outcome?.kind, "done");
  const delayed: CasRequest = { type: "accept", cfg: 1, key: "k", ballot: round.params.ballot, record: { value: encodeValue("x"), leaseMs: 100, token: round.params.ballot.c }, nextC: round.params.nextC, origin: null };
  c.advance(200);
  t.like(c.acceptors.get("a3")!.handle(delayed, c.now).reply, { type: "accepted" });
  // a3 now holds the lease until t=300; a1 and a2 saw it lapse at t=100.
  c.advance(10);
  const r1 = c.operate("q", "k", { kind: "read" }, only(["a1", "a2"]));
  t.is(r1.outcome?.kind, "done");
  if (r1.outcome?.kind === "done") t.is(r1.outcome.result.record, null);
  t.is(r1.delivered.accept, 2, "absent (by lapse) was written back before it was answered");
  // Any majority from now on, including a3 with its longer copy, agrees it is absent.
  for (const q of [["a1", "a3"], ["a2", "a3"], ["a1", "a2"]]) {
    const r = c.operate("q", "k", { kind: "read" }, only(q));
    if (r.outcome?.kind === "done") t.is(r.outcome.result.record, null, q.join("+"));
    else t.fail(JSON.stringify(r.outcome));
  }
  t.is(c.operate("z", "k", { kind: "lock", value: encodeValue("z"), leaseMs: 100 }, only(["a1", "a3"])).outcome?.kind, "done");
});

test("a majority agreeing on a live lease answers without writing", (t) => {
  const c = new PureCluster(["a1", "a2", "a3"]);
  c.operate("p", "k", { kind: "lock", value: encodeValue("x"), leaseMs: 100 });
  c.advance(50);
  const r = c.operate("q", "k", { kind: "read" });
  t.is(r.outcome?.kind, "done");
  t.is(r.delivered.accept, 0, "one round trip for a read of an agreed, live value");
  if (r.outcome?.kind === "done") t.is(r.outcome.result.record?.expiresAt, 100);
});

test("a tombstone agreed by a majority is answered without writing", (t) => {
  const c = new PureCluster(["a1", "a2", "a3"]);
  c.operate("p", "k", { kind: "lock", value: encodeValue("x"), leaseMs: 100 });
  c.operate("p", "k", { kind: "release", value: encodeValue("x") });
  const r = c.operate("q", "k", { kind: "read" });
  t.is(r.delivered.accept, 0);
  if (r.outcome?.kind === "done") t.is(r.outcome.result.record, null);
  else t.fail();
});
