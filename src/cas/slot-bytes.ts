// Short byte strings per slot (the acceptor's keys and values) packed in
// chunks of one buffer size, instead of one heap string per slot.
//
// Why: a one-byte JS string costs 16 bytes of header plus its bytes rounded
// up to 8, and a pointer to it 8 more: a 14-byte key took 40 bytes, an
// 11-byte value 40 more. Here a slot costs its bytes (rounded up to 4) and 8
// more (offset and length); growth adds one chunk at a time, so there is no
// doubling slack: the 150 B per live lease at a million leases.
//
// A slot keeps its room when its bytes are cleared, and writes in place when
// new bytes fit it (a key locked, released and locked again by a holder of
// the same value length allocates nothing); the room then shrinks to the new
// length, the rest is garbage. Freed room is garbage; when a new
// chunk would be needed and at least half of what was handed out is garbage,
// the live entries are copied into fresh chunks instead (O(slots), amortized
// over the bytes written since).
//
// Strings: stored one byte per character when every code unit is below 256
// (keys are almost always ASCII), else as UTF-16 code units, two bytes each.

// Per slot: an offset and one word of meta: the length (17 bits), whether
// the bytes are a UTF-16 string, whether anything is stored, and whether the
// slot holds room in the chunks. A slot's room is its length rounded up to 4.
const LENGTH = 0x1ffff;
const WIDE = 1 << 17;
const PRESENT = 1 << 18;
const ALLOCATED = 1 << 19;
/** The longest entry, in bytes. */
export const MAX_SLOT_BYTES = LENGTH;
/** An offset is chunk << CHUNK_SHIFT | position; an entry never spans two chunks. */
const CHUNK_SHIFT = 18;
const CHUNK = 1 << CHUNK_SHIFT;
const IN_CHUNK = CHUNK - 1;

const roomFor = (n: number): number => (n + 3) & ~3;

export class SlotBytes {
  private chunks: Uint8Array[] = [];
  /** Offset of the next free byte (in the last chunk, or the start of the next). */
  private top = 0;
  /** Bytes handed out that no slot uses any more. */
  private garbage = 0;
  private compacting = false;
  private off: Uint32Array;
  private meta: Uint32Array;

  constructor(slots: number) {
    this.off = new Uint32Array(slots);
    this.meta = new Uint32Array(slots);
  }

  /** Whether `slot` holds bytes (an empty entry counts). */
  has(slot: number): boolean {
    return (this.meta[slot]! & PRESENT) !== 0;
  }

  setBytes(slot: number, v: Uint8Array): void {
    const at = this.reserve(slot, v.length);
    // An empty entry has no room (and its offset may name no chunk).
    if (v.length > 0) this.chunks[at >>> CHUNK_SHIFT]!.set(v, at & IN_CHUNK);
    this.meta[slot] = v.length | PRESENT | ALLOCATED;
  }

