// The public API: a Locker is one node's handle on the cluster's keys —
// quorum CAS operations with leases and fencing tokens (src/cas), local dirty
// reads, waits and events on this node's view.
import { EventEmitter } from "node:events";
import { LockerError } from "./errors.js";
import { DEFAULT_LIMITS, type LockerLimits } from "./limits.js";
import type { AcceptorEvent, LocalRecord } from "./cas/acceptor.js";
import { MAX_NODE_NAME_BYTES, tokenOf } from "./cas/ballot.js";
import { casCodec, CODEC_MAX_KEY_BYTES, CODEC_MAX_VALUE_BYTES, type CasMessage } from "./cas/messages.js";
import { CasNode, type VoterSpec } from "./cas/node.js";
import type { RecoveryOptions } from "./cas/recovery.js";
import type { BallotFloorStore } from "./cas/floor-store.js";
import type { CasOp, KnownRecord, OpResult } from "./cas/proposer.js";
import { decodeValue, encodeValue } from "./cas/value.js";
import { Transport } from "./transport/transport.js";
import { ChannelId, type Channel } from "./transport/types.js";
import type { Clock } from "./util/clock.js";
import type { Random } from "./util/random.js";
import { LocalView } from "./locker/local-view.js";
import { WriteSizeCheck } from "./locker/write-size.js";
import { checkKey, checkLease, checkLimits, checkTimeout, checkValue } from "./locker/validate.js";
import type { Entry, LockerEventMap, LockerSummary, LockOptions, LockResult, OperationOptions } from "./locker/types.js";

export type { VoterSpec } from "./cas/node.js";
export type { Entry, LockerEventMap, LockerSummary, LockOptions, LockResult, OperationOptions } from "./locker/types.js";

/**
 * Options of a Locker. Only `name`, `channel`, `clock`, `random` and `voters`
 * are required; every other knob has a documented default.
 */
export interface LockerOptions {
  /** This node's unique name (≤ 64 UTF-8 bytes). A node whose name is in `voters` is a voter and runs an acceptor. */
  name: string;
  /**
   * Where CAS messages travel: a Transport (the Locker opens the `cas` channel
   * on it) or an already opened CAS channel.
   */
  channel: Transport | Channel<CasMessage>;
  clock: Clock;
  random: Random;
  /** The static voter configuration; a quorum is a majority of it (never of the members alive). */
  voters: readonly VoterSpec[];
  /** Version of the voter configuration carried by every round. Default 1. */
  configVersion?: number;
  /** Liveness hint (fed by SWIM): fewer than a majority alive fails fast with `no_quorum`. Default: all alive. */
  isVoterAlive?: (name: string) => boolean;
  /** Longest lease. Default 60 000 ms. (Overrides `limits.maxLeaseMs`.) */
  maxLeaseMs?: number;
  /**
   * Time after start during which this node's acceptor does not vote, so no
   * lease it accepted before a restart can still be live. Default `maxLeaseMs`.
   * Set 0 only for a voter that starts for the first time in a new cluster.
   */
  quietPeriodMs?: number;
  /**
   * A restarted voter (quiet period > 0) recovers from the other voters and
   * votes at once when it can (src/cas/recovery.ts); `enabled: false` keeps
   * the whole quiet period. `maxClockSkewMs` (default 2000) is the clock
   * assumption recovery rests on: wall clocks agree within it.
   */
  recovery?: Partial<RecoveryOptions>;
  /**
   * Where this voter persists its ballot floor (src/cas/floor-store.ts), so
   * fencing tokens increase even across a restart of every voter at once
   * with skewed clocks. Default: none (the agent keeps one in --data-dir).
   */
  ballotFloor?: BallotFloorStore;
  /** How long an acceptor keeps a dead key before forgetting it. Default maxLeaseMs + maxTimeoutMs + 10 s. */
  gcGraceMs?: number;
  /** Bound on clock-rate difference between nodes; the caller's lease is cut by this ratio. Default 0.01. */
  driftRatio?: number;
  /** Budget of an operation when the call gives none. Default 5000 ms. */
  defaultTimeoutMs?: number;
  limits?: Partial<LockerLimits>;
  /** Backoff after a lost round: first ceiling, doubling up to `retryMaxMs`. Defaults 10 ms and 500 ms. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Per-attempt timeout of one request to a voter (retried within the budget). Default 200 ms. */
  requestAttemptTimeoutMs?: number;
  /**
   * After a conflict in the accept phase, how long to wait for the remaining
   * accept replies: if every voter refused the change it landed nowhere and
   * the operation can retry cleanly (otherwise a later conflict ends in
   * `timeout`, outcome unknown). Default 50 ms.
   */
  drainGraceMs?: number;
  /** Close the Transport given in `channel` when the Locker closes. Default false. */
  closeTransport?: boolean;
  /**
   * Hears a failure the Locker survives without telling any caller (today: a
   * listener of onAcceptorChange that threw). Default: a process warning, so
   * it is never silent. The agent passes its logger.
   */
  onInternalError?: (error: unknown, context: string) => void;
}

