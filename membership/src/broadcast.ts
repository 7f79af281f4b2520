// The queue of membership updates waiting to be piggybacked: at most one per
// member (a newer update replaces the older), least-sent and newest first, each
// sent a bounded number of times (SWIM's λ·log n retransmissions).
import { type Update, updateSize } from "./messages.js";

/** memberlist's retransmitLimit: retransmitMult * ceil(log10(n + 1)); enough rounds for gossip to reach everyone w.h.p. */
export function retransmitLimit(retransmitMult: number, members: number): number {
  const nodeScale = Math.ceil(Math.log10(members + 1));
  return retransmitMult * Math.max(1, nodeScale);
}

interface Item {
  readonly key: string;
  readonly update: Update;
  readonly size: number;
  transmits: number;
  live: boolean;
}

export class BroadcastQueue {
  private readonly byKey = new Map<string, Item>();
  /** buckets[t] holds items sent t times, oldest first; stale entries (moved, replaced) are skipped and compacted. */
  private readonly buckets: Item[][] = [];
  private readonly liveIn: number[] = [];
  /** Updates dropped because the queue was full. */
  dropped = 0;

  constructor(private readonly maxItems: number) {}

  get size(): number {
    return this.byKey.size;
  }

  /** Queues an update, replacing any queued update about the same member. */
  queue(update: Update): void {
    const old = this.byKey.get(update.name);
    if (old) this.kill(old);
    if (this.byKey.size >= this.maxItems) this.evictOne();
    const item: Item = { key: update.name, update, size: updateSize(update), transmits: 0, live: true };
    this.byKey.set(item.key, item);
    this.bucket(0).push(item);
    this.liveIn[0] = (this.liveIn[0] ?? 0) + 1;
  }

  /** How often the queued update about `key` was sent, or undefined if none is queued (done or replaced). */
  transmitsOf(key: string): number | undefined {
    return this.byKey.get(key)?.transmits;
  }

  /** The queued update about `key`, if any. */
  peek(key: string): Update | undefined {
    return this.byKey.get(key)?.update;
  }

  /**
   * Takes the updates to piggyback on one datagram: least-sent first, newest
   * first among equals, as many as fit in `budgetBytes`. Each counts as one
   * transmission; an update sent `limit` times leaves the queue.
   */
  take(budgetBytes: number, limit: number, exclude?: string): Update[] {
    const chosen: Item[] = [];
    let left = budgetBytes;
    let misses = 0;
    // Drop whatever a shrunken limit (fewer members) has already satisfied.
    for (let t = limit; t < this.buckets.length; t++) {
      for (const it of this.buckets[t]!) if (it.live && it.transmits === t) this.kill(it);
      this.buckets[t] = [];
      this.liveIn[t] = 0;
    }
    outer: for (let t = 0; t < Math.min(limit, this.buckets.length); t++) {
      const b = this.buckets[t]!;
      for (let i = b.length - 1; i >= 0; i--) {
        const it = b[i]!;
        if (!it.live || it.transmits !== t || it.key === exclude) continue;
        if (it.size <= left) {
          chosen.push(it);
          left -= it.size;
          if (left < 8) break outer;
        } else if (++misses > 32) {
          break outer; // the datagram is nearly full; do not scan a long queue for a small enough item
        }
      }
    }
    for (const it of chosen) {
      this.liveIn[it.transmits]!--;
      it.transmits++;
      if (it.transmits >= limit) {
        it.live = false;
        this.byKey.delete(it.key);
      } else {
        this.bucket(it.transmits).push(it);
        this.liveIn[it.transmits] = (this.liveIn[it.transmits] ?? 0) + 1;
      }
    }
    this.compact();
    return chosen.map((it) => it.update);
  }

  private bucket(t: number): Item[] {
    while (this.buckets.length <= t) {
      this.buckets.push([]);
      this.liveIn.push(0);
    }
    return this.buckets[t]!;
  }

  private kill(it: Item): void {
    if (!it.live) return;
    it.live = false;
    this.byKey.delete(it.key);
    this.liveIn[it.transmits]!--;
  }

  private evictOne(): void {
    // The update sent most often has done most of its work: drop it first.
    for (let t = this.buckets.length - 1; t >= 0; t--) {
      for (const it of this.buckets[t]!) {
        if (it.live && it.transmits === t) {
          this.kill(it);
          this.dropped++;
          return;
        }
      }
    }
  }

  private compact(): void {
    for (let t = 0; t < this.buckets.length; t++) {
      const b = this.buckets[t]!;
      if (b.length > 2 * (this.liveIn[t] ?? 0) + 16) this.buckets[t] = b.filter((it) => it.live && it.transmits === t);
    }
  }
}
