// Property test of the pure cores against a sequential model: random
// operations from several proposers, random message loss, coordinators killed
// mid-round, lease expiry and garbage collection, on 3 and 5 acceptors. Every
// answer must match the model, allowing each unfinished operation to take
// effect later at most once (as linearizability allows); fencing tokens of
// successful locks strictly increase.
import test from "ava";
import fc from "fast-check";
import { bytesEqual, type CasOp, type KnownRecord } from "../../src/cas/proposer.js";
import { encodeValue } from "../../src/cas/value.js";
import { PureCluster } from "./pure-harness.js";

type State = { value: Uint8Array; token: number; expiresAt: number } | null;

interface Step {
  proposer: number;
  op: "lock" | "update" | "extend" | "release" | "read";
  value: number;
  other: number;
  leaseMs: number;
  advanceMs: number;
  /** 0: all delivered; 1: random loss; 2: killed mid-round; 3: replies lost. */
  fault: number;
  lossMask: number;
  killMask: number;
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  proposer: fc.integer({ min: 0, max: 2 }),
  op: fc.constantFrom("lock", "update", "extend", "release", "read"),
  value: fc.integer({ min: 0, max: 2 }),
  other: fc.integer({ min: 0, max: 2 }),
  leaseMs: fc.integer({ min: 10, max: 400 }),
  advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300 }), fc.constant(5000)),
  fault: fc.oneof(fc.constant(0), fc.constant(0), fc.constant(1), fc.constant(2), fc.constant(3)),
  lossMask: fc.integer({ min: 0, max: 31 }),
  killMask: fc.integer({ min: 0, max: 31 }),
});

function toOp(s: Step): CasOp {
  const v = encodeValue(`v${s.value}`);
  switch (s.op) {
    case "lock":
      return { kind: "lock", value: v, leaseMs: s.leaseMs };
    case "update":
      return { kind: "update", expected: encodeValue(`v${s.other}`), value: v };
    case "extend":
      return { kind: "extend", value: v, leaseMs: s.leaseMs };
    case "release":
      return { kind: "release", value: v };
    case "read":
      return { kind: "read" };
  }
}

/** The model's change function: the expected outcome of `op` on `state` at `now` with ballot counter `c`. */
function model(op: CasOp, state: State, now: number, c: number, t0: number): { code: "ok" | "locked" | "mismatch" | "not_found"; after: State } {
  const cur = state && state.expiresAt > now ? state : null;
  switch (op.kind) {
    case "read":
      return { code: "ok", after: cur };
    case "lock":
      return cur ? { code: "locked", after: cur } : { code: "ok", after: { value: op.value, token: c, expiresAt: t0 + op.leaseMs } };
    default: {
      const check = op.kind === "update" ? op.expected : op.value;
      if (!cur) return { code: "not_found", after: null };
      if (!bytesEqual(cur.value, check)) return { code: "mismatch", after: cur };
      if (op.kind === "release") return { code: "ok", after: null };
      if (op.kind === "extend") return { code: "ok", after: { value: cur.value, token: cur.token, expiresAt: t0 + op.leaseMs } };
      return { code: "ok", after: { value: op.value, token: cur.token, expiresAt: cur.expiresAt } };
    }
  }
}

function sameState(a: State, b: KnownRecord | null, now: number): boolean {
  const la = a && a.expiresAt > now ? a : null;
  const lb = b && b.expiresAt > now ? b : null;
  if (!la || !lb) return !la && !lb;
  return bytesEqual(la.value, lb.value) && la.token === lb.token && la.expiresAt === lb.expiresAt;
}

