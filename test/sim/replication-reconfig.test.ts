// Random reconfigurations and joins interleaved with client operations on
// voters and replicas, under crashes, pauses, partitions and lossy links: the
// CAS checker stays green over every seed. SIM_RECONFIG_SEEDS=n runs more
// seeds (default 300), SIM_RECONFIG_SEED=n replays one.
import test from "ava";
import { formatOp } from "./checker.js";
import { runReconfigSimulation, type ReconfigSimResult } from "./replication-reconfig.js";

const REPLAY = process.env["SIM_RECONFIG_SEED"];
const SEEDS = Number(process.env["SIM_RECONFIG_SEEDS"] ?? 300);

function report(r: ReconfigSimResult): string {
  const bad = new Set(r.verdict.violations.flatMap((v) => v.ops));
  const keys = new Set(r.history.filter((o) => bad.has(o.id)).map((o) => o.key));
  return [
    `seed ${r.seed} FAILED — replay: SIM_RECONFIG_SEED=${r.seed} npx ava dist/test/sim/replication-reconfig.test.js`,
    r.verdict.explanation,
    "nemesis:",
    ...r.events.slice(0, 200),
    "history of the keys involved:",
    ...r.history.filter((o) => keys.has(o.key)).slice(0, 200).map(formatOp),
  ].join("\n");
}

if (REPLAY !== undefined) {
  test(`replay reconfiguration seed ${REPLAY}`, async (t) => {
    const r = await runReconfigSimulation(Number(REPLAY));
    t.log(JSON.stringify(r.stats));
    t.log(r.events.join("\n"));
    if (!r.verdict.ok) t.fail(report(r));
    t.true(r.converged);
  });
} else {
  test(`${SEEDS} seeds: reconfigurations, joins and faults never break linearizability, exclusive holders or fencing`, async (t) => {
    t.timeout(30 * 60_000);
    const started = performance.now();
    const failures: ReconfigSimResult[] = [];
    const unconverged: number[] = [];
    const totals: Record<string, number> = {};
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await runReconfigSimulation(seed);
      for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
      if (!r.verdict.ok) failures.push(r);
      if (!r.converged) unconverged.push(seed);
    }
    t.log(`${SEEDS} seeds in ${((performance.now() - started) / 1000).toFixed(1)} s; totals ${JSON.stringify(totals)}`);
    t.true((totals["reconfigsDone"] ?? 0) > SEEDS, "reconfigurations did complete");
    t.true((totals["joins"] ?? 0) > 0 && (totals["crashes"] ?? 0) > 0 && (totals["partitions"] ?? 0) > 0);
    t.true((totals["ok"] ?? 0) > 0 && (totals["failed"] ?? 0) > 0);
    t.is(totals["hung"] ?? 0, 0, "no operation outlived its timeout by far");
    t.deepEqual(unconverged, [], "every live node ends on the same configuration");
    if (failures.length > 0) t.fail(`${failures.length} of ${SEEDS} seeds failed: ${failures.map((f) => f.seed).join(", ")}\n\n${report(failures[0]!)}`);
  });

  test("the simulator catches reconfigurations that skip the rewrite step", async (t) => {
    // Same clients and faults; only the rewrite between changes is switched off. Some seed must break.
    t.timeout(10 * 60_000);
    let caught: ReconfigSimResult | undefined;
    for (let seed = 1; seed <= 300 && !caught; seed++) {
      const r = await runReconfigSimulation(seed, { intense: true, unsafeSkipRewrite: true });
      if (!r.verdict.ok) caught = r;
    }
    t.truthy(caught, "a violation was found");
    if (caught) t.log(`seed ${caught.seed}: ${caught.verdict.violations.map((v) => v.kind).join(", ")}`);
  });

  test("the same seed gives the same run", async (t) => {
    const a = await runReconfigSimulation(77);
    const b = await runReconfigSimulation(77);
    t.is(a.fingerprint, b.fingerprint);
    t.true(a.stats.reconfigsStarted > 0);
  });
}
