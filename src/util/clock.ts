// Time as an injected dependency: protocol code asks a Clock for the time and
// for timers, so the simulator can run it on virtual time and replay it exactly.

/** Opaque handle returned by `Clock.setTimer`. */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Monotonic milliseconds; only differences are meaningful. */
  now(): number;
  /** Wall-clock milliseconds since the epoch (for hybrid logical clocks only). */
  wallNow(): number;
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle | undefined): void;
  /** Runs `fn` soon, after the current event completes (used to batch sends). */
  defer(fn: () => void): void;
}

/** Real time: performance.now() for monotonic time, Node timers. */
export class SystemClock implements Clock {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private nextId = 1;
  private readonly wallOffsetMs = Date.now() - performance.now();

  now(): number {
    return performance.now();
  }

  wallNow(): number {
    // Derived from the monotonic clock so that wall time never runs backwards
    // within one process, even when NTP steps the system clock.
    return this.wallOffsetMs + performance.now();
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    const t = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, Math.max(0, delayMs));
    this.timers.set(id, t);
    return { id };
  }

  clearTimer(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const t = this.timers.get(handle.id);
    if (t) {
      clearTimeout(t);
      this.timers.delete(handle.id);
    }
  }

  defer(fn: () => void): void {
    setImmediate(fn);
  }

  /** Number of armed timers (for tests that check nothing leaks). */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Cancels every timer this clock armed (used on shutdown). */
  clearAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

interface VirtualTimer {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
  owner: VirtualNodeClock | undefined;
}

/**
 * Deterministic virtual time for the simulator. Timers fire in (time, creation
 * order); nothing depends on the real clock, so a seed replays exactly.
 */
export class VirtualClock implements Clock {
  private time = 0;
  private seq = 0;
  private nextId = 1;
  private readonly heap: VirtualTimer[] = [];
  private readonly cancelled = new Set<number>();
  /** Wall clock starts at a fixed epoch so HLC ballots are reproducible. */
  constructor(private readonly wallEpochMs = 1_700_000_000_000) {}

  now(): number {
    return this.time;
  }

  wallNow(): number {
    return this.wallEpochMs + this.time;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    return this.schedule(delayMs, fn, undefined);
  }

  /** @internal used by VirtualNodeClock so pauses can postpone a node's timers. */
  schedule(delayMs: number, fn: () => void, owner: VirtualNodeClock | undefined): TimerHandle {
    const id = this.nextId++;
    const d = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0;
    heapPush(this.heap, { id, at: this.time + d, seq: this.seq++, fn, owner });
    return { id };
  }

  clearTimer(handle: TimerHandle | undefined): void {
    if (handle) this.cancelled.add(handle.id);
  }

  defer(fn: () => void): void {
    this.setTimer(0, fn);
  }

  /** Fires the next timer; returns false when none is left. */
  step(): boolean {
    for (;;) {
      const t = heapPop(this.heap);
      if (!t) return false;
      if (this.cancelled.delete(t.id)) continue;
      this.time = Math.max(this.time, t.at);
      if (t.owner?.dead) continue; // the node crashed: its timers die with it
      if (t.owner && t.owner.pausedUntil > this.time) {
        // The owning node is in a "GC pause": its timers run when it wakes.
        heapPush(this.heap, { ...t, at: t.owner.pausedUntil, seq: this.seq++ });
        continue;
      }
      t.fn();
      return true;
    }
  }

  /** Runs every timer due at or before `until`, then sets the time to `until`. */
  runUntil(until: number): void {
    for (;;) {
      const next = this.peekTime();
      if (next === undefined || next > until) break;
      this.step();
    }
    if (until > this.time) this.time = until;
  }

  runFor(ms: number): void {
    this.runUntil(this.time + ms);
  }

  /** Runs until `predicate` holds or `limitMs` of virtual time passes. Returns whether it held. */
  runUntilTrue(predicate: () => boolean, limitMs: number): boolean {
    const deadline = this.time + limitMs;
    while (!predicate()) {
      const next = this.peekTime();
      if (next === undefined || next > deadline) {
        this.time = Math.max(this.time, deadline);
        return predicate();
      }
      this.step();
    }
    return true;
  }

  private peekTime(): number | undefined {
    while (this.heap.length > 0 && this.cancelled.has(this.heap[0]!.id)) {
      this.cancelled.delete(heapPop(this.heap)!.id);
    }
    return this.heap[0]?.at;
  }

  get pendingTimers(): number {
    return this.heap.length;
  }

  /** A per-node view whose timers can be paused, as a process stalls in a GC pause. */
  forNode(): VirtualNodeClock {
    return new VirtualNodeClock(this);
  }
}

/** One node's view of the virtual clock: same time, but its timers stop while it is paused. */
export class VirtualNodeClock implements Clock {
  pausedUntil = 0;
  /** Set when the node crashes: its pending and future timers never fire. */
  dead = false;
  /** Skew added to this node's wall clock, to test HLC ballots under clock skew. */
  wallSkewMs = 0;
  constructor(readonly base: VirtualClock) {}
  now(): number {
    return this.base.now();
  }
  wallNow(): number {
    return this.base.wallNow() + this.wallSkewMs;
  }
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    return this.base.schedule(delayMs, fn, this);
  }
  clearTimer(handle: TimerHandle | undefined): void {
    this.base.clearTimer(handle);
  }
  defer(fn: () => void): void {
    this.base.schedule(0, fn, this);
  }
  kill(): void {
    this.dead = true;
  }
  pause(durationMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.base.now() + durationMs);
  }
  get paused(): boolean {
    return this.pausedUntil > this.base.now();
  }
}

function less(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function heapPush(h: VirtualTimer[], t: VirtualTimer): void {
  h.push(t);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!less(h[i]!, h[p]!)) break;
    [h[i], h[p]] = [h[p]!, h[i]!];
    i = p;
  }
}

function heapPop(h: VirtualTimer[]): VirtualTimer | undefined {
  if (h.length === 0) return undefined;
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length > 0) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && less(h[l]!, h[m]!)) m = l;
      if (r < h.length && less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
  return top;
}
