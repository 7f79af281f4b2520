// The deterministic simulator over many seeds: 3 and 5 voters, random clients,
// a nemesis of network faults, pauses and crash-restarts; every history must
// pass the checker. SIM_SEEDS=n runs more seeds (SIM_FIRST_SEED=m starts
// elsewhere), SIM_SEED=n replays one (SIM_VERBOSE=1 prints its whole timeline).
import test from "ava";
import { Locker, type LockResult } from "../../src/locker.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { excerpt, runSimulation, runUntil, timeline, type SimResult, type SimStats } from "./cluster.js";

const REPLAY = process.env["SIM_SEED"];
const SEEDS = Number(process.env["SIM_SEEDS"] ?? 500);
const FIRST_SEED = Number(process.env["SIM_FIRST_SEED"] ?? 1);
/**
 * Seeds beyond the default range that once exposed a bug, run every time. A
 * seed names a schedule of one harness version: after changing the harness's
 * use of randomness, re-find them (SIM_SEEDS=5000 on the unfixed core) rather
 * than trust them. None at present: the bug seed 1873 of an earlier version
 * found (a stale fast-path promise after restarts) has its own test below.
 */
const REGRESSION_SEEDS: number[] = [];

function replayCommand(seed: number): string {
  return `SIM_SEED=${seed} npx ava dist/test/sim/cas.test.js`;
}

function report(r: SimResult): string {
  return [
    `seed ${r.seed} (${r.voters} voters) FAILED — replay: ${replayCommand(r.seed)}`,
    r.verdict.ok ? "the checker accepts the history" : r.verdict.explanation,
    ...(r.unexpectedErrors.length > 0 ? ["errors other than LockerError escaped the API:", ...r.unexpectedErrors.slice(0, 10)] : []),
    "history of the keys involved, with the nemesis' actions (~):",
    excerpt(r),
  ].join("\n");
}

