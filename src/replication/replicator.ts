// Asynchronous replication over the transport's replication channel.
// A voter pushes its acceptor's changes to every non-voting member: at once
// when nothing is in flight to that member, batched while a push is (so the
// batch size follows the load, not a timer), each batch a request retried by the
// transport; a member that joins pulls a paged snapshot of the live keys from
// a voter, then keeps receiving the stream. Changes are applied by ballot, so
// duplicates, reordering and pushes of the same change by several voters are
// harmless, and a lease extension (a new accept) refreshes a replica that
// missed the original change: anti-entropy, as in locker.
//
// Copies feed local views only, never an acceptor. A copy's lease is counted
// from when it arrived, so it ends later than the original by the transit
// time, or earlier if a margin is taken off. The simulator showed both are
// unsafe inside an acceptor: a longer copy brought a lapsed key back after it
// was read as absent, and a shorter one, after a reconfiguration removed the
// genuine holders, was the only witness of a live lock and let a second
// holder in. Pushes and snapshot pages are therefore also never retried by the
// transport (a retried frame or cached response carries a stale lease).
// Long because the push stream and the snapshot pull share the per-member
// cursor and the ballot order they apply in; the codecs (messages.ts) and
// the listings a voter serves (snapshot-server.ts) are apart.
import { LockerError } from "../errors.js";
import type { Address, Channel, RequestOptions } from "../transport/types.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import { DeadlineTimer } from "../util/deadline-timer.js";
import type { Random } from "../util/random.js";
import { encodeCbor } from "../wire/cbor.js";
import type { ConfigHandler } from "../cluster/configurator.js";
import { encodeEntry, type ChangeEntry, type ReplMessage } from "./messages.js";
import { SnapshotServer } from "./snapshot-server.js";
import type { ChangeSource, ReplicaSink } from "./source.js";
import { ReplicaStore, type ReplicaStoreStats, type StoreChange } from "./store.js";

export interface PeerSpec {
  readonly name: string;
  readonly address: Address;
}

/** Who is who, as this node sees it now (membership + voter configuration). */
export interface ReplicationPeers {
  /** Alive members that do not vote: they receive pushes. */
  replicas(): readonly PeerSpec[];
  /** Alive voters other than this node: sources of snapshots. */
  voters(): readonly PeerSpec[];
  /** Version of the active voter configuration (carried in pushes so replicas notice a newer one). */
  configVersion(): number;
  /** Whether `name` is a voter of the active configuration (only voters' pushes are applied). */
  isVoter(name: string): boolean;
}

export interface ReplicatorOptions {
  name: string;
  channel: Channel<ReplMessage>;
  clock: Clock;
  random: Random;
  source: ChangeSource;
  sink: ReplicaSink;
  peers: ReplicationPeers;
  /** Handles the configuration messages this channel carries (src/cluster/configurator.ts). */
  config?: ConfigHandler;
  /**
   * Interval of the housekeeping tick: new and gone replicas, snapshot pulls,
   * and pushes left over (after a failed push). Changes themselves are pushed
   * as they happen. Default 100 ms.
   */
  pushIntervalMs?: number;
  /** Push batches awaiting an ack per replica. Default 32. */
  maxInflightPerReplica?: number;
  /** Snapshot pages fetched in parallel. Default 32. */
  snapshotWindow?: number;
  /** How long a snapshot session's page list is kept. Default 30 s. */
  snapshotSessionTtlMs?: number;
  /** Concurrent snapshot sessions a voter serves. Default 16. */
  maxSnapshotSessions?: number;
  /** A replica's memory of absent keys' ballots; must exceed maxLeaseMs plus in-flight time. */
  tombstoneMs: number;
  /** Bound on keys in a replica's store. */
  maxKeys: number;
  /**
   * Budget of one push or snapshot-page request. Only `attemptTimeoutMs` is
   * used: these requests are never retried by the transport, because a
   * retried frame (or a cached response) would carry a lease measured at its
   * first sending. Replication retries itself, with the state of the moment.
   */
  request?: RequestOptions;
  /** Attempts per snapshot page before the pull starts over with another voter. Default 5. */
  maxPageAttempts?: number;
  /** Pause before a failed snapshot is tried again (with another voter). Default 500 ms. */
  syncRetryMs?: number;
}

