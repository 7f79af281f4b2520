// Key affinity: each key prefers one coordinator among the live voters
// (rendezvous hashing, src/node/affinity/rendezvous.ts). A node forwards a
// key's quorum operations to that coordinator, which runs them on its own
// Locker and answers; so one proposer serves a key (its one-round-trip fast
// path, FIFO across nodes, no duelling proposers). Safety never rests on it:
// CASPaxos underneath, and a coordinator that does not answer is bypassed.
// Long because forwarding, the coordinator's FIFO grants and the bypass on
// silence share the per-key state; rendezvous hashing is in its own file.
import { BoundedMap } from "../util/bounded-map.js";
import { decodeValue, encodeValue } from "../cas/value.js";
import { isLockerError, LockerError } from "../errors.js";
import type { Entry, LockOptions, LockResult, OperationOptions } from "../locker/types.js";
import type { Locker } from "../locker.js";
import type { Address, Channel } from "../transport/types.js";
import type { Clock } from "../util/clock.js";
import type { ForwardMessage, ForwardOk, ForwardOp, ForwardRequest } from "./affinity/messages.js";
import { coordinatorOf } from "./affinity/rendezvous.js";

export { coordinatorOf, rendezvousWeight } from "./affinity/rendezvous.js";
export { forwardCodec, type ForwardMessage } from "./affinity/messages.js";

/**
 * Longest budget handed to a coordinator. It stays below the transport's
 * response-cache TTL (30 s), so a retransmitted forward of an operation still
 * running finds the "running" entry and is never executed twice.
 */
const MAX_COORDINATOR_BUDGET_MS = 20_000;

export interface AffinityOptions {
  /** This node's Locker: runs the operations this node coordinates, serves others' forwards, and is the fallback. */
  locker: Locker;
  /** This node's member name (as in the voter list). */
  self: string;
  /** The voter names in force (e.g. `() => locker.cas.voters.map((v) => v.name)`). */
  voters: () => readonly string[];
  /** Membership's liveness: true for alive (and suspect) members. */
  isUp: (name: string) => boolean;
  /** Where a member is now (membership), undefined when unknown. */
  addressOf: (name: string) => Address | undefined;
  /** The forward channel (ChannelId.forward with `forwardCodec`), behind the node's member gate. */
  channel: Channel<ForwardMessage>;
  clock: Clock;
  /**
   * When to forward. true (default): always, so one proposer serves each key
   * whichever node a request reaches (its fast path, FIFO across nodes).
   * "contended": only keys seen contended across nodes here lately (`locked`
   * while no caller of this node holds or is locking the key, a round lost to
   * another node's proposer, `contention`, `timeout`, within
   * `contendedForMs`); other keys run
   * here, keeping the one-round-trip path of a node that locks its own keys
   * again and again without a hop. false: never, still serving others' forwards.
   */
  forward?: boolean | "contended";
  /** "contended" mode: how long a key stays forwarded after its last sign of contention. Default 10 s. */
  contendedForMs?: number;
  /** Share of an operation's budget given to the coordinator; the rest is kept for running it here. Default 0.6. */
  coordinatorShare?: number;
  /** Retransmit interval of a forward (a lost datagram costs this much). Default 250 ms. */
  attemptTimeoutMs?: number;
  /** A voter that let a forward go unanswered is passed over this long, so a dead coordinator costs one timeout, not one per operation, until membership notices. Default 2000 ms. */
  holdOffMs?: number;
  /** Forwarded operations served at once; past it a forward is refused (not run) and the sender runs it itself. Default 4096. */
  maxServing?: number;
  /**
   * Fairness across nodes at a coordinator: a lock waits at most this long
   * (until that node's lock has run) when another node has been refused the key
   * for longer than the lock's own node (see `admitted`). Default 10 ms; 0 turns it off.
   */
  fairHoldBackMs?: number;
  /** A node counts as waiting while its latest refusal is this recent. Default 50 ms. */
  fairWindowMs?: number;
  /** Contended keys whose recent holders and refusals are remembered (oldest forgotten first). Default 10,000. */
  maxTrackedKeys?: number;
}

