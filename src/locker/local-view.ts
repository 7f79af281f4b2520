// The Locker's local view: what dirtyRead, keys, waitFor, waitForRelease and
// the events see on this node, possibly stale. A voter's view is its acceptor,
// plus copies ("learned") for keys its acceptor has accepted nothing for yet:
// taken from replication while it was quiet (restarted) or a replica before a
// promotion. A non-voter's view is only copies: its own operations' results
// and what replication pushes. Keys starting with NUL belong to the cluster
// (reconfiguration) and never show: not in keys(), counts or events.
import type { EventEmitter } from "node:events";
import { LockerError } from "../errors.js";
import type { LockerLimits } from "../limits.js";
import type { Acceptor, AcceptorEvent, LocalRecord } from "../cas/acceptor.js";
import { DeadlineHeap } from "../util/deadline-heap.js";
import type { CasNode } from "../cas/node.js";
import { bytesEqual, type KnownRecord } from "../cas/proposer.js";
import { tokenOf } from "../cas/ballot.js";
import { decodeValue } from "../cas/value.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import type { Entry, LockerEventMap } from "./types.js";

/** Keys reserved for the cluster itself (src/cluster/configurator.ts): never shown to clients. */
export function isReservedKey(key: string): boolean {
  return key.charCodeAt(0) === 0;
}

interface Waiter {
  kind: "present" | "absent";
  resolve: (value: unknown) => void;
  reject: (e: Error) => void;
  timer: TimerHandle | undefined;
  recheck: TimerHandle | undefined;
}

export interface LocalViewOptions {
  node: CasNode;
  clock: Clock;
  limits: Readonly<LockerLimits>;
  /** Where events go (the Locker). */
  events: EventEmitter<LockerEventMap>;
}

export class LocalView {
  /**
   * Copies of keys this node's acceptor holds nothing accepted for (every key
   * on a non-voter). Invariant on a voter: a key is here only until its
   * acceptor accepts a change of it (onAcceptorEvents drops the copy then).
   */
  private readonly learned = new Map<string, LocalRecord>();
  /** Lease ends of the copies (lazy deletion), so a voter's copies expire without any read. */
  private readonly copyDeadlines = new DeadlineHeap<string>();
  private sweepTimer: TimerHandle | undefined;
  private sweepAt = Infinity;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private waiterCount = 0;
  private closed = false;
  /** The acceptor the view last saw: a demotion drops it from the CAS node, and its records must not vanish with it. */
  private acceptorSeen: Acceptor | null;

  constructor(private readonly o: LocalViewOptions) {
    this.acceptorSeen = o.node.acceptor;
  }

  /**
   * A demoted voter keeps showing what its acceptor held, as copies, until
   * replication's snapshot replaces them: its keys neither vanish from the
   * view nor come back as new `acquired` events. (A promotion needs nothing
   * here: copies give way one by one as the new acceptor accepts changes.)
   */
  private followRole(): void {
    const acceptor = this.o.node.acceptor;
    if (acceptor === this.acceptorSeen) return;
    const old = this.acceptorSeen;
    this.acceptorSeen = acceptor;
    if (!old || acceptor) return;
    for (const [k, r] of old.entries("", this.o.clock.now(), Number.MAX_SAFE_INTEGER)) {
      if (!this.learned.has(k) && this.learned.size < this.o.limits.maxKeys) this.setCopy(k, r);
    }
  }

  /** The key's live record in the view. */
  get(key: string): LocalRecord | undefined {
    this.followRole();
    const now = this.o.clock.now();
    const acceptor = this.o.node.acceptor;
    if (acceptor) this.o.node.tickNow();
    const copy = this.learned.get(key);
    if (copy) {
      if (copy.expiresAt > now) return copy;
      this.learned.delete(key);
      this.emitTransition(key, copy, null, "expired");
      return undefined;
    }
    return acceptor?.get(key, now);
  }

  /** Live entries whose key starts with `prefix`, at most `limit`; reserved keys never count against the limit. */
  entries(prefix: string, limit: number): Array<[string, LocalRecord]> {
    this.followRole();
    const now = this.o.clock.now();
    const acceptor = this.o.node.acceptor;
    if (acceptor) this.o.node.tickNow();
    this.sweepCopies(now);
    const out: Array<[string, LocalRecord]> = [];
    if (isReservedKey(prefix)) return out;
    if (acceptor) {
      for (const k of acceptor.keyNames()) {
        if (out.length >= limit) return out;
        if (isReservedKey(k) || !k.startsWith(prefix) || this.learned.has(k)) continue;
        const r = acceptor.get(k, now);
        if (r) out.push([k, r]);
      }
    }
    for (const [k, r] of this.learned) {
      if (out.length >= limit) break;
      if (r.expiresAt > now && k.startsWith(prefix) && !isReservedKey(k)) out.push([k, r]);
    }
    return out;
  }