/**
 * One node's Locker. Operations are linearizable per key (CASPaxos over the
 * configured voters); reads of the local view (`dirtyRead`, `keys`, `waitFor`,
 * `waitForRelease`, events) may be stale.
 *
 * Errors (LockerError codes), precisely:
 * - `locked` (lock: the key is held), `mismatch` (the value differs),
 *   `not_found` (the key is absent or its lease ran out): the check failed
 *   against a chosen state; nothing changed.
 * - `no_quorum`: fewer than a majority of voters are alive (by the liveness
 *   hint: at once) or answered within the budget, and no change of this call
 *   can have reached any voter — nothing took effect.
 * - `timeout` (details.outcome "unknown"): a change of this call was sent and
 *   may have reached a voter, but the call could not confirm it (no majority in
 *   time, or the key moved on past it): it may or may not have taken effect,
 *   and may still take effect later (until a later change supersedes it).
 *   Read the key to find out.
 * - `contention`: concurrent rounds on the key kept winning; every voter
 *   refused this call's change (or none was sent) — nothing took effect; retry.
 * - `invalid`: a bad argument (key, value, lease, budget, or a key and value
 *   that do not fit one datagram). `unavailable`: closed, too many operations
 *   in flight or queued on the key, or a voter runs another configuration.
 *
 * Fencing tokens strictly increase across successive holders of a key,
 * including across expiry and garbage collection. Known edge (DESIGN.md): a
 * majority of voters that restart with memory loss while wall clocks are
 * skewed by more than a lease could issue a token below a forgotten one; the
 * quiet period protects leases, not token order.
 */
export class Locker extends EventEmitter<LockerEventMap> {
  readonly name: string;
  readonly limits: Readonly<LockerLimits>;
  readonly driftRatio: number;
  readonly defaultTimeoutMs: number;
  private readonly node: CasNode;
  private readonly clock: Clock;
  private readonly writeSize: WriteSizeCheck;
  private readonly transport: Transport | undefined;
  private readonly closeTransport: boolean;
  /** dirtyRead, keys, waits and events (src/locker/local-view.ts). */
  private readonly view: LocalView;
  /** Replication's listeners on acceptor events (see onAcceptorChange). */
  private readonly acceptorListeners = new Set<(events: readonly AcceptorEvent[]) => void>();
  private closed = false;
  private readonly onInternalError: (error: unknown, context: string) => void;