export interface ReplicatorStats {
  pushBatchesSent: number;
  pushEntriesSent: number;
  pushFailures: number;
  pushBatchesReceived: number;
  pushEntriesReceived: number;
  /** Pushes from a node that is not a voter of this node's configuration. */
  pushesRefused: number;
  snapshotSessionsServed: number;
  snapshotPagesServed: number;
  snapshotsCompleted: number;
  snapshotFailures: number;
  /** Duration and size of the last completed snapshot pull. */
  lastSnapshotMs: number;
  lastSnapshotEntries: number;
  resyncsSent: number;
  /** Entries too large for one message (cannot happen with the Locker's limits; counted, never sent). */
  oversizedEntries: number;
  store: ReplicaStoreStats;
}

interface Target {
  name: string;
  address: Address;
  dirty: Set<string>;
  inflight: number;
  /** A target registered by its snapshot request stays until then even if membership has not seen it yet. */
  pinnedUntil: number;
}

/** Bytes of a push or page message around its entries (type, names, numbers, array headers), with margin. */
const MESSAGE_OVERHEAD_BYTES = 120;
/** Encoded bytes of a small change entry (short key and names, small value): an estimate, used only to skip a push that surely would not fill a message; wrong either way it only changes when a batch goes. */
const MIN_ENTRY_BYTES = 24;
const MAX_LOST_TARGETS = 10_000;

export class Replicator {
  readonly stats: ReplicatorStats;
  private readonly store: ReplicaStore;
  private readonly targets = new Map<Address, Target>();
  /** Replicas dropped while they had (or could have had) changes pending: they get a resync hint when they return. */
  private readonly lost = new Set<Address>();
  /** Snapshots and key listings this node serves as a voter. */
  private readonly snapshots: SnapshotServer;
  private readonly pushIntervalMs: number;
  private readonly maxInflight: number;
  private readonly window: number;
  private readonly sessionTtlMs: number;
  private readonly syncRetryMs: number;
  private readonly requestOptions: RequestOptions;
  private readonly maxPageAttempts: number;
  private readonly entryBudgetBytes: number;
  private tickTimer: TimerHandle | undefined;
  /** A flush is deferred to the end of this event (changes made in one event share a push). */
  private flushQueued = false;
  /** Runs the replica store's due expiries. */
  private readonly expiry: DeadlineTimer;
  private unsubscribe: () => void;
  private closed = false;
  private wasVoter: boolean | undefined;
  /** Replica side: a snapshot is needed (start, resync hint, demotion). */
  private needsSync = true;
  private syncing = false;
  private syncNotBefore = 0;
  private preferredSource: Address | undefined;
  private syncedWaiters: Array<() => void> = [];
  private syncedOnce = false;
  /** A quiet (restarted) voter pulled its snapshot. */
  private quietSynced = false;

  constructor(private readonly o: ReplicatorOptions) {
    this.expiry = new DeadlineTimer(o.clock, () => {
      for (const c of this.store.tick(this.o.clock.now())) this.emit(c);
      this.armExpiry();
    });
    this.pushIntervalMs = o.pushIntervalMs ?? 100;
    this.maxInflight = o.maxInflightPerReplica ?? 32;
    this.window = o.snapshotWindow ?? 32;
    this.sessionTtlMs = o.snapshotSessionTtlMs ?? 30_000;
    this.syncRetryMs = o.syncRetryMs ?? 500;
    const attemptTimeoutMs = o.request?.attemptTimeoutMs ?? 200;
    this.requestOptions = { attemptTimeoutMs, retries: 0, timeoutMs: attemptTimeoutMs };
    this.maxPageAttempts = o.maxPageAttempts ?? 5;
    if (!(this.pushIntervalMs > 0)) throw new LockerError("invalid", "pushIntervalMs must be positive");
    this.entryBudgetBytes = o.channel.maxMessageBytes - MESSAGE_OVERHEAD_BYTES;
    this.store = new ReplicaStore({ tombstoneMs: o.tombstoneMs, maxKeys: o.maxKeys });
    this.stats = {
      pushBatchesSent: 0,
      pushEntriesSent: 0,
      pushFailures: 0,
      pushBatchesReceived: 0,
      pushEntriesReceived: 0,
      pushesRefused: 0,
      snapshotSessionsServed: 0,
      snapshotPagesServed: 0,
      snapshotsCompleted: 0,
      snapshotFailures: 0,
      lastSnapshotMs: 0,
      lastSnapshotEntries: 0,
      resyncsSent: 0,
      oversizedEntries: 0,
      store: this.store.stats,
    };
    this.snapshots = new SnapshotServer({
      name: o.name,
      source: o.source,
      clock: o.clock,
      random: o.random,
      ttlMs: this.sessionTtlMs,
      maxSessions: o.maxSnapshotSessions ?? 16,
      pageBudgetBytes: this.entryBudgetBytes,
      stats: this.stats,
    });
    this.unsubscribe = o.source.onChange((key) => this.onLocalChange(key));
    o.channel.onRequest((m, from) => this.onRequest(m, from));
    o.channel.onMessage((m, from) => this.onMessage(m, from));
    this.schedule();
  }

