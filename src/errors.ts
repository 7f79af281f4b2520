// The one error class of the public API. Every failure carries a code a caller
// can branch on; locker's single `no_quorum` is split into what really happened.

export type LockerErrorCode =
  /** lock: someone else holds the key (it is present and not expired). */
  | "locked"
  /** update / extendLease / release: the current value differs from the one given. */
  | "mismatch"
  /** update / extendLease / release / read: the key is absent or expired. */
  | "not_found"
  /** Fewer than a majority of voters answered (or are alive, by SWIM). */
  | "no_quorum"
  /** The operation did not finish within its time budget; its outcome is unknown. */
  | "timeout"
  /** A concurrent round on the same key won; the caller may retry. */
  | "contention"
  /** A bad argument: key or value too large, lease out of range, wrong type. */
  | "invalid"
  /** The node is shut down or not yet able to serve (quiet period, not started). */
  | "unavailable";

export class LockerError extends Error {
  override readonly name = "LockerError";
  constructor(
    readonly code: LockerErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function isLockerError(e: unknown, code?: LockerErrorCode): e is LockerError {
  return e instanceof LockerError && (code === undefined || e.code === code);
}