  constructor(options: LockerOptions) {
    super();
    if (typeof options.name !== "string" || options.name.length === 0 || Buffer.byteLength(options.name) > MAX_NODE_NAME_BYTES) {
      throw new LockerError("invalid", `name must be 1..${MAX_NODE_NAME_BYTES} UTF-8 bytes`);
    }
    const maxLeaseMs = options.maxLeaseMs ?? options.limits?.maxLeaseMs ?? DEFAULT_LIMITS.maxLeaseMs;
    const limits: LockerLimits = { ...DEFAULT_LIMITS, ...options.limits, maxLeaseMs };
    checkLimits(limits);
    this.limits = Object.freeze(limits);
    this.name = options.name;
    this.clock = options.clock;
    this.driftRatio = options.driftRatio ?? 0.01;
    if (!(this.driftRatio >= 0 && this.driftRatio < 0.5)) throw new LockerError("invalid", "driftRatio must be in [0, 0.5)");
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 5000;
    checkTimeout(this.defaultTimeoutMs, limits);
    for (const v of options.voters) {
      if (typeof v.name !== "string" || v.name.length === 0 || Buffer.byteLength(v.name) > MAX_NODE_NAME_BYTES) {
        throw new LockerError("invalid", `voter name must be 1..${MAX_NODE_NAME_BYTES} UTF-8 bytes`);
      }
    }
    let channel: Channel<CasMessage>;
    if (options.channel instanceof Transport) {
      this.transport = options.channel;
      channel = options.channel.channel(ChannelId.cas, casCodec);
    } else {
      this.transport = undefined;
      channel = options.channel;
    }
    this.writeSize = new WriteSizeCheck(channel);
    this.closeTransport = options.closeTransport ?? false;
    this.onInternalError = options.onInternalError ?? ((e, context) => process.emitWarning(`locker ${options.name}: ${context}: ${e instanceof Error ? e.message : String(e)}`, "LockerWarning"));
    const quietPeriodMs = options.quietPeriodMs ?? maxLeaseMs;
    const gcGraceMs = options.gcGraceMs ?? maxLeaseMs + limits.maxTimeoutMs + 10_000;
    if (!(quietPeriodMs >= 0) || !(gcGraceMs >= maxLeaseMs)) {
      throw new LockerError("invalid", "quietPeriodMs must be ≥ 0 and gcGraceMs ≥ maxLeaseMs");
    }
    this.node = new CasNode({
      name: options.name,
      channel,
      clock: options.clock,
      random: options.random,
      voters: options.voters,
      configVersion: options.configVersion ?? 1,
      isVoterAlive: options.isVoterAlive ?? (() => true),
      quietPeriodMs,
      ...(options.recovery ? { recovery: options.recovery } : {}),
      ...(options.ballotFloor ? { ballotFloor: options.ballotFloor } : {}),
      gcGraceMs,
      limits,
      retryBaseMs: options.retryBaseMs ?? 10,
      retryMaxMs: options.retryMaxMs ?? 500,
      requestAttemptTimeoutMs: options.requestAttemptTimeoutMs ?? 200,
      drainGraceMs: options.drainGraceMs ?? 50,
      onAcceptorEvents: (events) => this.onAcceptorEvents(events),
    });
    this.view = new LocalView({ node: this.node, clock: options.clock, limits: this.limits, events: this });
  }

  /** The quorum CAS node (stats, acceptor) — for tests, the simulator and the agent. */
  get cas(): CasNode {
    return this.node;
  }

  // ---- quorum operations ----

  /**
   * Takes `key` with `value` for `leaseMs` if it is absent or expired at a quorum.
   * @throws LockerError `locked` | `no_quorum` | `timeout` | `contention` | `invalid` | `unavailable`
   */
  async lock(key: string, value: unknown, options: LockOptions): Promise<LockResult> {
    const k = this.checkKey(key);
    const bytes = this.checkValue(value);
    const leaseMs = this.checkLease(options?.leaseMs);
    const r = await this.run(k, { kind: "lock", value: bytes, leaseMs }, options, bytes);
    return this.leaseResult(k, r, leaseMs, bytes);
  }

  /**
   * Replaces the value if it equals `expected`; the lease runs on unchanged.
   * @throws LockerError `mismatch` | `not_found` | `no_quorum` | `timeout` | `contention` | `invalid` | `unavailable`
   */
  async update(key: string, expected: unknown, newValue: unknown, options: OperationOptions = {}): Promise<Entry> {
    const k = this.checkKey(key);
    const exp = this.checkValue(expected);
    const bytes = this.checkValue(newValue);
    const r = await this.run(k, { kind: "update", expected: exp, value: bytes }, options, bytes);
    if (!r.record) {
      // An earlier round of this call won, but the (carried) lease ran out before it learned so.
      return { key: k, value: decodeValue(bytes), token: tokenOf(r.writtenToken ?? 0), leaseRemainingMs: 0 };
    }
    return this.entryOf(k, r.record);
  }

