// The deterministic CAS simulator: voters and non-voting coordinators on the
// in-memory network, random clients, and a nemesis (loss, duplication,
// reordering, partitions, pauses, a wrong liveness hint, crash-restarts with
// memory loss, mid-round coordinator crashes, power cuts of a majority).
// One seed gives one exact run; the recorded client history goes to the checker.
import { createHash } from "node:crypto";
import { isLockerError, LockerError } from "../../src/errors.js";
import { Locker, type LockResult } from "../../src/locker.js";
import { MemoryNetwork, type FaultConfig } from "../../src/transport/memory.js";
import type { Transport } from "../../src/transport/transport.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom, shuffle } from "../../src/util/random.js";
import { checkHistory, countOutcome, outcomeOfErrorCode, formatOp, HistoryRecorder, type HistoryOp, type OpName, type Outcome, type Verdict } from "./checker.js";
import { stepUntil } from "../support/virtual-time.js";

export interface SimOptions {
  seed: number;
  /** Voters (each also coordinates rounds for clients). Default: 3 or 5, picked by the seed. */
  voters?: number;
  /** Non-voting coordinator nodes besides the voters. Default 0..2 by seed. */
  coordinators?: number;
  /** Concurrent clients. Default 3..8 by seed. */
  clients?: number;
  /** Keys the clients fight over (few, to force contention). Default 1..3 by seed. */
  keys?: number;
  /** Virtual time the clients run and the nemesis acts. */
  workloadMs?: number;
  /**
   * Clients only lock, release (mostly their own) and read, with little think
   * time: a key's holder releases while others' locks queue on the same node
   * (the handover path). Default false: every operation in the mix.
   */
  lockRelease?: boolean;
  /** Turn the nemesis off (a calm network: for fast-path and sanity runs). */
  calm?: boolean;
  /** Keep the network's delivery trace (for determinism checks). */
  recordTrace?: boolean;
  /**
   * Deliberately unsafe: restarted voters (memory lost) vote at once instead of
   * waiting out the quiet period. Only for showing that the simulator catches it.
   */
  unsafeSkipQuietPeriod?: boolean;
  /** Restarted voters recover from the others (src/cas/recovery.ts) instead of only waiting out the quiet period. Default true, as in the product. */
  recovery?: boolean;
  /** Deliberately unsafe: recovery fences but skips reading the keys back. Only for showing that the simulator catches it. */
  unsafeRecoverySkipRewrite?: boolean;
}

export interface SimStats {
  ops: number;
  ok: number;
  failed: number;
  unknown: number;
  noEffect: number;
  /** Operations still unsettled long after their own timeout (a liveness bug). */
  hung: number;
  /** Linearizable reads that failed once the cluster was whole and calm again (a liveness bug). */
  finalReadFailures: number;
  crashes: number;
  /** Graceful stops (Locker.close) followed by a restart with empty memory. */
  stops: number;
  partitions: number;
  pauses: number;
  faultChanges: number;
  suspicions: number;
  /** Nodes whose acceptor forgot at least one dead key by the end (the ballot floor is in use). */
  gcNodes: number;
  fastRounds: number;
  rounds: number;
  /** Releases that granted the next queued lock in their own round (the checker sees both answers). */
  handovers: number;
  /** Restarted voters that voted again through recovery, before their quiet period ended. */
  recoveries: number;
  virtualMs: number;
}

export interface SimResult {
  seed: number;
  voters: number;
  history: HistoryOp[];
  verdict: Verdict;
  /** The nemesis' actions, in order, with virtual times. */
  events: string[];
  stats: SimStats;
  /** Hash of the history, the nemesis log and the delivery trace: equal runs have equal fingerprints. */
  fingerprint: string;
  /** Errors other than LockerError thrown by the API (always a bug). */
  unexpectedErrors: string[];
}

