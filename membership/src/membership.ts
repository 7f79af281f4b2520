// The driver: binds the pure SWIM core to a datagram channel, a clock and a
// random source, and exposes a swim-js-like API with events.
import { EventEmitter } from "node:events";
import { type MembershipConfig, type ProfileName, resolveConfig } from "./config.js";
import { type Conflict, type CoreStats, type JoinResult, type MemberEvent, type Output, SwimCore, type TimerKey } from "./core.js";
import { encodeMeta, MAX_ADDRESS_BYTES, MAX_NAME_BYTES } from "./messages.js";
import type { DatagramChannel, Member, MembershipClock, MembershipRandom, MemberState } from "./types.js";

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
 *
 * "conflict" (a `Conflict`: { name, existing, other, self }) is not a change:
 * a second node claims a live member's name from another address, and the
 * table keeps the existing address. With `self: true` the name is this
 * member's own and the cluster holds it alive elsewhere: this node is the
 * duplicate, and the application should stop it (the agent exits non-zero).
 */
export class Membership extends EventEmitter {
  readonly config: MembershipConfig;
  private readonly core: SwimCore;
  private readonly clock: MembershipClock;
  private readonly channel: DatagramChannel;
  private readonly timers = new Map<TimerKey, unknown>();
  private started = false;
  private closed = false;
  private bootstrapping = false;
  private readonly joinWaiters = new Map<number, (r: JoinResult) => void>();
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
      this.apply(this.core.handleDatagram(this.clock.now(), bytes, from));
    });
  }

  /**
   * Starts the protocol and joins through the seeds: any one that answers is
   * enough. Resolves once joined (at once for no seeds: a cluster of one);
   * rejects with MembershipError("join_failed") when no seed answered after
   * config.joinMaxAttempts attempts (the member keeps running alone).
   */
  bootstrap(seeds: readonly string[] = []): Promise<void> {
    if (this.bootstrapping) return Promise.reject(new MembershipError("invalid", "bootstrap already in progress"));
    this.bootstrapping = true;
    return this.startJoin(seeds, false)
      .then((r) => {
        if (r.addresses > 0 && r.answered === 0) {
          throw new MembershipError("join_failed", `no seed answered after ${this.config.joinMaxAttempts} attempts ${this.config.joinRetryIntervalMs} ms apart: ${seeds.join(", ")}`);
        }
      })
      .finally(() => {
        this.bootstrapping = false;
      });
  }

  /**
   * (Re)joins through `addresses` at any time while running, also when this
   * member is alone (it starts the protocol if bootstrap was never called):
   * a push-pull with each, retried up to config.joinMaxAttempts times
   * config.joinRetryIntervalMs apart until it answers. Resolves with how many
   * addresses answered (0: nobody was reached — the caller decides whether to
   * retry, see retryJoin); settles within joinMaxAttempts × joinRetryIntervalMs.
   * Rejects with MembershipError "invalid" (bad addresses, more than 256, or
   * more than 16 joins at once) or "closed".
   */
  join(addresses: readonly string[]): Promise<number> {
    return this.startJoin(addresses, true).then((r) => r.answered);
  }

  private startJoin(addresses: readonly string[], untilAll: boolean): Promise<JoinResult> {
    if (this.closed) return Promise.reject(new MembershipError("closed", "membership is closed"));
    if (!Array.isArray(addresses) || addresses.some((s) => typeof s !== "string" || s.length === 0 || Buffer.byteLength(s) > MAX_ADDRESS_BYTES)) {
      return Promise.reject(new MembershipError("invalid", "addresses must be an array of \"host:port\" strings"));
    }
    return new Promise<JoinResult>((resolve, reject) => {
      if (!this.started) {
        this.started = true;
        this.apply(this.core.start(this.clock.now()));
      }
      let started: { id: number; output: Output };
      try {
        started = this.core.join(this.clock.now(), addresses, untilAll);
      } catch (e) {
        reject(new MembershipError("invalid", (e as Error).message));
        return;
      }
      // The waiter first: the output may already carry this join's result.
      this.joinWaiters.set(started.id, (r) => (this.closed ? reject(new MembershipError("closed", "membership closed before joining")) : resolve(r)));
      this.apply(started.output);
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

  /** A member's state; cheaper than `member(name)?.state` (no view, no metadata decode), for hot paths. */
  stateOf(name: string): MemberState | undefined {
    return this.core.stateOf(name);
  }

  /** A member's address as last announced (whatever its state); cheap like `stateOf`. */
  addressOf(name: string): string | undefined {
    return this.core.addressOf(name);
  }

  isAlive(name: string): boolean {
    return this.core.stateOf(name) === "alive";
  }

  /** Replaces this member's metadata and announces it; MembershipError("invalid") if too large. */
  updateMeta(meta: unknown): void {
    if (this.closed) throw new MembershipError("closed", "membership is closed");
    this.apply(this.core.updateMeta(this.clock.now(), this.checkMeta(meta)));
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
      this.apply(this.core.leave(this.clock.now()));
    });
  }

  /** Stops at once without announcing anything (others will detect it as failed). */
  close(): void {
    if (this.closed) return;
    // Closed first: joins the core finishes on stop reject as "closed", and no timer is set again.
    this.closed = true;
    this.apply(this.core.stop());
    for (const h of this.timers.values()) this.clock.clearTimer(h);
    this.timers.clear();
    for (const w of [...this.joinWaiters.values()]) w({ id: 0, answered: 0, addresses: 0 });
    this.joinWaiters.clear();
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

  /** Carries out what the core asked for in answer to one input. */
  private apply(out: Output): void {
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
          this.apply(this.core.handleTimer(this.clock.now(), key));
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
    for (const c of out.conflicts) this.emit("conflict", c);
    for (const r of out.joins) {
      const w = this.joinWaiters.get(r.id);
      this.joinWaiters.delete(r.id);
      w?.(r);
    }
    for (const n of out.notices) if (n === "leaveDone") this.close();
  }

  private emitEvent(e: MemberEvent): void {
    this.emit(e.type, e);
    this.emit("change", e);
  }
}
