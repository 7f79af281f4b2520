// The driver: binds the pure SWIM core to a datagram channel, a clock and a
// random source, and exposes a swim-js-like API with events.
import { EventEmitter } from "node:events";
import { type MembershipConfig, type ProfileName, resolveConfig } from "./config.js";
import { type CoreStats, type MemberEvent, SwimCore } from "./core.js";
import { encodeMeta, MAX_ADDRESS_BYTES, MAX_NAME_BYTES } from "./messages.js";
import type { DatagramChannel, Member, MembershipClock, MembershipRandom } from "./types.js";

export type MembershipErrorCode = "invalid" | "join_failed" | "closed";

/** The one error class of this package; `code` says what went wrong. */
export class MembershipError extends Error {
  override readonly name = "MembershipError";
  constructor(readonly code: MembershipErrorCode, message: string) {
    super(message);
  }
}

export interface MembershipOptions {
  /** Where this member receives datagrams ("host:port"), as the channel's peers address it. */
  address: string;
  /** Unique member name; defaults to the address. Keep it across restarts to rejoin as the same member. */
  name?: string;
  channel: DatagramChannel;
  clock: MembershipClock;
  random: MembershipRandom;
  /** Small application metadata (any CBOR-encodable value), at most config.maxMetaBytes encoded. */
  meta?: unknown;
  /** Timing profile: "lan" (default), "wan", "local", or a full config. */
  profile?: ProfileName | MembershipConfig;
  /** Overrides of single knobs of the profile. */
  config?: Partial<MembershipConfig>;
}

export interface MembershipStats extends CoreStats {
  /** Members by state as this member sees them (itself included). */
  alive: number;
  suspect: number;
  dead: number;
  left: number;
}

/**
 * A SWIM member. Events: "join" (new or returning member), "alive" (became
 * alive, also after refuting a suspicion), "suspect", "dead", "left", "update"
 * (metadata or address changed), and "change" for every one of them; each
 * listener gets a `MemberEvent` ({ type, member, previous }).
 */
export class Membership extends EventEmitter {
  readonly config: MembershipConfig;
  private readonly core: SwimCore;
  private readonly clock: MembershipClock;
  private readonly channel: DatagramChannel;
  private readonly timers = new Map<string, unknown>();
  private started = false;
  private closed = false;
  private joinWaiters: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private leaveWaiters: (() => void)[] = [];

  constructor(opts: MembershipOptions) {
    super();
    this.config = resolveConfig(opts.profile ?? "lan", opts.config ?? {});
    const name = opts.name ?? opts.address;
    if (typeof name !== "string" || name.length === 0 || Buffer.byteLength(name) > MAX_NAME_BYTES) throw new MembershipError("invalid", `member name must be 1..${MAX_NAME_BYTES} bytes`);
    if (typeof opts.address !== "string" || opts.address.length === 0 || Buffer.byteLength(opts.address) > MAX_ADDRESS_BYTES) throw new MembershipError("invalid", `address must be 1..${MAX_ADDRESS_BYTES} bytes`);
    this.clock = opts.clock;
    this.channel = opts.channel;
    this.core = new SwimCore({ name, address: opts.address, meta: this.checkMeta(opts.meta), config: this.config, random: opts.random, maxMessageBytes: opts.channel.maxMessageBytes });
    this.channel.onMessage((bytes, from) => {
      if (this.closed) return;
      this.core.handleDatagram(this.clock.now(), bytes, from);
      this.flush();
    });
  }

  /**
   * Starts the protocol and joins through the seeds: any one that answers is
   * enough. Resolves once joined (at once for no seeds: a cluster of one);
   * rejects with MembershipError("join_failed") when no seed answered after
   * config.joinMaxAttempts attempts (the member keeps running alone).
   */
  bootstrap(seeds: readonly string[] = []): Promise<void> {
    if (this.closed) return Promise.reject(new MembershipError("closed", "membership is closed"));
    if (this.joinWaiters) return Promise.reject(new MembershipError("invalid", "bootstrap already in progress"));
    if (!Array.isArray(seeds) || seeds.some((s) => typeof s !== "string" || s.length === 0)) return Promise.reject(new MembershipError("invalid", "seeds must be an array of \"host:port\" strings"));
    return new Promise<void>((resolve, reject) => {
      this.joinWaiters = { resolve, reject };
      if (!this.started) {
        this.started = true;
        this.core.start(this.clock.now());
      }
      this.core.join(this.clock.now(), seeds);
      this.flush();
    }).finally(() => {
      this.joinWaiters = undefined;
    }).catch((e: unknown) => {
      if (e instanceof MembershipError && e.code === "join_failed") {
        throw new MembershipError("join_failed", `no seed answered after ${this.config.joinMaxAttempts} attempts ${this.config.joinRetryIntervalMs} ms apart: ${seeds.join(", ")}`);
      }
      throw e;
    });
  }

