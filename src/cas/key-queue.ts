// The per-key queue of one node's CAS operations: one runs on a key at a
// time, the others wait their turn (bounded in count and by their budget).
// When an operation ends with the key held, queued locks invoked before it
// started fail `locked` at once (coalescing); a holder's release, extend or
// update goes ahead of waiting locks; and a release may take the lock waiting
// next into its own round (a handover: one round per grant on a contended
// key). CasNode (node.ts) drives it.
import { LockerError } from "../errors.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import type { CasOp, OpResult } from "./proposer.js";

interface QueuedOp {
  op: CasOp;
  /** When the operation was invoked (entered the queue). */
  at: number;
  /** When its budget runs out. */
  deadline: number;
  /** What the caller passed through for its rounds (CasNode's ballot bounds); the queue only keeps it. */
  context: unknown;
  /** Fails it with `contention` when its budget runs out while it waits. */
  timer: TimerHandle | undefined;
  resolve: (handedOver: HandedOver | undefined) => void;
  reject: (e: LockerError) => void;
}

/** A lock taken out of the queue by a release that will run it in its own round. */
export interface ClaimedLock {
  readonly op: Extract<CasOp, { kind: "lock" }>;
  readonly deadline: number;
  readonly context: unknown;
  /** The handover round ran: its outcome is the lock's. */
  settle(result: Promise<OpResult>): void;
  /** The handover did not happen (the release's check failed): the lock waits at the head of the queue again. */
  putBack(): void;
}

/** How `enter` ended when the operation was run by the one before it. */
export interface HandedOver {
  readonly handedOver: Promise<OpResult>;
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

  /** Takes `key` at once when nothing runs on it (the common case, with no promise); false: `enter` and wait. */
  tryEnter(key: string): boolean {
    const q = this.queues.get(key);
    if (q === undefined) {
      this.queues.set(key, { running: true, waiting: [] });
      return true;
    }
    if (q.running) return false;
    q.running = true;
    return true;
  }

  /**
   * Resolves when `key` is this operation's to run (at once if free).
   * Rejects `unavailable` when the queue is full, `contention` when the
   * operation waited its whole budget (nothing was sent: it had no effect),
   * and `locked` when coalesced (see leave).
   */
  async enter(key: string, deadline: number, op: CasOp, context?: unknown): Promise<HandedOver | undefined> {
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
    return new Promise<HandedOver | undefined>((resolve, reject) => {
      const entry: QueuedOp = { op, at: this.o.clock.now(), deadline, context, timer: undefined, resolve, reject };
      queue.waiting.push(entry);
      this.arm(queue, entry);
    });
  }

  private arm(queue: KeyQueue, entry: QueuedOp): void {
    entry.timer = this.o.clock.setTimer(Math.max(0, entry.deadline - this.o.clock.now()), () => {
      const i = queue.waiting.indexOf(entry);
      if (i >= 0) queue.waiting.splice(i, 1);
      // Nothing was sent for this operation: it had no effect.
      entry.reject(new LockerError("contention", "the operation waited its whole budget behind others on the same key on this node"));
    });
  }

  private wake(entry: QueuedOp): void {
    this.o.clock.clearTimer(entry.timer);
    entry.resolve(undefined);
  }

  private fail(entry: QueuedOp, e: LockerError): void {
    this.o.clock.clearTimer(entry.timer);
    entry.reject(e);
  }

  /**
   * For the release running on `key`: the lock that would run right after it
   * (no holder's operation waits and the first waiting one is a lock with at
   * least `minBudgetMs` left, whose context `fits`), taken out of the queue; else undefined. The
   * release then runs both in one round: both are pending, so the release
   * and then the lock, linearized at that round, is a correct order.
   */
  claimNextLock(key: string, minBudgetMs: number, fits: (context: unknown) => boolean = () => true): ClaimedLock | undefined {
    const q = this.queues.get(key);
    const next = q?.waiting[0];
    if (!q || !next || next.op.kind !== "lock") return undefined;
    if (next.deadline - this.o.clock.now() < minBudgetMs || !fits(next.context)) return undefined;
    if (q.waiting.some((w) => w.op.kind !== "lock")) return undefined;
    q.waiting.shift();
    this.o.clock.clearTimer(next.timer);
    const op = next.op;
    return {
      op,
      deadline: next.deadline,
      context: next.context,
      settle: (result) => {
        // The lock's own execute awaits it; this keeps a rejection from counting as unhandled meanwhile.
        result.catch(() => undefined);
        next.resolve({ handedOver: result });
      },
      putBack: () => {
        // The release still runs on the key, so its queue is there.
        q.waiting.unshift(next);
        this.arm(q, next);
      },
    };
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
      const doomed = q.waiting.filter((w) => w.op.kind === "lock" && w.at <= heldSince);
      if (doomed.length > 0) {
        q.waiting = q.waiting.filter((w) => !doomed.includes(w));
        this.o.onCoalesced(doomed.length);
        for (const w of doomed) this.fail(w, new LockerError("locked", this.o.lockedMessage, { key }));
      }
    }
    // Queued operations are concurrent with one another (none has answered),
    // so any order is linearizable: let a holder's release, extend or update
    // go before locks that can only succeed after it.
    let i = q.waiting.findIndex((w) => w.op.kind !== "lock");
    if (i < 0) i = 0;
    const next = q.waiting.splice(i, 1)[0];
    if (next) this.wake(next); // stays running: handed over
    else this.queues.delete(key);
  }

  /** Wakes every waiting operation (on close: each then finds the node closed). */
  wakeAll(): void {
    for (const q of this.queues.values()) for (const w of q.waiting.splice(0)) this.wake(w);
  }
}
