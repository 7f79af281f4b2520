// withLock: run a function while holding a key, renewing the lease meanwhile,
// and release it afterwards whatever happens.
import { LockerError } from "../errors.js";
import type { LeaseClient } from "./client.js";
import { Mutex, type MutexOptions } from "./mutex.js";

export interface WithLockOptions extends MutexOptions {
  /** How long to wait for the key. Default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Acquires `key`, runs `fn(signal, token)`, releases. `signal` aborts if the lock is
 * lost while `fn` runs; pass `token` to whatever the lock protects (fencing). If the
 * lock was lost before `fn` finished, withLock rejects even when `fn` succeeded: its
 * work may have overlapped another holder's.
 */
export async function withLock<T>(
  client: LeaseClient,
  key: string,
  fn: (signal: AbortSignal, token: bigint) => T | Promise<T>,
  options: WithLockOptions = {},
): Promise<T> {
  const mutex = new Mutex(client, key, options);
  const acquireOptions = options.signal ? { timeoutMs: options.timeoutMs ?? 30_000, signal: options.signal } : { timeoutMs: options.timeoutMs ?? 30_000 };
  const token = await mutex.acquire(acquireOptions);
  let lostReason: Error | undefined;
  mutex.once("lost", (r) => {
    lostReason = r;
  });
  try {
    const result = await fn(mutex.signal!, token);
    if (lostReason) throw new LockerError("timeout", `the lock on ${key} was lost while the function ran: ${lostReason.message}`);
    return result;
  } finally {
    await mutex.release().catch(() => undefined);
  }
}
