// A Map that holds at most `maxSize` entries: setting a key makes it the
// newest, and past the bound the oldest go first. The membership package's
// own copy of src/util/bounded-map.ts (it imports nothing of the root
// package; ARCHITECTURE.md lists the pair as a deliberate parallel): the
// core's remembered push-pulls, reconnect targets, unknown senders and
// conflicts get their eviction from it.
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
