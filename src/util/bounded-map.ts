// A Map that holds at most `maxSize` entries: setting a key makes it the
// newest, and past the bound the oldest go first. The one place the
// "forget the oldest" caches (fast-path promises, held-key hints, contention
// tracking, peers' boot ids, paged listing sessions) get their eviction from.
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly maxSize: number) {
    super();
    if (!(Number.isInteger(maxSize) && maxSize >= 1)) throw new RangeError(`maxSize must be a positive integer (got ${maxSize})`);
  }

  override set(key: K, value: V): this {
    // Re-inserted: Map keeps insertion order, so the order stays oldest first.
    super.delete(key);
    super.set(key, value);
    while (this.size > this.maxSize) {
      const oldest = this.keys().next();
      if (oldest.done) break;
      super.delete(oldest.value);
    }
    return this;
  }
}