export interface AffinityStats {
  /** Operations this node ran because it coordinates the key (or no coordinator was known). */
  local: number;
  /** Operations forwarded and answered by the coordinator. */
  forwarded: number;
  /** Forwarded operations this node ran for others. */
  served: number;
  /** Forwards the coordinator refused (over its bound) or that could not be sent: run here, with a definite outcome. */
  refusedFallbacks: number;
  /** Forwards unanswered in time: run here; an outcome that could hide the forward's effect became `timeout`. */
  unansweredFallbacks: number;
  /** Forwards to this node refused because `maxServing` were running. */
  servingRefused: number;
  /** Locks held back for fairness (another node had been waiting longer). */
  heldBack: number;
}

/** The Locker's quorum operations, routed by key affinity. */
export type RoutedOperations = Pick<Locker, "lock" | "update" | "extendLease" | "release" | "read">;

export interface Affinity extends RoutedOperations {
  /**
   * A Locker-compatible view: the five quorum operations go through affinity,
   * everything else (dirtyRead, waitFor, keys, summary, events, limits…) is the
   * node's Locker itself. Hand it to the HTTP API and to library callers.
   */
  readonly api: Locker;
  /** The coordinator this node would forward `key` to now (itself included), or undefined when no voter is live. */
  coordinatorOf(key: string): string | undefined;
  readonly stats: Readonly<AffinityStats>;
  /** Stops forwarding (operations then run here) and refuses forwards from others. */
  close(): void;
}

/** No overrides: the operation runs with the caller's own options (no copy on the common path). */
const AS_CALLED: OperationOptions = Object.freeze({});

/** The caller's options with `o`'s overrides (a shorter budget, ballot bounds). */
function withOverrides<O extends OperationOptions>(options: O, o: OperationOptions): O {
  return o === AS_CALLED ? options : { ...options, ...o };
}

/** The origin of a coordinator's own callers' operations (forwarders are named by address). */
const SELF = "";

interface Contention {
  /** Origin → since when it has been refused the key (since its first refusal after its last win) and its latest refusal. One entry per member at most. */
  waiting: Map<string, { sinceMs: number; lastMs: number }>;
  /** Locks held back for a longer waiter (each an operation in flight, so bounded by the pending-round bounds). */
  parked: Array<{ origin: string; wake: () => void }>;
}

/** Whether an operation can change the key: after an unanswered forward, a write's local failure may hide the forward's effect. */
type Effect = "read" | "write";

export function createAffinity(options: AffinityOptions): Affinity {
  return new KeyAffinity(options);
}

class KeyAffinity implements Affinity {
  readonly stats: AffinityStats = { local: 0, forwarded: 0, served: 0, refusedFallbacks: 0, unansweredFallbacks: 0, servingRefused: 0, heldBack: 0 };
  private readonly locker: Locker;
  private readonly clock: Clock;
  private readonly share: number;
  private readonly attemptTimeoutMs: number;
  private readonly holdOffMs: number;
  private readonly maxServing: number;
  private readonly mode: "always" | "contended" | "never";
  private readonly contendedForMs: number;
  /** "contended" mode: key → until when it is forwarded (insertion order is age; bounded by maxTrackedKeys). */
  private readonly forwardUntil: BoundedMap<string, number>;
  /**
   * "contended" mode: keys a caller of this node holds (lease end as this
   * node saw it) and locks of them this node runs now. A `locked` answer
   * while one of these is so comes from this node's own callers fighting
   * over the key: no reason to forward it.
   */
  private readonly heldHere: BoundedMap<string, number>;
  private readonly locksHere = new Map<string, number>();
  /** Voter → until when it is passed over (bounded by the voter count: only voters are forwarded to). */
  private readonly heldOff = new Map<string, number>();
  private serving = 0;
  private closed = false;
  private readonly fairHoldBackMs: number;
  private readonly fairWindowMs: number;
  private readonly maxTrackedKeys: number;
  /** Key → which origins have been refused it, since when (only keys that saw a refusal). Insertion order is age. */
  private readonly contended: BoundedMap<string, Contention>;
  private apiView: Locker | undefined;

