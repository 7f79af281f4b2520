// The history checker must be able to fail: known-bad histories are rejected
// with a readable reason, valid ones (concurrent, timed out, expired) pass, and
// every history generated from the register-with-leases model itself passes.
import test from "ava";
import fc from "fast-check";
import { checkHistory, type HistoryOp, type Outcome, type Verdict, type ViolationKind } from "./checker.js";

const OPTIONS = { grantSlackMs: 20, driftFactor: 0 };

type Spec = Omit<HistoryOp, "id" | "invokeMs" | "responseMs"> & { at: [number, number] };

function history(...specs: Spec[]): HistoryOp[] {
  return specs.map(({ at, ...rest }, id) => ({ id, invokeMs: at[0], responseMs: at[1], ...rest }));
}

const ok = (extra: Omit<Extract<Outcome, { kind: "ok" }>, "kind"> = {}): Outcome => ({ kind: "ok", ...extra });
const fail = (code: "locked" | "mismatch" | "not_found"): Outcome => ({ kind: "fail", code });
const unknown: Outcome = { kind: "unknown", code: "timeout" };

function lock(client: string, value: string, at: [number, number], outcome: Outcome, leaseMs = 100, key = "k"): Spec {
  return { client, key, op: "lock", value, leaseMs, at, outcome };
}
function read(client: string, at: [number, number], value: string | null, key = "k"): Spec {
  return { client, key, op: "read", at, outcome: ok({ value }) };
}
function release(client: string, value: string, at: [number, number], outcome: Outcome, key = "k"): Spec {
  return { client, key, op: "release", value, at, outcome };
}
function update(client: string, expected: string, newValue: string, at: [number, number], outcome: Outcome, key = "k"): Spec {
  return { client, key, op: "update", value: expected, newValue, at, outcome };
}
function extend(client: string, value: string, leaseMs: number, at: [number, number], outcome: Outcome, key = "k"): Spec {
  return { client, key, op: "extendLease", value, leaseMs, at, outcome };
}

function kinds(v: Verdict): ViolationKind[] {
  return [...new Set(v.violations.map((x) => x.kind))].sort();
}

// ------------------------------------------------------------ rejections

