// The Locker's public value types: entries, results, options, the summary and
// the event map (src/locker.ts re-exports them; the local view uses them too).
import type { BallotBounds, CasNodeStats } from "../cas/node.js";

export type { BallotBounds };

/** A key's state as an operation or a local read sees it. */
export interface Entry {
  key: string;
  value: unknown;
  /** Fencing token: the ballot counter of the round that created the lock; strictly increases across holders. */
  token: bigint;
  /** Lease left as this node estimates it (for a holder, act on `safeUntil`, not on this). */
  leaseRemainingMs: number;
}

export interface LockResult extends Entry {
  leaseMs: number;
  /**
   * Local monotonic time (the Locker's `clock.now()`) until which the caller may
   * act as holder: t0 + leaseMs × (1 − driftRatio), where t0 is when the round
   * that started the lease began. No voter sees the key free before it.
   */
  safeUntil: number;
}

export interface OperationOptions {
  /** Budget for the whole operation (queueing, rounds, retries). */
  timeoutMs?: number;
  /**
   * Internal (key affinity, src/node/affinity.ts): bounds on the ballot
   * counters this operation's rounds may use. See CasNode.execute.
   */
  ballots?: BallotBounds;
}


export interface LockOptions extends OperationOptions {
  leaseMs: number;
}

export interface LockerSummary {
  name: string;
  voter: boolean;
  /** This node's acceptor is still in its quiet period. */
  quiet: boolean;
  /** Live leases in the local view (clients' keys only: the cluster's reserved keys are not counted). */
  leases: number;
  /** Clients' keys with acceptor state (live, expired-not-yet-forgotten, promised). */
  acceptorKeys: number;
  pendingRounds: number;
  fastPathKeys: number;
  quorum: number;
  voters: number;
  stats: CasNodeStats;
}

export interface LockerEventMap {
  /** A key became present in the local view. */
  acquired: [Entry];
  /** A key was released (deleted) in the local view. */
  released: [{ key: string; value: unknown }];
  /** A key's lease ran out in the local view. */
  expired: [{ key: string; value: unknown }];
  /** Any change of a key in the local view; `entry` undefined means absent. */
  changed: [{ key: string; entry: Entry | undefined }];
}