  constructor(private readonly o: AffinityOptions) {
    this.locker = o.locker;
    this.clock = o.clock;
    this.share = o.coordinatorShare ?? 0.6;
    if (!(this.share > 0 && this.share < 1)) throw new LockerError("invalid", "coordinatorShare must be in (0, 1)");
    this.attemptTimeoutMs = o.attemptTimeoutMs ?? 250;
    this.holdOffMs = o.holdOffMs ?? 2000;
    this.maxServing = o.maxServing ?? 4096;
    this.mode = o.forward === "contended" ? "contended" : o.forward === false ? "never" : "always";
    this.contendedForMs = o.contendedForMs ?? 10_000;
    this.fairHoldBackMs = o.fairHoldBackMs ?? 10;
    this.fairWindowMs = o.fairWindowMs ?? 50;
    this.maxTrackedKeys = o.maxTrackedKeys ?? 10_000;
    this.forwardUntil = new BoundedMap(this.maxTrackedKeys);
    this.heldHere = new BoundedMap(this.maxTrackedKeys);
    this.contended = new BoundedMap(this.maxTrackedKeys);
    o.channel.onRequest((m, from) => this.serve(m, from));
    // Another proposer on a key this node proposes on (a load balancer
    // spreading one client's requests, or nodes taking turns) is contention
    // too, even when every answer is a success: forward the key so one
    // proposer keeps its one-round-trip path.
    if (this.mode === "contended") o.locker.cas.onContested((key) => this.markContended(key));
  }

  get api(): Locker {
    this.apiView ??= routedView(this.locker, this);
    return this.apiView;
  }

  close(): void {
    this.closed = true;
  }

  coordinatorOf(key: string): string | undefined {
    const now = this.clock.now();
    const live = this.o.voters().filter((v) => v === this.o.self || (this.o.isUp(v) && !((this.heldOff.get(v) ?? 0) > now)));
    return coordinatorOf(key, live);
  }

  // ---- the routed operations ----

  lock(key: string, value: unknown, options: LockOptions): Promise<LockResult> {
    const L = this.locker;
    const leaseMs = options?.leaseMs;
    if (!Number.isInteger(leaseMs) || leaseMs <= 0) return L.lock(key, value, options);
    if (this.mode !== "contended") return this.routeLock(key, value, options, leaseMs);
    this.locksHere.set(key, (this.locksHere.get(key) ?? 0) + 1);
    const ended = (): void => {
      const n = (this.locksHere.get(key) ?? 1) - 1;
      if (n > 0) this.locksHere.set(key, n);
      else this.locksHere.delete(key);
    };
    return this.routeLock(key, value, options, leaseMs).then(
      (r) => {
        this.heldHere.set(key, this.clock.now() + r.leaseRemainingMs);
        ended();
        return r;
      },
      (e: unknown) => {
        ended();
        throw e;
      },
    );
  }

  private routeLock(key: string, value: unknown, options: LockOptions, leaseMs: number): Promise<LockResult> {
    const L = this.locker;
    return this.route<LockResult>(
      key,
      options,
      "lock",
      value,
      undefined,
      leaseMs,
      (o) => L.lock(key, value, withOverrides(options, o)),
      (ok, bytes, sentAt) => this.leaseResult(key, bytes!, leaseMs, ok, sentAt),
      "write",
    );
  }

  update(key: string, expected: unknown, newValue: unknown, options: OperationOptions = {}): Promise<Entry> {
    const L = this.locker;
    return this.route<Entry>(
      key,
      options,
      "update",
      newValue,
      expected,
      0,
      (o) => L.update(key, expected, newValue, withOverrides(options, o)),
      (ok, bytes) => {
        this.reflect(key, bytes!, ok);
        return { key, value: decodeValue(bytes!), token: BigInt(ok.token), leaseRemainingMs: ok.leaseRemainingMs };
      },
      "write",
    );
  }

  extendLease(key: string, value: unknown, leaseMs: number, options: OperationOptions = {}): Promise<LockResult> {
    const L = this.locker;
    if (!Number.isInteger(leaseMs) || leaseMs <= 0) return L.extendLease(key, value, leaseMs, options);
    return this.route<LockResult>(
      key,
      options,
      "extend",
      value,
      undefined,
      leaseMs,
      (o) => L.extendLease(key, value, leaseMs, withOverrides(options, o)),
      (ok, bytes, sentAt) => this.leaseResult(key, bytes!, leaseMs, ok, sentAt),
      "write",
    );
  }

  release(key: string, value: unknown, options: OperationOptions = {}): Promise<void> {
    const L = this.locker;
    return this.route<void>(
      key,
      options,
      "release",
      value,
      undefined,
      0,
      (o) => L.release(key, value, withOverrides(options, o)),
      () => {
        this.locker.applyReplicated(key, null);
      },
      "write",
    ).then(() => {
      this.heldHere.delete(key);
    });
  }

