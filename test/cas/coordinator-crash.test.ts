// A coordinator killed mid-round — after prepare, after some accepts, after
// all accepts but before reading a reply — never leaves a key half-held: the
// next operations, through any majority, see one consistent state.
import test from "ava";
import type { CasOp } from "../../src/cas/proposer.js";
import { encodeValue } from "../../src/cas/value.js";
import { PureCluster } from "./pure-harness.js";

const V = ["a1", "a2", "a3"];
const QUORUMS = [
  ["a1", "a2"],
  ["a2", "a3"],
  ["a1", "a3"],
];
const lock = (v: string, leaseMs = 10_000): CasOp => ({ kind: "lock", value: encodeValue(v), leaseMs });
const read: CasOp = { kind: "read" };

function only(q: readonly string[]) {
  return { reach: (_phase: "prepare" | "accept", voter: string) => q.includes(voter) };
}

/** Reads through `first`, then through every majority; returns what each saw. */
function readsThrough(c: PureCluster, first: readonly string[]): Array<string | undefined> {
  const seen: Array<string | undefined> = [];
  for (const q of [first, ...QUORUMS]) {
    const r = c.operate("reader", "k", read, only(q));
    if (r.outcome?.kind !== "done") throw new Error(`read failed: ${JSON.stringify(r.outcome)}`);
    const rec = r.outcome.result.record;
    seen.push(rec ? Buffer.from(rec.value).toString("hex") : undefined);
  }
  return seen;
}

const KILL_POINTS: Array<[string, readonly string[]]> = [
  ["after prepare", []],
  ["after one accept", ["a1"]],
  ["after one accept (other voter)", ["a3"]],
  ["after all accepts, before the reply", ["a1", "a2", "a3"]],
];

for (const [name, acceptsTo] of KILL_POINTS) {
  for (const first of QUORUMS) {
    test(`killed ${name}; next read through ${first.join("+")}: one consistent state`, (t) => {
      const c = new PureCluster(V);
      const dead = c.operate("dead", "k", lock("dead"), { killAtAccept: acceptsTo });
      t.true(dead.killed);
      c.advance(1);
      const seen = readsThrough(c, first);
      // The dead coordinator's lock had an unknown outcome, so it may take
      // effect later (linearizability allows that) — but at most once: reads
      // never flip back and forth, and after the first read that wrote the
      // state back, every majority agrees.
      const flips = seen.filter((s, i) => i > 0 && s !== seen[i - 1]).length;
      t.true(flips <= 1 && (flips === 0 || seen[0] === undefined), JSON.stringify(seen));
      t.true(seen.slice(1).every((s) => s === seen[seen.length - 1]) || flips === 1, JSON.stringify(seen));
      const last = seen[seen.length - 1];
      t.true(seen.slice(seen.indexOf(last)).every((s) => s === last), "stable once it changed");
      const held = last !== undefined;
      if (acceptsTo.length === 0) t.false(held, "nothing was accepted: the key is free");
      if (acceptsTo.length === 3) t.true(seen.every((s) => s !== undefined), "accepted everywhere: the lock stands from the first read");
      // A lock by someone else agrees with the reads, through every majority.
      for (const q of QUORUMS) {
        const other = c.operate("other", "k", lock("other"), only(q));
        if (held) {
          t.is(other.outcome?.kind, "failed");
        } else {
          // The first succeeds; the later ones see it.
          t.true(other.outcome?.kind === "done" || (other.outcome?.kind === "failed" && other.outcome.code === "locked"));
        }
      }
      const final = readsThrough(c, ["a1", "a2"]);
      t.true(final.every((s) => s === final[0]));
      t.is(final[0] === undefined, false, "someone holds it in the end");
    });
  }
}

test("a half-written lock never shows up after the key was rewritten past it", (t) => {
  const c = new PureCluster(V);
  // a1 alone accepts "dead"; a2+a3 then choose "live"; later a1's stale record must not win.
  c.operate("dead", "k", lock("dead"), { killAtAccept: ["a1"] });
  const live = c.operate("live", "k", lock("live"), only(["a2", "a3"]));
  t.is(live.outcome?.kind, "done");
  for (const q of QUORUMS) {
    const r = c.operate("reader", "k", read, only(q));
    t.is(r.outcome?.kind, "done");
    if (r.outcome?.kind === "done") t.deepEqual(r.outcome.result.record?.value, encodeValue("live"));
  }
});

test("a retried operation recognises its own half-written lock and reports success", (t) => {
  const c = new PureCluster(V);
  // The accept of the first round reaches only a1; the operation retries (same op, own writes remembered).
  let first = true;
  const policy = {
    reach: (phase: "prepare" | "accept", voter: string) => {
      if (phase === "accept" && first) return voter === "a1";
      return true;
    },
  };
  const r1 = c.newRound("p", "k", lock("mine"));
  const run1 = c.drive(r1, policy);
  first = false;
  t.is(run1.outcome?.kind, "no_quorum");
  t.truthy(r1.sentWrite);
  // Second round through a1+a2 sees its own write as the highest and finishes it.
  const r2 = c.newRound("p", "k", lock("mine"), { ownWrites: [r1.sentWrite!] });
  const run2 = c.drive(r2, only(["a1", "a2"]));
  t.is(run2.outcome?.kind, "done");
  if (run2.outcome?.kind === "done") {
    t.deepEqual(run2.outcome.result.record?.value, encodeValue("mine"));
    t.is(run2.outcome.result.record?.token, r1.params.ballot.c, "the token is the ballot that created it");
  }
});
