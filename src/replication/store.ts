// A replica's copy of the keys: changes applied idempotently and in ballot
// order per key, leases kept on the local monotonic clock. Pure: time is an
// argument, and the caller is told which keys' visible state changed.
import { compareBallots, type Ballot } from "../cas/ballot.js";
import { DeadlineHeap } from "../util/deadline-heap.js";
import type { ChangeEntry } from "./messages.js";

/** A live record in the replica's view. */
export interface StoredRecord {
  readonly value: Uint8Array;
  readonly token: number;
  /** Local monotonic time at which the lease ends. */
  readonly expiresAt: number;
}

interface Slot {
  /** The highest ballot applied: anything at or below it is old news. */
  ballot: Ballot;
  /** Write id when the state is a write-back (see ChangeEntry.origin). */
  origin: Ballot | null;
  record: StoredRecord | null;
  /** When the slot may be forgotten once its record is absent. */
  gen: number;
  touchedAt: number;
}

/** A change of a key's visible state (record null: absent). */
export interface StoreChange {
  readonly key: string;
  readonly before: StoredRecord | null;
  readonly after: StoredRecord | null;
  readonly cause: "applied" | "expired";
}

export interface ReplicaStoreOptions {
  /**
   * How long an absent key's ballot is remembered, so a late, older change
   * (a retried push, a slow snapshot page) cannot bring it back. Must exceed
   * the longest lease plus the longest a change can be in flight.
   */
  tombstoneMs: number;
  /** Bound on keys held (live or tombstones); past it new keys are refused and counted. */
  maxKeys: number;
}

export interface ReplicaStoreStats {
  applied: number;
  /** Changes at or below the ballot already held (duplicates, reordering, several voters pushing). */
  stale: number;
  expired: number;
  /** Changes refused because the store was full. */
  refused: number;
}

export class ReplicaStore {
  readonly stats: ReplicaStoreStats = { applied: 0, stale: 0, expired: 0, refused: 0 };
  private readonly slots = new Map<string, Slot>();
  private readonly deadlines = new DeadlineHeap<string>();
  private nextGen = 1;

  constructor(private readonly o: ReplicaStoreOptions) {}

  get size(): number {
    return this.slots.size;
  }

  /** Applies one change received at `now`; returns the visible change, if any. */
  apply(e: ChangeEntry, now: number): StoreChange | undefined {
    let slot = this.slots.get(e.key);
    if (slot && compareBallots(e.ballot, slot.ballot) <= 0) {
      this.stats.stale++;
      return undefined;
    }
    if (!slot && this.slots.size >= this.o.maxKeys) {
      this.stats.refused++;
      return undefined;
    }
    const before = slot ? this.live(slot, now) : null;
    const after: StoredRecord | null = e.record && e.record.remainingMs > 0 ? { value: e.record.value, token: e.record.token, expiresAt: now + e.record.remainingMs } : null;
    if (!slot) {
      slot = { ballot: e.ballot, origin: e.origin, record: after, gen: 0, touchedAt: now };
      this.slots.set(e.key, slot);
    }
    slot.ballot = e.ballot;
    slot.origin = e.origin;
    slot.record = after;
    slot.touchedAt = now;
    slot.gen = this.nextGen++;
    this.deadlines.push(after ? after.expiresAt : now + this.o.tombstoneMs, e.key, slot.gen);
    this.stats.applied++;
    if (!before && !after) return undefined;
    return { key: e.key, before, after, cause: "applied" };
  }

  /** Expires lapsed leases and forgets old tombstones; returns the visible changes. */
  tick(now: number): StoreChange[] {
    const out: StoreChange[] = [];
    for (;;) {
      const d = this.deadlines.popDue(now);
      if (!d) break;
      const slot = this.slots.get(d.key);
      if (!slot || slot.gen !== d.gen) continue;
      if (slot.record) {
        const before = slot.record;
        slot.record = null;
        slot.gen = this.nextGen++;
        this.deadlines.push(now + this.o.tombstoneMs, d.key, slot.gen);
        this.stats.expired++;
        out.push({ key: d.key, before, after: null, cause: "expired" });
      } else {
        this.slots.delete(d.key);
      }
    }
    if (this.deadlines.size > 2 * this.slots.size + 1024) this.deadlines.compact((x) => this.slots.get(x.key)?.gen === x.gen);
    return out;
  }

  nextDeadline(): number | undefined {
    return this.deadlines.peekAt();
  }

  get(key: string, now: number): StoredRecord | undefined {
    const s = this.slots.get(key);
    return (s && this.live(s, now)) ?? undefined;
  }

  ballotOf(key: string): Ballot | undefined {
    return this.slots.get(key)?.ballot;
  }

  /** Live entries with their ballots (for inspection and tests; copies never enter an acceptor). */
  *liveEntries(now: number): IterableIterator<{ key: string; ballot: Ballot; origin: Ballot | null; record: StoredRecord }> {
    for (const [key, s] of this.slots) {
      const r = this.live(s, now);
      if (r) yield { key, ballot: s.ballot, origin: s.origin, record: r };
    }
  }

  liveCount(now: number): number {
    let n = 0;
    for (const s of this.slots.values()) if (this.live(s, now)) n++;
    return n;
  }

  clear(): void {
    this.slots.clear();
    this.deadlines.compact(() => false);
  }

  private live(s: Slot, now: number): StoredRecord | null {
    return s.record && s.record.expiresAt > now ? s.record : null;
  }
}
