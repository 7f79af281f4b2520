// Deadlines for many keys in a binary min-heap with lazy deletion: arming a
// deadline is O(log n) and a tick costs O(k log n) for the k entries due, so
// the per-tick cost does not grow with the number of live keys.

export interface DeadlineEntry<K> {
  readonly at: number;
  readonly key: K;
  /** The owner's generation for the key when armed; a stale entry is skipped by the owner. */
  readonly gen: number;
}

export class DeadlineHeap<K> {
  private heap: DeadlineEntry<K>[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(at: number, key: K, gen: number): void {
    const h = this.heap;
    h.push({ at, key, gen });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
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
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
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
