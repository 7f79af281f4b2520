// Remembers recent request ids per peer so a retried request is answered from
// the cache instead of executed again, with a bound on entries and age.

export type CachedResponse = { state: "running" } | { state: "done"; datagramFrame: Uint8Array };

interface Entry {
  value: CachedResponse;
  expiresAt: number;
}

export class ResponseCache {
  private readonly entries = new Map<string, Entry>();

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
    this.entries.delete(key); // re-insert at the end: Map order is our age order
    this.entries.set(key, { value, expiresAt: now + this.ttlMs });
    this.evict(now);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(now: number): void {
    // Oldest first: stop at the first live entry unless over the size bound.
    for (const [k, e] of this.entries) {
      if (this.entries.size > this.maxEntries || e.expiresAt <= now) this.entries.delete(k);
      else break;
    }
  }
}
