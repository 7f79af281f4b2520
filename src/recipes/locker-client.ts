// Adapts a Locker in this process to the recipes' LeaseClient.
import type { Locker } from "../locker.js";
import type { LeaseClient } from "./client.js";

/**
 * The recipes' view of a Locker. Give the recipes the same Clock as the Locker:
 * `safeUntil` is on the Locker's clock.
 */
export function lockerLeaseClient(locker: Pick<Locker, "lock" | "extendLease" | "release" | "read" | "waitForRelease">): LeaseClient {
  return {
    lock: async (key, value, leaseMs, timeoutMs) => {
      const r = await locker.lock(key, value, { leaseMs, timeoutMs });
      return { token: r.token, safeUntil: r.safeUntil };
    },
    extendLease: async (key, value, leaseMs, timeoutMs) => {
      const r = await locker.extendLease(key, value, leaseMs, { timeoutMs });
      return { token: r.token, safeUntil: r.safeUntil };
    },
    release: (key, value) => locker.release(key, value),
    holder: async (key) => {
      const e = await locker.read(key);
      return e === undefined ? undefined : typeof e.value === "string" ? e.value : JSON.stringify(e.value);
    },
    waitForRelease: (key, timeoutMs) => locker.waitForRelease(key, timeoutMs),
  };
}
