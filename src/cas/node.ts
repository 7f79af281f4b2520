// The CAS driver: binds one node's acceptor (when it is a voter) and its
// proposer rounds to a transport channel and a Clock — requests and replies,
// per-key queues, retries with backoff, the fast-path cache, lease timers.
// Long because the fast path, peeks and retries share one round's lifecycle
// and the acceptor it hosts answers on the same channel; the pure parts
// (proposer.ts, acceptor.ts), the per-key queue (key-queue.ts) and recovery
// (recovery.ts) are apart.
import { BoundedMap } from "../util/bounded-map.js";
import { ANY_CONFIG_VERSION, isConfigRegister } from "./reserved.js";
import { LockerError } from "../errors.js";
import type { LockerLimits } from "../limits.js";
import type { Address, Channel } from "../transport/types.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import { DeadlineTimer } from "../util/deadline-timer.js";
import { DeadlineHeap } from "../util/deadline-heap.js";
import { whenQuorum } from "../util/quorum.js";
import { backoffDelayMs } from "../transport/backoff.js";
import type { Random } from "../util/random.js";
import { Acceptor, type AcceptorEvent, type LocalRecord } from "./acceptor.js";
import { KeyQueues, type ClaimedLock, type HandedOver } from "./key-queue.js";
import { ballotToString, HLC_TICKS_PER_MS, HybridLogicalClock, type Ballot } from "./ballot.js";
import { isCasReply, isCasRequest, type CasMessage, type CasReply, type CasRequest, type FenceReply, type FenceRequest } from "./messages.js";
import { PersistedFloor, type BallotFloorStore } from "./floor-store.js";
import { DEFAULT_MAX_CLOCK_SKEW_MS, FenceServer, VoterRecovery, type RecoveryOptions, type RecoveryStatus } from "./recovery.js";
import { bytesEqual, peekVerdict, ProposerRound, type KnownRecord, type PeekReply, type CasOp, type FastPathState, type OpResult, type Outgoing, type OwnWrite, type RoundOutcome } from "./proposer.js";

/**
 * `atMost`: every round of the operation uses a ballot counter ≤ it (a
 * forwarded operation at its coordinator); one that would need more is not
 * run (LockerError details `{ ran: false }`) or, once a change was sent,
 * ends with `timeout`. `above`: every round uses a counter > it, never a
 * cached promise (the forwarder running the operation itself): once such a
 * round is chosen, no round ≤ `above` can be chosen any more, so the
 * forwarded copy can never take effect after it.
 */
export interface BallotBounds {
  atMost?: number;
  above?: number;
}

/** The bounds both of two operations run in one round must keep. */
function intersectBounds(a: BallotBounds | undefined, b: BallotBounds | undefined): BallotBounds | undefined {
  if (!a) return b;
  if (!b) return a;
  const atMost = a.atMost === undefined ? b.atMost : b.atMost === undefined ? a.atMost : Math.min(a.atMost, b.atMost);
  const above = a.above === undefined ? b.above : b.above === undefined ? a.above : Math.max(a.above, b.above);
  return { ...(atMost === undefined ? {} : { atMost }), ...(above === undefined ? {} : { above }) };
}

const noop = (): void => undefined;

/**
 * Whether two operations' ballot bounds may share one round without either
 * being narrowed into failing: caps alone (forwarded operations: each cap is
 * at least its own budget ahead) always may; a floor (`above`, a forwarder's
 * own run after an unanswered forward) only together with the same bounds.
 */
function boundsCompatible(a: BallotBounds | undefined, b: BallotBounds | undefined): boolean {
  if (a?.above === undefined && b?.above === undefined) return true;
  return a?.above === b?.above && a?.atMost === b?.atMost;
}

export interface VoterSpec {
  /** Unique node name (the ballot tie-break). */
  readonly name: string;
  readonly address: Address;
}

export interface CasNodeOptions {
  name: string;
  channel: Channel<CasMessage>;
  clock: Clock;
  random: Random;
  voters: readonly VoterSpec[];
  configVersion: number;
  /** Liveness hint (SWIM): voters reported dead are not asked, and too few alive fails fast. */
  isVoterAlive: (name: string) => boolean;
  quietPeriodMs: number;
  /**
   * Voter recovery (recovery.ts): a restarted voter makes the other voters
   * cover for what it forgot and votes without waiting out the quiet period.
   * Defaults: enabled, maxClockSkewMs 2000, requestTimeoutMs 2000, concurrency 16.
   */
  recovery?: Partial<RecoveryOptions>;
  /** Persisted ballot floor (floor-store.ts): a voter's tokens then increase across restarts of every voter. */
  ballotFloor?: BallotFloorStore;
  gcGraceMs: number;
  limits: LockerLimits;
  /** First backoff ceiling after a conflict; doubles per retry up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Per-attempt timeout of one request (the transport retries within the operation's budget). */
  requestAttemptTimeoutMs: number;
  /**
   * A holder's release grants the lock queued next on this node in the same
   * round (one round per grant on a contended key). Default true; false runs
   * them as two rounds (for comparisons).
   */
  handover?: boolean;
  /** How long a refused change waits for its last accept replies, to learn it landed nowhere. */
  drainGraceMs: number;
  /** Local view events of this node's acceptor. */
  onAcceptorEvents: (events: AcceptorEvent[]) => void;
  /**
   * Reconfiguration hook (src/cluster/configurator.ts): a request carried a
   * configuration version newer than this node's; the hook fetches it.
   */
  onNewerConfig?: (version: number, from: Address) => void;
  /**
   * Reconfiguration hook: a voter refused a round because it runs `version`,
   * newer than this node's. Resolves true once this node runs that version
   * (the operation is then retried under it), false if it could not learn it.
   */
  awaitConfig?: (version: number) => Promise<boolean>;
  /**
   * Reconfiguration hook: whether a restarted voter may recover now (null) or
   * why not. Recovery covers what was chosen under the running configuration
   * only, so it waits until that configuration's rewrite has finished.
   * Without the hook the configuration is static and recovery may always run.
   */
  recoveryGate?: () => Promise<string | null>;
}

