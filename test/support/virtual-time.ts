// Driving promises on virtual time: timers fire through the VirtualClock, and
// promise continuations run between steps, as they would between real events.
// The one copy of these loops for every test and simulator builder.
import type { VirtualClock } from "../../src/util/clock.js";

/** One turn of the event loop: promise continuations queued so far run. */
export const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Runs `ms` of virtual time in steps of `stepMs`, letting promises run after each. */
export async function runFor(clock: VirtualClock, ms: number, stepMs = 1): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    clock.runUntil(Math.min(end, clock.now() + stepMs));
    await turn();
  }
}

/**
 * Runs virtual time until `p` settles or `limitMs` of virtual time passes,
 * in steps of at most `stepMs` (stopping early within a step once it
 * settles); returns `p`.
 */
export async function settle<T>(clock: VirtualClock, p: Promise<T>, limitMs = 60_000, stepMs = 5): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  const deadline = clock.now() + limitMs;
  while (!done && clock.now() < deadline) {
    clock.runUntilTrue(() => done, Math.min(stepMs, deadline - clock.now()));
    await turn();
  }
  for (let i = 0; i < 10 && !done; i++) await turn();
  return p;
}

/** Runs virtual time until every promise settles (or `limitMs` passes); their outcomes. */
export function settleAll<T>(clock: VirtualClock, promises: readonly Promise<T>[], limitMs = 60_000, stepMs = 5): Promise<PromiseSettledResult<T>[]> {
  return settle(clock, Promise.allSettled(promises), limitMs, stepMs);
}

/**
 * Runs virtual time one timer at a time until `pred` holds or `limitMs`
 * passes; whether it held. Promise continuations run between timers. With
 * `first: "turn"` (the default) those already queued run before the first
 * timer (work started before the call runs at the current time); with
 * `first: "timer"` the next timer fires first, the order the hand-made
 * schedules of the replication simulator (test/sim/replication-cluster.ts)
 * were written against.
 */
export async function stepUntil(clock: VirtualClock, pred: () => boolean, limitMs: number, first: "turn" | "timer" = "turn"): Promise<boolean> {
  let reached = false;
  clock.setTimer(Math.max(0, limitMs), () => {
    reached = true;
  });
  if (first === "timer" && !pred() && !clock.step()) return pred();
  for (;;) {
    await turn();
    if (pred()) return true;
    if (reached) return false;
    if (!clock.step()) return pred();
  }
}

/**
 * `stepUntil` for a promise: runs until `p` settles or `limitMs` passes
 * (a quantum of several ms would give every async hop that cost and decide
 * races by step, not by path); returns `p`.
 */
export async function byEvent<T>(clock: VirtualClock, p: Promise<T>, limitMs: number): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await stepUntil(clock, () => done, limitMs);
  return p;
}
