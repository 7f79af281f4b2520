// Replay protection for sealed datagrams: the sender side numbers every
// datagram (a random boot id plus a counter), the receiver side keeps a
// sliding window of recent numbers per boot id and refuses what it has seen.
//
// Why this shape (see also the per-message analysis in envelope.ts):
// - A boot id is 64 random bits drawn when the envelope is created, so a
//   sender that restarted (memory lost) starts a fresh sequence under a new id
//   and is accepted at once; nothing has to be persisted.
// - The receiver cannot remember every boot id forever (an LRU bounds it), and
//   it forgets everything when it restarts itself. A timestamp bound closes
//   both holes: a datagram whose sender wall clock is more than
//   `windowMs` away from the receiver's is refused, so a capture is useless
//   once it is older than the window. Within the window, a sender evicted
//   from the LRU raises a floor: an unknown boot id must carry a timestamp
//   above the newest one evicted, so evicting a sender never re-opens its
//   old datagrams.
// - Only datagrams that authenticate update the state (the envelope calls
//   `commit` after the seal opens), so forgeries cannot move a window or fill
//   the LRU; `check` before opening only saves the AES work for plain replays.

/** Sequence numbers per sender a receiver remembers behind the newest (reordering tolerance). */
export const REPLAY_WINDOW_SEQS = 4096;
/** Senders (boot ids) a receiver tracks; past it the least recently heard is evicted. */
export const REPLAY_MAX_SENDERS = 4096;
/**
 * Largest difference between a sealed datagram's timestamp and the receiver's
 * wall clock. Nodes' wall clocks must agree within it (NTP gives milliseconds);
 * a datagram outside it is refused and counted as `clock_skew`.
 */
export const DEFAULT_SEAL_CLOCK_WINDOW_MS = 120_000;
/** Sequence numbers and timestamps are carried as uint64 but must be safe integers. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

const WORDS = REPLAY_WINDOW_SEQS / 32;

/** What a sealed datagram's replay fields say. */
export interface ReplayStamp {
  /** 8 random bytes as 16 hex chars (a Map key). */
  readonly bootId: string;
  readonly seq: number;
  /** Sender's wall clock, ms since the epoch. */
  readonly wallMs: number;
}

export type ReplayVerdict = "ok" | "replayed" | "clock_skew";

interface SenderWindow {
  /** Highest sequence number accepted. */
  top: number;
  /** Bit (seq mod REPLAY_WINDOW_SEQS) is set when seq in (top − window, top] was accepted. */
  readonly bits: Uint32Array;
  /** Newest timestamp accepted from this sender (raises the floor when evicted). */
  newestWallMs: number;
}

function bitIndex(seq: number): [number, number] {
  const i = seq % REPLAY_WINDOW_SEQS;
  return [i >>> 5, 1 << (i & 31)];
}

/** The receiver's memory of what it accepted; bounded in senders and per sender. */
export class ReplayGuard {
  /** Insertion order is recency order (a hit is re-inserted): the first entry is the eviction candidate. */
  private readonly senders = new Map<string, SenderWindow>();
  /** An unknown sender must be newer than every sender forgotten so far (see the file comment). */
  private evictedFloorMs = -Infinity;

  constructor(
    private readonly windowMs = DEFAULT_SEAL_CLOCK_WINDOW_MS,
    private readonly maxSenders = REPLAY_MAX_SENDERS,
  ) {
    if (!(windowMs > 0) || !Number.isInteger(maxSenders) || maxSenders < 1) throw new RangeError("bad replay guard bounds");
  }

  get size(): number {
    return this.senders.size;
  }

  /** Whether a stamp would be accepted; changes nothing. */
  check(s: ReplayStamp, nowWallMs: number): ReplayVerdict {
    if (Math.abs(s.wallMs - nowWallMs) > this.windowMs) return "clock_skew";
    const w = this.senders.get(s.bootId);
    if (!w) return s.wallMs > this.evictedFloorMs ? "ok" : "replayed";
    if (s.seq > w.top) return "ok";
    if (w.top - s.seq >= REPLAY_WINDOW_SEQS) return "replayed";
    const [word, bit] = bitIndex(s.seq);
    return (w.bits[word]! & bit) !== 0 ? "replayed" : "ok";
  }

  /** Whether `bootId` (hex) is a sender this guard tracks: a datagram addressed to it was meant for another node. */
  knows(bootId: string): boolean {
    return this.senders.has(bootId);
  }

  /** Checks and, when accepted, records the stamp. Call only for a datagram that authenticated. */
  commit(s: ReplayStamp, nowWallMs: number): ReplayVerdict {
    const verdict = this.check(s, nowWallMs);
    if (verdict !== "ok") return verdict;
    let w = this.senders.get(s.bootId);
    if (w) {
      this.senders.delete(s.bootId); // re-inserted below: most recent last
    } else {
      w = { top: s.seq, bits: new Uint32Array(WORDS), newestWallMs: s.wallMs };
      while (this.senders.size >= this.maxSenders) this.evictOldest();
    }
    this.senders.set(s.bootId, w);
    if (s.seq > w.top) {
      if (s.seq - w.top >= REPLAY_WINDOW_SEQS) {
        w.bits.fill(0);
      } else {
        for (let q = w.top + 1; q < s.seq; q++) {
          const [word, bit] = bitIndex(q);
          w.bits[word] = w.bits[word]! & ~bit;
        }
      }
      w.top = s.seq;
    }
    const [word, bit] = bitIndex(s.seq);
    w.bits[word] = w.bits[word]! | bit;
    if (s.wallMs > w.newestWallMs) w.newestWallMs = s.wallMs;
    return "ok";
  }

  private evictOldest(): void {
    const first = this.senders.entries().next();
    if (first.done) return;
    const [id, w] = first.value;
    this.senders.delete(id);
    if (w.newestWallMs > this.evictedFloorMs) this.evictedFloorMs = w.newestWallMs;
  }
}

/** The sender side: one boot id per envelope, a counter per datagram. */
export class ReplayStamper {
  private bootIdBytes: Buffer;
  private seq = 0;

  constructor(private readonly newBootId: () => Buffer) {
    this.bootIdBytes = newBootId();
  }

  /** This sender's boot id, hex (as receivers key their windows). */
  get bootId(): string {
    return this.bootIdBytes.toString("hex");
  }

  /** Writes bootId(8) ‖ seq(8, BE) ‖ wallMs(8, BE) into `out` at `offset`. */
  stamp(out: Buffer, offset: number, wallMs: number): void {
    this.seq++;
    if (this.seq > MAX_SEQ) {
      // Never reached in practice (2^53 datagrams); a new boot id is a new sender.
      this.bootIdBytes = this.newBootId();
      this.seq = 1;
    }
    this.bootIdBytes.copy(out, offset);
    writeUint53(out, offset + 8, this.seq);
    writeUint53(out, offset + 16, Math.max(0, Math.floor(wallMs)));
  }
}

/** Big-endian uint64 holding a safe integer. */
export function writeUint53(out: Buffer, offset: number, v: number): void {
  out.writeUInt32BE(Math.floor(v / 2 ** 32), offset);
  out.writeUInt32BE(v >>> 0, offset + 4);
}

/** Reads a big-endian uint64; undefined when it is not a safe integer. */
export function readUint53(b: Uint8Array, offset: number): number | undefined {
  const view = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const hi = view.readUInt32BE(offset);
  if (hi > 0x1fffff) return undefined;
  return hi * 2 ** 32 + view.readUInt32BE(offset + 4);
}
