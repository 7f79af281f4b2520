// Consul's retry_join for this package: join through a list of addresses with
// backoff until one answers, so a node started before its seeds joins once they come up.
import type { MembershipClock, MembershipRandom } from "./types.js";
import { MembershipError } from "./membership.js";

export interface RetryJoinPolicy {
  /** Wait after the first failed attempt. */
  baseMs: number;
  /** Each further wait is this many times the previous one (1: a fixed interval). */
  factor: number;
  /** Waits never exceed this. */
  maxMs: number;
  /** Fraction of each wait drawn at random (0..1): a fleet restarted at once does not retry in lockstep. */
  jitter: number;
  /** Failed attempts before giving up; 0 retries for as long as it runs (Consul's retry_max 0). */
  maxAttempts: number;
}

/** 1 s doubling to 30 s, ±20 %, for ever: a node that waits for its seeds does not give up, nor flood them. */
export const defaultRetryJoinPolicy: RetryJoinPolicy = { baseMs: 1000, factor: 2, maxMs: 30_000, jitter: 0.2, maxAttempts: 0 };

/** The wait after failed attempt `attempt` (1-based): capped exponential backoff with jitter. */
export function retryJoinDelayMs(policy: RetryJoinPolicy, attempt: number, random: MembershipRandom): number {
  const raw = Math.min(policy.maxMs, policy.baseMs * policy.factor ** Math.max(0, Math.min(attempt - 1, 64)));
  const spread = raw * Math.min(1, Math.max(0, policy.jitter));
  return Math.max(0, raw - spread + 2 * spread * random.next());
}

export interface RetryJoinOptions {
  /** What to join: a Membership (its join resolves with how many addresses answered). */
  membership: { join(addresses: readonly string[]): Promise<number> };
  /** The addresses, or a function asked before every attempt (seeds plus whatever the app learned since). */
  addresses: readonly string[] | (() => readonly string[]);
  clock: MembershipClock;
  random: MembershipRandom;
  policy?: Partial<RetryJoinPolicy>;
  /** Told after every attempt: how many answered (0 = none), and the wait before the next (undefined when done). */
  onAttempt?: (attempt: number, answered: number, nextInMs: number | undefined) => void;
}

export interface RetryJoin {
  /**
   * Resolves with how many addresses answered, once an attempt reached at least
   * one. Rejects with MembershipError "join_failed" after policy.maxAttempts
   * failed attempts, "closed" after stop() or when the membership closed, and
   * "invalid" for addresses the membership refuses.
   */
  readonly done: Promise<number>;
  /** Failed attempts so far. */
  readonly failures: number;
  stop(): void;
}

/** Starts joining at once and keeps retrying with backoff until one address answers. */
export function retryJoin(o: RetryJoinOptions): RetryJoin {
  const policy = { ...defaultRetryJoinPolicy, ...o.policy };
  if (!(policy.baseMs >= 0) || !(policy.maxMs >= policy.baseMs) || !(policy.factor >= 1) || !(policy.maxAttempts >= 0)) {
    throw new MembershipError("invalid", "retry-join policy needs 0 <= baseMs <= maxMs, factor >= 1, maxAttempts >= 0");
  }
  let timer: unknown;
  let stopped = false;
  let failures = 0;
  let settle: { resolve: (n: number) => void; reject: (e: Error) => void };
  const done = new Promise<number>((resolve, reject) => {
    settle = { resolve, reject };
  });
  done.catch(() => {}); // a caller that only calls stop() must not see an unhandled rejection
  const finish = (e: Error | undefined, answered = 0): void => {
    if (stopped) return;
    stopped = true;
    o.clock.clearTimer(timer);
    if (e) settle.reject(e);
    else settle.resolve(answered);
  };
  const attempt = (): void => {
    if (stopped) return;
    const addresses = typeof o.addresses === "function" ? o.addresses() : o.addresses;
    o.membership.join(addresses).then(
      (answered) => {
        if (stopped) return;
        if (answered > 0) {
          o.onAttempt?.(failures + 1, answered, undefined);
          return finish(undefined, answered);
        }
        failures++;
        if (policy.maxAttempts > 0 && failures >= policy.maxAttempts) {
          o.onAttempt?.(failures, 0, undefined);
          return finish(new MembershipError("join_failed", `no address answered in ${failures} attempts: ${addresses.join(", ")}`));
        }
        const waitMs = retryJoinDelayMs(policy, failures, o.random);
        o.onAttempt?.(failures, 0, waitMs);
        timer = o.clock.setTimer(waitMs, attempt);
      },
      (e: unknown) => finish(e instanceof Error ? e : new MembershipError("invalid", String(e))),
    );
  };
  attempt();
  return {
    done,
    get failures() {
      return failures;
    },
    stop: () => finish(new MembershipError("closed", "retry-join stopped")),
  };
}
