// The double holder a 6-key nemesis run recorded under 20 % loss (stop 16),
// kept as a real-world fixture for the checker: the checker must reject it,
// and must accept it once the two releases answer what the fixed product
// answers. Each of them had been forwarded to its key's coordinator, run
// there (freeing the key, which the next client then locked), its answer lost;
// the forwarder's own attempt then saw the next holder's value and answered
// `mismatch`, "nothing changed". The fix (src/node/affinity.ts, release)
// answers `timeout` (outcome unknown) instead; test/node/affinity.test.ts
// reproduces that path on the in-memory network.
import { readFileSync } from "node:fs";
import test from "ava";
import { checkHistory, type HistoryOp } from "../sim/checker.js";
import { OP_TIMEOUT_MS, PAUSE_MS } from "./nemesis.js";

const FIXTURE = new URL("../../../test/netns/fixtures/violation-2026-12-03-loss.json", import.meta.url);
const options = { grantSlackMs: PAUSE_MS + OP_TIMEOUT_MS + 1000, driftFactor: 0.01, maxSearchSteps: 2_000_000 };

function load(): HistoryOp[] {
  return JSON.parse(readFileSync(FIXTURE, "utf8"), (_k, v: unknown) => (typeof v === "string" && /^\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v)) as HistoryOp[];
}

/** The releases that answered `mismatch` after the whole forward wait (≈ 0.6 × 3 s + one 250 ms retransmit). */
function lateMismatchedReleases(history: readonly HistoryOp[]): HistoryOp[] {
  return history.filter((o) => o.op === "release" && o.outcome.kind === "fail" && o.outcome.code === "mismatch" && o.responseMs - o.invokeMs >= 2000);
}

test("the recorded double holder is rejected, on both keys it hit", (t) => {
  const history = load();
  const verdict = checkHistory(history, options);
  t.false(verdict.ok);
  t.deepEqual(new Set(lateMismatchedReleases(history).map((o) => o.key)), new Set(["n-e", "n-f"]));
});

test("the same history with those releases answered `timeout` (what the fixed forwarder answers) is accepted", (t) => {
  const history = load();
  const late = new Set(lateMismatchedReleases(history));
  t.is(late.size, 2);
  const fixed = history.map((o) => (late.has(o) ? { ...o, outcome: { kind: "unknown" as const, code: "timeout" } } : o));
  const verdict = checkHistory(fixed, options);
  t.true(verdict.ok, verdict.explanation);
});
