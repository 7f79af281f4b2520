// Only the cluster's own members are answered on the CAS and replication
// channels: a request or message is handled when its source address is that
// of a member SWIM holds alive or suspect (or this node). A member that has
// just joined may be unknown here for a moment (gossip is on its way), so a
// request from an unknown address waits a little for membership to learn it
// before it is refused; the number of such waits is bounded.
import type { Membership } from "@locker/membership";
import { LockerError } from "../errors.js";
import type { Address, Channel, MessageHandler, RequestHandler, RequestOptions } from "../transport/types.js";
import type { Clock, TimerHandle } from "../util/clock.js";

export interface MemberGateOptions {
  membership: Membership;
  /** This node's own addresses (the bound and the advertised one). */
  self: readonly Address[];
  clock: Clock;
  /** How long a request from an unknown address waits for membership to learn it. Default 1000 ms. */
  waitMs?: number;
  /** At most this many requests wait at once; more are refused at once. Default 256. */
  maxWaiting?: number;
}

export interface MemberGateStats {
  /** Requests and messages refused: their sender is not a member at that address. */
  refused: number;
  /** Requests that waited for membership to learn their sender, and then passed. */
  admittedAfterWait: number;
}

interface Waiter {
  from: Address;
  resolve(): void;
  timer: TimerHandle;
}

export class MemberGate {
  readonly stats: MemberGateStats = { refused: 0, admittedAfterWait: 0 };
  private known = new Set<Address>();
  private readonly waiting = new Set<Waiter>();
  private readonly waitMs: number;
  private readonly maxWaiting: number;
  private readonly onChange = (): void => this.refresh();

  constructor(private readonly o: MemberGateOptions) {
    this.waitMs = o.waitMs ?? 1000;
    this.maxWaiting = o.maxWaiting ?? 256;
    this.refresh();
    o.membership.on("change", this.onChange);
  }

  /** Whether `from` is this node or a live member's address. */
  allows(from: Address): boolean {
    if (this.known.has(from)) return true;
    this.refresh(); // a change event may still be queued behind this datagram
    return this.known.has(from);
  }

  /** Resolves when `from` may be answered; rejects (refused) when it is still unknown after the wait. */
  admit(from: Address): Promise<void> | undefined {
    if (this.allows(from)) return undefined;
    if (this.waiting.size >= this.maxWaiting) {
      this.stats.refused++;
      return Promise.reject(new LockerError("unavailable", "not a member of this cluster"));
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        from,
        resolve: () => {
          this.o.clock.clearTimer(w.timer);
          this.waiting.delete(w);
          this.stats.admittedAfterWait++;
          resolve();
        },
        timer: this.o.clock.setTimer(this.waitMs, () => {
          this.waiting.delete(w);
          this.stats.refused++;
          reject(new LockerError("unavailable", "not a member of this cluster"));
        }),
      };
      this.waiting.add(w);
    });
  }

  /** The channel with its handlers behind the gate; sends and requests pass unchanged. */
  wrap<M>(inner: Channel<M>): Channel<M> {
    return {
      get maxMessageBytes() {
        return inner.maxMessageBytes;
      },
      send: (to: Address, m: M) => inner.send(to, m),
      request: (to: Address, m: M, options?: RequestOptions) => inner.request(to, m, options),
      encodedSize: (m: M) => inner.encodedSize(m),
      onMessage: (handler: MessageHandler<M>) =>
        inner.onMessage((m, from) => {
          if (this.allows(from)) handler(m, from);
          else this.stats.refused++;
        }),
      onRequest: (handler: RequestHandler<M>) =>
        inner.onRequest((m, from) => {
          const wait = this.admit(from);
          return wait ? wait.then(() => handler(m, from)) : handler(m, from);
        }),
    };
  }

  close(): void {
    this.o.membership.off("change", this.onChange);
    for (const w of this.waiting) this.o.clock.clearTimer(w.timer);
    this.waiting.clear();
  }

  private refresh(): void {
    const known = new Set<Address>(this.o.self);
    for (const m of this.o.membership.members()) if (m.state === "alive" || m.state === "suspect") known.add(m.address);
    this.known = known;
    for (const w of this.waiting) if (known.has(w.from)) w.resolve();
  }
}
