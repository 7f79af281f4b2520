// The reconfiguration simulator: voters and replicas on the in-memory network,
// random clients on every node (voters and replicas alike), and a nemesis that
// interleaves one-voter-at-a-time reconfigurations (promote, add, remove, some
// concurrent), joins of new members, crash-restarts with memory loss, pauses,
// partitions and lossy links. The recorded history goes to the CAS checker.
import { createHash } from "node:crypto";
import { isLockerError, LockerError } from "../../src/errors.js";
import type { LockResult } from "../../src/locker.js";
import type { VoterConfig } from "../../src/cluster/config.js";
import type { FaultConfig } from "../../src/transport/memory.js";
import { SeededRandom } from "../../src/util/random.js";
import { checkHistory, countOutcome, outcomeOfErrorCode, HistoryRecorder, type HistoryOp, type OpName, type Outcome, type Verdict } from "./checker.js";
import { configOf, ReplSim, type ReplNode } from "./replication-cluster.js";

export const RECONFIG_LIMITS = {
  maxLeaseMs: 400,
  minLeaseMs: 20,
  maxPauseMs: 200,
  maxDelayMs: 6,
  maxReorderDelayMs: 20,
  driftRatio: 0.01,
} as const;

/**
 * The checker's allowance for an accept applied after its operation ended:
 * the longest transit (delay, reordering, a pause of the receiver). Replicated
 * copies never enter an acceptor, so they need no allowance of their own.
 */
export const RECONFIG_GRANT_SLACK_MS = RECONFIG_LIMITS.maxDelayMs + RECONFIG_LIMITS.maxReorderDelayMs + RECONFIG_LIMITS.maxPauseMs + 1;

export interface ReconfigSimStats {
  ops: number;
  ok: number;
  failed: number;
  unknown: number;
  noEffect: number;
  hung: number;
  reconfigsStarted: number;
  reconfigsDone: number;
  joins: number;
  crashes: number;
  /** Restarted voters that voted again through recovery (src/cas/recovery.ts) before their quiet period ended. */
  recoveries: number;
  partitions: number;
  pauses: number;
  finalVersion: number;
}

export interface ReconfigSimResult {
  seed: number;
  history: HistoryOp[];
  verdict: Verdict;
  events: string[];
  stats: ReconfigSimStats;
  /** Every node that is up at the end runs the same configuration. */
  converged: boolean;
  fingerprint: string;
}

type Settled<T> = { kind: "ok"; value: T } | { kind: "error"; error: unknown } | { kind: "crashed" } | { kind: "hung" };

function between(rng: SeededRandom, lo: number, hi: number): number {
  return lo + rng.next() * (hi - lo);
}

function pick<T>(rng: SeededRandom, items: readonly T[]): T {
  return items[rng.int(items.length)]!;
}

export interface ReconfigSimOptions {
  workloadMs?: number;
  /** Reconfigure far more often (every 10–60 ms, most nemesis turns): changes then come faster than leases run out. */
  intense?: boolean;
  /** Deliberately unsafe (see ConfiguratorOptions.unsafeSkipRewrite): for showing that the checker catches it. */
  unsafeSkipRewrite?: boolean;
  /** Restarted voters recover from the others (src/cas/recovery.ts). Default true, as in the product. */
  recovery?: boolean;
}

