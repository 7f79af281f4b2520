// Key → slot for the acceptor's columns, without a Map: an open-addressing
// table of slot numbers over the key column the acceptor already keeps
// (slot-bytes.ts).
//
// Why: a Map entry costs about 40 bytes per key on a 64-bit heap (entry,
// bucket, growth slack); this table costs 4 bytes per cell at a load of
// 3/8 to 3/4, about 7 bytes per key, and the key string is not held twice.
// At a million live leases that is most of the gap to the 150 B.
//
// Linear probing with backward-shift deletion (no tombstones, so lookups stay
// short however many keys come and go). The hash is seeded per process: keys
// come from the network, and a fixed hash would let a sender pick keys that
// all probe the same run.
import { randomBytes } from "node:crypto";
import { fmix32, fnv1a } from "../util/hash.js";

const MIN_CELLS = 1024;

/** The keys the index points into, by slot. */
export interface KeyColumn {
  /** One past the highest slot that may hold a key. */
  readonly slotCount: number;
  /** Whether `slot` holds exactly `key`. */
  keyMatches(slot: number, key: string): boolean;
  /** The key at `slot`, or null when the slot is free. */
  keyAt(slot: number): string | null;
}

export class KeyIndex {
  /** slot + 1 per cell; 0 is an empty cell. */
  private cells = new Int32Array(MIN_CELLS);
  private mask = MIN_CELLS - 1;
  private count = 0;
  private readonly seed = randomBytes(4).readUInt32LE(0);

  constructor(private readonly column: KeyColumn) {}

  get size(): number {
    return this.count;
  }

  /** Cells in the table (4 bytes each). */
  get capacity(): number {
    return this.cells.length;
  }

  /** The slot holding `key`, or -1. */
  get(key: string): number {
    const cells = this.cells;
    const mask = this.mask;
    for (let i = this.hash(key) & mask; ; i = (i + 1) & mask) {
      const cell = cells[i]!;
      if (cell === 0) return -1;
      if (this.column.keyMatches(cell - 1, key)) return cell - 1;
    }
  }

  /** Records that `key` (not indexed yet) lives at `slot`; the column must already hold it there. */
  add(key: string, slot: number): void {
    this.count++;
    // Rebuilt from the column, which already holds the new key.
    if (this.count * 4 > this.cells.length * 3) this.rebuild(this.cells.length * 2);
    else this.place(this.hash(key), slot);
  }

  /** Drops `key`; call before its column entry changes. */
  delete(key: string): void {
    const cells = this.cells;
    const mask = this.mask;
    let i = this.hash(key) & mask;
    for (; ; i = (i + 1) & mask) {
      const cell = cells[i]!;
      if (cell === 0) return;
      if (this.column.keyMatches(cell - 1, key)) break;
    }
    // Backward shift: move later members of the probe run into the hole when
    // their home cell does not lie (cyclically) between the hole and them.
    let hole = i;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const cell = cells[j]!;
      if (cell === 0) break;
      const home = this.hash(this.column.keyAt(cell - 1)!) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        cells[hole] = cell;
        hole = j;
      }
    }
    cells[hole] = 0;
    this.count--;
  }

  /** Re-indexes every key of the column (after the slots were renumbered), sized for them. */
  reindex(): void {
    let keys = 0;
    for (let slot = 0; slot < this.column.slotCount; slot++) if (this.column.keyAt(slot) !== null) keys++;
    let cells = MIN_CELLS;
    while (keys * 2 > cells) cells *= 2;
    this.count = keys;
    this.rebuild(cells);
  }

  private rebuild(cellCount: number): void {
    this.cells = new Int32Array(cellCount);
    this.mask = cellCount - 1;
    for (let slot = 0; slot < this.column.slotCount; slot++) {
      const key = this.column.keyAt(slot);
      if (key !== null) this.place(this.hash(key), slot);
    }
  }

  private place(hash: number, slot: number): void {
    const cells = this.cells;
    const mask = this.mask;
    let i = hash & mask;
    while (cells[i] !== 0) i = (i + 1) & mask;
    cells[i] = slot + 1;
  }

  /** The key's seeded 32-bit hash (FNV-1a, then murmur3's finalizer). */
  private hash(key: string): number {
    return fmix32(fnv1a(key, this.seed));
  }
}