  read(key: string, options: OperationOptions = {}): Promise<Entry | undefined> {
    const L = this.locker;
    return this.route<Entry | undefined>(
      key,
      options,
      "read",
      undefined,
      undefined,
      0,
      (o) => L.read(key, withOverrides(options, o)),
      (ok) => (ok.value === null ? undefined : { key, value: decodeValue(ok.value), token: BigInt(ok.token), leaseRemainingMs: ok.leaseRemainingMs }),
      // A read changes nothing (its write-back rewrites what is there): its own answer stands.
      "read",
    );
  }

  // ---- routing ----

  /**
   * Runs `op` at the key's coordinator, or here.
   *
   * What an unanswered forward means: the coordinator may be dead, or alive
   * and slow, or may have run the operation with only its answer lost. The
   * transport retransmits under one request id and the coordinator answers
   * retransmits from its response cache, so it runs the operation at most
   * once, but it may still be running it, or run it after we stop waiting.
   * So after an unanswered forward this node runs the operation itself, and
   * the ballot bound keeps the two attempts to one effect: the coordinator's
   * rounds use counters ≤ the forward's `ballotCap`, this node's rounds
   * counters above it, so once this node's round is chosen every acceptor
   * quorum refuses the coordinator's (a copy delivered late — a paused
   * coordinator — is never chosen after it; before it, this node sees its
   * effect). Then:
   *  - a success here is a real success (this node's own round did it; the
   *    safe window is this node's own, from its own round);
   *  - any failure of a write is answered `timeout`, the Locker's "outcome
   *    unknown": the forwarded attempt, with time, can explain every one —
   *    `locked` after a lock (the holder may be this very call), `mismatch`
   *    or `not_found` after a release (it removed the value, then another
   *    locked the key or nobody did), after an update or an extension (it
   *    took effect, the lease then ran out and the key stayed free or went
   *    to another: the nemesis found an update answered `not_found` whose
   *    new value reads had returned), `contention`/`timeout`/`no_quorum`
   *    after any. Relayed, such an answer says "nothing changed" of what
   *    may be the caller's own effect. The caller does what it does after
   *    any timeout (retry, or release its value to be sure): a retry then
   *    answers definitely;
   *  - a read's answer stands whatever it is (a read changes nothing).
   * A forward that was refused or could not be sent ran nowhere: the local
   * run's answer stands whatever it is.
   */
  private async route<T>(
    key: string,
    options: OperationOptions | undefined,
    op: ForwardOp,
    value: unknown,
    expected: unknown,
    leaseMs: number,
    /** Runs the operation on this node's Locker; `o` overrides the caller's options (a shorter budget, ballot bounds). */
    runLocal: (o: OperationOptions) => Promise<T>,
    fromOk: (ok: ForwardOk, valueBytes: Uint8Array | undefined, sentAt: number) => T,
    effect: Effect,
  ): Promise<T> {
    const forwardNow = this.mode === "always" || (this.mode === "contended" && (this.forwardUntil.get(key) ?? 0) > this.clock.now());
    const target = forwardNow && !this.closed ? this.targetFor(key) : undefined;
    const totalMs = options?.timeoutMs ?? this.locker.defaultTimeoutMs;
    if (target === undefined || !forwardable(key, totalMs, this.locker.limits.maxTimeoutMs)) {
      this.stats.local++;
      const run = (): Promise<T> => runLocal(AS_CALLED);
      const p = this.mode === "never" ? run() : this.admitted(key, SELF, op, run);
      return this.mode === "contended" ? p.catch((e: unknown) => this.noteContention(key, e)) : p;
    }
    let valueBytes: Uint8Array | undefined;
    let expectedBytes: Uint8Array | undefined;
    try {
      valueBytes = value === undefined && op === "read" ? undefined : encodeValue(value);
      expectedBytes = op === "update" ? encodeValue(expected) : undefined;
    } catch {
      // Not an encodable value: the Locker says why (`invalid`).
      this.stats.local++;
      return runLocal(AS_CALLED);
    }
    const budgetMs = Math.max(1, Math.min(MAX_COORDINATOR_BUDGET_MS, Math.floor(totalMs * this.share)));
    const waitMs = Math.min(totalMs, budgetMs + this.attemptTimeoutMs);
    // The coordinator's rounds stay at or below this counter; a fallback here runs above it (see ForwardRequest.ballotCap).
    const ballotCap = this.locker.cas.forwardBallotCap(budgetMs);
    const request: ForwardRequest = { type: "op", op, key, budgetMs, value: valueBytes ?? null, expected: expectedBytes ?? null, leaseMs, ballotCap };
    const sentAt = this.clock.now();
    let answer: ForwardMessage;
    try {
      answer = await this.o.channel.request(target.address, request, {
        attemptTimeoutMs: this.attemptTimeoutMs,
        retries: Math.ceil(waitMs / this.attemptTimeoutMs),
        timeoutMs: waitMs,
      });
    } catch (e) {
      // `invalid`: the request was not sent (too large for a datagram) or the
      // coordinator could not decode it: it ran nowhere.
      if (isLockerError(e, "invalid")) return this.fallback(sentAt, totalMs, runLocal, undefined);
      this.heldOff.set(target.name, this.clock.now() + this.holdOffMs);
      return this.fallback(sentAt, totalMs, runLocal, { effect, ballotCap });
    }
    switch (answer.type) {
      case "ok":
        this.stats.forwarded++;
        return fromOk(answer, valueBytes, sentAt);
      case "error":
        // The coordinator's Locker answered: its code is the answer (its
        // `timeout` too: that outcome is unknown there as it is here).
        this.stats.forwarded++;
        throw new LockerError(answer.code, `${answer.message} (coordinated by ${target.name})`);
      case "refused":
        return this.fallback(sentAt, totalMs, runLocal, undefined);
      default:
        // A request in answer to a request: the coordinator is broken or hostile; nothing says it ran.
        return this.fallback(sentAt, totalMs, runLocal, { effect, ballotCap });
    }
  }