  setString(slot: number, s: string): void {
    let wide = false;
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) > 0xff) {
        wide = true;
        break;
      }
    }
    const n = wide ? 2 * s.length : s.length;
    const offset = this.reserve(slot, n);
    const buf = this.chunks[offset >>> CHUNK_SHIFT]!;
    const at = offset & IN_CHUNK;
    if (wide) {
      for (let i = 0; i < s.length; i++) {
        const u = s.charCodeAt(i);
        buf[at + 2 * i] = u & 0xff;
        buf[at + 2 * i + 1] = u >>> 8;
      }
    } else {
      for (let i = 0; i < s.length; i++) buf[at + i] = s.charCodeAt(i);
    }
    this.meta[slot] = n | PRESENT | ALLOCATED | (wide ? WIDE : 0);
  }

  /** A fresh copy of the slot's bytes; only when has(slot). */
  bytes(slot: number): Uint8Array {
    const n = this.meta[slot]! & LENGTH;
    if (n === 0) return new Uint8Array(0);
    const offset = this.off[slot]!;
    const at = offset & IN_CHUNK;
    return this.chunks[offset >>> CHUNK_SHIFT]!.slice(at, at + n);
  }

  /** The slot's string (as setString stored it); only when has(slot). */
  string(slot: number): string {
    const m = this.meta[slot]!;
    const n = m & LENGTH;
    if (n === 0) return "";
    const offset = this.off[slot]!;
    const buf = this.chunks[offset >>> CHUNK_SHIFT]!;
    const at = offset & IN_CHUNK;
    let s = "";
    if (m & WIDE) {
      for (let i = 0; i < n; i += 2) s += String.fromCharCode(buf[at + i]! | (buf[at + i + 1]! << 8));
    } else if (n <= 64) {
      // One flat string at once (a += loop builds cons strings past 13 characters).
      s = String.fromCharCode.apply(null, buf.subarray(at, at + n) as unknown as number[]);
    } else {
      s = Buffer.from(buf.buffer, buf.byteOffset + at, n).toString("latin1");
    }
    return s;
  }

  /** Whether the slot holds exactly the string `s` (no allocation). */
  equalsString(slot: number, s: string): boolean {
    const m = this.meta[slot]!;
    if ((m & PRESENT) === 0) return false;
    const wide = (m & WIDE) !== 0;
    if ((m & LENGTH) !== (wide ? 2 * s.length : s.length)) return false;
    const offset = this.off[slot]!;
    const buf = this.chunks[offset >>> CHUNK_SHIFT]!;
    const at = offset & IN_CHUNK;
    if (wide) {
      for (let i = 0; i < s.length; i++) if ((buf[at + 2 * i]! | (buf[at + 2 * i + 1]! << 8)) !== s.charCodeAt(i)) return false;
    } else {
      for (let i = 0; i < s.length; i++) if (buf[at + i] !== s.charCodeAt(i)) return false;
    }
    return true;
  }

  /** Nothing stored; the slot keeps its room for the next value. */
  clear(slot: number): void {
    this.meta[slot]! &= ~PRESENT;
  }

  /** Nothing stored and the room given back (a slot that is freed). */
  free(slot: number): void {
    this.garbage += this.roomOf(slot);
    this.meta[slot] = 0;
    this.off[slot] = 0;
  }

  /** Slot `from`'s entry moves to `to` (whose own entry, if any, must have been freed). */
  move(from: number, to: number): void {
    this.off[to] = this.off[from]!;
    this.meta[to] = this.meta[from]!;
    this.meta[from] = 0;
    this.off[from] = 0;
  }

  /** Resizes the per-slot columns to `slots` (every used slot is below it). */
  resizeSlots(slots: number): void {
    const keep = Math.min(slots, this.off.length);
    const off = new Uint32Array(slots);
    off.set(this.off.subarray(0, keep));
    const meta = new Uint32Array(slots);
    meta.set(this.meta.subarray(0, keep));
    this.off = off;
    this.meta = meta;
  }

  /**
   * Copies the live entries into fresh chunks when at least half of what was
   * handed out is garbage (after a mass expiry, so memory goes back); else nothing.
   */
  compactIfMostlyGarbage(): void {
    if (this.garbage * 2 >= this.top && this.top > 0) this.compact();
  }

  /** Bytes held: the buffer and the per-slot columns (for tests and the memory figures). */
  get footprint(): number {
    return this.chunks.length * CHUNK + this.off.byteLength + this.meta.byteLength;
  }

  private roomOf(slot: number): number {
    const m = this.meta[slot]!;
    return m & ALLOCATED ? roomFor(m & LENGTH) : 0;
  }

  /** The offset where `n` bytes for `slot` go: its own room if large enough, else new room. */
  private reserve(slot: number, n: number): number {
    if (n > MAX_SLOT_BYTES) throw new RangeError(`${n} bytes is more than a slot holds (${MAX_SLOT_BYTES})`);
    const had = this.roomOf(slot);
    const need = roomFor(n);
    if (need <= had) {
      // In place; what the shorter entry no longer covers is garbage.
      this.garbage += had - need;
      return this.off[slot]!;
    }
    this.garbage += had;
    this.meta[slot] = 0;
    const at = this.take(need);
    this.off[slot] = at;
    return at;
  }

  /** `need` bytes at the top, in one chunk: a new chunk, or fresh ones after compaction, when the last is full. */
  private take(need: number): number {
    if (!this.fitsAtTop(need)) {
      this.skipToNextChunk();
      if (this.garbage * 2 >= this.top && this.top > 0 && !this.compacting) {
        this.compact();
        if (!this.fitsAtTop(need)) this.skipToNextChunk();
      }
      if (this.top >>> CHUNK_SHIFT >= this.chunks.length) this.chunks.push(new Uint8Array(CHUNK));
    }
    const at = this.top;
    this.top += need;
    return at;
  }

  private fitsAtTop(need: number): boolean {
    return this.top >>> CHUNK_SHIFT < this.chunks.length && (this.top & IN_CHUNK) + need <= CHUNK;
  }

  /** Moves the top to the start of the next chunk; the rest of the current one (if any) is garbage. */
  private skipToNextChunk(): void {
    if (this.top >>> CHUNK_SHIFT >= this.chunks.length || (this.top & IN_CHUNK) === 0) return;
    this.garbage += CHUNK - (this.top & IN_CHUNK);
    this.top = ((this.top >>> CHUNK_SHIFT) + 1) << CHUNK_SHIFT;
  }

  /** Copies every slot's room into fresh chunks, in slot order; the old chunks go. */
  private compact(): void {
    const old = this.chunks;
    this.compacting = true;
    this.chunks = [];
    this.top = 0;
    this.garbage = 0;
    for (let slot = 0; slot < this.meta.length; slot++) {
      const r = this.roomOf(slot);
      if (r === 0) continue;
      const from = this.off[slot]!;
      const at = this.take(r);
      const src = from & IN_CHUNK;
      this.chunks[at >>> CHUNK_SHIFT]!.set(old[from >>> CHUNK_SHIFT]!.subarray(src, src + r), at & IN_CHUNK);
      this.off[slot] = at;
    }
    this.compacting = false;
  }
}