  /** Live leases in the view, and keys with acceptor state — both without the cluster's reserved keys. */
  counts(): { leases: number; acceptorKeys: number } {
    this.followRole();
    const now = this.o.clock.now();
    const acceptor = this.o.node.acceptor;
    let leases = 0;
    let acceptorKeys = 0;
    if (acceptor) {
      this.o.node.tickNow();
      const reserved = reservedState(acceptor, now);
      leases = acceptor.liveCount(now) - reserved.live;
      acceptorKeys = acceptor.size - reserved.keys;
    }
    this.sweepCopies(now);
    for (const [k, r] of this.learned) if (r.expiresAt > now && !isReservedKey(k)) leases++;
    return { leases, acceptorKeys };
  }

  /** A non-voter's own operation told it the key's state. */
  learn(key: string, record: KnownRecord | null): void {
    this.sweepCopies(this.o.clock.now());
    const before = this.get(key) ?? null;
    if (record) {
      if (this.learned.size >= this.o.limits.maxKeys && !this.learned.has(key)) return;
      this.setCopy(key, { value: record.value, token: record.token, expiresAt: record.expiresAt });
    } else {
      this.learned.delete(key);
    }
    this.emitTransition(key, before, record, "changed");
  }

  /**
   * A change pushed by replication. Taken on a non-voter and on a quiet voter;
   * on a voting voter only for a key it still shows a copy of (its acceptor has
   * accepted nothing for it), so that copy follows the voters instead of going
   * stale — its other keys are its acceptor's.
   */
  applyReplicated(key: string, record: LocalRecord | null, cause: "changed" | "expired"): void {
    if (this.closed) return;
    const node = this.o.node;
    if (node.isVoter && !node.quiet && !this.learned.has(key)) return;
    const before = this.get(key) ?? null;
    const after = record && record.expiresAt > this.o.clock.now() ? record : null;
    if (after) {
      if (this.learned.size >= this.o.limits.maxKeys && !this.learned.has(key)) return;
      this.setCopy(key, after);
    } else {
      this.learned.delete(key);
    }
    this.emitTransition(key, before, after, cause);
  }

  /** This node's acceptor accepted changes or expired leases. */
  onAcceptorEvents(events: readonly AcceptorEvent[]): void {
    this.followRole();
    const now = this.o.clock.now();
    // Usually a voter shows no copies: skip the lookups (this path expires leases in bulk).
    const copies = this.learned.size > 0;
    for (const e of events) {
      // An accepted change supersedes the copy the view showed for the key:
      // the transition is from that copy, so a release elsewhere is a `released` here.
      const copy = copies ? this.learned.get(e.key) : undefined;
      if (copy) this.learned.delete(e.key);
      const shown = copy && copy.expiresAt > now ? copy : null;
      if (e.kind === "expired") this.emitTransition(e.key, e.record, null, "expired");
      else this.emitTransition(e.key, e.before ?? shown, e.after, "changed");
    }
    // A promoted node's copies need the timer from now on.
    this.armSweep();
  }

  waitFor(key: string, timeoutMs: number): Promise<unknown> {
    const r = this.get(key);
    if (r) return Promise.resolve(decodeValue(r.value));
    return this.addWaiter(key, "present", timeoutMs);
  }

  async waitForRelease(key: string, timeoutMs: number): Promise<void> {
    if (!this.get(key)) return;
    await this.addWaiter(key, "absent", timeoutMs);
  }

  close(): void {
    this.closed = true;
    this.o.clock.clearTimer(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const set of this.waiters.values()) {
      for (const w of set) {
        this.o.clock.clearTimer(w.timer);
        this.o.clock.clearTimer(w.recheck);
        w.reject(new LockerError("unavailable", "locker is closed"));
      }
    }
    this.waiters.clear();
    this.waiterCount = 0;
  }

  entryOf(key: string, r: KnownRecord): Entry {
    return { key, value: decodeValue(r.value), token: tokenOf(r.token), leaseRemainingMs: Math.max(0, r.expiresAt - this.o.clock.now()) };
  }

  // ---- copies ----

  private setCopy(key: string, r: LocalRecord): void {
    this.learned.set(key, r);
    this.copyDeadlines.push(r.expiresAt, key, 0);
    // Lazy deletion leaves an entry per overwritten copy; keep the heap about as large as the copies.
    if (this.copyDeadlines.size > 2 * this.learned.size + 1024) this.copyDeadlines.compact((d) => this.learned.get(d.key)?.expiresAt === d.at);
    this.armSweep();
  }

  /**
   * On a voter nothing else expires its copies (replication stops feeding a
   * voting node, and its acceptor knows nothing of them): a timer at the
   * earliest copy's lease end does. A non-voter's copies are expired by
   * replication's store, or swept by its own operations and reads.
   */
  private armSweep(): void {
    if (this.closed || !this.o.node.isVoter) return;
    const at = this.copyDeadlines.peekAt();
    if (at === undefined || at >= this.sweepAt) return;
    this.o.clock.clearTimer(this.sweepTimer);
    this.sweepAt = at;
    this.sweepTimer = this.o.clock.setTimer(Math.max(0, at - this.o.clock.now()), () => {
      this.sweepTimer = undefined;
      this.sweepAt = Infinity;
      this.sweepCopies(this.o.clock.now());
    });
  }

