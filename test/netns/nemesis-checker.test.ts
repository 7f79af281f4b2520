// The nemesis's checker on real-time histories shaped as the HTTP clients
// record them (outcomeOf: status and body → outcome; safe windows from the
// invocation plus safeForMs): fabricated violations fail, a clean history
// passes. Runs without root (no namespaces).
import test from "ava";
import { HistoryRecorder } from "../sim/checker.js";
import { checkWithLargeStack, outcomeOf } from "./nemesis.js";

const OPTS = { grantSlackMs: 500, driftFactor: 0.01 };

function lockAt(r: HistoryRecorder, client: string, key: string, value: string, at: number, took: number, answer: { status: number; json: Record<string, unknown> }): void {
  const id = r.invoke(at, client, key, "lock", { value, leaseMs: 2000, timeoutMs: 3000 });
  r.complete(id, at + took, outcomeOf("lock", answer.status, answer.json, at));
}

test("HTTP answers map to the checker's outcomes", (t) => {
  t.like(outcomeOf("lock", 200, { token: "7", safeForMs: 1900 }, 100), { kind: "ok", token: 7n, safeUntilMs: 2000 });
  t.like(outcomeOf("read", 404, { error: "not_found" }, 0), { kind: "ok", value: null });
  t.like(outcomeOf("read", 200, { value: "x" }, 0), { kind: "ok", value: "x" });
  t.like(outcomeOf("lock", 409, { error: "locked" }, 0), { kind: "fail", code: "locked" });
  t.like(outcomeOf("release", 404, { error: "not_found" }, 0), { kind: "fail", code: "not_found" });
  t.like(outcomeOf("lock", 503, { error: "no_quorum" }, 0), { kind: "void", code: "no_quorum" });
  t.like(outcomeOf("lock", 504, { error: "timeout" }, 0), { kind: "unknown", code: "timeout" });
  t.like(outcomeOf("lock", 502, {}, 0), { kind: "unknown", code: "http 502" });
  // A restarted agent that has no node yet did nothing; any other unavailable may have.
  t.like(outcomeOf("lock", 503, { error: "unavailable", message: "the node is starting: bootstrapping: 2 of 5 voters" }, 0), { kind: "void", code: "starting" });
  t.like(outcomeOf("lock", 503, { error: "unavailable", message: "locker is closed" }, 0), { kind: "unknown", code: "unavailable" });
});

test("two holders inside each other's safe window: a violation", async (t) => {
  const r = new HistoryRecorder();
  lockAt(r, "h1c1", "k", "a", 0, 5, { status: 200, json: { token: "10", safeForMs: 1900 } });
  lockAt(r, "h2c1", "k", "b", 500, 5, { status: 200, json: { token: "11", safeForMs: 1900 } });
  const v = await checkWithLargeStack(r.ops, OPTS);
  t.false(v.ok);
  t.true(v.violations.some((x) => x.kind === "double-holder" || x.kind === "linearizability"), v.explanation);
});

test("a consistent read that finds a held key absent: a violation", async (t) => {
  const r = new HistoryRecorder();
  lockAt(r, "h1c1", "k", "a", 0, 5, { status: 200, json: { token: "10", safeForMs: 1900 } });
  const id = r.invoke(100, "h3c2", "k", "read", { timeoutMs: 3000 });
  r.complete(id, 110, outcomeOf("read", 404, { error: "not_found" }, 100));
  t.false((await checkWithLargeStack(r.ops, OPTS)).ok);
});

test("a later holder with a smaller token: a fencing violation", async (t) => {
  const r = new HistoryRecorder();
  lockAt(r, "h1c1", "k", "a", 0, 5, { status: 200, json: { token: "20", safeForMs: 1900 } });
  const rel = r.invoke(100, "h1c1", "k", "release", { value: "a", timeoutMs: 3000 });
  r.complete(rel, 105, outcomeOf("release", 200, {}, 100));
  lockAt(r, "h2c1", "k", "b", 200, 5, { status: 200, json: { token: "19", safeForMs: 1900 } });
  const v = await checkWithLargeStack(r.ops, OPTS);
  t.false(v.ok);
  t.true(v.violations.some((x) => x.kind === "fencing"), v.explanation);
});

test("a clean history of thousands of operations on one key passes (deep search, large stack)", async (t) => {
  const r = new HistoryRecorder();
  let token = 100;
  for (let i = 0; i < 5000; i++) {
    const at = i * 10;
    lockAt(r, `c${i % 3}`, "k", `v${i}`, at, 1, { status: 200, json: { token: String(token++), safeForMs: 1900 } });
    const rel = r.invoke(at + 2, `c${i % 3}`, "k", "release", { value: `v${i}`, timeoutMs: 3000 });
    r.complete(rel, at + 3, outcomeOf("release", 200, {}, at + 2));
  }
  const v = await checkWithLargeStack(r.ops, OPTS);
  t.true(v.ok, v.explanation);
});
