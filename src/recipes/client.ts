// The few lease operations the recipes need. A Locker in this process and the
// CLI's HTTP client both provide them, so Mutex and LeaderElection serve both.
import type { Clock, TimerHandle } from "../util/clock.js";

/** A granted or renewed lease. */
export interface LeaseGrant {
  /** Fencing token of the lock (the ballot that created it); pass it to what the lock protects. */
  token: bigint;
  /** On the recipe's clock: until when the holder may act. Drift is already deducted. */
  safeUntil: number;
}

export interface LeaseClient {
  /**
   * Takes the key; rejects with LockerError("locked") when someone holds it. The
   * recipes bound each attempt by `timeoutMs` (at most the lease: a grant that comes
   * later than that would already be over).
   */
  lock(key: string, value: string, leaseMs: number, timeoutMs: number): Promise<LeaseGrant>;
  /** Restarts the lease; rejects with "mismatch" or "not_found" when it is no longer ours. */
  extendLease(key: string, value: string, leaseMs: number, timeoutMs: number): Promise<LeaseGrant>;
  /** Deletes the key if it still holds `value`. */
  release(key: string, value: string): Promise<void>;
  /** The value the key holds now (a linearizable read where the client can), undefined if free. */
  holder(key: string): Promise<string | undefined>;
  /** Resolves when the key is free (or was already); rejects with "timeout". */
  waitForRelease(key: string, timeoutMs: number): Promise<void>;
}

/** Resolves after `ms` on `clock`, or rejects early when `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let handle: TimerHandle | undefined;
    const onAbort = (): void => {
      clock.clearTimer(handle);
      reject(signal!.reason);
    };
    handle = clock.setTimer(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