export async function runReconfigSimulation(seed: number, options: ReconfigSimOptions = {}): Promise<ReconfigSimResult> {
  const workloadMs = options.workloadMs ?? 2500;
  const unsafeSkipRewrite = options.unsafeSkipRewrite ?? false;
  // A quarter of the seeds run intense reconfiguration unless told otherwise.
  const intense = options.intense ?? seed % 4 === 0;
  const rng = new SeededRandom(seed);
  const L = RECONFIG_LIMITS;
  const sim = new ReplSim({
    seed: rng.nextUint32(),
    faults: { lossRate: 0, duplicateRate: 0, minDelayMs: 0.2, maxDelayMs: 2, reorderRate: 0, reorderDelayMs: 0 },
    locker: {
      maxLeaseMs: L.maxLeaseMs,
      limits: { minLeaseMs: L.minLeaseMs, maxTimeoutMs: 5000 },
      driftRatio: L.driftRatio,
      defaultTimeoutMs: 1000,
      requestAttemptTimeoutMs: 40,
      // The simulated wall clocks agree exactly: the clock assumption holds with no margin.
      recovery: { enabled: options.recovery ?? true, maxClockSkewMs: 0, requestTimeoutMs: 300 },
    },
    transport: { request: { attemptTimeoutMs: 50, retries: 3, timeoutMs: 1000 } },
    pushIntervalMs: 50,
    unsafeSkipRewrite,
  });
  const clock = sim.clock;
  const initialVoters = seed % 3 === 0 ? ["n1"] : seed % 3 === 1 ? ["n1", "n2", "n3"] : ["n1", "n2", "n3", "n4", "n5"];
  const pool = ["n1", "n2", "n3", "n4", "n5", "n6", "n7"];
  const started = new Set<string>();
  const keys = ["k0", "k1", "k2"].slice(0, 1 + rng.int(3));
  const recorder = new HistoryRecorder();
  const events: string[] = [];
  const stats: ReconfigSimStats = { ops: 0, ok: 0, failed: 0, unknown: 0, noEffect: 0, hung: 0, reconfigsStarted: 0, reconfigsDone: 0, joins: 0, crashes: 0, recoveries: 0, partitions: 0, pauses: 0, finalVersion: 0 };
  const log = (what: string): void => {
    events.push(`${clock.now().toFixed(3)} ${what}`);
  };
  const onCrash = new Map<string, Set<() => void>>();
  /** The newest configuration any live node runs: what a (re)starting node learns from the others' SWIM metadata. */
  const latestConfig = (): VoterConfig => {
    let best = configOf(1, initialVoters);
    for (const n of sim.nodes.values()) if (n.locker.cas.configVersion > best.version) best = n.configurator.current();
    return best;
  };
  const boot = (name: string, fresh: boolean): ReplNode => {
    started.add(name);
    onCrash.set(name, new Set());
    // A fresh cluster's first voters may vote at once; anything else waits out the longest lease first.
    return sim.start(name, latestConfig(), fresh ? { quietPeriodMs: 0 } : {});
  };
  const first = configOf(1, initialVoters);
  for (const n of initialVoters) boot(n, true);
  for (const n of pool.slice(initialVoters.length, initialVoters.length + 1 + rng.int(2))) {
    started.add(n);
    onCrash.set(n, new Set());
    sim.start(n, first, { quietPeriodMs: 0 });
  }
  const up = (): ReplNode[] => [...sim.nodes.values()].filter((n) => !sim.net.isCrashed(n.name));

  const attempt = <T>(name: string, p: Promise<T>, guardMs: number): Promise<Settled<T>> =>
    new Promise((resolve) => {
      let done = false;
      const set = onCrash.get(name)!;
      const finish = (s: Settled<T>): void => {
        if (done) return;
        done = true;
        set.delete(crashed);
        clock.clearTimer(guard);
        resolve(s);
      };
      const crashed = (): void => finish({ kind: "crashed" });
      set.add(crashed);
      const guard = clock.setTimer(guardMs, () => finish({ kind: "hung" }));
      p.then(
        (value) => finish({ kind: "ok", value }),
        (error: unknown) => finish({ kind: "error", error }),
      );
    });

  const outcomeOfError = (s: Settled<unknown>): Outcome => {
    if (s.kind === "crashed") return { kind: "unknown", code: "coordinator crashed" };
    if (s.kind === "hung") return { kind: "unknown", code: "hung" };
    if (s.kind !== "error") throw new Error("invariant: not an error");
    const e = s.error;
    if (!(e instanceof LockerError)) throw e instanceof Error ? e : new Error(String(e));
    return outcomeOfErrorCode(e.code);
  };

  let nextValue = 0;
  const allValues: string[] = [];
  let running = true;
  const sleep = (ms: number): Promise<void> => new Promise((r) => clock.setTimer(ms, r));

  const client = async (c: number): Promise<void> => {
    const cname = `c${c}`;
    const crng = rng.fork();
    const held = new Map<string, string>();
    while (running) {
      await sleep(between(crng, 0, 40));
      if (!running) break;
      const nodes = up();
      if (nodes.length === 0) continue;
      const n = pick(crng, nodes);
      const locker = n.locker;
      const key = pick(crng, keys);
      const timeoutMs = Math.round(between(crng, 30, 600));
      const guardMs = timeoutMs + L.maxPauseMs * 2 + 3000;
      const mine = held.get(key);
      const someValue = (): string => (mine !== undefined && crng.next() < 0.8 ? mine : allValues.length > 0 && crng.next() < 0.8 ? pick(crng, allValues) : `bogus${crng.int(1000)}`);
      const roll = crng.next();
      const op: OpName = roll < 0.3 ? "lock" : roll < 0.45 ? "read" : roll < 0.57 ? "update" : roll < 0.69 ? "extendLease" : roll < 0.84 ? "release" : roll < 0.94 ? "dirtyRead" : "waitFor";
      stats.ops++;
      const record = (id: number, outcome: Outcome): void => {
        recorder.complete(id, clock.now(), outcome);
        countOutcome(stats, outcome);
      };
      switch (op) {
        case "lock": {
          const value = `${cname}.${nextValue++}`;
          allValues.push(value);
          const leaseMs = Math.round(between(crng, L.minLeaseMs, L.maxLeaseMs));
          const id = recorder.invoke(clock.now(), cname, key, "lock", { value, leaseMs });
          const s = await attempt(n.name, locker.lock(key, value, { leaseMs, timeoutMs }), guardMs);
          if (s.kind === "ok") {
            const r: LockResult = s.value;
            record(id, { kind: "ok", token: r.token, safeUntilMs: r.safeUntil });
            held.set(key, value);
          } else record(id, outcomeOfError(s));
          break;
        }
        case "update": {
          const expected = someValue();
          const newValue = `${cname}.${nextValue++}`;
          allValues.push(newValue);
          const id = recorder.invoke(clock.now(), cname, key, "update", { value: expected, newValue });
          const s = await attempt(n.name, locker.update(key, expected, newValue, { timeoutMs }), guardMs);
          if (s.kind === "ok") {
            record(id, { kind: "ok" });
            if (mine === expected) held.set(key, newValue);
          } else record(id, outcomeOfError(s));
          break;
        }
        case "extendLease": {
          const value = someValue();
          const leaseMs = Math.round(between(crng, L.minLeaseMs, L.maxLeaseMs));
          const id = recorder.invoke(clock.now(), cname, key, "extendLease", { value, leaseMs });
          const s = await attempt(n.name, locker.extendLease(key, value, leaseMs, { timeoutMs }), guardMs);
          if (s.kind === "ok") record(id, { kind: "ok", safeUntilMs: s.value.safeUntil });
          else record(id, outcomeOfError(s));
          break;
        }
        case "release": {
          const value = someValue();
          const id = recorder.invoke(clock.now(), cname, key, "release", { value });
          if (value === mine) held.delete(key);
          const s = await attempt(n.name, locker.release(key, value, { timeoutMs }), guardMs);
          if (s.kind === "ok") record(id, { kind: "ok" });
          else record(id, outcomeOfError(s));
          break;
        }
        case "read": {
          const id = recorder.invoke(clock.now(), cname, key, "read");
          const s = await attempt(n.name, locker.read(key, { timeoutMs }), guardMs);
          if (s.kind === "ok") record(id, s.value === undefined ? { kind: "ok", value: null } : { kind: "ok", value: String(s.value.value), token: s.value.token });
          else record(id, outcomeOfError(s));
          break;
        }
        case "dirtyRead": {
          const id = recorder.invoke(clock.now(), cname, key, "dirtyRead");
          const e = locker.dirtyRead(key);
          record(id, { kind: "ok", value: e === undefined ? null : String(e.value) });
          break;
        }
        default: {
          const id = recorder.invoke(clock.now(), cname, key, "waitFor");
          const s = await attempt(n.name, locker.waitFor(key, timeoutMs), guardMs);
          if (s.kind === "ok") record(id, { kind: "ok", value: String(s.value) });
          else record(id, s.kind === "error" && isLockerError(s.error, "timeout") ? { kind: "void", code: "timeout" } : outcomeOfError(s));
        }
      }
    }
  };

  let reconfigsInFlight = 0;
  const reconfigure = (nrng: SeededRandom): void => {
    const nodes = up();
    if (nodes.length === 0 || reconfigsInFlight >= 2) return;
    const coordinator = pick(nrng, nodes);
    const cfg = coordinator.configurator.current();
    const voterNames = new Set(cfg.voters.map((v) => v.name));
    const replicas = nodes.filter((n) => !voterNames.has(n.name));
    let what: string;
    let p: Promise<VoterConfig>;
    if ((cfg.voters.length < 5 && replicas.length > 0 && nrng.next() < 0.6) || cfg.voters.length === 1) {
      if (replicas.length === 0) return;
      const r = pick(nrng, replicas);
      what = `promote ${r.name}`;
      p = coordinator.configurator.promote(r.name);
    } else {
      const v = pick(nrng, cfg.voters);
      what = `remove ${v.name}`;
      p = coordinator.configurator.removeVoter(v.name);
    }
    stats.reconfigsStarted++;
    reconfigsInFlight++;
    log(`${coordinator.name}: ${what} (from version ${cfg.version})`);
    void attempt(coordinator.name, p, 20_000).then((s) => {
      reconfigsInFlight--;
      if (s.kind === "ok") {
        stats.reconfigsDone++;
        log(`${coordinator.name}: ${what} → version ${s.value.version} [${s.value.voters.map((v) => v.name).join(",")}]`);
      } else log(`${coordinator.name}: ${what} failed (${s.kind === "error" ? (s.error as Error).message.slice(0, 80) : s.kind})`);
    });
  };

  const nemesis = async (): Promise<void> => {
    const nrng = rng.fork();
    while (clock.now() < workloadMs) {
      await sleep(intense ? between(nrng, 10, 60) : between(nrng, 30, 200));
      if (clock.now() >= workloadMs) break;
      const roll = nrng.next();
      const names = [...started];
      if (roll < (intense ? 0.6 : 0.3)) {
        reconfigure(nrng);
      } else if (roll < 0.38) {
        const fresh = pool.find((n) => !started.has(n));
        if (fresh) {
          boot(fresh, false);
          stats.joins++;
          log(`join ${fresh}`);
        }
      } else if (roll < 0.5) {
        const faults: Partial<FaultConfig> = {
          lossRate: nrng.next() < 0.4 ? 0 : between(nrng, 0, 0.2),
          duplicateRate: between(nrng, 0, 0.1),
          reorderRate: between(nrng, 0, 0.2),
          reorderDelayMs: between(nrng, 0, L.maxReorderDelayMs),
          minDelayMs: between(nrng, 0.1, 1),
          maxDelayMs: between(nrng, 1, L.maxDelayMs),
        };
        sim.net.setFaults(faults);
        log("faults changed");
      } else if (roll < 0.65) {
        const side = names.filter(() => nrng.next() < 0.5);
        sim.net.partition(side);
        stats.partitions++;
        const healAfter = between(nrng, 30, 500);
        log(`partition [${side.join(",")}] | rest, heal in ${healAfter.toFixed(0)} ms`);
        clock.setTimer(healAfter, () => {
          sim.net.heal();
          log("heal");
        });
      } else if (roll < 0.8) {
        const n = pick(nrng, names);
        if (sim.isUp(n)) {
          const ms = between(nrng, 10, L.maxPauseMs);
          sim.net.pause(n, ms);
          stats.pauses++;
          log(`pause ${n} ${ms.toFixed(0)} ms`);
        }
      } else if (roll < 0.9) {
        const n = pick(nrng, names);
        if (sim.isUp(n)) {
          if (sim.nodes.get(n)?.locker.cas.recoveryStatus.state === "recovered") stats.recoveries++;
          sim.crash(n);
          stats.crashes++;
          log(`crash ${n}`);
          for (const f of [...onCrash.get(n)!]) f();
          const after = between(nrng, 20, 400);
          clock.setTimer(after, () => {
            if (sim.nodes.has(n)) return;
            boot(n, false);
            log(`restart ${n} (empty memory, configuration ${latestConfig().version}, quiet ${L.maxLeaseMs} ms)`);
          });
        }
      }
    }
  };

  const clients = Array.from({ length: 3 + rng.int(3) }, (_, i) => client(i));
  const all = Promise.all([nemesis(), ...clients]);
  let finished = false;
  void all.then(() => {
    finished = true;
  });
  await sim.runUntil(() => clock.now() >= workloadMs, workloadMs + 10);
  running = false;
  sim.net.heal();
  sim.net.setFaults({ lossRate: 0, duplicateRate: 0, reorderRate: 0 });
  await sim.runUntil(() => finished && reconfigsInFlight === 0, 30_000);
  // Let configurations spread, then every live node must run the newest one.
  const converged = await sim.runUntil(() => {
    const versions = new Set(up().map((n) => n.locker.cas.configVersion));
    return versions.size === 1;
  }, 5000);
  for (const n of up()) if (n.locker.cas.recoveryStatus.state === "recovered") stats.recoveries++;
  stats.finalVersion = Math.max(...up().map((n) => n.locker.cas.configVersion), 0);
  if (!converged && process.env["DEBUG_RECONFIG"]) {
    for (const n of up()) console.log(n.name, n.locker.cas.configVersion, n.locker.cas.voters.map((v) => v.name).join(","), JSON.stringify(n.configurator.stats));
  }
  for (const n of [...sim.nodes.keys()]) sim.crash(n);
  const history = recorder.ops;
  const verdict = checkHistory(history, { grantSlackMs: RECONFIG_GRANT_SLACK_MS, driftFactor: L.driftRatio });
  const fingerprint = createHash("sha256")
    .update(JSON.stringify(history, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v === Number.POSITIVE_INFINITY ? "inf" : v)))
    .update(events.join("\n"))
    .digest("hex");
  return { seed, history, verdict, events, stats, converged, fingerprint };
}
