// A tiny deterministic world for this package's own tests: a virtual clock,
// a seeded random source and a datagram network, with no dependency on the root package.
import type { DatagramChannel, MembershipClock, MembershipRandom } from "../src/types.js";

export class TestRandom implements MembershipRandom {
  constructor(private s: number) {}
  next(): number {
    // mulberry32
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

export class TestClock implements MembershipClock {
  private time = 0;
  private nextId = 1;
  private timers: Timer[] = [];
  now(): number {
    return this.time;
  }
  setTimer(delayMs: number, fn: () => void): number {
    const t = { id: this.nextId++, at: this.time + Math.max(0, delayMs), fn };
    this.timers.push(t);
    return t.id;
  }
  clearTimer(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  /** Fires timers in time order up to now + ms. */
  runFor(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.timers) if (t.at <= until && (!next || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.time = Math.max(this.time, next.at);
      next.fn();
    }
    this.time = until;
  }
  get pending(): number {
    return this.timers.length;
  }
}

export class TestNetwork {
  private readonly handlers = new Map<string, (m: Uint8Array, from: string) => void>();
  readonly down = new Set<string>();
  lossRate = 0;
  sent = 0;
  constructor(readonly clock: TestClock, private readonly random: TestRandom, readonly maxMessageBytes = 1400) {}

  channel(address: string): DatagramChannel {
    const net = this;
    return {
      maxMessageBytes: this.maxMessageBytes,
      send(to: string, message: Uint8Array): void {
        if (message.length > net.maxMessageBytes) throw new Error(`message of ${message.length} bytes over the cap`);
        net.sent++;
        if (net.down.has(address) || net.down.has(to) || net.random.next() < net.lossRate) return;
        const copy = Uint8Array.from(message);
        net.clock.setTimer(1, () => {
          if (!net.down.has(to)) net.handlers.get(to)?.(copy, address);
        });
      },
      onMessage(handler: (m: Uint8Array, from: string) => void): void {
        net.handlers.set(address, handler);
      },
    };
  }

  /** Delivers raw bytes to `to` as if sent by `from` (for malformed-input tests). */
  inject(from: string, to: string, bytes: Uint8Array): void {
    this.handlers.get(to)?.(bytes, from);
  }
}

/** Runs the clock in steps until the promise settles or the limit passes. */
export async function settle<T>(clock: TestClock, p: Promise<T>, limitMs: number, stepMs = 10): Promise<T> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  for (let t = 0; t < limitMs && !done; t += stepMs) {
    clock.runFor(stepMs);
    await new Promise((r) => setImmediate(r));
  }
  return p;
}