  /**
   * Restarts the lease at `leaseMs` from now if the value equals `value`. The token is kept.
   * @throws LockerError `mismatch` | `not_found` | `no_quorum` | `timeout` | `contention` | `invalid` | `unavailable`
   */
  async extendLease(key: string, value: unknown, leaseMs: number, options: OperationOptions = {}): Promise<LockResult> {
    const k = this.checkKey(key);
    const bytes = this.checkValue(value);
    const lease = this.checkLease(leaseMs);
    const r = await this.run(k, { kind: "extend", value: bytes, leaseMs: lease }, options, bytes);
    return this.leaseResult(k, r, lease, bytes);
  }

  /**
   * Deletes the key if its value equals `value`.
   * @throws LockerError `mismatch` | `not_found` | `no_quorum` | `timeout` | `contention` | `invalid` | `unavailable`
   */
  async release(key: string, value: unknown, options: OperationOptions = {}): Promise<void> {
    const k = this.checkKey(key);
    const bytes = this.checkValue(value);
    await this.run(k, { kind: "release", value: bytes }, options, bytes);
  }

  /**
   * Linearizable read: the value chosen at a quorum (undefined when absent or expired).
   * @throws LockerError `no_quorum` | `timeout` | `contention` | `invalid` | `unavailable`
   */
  async read(key: string, options: OperationOptions = {}): Promise<Entry | undefined> {
    const k = this.checkKey(key);
    const r = await this.run(k, { kind: "read" }, options, undefined);
    return r.record ? this.entryOf(k, r.record) : undefined;
  }

  /** Time (ms) a majority of voters takes to answer a probe. @throws `no_quorum` | `unavailable` */
  lag(options: OperationOptions = {}): Promise<number> {
    return this.node.probe(this.timeoutOf(options));
  }

  // ---- local view ----

  /** This node's copy of a key (its acceptor's, or a copy it learned); may be stale. */
  dirtyRead(key: string): Entry | undefined {
    const k = this.checkKey(key);
    const r = this.view.get(k);
    return r ? this.entryOf(k, r) : undefined;
  }

  /** Live local entries whose key starts with `prefix` (at most `limit`). */
  keys(prefix = "", limit = 10_000): Entry[] {
    return this.view.entries(prefix, limit).map(([k, r]) => this.entryOf(k, r));
  }

  /** Resolves with the key's value once it is present in the local view. @throws `timeout` | `invalid` | `unavailable` */
  waitFor(key: string, timeoutMs: number): Promise<unknown> {
    const k = this.checkKey(key);
    checkTimeout(timeoutMs, this.limits);
    return this.view.waitFor(k, timeoutMs);
  }

  /** Resolves once the key is absent in the local view (released or expired). @throws `timeout` | `invalid` | `unavailable` */
  async waitForRelease(key: string, timeoutMs: number): Promise<void> {
    const k = this.checkKey(key);
    checkTimeout(timeoutMs, this.limits);
    await this.view.waitForRelease(k, timeoutMs);
  }

