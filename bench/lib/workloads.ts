// The Locker workloads, shared by the bench process and the voter fixtures
// (so the same code measures a client in a 4th process and one embedded in a
// voter): sequential latency of every operation, and lock+release cycles.
import type { Locker } from "../../src/locker.js";
import { isLockerError } from "../../src/errors.js";
import { closedLoop, sequential, type LoadResult } from "./load.js";
import { summarize, type LatencySummary } from "./stats.js";

export const OPERATIONS = ["lock", "lock (new key)", "extendLease", "update", "release", "read", "dirtyRead"] as const;

export interface SequentialOptions {
  /** Cycles measured (each cycle times every operation once). */
  cycles: number;
  maxMs: number;
  leaseMs: number;
  /** Key namespace of this client. */
  prefix: string;
}

/**
 * Sequential latencies. One cycle per key: lock, extendLease, update, read,
 * dirtyRead, release. Keys are reused, so after the first cycle on a key the
 * client made its last change and may take the one-round-trip fast path (the
 * common case of a client that locks the same keys again and again). "lock
 * (new key)" locks keys this client never touched: prepare + accept.
 */
export async function sequentialLatencies(L: Locker, o: SequentialOptions): Promise<Record<string, LatencySummary>> {
  const keyCount = 64;
  const lat: Record<string, number[]> = { lock: [], extendLease: [], update: [], release: [], read: [], dirtyRead: [] };
  const time = async (name: string, f: () => Promise<unknown> | unknown): Promise<void> => {
    const s = performance.now();
    await f();
    lat[name]!.push(performance.now() - s);
  };
  const cycle = async (i: number, record: boolean): Promise<void> => {
    const key = `${o.prefix}/seq/${i % keyCount}`;
    const v = `holder-${i}`;
    if (!record) {
      await L.lock(key, v, { leaseMs: o.leaseMs });
      await L.extendLease(key, v, o.leaseMs);
      await L.update(key, v, v + "b");
      await L.read(key);
      await L.release(key, v + "b");
      return;
    }
    await time("lock", () => L.lock(key, v, { leaseMs: o.leaseMs }));
    await time("extendLease", () => L.extendLease(key, v, o.leaseMs));
    await time("update", () => L.update(key, v, v + "b"));
    await time("read", () => L.read(key));
    await time("dirtyRead", () => L.dirtyRead(key));
    await time("release", () => L.release(key, v + "b"));
  };
  if (o.cycles > 0) for (let i = 0; i < keyCount * 3; i++) await cycle(i, false);
  const end = performance.now() + o.maxMs;
  for (let i = 0; i < o.cycles && performance.now() < end; i++) await cycle(i, true);
  let n = 0;
  const cold = await sequential(o.cycles, o.cycles > 0 ? 50 : 0, o.maxMs / 2, async (i) => {
    const key = `${o.prefix}/cold/${i < 0 ? "w" + -i : i}/${n++}`;
    await L.lock(key, "x", { leaseMs: 100 });
  });
  const out: Record<string, LatencySummary> = {};
  for (const [k, v] of Object.entries(lat)) out[k] = summarize(v);
  out["lock (new key)"] = summarize(cold);
  return out;
}

export interface CycleOptions {
  concurrency: number;
  durationMs: number;
  leaseMs: number;
  prefix: string;
  /** "own": each worker its own key; "new": a new key every cycle; "contended": every worker on one key. */
  keys: "own" | "new" | "contended";
  /** The one key of "contended" (shared by every client that contends). */
  contendedKey?: string;
}

/**
 * lock+release cycles; in "contended", a refused lock (`locked`) counts as
 * refused and a holder releases at once. `releaseFailures`: a holder's first
 * release attempt threw (it is then retried until definite, so one failure
 * does not block the key for a lease).
 */
export async function lockReleaseCycles(L: Locker, o: CycleOptions): Promise<LoadResult & { releaseFailures: number }> {
  const failures = { n: 0 };
  const r = await closedLoop(
    { concurrency: o.concurrency, durationMs: o.durationMs, maxOps: 1_000_000, warmupOps: o.keys === "contended" ? 0 : 2 * o.concurrency },
    async (w, i) => {
      const key = o.keys === "own" ? `${o.prefix}/tp/${o.concurrency}/${w}` : o.keys === "new" ? `${o.prefix}/tpn/${w}/${i}` : (o.contendedKey ?? `contended/${o.concurrency}`);
      const v = `${o.prefix}-w${w}`;
      try {
        await L.lock(key, v, { leaseMs: o.leaseMs });
      } catch (e) {
        if (o.keys === "contended" && isLockerError(e, "locked")) return false;
        if (o.keys === "contended" && (isLockerError(e, "timeout") || isLockerError(e, "contention"))) {
          // The outcome of a timed-out lock is unknown: it may hold the key.
          // A careful client releases its value (a no-op if it did not land)
          // instead of leaving the key blocked until the lease ends.
          if (isLockerError(e, "timeout")) await releaseSurely(L, key, v).catch(() => undefined);
          return false;
        }
        throw e;
      }
      if (o.keys === "contended") await releaseSurely(L, key, v, failures);
      else await L.release(key, v);
      return true;
    },
  );
  return { ...r, releaseFailures: failures.n };
}

/**
 * Releases `value` until the answer is definite: under contention a release
 * can end `timeout` (its accept reached a minority and another round wrote the
 * key since), and a holder that gave up there would block the key until its
 * lease ends. `not_found` / `mismatch` mean it is released (by us or by expiry).
 */
async function releaseSurely(L: Locker, key: string, value: string, failures?: { n: number }): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await L.release(key, value);
      return;
    } catch (e) {
      if (isLockerError(e, "not_found") || isLockerError(e, "mismatch")) return;
      if (attempt === 1 && failures) failures.n++;
      if (attempt >= 10 || !(isLockerError(e, "timeout") || isLockerError(e, "contention") || isLockerError(e, "no_quorum"))) throw e;
    }
  }
}