  /** Whether this replica has completed a snapshot since it last needed one (on a voter: unless it is a quiet one still catching up). */
  get synced(): boolean {
    if (this.o.source.active) return !this.o.source.quiet || this.quietSynced;
    return !this.needsSync && !this.syncing && this.syncedOnce;
  }

  /** Resolves once a replica has its first snapshot applied (at once on a voter). */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.push(resolve));
  }

  /** Keys live in the replica store (a replica's view). */
  replicaLiveCount(): number {
    return this.store.liveCount(this.o.clock.now());
  }

  /** Keys waiting to be pushed, over all replicas (a voter's backlog). */
  get backlog(): number {
    let n = 0;
    for (const t of this.targets.values()) n += t.dirty.size;
    return n;
  }

  /** The store's live entries with their ballots (inspection and tests). */
  replicaEntries(): ReturnType<ReplicaStore["liveEntries"]> {
    return this.store.liveEntries(this.o.clock.now());
  }

  /** Asks a replica to pull a fresh snapshot (after a demotion, or by hand). */
  resync(): void {
    this.needsSync = true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.o.clock.clearTimer(this.tickTimer);
    this.expiry.cancel();
    this.targets.clear();
  }

  // ---- the periodic tick ----

  private schedule(): void {
    if (this.closed) return;
    this.tickTimer = this.o.clock.setTimer(this.pushIntervalMs, () => {
      this.tickTimer = undefined;
      this.tick();
      this.schedule();
    });
  }

  /** One round of work: refresh targets and push (voter), or pull a snapshot if needed (replica). */
  tick(): void {
    if (this.closed) return;
    const now = this.o.clock.now();
    const voter = this.o.source.active;
    if (this.wasVoter !== voter) {
      // A demoted voter's view must come from the voters now; a promoted one's from its acceptor.
      if (!voter) this.needsSync = true;
      else this.store.clear();
      this.wasVoter = voter;
    }
    if (voter) {
      this.refreshTargets(now);
      for (const t of this.targets.values()) this.pushTo(t, now);
      // A voter restarted with empty memory catches up during its quiet period (it votes only after it).
      if (this.o.source.quiet && !this.quietSynced && !this.syncing && now >= this.syncNotBefore) void this.pull();
    } else {
      this.targets.clear();
      if (this.needsSync && !this.syncing && now >= this.syncNotBefore) void this.pull();
    }
    // A role change can make a node synced without a pull (promoted, or its quiet period over).
    if (this.syncedWaiters.length > 0 && this.synced) for (const w of this.syncedWaiters.splice(0)) w();
  }

  // ---- voter side: pushes ----

  private onLocalChange(key: string): void {
    if (this.targets.size === 0) return;
    for (const t of this.targets.values()) t.dirty.add(key);
    this.queueFlush();
  }

  /**
   * Flush when idle, batch when busy: deferred to the end of the current
   * event, so the changes one datagram or one timer caused go in one push.
   * A replica with nothing in flight gets its changes at once (lag ≈ one
   * hop, not up to a tick); one with a push in flight gets only full
   * messages now and the rest when that push is acknowledged (onPushDone),
   * so a busy voter sends a few large pushes instead of one per change.
   */
  private queueFlush(): void {
    if (this.flushQueued || this.closed) return;
    this.flushQueued = true;
    this.o.clock.defer(() => {
      this.flushQueued = false;
      if (this.closed || !this.o.source.active) return;
      const now = this.o.clock.now();
      for (const t of this.targets.values()) this.pushTo(t, now, t.inflight > 0);
    });
  }

  private refreshTargets(now: number): void {
    const current = new Map<Address, PeerSpec>();
    for (const p of this.o.peers.replicas()) if (p.name !== this.o.name) current.set(p.address, p);
    for (const [address, t] of this.targets) {
      if (!current.has(address) && t.pinnedUntil <= now) {
        this.targets.delete(address);
        if (this.lost.size < MAX_LOST_TARGETS) this.lost.add(address);
      }
    }
    for (const [address, p] of current) {
      if (this.targets.has(address)) continue;
      this.targets.set(address, { name: p.name, address, dirty: new Set(), inflight: 0, pinnedUntil: 0 });
      if (this.lost.delete(address)) {
        // It was dropped (dead, partitioned) and may have missed changes: it pulls a snapshot.
        this.stats.resyncsSent++;
        this.o.channel.send(address, { type: "resync", from: this.o.name });
      }
    }
  }

  /** `fullOnly`: send only while the dirty keys surely fill a message (a push is in flight; the rest waits for its ack). */
  private pushTo(t: Target, now: number, fullOnly = false): void {
    while (t.dirty.size > 0 && t.inflight < this.maxInflight) {
      if (fullOnly && t.dirty.size * MIN_ENTRY_BYTES < this.entryBudgetBytes) return;
      const batch = this.takeBatch(t.dirty, now);
      if (batch.entries.length === 0) continue;
      this.sendPush(t, batch.entries);
    }
  }

  /** Takes keys from `dirty` until a message is full; reads each key's state now (so repeated changes coalesce). */
  private takeBatch(dirty: Set<string>, now: number): { entries: ChangeEntry[] } {
    const entries: ChangeEntry[] = [];
    let bytes = 0;
    for (const key of dirty) {
      const e = this.o.source.entry(key, now);
      if (!e) {
        dirty.delete(key);
        continue;
      }
      const size = encodeCbor(encodeEntry(e)).length;
      if (size > this.entryBudgetBytes) {
        dirty.delete(key);
        this.stats.oversizedEntries++;
        continue;
      }
      if (bytes + size > this.entryBudgetBytes) break;
      dirty.delete(key);
      entries.push(e);
      bytes += size;
    }
    return { entries };
  }

  private sendPush(t: Target, entries: ChangeEntry[]): void {
    t.inflight++;
    this.stats.pushBatchesSent++;
    this.stats.pushEntriesSent += entries.length;
    const msg: ReplMessage = { type: "push", from: this.o.name, cfg: this.o.peers.configVersion(), entries };
    this.o.channel.request(t.address, msg, this.requestOptions).then(
      (reply) => {
        t.inflight--;
        if (reply.type === "ack" && reply.cfg > this.o.peers.configVersion()) this.o.config?.newerSeen(reply.cfg, t.address);
        // What piled up while this push was out goes now, as one batch. (A
        // failed push waits for the tick instead: no hot loop at a dead replica.)
        if (t.dirty.size > 0 && this.targets.get(t.address) === t) this.queueFlush();
      },
      () => {
        t.inflight--;
        this.stats.pushFailures++;
        // Not acknowledged: push these keys again (their state then) if the replica is still a target.
        if (this.targets.get(t.address) === t) for (const e of entries) t.dirty.add(e.key);
      },
    );
  }

  // ---- voter side: snapshot sessions ----

  private openSession(m: Extract<ReplMessage, { type: "snap" }>, from: Address): number {
    const now = this.o.clock.now();
    // Register the requester first: every change from now on is pushed to it,
    // so nothing falls between the snapshot and the stream.
    let t = this.targets.get(from);
    if (!t) {
      t = { name: m.from, address: from, dirty: new Set(), inflight: 0, pinnedUntil: 0 };
      this.targets.set(from, t);
    }
    t.pinnedUntil = now + this.sessionTtlMs;
    this.lost.delete(from);
    return this.snapshots.open(now);
  }

  // ---- replica side ----

  private async pull(): Promise<void> {
    const voters = this.o.peers.voters().filter((v) => v.name !== this.o.name);
    if (voters.length === 0) return;
    const preferred = voters.find((v) => v.address === this.preferredSource);
    const source = preferred ?? voters[this.o.random.int(voters.length)]!;
    this.preferredSource = undefined;
    this.syncing = true;
    this.needsSync = false;
    const t0 = this.o.clock.now();
    let entries = 0;
    try {
      const first = await this.fetchPage(source.address, 0, 0);
      entries += this.applyEntries(first.entries);
      const session = first.session;
      let next = 1;
      const worker = async (): Promise<void> => {
        while (next < first.pages && !this.closed) {
          const p = next++;
          const r = await this.fetchPage(source.address, session, p);
          entries += this.applyEntries(r.entries);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.window, Math.max(0, first.pages - 1)) }, () => worker()));
      this.stats.snapshotsCompleted++;
      this.stats.lastSnapshotMs = this.o.clock.now() - t0;
      this.stats.lastSnapshotEntries = entries;
      this.syncedOnce = true;
      if (this.o.source.active) this.quietSynced = true;
    } catch {
      this.stats.snapshotFailures++;
      this.needsSync = true;
      this.syncNotBefore = this.o.clock.now() + this.syncRetryMs;
    } finally {
      this.syncing = false;
    }
    if (this.synced) for (const w of this.syncedWaiters.splice(0)) w();
  }

  private async fetchPage(address: Address, session: number, page: number): Promise<Extract<ReplMessage, { type: "page" }>> {
    for (let attempt = 1; ; attempt++) {
      try {
        // A new request each time (never a transport retry): the page is served with the leases of now.
        const r = await this.o.channel.request(address, { type: "snap", from: this.o.name, session, page }, this.requestOptions);
        if (r.type !== "page" || (session !== 0 && r.session !== session) || r.page !== page) {
          throw new LockerError("unavailable", `unexpected answer to a snapshot request from ${address}`);
        }
        return r;
      } catch (e) {
        if (attempt >= this.maxPageAttempts || this.closed) throw e;
      }
    }
  }

  private applyEntries(entries: readonly ChangeEntry[]): number {
    const now = this.o.clock.now();
    // A voter's view is its acceptor; only a quiet (restarted) one takes copies, for its local view.
    // Copies never enter an acceptor: a lease cannot be copied exactly (see the header).
    if (this.o.source.active && !this.o.source.quiet) return 0;
    for (const e of entries) {
      const c = this.store.apply(e, now);
      if (c) this.emit(c);
    }
    this.armExpiry();
    return entries.length;
  }

  private emit(c: StoreChange): void {
    this.o.sink.apply(c.key, c.after, c.cause === "expired" ? "expired" : "changed");
  }

  private armExpiry(): void {
    if (this.closed) return;
    this.expiry.arm(this.store.nextDeadline());
  }


  // ---- incoming ----

  private onRequest(m: ReplMessage, from: Address): ReplMessage | Promise<ReplMessage> {
    if (this.closed) throw new LockerError("unavailable", "replication is closed");
    switch (m.type) {
      case "push": {
        const cfg = this.o.peers.configVersion();
        if (m.cfg > cfg) this.o.config?.newerSeen(m.cfg, from);
        if (!this.o.peers.isVoter(m.from)) {
          // Not a voter as far as this node knows (or a newer configuration it is
          // fetching now): refused, so the sender keeps the batch and retries.
          this.stats.pushesRefused++;
          throw new LockerError("unavailable", `${m.from} is not a voter of configuration ${cfg}`);
        }
        this.stats.pushBatchesReceived++;
        this.stats.pushEntriesReceived += m.entries.length;
        this.applyEntries(m.entries);
        return { type: "ack", cfg };
      }
      case "snap": {
        if (!this.o.source.active) throw new LockerError("unavailable", `${this.o.name} is not a voter`);
        const session = m.session === 0 ? this.openSession(m, from) : m.session;
        return this.snapshots.page(session, m.page, this.o.clock.now());
      }
      case "cfgGet": {
        if (!this.o.config) throw new LockerError("unavailable", "no configuration handler");
        return { type: "cfg", config: this.o.config.current() };
      }
      case "cfg": {
        const handler = this.o.config;
        if (!handler) throw new LockerError("unavailable", "no configuration handler");
        return Promise.resolve(handler.activate(m.config, from)).then(() => ({ type: "cfg" as const, config: handler.current() }));
      }
      case "keys":
        return this.snapshots.keys(m.session, m.page, this.o.clock.now());
      default:
        throw new LockerError("invalid", `a ${m.type} is not a request`);
    }
  }

  private onMessage(m: ReplMessage, from: Address): void {
    if (this.closed) return;
    if (m.type === "resync") {
      this.needsSync = true;
      this.preferredSource = from;
    }
  }
}
