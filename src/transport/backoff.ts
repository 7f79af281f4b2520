// Retry timing, for transport retries and the CAS driver's conflict retries
// alike: exponential backoff with "equal jitter" (half the wait fixed, half
// random, in the AWS architecture blog's terms), so retries from many nodes
// after one loss burst do not arrive in lockstep, and none comes at once.
import type { Random } from "../util/random.js";

export interface BackoffPolicy {
  /** Wait before the second attempt. */
  baseMs: number;
  /** Growth per attempt. */
  factor: number;
  /** Cap on a single wait. */
  maxMs: number;
}

/** Delay before attempt `attempt` (1 = first retry): uniform in [base·f^(a−1)/2, base·f^(a−1)], capped. */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: Random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * Math.pow(policy.factor, Math.max(0, attempt - 1)));
  // Half fixed, half jitter: full jitter can pick ~0 and hammer the peer.
  return ceiling / 2 + random.next() * (ceiling / 2);
}
