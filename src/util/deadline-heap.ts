// Deadlines for many keys of any kind: a binary min-heap of entry objects with
// lazy deletion (arming is O(log n), a tick costs O(k log n) for the k entries
// due, so the per-tick cost does not grow with the number of live keys). The
// replica store, the local view's copies and the transport's retransmissions
// use it; the acceptor has a typed-array one (src/cas/lease-table.ts).

export interface DeadlineEntry<K> {
  readonly at: number;
  readonly key: K;
  /** The owner's generation for the key when armed; a stale entry is skipped by the owner. */
  readonly gen: number;
}

/** A heap of entry objects keyed by anything (replication's store uses it with key strings). */
export class DeadlineHeap<K> {
  private heap: DeadlineEntry<K>[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(at: number, key: K, gen: number): void {
    const h = this.heap;
    const e: DeadlineEntry<K> = { at, key, gen };
    // Sift up with a hole: parents move down one write per level, the entry is written once.
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (parent.at <= at) break;
      h[i] = parent;
      i = p;
    }
    h[i] = e;
  }

  /** The earliest deadline, or undefined. */
  peekAt(): number | undefined {
    return this.heap[0]?.at;
  }

  /** Removes and returns the earliest entry if it is due at `now`. */
  popDue(now: number): DeadlineEntry<K> | undefined {
    const h = this.heap;
    if (h.length === 0 || h[0]!.at > now) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      // Sift the last entry down from the root with a hole.
      const at = last.at;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        let m = l;
        let child = h[l]!;
        if (l + 1 < n && h[l + 1]!.at < child.at) {
          m = l + 1;
          child = h[m]!;
        }
        if (child.at >= at) break;
        h[i] = child;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }

  /**
   * Drops entries the owner no longer needs (lazy deletion leaves stale ones
   * behind); called when the heap outgrows the live entries, so memory stays
   * proportional to live keys.
   */
  compact(isLive: (e: DeadlineEntry<K>) => boolean): void {
    const kept = this.heap.filter(isLive);
    kept.sort((a, b) => a.at - b.at); // a sorted array is a valid heap
    this.heap = kept;
  }
}
