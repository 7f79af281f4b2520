// A distributed mutex on one key: acquire (waiting for release, with a timeout),
// renew the lease in the background, release, and say loudly when the lock is lost.
import { EventEmitter } from "node:events";
import { LockerError, isLockerError } from "../errors.js";
import { SystemClock, type Clock, type TimerHandle } from "../util/clock.js";
import { cryptoSeededRandom, type Random } from "../util/random.js";
import { backoffDelayMs, type BackoffPolicy } from "../transport/backoff.js";
import { sleep, type LeaseClient, type LeaseGrant } from "./client.js";

export interface MutexOptions {
  /** Lease length; the lock survives its holder's crash for at most this long. Default 10 s. */
  leaseMs?: number;
  /** The value written while held; unique per holder. Default: a random id. */
  value?: string;
  /** How often the lease is renewed. Default leaseMs / 3, so two renewals may fail before loss. */
  renewEveryMs?: number;
  clock?: Clock;
  random?: Random;
}

export interface AcquireOptions {
  /** How long to wait for the key. Default 30 s; Infinity waits until `signal` aborts. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Told who holds the key each time an attempt finds it taken (undefined: unknown or just freed). */
  onHeld?: (holder: string | undefined) => void;
}

export type MutexState = "idle" | "acquiring" | "held" | "lost" | "released";

export interface MutexEvents {
  acquired: [token: bigint];
  renewed: [safeUntil: number];
  lost: [reason: Error];
  released: [];
}

/** Codes after which another attempt may succeed; anything else is the caller's mistake. */
const TRANSIENT = new Set(["contention", "no_quorum", "timeout", "unavailable"]);

/** Between acquire attempts that found no quorum (or a stale local copy): the transport's one backoff rule. */
const ACQUIRE_BACKOFF: BackoffPolicy = { baseMs: 40, factor: 2, maxMs: 1000 };

/** A random id for a holder: 64 bits from the injected Random, as hex. */
export function randomHolderId(random: Random, prefix = "holder"): string {
  const part = (): string => random.int(0x1_0000_0000).toString(16).padStart(8, "0");
  return `${prefix}-${part()}${part()}`;
}

export class Mutex extends EventEmitter<MutexEvents> {
  readonly value: string;
  readonly leaseMs: number;
  private readonly renewEveryMs: number;
  /** Budget of one lock or renewal attempt: the lease, at most 5 s. */
  private readonly attemptTimeoutMs: number;
  private readonly clock: Clock;
  private readonly random: Random;
  private stateNow: MutexState = "idle";
  private grant: LeaseGrant | undefined;
  private controller: AbortController | undefined;
  private renewTimer: TimerHandle | undefined;
  private expiryTimer: TimerHandle | undefined;
  private renewing = false;

  constructor(
    private readonly client: LeaseClient,
    readonly key: string,
    options: MutexOptions = {},
  ) {
    super();
    this.leaseMs = options.leaseMs ?? 10_000;
    if (!Number.isInteger(this.leaseMs) || this.leaseMs < 10) throw new LockerError("invalid", "leaseMs must be a whole number ≥ 10");
    this.renewEveryMs = options.renewEveryMs ?? Math.max(5, Math.floor(this.leaseMs / 3));
    if (this.renewEveryMs >= this.leaseMs) throw new LockerError("invalid", "renewEveryMs must be shorter than leaseMs");
    this.attemptTimeoutMs = Math.min(this.leaseMs, 5000);
    this.clock = options.clock ?? new SystemClock();
    this.random = options.random ?? cryptoSeededRandom();
    this.value = options.value ?? randomHolderId(this.random, "mutex");
  }

  get state(): MutexState {
    return this.stateNow;
  }

  get held(): boolean {
    return this.stateNow === "held";
  }

  /** The fencing token of the current hold. */
  get token(): bigint | undefined {
    return this.held ? this.grant?.token : undefined;
  }

  /** Until when (on the mutex's clock) the holder may act; renewals push it on. */
  get safeUntil(): number | undefined {
    return this.held ? this.grant?.safeUntil : undefined;
  }

  /** Aborts when the lock is lost or released; hand it to the work the lock protects. */
  get signal(): AbortSignal | undefined {
    return this.controller?.signal;
  }

  /** One attempt, no waiting: true if acquired. */
  async tryAcquire(): Promise<boolean> {
    try {
      await this.acquire({ timeoutMs: 0 });
      return true;
    } catch (e) {
      if (isLockerError(e, "timeout")) return false;
      throw e;
    }
  }

