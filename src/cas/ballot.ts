// Ballots for per-key CASPaxos: a hybrid-logical-clock counter with the
// proposer's node name as tie-break, and the fencing token derived from it.

/**
 * A ballot. `c` is a hybrid-logical-clock counter (wall ms × 1024 + logical),
 * `node` the proposing node's unique name. Ordered by (c, node).
 */
export interface Ballot {
  readonly c: number;
  readonly node: string;
}

/** Logical ticks per wall millisecond inside a counter. 2^53 / 1024 ms is past the year 2200. */
export const HLC_TICKS_PER_MS = 1024;
/**
 * Ticks kept free below 2^53: the largest counter a message may carry is
 * this far below the last safe integer, so a node that adopts the largest
 * acceptable counter can still issue 2^32 ballots after it (decades of
 * rounds) without leaving the safe integers. Above it, a message is refused
 * at decode: before this bound, a prepare with 2^53 − 1 overflowed the
 * ballot clock and every operation through that node failed until restart.
 */
export const BALLOT_COUNTER_MARGIN = 2 ** 32;
/** Largest ballot counter (and fencing token) accepted from the wire. */
export const MAX_BALLOT_COUNTER = Number.MAX_SAFE_INTEGER - BALLOT_COUNTER_MARGIN;
/**
 * How far a ballot's wall component may be ahead of this node's wall clock.
 * Ballots are HLC counters (wall ms × 1024 + logical), so an honest ballot is
 * never much ahead of the clocks of the nodes that made it; one further ahead
 * than this comes from a broken clock or a forger. It is refused by the
 * acceptor (no promise, no key slot, no floor) and ignored by the proposer and
 * the HLC, so it cannot drag every later ballot and token up with it. Nodes'
 * wall clocks must therefore agree within this bound (NTP gives milliseconds);
 * a node whose clock runs further ahead gets its rounds refused (nack "ballot").
 */
export const MAX_BALLOT_AHEAD_MS = 10 * 60_000;
/** Largest node name carried in a ballot (UTF-8 bytes). */
export const MAX_NODE_NAME_BYTES = 64;

export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.c !== b.c) return a.c < b.c ? -1 : 1;
  if (a.node === b.node) return 0;
  return a.node < b.node ? -1 : 1;
}

export function ballotEquals(a: Ballot | null | undefined, b: Ballot | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.c === b.c && a.node === b.node;
}

/** The larger of two ballots, where null is below every ballot. */
export function maxBallot(a: Ballot | null, b: Ballot | null): Ballot | null {
  if (!a) return b;
  if (!b) return a;
  return compareBallots(a, b) >= 0 ? a : b;
}

export function ballotToString(b: Ballot | null | undefined): string {
  return b ? `${b.c}@${b.node}` : "-";
}

/**
 * The fencing token of a lock: the counter of the ballot that created it.
 * Counters alone (without the node tie-break) strictly increase across
 * successive holders because a proposer only creates a lock with a counter
 * above every counter its prepare quorum reported (see proposer.ts).
 */
export function tokenOf(counter: number): bigint {
  return BigInt(counter);
}

/** The wall-clock millisecond a counter was issued at (its physical part). */
export function counterWallMs(counter: number): number {
  return Math.floor(counter / HLC_TICKS_PER_MS);
}

/** Largest counter plausible at wall time `wallMs` (see MAX_BALLOT_AHEAD_MS). */
export function maxPlausibleCounter(wallMs: number): number {
  const limit = (Math.floor(wallMs) + MAX_BALLOT_AHEAD_MS + 1) * HLC_TICKS_PER_MS - 1;
  return Number.isSafeInteger(limit) ? Math.min(limit, MAX_BALLOT_COUNTER) : MAX_BALLOT_COUNTER;
}

/** Whether a counter from a message may be adopted at wall time `wallMs`. */
export function isPlausibleCounter(counter: number, wallMs: number): boolean {
  return Number.isSafeInteger(counter) && counter >= 0 && counter <= maxPlausibleCounter(wallMs);
}

/**
 * A hybrid logical clock (Kulkarni et al. 2014) folded into one integer:
 * ticks never go backwards, stay close to wall time, and exceed every
 * counter observed. Pure: wall time is passed in.
 */
export class HybridLogicalClock {
  private last = 0;
  /** Wall time of the latest tick: the reference for counters observed without one. */
  private lastWallMs: number | undefined;
  /** Observed counters refused as implausible (never adopted). */
  refused = 0;

  /** A fresh counter, above every counter issued or observed before. */
  tick(wallMs: number): number {
    const physical = Math.floor(wallMs) * HLC_TICKS_PER_MS;
    this.last = Math.max(this.last + 1, Number.isSafeInteger(physical) ? physical : 0);
    if (!Number.isSafeInteger(this.last)) throw new Error("invariant: HLC counter overflow");
    if (Number.isFinite(wallMs)) this.lastWallMs = wallMs;
    return this.last;
  }

  /**
   * Folds in a counter seen in a message, so later ticks exceed it. Refuses
   * (returns false, counts, changes nothing) a counter above MAX_BALLOT_COUNTER
   * or implausibly far ahead of `wallMs` (default: the wall time of the latest
   * tick; before any tick only the absolute bound applies, as for the
   * driver's own start-up observation).
   */
  observe(counter: number, wallMs?: number): boolean {
    const reference = wallMs ?? this.lastWallMs;
    const ok =
      Number.isSafeInteger(counter) && counter >= 0 && (reference === undefined ? counter <= MAX_BALLOT_COUNTER : isPlausibleCounter(counter, reference));
    if (!ok) {
      this.refused++;
      return false;
    }
    if (counter > this.last) this.last = counter;
    return true;
  }

  get current(): number {
    return this.last;
  }
}
