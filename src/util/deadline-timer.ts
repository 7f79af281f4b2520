// One timer for "the earliest deadline of a store": armed for the next
// deadline only when it is earlier than the one already set, so a burst of
// new later deadlines costs no timer churn. The lease expiry of the CAS
// driver and of the replica store both follow this rule.
import type { Clock, TimerHandle } from "./clock.js";

export class DeadlineTimer {
  private handle: TimerHandle | undefined;
  private at = Infinity;

  /** `fire` runs at the armed deadline (on the clock's time); it usually re-arms for the next one. */
  constructor(
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}

  /** Fires at `deadline` (monotonic ms on the clock) unless an earlier one is armed; undefined: nothing due. */
  arm(deadline: number | undefined): void {
    if (deadline === undefined || deadline >= this.at) return;
    this.clock.clearTimer(this.handle);
    this.at = deadline;
    this.handle = this.clock.setTimer(Math.max(0, deadline - this.clock.now()), () => {
      this.handle = undefined;
      this.at = Infinity;
      this.fire();
    });
  }

  cancel(): void {
    this.clock.clearTimer(this.handle);
    this.handle = undefined;
    this.at = Infinity;
  }
}