export interface CasNodeStats {
  operations: number;
  rounds: number;
  /** Rounds that started at accept (the one-round-trip path). */
  fastRounds: number;
  /** Fast-path rounds that found the cached promise gone and fell back to prepare. */
  fastFallbacks: number;
  conflicts: number;
  /** Request phases run (each is one round trip to the voters). */
  preparePhases: number;
  acceptPhases: number;
  /** Requests sent, including to this node's own acceptor. */
  prepareRequests: number;
  acceptRequests: number;
  /** Requests this node's acceptor handled. */
  acceptorRequests: number;
  /** Malformed or unexpected requests refused. */
  badRequests: number;
  /** Queued locks answered `locked` from the round of the operation before them (no round of their own). */
  coalesced: number;
  /** Rounds tried on voters SWIM showed unreachable (a stale view), instead of failing fast at once. */
  staleViewTries: number;
  /** Lock attempts answered `locked` by a peek (no promise taken). */
  peekLocked: number;
  /** Peeks that could not decide (the lock then ran a normal round). */
  peekInconclusive: number;
  /** Releases that granted the lock waiting next in the same round (one round per grant on a contended key). */
  handovers: number;
}

export class CasNode {
  /** Replaced by applyConfiguration (reconfiguration): null while this node is not a voter. */
  acceptor: Acceptor | null;
  readonly stats: CasNodeStats = {
    operations: 0,
    rounds: 0,
    fastRounds: 0,
    fastFallbacks: 0,
    conflicts: 0,
    preparePhases: 0,
    acceptPhases: 0,
    prepareRequests: 0,
    acceptRequests: 0,
    acceptorRequests: 0,
    badRequests: 0,
    coalesced: 0,
    peekLocked: 0,
    peekInconclusive: 0,
    staleViewTries: 0,
    handovers: 0,
  };
  /** A majority of the configured voters; changes with applyConfiguration. */
  quorum: number;
  /** When this node started with empty memory (the quiet period counts from it, also for a later promotion). */
  private readonly startedAt: number;
  private readonly hlc = new HybridLogicalClock();
  private readonly voterAddress = new Map<string, Address>();
  private readonly keyQueues: KeyQueues;
  /** The clock skew the recovery argument allows (also the lead of a forward's ballot bound). */
  private readonly maxClockSkewMs: number;
  /** Per key: the promise our last accept carried, and when we learned it. */
  private readonly fastCache: BoundedMap<string, { fast: FastPathState; at: number }>;
  private readonly abandonOnClose = new Set<() => void>();
  /**
   * Each running round's deadline (round seq → its abandon), behind one
   * timer: a timer per round was an allocation and a clearTimeout per round
   * on the busiest path. A settled round's entry is skipped when it comes due.
   */
  private readonly roundDeadlines = new DeadlineHeap<number>();
  private readonly roundAbandons = new Map<number, () => void>();
  private readonly roundTimer: DeadlineTimer;
  private roundSeq = 0;
  /** Keys this node recently found held, with the lease's estimated end: lock attempts on them peek first. */
  private readonly heldHints: BoundedMap<string, number>;
  private pending = 0;
  private closed = false;
  private readonly contestedListeners: Array<(key: string) => void> = [];
  /** Runs the acceptor's due lease expiries and garbage collection. */
  private readonly expiry: DeadlineTimer;
  private readonly recovery: VoterRecovery;
  private readonly fenceServer: FenceServer;
  private readonly persistedFloor: PersistedFloor | undefined;

  constructor(private readonly o: CasNodeOptions) {
    this.expiry = new DeadlineTimer(o.clock, () => this.tickNow());
    this.roundTimer = new DeadlineTimer(o.clock, () => this.roundsRanOut());
    this.fastCache = new BoundedMap(o.limits.maxFastPathKeys);
    this.heldHints = new BoundedMap(o.limits.maxFastPathKeys);
    this.keyQueues = new KeyQueues({ clock: o.clock, maxQueuedPerKey: o.limits.maxQueuedPerKey, lockedMessage: failureMessage("locked"), onCoalesced: (n) => (this.stats.coalesced += n) });
    const names = new Set<string>();
    for (const v of o.voters) {
      if (names.has(v.name)) throw new LockerError("invalid", `voter "${v.name}" is listed twice`);
      names.add(v.name);
      this.voterAddress.set(v.name, v.address);
    }
    if (o.voters.length === 0) throw new LockerError("invalid", "at least one voter is needed");
    this.quorum = Math.floor(o.voters.length / 2) + 1;
    this.startedAt = o.clock.now();
    // Start a millisecond ahead of wall time: a restart of this node (same
    // name) then cannot reissue a ballot its previous life issued in its last
    // millisecond — one ballot must never carry two values.
    this.hlc.observe((Math.floor(o.clock.wallNow()) + 1) * 1024);
    this.acceptor = names.has(o.name)
      ? new Acceptor({
          configVersion: o.configVersion,
          quietUntil: o.clock.now() + o.quietPeriodMs,
          gcGraceMs: o.gcGraceMs,
          maxKeys: o.limits.maxKeys,
        })
      : null;
    this.persistedFloor = o.ballotFloor ? new PersistedFloor(o.ballotFloor) : undefined;
    if (this.persistedFloor && this.persistedFloor.value > 0) {
      // Every ballot of an earlier life is at or below it: start above it.
      this.hlc.observe(this.persistedFloor.value);
      this.acceptor?.restoreFloor({ c: this.persistedFloor.value, node: o.name });
    }
    this.maxClockSkewMs = o.recovery?.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
    const recovery: RecoveryOptions = {
      enabled: o.recovery?.enabled ?? true,
      maxClockSkewMs: this.maxClockSkewMs,
      requestTimeoutMs: o.recovery?.requestTimeoutMs ?? 2000,
      concurrency: o.recovery?.concurrency ?? 16,
      maxKeys: o.limits.maxKeys,
      maxLeaseMs: o.limits.maxLeaseMs,
      ...(o.recovery?.unsafeSkipRewrite === true ? { unsafeSkipRewrite: true } : {}),
      ...(o.recovery?.onRecovered ? { onRecovered: o.recovery.onRecovered } : {}),
    };
    if (!(recovery.maxClockSkewMs >= 0 && recovery.maxClockSkewMs <= 60_000)) throw new LockerError("invalid", "maxClockSkewMs must be between 0 and 60000 ms");
    if (!(Number.isInteger(recovery.concurrency) && recovery.concurrency >= 1)) throw new LockerError("invalid", "recovery concurrency must be a positive integer");
    if (!(recovery.requestTimeoutMs > 0)) throw new LockerError("invalid", "recovery requestTimeoutMs must be positive");
    this.fenceServer = new FenceServer({ clock: o.clock, random: o.random, maxClockSkewMs: recovery.maxClockSkewMs, maxLeaseMs: o.limits.maxLeaseMs, pageBudgetBytes: o.channel.maxMessageBytes - 64 });
    this.recovery = new VoterRecovery(this.recoveryHost(), recovery);
    o.channel.onRequest((msg, from) => this.onRequest(msg, from));
    this.recovery.start();
  }