  summary(): LockerSummary {
    const { leases, acceptorKeys } = this.view.counts();
    return {
      name: this.name,
      voter: this.node.isVoter,
      quiet: this.node.quiet,
      leases,
      acceptorKeys,
      pendingRounds: this.node.pendingOperations,
      fastPathKeys: this.node.fastPathKeys,
      quorum: this.node.quorum,
      voters: this.node.voterCount,
      stats: { ...this.node.stats },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.node.close();
    this.view.close();
    if (this.closeTransport && this.transport) await this.transport.close();
  }

  // ---- internals ----

  private async run(key: string, op: CasOp, options: OperationOptions | undefined, bytes: Uint8Array | undefined): Promise<OpResult> {
    if (this.closed) throw new LockerError("unavailable", "locker is closed");
    const timeoutMs = this.timeoutOf(options ?? {});
    // A read writes back only what someone already wrote; a write must fit the wire.
    if (bytes) this.writeSize.check(key, bytes);
    const r = await this.node.execute(key, op, timeoutMs, options?.ballots);
    if (!this.node.isVoter) this.view.learn(key, r.record);
    return r;
  }

  private timeoutOf(options: OperationOptions): number {
    const t = options.timeoutMs ?? this.defaultTimeoutMs;
    checkTimeout(t, this.limits);
    return t;
  }

  private leaseResult(key: string, r: OpResult, leaseMs: number, bytes: Uint8Array): LockResult {
    const rec = r.record;
    const start = r.leaseStart ?? this.clock.now();
    const now = this.clock.now();
    if (!rec) {
      // An earlier round of this call won, but its lease ran out before the
      // call learned it: it did hold, and safeUntil is already past.
      return {
        key,
        value: decodeValue(bytes),
        token: tokenOf(r.writtenToken ?? 0),
        leaseMs,
        leaseRemainingMs: 0,
        safeUntil: start + leaseMs * (1 - this.driftRatio),
      };
    }
    return {
      key,
      value: decodeValue(rec.value),
      token: tokenOf(rec.token),
      leaseMs,
      leaseRemainingMs: Math.max(0, rec.expiresAt - now),
      safeUntil: start + leaseMs * (1 - this.driftRatio),
    };
  }

  private entryOf(key: string, r: KnownRecord): Entry {
    return this.view.entryOf(key, r);
  }

  /** Reconfiguration hook (src/cluster/configurator.ts); a demoted voter's view keeps what its acceptor held until a snapshot comes. */
  applyConfiguration(version: number, voters: readonly VoterSpec[]): "promoted" | "demoted" | "unchanged" | "stale" {
    const leaving = this.node.isVoter && !voters.some((v) => v.name === this.name) ? this.node.liveEntries("") : [];
    const change = this.node.applyConfiguration(version, voters);
    if (change === "demoted") for (const [k, r] of leaving) this.applyReplicated(k, r, "changed");
    return change;
  }

  /**
   * Replication hook (src/replication): `listener` sees every event of this
   * node's acceptor (accepted changes and local expiries), including changes
   * that leave the value and token as they were (lease extensions), which the
   * `changed` event does not report. Returns an unsubscribe function.
   */
  onAcceptorChange(listener: (events: readonly AcceptorEvent[]) => void): () => void {
    this.acceptorListeners.add(listener);
    return () => this.acceptorListeners.delete(listener);
  }

  /**
   * Replication hook (src/replication): on a non-voter, a change pushed by a
   * voter enters the local view (dirtyRead, keys, waitFor, events). On a
   * voter, whose view is its own acceptor, it is taken while the voter is in
   * its quiet period (restarted with empty memory), and afterwards only for
   * the keys it still shows a copy of (see src/locker/local-view.ts).
   */
  applyReplicated(key: string, record: LocalRecord | null, cause: "changed" | "expired" = "changed"): void {
    if (this.closed) return;
    this.view.applyReplicated(key, record, cause);
  }

  private onAcceptorEvents(events: AcceptorEvent[]): void {
    for (const listener of this.acceptorListeners) {
      try {
        listener(events);
      } catch (e) {
        // A listener's failure must not break the acceptor's reply path; it is reported, not thrown.
        try {
          this.onInternalError(e, "an acceptor-change listener threw");
        } catch {
          // the reporter itself failed: nothing left to tell
        }
      }
    }
    this.view.onAcceptorEvents(events);
  }

  private checkKey(key: unknown): string {
    return checkKey(key, this.limits);
  }

  private checkValue(value: unknown): Uint8Array {
    return checkValue(value, this.limits);
  }

  private checkLease(leaseMs: unknown): number {
    return checkLease(leaseMs, this.limits);
  }
}
