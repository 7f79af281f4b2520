// Deadlines for many keys named by small integer slots (the acceptor's): a
// binary min-heap in typed arrays with lazy deletion (arming is O(log n), a
// tick costs O(k log n) for the k entries due, so the per-tick cost does not
// grow with the number of live keys) and a FIFO for deadlines that are armed
// in time order (O(1) each way). The heap of entry objects for other owners
// is src/util/deadline-heap.ts.

/**
 * A heap of (at, slot, gen) in three typed arrays: 16 bytes per entry and no
 * object per entry, for an owner that names its keys by small integer slots
 * (the acceptor). `gen` is the owner's 32-bit generation when armed; the
 * owner treats an entry whose gen differs from the slot's as stale.
 */
export class SlotDeadlineHeap {
  private at = new Float64Array(1024);
  private slots = new Int32Array(1024);
  private gens = new Uint32Array(1024);
  private n = 0;
  /** The last entry popDue() returned. */
  poppedSlot = -1;
  poppedGen = 0;

  get size(): number {
    return this.n;
  }

  push(at: number, slot: number, gen: number): void {
    if (this.n === this.at.length) this.resize(this.n * 2);
    const a = this.at;
    const s = this.slots;
    const g = this.gens;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= at) break;
      a[i] = a[p]!;
      s[i] = s[p]!;
      g[i] = g[p]!;
      i = p;
    }
    a[i] = at;
    s[i] = slot;
    g[i] = gen;
  }

  peekAt(): number | undefined {
    return this.n > 0 ? this.at[0] : undefined;
  }

  /** Removes the earliest entry if it is due at `now` (its slot and gen in poppedSlot/poppedGen); false when none is due. */
  popDue(now: number): boolean {
    if (this.n === 0 || this.at[0]! > now) return false;
    this.poppedSlot = this.slots[0]!;
    this.poppedGen = this.gens[0]!;
    const n = --this.n;
    if (n > 0) this.siftDown(0, this.at[n]!, this.slots[n]!, this.gens[n]!, n);
    // Give memory back after a mass expiry.
    if (this.at.length > 4096 && n < this.at.length >> 2) this.resize(this.at.length >> 1);
    return true;
  }

  /**
   * Keeps the entries for which `remap(slot, gen)` returns a slot (≥ 0),
   * under that slot, and drops the rest (-1); then restores the heap order in O(n).
   */
  compact(remap: (slot: number, gen: number) => number): void {
    let k = 0;
    for (let i = 0; i < this.n; i++) {
      const slot = remap(this.slots[i]!, this.gens[i]!);
      if (slot < 0) continue;
      this.at[k] = this.at[i]!;
      this.slots[k] = slot;
      this.gens[k] = this.gens[i]!;
      k++;
    }
    this.n = k;
    for (let i = (k >> 1) - 1; i >= 0; i--) this.siftDown(i, this.at[i]!, this.slots[i]!, this.gens[i]!, k);
    if (this.at.length > 4096 && k < this.at.length >> 2) this.resize(Math.max(1024, 2 * k));
  }

  /** Places (at, slot, gen) at hole `i` or below it, among the first `n` entries. */
  private siftDown(i: number, at: number, slot: number, gen: number, n: number): void {
    const a = this.at;
    const s = this.slots;
    const g = this.gens;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let m = l;
      if (l + 1 < n && a[l + 1]! < a[l]!) m = l + 1;
      if (a[m]! >= at) break;
      a[i] = a[m]!;
      s[i] = s[m]!;
      g[i] = g[m]!;
      i = m;
    }
    a[i] = at;
    s[i] = slot;
    g[i] = gen;
  }

  private resize(capacity: number): void {
    const a = new Float64Array(capacity);
    const s = new Int32Array(capacity);
    const g = new Uint32Array(capacity);
    a.set(this.at.subarray(0, this.n));
    s.set(this.slots.subarray(0, this.n));
    g.set(this.gens.subarray(0, this.n));
    this.at = a;
    this.slots = s;
    this.gens = g;
  }
}

/**
 * A FIFO ring of (slot, gen) for deadlines armed in time order (each is the
 * arming time plus one constant), so the earliest is always at the head:
 * 8 bytes per entry, O(1) to arm and to pop. The owner derives an entry's
 * deadline from the slot's state and drops stale entries when they reach the head.
 */
export class SlotFifo {
  private slots = new Int32Array(1024);
  private gens = new Uint32Array(1024);
  private head = 0;
  private n = 0;

  get size(): number {
    return this.n;
  }

  push(slot: number, gen: number): void {
    if (this.n === this.slots.length) this.resize(this.n * 2);
    const i = (this.head + this.n) & (this.slots.length - 1);
    this.slots[i] = slot;
    this.gens[i] = gen;
    this.n++;
  }

  /** Slot of the head entry; only when size > 0. */
  headSlot(): number {
    return this.slots[this.head]!;
  }

  headGen(): number {
    return this.gens[this.head]!;
  }

  shift(): void {
    this.head = (this.head + 1) & (this.slots.length - 1);
    this.n--;
    if (this.slots.length > 4096 && this.n < this.slots.length >> 2) this.resize(this.slots.length >> 1);
  }

  /** As SlotDeadlineHeap.compact (remaps or drops entries), keeping their order. */
  compact(remap: (slot: number, gen: number) => number): void {
    const cap = this.slots.length;
    let k = 0;
    for (let j = 0; j < this.n; j++) {
      const i = (this.head + j) & (cap - 1);
      const gen = this.gens[i]!;
      const slot = remap(this.slots[i]!, gen);
      if (slot < 0) continue;
      const to = (this.head + k) & (cap - 1);
      this.slots[to] = slot;
      this.gens[to] = gen;
      k++;
    }
    this.n = k;
    if (cap > 4096 && k < cap / 4) this.resize(Math.max(1024, 2 * k));
  }

  /** Capacity stays a power of two (the ring index is masked). */
  private resize(capacity: number): void {
    let cap = 1024;
    while (cap < capacity) cap *= 2;
    const s = new Int32Array(cap);
    const g = new Uint32Array(cap);
    const old = this.slots.length;
    for (let j = 0; j < this.n; j++) {
      const i = (this.head + j) & (old - 1);
      s[j] = this.slots[i]!;
      g[j] = this.gens[i]!;
    }
    this.slots = s;
    this.gens = g;
    this.head = 0;
  }
}
