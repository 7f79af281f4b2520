// Lifeguard's dynamic suspicion timeout: a suspicion starts at its maximum and
// shrinks toward the minimum as other members independently confirm it.

/**
 * Time left before a suspected member is declared dead, given `confirmations`
 * independent confirmations of the `expected` (k) we hope for, after `elapsedMs`.
 * Log-scaled like memberlist's remainingSuspicionTime: the first confirmations
 * count most, because each one is strong evidence that the suspicion is not our
 * own network's fault, while later ones add little. Never below `minMs` in total.
 */
export function remainingSuspicionTime(confirmations: number, expected: number, elapsedMs: number, minMs: number, maxMs: number): number {
  const frac = expected <= 0 ? 1 : Math.log(confirmations + 1) / Math.log(expected + 1);
  const raw = maxMs - Math.min(1, frac) * (maxMs - minMs);
  const timeoutMs = Math.max(minMs, Math.floor(raw));
  return timeoutMs - elapsedMs;
}

/**
 * The minimum suspicion timeout: suspicionMult probe intervals, scaled by
 * log10 of the cluster size because gossip needs O(log n) rounds to let the
 * suspected member hear about it and refute.
 */
export function suspicionTimeoutMs(suspicionMult: number, members: number, probeIntervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, members)));
  return Math.round(suspicionMult * nodeScale * probeIntervalMs);
}

/** One running suspicion of one member at one incarnation. */
export class Suspicion {
  private readonly confirmers = new Set<string>();

  /**
   * @param expected k: confirmations that shrink the timeout to its minimum (0 → starts at minimum).
   * @param suspector the member whose suspicion started this (its later repeats do not count).
   */
  constructor(
    readonly incarnation: number,
    readonly startMs: number,
    readonly expected: number,
    readonly minMs: number,
    readonly maxMs: number,
    suspector: string,
  ) {
    this.confirmers.add(suspector);
  }

  get confirmations(): number {
    return this.confirmers.size - 1;
  }

  /** Records a confirmation; true if it came from a member not heard before (so worth re-gossiping). */
  confirm(from: string): boolean {
    if (this.confirmations >= this.expected) return false;
    if (this.confirmers.has(from)) return false;
    this.confirmers.add(from);
    return true;
  }

  /** Milliseconds until the member is to be declared dead (may be ≤ 0). */
  remainingMs(nowMs: number): number {
    if (this.expected <= 0) return this.minMs - (nowMs - this.startMs);
    return remainingSuspicionTime(this.confirmations, this.expected, nowMs - this.startMs, this.minMs, this.maxMs);
  }
}