  /** Expires every copy whose lease has ended (cost: the due deadlines), then re-arms the timer. */
  private sweepCopies(now: number): void {
    for (let d = this.copyDeadlines.popDue(now); d; d = this.copyDeadlines.popDue(now)) {
      const r = this.learned.get(d.key);
      if (!r || r.expiresAt !== d.at) continue; // overwritten or gone since it was armed
      this.learned.delete(d.key);
      this.emitTransition(d.key, r, null, "expired");
    }
    this.armSweep();
  }

  // ---- events and waiters ----

  private emitTransition(key: string, before: LocalRecord | null, after: LocalRecord | KnownRecord | null, cause: "changed" | "expired"): void {
    if (isReservedKey(key)) return;
    const same = before && after && before.token === after.token && bytesEqual(before.value, after.value);
    if (same || (!before && !after)) return;
    const ev = this.o.events;
    // Decoding values for events nobody listens to would dominate the cost
    // of expiring many leases at once.
    const listening = ev.listenerCount("acquired") + ev.listenerCount("released") + ev.listenerCount("expired") + ev.listenerCount("changed") > 0;
    if (listening) {
      const entry = after ? this.entryOf(key, after) : undefined;
      // A new token is a new grant (update and extend keep the token): the
      // previous holder's grant ended even when this view never saw the key
      // free — its copy's expiry was not swept yet, or a replication batch
      // carried both changes. Watchers (leader elections) hear both.
      const newGrant = after !== null && (before === null || before.token !== after.token);
      if (before && (!after || newGrant)) {
        const value = decodeValue(before.value);
        const ended = cause === "expired" || (after !== null && before.expiresAt <= this.o.clock.now());
        ev.emit(ended ? "expired" : "released", { key, value });
      }
      if (newGrant) ev.emit("acquired", entry!);
      ev.emit("changed", { key, entry });
    }
    this.wake(key, after);
  }

  private addWaiter(key: string, kind: "present" | "absent", timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new LockerError("unavailable", "locker is closed"));
    if (this.waiterCount >= this.o.limits.maxWaiters) {
      return Promise.reject(new LockerError("unavailable", `too many waiters (limit ${this.o.limits.maxWaiters})`));
    }
    return new Promise((resolve, reject) => {
      let set = this.waiters.get(key);
      if (!set) {
        set = new Set();
        this.waiters.set(key, set);
      }
      const w: Waiter = { kind, resolve, reject, timer: undefined, recheck: undefined };
      set.add(w);
      this.waiterCount++;
      w.timer = this.o.clock.setTimer(timeoutMs, () => {
        this.removeWaiter(key, w);
        reject(new LockerError("timeout", `key "${key}" did not become ${kind} within ${timeoutMs} ms`));
      });
      if (kind === "absent") this.armRecheck(key, w);
    });
  }

  /** A wait for absence also wakes at the lease's end, so expiry resolves it even without an acceptor event. */
  private armRecheck(key: string, w: Waiter): void {
    const r = this.get(key);
    if (!r) return;
    w.recheck = this.o.clock.setTimer(Math.max(0, r.expiresAt - this.o.clock.now()) + 1, () => {
      w.recheck = undefined;
      if (!this.get(key)) {
        this.removeWaiter(key, w);
        w.resolve(undefined);
      } else {
        this.armRecheck(key, w);
      }
    });
  }

  private removeWaiter(key: string, w: Waiter): void {
    const set = this.waiters.get(key);
    if (!set || !set.delete(w)) return;
    this.waiterCount--;
    this.o.clock.clearTimer(w.timer);
    this.o.clock.clearTimer(w.recheck);
    if (set.size === 0) this.waiters.delete(key);
  }

  private wake(key: string, after: LocalRecord | KnownRecord | null): void {
    const set = this.waiters.get(key);
    if (!set) return;
    for (const w of [...set]) {
      if (w.kind === "present" && after) {
        this.removeWaiter(key, w);
        w.resolve(decodeValue(after.value));
      } else if (w.kind === "absent" && !after) {
        this.removeWaiter(key, w);
        w.resolve(undefined);
      } else if (w.kind === "absent" && after) {
        // A new lease: re-arm the expiry check for it.
        this.o.clock.clearTimer(w.recheck);
        this.armRecheck(key, w);
      }
    }
  }
}

/** The cluster's reserved keys in an acceptor: how many it holds state for, and how many are live. */
function reservedState(acceptor: Acceptor, now: number): { keys: number; live: number } {
  let keys = 0;
  let live = 0;
  for (const k of acceptor.keyNames()) {
    if (!isReservedKey(k)) continue;
    keys++;
    if (acceptor.get(k, now)) live++;
  }
  return { keys, live };
}
