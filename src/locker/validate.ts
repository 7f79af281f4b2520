// The one validation of keys, values, leases and time budgets (and of the
// limits themselves). The Locker uses it; so should every other entry point
// (the agent's HTTP API), so all of them refuse the same inputs the same way.
import { LockerError } from "../errors.js";
import type { LockerLimits } from "../limits.js";
import { CODEC_MAX_KEY_BYTES, CODEC_MAX_LEASE_MS, CODEC_MAX_VALUE_BYTES } from "../cas/messages.js";
import { encodeValue } from "../cas/value.js";

/** A client's key: 1..maxKeyBytes UTF-8 bytes, not reserved. @throws LockerError `invalid` */
export function checkKey(key: unknown, limits: Pick<LockerLimits, "maxKeyBytes">): string {
  if (typeof key !== "string") throw new LockerError("invalid", "key must be a string");
  const n = Buffer.byteLength(key, "utf8");
  if (n === 0) throw new LockerError("invalid", "key must not be empty");
  if (n > limits.maxKeyBytes) throw new LockerError("invalid", `key is ${n} bytes; the limit is ${limits.maxKeyBytes} (UTF-8)`);
  // Keys starting with NUL are reserved for the cluster itself (the voter
  // configuration, src/cluster/configurator.ts): a client must not forge them.
  if (key.charCodeAt(0) === 0) throw new LockerError("invalid", "keys starting with a NUL character are reserved");
  return key;
}

/** A value, encoded (canonical CBOR) within maxValueBytes. @throws LockerError `invalid` */
export function checkValue(value: unknown, limits: Pick<LockerLimits, "maxValueBytes">): Uint8Array {
  const bytes = encodeValue(value);
  if (bytes.length > limits.maxValueBytes) {
    throw new LockerError("invalid", `value is ${bytes.length} bytes encoded; the limit is ${limits.maxValueBytes}`);
  }
  return bytes;
}

/** A lease length within minLeaseMs..maxLeaseMs. @throws LockerError `invalid` */
export function checkLease(leaseMs: unknown, limits: Pick<LockerLimits, "minLeaseMs" | "maxLeaseMs">): number {
  if (typeof leaseMs !== "number" || !Number.isFinite(leaseMs) || leaseMs < limits.minLeaseMs || leaseMs > limits.maxLeaseMs) {
    throw new LockerError("invalid", `leaseMs must be between ${limits.minLeaseMs} and ${limits.maxLeaseMs} ms (got ${String(leaseMs)})`);
  }
  return leaseMs;
}

/** A time budget (operation or wait): in (0, maxTimeoutMs]. */
export function checkTimeout(t: unknown, limits: Pick<LockerLimits, "maxTimeoutMs">): void {
  if (typeof t !== "number" || !Number.isFinite(t) || t <= 0 || t > limits.maxTimeoutMs) {
    throw new LockerError("invalid", `timeoutMs must be more than 0 and at most ${limits.maxTimeoutMs} ms (got ${String(t)})`);
  }
}

/** The limits themselves, each within what the wire codecs can carry. */
export function checkLimits(l: LockerLimits): void {
  const positive = (n: number, max: number, what: string): void => {
    if (!Number.isFinite(n) || n <= 0 || n > max) throw new LockerError("invalid", `${what} must be in (0, ${max}]`);
  };
  positive(l.maxKeyBytes, CODEC_MAX_KEY_BYTES, "limits.maxKeyBytes");
  positive(l.maxValueBytes, CODEC_MAX_VALUE_BYTES, "limits.maxValueBytes");
  positive(l.minLeaseMs, CODEC_MAX_LEASE_MS, "limits.minLeaseMs");
  positive(l.maxLeaseMs, CODEC_MAX_LEASE_MS, "maxLeaseMs");
  if (l.maxLeaseMs < l.minLeaseMs) throw new LockerError("invalid", "maxLeaseMs must be ≥ minLeaseMs");
  positive(l.maxPendingRounds, 1e7, "limits.maxPendingRounds");
  positive(l.maxQueuedPerKey, 1e7, "limits.maxQueuedPerKey");
  positive(l.maxRetries, 1000, "limits.maxRetries");
  positive(l.maxKeys, 1e9, "limits.maxKeys");
  positive(l.maxFastPathKeys, 1e9, "limits.maxFastPathKeys");
  positive(l.maxWaiters, 1e9, "limits.maxWaiters");
  positive(l.maxTimeoutMs, CODEC_MAX_LEASE_MS, "limits.maxTimeoutMs");
}
