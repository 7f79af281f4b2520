// Driving promises on virtual time: timers fire through the VirtualClock, and
// promise continuations run between steps, as they would between real events.
import type { VirtualClock } from "../../src/util/clock.js";

/** Runs virtual time until `p` settles or `limitMs` of virtual time passes; returns `p`. */
export async function settle<T>(clock: VirtualClock, p: Promise<T>, limitMs = 60_000): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  const deadline = clock.now() + limitMs;
  while (!done && clock.now() < deadline) {
    clock.runUntilTrue(() => done, Math.min(5, deadline - clock.now()));
    await new Promise((r) => setImmediate(r));
  }
  for (let i = 0; i < 10 && !done; i++) await new Promise((r) => setImmediate(r));
  return p;
}