  /** Durable writes of the persisted ballot floor so far (0 without one). */
  get floorWrites(): number {
    return this.persistedFloor?.writes ?? 0;
  }

  /** How this voter's recovery after a restart went (recovery.ts). */
  get recoveryStatus(): Readonly<RecoveryStatus> {
    return this.recovery.snapshot;
  }

  private recoveryHost(): ConstructorParameters<typeof VoterRecovery>[0] {
    const node = this;
    return {
      name: this.o.name,
      clock: this.o.clock,
      random: this.o.random,
      get configVersion() {
        return node.o.configVersion;
      },
      get voters() {
        return node.o.voters;
      },
      get quorum() {
        return node.quorum;
      },
      get acceptor() {
        return node.acceptor;
      },
      get closed() {
        return node.closed;
      },
      hlcCurrent: () => this.hlc.current,
      observe: (c) => void this.hlc.observe(c),
      fence: (voter, msg, timeoutMs) => this.fenceRequest(voter, msg, timeoutMs),
      gate: () => (this.o.recoveryGate ? this.o.recoveryGate() : Promise.resolve(null)),
      read: async (key, timeoutMs) => {
        await this.execute(key, { kind: "read" }, timeoutMs);
      },
    };
  }

  private fenceRequest(voter: string, msg: FenceRequest, timeoutMs: number): Promise<FenceReply> {
    const address = this.voterAddress.get(voter);
    if (address === undefined) return Promise.reject(new LockerError("invalid", `unknown voter ${voter}`));
    try {
      return this.o.channel
        .request(address, msg, this.attemptsWithin(timeoutMs))
        .then((m) => {
          if (m.type === "fenced") return m;
          throw new LockerError("unavailable", `unexpected ${m.type} reply from ${voter}`);
        });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  get pendingOperations(): number {
    return this.pending;
  }

  get fastPathKeys(): number {
    return this.fastCache.size;
  }

  get voterCount(): number {
    return this.o.voters.length;
  }

  get isVoter(): boolean {
    return this.acceptor !== null;
  }

  /** Whether this node's own acceptor is still in its quiet period. */
  get quiet(): boolean {
    return this.acceptor ? this.acceptor.isQuiet(this.o.clock.now()) : false;
  }

  // ---- what the layers above read of this node's acceptor (never the acceptor itself) ----

  /**
   * Every key this node's acceptor holds state for (live, dead not yet
   * forgotten, only promised), for a reconfiguration's rewrite and a
   * restarted voter's key listing; undefined when this node is no voter or
   * its acceptor is quiet (restarted with memory lost: its listing is incomplete).
   */
  heldKeyNames(): string[] | undefined {
    return this.acceptor && !this.quiet ? [...this.acceptor.keyNames()] : undefined;
  }

  /** Live records of this node's acceptor whose key starts with `prefix` (none on a non-voter). O(keys). */
  liveEntries(prefix: string, limit = Number.MAX_SAFE_INTEGER): Array<[string, LocalRecord]> {
    return this.acceptor ? this.acceptor.entries(prefix, this.o.clock.now(), limit) : [];
  }

  /** The state this node's acceptor accepted for `key` (what replication pushes), or undefined if none. */
  acceptedState(key: string): { accepted: Ballot; origin: Ballot | null; record: LocalRecord | null } | undefined {
    const s = this.acceptor?.inspect(key);
    return s && s.accepted ? { accepted: s.accepted, origin: s.origin, record: s.record } : undefined;
  }

  /**
   * A ballot bound for an operation forwarded now with a budget of
   * `budgetMs` (src/node/affinity.ts); the coordinator's rounds must fit
   * below it, so it leads by the budget both this node's wall clock plus the
   * clock skew allowed (a restarted voter's floor runs that far ahead) and
   * this node's HLC (floors of recoveries in quick succession stack up, and
   * a fenced voter's HLC has observed them). The HLC term does not ratchet:
   * a run above a bound (which raises the HLC to it) starts only after the
   * forward's whole wait, longer than the budget, so the wall clock gains on
   * the HLC with every round of forwards and fallbacks.
   */
  forwardBallotCap(budgetMs: number): number {
    const ahead = budgetMs * HLC_TICKS_PER_MS;
    return Math.max((Math.floor(this.o.clock.wallNow()) + this.maxClockSkewMs) * HLC_TICKS_PER_MS, this.hlc.current) + ahead;
  }

  /** Runs one operation on a key: queued behind earlier ones on the same key from this node. */
  async execute(key: string, op: CasOp, timeoutMs: number, ballots?: BallotBounds): Promise<OpResult> {
    if (this.closed) throw new LockerError("unavailable", "locker is closed");
    if (this.pending >= this.o.limits.maxPendingRounds) {
      throw new LockerError("unavailable", `too many operations in flight on this node (limit ${this.o.limits.maxPendingRounds})`, {
        pending: this.pending,
      });
    }
    const deadline = this.o.clock.now() + timeoutMs;
    this.pending++;
    this.stats.operations++;
    try {
      // A release goes through the queue's turn even on a free key: locks invoked in
      // the same turn then wait behind it, and it can grant the first (a handover).
      const entered = op.kind !== "release" && this.keyQueues.tryEnter(key) ? undefined : await this.enterKey(key, deadline, op, ballots);
      // A holder's release ran this lock in its own round (a handover): that round's outcome is this lock's.
      if (entered) return await entered.handedOver;
      const claimed = op.kind === "release" ? this.claimHandover(key, deadline, ballots) : undefined;
      const startedAt = this.o.clock.now();
      let heldAfter = false;
      try {
        if (claimed) return await this.runHandover(key, op as Extract<CasOp, { kind: "release" }>, deadline, ballots, claimed);
        const result = await this.run(key, op, deadline, ballots);
        heldAfter = op.kind !== "release" && op.kind !== "read" && result.record !== null;
        return result;
      } catch (e) {
        heldAfter = e instanceof LockerError && e.code === "locked";
        throw e;
      } finally {
        this.keyQueues.leave(key, heldAfter || (claimed?.granted ?? false) ? startedAt : undefined);
      }
    } finally {
      this.pending--;
    }
  }

  /** A lock waiting behind this release that the release's round may grant (see KeyQueues.claimNextLock). */
  private claimHandover(key: string, deadline: number, ballots: BallotBounds | undefined): (ClaimedLock & { granted: boolean }) | undefined {
    if (this.o.handover === false) return undefined;
    // The round runs on the release's budget and answers the lock too: a
    // release about to run out would make a lock with time to spare fail with
    // it. Both need room for a round with a retransmission or two.
    const roundMs = 4 * this.o.requestAttemptTimeoutMs;
    if (deadline - this.o.clock.now() < roundMs) return undefined;
    const claimed = this.keyQueues.claimNextLock(key, roundMs, (context) => boundsCompatible(ballots, context as BallotBounds | undefined));
    return claimed ? Object.assign(claimed, { granted: false }) : undefined;
  }

  /**
   * One round for a holder's release and the lock waiting next: the key goes
   * from the holder straight to the lock's value, with a new lease and token.
   * If the release's check fails (the key is not the holder's), nothing was
   * written: the release answers that and the lock waits its turn again.
   * Any other end (no quorum, an unknown outcome) is the answer of both: one
   * change carried both. The round keeps the release's budget; a lock whose
   * own budget ends first is answered `timeout` then (the grant may still land).
   */
  private async runHandover(
    key: string,
    release: Extract<CasOp, { kind: "release" }>,
    deadline: number,
    ballots: BallotBounds | undefined,
    claimed: ClaimedLock & { granted: boolean },
  ): Promise<OpResult> {
    const op: CasOp = { kind: "handover", expected: release.value, value: claimed.op.value, leaseMs: claimed.op.leaseMs };
    const round = this.run(key, op, deadline, intersectBounds(ballots, claimed.context as BallotBounds | undefined));
    let lockAnswered = false;
    const lockBudget = this.o.clock.setTimer(Math.max(0, claimed.deadline - this.o.clock.now()), () => {
      lockAnswered = true;
      claimed.settle(Promise.reject(new LockerError("timeout", "the lock's time budget ran out during the round of the holder's release that grants it; it may still take effect", { outcome: "unknown" })));
    });
    try {
      const result = await round;
      this.stats.handovers++;
      claimed.granted = true;
      if (!lockAnswered) claimed.settle(round);
      return result;
    } catch (e) {
      if (!lockAnswered) {
        if (e instanceof LockerError && (e.code === "mismatch" || e.code === "not_found")) claimed.putBack();
        else claimed.settle(round);
      }
      throw e;
    } finally {
      this.o.clock.clearTimer(lockBudget);
    }
  }

  /**
   * Calls `listener` with the key whenever an operation on it lost a round to
   * another proposer (its cached promise overtaken, or a higher ballot seen):
   * the key is being proposed on from more than one node.
   */
  onContested(listener: (key: string) => void): void {
    this.contestedListeners.push(listener);
  }

  /** Time for a majority of voters to answer a probe (ms). */
  async probe(timeoutMs: number): Promise<number> {
    if (this.closed) throw new LockerError("unavailable", "locker is closed");
    const t0 = this.o.clock.now();
    const deadline = t0 + timeoutMs;
    const ask = this.o.voters.filter((v) => v.name === this.o.name || this.o.isVoterAlive(v.name));
    if (ask.length < this.quorum) throw new LockerError("no_quorum", this.noQuorumReason(ask.map((v) => v.name)));
    const probe: CasRequest = { type: "probe", cfg: this.o.configVersion };
    const answers = ask.map((v) => this.request(v.name, probe, deadline));
    await whenQuorum(answers, this.quorum, (r) => r.type === "pong" && r.cfg === this.o.configVersion, () => new LockerError("no_quorum", "fewer than a majority of voters answered the probe"));
    return this.o.clock.now() - t0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.expiry.cancel();
    this.recovery.stop();
    for (const abandon of [...this.abandonOnClose]) abandon();
    this.roundTimer.cancel();
    this.keyQueues.wakeAll();
  }

  // ---- operations ----

  private async enterKey(key: string, deadline: number, op: CasOp, ballots: BallotBounds | undefined): Promise<HandedOver | undefined> {
    const entered = await this.keyQueues.enter(key, deadline, op, ballots);
    if (entered) return entered;
    if (this.closed) {
      this.keyQueues.leave(key);
      throw new LockerError("unavailable", "locker is closed");
    }
    return undefined;
  }

  /**
   * Why fewer than a quorum can vote, in words an operator can act on: which
   * voters SWIM cannot reach, and whether this node's own vote waits out its
   * quiet period (a lone restarted voter is alive, just not voting yet).
   */
  noQuorumReason(voting: readonly string[]): string {
    const set = new Set(voting);
    const now = this.o.clock.now();
    const unreachable = this.o.voters.filter((v) => v.name !== this.o.name && !set.has(v.name)).map((v) => v.name);
    const quietSelf = this.acceptor !== null && this.acceptor.isQuiet(now);
    const parts = [`${voting.length} of ${this.o.voters.length} voters can vote (a quorum is ${this.quorum})`];
    if (unreachable.length > 0) parts.push(`unreachable: ${unreachable.join(", ")}`);
    if (quietSelf) parts.push(this.quietReason(now));
    return parts.join("; ");
  }

  /** Why this voter does not vote yet, and until when at the latest. */
  quietReason(now = this.o.clock.now()): string {
    const seconds = this.acceptor ? Math.ceil((this.acceptor.config.quietUntil - now) / 1000) : 0;
    return `this voter is in its quiet period after a restart, voting again in ${seconds} s${this.recoveryNote()}`;
  }

  /** What recovery adds to a quiet voter's reason: "" when it is not trying. */
  recoveryNote(): string {
    const r = this.recovery.snapshot;
    if (r.state === "recovering") return ` unless it recovers from the other voters first${r.lastError ? ` (attempt ${r.attempts}: ${r.lastError})` : ""}`;
    if (r.state === "impossible") return ` (${r.lastError ?? "it cannot recover from other voters"})`;
    return "";
  }

  /**
   * The voters that can vote now, as membership sees them. Recomputed at
   * most once per millisecond: a busy node starts many rounds a millisecond,
   * and each round only reads the array it is given.
   */
  private aliveVoters(): readonly string[] {
    const now = this.o.clock.now();
    const cached = this.aliveCache;
    if (cached !== undefined && now >= cached.at && now - cached.at < 1) return cached.voters;
    const voters = this.o.voters
      .filter((v) => (v.name === this.o.name ? this.acceptor !== null && !this.quiet : this.o.isVoterAlive(v.name)))
      .map((v) => v.name);
    this.aliveCache = { at: now, voters };
    return voters;
  }

  private aliveCache: { at: number; voters: readonly string[] } | undefined;

  private async run(key: string, op: CasOp, deadline: number, ballots: BallotBounds | undefined): Promise<OpResult> {
    const ownWrites: OwnWrite[] = [];
    let conflicts = 0;
    // A lower bound: fresh ballots above it (never a cached promise, which may be below).
    let skipCache = ballots?.above !== undefined;
    if (ballots?.above !== undefined && !this.hlc.observe(ballots.above)) {
      throw new LockerError("timeout", "the ballot bound of this operation is implausibly far ahead: not run, but a forwarded copy may take effect", { outcome: "unknown" });
    }
    const unknownOrNoQuorum = (why: string, details: Record<string, unknown> = {}): LockerError =>
      ownWrites.length > 0
        ? new LockerError("timeout", `${why}; a change was sent and may still take effect`, { ...details, outcome: "unknown" })
        : new LockerError("no_quorum", why, details);
    let peeked = false;
    let triedUnreachable = false;
    let contestedTold = false;
    for (;;) {
      if (this.closed) throw new LockerError("unavailable", "locker is closed");
      const now = this.o.clock.now();
      if (now >= deadline) throw unknownOrNoQuorum("the operation's time budget ran out");
      const alive = this.aliveVoters();
      if (op.kind === "lock" && !peeked && ownWrites.length === 0 && alive.length >= this.quorum && this.believedHeld(key, now)) {
        // A lock on a key believed held first asks a majority without
        // promising anything: if it is held, the answer is `locked` and the
        // holder's next round (its release) is not pushed aside.
        peeked = true;
        const held = await this.peek(key, alive, deadline);
        if (held) {
          this.stats.peekLocked++;
          this.noteHeld(key, held.expiresAt);
          throw new LockerError("locked", failureMessage("locked"), { key });
        }
        this.stats.peekInconclusive++;
        continue;
      }
      let ask = alive;
      let roundDeadline = deadline;
      let tryingUnreachable = false;
      if (alive.length < this.quorum) {
        // SWIM's view may be stale (right after a heal, or a wrong
        // suspicion): try the voters it calls dead once, for one request
        // attempt, before failing fast — never answer no_quorum from the
        // membership view alone when a majority can be reached.
        const everyone = this.o.voters.filter((v) => v.name !== this.o.name || (this.acceptor !== null && !this.quiet)).map((v) => v.name);
        if (triedUnreachable || everyone.length < this.quorum) {
          throw unknownOrNoQuorum(this.noQuorumReason(alive), { alive: alive.length, voters: this.o.voters.length });
        }
        triedUnreachable = true;
        tryingUnreachable = true;
        this.stats.staleViewTries++;
        ask = everyone;
        roundDeadline = Math.min(deadline, now + this.o.requestAttemptTimeoutMs);
      }
      const cachedEntry = skipCache ? undefined : this.fastCache.get(key);
      // A promise lives in the acceptors' memory: one that restarted (memory
      // lost) and sat out its quiet period (maxLeaseMs) has forgotten it and
      // would accept our stale ballot over newer changes it also forgot,
      // letting a fencing token go backwards. A promise younger than the
      // quiet period cannot have been forgotten by a voting acceptor.
      const cached = cachedEntry && now - cachedEntry.at < this.o.limits.maxLeaseMs ? cachedEntry.fast : undefined;
      if (this.recovery.proposalsWait) {
        // A restarted voter proposes only once it knows a floor above its earlier life's ballots.
        await new Promise<void>((resolve) => {
          const timer = this.o.clock.setTimer(Math.max(0, deadline - this.o.clock.now()), resolve);
          void this.recovery.whenProposalsMayGo().then(() => {
            this.o.clock.clearTimer(timer);
            resolve();
          });
        });
        if (this.recovery.proposalsWait) throw unknownOrNoQuorum("this voter restarted and has not learned the ballot floor from the other voters yet");
        continue;
      }
      const wall = this.o.clock.wallNow();
      let ballot: Ballot;
      if (cached && ballots?.atMost !== undefined && cached.ballot.c > ballots.atMost) {
        skipCache = true;
        continue;
      }
      if (cached) {
        ballot = cached.ballot;
        this.hlc.observe(ballot.c);
      } else {
        ballot = { c: this.hlc.tick(wall), node: this.o.name };
      }
      if (ballots?.atMost !== undefined && ballot.c > ballots.atMost) {
        if (ownWrites.length > 0) throw unknownOrNoQuorum("the operation reached its ballot bound (its forwarder runs it itself now)");
        throw new LockerError("unavailable", "the operation's ballot bound is below this node's clock: not run", { ran: false });
      }
      const nextC = this.hlc.tick(wall);
      const round = new ProposerRound({
        key,
        cfg: this.o.configVersion,
        ask,
        quorum: this.quorum,
        op,
        ballot,
        nextC,
        fast: cached ?? null,
        ownWrites,
      });
      this.stats.rounds++;
      if (cached) this.stats.fastRounds++;
      // A cached promise is used at most once.
      this.fastCache.delete(key);
      const outcome = await this.drive(round, roundDeadline);
      if (round.writeMayHaveLanded) ownWrites.push(round.sentWrite!);
      if (round.highestSeen) this.hlc.observe(round.highestSeen.c);
      if (this.closed) throw new LockerError("unavailable", "locker is closed");
      switch (outcome.kind) {
        case "done":
          if (outcome.fast) this.remember(key, outcome.fast);
          return outcome.result;
        case "failed":
          // A failed check was answered from a written-back (chosen) state: its promise is as good as a change's.
          if (outcome.fast) this.remember(key, outcome.fast);
          if (outcome.code === "locked" && outcome.current) this.noteHeld(key, outcome.current.expiresAt);
          throw new LockerError(outcome.code, failureMessage(outcome.code), { key });
        case "superseded":
          throw new LockerError("timeout", "a change of this operation may have taken effect and the key has changed since; the outcome is unknown", {
            outcome: "unknown",
          });
        case "config": {
          // Reconfiguration: learn the newer configuration and retry under it (bounded like conflicts).
          const learned = this.o.configVersion >= outcome.cfg || (this.o.awaitConfig !== undefined && (await this.o.awaitConfig(outcome.cfg)));
          if (learned && !this.closed && ++conflicts <= this.o.limits.maxRetries) continue;
          throw new LockerError("unavailable", `a voter runs configuration version ${outcome.cfg}, this node ${this.o.configVersion}`);
        }
        case "no_quorum":
          if (outcome.behind !== undefined && outcome.behind > 0 && ++conflicts <= this.o.limits.maxRetries) {
            // Voters still on the older configuration refused: a reconfiguration is being
            // spread and they run it in a moment. Retry within the budget, backing off.
            this.stats.conflicts++;
            const delay = this.retryDelayMs(conflicts);
            if (this.o.clock.now() + delay < deadline) {
              await this.sleep(delay);
              continue;
            }
          }
          if (tryingUnreachable) {
            throw unknownOrNoQuorum(`${this.noQuorumReason(alive)}; tried them anyway: no majority answered`, { alive: alive.length, voters: this.o.voters.length });
          }
          throw unknownOrNoQuorum(
            outcome.refusals > 0
              ? `fewer than a majority of voters answered (${outcome.quiet && outcome.quiet.length > 0 ? `${outcome.quiet.map((q) => (q.leftMs === undefined ? q.voter : `${q.voter} for ${Math.ceil(q.leftMs / 1000)} s more`)).join(", ")} in the quiet period after a restart; ` : ""}${outcome.refusals} refused: quiet period, full or other configuration)`
              : "fewer than a majority of voters answered within the time budget",
            { refusals: outcome.refusals },
          );
        case "conflict": {
          this.stats.conflicts++;
          if (outcome.seen) this.hlc.observe(outcome.seen.c);
          if (!contestedTold) {
            contestedTold = true;
            for (const listener of this.contestedListeners) listener(key);
          }
          if (cached) {
            // The cached promise was overtaken: fall back to both phases at once.
            this.stats.fastFallbacks++;
            skipCache = true;
            continue;
          }
          conflicts++;
          if (conflicts > this.o.limits.maxRetries) {
            if (ownWrites.length > 0) throw unknownOrNoQuorum(`${conflicts} rounds lost to concurrent rounds on the key`);
            throw new LockerError("contention", `${conflicts} rounds lost to concurrent rounds on the key; retry later`, { rounds: conflicts });
          }
          if (outcome.retryNow) continue;
          const delay = this.retryDelayMs(conflicts);
          if (this.o.clock.now() + delay >= deadline) {
            if (ownWrites.length > 0) throw unknownOrNoQuorum("the time budget ran out while contending for the key");
            throw new LockerError("contention", "concurrent rounds on the key kept winning until the time budget ran out", { rounds: conflicts });
          }
          await this.sleep(delay);
          continue;
        }
      }
    }
  }

  /** Backoff before the next round after `conflicts` lost or refused ones (equal jitter, capped; transport/backoff.ts). */
  private retryDelayMs(conflicts: number): number {
    return backoffDelayMs({ baseMs: this.o.retryBaseMs, factor: 2, maxMs: this.o.retryMaxMs }, conflicts, this.o.random);
  }

  private remember(key: string, fast: FastPathState): void {
    // Bounded: the oldest goes first; losing a promise only costs a prepare.
    this.fastCache.set(key, { fast, at: this.o.clock.now() });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.abandonOnClose.delete(wake);
        resolve();
      };
      this.abandonOnClose.add(wake);
      this.o.clock.setTimer(ms, wake);
    });
  }

  /** Runs one round to its outcome: sends what it asks, feeds it replies, stops it at the deadline. */
  private drive(round: ProposerRound, deadline: number): Promise<RoundOutcome> {
    return new Promise<RoundOutcome>((resolve) => {
      let settled = false;
      const seq = ++this.roundSeq;
      let drainTimer: TimerHandle | undefined;
      const check = (): void => {
        if (!settled && round.draining && drainTimer === undefined) {
          // Bounded wait for the last accept replies (see ProposerRound.draining).
          drainTimer = this.o.clock.setTimer(Math.max(0, Math.min(this.o.drainGraceMs, deadline - this.o.clock.now())), () => {
            if (settled) return;
            dispatch(round.endDrain());
            check();
          });
        }
        if (settled || !round.outcome) return;
        this.o.clock.clearTimer(drainTimer);
        settled = true;
        this.roundAbandons.delete(seq);
        this.abandonOnClose.delete(abandon);
        // A change chosen by the other voters while this node's own acceptor
        // has it in hand: answered once that acceptor took it too, so the
        // node's local view shows what the caller was told (one loop turn).
        const outcome = round.outcome;
        if (selfPending) void selfPending.then(() => resolve(outcome));
        else resolve(outcome);
      };
      const abandon = (): void => {
        round.abandon();
        check();
      };
      // The one-round-trip path's accept to this node's own acceptor waits for
      // the first other voter to take it (the round needs one anyway, so this
      // costs no time). A cached promise gone stale — another node's round
      // reached the others first — is then refused everywhere and lands
      // nowhere, where this acceptor alone (its own requests overtaking the
      // datagrams still unread) would have taken it, and the operation could
      // only have answered "unknown" (superseded).
      let heldSelf: Outgoing | undefined;
      let remoteAcceptsOpen = 0;
      /** The held accept, once sent to this node's own acceptor: the answer waits for it (see check). */
      let selfPending: Promise<void> | undefined;
      const send = (out: Outgoing): Promise<CasMessage> => {
        const phase = out.msg.type === "prepare" ? "prepare" : "accept";
        if (phase === "prepare") this.stats.prepareRequests++;
        else this.stats.acceptRequests++;
        const remoteAccept = phase === "accept" && heldSelf !== undefined && out.to !== this.o.name;
        if (remoteAccept) remoteAcceptsOpen++;
        const settleHeld = (accepted: boolean): void => {
          if (!remoteAccept || heldSelf === undefined) return;
          remoteAcceptsOpen--;
          if (accepted) {
            const self = heldSelf;
            heldSelf = undefined;
            selfPending = send(self).then(noop, noop);
          } else if (remoteAcceptsOpen === 0) {
            // No other voter took it: it is not sent to this one either.
            const self = heldSelf;
            heldSelf = undefined;
            dispatch(round.notSent(self.to));
          }
        };
        const reply = this.request(out.to, out.msg, deadline);
        reply.then(
          (reply) => {
            if (settled) return;
            // A reply that is no CAS reply (a broken or hostile voter) counts as no answer.
            dispatch(isCasReply(reply) ? round.onReply(out.to, reply, this.o.clock.now(), phase) : round.onError(out.to, phase));
            if (!settled) settleHeld(reply.type === "accepted");
            check();
          },
          () => {
            if (settled) return;
            dispatch(round.onError(out.to, phase));
            if (!settled) settleHeld(false);
            check();
          },
        );
        return reply;
      };
      const dispatch = (outs: Outgoing[]): void => {
        if (outs.length > 0) {
          if (outs[0]!.msg.type === "prepare") this.stats.preparePhases++;
          else this.stats.acceptPhases++;
        }
        if (round.params.fast && outs.length > 1 && outs[0]!.msg.type === "accept" && this.acceptor !== null) {
          heldSelf = outs.find((o) => o.to === this.o.name);
        }
        for (const out of outs) if (out !== heldSelf) send(out);
      };
      this.abandonOnClose.add(abandon);
      this.roundAbandons.set(seq, abandon);
      this.roundDeadlines.push(deadline, seq, 0);
      // Settled rounds leave entries behind: keep the heap about as large as the running rounds.
      if (this.roundDeadlines.size > 2 * this.roundAbandons.size + 1024) this.roundDeadlines.compact((e) => this.roundAbandons.has(e.key));
      this.roundTimer.arm(deadline);
      dispatch(round.start(this.o.clock.now()));
      check();
    });
  }

  /** Abandons every round whose deadline has passed. */
  private roundsRanOut(): void {
    const now = this.o.clock.now();
    for (let e = this.roundDeadlines.popDue(now); e; e = this.roundDeadlines.popDue(now)) this.roundAbandons.get(e.key)?.();
    this.roundTimer.arm(this.roundDeadlines.peekAt());
  }

  private believedHeld(key: string, now: number): boolean {
    const until = this.heldHints.get(key);
    if (until === undefined) return false;
    if (until <= now) {
      this.heldHints.delete(key);
      return false;
    }
    return true;
  }

  private noteHeld(key: string, until: number): void {
    this.heldHints.set(key, until);
  }

  /**
   * Reads the key's state from the live voters without promising anything;
   * resolves with the live record when a majority agrees it is held (see
   * peekVerdict), or null when it cannot tell.
   */
  private peek(key: string, ask: readonly string[], deadline: number): Promise<KnownRecord | null> {
    return new Promise((resolve) => {
      const replies: PeekReply[] = [];
      let failed = 0;
      let done = false;
      const settle = (): void => {
        if (done) return;
        if (replies.length >= this.quorum) {
          done = true;
          resolve(peekVerdict(replies, this.quorum, this.o.clock.now()));
        } else if (ask.length - failed < this.quorum) {
          done = true;
          resolve(null);
        }
      };
      const peek: CasRequest = { type: "peek", cfg: this.o.configVersion, key };
      for (const voter of ask) {
        this.request(voter, peek, deadline).then(
          (r) => {
            if (r.type === "promise") replies.push({ accepted: r.accepted, record: r.record, lapsed: r.lapsed, recvAt: this.o.clock.now() });
            else failed++;
            settle();
          },
          () => {
            failed++;
            settle();
          },
        );
      }
    });
  }

  /**
   * The value of a configuration register chosen among `voters` (the voters
   * of the configuration that chose it, by name): a majority of them report
   * the same accepted ballot with a live record — a value accepted by a
   * majority at one ballot is chosen. Null when that cannot be shown (yet).
   * The peeks carry ANY_CONFIG_VERSION: they are answered whatever version
   * each acceptor runs now.
   */
  async chosenRegister(key: string, voters: readonly string[], timeoutMs: number): Promise<Uint8Array | null> {
    const replies = await this.peekRegister(key, voters, timeoutMs);
    const quorum = Math.floor(voters.length / 2) + 1;
    const byBallot = new Map<string, { count: number; value: Uint8Array }>();
    for (const r of replies) {
      if (!r) continue;
      const id = ballotToString(r.ballot);
      const seen = byBallot.get(id);
      // One ballot carries one value; a reply that disagrees with it is forged or corrupt, and is not counted.
      if (seen && !bytesEqual(seen.value, r.value)) continue;
      byBallot.set(id, { count: (seen?.count ?? 0) + 1, value: r.value });
    }
    for (const b of byBallot.values()) if (b.count >= quorum) return b.value;
    return null;
  }

  /** What each of `voters` (by name) holds accepted for a configuration register: its ballot and value, or null. */
  async peekRegister(key: string, voters: readonly string[], timeoutMs: number): Promise<({ ballot: Ballot; value: Uint8Array } | null)[]> {
    if (!isConfigRegister(key)) throw new LockerError("invalid", "only configuration registers are read this way");
    const deadline = this.o.clock.now() + timeoutMs;
    return Promise.all(
      voters.map((v) =>
        this.requestAny(v, { type: "peek", cfg: ANY_CONFIG_VERSION, key }, deadline).then(
          (r) => (r.type === "promise" && r.accepted && r.record && !r.lapsed ? { ballot: r.accepted, value: r.record.value } : null),
          () => null,
        ),
      ),
    );
  }

  /** A request to any node by name (not only the running configuration's voters). */
  private requestAny(voter: string, msg: CasRequest, deadline: number): Promise<CasReply> {
    if (voter === this.o.name) {
      if (!this.acceptor) return Promise.reject(new LockerError("unavailable", "not a voter"));
      return this.afterWaitingIo(msg);
    }
    const timeoutMs = Math.max(1, deadline - this.o.clock.now());
    try {
      return this.o.channel
        .request(this.voterAddress.get(voter) ?? voter, msg, this.attemptsWithin(timeoutMs))
        .then((m) => {
          if (m.type === "promise" || m.type === "nack") return m;
          throw new LockerError("unavailable", `unexpected ${m.type} reply from ${voter}`);
        });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Transport options of one request with a budget: attempts of requestAttemptTimeoutMs (the budget bounds them; the retry count only caps them). */
  private attemptsWithin(timeoutMs: number): { timeoutMs: number; attemptTimeoutMs: number; retries: number } {
    return { timeoutMs, attemptTimeoutMs: Math.min(this.o.requestAttemptTimeoutMs, timeoutMs), retries: Math.ceil(timeoutMs / Math.max(1, this.o.requestAttemptTimeoutMs)) + 1 };
  }

  /**
   * One request to a voter; this node's own acceptor is called directly,
   * after the I/O already waiting (clock.defer), not in a microtask: the
   * datagrams other proposers sent it before the caller's request reached
   * this node may still sit in the socket, and its own rounds should not
   * overtake them (drive's held accept covers the case that matters most).
   * The reply as it came: callers check it is a CAS reply of the kind they expect (isCasReply).
   */
  private request(voter: string, msg: CasRequest, deadline: number): Promise<CasMessage> {
    if (voter === this.o.name && this.acceptor) return this.afterWaitingIo(msg);
    const address = this.voterAddress.get(voter);
    if (address === undefined) return Promise.reject(new LockerError("invalid", `unknown voter ${voter}`));
    const timeoutMs = Math.max(1, deadline - this.o.clock.now());
    let reply: Promise<CasMessage>;
    try {
      reply = this.o.channel.request(address, msg, this.attemptsWithin(timeoutMs));
    } catch (e) {
      return Promise.reject(e);
    }
    return reply;
  }

  // ---- acceptor side ----

  private onRequest(msg: CasMessage, from: Address): CasMessage {
    if (this.closed) throw new LockerError("unavailable", "locker is closed");
    if (msg.type === "fence") {
      if (msg.cfg > this.o.configVersion) this.o.onNewerConfig?.(msg.cfg, from);
      const { reply, floor } = this.fenceServer.serve(msg, this.acceptor, this.o.configVersion, this.hlc.current);
      if (floor) this.persistedFloor?.cover(floor.c);
      // This node's own next rounds start above the floor instead of losing one round to it.
      if (floor) this.hlc.observe(floor.c);
      // Promises cached before the fence are gone at this acceptor.
      if (floor) this.fastCache.clear();
      return reply;
    }
    if (!isCasRequest(msg)) {
      this.stats.badRequests++;
      throw new LockerError("invalid", `a ${msg.type} is not a request`);
    }
    // Reconfiguration hook: someone runs a newer configuration; learn it.
    if (msg.cfg > this.o.configVersion) this.o.onNewerConfig?.(msg.cfg, from);
    if (!this.acceptor) throw new LockerError("unavailable", `${this.o.name} is not a voter (asked by ${from})`);
    return this.handleLocal(msg);
  }

  /** `msg` handled by this node's own acceptor once the I/O already waiting has been read (see request). */
  private afterWaitingIo(msg: CasRequest): Promise<CasReply> {
    return new Promise((resolve, reject) => {
      this.o.clock.defer(() => {
        if (this.closed) reject(new LockerError("unavailable", "locker is closed"));
        else if (!this.acceptor) reject(new LockerError("unavailable", "not a voter"));
        else {
          try {
            resolve(this.handleLocal(msg));
          } catch (e) {
            reject(e);
          }
        }
      });
    });
  }

  private handleLocal(msg: CasRequest): CasReply {
    const acceptor = this.acceptor!;
    this.stats.acceptorRequests++;
    const now = this.o.clock.now();
    const { reply, events } = acceptor.handle(msg, now);
    // A promise or accept is on disk (as a floor above it) before its reply leaves.
    if (this.persistedFloor && (reply.type === "promise" || reply.type === "accepted") && (msg.type === "prepare" || msg.type === "accept")) {
      this.persistedFloor.cover(msg.type === "accept" && msg.nextC !== null ? Math.max(msg.nextC, msg.ballot.c) : msg.ballot.c);
    }
    if (events.length > 0) this.o.onAcceptorEvents(events);
    this.armExpiry();
    return reply;
  }

  private armExpiry(): void {
    if (!this.acceptor || this.closed) return;
    this.expiry.arm(this.acceptor.nextDeadline());
  }

  /** Runs due expiries now (used by reads of the local view so they never return a lapsed record). */
  tickNow(): void {
    if (!this.acceptor || this.closed) return;
    const events = this.acceptor.tick(this.o.clock.now());
    if (events.length > 0) this.o.onAcceptorEvents(events);
    this.armExpiry();
  }

  /**
   * Reconfiguration hook (src/cluster/configurator.ts): switches to a newer
   * voter configuration. Rounds already running finish under the old one (the
   * acceptors refuse them once they run the new version; the operation then
   * retries). A node that becomes a voter starts an empty acceptor, which
   * still waits out what is left of its quiet period (a restarted node may
   * have voted before it lost its memory); a node that stops being a voter
   * drops its acceptor. Returns what happened to this node.
   */
  applyConfiguration(version: number, voters: readonly VoterSpec[]): "promoted" | "demoted" | "unchanged" | "stale" {
    if (version <= this.o.configVersion) return "stale";
    if (voters.length === 0) throw new LockerError("invalid", "at least one voter is needed");
    const names = new Set(voters.map((v) => v.name));
    if (names.size !== voters.length) throw new LockerError("invalid", "a voter is listed twice");
    this.o.voters = [...voters];
    this.o.configVersion = version;
    this.voterAddress.clear();
    for (const v of voters) this.voterAddress.set(v.name, v.address);
    this.quorum = Math.floor(voters.length / 2) + 1;
    // Promises cached under the old configuration need not form a quorum of the new one.
    this.fastCache.clear();
    this.aliveCache = undefined;
    let change: "promoted" | "demoted" | "unchanged" = "unchanged";
    const now = this.o.clock.now();
    if (names.has(this.o.name) && !this.acceptor) {
      this.acceptor = new Acceptor({
        configVersion: version,
        quietUntil: Math.max(now, this.startedAt + this.o.quietPeriodMs),
        gcGraceMs: this.o.gcGraceMs,
        maxKeys: this.o.limits.maxKeys,
      });
      change = "promoted";
      if (this.persistedFloor && this.persistedFloor.value > 0) this.acceptor.restoreFloor({ c: this.persistedFloor.value, node: this.o.name });
      this.recovery.start();
    } else if (!names.has(this.o.name) && this.acceptor) {
      this.acceptor = null;
      this.expiry.cancel();
      change = "demoted";
    }
    if (this.acceptor) this.acceptor.config.configVersion = version;
    return change;
  }

  /** Reconfiguration hook: installs the configuration callbacks after construction (the Locker builds this node). */
  setConfigHooks(hooks: Pick<CasNodeOptions, "onNewerConfig" | "awaitConfig" | "recoveryGate">): void {
    this.o.onNewerConfig = hooks.onNewerConfig;
    this.o.awaitConfig = hooks.awaitConfig;
    this.o.recoveryGate = hooks.recoveryGate;
  }

  /** Version of the voter configuration this node runs. */
  get configVersion(): number {
    return this.o.configVersion;
  }

  /** The voters of the configuration this node runs. */
  get voters(): readonly VoterSpec[] {
    return this.o.voters;
  }
}

function failureMessage(code: "locked" | "mismatch" | "not_found"): string {
  switch (code) {
    case "locked":
      return "the key is held by another value";
    case "mismatch":
      return "the key holds a different value";
    case "not_found":
      return "the key is absent or its lease has expired";
  }
}
