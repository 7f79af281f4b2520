// The per-key queue of one node's CAS operations: one runs on a key at a
// time, the others wait their turn (bounded in count and by their budget).
// When an operation ends with the key held, queued locks invoked before it
// started fail `locked` at once (coalescing); a holder's release, extend or
// update goes ahead of waiting locks. CasNode (node.ts) drives it.
import { LockerError } from "../errors.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import type { CasOp } from "./proposer.js";

interface QueuedOp {
  kind: CasOp["kind"];
  /** When the operation was invoked (entered the queue). */
  at: number;
  wake: () => void;
  fail: (e: LockerError) => void;
}

interface KeyQueue {
  running: boolean;
  waiting: QueuedOp[];
}

export class KeyQueues {
  private readonly queues = new Map<string, KeyQueue>();

  constructor(
    private readonly o: {
      clock: Clock;
      maxQueuedPerKey: number;
      /** The message of a `locked` failure (the same as a round's). */
      lockedMessage: string;
      /** Queued locks failed `locked` without a round of their own (counted in the node's stats). */
      onCoalesced: (count: number) => void;
    },
  ) {}

  /**
   * Resolves when `key` is this operation's to run (at once if free).
   * Rejects `unavailable` when the queue is full, `contention` when the
   * operation waited its whole budget (nothing was sent: it had no effect),
   * and `locked` when coalesced (see leave).
   */
  async enter(key: string, deadline: number, op: CasOp): Promise<void> {
    let q = this.queues.get(key);
    if (!q) {
      q = { running: false, waiting: [] };
      this.queues.set(key, q);
    }
    if (!q.running) {
      q.running = true;
      return;
    }
    if (q.waiting.length >= this.o.maxQueuedPerKey) {
      throw new LockerError("unavailable", `too many operations queued on key (limit ${this.o.maxQueuedPerKey})`);
    }
    const queue = q;
    const clock = this.o.clock;
    await new Promise<void>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const entry: QueuedOp = {
        kind: op.kind,
        at: clock.now(),
        wake: () => {
          clock.clearTimer(timer);
          resolve();
        },
        fail: (e) => {
          clock.clearTimer(timer);
          reject(e);
        },
      };
      queue.waiting.push(entry);
      timer = clock.setTimer(Math.max(0, deadline - clock.now()), () => {
        const i = queue.waiting.indexOf(entry);
        if (i >= 0) queue.waiting.splice(i, 1);
        // Nothing was sent for this operation: it had no effect.
        reject(new LockerError("contention", "the operation waited its whole budget behind others on the same key on this node"));
      });
    });
  }

  /**
   * Hands the key to the next queued operation. `heldSince`: the operation
   * that just ended started then and left the key held by a live lease.
   */
  leave(key: string, heldSince?: number): void {
    const q = this.queues.get(key);
    if (!q) return;
    if (heldSince !== undefined && q.waiting.length > 0) {
      // Coalescing: a queued lock invoked before the ended operation started
      // was pending during that operation's whole round, so it can be
      // linearized just after it — where the key is held — and fail with
      // `locked` without a round of its own. On a contended key this turns a
      // queue of doomed rounds into one round.
      const doomed = q.waiting.filter((w) => w.kind === "lock" && w.at <= heldSince);
      if (doomed.length > 0) {
        q.waiting = q.waiting.filter((w) => !doomed.includes(w));
        this.o.onCoalesced(doomed.length);
        for (const w of doomed) w.fail(new LockerError("locked", this.o.lockedMessage, { key }));
      }
    }
    // Queued operations are concurrent with one another (none has answered),
    // so any order is linearizable: let a holder's release, extend or update
    // go before locks that can only succeed after it.
    let i = q.waiting.findIndex((w) => w.kind !== "lock");
    if (i < 0) i = 0;
    const next = q.waiting.splice(i, 1)[0];
    if (next) next.wake(); // stays running: handed over
    else this.queues.delete(key);
  }

  /** Wakes every waiting operation (on close: each then finds the node closed). */
  wakeAll(): void {
    for (const q of this.queues.values()) for (const w of q.waiting.splice(0)) w.wake();
  }
}