/** Bounds the simulator's faults respect; the checker's grant slack is derived from them. */
export const SIM_LIMITS = {
  maxLeaseMs: 400,
  minLeaseMs: 20,
  maxPauseMs: 250,
  maxDelayMs: 8,
  maxReorderDelayMs: 30,
  driftRatio: 0.01,
  // Recovery assumes pairwise skew (2 × this) below half the longest lease.
  maxWallSkewMs: 40,
  /** Longest operation budget (clients use 30..600 ms). */
  maxTimeoutMs: 600,
  /**
   * Acceptors forget a dead key this long after its last promise or accept, so
   * cold keys are garbage-collected within a run and the forgotten-ballot floor
   * is exercised. It must exceed the longest lease plus the longest time an
   * accept can still arrive (budget + GRANT_SLACK_MS): 400 + 600 + 539 < 2000.
   */
  gcGraceMs: 2000,
  /** Rarely used keys, so some go idle long enough to be garbage-collected. */
  coldKeys: 16,
} as const;

/**
 * How long after an operation's last send (its answer, or the end of its time
 * budget: the transport resends to silent voters until then) a voter may still
 * apply one of its accepts: a send queued just before the coordinator paused
 * leaves when it wakes, then the datagram's longest delay plus reordering, then
 * the receiving voter's longest pause (it processes the datagram when it wakes).
 * The nemesis never pauses a node that is already paused, so pauses do not stack.
 */
export const GRANT_SLACK_MS = SIM_LIMITS.maxPauseMs + SIM_LIMITS.maxDelayMs + SIM_LIMITS.maxReorderDelayMs + SIM_LIMITS.maxPauseMs + 1;

interface SimNode {
  name: string;
  locker: Locker | undefined;
  transport: Transport | undefined;
  incarnation: number;
  /** Client waits to abandon when this node crashes. */
  onCrash: Set<() => void>;
}

type Settled<T> = { kind: "ok"; value: T } | { kind: "error"; error: unknown } | { kind: "crashed" } | { kind: "hung" };

/** Runs the virtual clock until `until`, letting promise continuations run after every timer. */
export async function runUntil(clock: VirtualClock, until: number, stop?: () => boolean): Promise<void> {
  await stepUntil(clock, () => stop?.() ?? false, until - clock.now());
}

function sleep(clock: VirtualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(ms, resolve));
}

function pick<T>(rng: SeededRandom, items: readonly T[]): T {
  return items[rng.int(items.length)]!;
}

function between(rng: SeededRandom, lo: number, hi: number): number {
  return lo + rng.next() * (hi - lo);
}

function stringify(history: readonly HistoryOp[]): string {
  return JSON.stringify(history, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v === Number.POSITIVE_INFINITY ? "inf" : v));
}

