// Lifeguard's local health awareness: a member that misses acks or must refute
// suspicion of itself is probably the slow one, so it stretches its own timeouts.

export class Awareness {
  private score = 0;

  /** @param maxMultiplier the stretch never exceeds this factor (1 disables awareness). */
  constructor(private readonly maxMultiplier: number) {
    if (!(maxMultiplier >= 1)) throw new RangeError("awareness maxMultiplier must be >= 1");
  }

  /** Adds `delta` to the health score, kept in [0, maxMultiplier - 1]; 0 is healthy. */
  apply(delta: number): void {
    this.score = Math.min(this.maxMultiplier - 1, Math.max(0, this.score + delta));
  }

  get healthScore(): number {
    return this.score;
  }

  /** A timeout stretched by the current health: timeout * (score + 1). */
  scaleTimeout(timeoutMs: number): number {
    return timeoutMs * (this.score + 1);
  }
}