  /**
   * Runs the operation here with what is left of the budget; `unanswered`
   * set means the forward may have taken effect. Then its copy may also still be
   * queued or running at the coordinator, with ballots ≤ `ballotCap`: this
   * run uses ballots above it, so once it is chosen the copy can never be
   * (without that, a forwarded lock ran after this run's lock, update and
   * release, and locked the key a second time: the nemesis found it).
   */
  private async fallback<T>(
    sentAt: number,
    totalMs: number,
    runLocal: (o: OperationOptions) => Promise<T>,
    unanswered: { effect: Effect; ballotCap: number } | undefined,
  ): Promise<T> {
    const leftMs = Math.floor(totalMs - (this.clock.now() - sentAt));
    if (unanswered) this.stats.unansweredFallbacks++;
    else this.stats.refusedFallbacks++;
    if (leftMs < 1) {
      throw new LockerError("timeout", unanswered ? "the key's coordinator did not answer within the budget: the outcome is unknown" : "the budget ran out before the operation could run");
    }
    try {
      return await runLocal(unanswered ? { timeoutMs: leftMs, ballots: { above: unanswered.ballotCap } } : { timeoutMs: leftMs });
    } catch (e) {
      if (unanswered?.effect !== "write" || !isLockerError(e) || e.code === "invalid") throw e;
      throw new LockerError("timeout", `the key's coordinator did not answer and this node's own attempt ended ${e.code}: the forwarded operation may have taken effect, so the outcome is unknown`, { cause: e.code });
    }
  }

  /**
   * "contended" mode: a sign of contention keeps (or starts) forwarding the
   * key; rethrows `e`. A `locked` is one unless a caller of this node holds
   * the key or another lock of it runs here: a key only this node's callers
   * fight over is served best by this node's own proposer (its queue
   * coalesces their locks and a release grants the next in its round, with
   * no hop).
   */
  private noteContention(key: string, e: unknown): never {
    if (isLockerError(e, "contention") || isLockerError(e, "timeout")) this.markContended(key);
    else if (isLockerError(e, "locked") && !this.ownCallersContend(key)) this.markContended(key);
    throw e;
  }

  /** Whether a caller of this node holds `key`, or a lock of it other than the one answering runs here. */
  private ownCallersContend(key: string): boolean {
    if ((this.heldHere.get(key) ?? 0) > this.clock.now()) return true;
    return (this.locksHere.get(key) ?? 0) > 1;
  }

  private markContended(key: string): void {
    if (this.mode === "contended") this.forwardUntil.set(key, this.clock.now() + this.contendedForMs);
  }