export async function runSimulation(options: SimOptions): Promise<SimResult> {
  const seed = options.seed;
  const rng = new SeededRandom(seed);
  const voterCount = options.voters ?? (seed % 2 === 0 ? 3 : 5);
  const clientCount = options.clients ?? 3 + rng.int(6);
  const keyCount = options.keys ?? 1 + rng.int(3);
  const workloadMs = options.workloadMs ?? 3000;
  // Each seed draws its own weather: how often the nemesis strikes, how long
  // leases are (short leases meet long delays and pauses), how busy clients are.
  const weather = new SeededRandom(seed ^ 0x5ee0);
  const nemesisGapMs = pick(weather, [
    [10, 80],
    [20, 200],
    [100, 600],
  ] as const);
  const leaseRangeMs = pick(weather, [
    [SIM_LIMITS.minLeaseMs, SIM_LIMITS.maxLeaseMs],
    [SIM_LIMITS.minLeaseMs, 60],
    [150, SIM_LIMITS.maxLeaseMs],
  ] as const);
  const thinkMs = options.lockRelease ? 2 : pick(weather, [10, 40, 150] as const);
  const calm = options.calm ?? false;
  const clock = new VirtualClock();
  const net = new MemoryNetwork({
    clock,
    random: rng.fork(),
    faults: { lossRate: 0, duplicateRate: 0, minDelayMs: 0.2, maxDelayMs: 2, reorderRate: 0, reorderDelayMs: 0 },
    recordTrace: options.recordTrace ?? false,
  });
  const voterNames = Array.from({ length: voterCount }, (_, i) => `n${i + 1}`);
  // Non-voting coordinators: they run rounds for their clients but hold no acceptor.
  const coordinatorCount = options.coordinators ?? rng.int(3);
  const names = [...voterNames, ...Array.from({ length: coordinatorCount }, (_, i) => `r${i + 1}`)];
  const voters = voterNames.map((name) => ({ name, address: name }));
  const keys = Array.from({ length: keyCount }, (_, i) => `key${i}`);
  const recorder = new HistoryRecorder();
  const events: string[] = [];
  const stats: SimStats = { ops: 0, ok: 0, failed: 0, unknown: 0, noEffect: 0, hung: 0, finalReadFailures: 0, crashes: 0, stops: 0, partitions: 0, pauses: 0, faultChanges: 0, suspicions: 0, gcNodes: 0, fastRounds: 0, rounds: 0, handovers: 0, recoveries: 0, virtualMs: 0 };
  const log = (what: string): void => {
    events.push(`${clock.now().toFixed(3)} ${what}`);
  };

  const nodes = new Map<string, SimNode>();
  /** Voters every node's liveness hint reports dead, rightly or wrongly. */
  const suspected = new Set<string>();
  const collectStats = (n: SimNode): void => {
    if (!n.locker) return;
    const s = n.locker.cas.stats;
    stats.fastRounds += s.fastRounds;
    stats.rounds += s.rounds;
    stats.handovers += s.handovers;
    if (n.locker.cas.recoveryStatus.state === "recovered") stats.recoveries++;
  };
  const boot = (n: SimNode, first: boolean): void => {
    const transport = net.transport(n.name, { request: { attemptTimeoutMs: 50, retries: 3, timeoutMs: 1000 } });
    n.transport = transport;
    n.incarnation++;
    // Wall clocks disagree a little (HLC ballots must cope); less than the quiet period, see DESIGN.md's known edge.
    net.nodeClock(n.name).wallSkewMs = Math.round(between(rng, -SIM_LIMITS.maxWallSkewMs, SIM_LIMITS.maxWallSkewMs));
    n.locker = new Locker({
      name: n.name,
      channel: transport,
      clock: net.nodeClock(n.name),
      random: rng.fork(),
      voters,
      maxLeaseMs: SIM_LIMITS.maxLeaseMs,
      limits: { minLeaseMs: SIM_LIMITS.minLeaseMs, maxTimeoutMs: SIM_LIMITS.maxTimeoutMs },
      gcGraceMs: SIM_LIMITS.gcGraceMs,
      // A fresh cluster's voters may vote at once; a restarted one (memory lost) waits out the longest lease.
      quietPeriodMs: first || options.unsafeSkipQuietPeriod === true ? 0 : undefined,
      // Wall clocks differ by at most twice the skew each is given.
      recovery: {
        enabled: options.recovery ?? true,
        maxClockSkewMs: 2 * SIM_LIMITS.maxWallSkewMs,
        requestTimeoutMs: 300,
        ...(options.unsafeRecoverySkipRewrite === true ? { unsafeSkipRewrite: true } : {}),
      },
      driftRatio: SIM_LIMITS.driftRatio,
      // A failure detector that is sometimes wrong (as SWIM can be for a while): safety must not rest on it.
      isVoterAlive: (voter) => !suspected.has(voter),
      defaultTimeoutMs: SIM_LIMITS.maxTimeoutMs,
      requestAttemptTimeoutMs: 40,
    });
  };
  const crash = (n: SimNode, why: string): void => {
    if (!n.locker) return;
    collectStats(n);
    net.crash(n.name);
    n.locker = undefined;
    stats.crashes++;
    log(`crash ${n.name} (${why})`);
    for (const abandon of [...n.onCrash]) abandon();
    n.onCrash.clear();
  };
  /** A clean shutdown (Locker.close, then its socket) and a later start with empty memory. */
  const stop = (n: SimNode, restartAfterMs: number): void => {
    const locker = n.locker;
    const transport = n.transport;
    if (!locker || !transport) return;
    collectStats(n);
    n.locker = undefined;
    stats.stops++;
    log(`stop ${n.name} (graceful)`);
    // Operations in flight on it end with "unavailable"; its timers must all be cleared.
    void locker.close().then(() => transport.close());
    clock.setTimer(restartAfterMs, () => restart(n));
  };
  const restart = (n: SimNode): void => {
    if (n.locker) return;
    boot(n, false);
    log(`restart ${n.name} (empty memory: recovers from the others, or waits out ${SIM_LIMITS.maxLeaseMs} ms)`);
  };
  for (const name of names) {
    const n: SimNode = { name, locker: undefined, transport: undefined, incarnation: 0, onCrash: new Set() };
    nodes.set(name, n);
    boot(n, true);
  }

  /** Waits for `p`, unless the node crashes first or it outlives `guardMs`. */
  const attempt = <T>(n: SimNode, p: Promise<T>, guardMs: number): Promise<Settled<T>> =>
    new Promise((resolve) => {
      let done = false;
      const finish = (s: Settled<T>): void => {
        if (done) return;
        done = true;
        n.onCrash.delete(onCrash);
        clock.clearTimer(guard);
        resolve(s);
      };
      const onCrash = (): void => finish({ kind: "crashed" });
      n.onCrash.add(onCrash);
      const guard = clock.setTimer(guardMs, () => finish({ kind: "hung" }));
      p.then(
        (value) => finish({ kind: "ok", value }),
        (error: unknown) => finish({ kind: "error", error }),
      );
    });

  const unexpectedErrors: string[] = [];
  const outcomeOfError = (s: Settled<unknown>): Outcome => {
    if (s.kind === "crashed") return { kind: "unknown", code: "coordinator crashed" };
    if (s.kind === "hung") return { kind: "unknown", code: "hung" };
    if (s.kind !== "error") throw new Error("invariant: not an error");
    const e = s.error;
    if (!(e instanceof LockerError)) {
      // The API promises LockerErrors only: anything else is a bug, reported with the run.
      const text = e instanceof Error ? `${e.name}: ${e.message} ${(e.stack ?? "").split("\n").slice(1, 4).join(" | ")}` : String(e);
      unexpectedErrors.push(`${clock.now().toFixed(3)} ${text}`);
      return { kind: "unknown", code: `unexpected ${e instanceof Error ? e.name : typeof e}` };
    }
    return outcomeOfErrorCode(e.code);
  };

  let nextValue = 0;
  const touched = new Set<string>(keys);
  const allValues: string[] = [];
  let running = true;

  const client = async (c: number): Promise<void> => {
    const name = `c${c}`;
    const crng = rng.fork();
    const held = new Map<string, string>();
    while (running) {
      await sleep(clock, between(crng, 0, thinkMs));
      if (!running) break;
      const up = names.map((x) => nodes.get(x)!).filter((x) => x.locker !== undefined);
      if (up.length === 0) {
        await sleep(clock, 20);
        continue;
      }
      const n = pick(crng, up);
      const locker = n.locker!;
      const key = crng.next() < 0.1 ? `cold${crng.int(SIM_LIMITS.coldKeys)}` : pick(crng, keys);
      touched.add(key);
      const timeoutMs = Math.round(between(crng, 30, SIM_LIMITS.maxTimeoutMs));
      const guardMs = timeoutMs + SIM_LIMITS.maxPauseMs * 2 + 1000;
      const mine = held.get(key);
      const someValue = (): string => (mine !== undefined && crng.next() < 0.8 ? mine : allValues.length > 0 && crng.next() < 0.8 ? pick(crng, allValues) : `bogus${crng.int(1000)}`);
      const roll = crng.next();
      let op: OpName;
      if (options.lockRelease) op = roll < 0.5 ? "lock" : roll < 0.9 ? "release" : "read";
      else if (roll < 0.3) op = "lock";
      else if (roll < 0.45) op = "read";
      else if (roll < 0.57) op = "update";
      else if (roll < 0.69) op = "extendLease";
      else if (roll < 0.84) op = "release";
      else if (roll < 0.92) op = "dirtyRead";
      else if (roll < 0.96) op = "waitFor";
      else op = "waitForRelease";
      stats.ops++;
      const record = (id: number, outcome: Outcome): void => {
        recorder.complete(id, clock.now(), outcome);
        countOutcome(stats, outcome);
      };
      switch (op) {
        case "lock": {
          const value = `${name}.${nextValue++}`;
          allValues.push(value);
          const leaseMs = Math.round(between(crng, leaseRangeMs[0], leaseRangeMs[1]));
          const id = recorder.invoke(clock.now(), name, key, "lock", { value, leaseMs, timeoutMs });
          const s = await attempt(n, locker.lock(key, value, { leaseMs, timeoutMs }), guardMs);
          if (s.kind === "ok") {
            const r: LockResult = s.value;
            record(id, { kind: "ok", token: r.token, safeUntilMs: r.safeUntil });
            held.set(key, value);
          } else record(id, outcomeOfError(s));
          break;
        }
        case "update": {
          const expected = someValue();
          const newValue = `${name}.${nextValue++}`;
          allValues.push(newValue);
          const id = recorder.invoke(clock.now(), name, key, "update", { value: expected, newValue, timeoutMs });
          const s = await attempt(n, locker.update(key, expected, newValue, { timeoutMs }), guardMs);
          if (s.kind === "ok") {
            record(id, { kind: "ok" });
            if (mine === expected) held.set(key, newValue);
          } else record(id, outcomeOfError(s));
          break;
        }
        case "extendLease": {
          const value = someValue();
          const leaseMs = Math.round(between(crng, leaseRangeMs[0], leaseRangeMs[1]));
          const id = recorder.invoke(clock.now(), name, key, "extendLease", { value, leaseMs, timeoutMs });
          const s = await attempt(n, locker.extendLease(key, value, leaseMs, { timeoutMs }), guardMs);
          if (s.kind === "ok") record(id, { kind: "ok", safeUntilMs: s.value.safeUntil });
          else record(id, outcomeOfError(s));
          break;
        }
        case "release": {
          const value = someValue();
          const id = recorder.invoke(clock.now(), name, key, "release", { value, timeoutMs });
          if (value === mine) held.delete(key);
          const s = await attempt(n, locker.release(key, value, { timeoutMs }), guardMs);
          if (s.kind === "ok") record(id, { kind: "ok" });
          else record(id, outcomeOfError(s));
          break;
        }
        case "read": {
          const id = recorder.invoke(clock.now(), name, key, "read", { timeoutMs });
          const s = await attempt(n, locker.read(key, { timeoutMs }), guardMs);
          if (s.kind === "ok") {
            const e = s.value;
            record(id, e === undefined ? { kind: "ok", value: null } : { kind: "ok", value: String(e.value), token: e.token });
          } else record(id, outcomeOfError(s));
          break;
        }
        case "dirtyRead": {
          const id = recorder.invoke(clock.now(), name, key, "dirtyRead");
          let read: { kind: "ok"; value: string | null } | undefined;
          try {
            const e = locker.dirtyRead(key);
            read = { kind: "ok", value: e === undefined ? null : String(e.value) };
          } catch (error) {
            record(id, outcomeOfError({ kind: "error", error }));
            break;
          }
          record(id, read);
          break;
        }
        case "waitFor": {
          const id = recorder.invoke(clock.now(), name, key, "waitFor");
          const s = await attempt(n, locker.waitFor(key, timeoutMs), guardMs);
          if (s.kind === "ok") record(id, { kind: "ok", value: String(s.value) });
          else record(id, s.kind === "error" && isLockerError(s.error, "timeout") ? { kind: "void", code: "timeout" } : outcomeOfError(s));
          break;
        }
        case "waitForRelease": {
          const id = recorder.invoke(clock.now(), name, key, "waitForRelease");
          const s = await attempt(n, locker.waitForRelease(key, timeoutMs), guardMs);
          if (s.kind === "ok") record(id, { kind: "ok" });
          else record(id, s.kind === "error" && isLockerError(s.error, "timeout") ? { kind: "void", code: "timeout" } : outcomeOfError(s));
          break;
        }
        default:
          throw new Error(`invariant: unknown op ${op}`);
      }
    }
  };

  const nemesis = async (): Promise<void> => {
    const nrng = rng.fork();
    const f = Math.floor((voterCount - 1) / 2);
    while (clock.now() < workloadMs) {
      await sleep(clock, between(nrng, nemesisGapMs[0], nemesisGapMs[1]));
      if (clock.now() >= workloadMs) break;
      const roll = nrng.next();
      const all = [...nodes.values()];
      const voterNodes = voterNames.map((x) => nodes.get(x)!);
      // Voters down: at most f+1 at once, so a quorum is sometimes lost but the run goes on.
      const down = voterNodes.filter((n) => !n.locker);
      if (roll < 0.22) {
        const faults: Partial<FaultConfig> = {
          lossRate: nrng.next() < 0.3 ? 0 : between(nrng, 0, 0.3),
          duplicateRate: between(nrng, 0, 0.2),
          reorderRate: between(nrng, 0, 0.3),
          reorderDelayMs: between(nrng, 0, SIM_LIMITS.maxReorderDelayMs),
          minDelayMs: between(nrng, 0.1, 1),
          maxDelayMs: between(nrng, 1, SIM_LIMITS.maxDelayMs),
        };
        net.setFaults(faults);
        stats.faultChanges++;
        log(`faults ${JSON.stringify(faults, (_k, v: unknown) => (typeof v === "number" ? Math.round(v * 1000) / 1000 : v))}`);
      } else if (roll < 0.4) {
        const side = names.filter(() => nrng.next() < 0.5);
        net.partition(side);
        stats.partitions++;
        const healAfter = between(nrng, 30, 600);
        log(`partition [${side.join(",")}] | rest, heal in ${healAfter.toFixed(0)} ms`);
        clock.setTimer(healAfter, () => {
          net.heal();
          log("heal");
        });
      } else if (roll < 0.44) {
        // The liveness hint suspects a voter (alive or not) for a while.
        const v = pick(nrng, voterNames);
        suspected.add(v);
        stats.suspicions++;
        const forMs = between(nrng, 20, 400);
        log(`suspect ${v} for ${forMs.toFixed(0)} ms`);
        clock.setTimer(forMs, () => suspected.delete(v));
      } else if (roll < 0.47) {
        const from = pick(nrng, names);
        const to = pick(nrng, names);
        if (from !== to) {
          net.block(from, to);
          log(`block ${from}>${to}`);
        }
      } else if (roll < 0.6) {
        const n = pick(nrng, all);
        const ms = between(nrng, 5, SIM_LIMITS.maxPauseMs);
        // Never extend a pause in progress: GRANT_SLACK_MS assumes one pause at a time per node.
        if (!net.nodeClock(n.name).paused) {
          net.pause(n.name, ms);
          stats.pauses++;
          log(`pause ${n.name} ${ms.toFixed(0)} ms`);
        }
      } else if (roll < 0.66) {
        // A power cut: a majority dies at once and comes back with empty memory a moment later.
        // Only the quiet period keeps the leases they held from being granted again.
        if (down.length === 0) {
          const victims = shuffle([...voterNodes], nrng).slice(0, f + 1);
          for (const n of victims) crash(n, "power cut");
          for (const n of victims) clock.setTimer(between(nrng, 1, 60), () => restart(n));
        }
      } else if (roll < 0.8) {
        // Crash-restart with memory loss, of a voter or a non-voting coordinator.
        const upNodes = all.filter((n) => n.locker);
        if (down.length <= f && upNodes.length > 0) {
          const n = pick(nrng, upNodes);
          if (nrng.next() < 0.3) stop(n, between(nrng, 5, 900));
          else {
            crash(n, voterNames.includes(n.name) ? "voter" : "coordinator");
            clock.setTimer(between(nrng, 5, 900), () => restart(n));
          }
        }
      } else {
        // A coordinator dies mid-round: a node with client operations in flight, a moment after they began.
        const busy = all.filter((n) => n.locker && n.onCrash.size > 0);
        if (busy.length > 0 && down.length <= f) {
          const n = pick(nrng, busy);
          const delay = between(nrng, 0, 3);
          clock.setTimer(delay, () => {
            if (!n.locker) return;
            crash(n, "coordinator mid-round");
            clock.setTimer(between(nrng, 5, 900), () => restart(n));
          });
        }
      }
    }
    // Calm down for the end of the run: heal, restart, a clean network.
    net.heal();
    suspected.clear();
    net.setFaults({ lossRate: 0, duplicateRate: 0, reorderRate: 0, minDelayMs: 0.2, maxDelayMs: 2 });
    for (const n of nodes.values()) restart(n);
    log("calm: healed, all nodes up");
  };

  const clientRuns = Array.from({ length: clientCount }, (_, c) => client(c));
  let nemesisDone = calm;
  if (!calm) {
    void nemesis().then(() => {
      nemesisDone = true;
    });
  }
  let clientsDone = false;
  void Promise.all(clientRuns).then(() => {
    clientsDone = true;
  });
  await runUntil(clock, workloadMs);
  running = false;
  await runUntil(clock, clock.now() + 1000, () => nemesisDone);
  if (!nemesisDone) throw new Error(`seed ${seed}: the nemesis did not finish`);
  // Let every client finish its last operation (bounded: guards end every wait).
  await runUntil(clock, clock.now() + 10_000, () => clientsDone);
  if (!clientsDone) throw new Error(`seed ${seed}: clients did not finish`);
  // After the quiet periods end, one linearizable read per key from each node catches lost or resurrected state.
  await runUntil(clock, clock.now() + SIM_LIMITS.maxLeaseMs + 50);
  for (const key of [...touched].sort()) {
    for (const n of nodes.values()) {
      const id = recorder.invoke(clock.now(), `final@${n.name}`, key, "read", { timeoutMs: SIM_LIMITS.maxTimeoutMs });
      const p = attempt(n, n.locker!.read(key, { timeoutMs: SIM_LIMITS.maxTimeoutMs }), 5000);
      let s: Settled<unknown> | undefined;
      void p.then((x) => {
        s = x;
      });
      await runUntil(clock, clock.now() + 6000, () => s !== undefined);
      if (!s) throw new Error("invariant: final read did not settle");
      if (s.kind === "ok") {
        const e = s.value as { value: unknown; token: bigint } | undefined;
        recorder.complete(id, clock.now(), e === undefined ? { kind: "ok", value: null } : { kind: "ok", value: String(e.value), token: e.token });
      } else {
        // Liveness: the network is whole, every node up and out of its quiet period.
        stats.finalReadFailures++;
        log(`final read of ${key} on ${n.name} failed: ${s.kind === "error" && s.error instanceof Error ? s.error.message : s.kind}`);
        recorder.complete(id, clock.now(), outcomeOfError(s));
      }
    }
  }
  for (const n of nodes.values()) {
    collectStats(n);
    if (n.locker?.cas.acceptor?.floor) stats.gcNodes++;
  }
  stats.virtualMs = clock.now();
  if (recorder.openCount > 0) throw new Error(`seed ${seed}: ${recorder.openCount} operations never settled`);
  const history = recorder.ops;
  const verdict = checkHistory(history, { grantSlackMs: GRANT_SLACK_MS, driftFactor: SIM_LIMITS.driftRatio });
  const fingerprint = createHash("sha256")
    .update(stringify(history))
    .update(events.join("\n"))
    .update(net.trace.join("\n"))
    .digest("hex");
  return { seed, voters: voterCount, history, verdict, events, stats, fingerprint, unexpectedErrors };
}

