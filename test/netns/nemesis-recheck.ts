// Replays the checker on a history the nemesis saved (test-artifacts/nemesis/):
//   node --stack-size=65500 dist/test/netns/nemesis-recheck.js FILE [--steps N]
// and prints the verdict with its explanation (a violation's longest
// consistent prefix and the operations that cannot follow it).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { checkHistory, type HistoryOp } from "../sim/checker.js";
import { OP_TIMEOUT_MS, PAUSE_MS } from "./nemesis.js";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { steps: { type: "string", default: "2000000" } } });
const file = positionals[0];
const steps = Number(values.steps);
if (!file || !(Number.isInteger(steps) && steps > 0)) {
  process.stderr.write("usage: node --stack-size=65500 dist/test/netns/nemesis-recheck.js FILE [--steps N]\n");
  process.exit(2);
}
const history = JSON.parse(readFileSync(file, "utf8"), (_k, v: unknown) => (typeof v === "string" && /^\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v)) as HistoryOp[];
const verdict = checkHistory(history, { grantSlackMs: PAUSE_MS + OP_TIMEOUT_MS + 1000, driftFactor: 0.01, maxSearchSteps: steps });
console.log(`${history.length} operations: ${verdict.ok ? "ok" : "NOT ok"} (${verdict.stats.searchSteps} search steps)`);
if (!verdict.ok) console.log(verdict.explanation);