  private targetFor(key: string): { name: string; address: Address } | undefined {
    const name = this.coordinatorOf(key);
    if (name === undefined || name === this.o.self) return undefined;
    const address = this.o.addressOf(name);
    return address === undefined ? undefined : { name, address };
  }

  /**
   * A lease result from the coordinator's answer. The safe window starts at
   * this node's send time, which is before the coordinator received the
   * request and so before the round began: it ends no later than the
   * coordinator's own (their clocks' rates differ by at most the drift the
   * Locker's driftRatio already allows for).
   */
  private leaseResult(key: string, bytes: Uint8Array, leaseMs: number, ok: ForwardOk, sentAt: number): LockResult {
    this.reflect(key, bytes, ok);
    return { key, value: decodeValue(bytes), token: BigInt(ok.token), leaseMs, leaseRemainingMs: ok.leaseRemainingMs, safeUntil: sentAt + ok.safeSpanMs };
  }

  /** Shows the forwarded change in this node's local view at once (read-your-writes through dirtyRead), ahead of replication. */
  private reflect(key: string, bytes: Uint8Array, ok: ForwardOk): void {
    this.locker.applyReplicated(key, { value: bytes, token: ok.token, expiresAt: this.clock.now() + ok.leaseRemainingMs });
  }

  // ---- fairness across nodes ----

  /**
   * Runs a lock that this node coordinates, from `origin` (a forwarder's
   * address, or SELF), first come first served across nodes: a lock waits
   * (until that node's next lock has run, at most fairHoldBackMs) when another
   * node has been refused the key for longer than its own node (the last
   * holder has not been refused at all).
   * Without it, the node that polls fastest — the coordinator's own callers,
   * a hop closer — or a holder that releases and locks again at once wins
   * nearly every free key. It is only a delay (the lock then runs as usual),
   * so it changes who reaches a free key first, never what an answer means;
   * releases, extensions and updates are never held back.
   */
  private async admitted<T>(key: string, origin: string, op: ForwardOp, run: () => Promise<T>): Promise<T> {
    if (op !== "lock" || this.fairHoldBackMs <= 0) return run();
    const held = this.contended.get(key);
    if (held && this.someoneWaitingLonger(held, origin)) {
      this.stats.heldBack++;
      // Parked until a longer waiter's lock has run (see wakeParked) or the hold-back ends.
      await new Promise<void>((resolve) => {
        const entry = { origin, wake: (): void => {} };
        const timer = this.clock.setTimer(this.fairHoldBackMs, () => entry.wake());
        entry.wake = () => {
          this.clock.clearTimer(timer);
          const i = held.parked.indexOf(entry);
          if (i >= 0) held.parked.splice(i, 1);
          resolve();
        };
        held.parked.push(entry);
      });
    }
    try {
      const r = await run();
      const c = held ?? this.contended.get(key);
      if (c) {
        c.waiting.delete(origin); // it won: no longer waiting
        this.wakeParked(c);
      }
      return r;
    } catch (e) {
      if (isLockerError(e, "locked")) {
        const c = this.note(key);
        const t = this.clock.now();
        const mine = c.waiting.get(origin);
        if (mine && mine.lastMs >= t - this.fairWindowMs) mine.lastMs = t;
        else c.waiting.set(origin, { sinceMs: t, lastMs: t });
      }
      throw e;
    }
  }

  /** Lets go the parked locks nobody waits longer than any more (the longer waiter just won). */
  private wakeParked(c: Contention): void {
    for (const p of [...c.parked]) if (!this.someoneWaitingLonger(c, p.origin)) p.wake();
  }

  /** Another origin refused recently whose wait began before `origin`'s (or `origin` is not waiting). */
  private someoneWaitingLonger(c: Contention, origin: string): boolean {
    const recent = this.clock.now() - this.fairWindowMs;
    const mine = c.waiting.get(origin);
    const mySince = mine && mine.lastMs >= recent ? mine.sinceMs : Infinity;
    for (const [o, w] of c.waiting) if (o !== origin && w.lastMs >= recent && w.sinceMs < mySince) return true;
    return false;
  }

  /** The key's record, created (and the oldest forgotten past the bound) on a first refusal. */
  private note(key: string): Contention {
    let c = this.contended.get(key);
    if (c) return c;
    c = { waiting: new Map(), parked: [] };
    this.contended.set(key, c);
    return c;
  }

  // ---- serving others' forwards ----

