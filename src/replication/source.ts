// The narrow interfaces between replication and the layers around it: where
// committed changes come from (a voter's acceptor) and where a replica's view
// goes (the Locker's local view). Adapters for the Locker live here too.
import { ballotEquals, type Ballot } from "../cas/ballot.js";
import type { Locker } from "../locker.js";
import type { ChangeEntry } from "./messages.js";
import type { StoredRecord } from "./store.js";

/** A voter's accepted state, as replication reads it. */
export interface ChangeSource {
  /** Calls `listener(key)` after every accepted change of a key on this node; returns an unsubscribe. */
  onChange(listener: (key: string) => void): () => void;
  /** The key's accepted ballot and record now (record null: absent), or undefined if nothing was accepted. */
  entry(key: string, now: number): ChangeEntry | undefined;
  /** Keys with a live record now. */
  liveKeys(now: number): string[];
  /** Every key the acceptor holds state for (live, dead, promised only) — for the rewrite of a reconfiguration. */
  allKeys(): string[];
  /** Whether this node runs an acceptor now. */
  readonly active: boolean;
  /** Whether that acceptor is in its quiet period (a restart with empty memory): its local view catches up then. */
  readonly quiet: boolean;
}

/** Where a replica's view of a key goes. */
export interface ReplicaSink {
  apply(key: string, record: StoredRecord | null, cause: "changed" | "expired"): void;
}

/**
 * Reads a Locker's acceptor (when the node is a voter). The acceptor is looked
 * up on every call: a promotion or demotion replaces it.
 */
export function lockerChangeSource(locker: Locker): ChangeSource {
  return {
    onChange(listener) {
      return locker.onAcceptorChange((events) => {
        // Expiry is local: a replica expires its copy on its own clock.
        for (const e of events) if (e.kind === "changed") listener(e.key);
      });
    },
    entry(key, now) {
      const s = locker.cas.acceptedState(key);
      if (!s) return undefined;
      const r = s.record;
      // Whole ms rounded down, so a replica's copy never outlives the voter's.
      const remainingMs = r ? Math.floor(r.expiresAt - now) : 0;
      const ballot: Ballot = s.accepted;
      // The acceptor keeps origin = ballot for a change of its own; the wire carries null then.
      const origin = s.origin && !ballotEquals(s.origin, ballot) ? s.origin : null;
      return { key, ballot, origin, record: r && remainingMs > 0 ? { value: r.value, token: r.token, remainingMs } : null };
    },
    liveKeys() {
      return locker.cas.liveEntries("").map(([k]) => k);
    },
    allKeys() {
      return locker.cas.heldKeyNames() ?? [];
    },
    get active() {
      return locker.cas.isVoter;
    },
    get quiet() {
      return locker.cas.quiet;
    },
  };
}

/** Feeds a Locker's local view (dirtyRead, waitFor, events) on a non-voter, or on a voter in its quiet period. */
export function lockerSink(locker: Locker): ReplicaSink {
  return { apply: (key, record, cause) => locker.applyReplicated(key, record, cause) };
}
