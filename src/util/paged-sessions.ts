// Listings served page by page over datagrams: a requester opens a session
// (the list is cut into pages when it opens) and fetches pages by number.
// Used for replication snapshots, the key listing of a reconfiguration and
// the key listing of a voter's recovery. Bounded: at most `maxSessions` are
// kept (the oldest goes first) and each lapses `ttlMs` after its last use.
import { LockerError } from "../errors.js";
import type { Random } from "./random.js";
import { BoundedMap } from "./bounded-map.js";

/** Cuts `items` into pages whose sizes (by `sizeOf`) add up to at most `budget`; an item larger than the budget gets a page of its own. */
export function paginate<T>(items: Iterable<T>, sizeOf: (item: T) => number, budget: number): T[][] {
  const pages: T[][] = [];
  let page: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (bytes + size > budget && page.length > 0) {
      pages.push(page);
      page = [];
      bytes = 0;
    }
    page.push(item);
    bytes += size;
  }
  if (page.length > 0) pages.push(page);
  return pages;
}

export interface PagedSession<T> {
  readonly pages: readonly T[][];
  expiresAt: number;
}

export class PagedSessions<T> {
  /** Oldest first: past maxSessions the oldest opened goes. */
  private readonly sessions: BoundedMap<number, PagedSession<T>>;

  constructor(
    private readonly o: {
      random: Random;
      ttlMs: number;
      maxSessions: number;
      /** What the listing is, for error messages ("snapshot", "key listing"). */
      what: string;
    },
  ) {
    this.sessions = new BoundedMap(o.maxSessions);
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Opens a session over `pages`; returns its id (never 0: 0 asks to open one). */
  open(pages: T[][], now: number): number {
    this.sweep(now);
    let id = 0;
    while (id === 0 || this.sessions.has(id)) id = 1 + this.o.random.int(0xfffffffe);
    this.sessions.set(id, { pages, expiresAt: now + this.o.ttlMs });
    return id;
  }

  /**
   * Page `page` of session `id` (an empty session has no pages: page 0 is
   * then an empty list). Throws `not_found` for an unknown or lapsed session
   * and `invalid` past the end.
   */
  page(id: number, page: number, now: number): { pages: number; items: readonly T[] } {
    this.sweep(now);
    const s = this.sessions.get(id);
    if (!s) throw new LockerError("not_found", `${this.o.what} session ${id} is unknown or expired`);
    s.expiresAt = now + this.o.ttlMs;
    if (s.pages.length === 0 && page === 0) return { pages: 0, items: [] };
    if (page >= s.pages.length) throw new LockerError("invalid", `${this.o.what} page ${page} is past the end (${s.pages.length})`);
    return { pages: s.pages.length, items: s.pages[page]! };
  }

  private sweep(now: number): void {
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}