  private async serve(m: ForwardMessage, from: Address): Promise<ForwardMessage> {
    if (m.type !== "op") return { type: "error", code: "invalid", message: "the forward channel takes operations only" };
    if (this.closed) return { type: "refused", message: "this node is closing" };
    if (this.serving >= this.maxServing) {
      this.stats.servingRefused++;
      return { type: "refused", message: `${this.maxServing} forwarded operations already running here` };
    }
    this.serving++;
    this.stats.served++;
    const receivedAt = this.clock.now();
    const L = this.locker;
    // Never forwarded again: an operation takes at most one hop, whatever the two nodes think of liveness.
    const opts = { timeoutMs: Math.min(m.budgetMs, L.limits.maxTimeoutMs), ballots: { atMost: m.ballotCap } };
    try {
      switch (m.op) {
        case "lock":
          return leaseOk(await this.admitted(m.key, from, "lock", () => L.lock(m.key, decodeValue(m.value!), { ...opts, leaseMs: m.leaseMs })), receivedAt);
        case "extend":
          return leaseOk(await L.extendLease(m.key, decodeValue(m.value!), m.leaseMs, opts), receivedAt);
        case "update":
          return entryOk(await L.update(m.key, decodeValue(m.expected!), decodeValue(m.value!), opts), false);
        case "release":
          await L.release(m.key, decodeValue(m.value!), opts);
          return { type: "ok", token: 0, leaseRemainingMs: 0, safeSpanMs: 0, value: null };
        case "read": {
          const e = await L.read(m.key, opts);
          return e ? entryOk(e, true) : { type: "ok", token: 0, leaseRemainingMs: 0, safeSpanMs: 0, value: null };
        }
      }
    } catch (e) {
      // Its ballot bound is already behind this node's clock (clocks apart by more than the budget): not run, the forwarder runs it.
      if (isLockerError(e) && e.details?.["ran"] === false) return { type: "refused", message: e.message };
      if (isLockerError(e)) return { type: "error", code: e.code, message: e.message };
      // decodeValue refused the bytes, or a bug: nothing the caller can fix by retrying elsewhere.
      return { type: "error", code: "invalid", message: e instanceof Error ? e.message : String(e) };
    } finally {
      this.serving--;
    }
  }
}

/** Keys and budgets the forward codec carries; anything else runs here so the Locker gives its own `invalid`. */
function forwardable(key: unknown, totalMs: unknown, maxTimeoutMs: number): boolean {
  return typeof key === "string" && key.length > 0 && key.charCodeAt(0) !== 0 && typeof totalMs === "number" && Number.isFinite(totalMs) && totalMs >= 1 && totalMs <= maxTimeoutMs;
}

const clampMs = (ms: number): number => Math.max(0, Math.min(2 ** 31 - 1, Math.floor(ms)));

function leaseOk(r: LockResult, receivedAt: number): ForwardOk {
  // floor: the span may only shrink on the way, never grow.
  return { type: "ok", token: Number(r.token), leaseRemainingMs: clampMs(r.leaseRemainingMs), safeSpanMs: clampMs(r.safeUntil - receivedAt), value: null };
}

function entryOk(e: Entry, withValue: boolean): ForwardOk {
  return { type: "ok", token: Number(e.token), leaseRemainingMs: clampMs(e.leaseRemainingMs), safeSpanMs: 0, value: withValue ? encodeValue(e.value) : null };
}

/**
 * A Locker whose quorum operations go through `routes`; every other member is
 * the Locker's own (bound to it, so its private state and its EventEmitter
 * stay one object). A Proxy rather than a subclass: the node builds the
 * Locker before affinity exists, and callers keep the Locker type they know.
 */
function routedView(locker: Locker, routes: RoutedOperations): Locker {
  const routed: Record<string, unknown> = {
    lock: routes.lock.bind(routes),
    update: routes.update.bind(routes),
    extendLease: routes.extendLease.bind(routes),
    release: routes.release.bind(routes),
    read: routes.read.bind(routes),
  };
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(locker, {
    get(target, prop) {
      if (typeof prop === "string" && Object.prototype.hasOwnProperty.call(routed, prop)) return routed[prop];
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== "function") return v;
      let b = bound.get(prop);
      if (b === undefined) {
        b = (v as (...a: unknown[]) => unknown).bind(target);
        bound.set(prop, b);
      }
      return b;
    },
  });
}