/**
 * The history of the keys a violation names, around the operations it names,
 * interleaved with the nemesis' actions (> marks the named operations).
 */
export function excerpt(result: SimResult, maxLines = 80): string {
  const ids = new Set(result.verdict.violations.flatMap((v) => v.ops));
  const keys = new Set(result.verdict.violations.map((v) => v.key));
  const named = result.history.filter((o) => ids.has(o.id));
  const from = named.length > 0 ? Math.min(...named.map((o) => o.invokeMs)) - 300 : Number.NEGATIVE_INFINITY;
  const to = named.length > 0 ? Math.max(...named.map((o) => (Number.isFinite(o.responseMs) ? o.responseMs : o.invokeMs))) + 100 : Number.POSITIVE_INFINITY;
  const lines: [number, string][] = [];
  for (const o of result.history) {
    if (!keys.has(o.key) || o.invokeMs < from || o.invokeMs > to) continue;
    lines.push([o.invokeMs, `${ids.has(o.id) ? ">" : " "} ${formatOp(o)}`]);
  }
  for (const e of result.events) {
    const at = Number(e.slice(0, e.indexOf(" ")));
    if (at >= from && at <= to) lines.push([at, `  ~ ${e}`]);
  }
  lines.sort((a, b) => a[0] - b[0]);
  const text = lines.map((l) => l[1]);
  return text.length > maxLines ? [...text.slice(0, maxLines), `… ${text.length - maxLines} more`].join("\n") : text.join("\n");
}

/** Every operation and nemesis action of a run in time order (for SIM_VERBOSE replays). */
export function timeline(result: SimResult): string {
  const lines: [number, string][] = result.history.map((o) => [o.invokeMs, formatOp(o)]);
  for (const e of result.events) lines.push([Number(e.slice(0, e.indexOf(" "))), `~ ${e}`]);
  lines.sort((a, b) => a[0] - b[0]);
  return lines.map((l) => l[1]).join("\n");
}
