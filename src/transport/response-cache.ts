// Remembers recent request ids per peer so a retried request is answered from
// the cache instead of executed again, with a bound on entries and age.

export type CachedResponse = { state: "running" } | { state: "done"; datagramFrame: Uint8Array };

interface Entry {
  readonly key: string;
  value: CachedResponse;
  expiresAt: number;
}

export class ResponseCache {
  private readonly entries = new Map<string, Entry>();
  /**
   * Entries in the order they were set: the eviction order. Kept beside the
   * Map rather than iterating the Map from its start, because V8's ordered
   * hash map leaves deleted slots as holes until it rehashes, and walking over
   * the holes of earlier evictions made every `set` O(n) under load. An entry
   * replaced or deleted since it was queued is stale and skipped.
   */
  private queue: Entry[] = [];
  private head = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get(key: string, now: number): CachedResponse | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: CachedResponse, now: number): void {
    const e: Entry = { key, value, expiresAt: now + this.ttlMs };
    this.entries.set(key, e); // replaces any older entry: its queue slot becomes stale
    this.queue.push(e);
    this.evict(now);
  }

  /**
   * Records the response of a running request in its entry, keeping the
   * entry's place and expiry (from when the request arrived: a retransmission
   * comes within the sender's timeout, far below the TTL). Cheaper than a
   * second `set` on every request; falls back to one if the entry is gone.
   */
  complete(key: string, datagramFrame: Uint8Array, now: number): void {
    const e = this.entries.get(key);
    if (e && e.expiresAt > now) e.value = { state: "done", datagramFrame };
    else this.set(key, { state: "done", datagramFrame }, now);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(now: number): void {
    // Oldest first: stop at the first live entry unless over the size bound.
    const q = this.queue;
    while (this.head < q.length) {
      const e = q[this.head]!;
      if (this.entries.get(e.key) === e) {
        if (this.entries.size <= this.maxEntries && e.expiresAt > now) break;
        this.entries.delete(e.key);
      }
      q[this.head++] = undefined as unknown as Entry; // let it be collected
    }
    // Reclaim the consumed prefix; bound stale slots behind a live head (a
    // key set again while live leaves one behind) to a multiple of the entries.
    if (this.head > 1024 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    } else if (q.length - this.head > 4 * this.entries.size + 1024) {
      this.queue = q.slice(this.head).filter((e) => this.entries.get(e.key) === e);
      this.head = 0;
    }
  }
}
