// The in-memory network: the same DatagramSocket contract as UDP, on virtual
// time, with seeded faults — loss, duplication, delay, reordering, partitions,
// paused nodes and crashes. One seed gives one exact delivery trace.
import { createHash } from "node:crypto";
import type { VirtualClock, VirtualNodeClock } from "../util/clock.js";
import type { SeededRandom } from "../util/random.js";
import type { DatagramSocket } from "./socket.js";
import { Transport, type TransportOptions } from "./transport.js";
import type { Address } from "./types.js";

export interface FaultConfig {
  /** Probability a datagram is lost. */
  lossRate: number;
  /** Probability a datagram is delivered twice. */
  duplicateRate: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability a datagram gets an extra delay of up to `reorderDelayMs`, overtaking later ones. */
  reorderRate: number;
  reorderDelayMs: number;
}

export const NO_FAULTS: FaultConfig = { lossRate: 0, duplicateRate: 0, minDelayMs: 0.1, maxDelayMs: 0.5, reorderRate: 0, reorderDelayMs: 0 };

export interface MemoryNetworkOptions {
  clock: VirtualClock;
  random: SeededRandom;
  faults?: Partial<FaultConfig>;
  /** Keep a line per delivery (for determinism tests and debugging). */
  recordTrace?: boolean;
}

export interface NetworkCounters {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  partitioned: number;
  toCrashed: number;
}

class MemorySocket implements DatagramSocket {
  handler: (d: Uint8Array, from: Address) => void = () => {};
  closed = false;
  constructor(
    private readonly net: MemoryNetwork,
    readonly address: Address,
  ) {}
  send(datagram: Uint8Array, to: Address): void {
    if (!this.closed) this.net.route(this.address, to, datagram);
  }
  onDatagram(handler: (d: Uint8Array, from: Address) => void): void {
    this.handler = handler;
  }
  onSendError(): void {
    // The in-memory network never fails a send: it loses datagrams instead.
  }
  close(): Promise<void> {
    this.closed = true;
    this.net.detach(this);
    return Promise.resolve();
  }
}

export class MemoryNetwork {
  readonly clock: VirtualClock;
  readonly counters: NetworkCounters = { sent: 0, delivered: 0, lost: 0, duplicated: 0, partitioned: 0, toCrashed: 0 };
  readonly trace: string[] = [];
  private faults: FaultConfig;
  private readonly random: SeededRandom;
  private readonly sockets = new Map<Address, MemorySocket>();
  private readonly nodeClocks = new Map<Address, VirtualNodeClock>();
  private readonly crashed = new Set<Address>();
  /** Address → partition group; addresses in different groups cannot talk. Unlisted addresses are in group 0. */
  private groups = new Map<Address, number>();
  /** One-way blocks "from>to", for asymmetric partitions. */
  private readonly blocked = new Set<string>();
  private readonly recordTrace: boolean;

  constructor(options: MemoryNetworkOptions) {
    this.clock = options.clock;
    this.random = options.random;
    this.faults = { ...NO_FAULTS, ...options.faults };
    this.recordTrace = options.recordTrace ?? false;
  }

  /** The clock of the node at `address` (created on first use; replaced after a crash). */
  nodeClock(address: Address): VirtualNodeClock {
    let c = this.nodeClocks.get(address);
    if (!c) {
      c = this.clock.forNode();
      this.nodeClocks.set(address, c);
    }
    return c;
  }

  /** A socket for `address`; a crashed address comes back to life with a fresh clock. */
  socket(address: Address): DatagramSocket {
    if (this.sockets.has(address)) throw new Error(`address ${address} is already in use`);
    if (this.crashed.delete(address)) this.nodeClocks.delete(address);
    const s = new MemorySocket(this, address);
    this.sockets.set(address, s);
    return s;
  }

  /** A Transport on this network, using the node's clock and a random stream forked from the network's. */
  transport(address: Address, options: TransportOptions = {}): Transport {
    const socket = this.socket(address);
    return new Transport(socket, this.nodeClock(address), this.random.fork(), options);
  }

  setFaults(faults: Partial<FaultConfig>): void {
    this.faults = { ...this.faults, ...faults };
  }

  get currentFaults(): Readonly<FaultConfig> {
    return this.faults;
  }

  /** Splits the network: each list is a group; addresses not listed form one more group. */
  partition(...groups: Address[][]): void {
    this.groups = new Map();
    groups.forEach((g, i) => g.forEach((a) => this.groups.set(a, i + 1)));
  }

  /** Blocks datagrams from `from` to `to` only (asymmetric link failure). */
  block(from: Address, to: Address): void {
    this.blocked.add(`${from}>${to}`);
  }

  heal(): void {
    this.groups = new Map();
    this.blocked.clear();
  }

  /** Stops the node as a GC pause would: no timers fire and nothing is received until it resumes. */
  pause(address: Address, durationMs: number): void {
    this.nodeClock(address).pause(durationMs);
  }

  /** The process dies: its socket and timers are gone; datagrams to it are lost. */
  crash(address: Address): void {
    this.crashed.add(address);
    const clock = this.nodeClocks.get(address);
    if (clock) clock.kill();
    const s = this.sockets.get(address);
    if (s) {
      s.closed = true;
      this.sockets.delete(address);
    }
  }

  isCrashed(address: Address): boolean {
    return this.crashed.has(address);
  }

  canTalk(from: Address, to: Address): boolean {
    return (this.groups.get(from) ?? 0) === (this.groups.get(to) ?? 0) && !this.blocked.has(`${from}>${to}`);
  }

  /** @internal */
  detach(socket: MemorySocket): void {
    if (this.sockets.get(socket.address) === socket) this.sockets.delete(socket.address);
  }

  /** @internal */
  route(from: Address, to: Address, datagram: Uint8Array): void {
    this.counters.sent++;
    if (this.crashed.has(to)) {
      this.counters.toCrashed++;
      return;
    }
    if (!this.canTalk(from, to)) {
      this.counters.partitioned++;
      return;
    }
    const f = this.faults;
    if (f.lossRate > 0 && this.random.next() < f.lossRate) {
      this.counters.lost++;
      return;
    }
    const copies = f.duplicateRate > 0 && this.random.next() < f.duplicateRate ? 2 : 1;
    if (copies === 2) this.counters.duplicated++;
    // Datagrams are copied: the sender may reuse its buffer, a real network would not see that.
    const bytes = Uint8Array.from(datagram);
    for (let i = 0; i < copies; i++) {
      let delay = f.minDelayMs + this.random.next() * Math.max(0, f.maxDelayMs - f.minDelayMs);
      if (f.reorderRate > 0 && this.random.next() < f.reorderRate) delay += this.random.next() * f.reorderDelayMs;
      // Scheduled on the receiver's clock: a paused receiver gets it when it resumes.
      const target = this.nodeClock(to);
      target.setTimer(delay, () => this.deliver(from, to, bytes));
    }
  }

  private deliver(from: Address, to: Address, bytes: Uint8Array): void {
    const s = this.sockets.get(to);
    if (!s || s.closed || this.crashed.has(to)) {
      this.counters.toCrashed++;
      return;
    }
    if (!this.canTalk(from, to)) {
      this.counters.partitioned++;
      return;
    }
    this.counters.delivered++;
    if (this.recordTrace) {
      const h = createHash("sha1").update(bytes).digest("hex").slice(0, 12);
      this.trace.push(`${this.clock.now().toFixed(3)} ${from}>${to} ${bytes.length} ${h}`);
    }
    s.handler(bytes, from);
  }
}
