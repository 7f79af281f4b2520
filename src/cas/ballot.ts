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

/**
 * A hybrid logical clock (Kulkarni et al. 2014) folded into one integer:
 * ticks never go backwards, stay close to wall time, and exceed every
 * counter observed. Pure: wall time is passed in.
 */
export class HybridLogicalClock {
  private last = 0;

  /** A fresh counter, above every counter issued or observed before. */
  tick(wallMs: number): number {
    const physical = Math.floor(wallMs) * HLC_TICKS_PER_MS;
    this.last = Math.max(this.last + 1, Number.isSafeInteger(physical) ? physical : 0);
    if (!Number.isSafeInteger(this.last)) throw new Error("invariant: HLC counter overflow");
    return this.last;
  }

  /** Folds in a counter seen in a message, so later ticks exceed it. */
  observe(counter: number): void {
    if (Number.isSafeInteger(counter) && counter > this.last) this.last = counter;
  }

  get current(): number {
    return this.last;
  }
}
