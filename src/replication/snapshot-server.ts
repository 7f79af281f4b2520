// A voter's side of the paged listings it serves: snapshots of its live keys
// (sized when a session opens, each entry read with its state then when its
// page is served) and the key listings of a reconfiguration's rewrite. The
// replicator (replicator.ts) registers the requester for pushes first.
import { LockerError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import { PagedSessions, paginate } from "../util/paged-sessions.js";
import type { Random } from "../util/random.js";
import { encodeCbor } from "../wire/cbor.js";
import { encodeEntry, type ChangeEntry, type ReplMessage } from "./messages.js";
import type { ChangeSource } from "./source.js";

export interface SnapshotStats {
  /** Live keys left out of a snapshot because their entry alone exceeds a datagram (the stream still carries their changes). */
  oversizedEntries: number;
  snapshotSessionsServed: number;
  snapshotPagesServed: number;
}

export class SnapshotServer {
  /** Snapshot sessions: live keys, paged by their encoded size. */
  private readonly sessions: PagedSessions<string>;
  /** Key listings for a reconfiguration's rewrite (every key held, by name). */
  private readonly keySessions: PagedSessions<string>;

  constructor(
    private readonly o: {
      name: string;
      source: ChangeSource;
      clock: Clock;
      random: Random;
      ttlMs: number;
      maxSessions: number;
      /** Bytes of entries (or key names) one page may carry. */
      pageBudgetBytes: number;
      /** Counted here; the replicator's stats object. */
      stats: SnapshotStats;
    },
  ) {
    this.sessions = new PagedSessions({ random: o.random, ttlMs: o.ttlMs, maxSessions: o.maxSessions, what: "snapshot" });
    this.keySessions = new PagedSessions({ random: o.random, ttlMs: o.ttlMs, maxSessions: o.maxSessions, what: "key listing" });
  }

  /** Opens a snapshot of the live keys now; its id. */
  open(now: number): number {
    // Sized now; served later with the state then. A key whose state grew
    // meanwhile changed, so it is in the requester's push queue anyway.
    const sized: Array<{ key: string; size: number }> = [];
    for (const key of this.o.source.liveKeys(now)) {
      const e = this.o.source.entry(key, now);
      if (!e || !e.record) continue;
      const size = encodeCbor(encodeEntry(e)).length;
      if (size > this.o.pageBudgetBytes) {
        this.o.stats.oversizedEntries++;
        continue;
      }
      sized.push({ key, size });
    }
    const pages = paginate(sized, (k) => k.size, this.o.pageBudgetBytes).map((p) => p.map((k) => k.key));
    const id = this.sessions.open(pages, now);
    this.o.stats.snapshotSessionsServed++;
    return id;
  }

  /** Page `page` of snapshot `session`, each entry as it is now. */
  page(session: number, page: number, now: number): ReplMessage {
    const { pages, items } = this.sessions.page(session, page, now);
    if (pages === 0) return { type: "page", session, pages: 0, page: 0, entries: [] };
    const entries: ChangeEntry[] = [];
    let bytes = 0;
    for (const key of items) {
      const e = this.o.source.entry(key, now);
      if (!e) continue;
      const size = encodeCbor(encodeEntry(e)).length;
      if (bytes + size > this.o.pageBudgetBytes) continue; // it changed and grew: the stream carries it
      entries.push(e);
      bytes += size;
    }
    this.o.stats.snapshotPagesServed++;
    return { type: "page", session, pages, page, entries };
  }

  /** Page `page` of key listing `session` (0 opens one over every key the acceptor holds). */
  keys(session: number, page: number, now: number): ReplMessage {
    if (!this.o.source.active) throw new LockerError("unavailable", `${this.o.name} is not a voter`);
    // A quiet (restarted) voter's acceptor forgot what it held: its empty
    // listing must not stand in for one that covers a quorum.
    if (this.o.source.quiet) throw new LockerError("unavailable", `${this.o.name} restarted and is in its quiet period: its key listing is incomplete`);
    const id = session !== 0 ? session : this.keySessions.open(paginate(this.o.source.allKeys(), (k) => Buffer.byteLength(k) + 5, this.o.pageBudgetBytes), now);
    const { pages, items } = this.keySessions.page(id, page, now);
    return { type: "keyPage", session: id, pages, page, keys: items };
  }
}
