// The persisted ballot floor (DESIGN.md's known edge): a counter written to
// disk that no ballot this voter's acceptor promised or accepted ever exceeds.
// A voter that restarts with empty memory starts its floor there, so a token
// issued after even a restart of every voter at once is above every token
// issued before it, whatever the wall clocks say. The floor is written ahead
// (one second of ballot time by default), so under load it is written about
// once per second, never once per round; a write happens before the reply
// that needs it leaves.
import { HLC_TICKS_PER_MS, MAX_BALLOT_COUNTER } from "./ballot.js";

/** Where the floor lives (the agent: a file in --data-dir). `save` is durable when it returns, or throws. */
export interface BallotFloorStore {
  /** The floor written last, or undefined when none was. */
  load(): number | undefined;
  save(counter: number): void;
}

export const DEFAULT_FLOOR_AHEAD_MS = 1000;

export class PersistedFloor {
  private persisted: number;
  /** Writes done (each is one durable write). */
  writes = 0;

  constructor(
    private readonly store: BallotFloorStore,
    private readonly aheadTicks = DEFAULT_FLOOR_AHEAD_MS * HLC_TICKS_PER_MS,
  ) {
    const loaded = store.load();
    this.persisted = loaded !== undefined && Number.isSafeInteger(loaded) && loaded >= 0 ? Math.min(loaded, MAX_BALLOT_COUNTER) : 0;
  }

  /** The floor read at start (0 when none): every ballot of an earlier life is at or below it. */
  get value(): number {
    return this.persisted;
  }

  /** Makes sure the floor on disk is at least `counter` before anything that depends on it is sent. */
  cover(counter: number): void {
    if (counter <= this.persisted) return;
    const next = Math.min(counter + this.aheadTicks, MAX_BALLOT_COUNTER);
    this.store.save(next);
    this.persisted = next;
    this.writes++;
  }
}