if (REPLAY !== undefined) {
  test(`replay seed ${REPLAY}`, async (t) => {
    const seed = Number(REPLAY);
    const r = await runSimulation({ seed, recordTrace: true });
    t.log(`seed ${seed}: ${r.voters} voters, ${JSON.stringify(r.stats)}, fingerprint ${r.fingerprint.slice(0, 16)}`);
    if (process.env["SIM_VERBOSE"]) t.log(timeline(r));
    if (!r.verdict.ok || r.unexpectedErrors.length > 0) t.fail(report(r));
    else t.pass();
  });
} else {
  const seeds = [...Array.from({ length: SEEDS }, (_, i) => FIRST_SEED + i), ...REGRESSION_SEEDS.filter((s) => s < FIRST_SEED || s >= FIRST_SEED + SEEDS)];
  test(`${SEEDS} seeds from ${FIRST_SEED}${REGRESSION_SEEDS.length > 0 ? ` and regression seeds ${REGRESSION_SEEDS.join(", ")}` : ""}: every history is linearizable, holders never overlap, tokens increase`, async (t) => {
    t.timeout(30 * 60_000);
    const started = performance.now();
    const failures: SimResult[] = [];
    const totals: Partial<Record<keyof SimStats, number>> = {};
    const byVoters = new Map<number, number>();
    for (const seed of seeds) {
      const r = await runSimulation({ seed });
      for (const [k, v] of Object.entries(r.stats) as [keyof SimStats, number][]) totals[k] = (totals[k] ?? 0) + v;
      byVoters.set(r.voters, (byVoters.get(r.voters) ?? 0) + 1);
      if (!r.verdict.ok || r.unexpectedErrors.length > 0) failures.push(r);
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    t.log(`${seeds.length} seeds in ${seconds} s (${[...byVoters].map(([v, n]) => `${n} with ${v} voters`).join(", ")}); totals ${JSON.stringify(totals)}`);
    // The run must exercise what it claims to: faults happened and operations both succeeded and failed.
    t.true((totals.crashes ?? 0) > 0 && (totals.partitions ?? 0) > 0 && (totals.pauses ?? 0) > 0, "the nemesis did act");
    t.true((totals.ok ?? 0) > 0 && (totals.failed ?? 0) > 0 && (totals.unknown ?? 0) > 0, "outcomes of every kind occurred");
    t.is(totals.hung ?? 0, 0, "no operation outlived its timeout by far (liveness)");
    t.is(totals.finalReadFailures ?? 0, 0, "every read succeeds once the cluster is whole and calm (liveness)");
    if (failures.length > 0) {
      t.fail(
        `${failures.length} of ${seeds.length} seeds failed: ${failures.map((f) => f.seed).join(", ")}\n` +
          `replay one with: ${replayCommand(failures[0]!.seed)}\n\n` +
          failures
            .slice(0, 3)
            .map((f) => report(f))
            .join("\n\n"),
      );
    }
  });

  test("the same seed gives the same run, to the last datagram; another seed does not", async (t) => {
    const a = await runSimulation({ seed: 4242, recordTrace: true });
    const b = await runSimulation({ seed: 4242, recordTrace: true });
    const c = await runSimulation({ seed: 4243, recordTrace: true });
    t.true(a.history.length > 20);
    t.is(a.fingerprint, b.fingerprint);
    t.deepEqual(a.events, b.events);
    t.is(JSON.stringify(a.stats), JSON.stringify(b.stats));
    t.not(a.fingerprint, c.fingerprint);
  });

  test("the simulator catches a cluster whose restarted voters skip the quiet period", async (t) => {
    // The same clients and faults; only the quiet period is switched off. Some seed must show two holders.
    let caught: SimResult | undefined;
    for (let seed = 1; seed <= 200 && !caught; seed++) {
      const r = await runSimulation({ seed, unsafeSkipQuietPeriod: true });
      if (r.verdict.violations.some((v) => v.kind === "double-holder")) caught = r;
    }
    t.truthy(caught, "no seed in 1..200 exposed the missing quiet period");
    if (!caught) return;
    t.log(`seed ${caught.seed} exposed it: ${caught.verdict.violations.find((v) => v.kind === "double-holder")!.message}`);
    // With the quiet period, the same seed has no double holder: the difference is the quiet period.
    const safe = await runSimulation({ seed: caught.seed });
    t.false(
      safe.verdict.violations.some((v) => v.kind === "double-holder"),
      `seed ${caught.seed} shows two holders even with the quiet period:\n${safe.verdict.explanation}`,
    );
  });

  test("a calm network with 3 and 5 voters: almost everything succeeds or fails definitely, and the checker agrees", async (t) => {
    for (const voters of [3, 5]) {
      const r = await runSimulation({ seed: 99, voters, calm: true, workloadMs: 1500 });
      t.true(r.verdict.ok, r.verdict.explanation);
      t.is(r.stats.crashes, 0);
      // Contention may time some operations out, but a calm cluster decides most.
      t.true(r.stats.unknown <= r.stats.ops / 10, `too many unknown outcomes on a calm network: ${JSON.stringify(r.stats)}`);
      t.true(r.stats.fastRounds > 0, "the one-round-trip path was used");
    }
  });
}

test("one key fought over by 8 clients: releases grant queued locks in their own rounds, calm or under the nemesis, and the checker agrees", async (t) => {
  let handovers = 0;
  for (let seed = 401; seed <= 436; seed++) {
    const calm = seed === 401;
    const r = await runSimulation({ seed, voters: 3, coordinators: 0, clients: 8, keys: 1, lockRelease: true, calm, workloadMs: 1500 });
    t.true(r.verdict.ok, `seed ${seed}: ${r.verdict.explanation}`);
    handovers += r.stats.handovers;
  }
  t.log(`${handovers} handovers judged`);
  t.true(handovers >= 10, `only ${handovers} handovers: the workload no longer exercises them`);
});

// Found by seed 1873: a fast-path promise cached long ago is accepted by voters
// that restarted (memory lost) since it was made, and a lock made on it takes
// the old ballot as its token. Replayed here on purpose, step by step.
test("a lock after a majority of voters restarted gets a token above the previous holder's, even from a node with a cached promise", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(7) });
  const voters = ["n1", "n2", "n3"].map((name) => ({ name, address: name }));
  const random = new SeededRandom(8);
  const start = (name: string, first: boolean): Locker =>
    new Locker({
      name,
      channel: net.transport(name),
      clock: net.nodeClock(name),
      random: random.fork(),
      voters,
      maxLeaseMs: 400,
      quietPeriodMs: first ? 0 : undefined,
      limits: { minLeaseMs: 10, maxTimeoutMs: 1000 },
      defaultTimeoutMs: 500,
    });
  const lockers = new Map(voters.map((v) => [v.name, start(v.name, true)]));
  const lockOn = async (name: string, value: string): Promise<LockResult> => {
    let out: LockResult | Error | undefined;
    lockers
      .get(name)!
      .lock("k", value, { leaseMs: 50 })
      .then(
        (r) => (out = r),
        (e: Error) => (out = e),
      );
    await runUntil(clock, clock.now() + 1000, () => out !== undefined);
    if (!out || out instanceof Error) throw new Error(`lock on ${name} failed: ${String(out)}`);
    return out;
  };
  const first = await lockOn("n1", "a"); // n1 now holds a promise for its next ballot
  await runUntil(clock, clock.now() + 100);
  const second = await lockOn("n2", "b");
  t.true(second.token > first.token);
  await runUntil(clock, clock.now() + 100);
  for (const name of ["n2", "n3"]) {
    net.crash(name);
    lockers.set(name, start(name, false)); // empty memory, quiet for maxLeaseMs
  }
  await runUntil(clock, clock.now() + 500); // past the quiet period
  const third = await lockOn("n1", "c");
  t.true(third.token > second.token, `token went backwards: ${first.token}, ${second.token}, then ${third.token}`);
});