function runHistory(voters: number, steps: Step[]): void {
  const names = Array.from({ length: voters }, (_, i) => `a${i + 1}`);
  const c = new PureCluster(names, { gcGraceMs: 1000 });
  // Possible current states: the model's, or that plus unfinished operations taking effect.
  let candidates: State[] = [null];
  let unfinished: Array<{ op: CasOp; c: number; t0: number }> = [];
  let lastLockToken = -1;
  for (const s of steps) {
    c.advance(s.advanceMs);
    const op = toOp(s);
    const proposer = `p${s.proposer}`;
    const masked = (mask: number) => (_phase: "prepare" | "accept", v: string) => (mask & (1 << names.indexOf(v))) !== 0;
    const run = c.operate(proposer, "k", op, {
      ...(s.fault === 1 ? { reach: (ph: "prepare" | "accept", v: string) => !masked(s.lossMask)(ph, v) } : {}),
      ...(s.fault === 2 ? { killAtAccept: names.filter((_, i) => (s.killMask & (1 << i)) !== 0) } : {}),
      // Replies lost in one phase only (chosen by the mask's parity), so retries can recognise their own writes.
      ...(s.fault === 3 ? { replyLost: (ph: "prepare" | "accept", v: string) => (ph === "accept") === (s.killMask % 2 === 0) && masked(s.lossMask)(ph, v) } : {}),
    });
    const now = c.now;
    const o = run.outcome;
    if (!o || o.kind === "no_quorum" || o.kind === "conflict" || o.kind === "superseded") {
      // Unknown outcome: it may take effect at any later point (once).
      for (const w of run.ownWrites) unfinished.push({ op, c: w.ballot.c, t0: w.t0 });
      continue;
    }
    if (o.kind === "config") throw new Error("unexpected config outcome");
    // Expand candidates with unfinished operations applied in order (each optional).
    let expanded = candidates;
    for (const u of unfinished) {
      const next = [...expanded];
      for (const st of expanded) {
        // It took effect (if at all) when its accept was sent: judged at that time.
        const m = model(u.op, st, u.t0, u.c, u.t0);
        if (m.code === "ok") next.push(m.after);
      }
      expanded = next;
    }
    const observedCode = o.kind === "done" ? "ok" : o.code;
    const observed: KnownRecord | null = o.kind === "done" ? o.result.record : o.current;
    // The operation's effect was computed in the round that wrote it: this
    // one, or an earlier round of the same operation whose write won.
    const ballots = [run.round.params.ballot.c, ...run.ownWrites.map((w) => w.ballot.c)];
    const t0 = o.kind === "done" && o.result.leaseStart !== undefined ? o.result.leaseStart : now;
    const matches = expanded.filter((st) =>
      ballots.some((ballotC) => {
        const m = model(op, st, now, ballotC, t0);
        if (m.code !== observedCode) return false;
        if (o.kind === "failed") return sameState(st, observed, now);
        return sameState(m.after, observed, now);
      }),
    );
    if (matches.length === 0) {
      throw new Error(
        `step ${JSON.stringify(s)} observed ${observedCode} ${JSON.stringify(observed && { ...observed, value: Buffer.from(observed.value).toString() })} at ${now}; candidates ${JSON.stringify(
          expanded.map((x) => x && { v: Buffer.from(x.value).toString(), token: x.token, exp: x.expiresAt }),
        )}`,
      );
    }
    if (op.kind === "lock" && o.kind === "done" && observed) {
      if (!(observed.token > lastLockToken)) throw new Error(`token ${observed.token} after ${lastLockToken}`);
      lastLockToken = observed.token;
    }
    // The observed state is now chosen: it is the model's state.
    candidates = [o.kind === "done" ? (observed ? { ...observed } : null) : observed ? { ...observed } : null];
    unfinished = [];
  }
}

test("3 acceptors: random operations, loss and mid-round kills match the sequential model", (t) => {
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 40 }), (steps) => {
      runHistory(3, steps);
    }),
    { numRuns: 400, seed: 42 },
  );
  t.pass();
});

test("5 acceptors: random operations, loss and mid-round kills match the sequential model", (t) => {
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 40 }), (steps) => {
      runHistory(5, steps);
    }),
    { numRuns: 300, seed: 7 },
  );
  t.pass();
});
