// When an operation cannot finish, the proposer tells "nothing happened"
// (no_quorum, contention) from "it may have happened" (timeout): a change
// counts as possibly landed unless every voter asked refused it.
import test from "ava";
import fc from "fast-check";
import { Acceptor } from "../../src/cas/acceptor.js";
import { compareBallots, type Ballot } from "../../src/cas/ballot.js";
import type { CasRequest } from "../../src/cas/messages.js";
import { encodeValue } from "../../src/cas/value.js";
import { PureCluster } from "./pure-harness.js";

const lock = (v: string) => ({ kind: "lock" as const, value: encodeValue(v), leaseMs: 1000 });

test("prepare short of a majority: no change was sent (no_quorum)", (t) => {
  const c = new PureCluster(["a1", "a2", "a3"]);
  const r = c.newRound("p", "k", lock("x"));
  const run = c.drive(r, { reach: (_ph, v) => v === "a1" });
  t.is(run.outcome?.kind, "no_quorum");
  t.false(r.writeMayHaveLanded);
});

test("accept lost on the way to a majority: the change may have landed (timeout)", (t) => {
  const c = new PureCluster(["a1", "a2", "a3"]);
  const r = c.newRound("p", "k", lock("x"));
  const run = c.drive(r, { reach: (ph, v) => ph === "prepare" || v === "a1" });
  t.is(run.outcome?.kind, "no_quorum");
  t.true(r.writeMayHaveLanded);
});

test("accept refused by every voter: it landed nowhere, so a retry starts clean", (t) => {
  const c = new PureCluster(["a1", "a2", "a3"]);
  const r = c.newRound("p", "k", lock("x"));
  // Drive by hand: promises from all, then q prepares higher everywhere before p's accepts arrive.
  let out = r.start(c.now);
  const prepares = out;
  out = [];
  for (const o of prepares) out.push(...r.onReply(o.to, c.acceptors.get(o.to)!.handle(o.msg, c.now).reply as never, c.now, "prepare"));
  const q = c.newRound("q", "k", { kind: "read" });
  for (const o of q.start(c.now)) c.acceptors.get(o.to)!.handle(o.msg, c.now);
  for (const o of out) r.onReply(o.to, c.acceptors.get(o.to)!.handle(o.msg, c.now).reply as never, c.now, "accept");
  t.is(r.outcome?.kind, "conflict");
  t.false(r.writeMayHaveLanded, "all three refused");
});

test("a retry that finds the key moved past its possibly-landed change reports unknown, not a check failure", (t) => {
  const c = new PureCluster(["a1", "a2", "a3"]);
  // p's lock lands on a1 only.
  const r1 = c.newRound("p", "k", lock("p"));
  c.drive(r1, { reach: (ph, v) => ph === "prepare" || v === "a1" });
  t.true(r1.writeMayHaveLanded);
  // q locks through a2+a3 (never seeing p's write) — then p retries.
  t.is(c.operate("q", "k", lock("q"), { reach: (_ph, v) => v !== "a1" }).outcome?.kind, "done");
  const r2 = c.newRound("p", "k", lock("p"), { ownWrites: [r1.sentWrite!] });
  t.is(c.drive(r2).outcome?.kind, "superseded");
});

test("a retry that sees nothing at or above its earlier change re-evaluates, and answers only through a write", (t) => {
  const c = new PureCluster(["a1", "a2", "a3"]);
  c.operate("q", "k", lock("q"));
  // p's ballots must be above q's promised next ballot (as after one refused round).
  c.hlc("p").observe(c.hlc("q").current + 10);
  // p's update lands on a1 only.
  const r1 = c.newRound("p", "k", { kind: "update", expected: encodeValue("q"), value: encodeValue("p") });
  c.drive(r1, { reach: (ph, v) => ph === "prepare" || v === "a1" });
  t.true(r1.writeMayHaveLanded);
  // Retry through a2+a3: they only know q's lock, below p's change.
  const r2 = c.newRound("p", "k", { kind: "update", expected: encodeValue("q"), value: encodeValue("p") }, { ownWrites: [r1.sentWrite!] });
  const run = c.drive(r2, { reach: (_ph, v) => v !== "a1" });
  t.is(run.outcome?.kind, "done");
  t.is(run.delivered.accept, 2);
});

/** The acceptor's promises never go down, and it never accepts below what it promised. */
test("acceptor invariants under random requests (property)", (t) => {
  const ballot = fc.record({ c: fc.integer({ min: 1, max: 30 }), node: fc.constantFrom("a", "b", "c") });
  const req = fc.oneof(
    fc.record({ kind: fc.constant("prepare" as const), b: ballot, dt: fc.integer({ min: 0, max: 50 }) }),
    fc.record({ kind: fc.constant("accept" as const), b: ballot, next: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }), lease: fc.integer({ min: 1, max: 100 }), dt: fc.integer({ min: 0, max: 50 }) }),
  );
  fc.assert(
    fc.property(fc.array(req, { maxLength: 60 }), (reqs) => {
      const a = new Acceptor({ configVersion: 1, quietUntil: 0, gcGraceMs: 200, maxKeys: 10 });
      let now = 0;
      let lastPromised: Ballot | null = null;
      for (const r of reqs) {
        now += r.dt;
        a.tick(now);
        const before = a.inspect("k");
        const msg: CasRequest =
          r.kind === "prepare"
            ? { type: "prepare", cfg: 1, key: "k", ballot: r.b }
            : { type: "accept", cfg: 1, key: "k", ballot: r.b, record: { value: new Uint8Array([1]), leaseMs: r.lease, token: 1 }, nextC: r.next === null ? null : r.b.c + r.next, origin: null };
        const { reply } = a.handle(msg, now);
        const after = a.inspect("k");
        const promised = after?.promised ?? a.floor;
        // Promises (or the forgotten floor) never decrease.
        if (lastPromised && promised && compareBallots(promised, lastPromised) < 0) return false;
        if (lastPromised && !promised) return false;
        lastPromised = promised;
        if (after?.accepted && after.promised && compareBallots(after.accepted, after.promised) > 0) return false;
        // An accept below the promise before it is refused (unless it repeats the accepted ballot).
        const prior = before?.promised ?? null;
        if (r.kind === "accept" && prior && compareBallots(r.b, prior) < 0 && !(before?.accepted && compareBallots(before.accepted, r.b) === 0)) {
          if (reply.type !== "nack") return false;
        }
      }
      return true;
    }),
    { numRuns: 2000, seed: 11 },
  );
  t.pass();
});
