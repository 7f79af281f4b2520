// The agent's live event stream (`GET /v1/events`, Server-Sent Events): joins,
// suspicions, deaths and departures of members; keys taken, released and
// expired in this node's view; leaders of elections (keys under `election/`,
// the prefix LeaderElection uses, src/recipes/election.ts). The dashboard,
// `curl -N` and `locker watch` read the same stream. Recent events are kept
// in a bounded ring, so a reconnecting client (Last-Event-ID) misses nothing
// that is still there; a client that cannot keep up is cut off, never
// buffered without bound. Internal (NUL-prefixed) keys never appear.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { MemberEvent } from "@locker/membership";
import type { Entry, Locker } from "../locker.js";
import { sourceOf } from "./http/limits.js";

/** Events kept for clients that reconnect (Last-Event-ID) or connect late (`?since=`). */
export const EVENT_HISTORY = 512;
/** Streams open at once, and per source address. */
export const MAX_EVENT_STREAMS = 256;
export const MAX_EVENT_STREAMS_PER_SOURCE = 16;
/** A stream whose socket has this much unsent data is closed (the client reconnects and resumes from its last id). */
const MAX_BUFFERED_BYTES = 1 << 20;
/** A comment line this often keeps proxies and idle timeouts from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;
/** The prefix LeaderElection's keys live under; their holder is the leader. */
export const ELECTION_PREFIX = "election/";

export type AgentEvent =
  | { id: number; time: number; type: "member"; member: string; state: string; address: string; change: string }
  | { id: number; time: number; type: "acquired"; key: string; value: unknown; token: string; leaseMs: number }
  | { id: number; time: number; type: "released" | "expired"; key: string; value: unknown }
  | { id: number; time: number; type: "leader"; election: string; leader: unknown; token: string };

type NewEvent = AgentEvent extends infer E ? (E extends AgentEvent ? Omit<E, "id" | "time"> : never) : never;

interface Stream {
  res: ServerResponse;
  prefix: string;
  source: string;
}

const isInternal = (key: string): boolean => key.charCodeAt(0) === 0;

export class EventHub {
  private readonly history: AgentEvent[] = [];
  private nextId = 1;
  private readonly streams = new Set<Stream>();
  private readonly perSource = new Map<string, number>();
  private readonly heartbeat: NodeJS.Timeout;
  /** Streams closed because their client did not read fast enough. */
  slowClosed = 0;

  constructor(private readonly now: () => number = Date.now) {
    this.heartbeat = setInterval(() => {
      for (const s of this.streams) s.res.write(": keep-alive\n\n");
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Member events, from the start (while the node is still forming its cluster). */
  attachMembership(membership: { on(event: "change", fn: (e: MemberEvent) => void): unknown }): void {
    membership.on("change", (e: MemberEvent) => this.publish({ type: "member", member: e.member.name, state: e.member.state, address: e.member.address, change: e.type }));
  }

  /** Key events of a node's Locker (its local view), once it runs. */
  attachLocker(locker: Pick<Locker, "on">): void {
    locker.on("acquired", (e: Entry) => {
      if (isInternal(e.key)) return;
      this.publish({ type: "acquired", key: e.key, value: e.value, token: String(e.token), leaseMs: Math.max(0, Math.round(e.leaseRemainingMs)) });
      if (e.key.startsWith(ELECTION_PREFIX)) this.publish({ type: "leader", election: e.key.slice(ELECTION_PREFIX.length), leader: e.value, token: String(e.token) });
    });
    for (const type of ["released", "expired"] as const) {
      locker.on(type, (e: { key: string; value: unknown }) => {
        if (!isInternal(e.key)) this.publish({ type, key: e.key, value: e.value });
      });
    }
  }

  /** Stamps `e` (a fresh object of the caller's: it is kept, not copied) with its id and time, keeps it and sends it. */
  publish(e: NewEvent): void {
    // Stamped in place: an object spread of these mixed shapes cost ~1.7 µs an
    // event, ~4 % of a busy agent's CPU (two events per lock+release).
    const event = e as AgentEvent;
    event.id = this.nextId++;
    event.time = this.now();
    this.history.push(event);
    if (this.history.length > EVENT_HISTORY) this.history.shift();
    for (const s of this.streams) this.send(s, event);
  }

  /** The events still kept, after `afterId`, for a key prefix (members and leaders always match an empty prefix only if they match it). */
  recent(afterId = 0, prefix = ""): AgentEvent[] {
    return this.history.filter((e) => e.id > afterId && matches(e, prefix));
  }

  /**
   * Serves one SSE stream: the kept events after Last-Event-ID (or `since`),
   * then live ones. Refuses with 429/503 past the stream bounds.
   */
  serve(req: IncomingMessage, res: ServerResponse, prefix: string, since: number | undefined): { status: number; error?: string; message?: string } | undefined {
    const source = sourceOf(req.socket.remoteAddress);
    if (this.streams.size >= MAX_EVENT_STREAMS) return { status: 503, error: "unavailable", message: `${MAX_EVENT_STREAMS} event streams are open, the limit; retry later` };
    const n = this.perSource.get(source) ?? 0;
    if (n >= MAX_EVENT_STREAMS_PER_SOURCE) return { status: 429, error: "too_many_requests", message: `${MAX_EVENT_STREAMS_PER_SOURCE} event streams from ${source} are open, the limit per source` };
    const lastHeader = req.headers["last-event-id"];
    const last = typeof lastHeader === "string" && /^\d{1,15}$/.test(lastHeader) ? Number(lastHeader) : since;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
    // Tells EventSource how long to wait before it reconnects.
    res.write("retry: 1000\n\n");
    const stream: Stream = { res, prefix, source };
    this.streams.add(stream);
    this.perSource.set(source, n + 1);
    const done = (): void => {
      if (!this.streams.delete(stream)) return;
      const left = (this.perSource.get(source) ?? 1) - 1;
      if (left <= 0) this.perSource.delete(source);
      else this.perSource.set(source, left);
    };
    res.once("close", done);
    req.once("close", done);
    if (last !== undefined) for (const e of this.recent(last, prefix)) this.send(stream, e);
    return undefined;
  }

  get openStreams(): number {
    return this.streams.size;
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const s of [...this.streams]) s.res.end();
    this.streams.clear();
    this.perSource.clear();
  }

  private send(s: Stream, e: AgentEvent): void {
    if (!matches(e, s.prefix)) return;
    if (s.res.writableLength > MAX_BUFFERED_BYTES) {
      this.slowClosed++;
      this.streams.delete(s);
      s.res.destroy();
      return;
    }
    s.res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
  }
}

/** Key events match a key prefix; member events only the empty prefix; leader events the prefix on their key. */
function matches(e: AgentEvent, prefix: string): boolean {
  if (prefix === "") return true;
  if (e.type === "member") return false;
  if (e.type === "leader") return (ELECTION_PREFIX + e.election).startsWith(prefix);
  return e.key.startsWith(prefix);
}