  /** Other members, with their state (dead and left members stay listed until forgotten). */
  members(): Member[] {
    return this.core.allMembers().filter((m) => m.name !== this.core.name);
  }

  /** This member's name. */
  whoami(): string {
    return this.core.name;
  }

  /** This member as others see it. */
  localMember(): Member {
    return this.core.member(this.core.name)!;
  }

  member(name: string): Member | undefined {
    return this.core.member(name);
  }

  isAlive(name: string): boolean {
    return this.core.member(name)?.state === "alive";
  }

  /** Replaces this member's metadata and announces it; MembershipError("invalid") if too large. */
  updateMeta(meta: unknown): void {
    if (this.closed) throw new MembershipError("closed", "membership is closed");
    this.core.updateMeta(this.clock.now(), this.checkMeta(meta));
    this.flush();
  }

  /** Leaves gracefully: announces it (others mark this member "left", never suspect), then closes. */
  leave(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.started) {
      this.close();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.leaveWaiters.push(resolve);
      this.core.leave(this.clock.now());
      this.flush();
    });
  }

  /** Stops at once without announcing anything (others will detect it as failed). */
  close(): void {
    if (this.closed) return;
    this.core.stop();
    this.flush();
    this.closed = true;
    for (const h of this.timers.values()) this.clock.clearTimer(h);
    this.timers.clear();
    this.joinWaiters?.reject(new MembershipError("closed", "membership closed before joining"));
    for (const w of this.leaveWaiters.splice(0)) w();
  }

  stats(): MembershipStats {
    const s = this.core.currentStats();
    return { ...s, ...this.core.countByState() };
  }

  private checkMeta(meta: unknown): Uint8Array | null {
    let bytes: Uint8Array | null;
    try {
      bytes = encodeMeta(meta);
    } catch (e) {
      throw new MembershipError("invalid", `metadata cannot be encoded: ${(e as Error).message}`);
    }
    if (bytes && bytes.length > this.config.maxMetaBytes) throw new MembershipError("invalid", `metadata is ${bytes.length} bytes encoded, the limit is ${this.config.maxMetaBytes}`);
    return bytes;
  }

  private flush(): void {
    const out = this.core.drain();
    for (const t of out.timers) {
      const old = this.timers.get(t.key);
      if (old !== undefined) {
        this.clock.clearTimer(old);
        this.timers.delete(t.key);
      }
      if (t.delayMs !== null && !this.closed) {
        const key = t.key;
        const h = this.clock.setTimer(t.delayMs, () => {
          if (this.timers.get(key) !== h) return;
          this.timers.delete(key);
          if (this.closed) return;
          this.core.handleTimer(this.clock.now(), key);
          this.flush();
        });
        this.timers.set(key, h);
      }
    }
    if (!this.closed) {
      for (const s of out.sends) {
        try {
          this.channel.send(s.to, s.bytes);
        } catch {
          // A channel that refuses one datagram (bad address, closed socket) must not stop the protocol.
          this.core.stats.sendErrors++;
        }
      }
    }
    for (const e of out.events) this.emitEvent(e);
    for (const n of out.notices) {
      if (n === "joined") this.joinWaiters?.resolve();
      else if (n === "joinFailed") this.joinWaiters?.reject(new MembershipError("join_failed", "no seed answered"));
      else if (n === "leaveDone") this.close();
    }
  }

  private emitEvent(e: MemberEvent): void {
    this.emit(e.type, e);
    this.emit("change", e);
  }
}
