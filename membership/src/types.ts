// Structural interfaces this package needs from its host. The root package's
// Clock, Random and Channel<Uint8Array> satisfy them without this package importing it.

/** Time as an input: monotonic milliseconds and timers (the simulator substitutes virtual time). */
export interface MembershipClock {
  /** Monotonic milliseconds; only differences are meaningful. */
  now(): number;
  setTimer(delayMs: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
}

/** Randomness as an input, so a seed replays a whole run. */
export interface MembershipRandom {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** A datagram channel: unreliable, unordered, size-capped; addresses are "host:port". */
export interface DatagramChannel {
  /** The largest message `send` accepts; membership packs piggybacked gossip up to it. */
  readonly maxMessageBytes: number;
  send(to: string, message: Uint8Array): void;
  onMessage(handler: (message: Uint8Array, from: string) => void): void;
}

export type MemberState = "alive" | "suspect" | "dead" | "left";

/** A member as the API shows it. */
export interface Member {
  /** Unique in the cluster; a restarted process keeps its name. */
  readonly name: string;
  /** Where it receives datagrams ("host:port"). */
  readonly address: string;
  readonly state: MemberState;
  /** Raised only by the member itself, to refute suspicion or announce a change. */
  readonly incarnation: number;
  /** Small application metadata (decoded CBOR value), undefined if none. */
  readonly meta: unknown;
  /** Round trip of this member's direct probes from here, smoothed (ms); absent until one was answered. */
  readonly rttMs?: number;
}
