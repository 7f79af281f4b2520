// Every bound of the CAS layer and the Locker API in one place, with defaults
// (TigerBeetle's "put a limit on everything"). Going past one is a clear
// LockerError("invalid" or "unavailable"), never a crash or a truncation.

export interface LockerLimits {
  /** Largest key, UTF-8 bytes. */
  maxKeyBytes: number;
  /** Largest value, canonical CBOR bytes. */
  maxValueBytes: number;
  /** Shortest lease a caller may ask for. */
  minLeaseMs: number;
  /** Longest lease; also the default quiet period. */
  maxLeaseMs: number;
  /** Operations in flight on one node (queued per key or running); past it: `unavailable`. */
  maxPendingRounds: number;
  /** Operations queued behind one key on one node. */
  maxQueuedPerKey: number;
  /** Rounds one operation may run after conflicts before it reports `contention`. */
  maxRetries: number;
  /** Keys an acceptor holds (live, dead or promised only). */
  maxKeys: number;
  /** Keys the fast-path cache remembers. */
  maxFastPathKeys: number;
  /** Pending waitFor / waitForRelease calls. */
  maxWaiters: number;
  /** Longest operation budget a caller may ask for. */
  maxTimeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<LockerLimits> = Object.freeze({
  maxKeyBytes: 256,
  maxValueBytes: 1024,
  minLeaseMs: 10,
  maxLeaseMs: 60_000,
  maxPendingRounds: 10_000,
  maxQueuedPerKey: 1_000,
  maxRetries: 8,
  maxKeys: 1_000_000,
  maxFastPathKeys: 10_000,
  maxWaiters: 100_000,
  maxTimeoutMs: 120_000,
});