test("rejects a read that misses a live lock (non-linearizable)", (t) => {
  const v = checkHistory(
    history(lock("a", "a1", [0, 10], ok({ token: 1n, safeUntilMs: 100 })), read("b", [20, 30], null)),
    OPTIONS,
  );
  t.false(v.ok);
  t.deepEqual(kinds(v), ["linearizability"]);
  t.regex(v.explanation, /reading absent is wrong: the key holds "a1"/);
  t.regex(v.explanation, /#1 b read\("k"\)/);
});

test("rejects a lost update: two updates from the same expected value both succeed", (t) => {
  const v = checkHistory(
    history(
      lock("a", "a1", [0, 10], ok({ token: 1n, safeUntilMs: 1000 }), 1000),
      update("a", "a1", "a2", [20, 30], ok()),
      update("b", "a1", "b2", [40, 50], ok()),
    ),
    OPTIONS,
  );
  t.false(v.ok);
  t.deepEqual(kinds(v), ["linearizability"]);
  t.regex(v.explanation, /update cannot succeed: the key holds "a2"/);
});

test("rejects a key that comes back after a client saw it released (resurrection)", (t) => {
  const v = checkHistory(
    history(
      lock("a", "a1", [0, 10], ok({ token: 1n, safeUntilMs: 1000 }), 1000),
      release("a", "a1", [20, 30], ok()),
      read("b", [40, 50], null),
      read("c", [60, 70], "a1"),
    ),
    OPTIONS,
  );
  t.false(v.ok);
  t.deepEqual(kinds(v), ["linearizability"]);
});

test("rejects a key still alive long after every voter's lease must have ended", (t) => {
  // Lease 100 granted by 10, slack 20: no voter can hold it after 130.
  const v = checkHistory(history(lock("a", "a1", [0, 10], ok({ token: 1n, safeUntilMs: 100 })), read("b", [500, 510], "a1")), OPTIONS);
  t.false(v.ok);
  t.deepEqual(kinds(v), ["linearizability"]);
});

test("rejects a lock granted while another client holds the key (double holder)", (t) => {
  const v = checkHistory(
    history(lock("a", "a1", [0, 10], ok({ token: 1n, safeUntilMs: 100 })), lock("b", "b1", [50, 60], ok({ token: 2n, safeUntilMs: 150 }))),
    OPTIONS,
  );
  t.false(v.ok);
  t.deepEqual(kinds(v), ["double-holder", "linearizability"]);
  const holder = v.violations.find((x) => x.kind === "double-holder")!;
  t.regex(holder.message, /a and b both held "k" during \[60, 100\)/);
});

test("the double-holder check alone catches an over-long safeUntil", (t) => {
  // safeUntil beyond response + lease cannot be honest, even with no second client around.
  const v = checkHistory(history(lock("a", "a1", [0, 10], ok({ token: 1n, safeUntilMs: 500 }))), OPTIONS);
  t.false(v.ok);
  t.deepEqual(kinds(v), ["double-holder"]);
});

test("rejects overlapping holder windows even when the search could reorder the locks", (t) => {
  // b's lock overlaps a's in time and could be linearized first; but then a's
  // lock would have to succeed while b holds it. Both checks agree it is wrong.
  const v = checkHistory(
    history(lock("a", "a1", [0, 40], ok({ token: 2n, safeUntilMs: 100 })), lock("b", "b1", [5, 30], ok({ token: 1n, safeUntilMs: 105 }))),
    OPTIONS,
  );
  t.false(v.ok);
  t.true(kinds(v).includes("double-holder"));
});

test("rejects a fencing token that goes backwards across successive holders", (t) => {
  const v = checkHistory(
    history(
      lock("a", "a1", [0, 10], ok({ token: 5n, safeUntilMs: 100 })),
      release("a", "a1", [20, 30], ok()),
      lock("b", "b1", [40, 50], ok({ token: 3n, safeUntilMs: 140 })),
    ),
    OPTIONS,
  );
  t.false(v.ok);
  t.deepEqual(kinds(v), ["fencing", "linearizability"]);
  t.regex(v.violations.find((x) => x.kind === "fencing")!.message, /token went backwards/);
});

test("rejects two locks with one token, and tokens backwards across expiry", (t) => {
  const v = checkHistory(
    history(lock("a", "a1", [0, 10], ok({ token: 7n, safeUntilMs: 100 })), lock("b", "b1", [300, 310], ok({ token: 7n, safeUntilMs: 400 }))),
    OPTIONS,
  );
  t.false(v.ok);
  t.true(kinds(v).includes("fencing"));
});

test("rejects a dirty read of a value nobody wrote", (t) => {
  const v = checkHistory(history({ client: "a", key: "k", op: "dirtyRead", at: [0, 1], outcome: ok({ value: "ghost" }) }), OPTIONS);
  t.deepEqual(kinds(v), ["phantom"]);
});

test("rejects mismatch when the value matches, and not_found while present", (t) => {
  const base = lock("a", "a1", [0, 10], ok({ token: 1n, safeUntilMs: 1000 }), 1000);
  t.false(checkHistory(history(base, release("b", "a1", [20, 30], fail("mismatch"))), OPTIONS).ok);
  t.false(checkHistory(history(base, update("b", "x", "y", [20, 30], fail("not_found"))), OPTIONS).ok);
  t.false(checkHistory(history(base, lock("b", "b1", [20, 30], fail("not_found"))), OPTIONS).ok);
});

test("a lock that succeeds before the previous holder's safeUntil is rejected even with a timed-out release in flight", (t) => {
  // The release has not been invoked by the holder, a lock by b at 50 must fail.
  const v = checkHistory(
    history(
      lock("a", "a1", [0, 10], ok({ token: 1n, safeUntilMs: 100 })),
      release("c", "zz", [20, 30], unknown),
      lock("b", "b1", [50, 60], ok({ token: 2n, safeUntilMs: 150 })),
    ),
    OPTIONS,
  );
  t.false(v.ok);
});

test("rejects a lock reported as locked whose value is read afterwards (a retried round's own write, seed 34 of an early core)", (t) => {
  const v = checkHistory(
    history(
      update("c", "x", "y", [7, 9], fail("not_found")),
      lock("a", "a1", [40, 51], fail("locked"), 208),
      lock("b", "b1", [41, 46], fail("locked"), 65),
      read("c", [89, 91], "a1"),
    ),
    OPTIONS,
  );
  t.false(v.ok);
  t.regex(v.explanation, /"locked" is wrong: the key is absent/);
});

test("search budget exhaustion is reported as inconclusive, never as a pass", (t) => {
  const specs: Spec[] = [];
  // Many concurrent timed-out locks and reads nobody can place: plenty of work.
  // Short leases and a long slack: each may take effect, expire, and let the next one in.
  for (let i = 0; i < 14; i++) specs.push(lock(`c${i}`, `v${i}`, [0, 1000], unknown, 10));
  specs.push(read("r", [0, 1000], "nobody"));
  const v = checkHistory(history(...specs), { ...OPTIONS, grantSlackMs: 100_000, maxSearchSteps: 50 });
  t.false(v.ok);
  t.deepEqual(kinds(v), ["inconclusive"]);
});

// ------------------------------------------------------------ acceptances

test("accepts concurrent locks where one wins and the others see it locked", (t) => {
  const v = checkHistory(
    history(
      lock("a", "a1", [0, 30], ok({ token: 3n, safeUntilMs: 100 })),
      lock("b", "b1", [5, 20], fail("locked")),
      read("c", [2, 25], "a1"),
      read("d", [1, 3], null),
      release("a", "a1", [40, 50], ok()),
      lock("b", "b2", [45, 60], ok({ token: 4n, safeUntilMs: 145 })),
    ),
    OPTIONS,
  );
  t.true(v.ok, v.explanation);
});

test("accepts a timed-out lock that took effect, and one that did not", (t) => {
  const tookEffect = checkHistory(history(lock("a", "a1", [0, 50], unknown), read("b", [60, 70], "a1"), lock("c", "c1", [80, 90], fail("locked"))), OPTIONS);
  t.true(tookEffect.ok, tookEffect.explanation);
  const didNot = checkHistory(history(lock("a", "a1", [0, 50], unknown), read("b", [60, 70], null), lock("c", "c1", [80, 90], ok({ token: 9n, safeUntilMs: 180 }))), OPTIONS);
  t.true(didNot.ok, didNot.explanation);
  // A timed-out lock can even take effect after its caller gave up (a late accept, a later write-back).
  const late = checkHistory(history(lock("a", "a1", [0, 50], unknown), read("b", [60, 70], null), read("b", [80, 90], "a1")), OPTIONS);
  t.true(late.ok, late.explanation);
});

test("accepts a key seen present or absent between safeUntil and the latest voter expiry, but not both ways round", (t) => {
  // Lease 100 granted in [0, 10], safeUntil 100; voters may hold it until 10 + 20 + 100 = 130.
  const base = lock("a", "a1", [0, 10], ok({ token: 1n, safeUntilMs: 100 }));
  t.true(checkHistory(history(base, read("b", [110, 111], "a1")), OPTIONS).ok);
  t.true(checkHistory(history(base, read("b", [110, 111], null)), OPTIONS).ok);
  t.true(checkHistory(history(base, lock("b", "b1", [110, 111], ok({ token: 2n, safeUntilMs: 210 }))), OPTIONS).ok);
  t.true(checkHistory(history(base, read("b", [110, 111], "a1"), read("b", [112, 113], null)), OPTIONS).ok);
  const back = checkHistory(history(base, read("b", [110, 111], null), read("b", [112, 113], "a1")), OPTIONS);
  t.false(back.ok);
  // Before safeUntil another lock must fail.
  t.true(checkHistory(history(base, lock("b", "b1", [60, 70], fail("locked"))), OPTIONS).ok);
  t.false(checkHistory(history(base, lock("b", "b1", [60, 70], ok({ token: 2n, safeUntilMs: 160 }))), OPTIONS).ok);
});

test("accepts update, extendLease and release chains with holder windows that follow the value", (t) => {
  const v = checkHistory(
    history(
      lock("a", "a1", [0, 10], ok({ token: 1n, safeUntilMs: 100 })),
      update("a", "a1", "a2", [20, 30], ok()),
      extend("a", "a2", 300, [80, 90], ok({ safeUntilMs: 380 })),
      lock("b", "b1", [150, 160], fail("locked")),
      update("b", "a1", "b9", [170, 180], fail("mismatch")),
      release("a", "a2", [200, 210], ok()),
      lock("b", "b1", [220, 230], ok({ token: 2n, safeUntilMs: 320 })),
      update("c", "zz", "zz2", [400, 410], fail("mismatch")),
      release("b", "b1", [500, 510], fail("not_found")),
    ),
    OPTIONS,
  );
  // The last two: b1's lease (granted by 230, 100 ms) has ended by 400, so "mismatch"
  // at 400 is wrong: the key is absent then. The checker must say so.
  t.false(v.ok);
  t.regex(v.explanation, /"mismatch" is wrong: the key is absent/);
  const fixed = checkHistory(
    history(
      lock("a", "a1", [0, 10], ok({ token: 1n, safeUntilMs: 100 })),
      update("a", "a1", "a2", [20, 30], ok()),
      extend("a", "a2", 300, [80, 90], ok({ safeUntilMs: 380 })),
      lock("b", "b1", [150, 160], fail("locked")),
      update("b", "a1", "b9", [170, 180], fail("mismatch")),
      release("a", "a2", [200, 210], ok()),
      lock("b", "b1", [220, 230], ok({ token: 2n, safeUntilMs: 320 })),
      update("c", "zz", "zz2", [400, 410], fail("not_found")),
      release("b", "b1", [500, 510], fail("not_found")),
    ),
    OPTIONS,
  );
  t.true(fixed.ok, fixed.explanation);
});

test("a timed-out shorter extendLease shrinks the holder's window rather than flag a later lock", (t) => {
  const v = checkHistory(
    history(
      lock("a", "a1", [0, 10], ok({ token: 1n, safeUntilMs: 1000 }), 1000),
      extend("a", "a1", 50, [20, 30], unknown),
      lock("b", "b1", [200, 210], ok({ token: 2n, safeUntilMs: 300 })),
    ),
    OPTIONS,
  );
  t.true(v.ok, v.explanation);
});

test("a write-back by an operation that then failed with no_quorum may keep a key alive longer", (t) => {
  // Lease 100 granted by 10: voters may hold it until 130. A read that failed with
  // no_quorum during [100, 120] may have rewritten it with its remaining lease.
  const base = lock("a", "a1", [0, 10], ok({ token: 1n, safeUntilMs: 100 }));
  const late = read("b", [150, 151], "a1");
  t.false(checkHistory(history(base, late), OPTIONS).ok);
  const failedRead: Spec = { client: "c", key: "k", op: "read", at: [100, 120], outcome: { kind: "void", code: "no_quorum" } };
  const v = checkHistory(history(base, failedRead, late), OPTIONS);
  t.true(v.ok, v.explanation);
  // It cannot resurrect a key someone saw gone, though.
  t.false(checkHistory(history(base, failedRead, read("d", [140, 141], null), late), OPTIONS).ok);
});

test("a release concurrent with an extendLease ends the extended window too", (t) => {
  // The extend is placed first, then the release: the key is free from the release on,
  // though the extender was told safeUntil 235 (found by the simulator, seed 919).
  const v = checkHistory(
    history(
      lock("a", "a1", [2, 6], ok({ token: 1n, safeUntilMs: 133 }), 133),
      release("a", "a1", [39, 68], ok()),
      extend("c", "a1", 192, [45, 49], ok({ safeUntilMs: 235 })),
      lock("b", "b1", [105, 109], ok({ token: 2n, safeUntilMs: 126 }), 21),
    ),
    OPTIONS,
  );
  t.true(v.ok, v.explanation);
});

test("keys are independent", (t) => {
  const v = checkHistory(
    history(lock("a", "a1", [0, 10], ok({ token: 1n, safeUntilMs: 100 }), 100, "x"), lock("b", "b1", [0, 10], ok({ token: 1n, safeUntilMs: 100 }), 100, "y")),
    OPTIONS,
  );
  t.true(v.ok, v.explanation);
});

// ------------------------------------------------------------ property: histories from the model pass

interface Cmd {
  key: number;
  kind: "lock" | "update" | "extendLease" | "release" | "read";
  /** Use the current value (likely success) or a stale/foreign one. */
  useCurrent: boolean;
  leaseMs: number;
  gapMs: number;
  beforeMs: number;
  afterMs: number;
  unknown: boolean;
  appliedIfUnknown: boolean;
}

const cmdArb: fc.Arbitrary<Cmd> = fc.record({
  key: fc.integer({ min: 0, max: 1 }),
  kind: fc.constantFrom("lock" as const, "lock" as const, "update" as const, "extendLease" as const, "release" as const, "read" as const),
  useCurrent: fc.boolean(),
  leaseMs: fc.integer({ min: 10, max: 200 }),
  gapMs: fc.integer({ min: 1, max: 80 }),
  beforeMs: fc.integer({ min: 0, max: 60 }),
  afterMs: fc.integer({ min: 0, max: 60 }),
  unknown: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
  appliedIfUnknown: fc.boolean(),
});

/**
 * Runs commands against an exact model (lease ends lease ms after the
 * linearization point) at strictly increasing points, and records each with an
 * interval around its point: sequential when `concurrent` is false.
 */
function generate(cmds: Cmd[], concurrent: boolean): HistoryOp[] {
  const truth = new Map<number, { value: string; expiresAt: number }>();
  let token = 0n;
  let point = 0;
  let lastResponse = -1;
  const ops: HistoryOp[] = [];
  const written: string[] = [];
  cmds.forEach((c, id) => {
    point += c.gapMs;
    let invokeMs: number;
    let responseMs: number;
    if (concurrent) {
      invokeMs = point - c.beforeMs;
      responseMs = point + c.afterMs;
    } else {
      // Strictly after the previous response, at or before this point; the next point comes after this response.
      invokeMs = Math.max(lastResponse + 0.5, point - Math.min(c.beforeMs, c.gapMs / 3));
      responseMs = point + Math.min(c.afterMs, 1);
    }
    lastResponse = responseMs;
    const key = `k${c.key}`;
    const cur = truth.get(c.key);
    const live = cur !== undefined && point < cur.expiresAt ? cur : undefined;
    const chosen = c.useCurrent && live ? live.value : (written[(id * 7) % Math.max(1, written.length)] ?? "never");
    const op: HistoryOp = { id, client: `c${id % 4}`, key, op: c.kind, invokeMs, responseMs, outcome: { kind: "ok" } };
    const applies = !c.unknown || c.appliedIfUnknown;
    let outcome: Outcome;
    switch (c.kind) {
      case "lock": {
        op.value = `v${id}`;
        op.leaseMs = c.leaseMs;
        written.push(op.value);
        if (live) outcome = fail("locked");
        else {
          token += 1n;
          if (applies) truth.set(c.key, { value: op.value, expiresAt: point + c.leaseMs });
          outcome = ok({ token, safeUntilMs: invokeMs + c.leaseMs });
        }
        break;
      }
      case "update": {
        op.value = chosen;
        op.newValue = `u${id}`;
        written.push(op.newValue);
        if (!live) outcome = fail("not_found");
        else if (live.value !== chosen) outcome = fail("mismatch");
        else {
          if (applies) live.value = op.newValue;
          outcome = ok();
        }
        break;
      }
      case "extendLease": {
        op.value = chosen;
        op.leaseMs = c.leaseMs;
        if (!live) outcome = fail("not_found");
        else if (live.value !== chosen) outcome = fail("mismatch");
        else {
          if (applies) live.expiresAt = point + c.leaseMs;
          outcome = ok({ safeUntilMs: invokeMs + c.leaseMs });
        }
        break;
      }
      case "release": {
        op.value = chosen;
        if (!live) outcome = fail("not_found");
        else if (live.value !== chosen) outcome = fail("mismatch");
        else {
          if (applies) truth.delete(c.key);
          outcome = ok();
        }
        break;
      }
      case "read":
        outcome = ok({ value: live ? live.value : null });
        break;
    }
    // An unknown outcome hides what happened; the truth above applied it or not.
    op.outcome = c.unknown && c.kind !== "read" && outcome.kind === "ok" ? unknown : outcome;
    ops.push(op);
    if (!concurrent) point = responseMs;
  });
  return ops;
}

/** Counts what the generated histories contained, so a property cannot pass on empty histories. */
function tally(counts: Map<string, number>, ops: HistoryOp[]): void {
  for (const o of ops) {
    const k = `${o.op}:${o.outcome.kind === "ok" ? "ok" : o.outcome.kind === "fail" ? o.outcome.code : o.outcome.kind}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
}

function assertVaried(t: { true: (v: boolean, m?: string) => void }, counts: Map<string, number>, needUnknown: boolean): void {
  const need = ["lock:ok", "lock:locked", "read:ok", "update:ok", "update:mismatch", "release:ok", "release:not_found", "extendLease:ok"];
  if (needUnknown) need.push("lock:unknown", "release:unknown");
  for (const k of need) t.true((counts.get(k) ?? 0) > 0, `generated histories never contained ${k}`);
}

test("property: sequential histories generated from the model are accepted", (t) => {
  const counts = new Map<string, number>();
  fc.assert(
    fc.property(fc.array(cmdArb, { minLength: 1, maxLength: 40 }), (cmds) => {
      const ops = generate(cmds, false);
      tally(counts, ops);
      const v = checkHistory(ops, { grantSlackMs: 0 });
      if (!v.ok) throw new Error(v.explanation);
    }),
    { numRuns: 300, seed: 42 },
  );
  assertVaried(t, counts, true);
});

test("property: concurrent histories with unknown outcomes generated from the model are accepted", (t) => {
  const counts = new Map<string, number>();
  fc.assert(
    fc.property(fc.array(cmdArb, { minLength: 1, maxLength: 30 }), (cmds) => {
      const ops = generate(cmds, true);
      tally(counts, ops);
      const v = checkHistory(ops, { grantSlackMs: 5 });
      if (!v.ok) throw new Error(v.explanation);
    }),
    { numRuns: 300, seed: 7 },
  );
  assertVaried(t, counts, true);
});

test("property: corrupting a read of a live key in a sequential history is rejected", (t) => {
  fc.assert(
    fc.property(fc.array(cmdArb, { minLength: 1, maxLength: 30 }), (cmds) => {
      const ops = generate(cmds, false);
      // Find a read that saw a value; claim it saw nothing. Sequential, so no other order can explain it.
      const target = ops.find((o) => o.op === "read" && o.outcome.kind === "ok" && typeof o.outcome.value === "string");
      fc.pre(target !== undefined);
      const seen = (target!.outcome as { value: string }).value;
      // Only meaningful when the read was inside the writer's safe window; skip otherwise.
      const writer = ops.find((o) => (o.op === "lock" && o.value === seen) || (o.op === "update" && o.newValue === seen));
      fc.pre(writer !== undefined && writer.outcome.kind !== "unknown");
      target!.outcome = ok({ value: `${seen}-corrupt` });
      const v = checkHistory(ops, { grantSlackMs: 0 });
      if (v.ok) throw new Error("a read of a value nobody wrote was accepted");
    }),
    { numRuns: 200, seed: 3 },
  );
  t.pass();
});