  /**
   * Takes the lock, waiting for the holder to release it (or its lease to end) for up
   * to `timeoutMs`. Resolves with the fencing token; rejects with LockerError("timeout")
   * when the wait ends, or with the abort reason.
   */
  async acquire(options: AcquireOptions = {}): Promise<bigint> {
    if (this.stateNow === "acquiring" || this.stateNow === "held") throw new LockerError("invalid", `mutex on ${this.key} is already ${this.stateNow}`);
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = this.clock.now() + timeoutMs;
    this.stateNow = "acquiring";
    let attempt = 0;
    try {
      for (;;) {
        options.signal?.throwIfAborted();
        attempt++;
        try {
          const grant = await this.client.lock(this.key, this.value, this.leaseMs, this.attemptTimeoutMs);
          this.hold(grant);
          return grant.token;
        } catch (e) {
          if (!(e instanceof LockerError)) throw e;
          if (e.code === "locked") {
            // A lock attempt whose answer was lost may have succeeded: the key is then ours.
            const holder = await this.client.holder(this.key).catch(() => undefined);
            if (holder === this.value) {
              const grant = await this.client.extendLease(this.key, this.value, this.leaseMs, this.attemptTimeoutMs).catch(() => undefined);
              if (grant) {
                this.hold(grant);
                return grant.token;
              }
            }
            options.onHeld?.(holder);
          } else if (!TRANSIENT.has(e.code)) {
            throw e;
          }
          const left = deadline - this.clock.now();
          if (left <= 0) {
            throw new LockerError("timeout", `could not acquire ${this.key} within ${timeoutMs} ms (last answer: ${e.code})`);
          }
          if (e.code === "locked") {
            // Wait for the release or expiry this node sees, in slices so a stale local
            // copy cannot keep us asleep; then try again.
            const sliceMs = Math.min(left, this.leaseMs);
            const t0 = this.clock.now();
            await raceAbort(this.client.waitForRelease(this.key, sliceMs).catch(() => undefined), options.signal);
            // Released at once but still "locked": our local copy lags; back off a little.
            if (this.clock.now() - t0 < 5) await sleep(this.clock, Math.min(left, this.backoffMs(attempt)), options.signal);
          } else {
            await sleep(this.clock, Math.min(left, this.backoffMs(attempt)), options.signal);
          }
        }
      }
    } catch (e) {
      if (this.stateNow === "acquiring") this.stateNow = "idle";
      throw e;
    }
  }

  /**
   * Releases the key if it still holds our value; stops renewing. Safe to call twice.
   * After a loss it sends nothing: the key is someone else's or expires by itself, and
   * the cluster may be the reason for the loss.
   */
  async release(): Promise<void> {
    const was = this.stateNow;
    if (was !== "held" && was !== "lost") return;
    this.stopTimers();
    this.stateNow = "released";
    if (was === "lost") return;
    this.controller?.abort(new LockerError("unavailable", `lock on ${this.key} was released`));
    try {
      await this.client.release(this.key, this.value);
    } catch (e) {
      // Already gone or taken over: nothing of ours is left to release.
      if (!isLockerError(e, "mismatch") && !isLockerError(e, "not_found")) throw e;
    }
    this.emit("released");
  }

  private hold(grant: LeaseGrant): void {
    this.grant = grant;
    this.stateNow = "held";
    this.controller = new AbortController();
    this.armExpiry();
    this.scheduleRenew(this.renewEveryMs);
    this.emit("acquired", grant.token);
  }

  private backoffMs(attempt: number): number {
    return backoffDelayMs(ACQUIRE_BACKOFF, attempt, this.random);
  }

  private armExpiry(): void {
    this.clock.clearTimer(this.expiryTimer);
    const left = this.grant!.safeUntil - this.clock.now();
    this.expiryTimer = this.clock.setTimer(left, () => {
      this.expiryTimer = undefined;
      this.lose(new LockerError("timeout", `lease on ${this.key} ran out before it could be renewed`));
    });
  }

  private scheduleRenew(delayMs: number): void {
    this.clock.clearTimer(this.renewTimer);
    this.renewTimer = this.clock.setTimer(delayMs, () => {
      this.renewTimer = undefined;
      void this.renew();
    });
  }

  private async renew(): Promise<void> {
    if (this.stateNow !== "held" || this.renewing) return;
    this.renewing = true;
    try {
      // A renewal answered after our window closed is of no use: bound it by what is left.
      const left = Math.max(1, Math.min(this.attemptTimeoutMs, Math.ceil(this.grant!.safeUntil - this.clock.now())));
      const grant = await this.client.extendLease(this.key, this.value, this.leaseMs, left);
      if (this.stateNow !== "held") return;
      // Keep the token of the hold; a renewal cannot make our window shorter than it was.
      this.grant = { token: this.grant!.token, safeUntil: Math.max(grant.safeUntil, this.grant!.safeUntil) };
      this.armExpiry();
      this.scheduleRenew(this.renewEveryMs);
      this.emit("renewed", this.grant.safeUntil);
    } catch (e) {
      if (this.stateNow !== "held") return;
      if (e instanceof LockerError && TRANSIENT.has(e.code)) {
        // Try again soon; the expiry timer declares the loss if the window closes first.
        this.scheduleRenew(Math.max(5, Math.min(this.renewEveryMs / 3, this.grant!.safeUntil - this.clock.now())));
      } else {
        this.lose(e instanceof Error ? e : new Error(String(e)));
      }
    } finally {
      this.renewing = false;
    }
  }

  private lose(reason: Error): void {
    if (this.stateNow !== "held") return;
    this.stateNow = "lost";
    this.stopTimers();
    this.controller?.abort(reason);
    this.emit("lost", reason);
  }

  private stopTimers(): void {
    this.clock.clearTimer(this.renewTimer);
    this.clock.clearTimer(this.expiryTimer);
    this.renewTimer = undefined;
    this.expiryTimer = undefined;
  }
}

/** Awaits `p`, or rejects as soon as `signal` aborts. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
