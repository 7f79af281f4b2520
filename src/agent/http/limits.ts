// Every bound of the agent's HTTP API in one place, each a named constant with
// its default and the reason for it (TigerBeetle: "put a limit on everything").
import { DEFAULT_LIMITS } from "../../limits.js";

/** Longest a client may take to send the request line and headers (node's headersTimeout). */
export const HEADERS_TIMEOUT_MS = 10_000;
/**
 * Longest a client may take to send a whole request, headers and body (node's
 * requestTimeout): the backstop behind the body parser's own deadlines, for
 * routes that do not read a body. Long-polls are not affected: they are
 * complete requests waiting for their answer.
 */
export const REQUEST_TIMEOUT_MS = 15_000;
/** How often node checks the two timeouts above (its default, 30 s, let tricklers sit for half a minute). */
export const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/** A JSON body must arrive whole within this long after its headers. */
export const BODY_TIMEOUT_MS = 10_000;
/** ...and with no gap between two chunks longer than this. */
export const BODY_IDLE_TIMEOUT_MS = 5_000;
/** An idle keep-alive connection is closed after this long (kept: clients reuse connections). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Requests and headers larger than this get 431 (node's default, 16 KiB, fits a 4 KiB key percent-encoded). */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Connections the kernel queues before the agent accepts them (node's default, 511, made a burst of 1,000 wait a SYN retry: 1 s). The kernel caps it at net.core.somaxconn. */
export const LISTEN_BACKLOG = 4_096;
/** Open connections, all sources together; past it a new connection gets 503 and is closed. */
export const MAX_CONNECTIONS = 4_096;
/**
 * Open connections from one source address (an IPv6 source is its /64);
 * past it a new connection gets 429 and is closed. One misbehaving host then
 * holds at most this share of MAX_CONNECTIONS. On a loopback-only agent every
 * local client is the same source, so the default is generous.
 */
export const MAX_CONNECTIONS_PER_SOURCE = 256;
/** Refused connections kept open at once just long enough to deliver their 429/503 (beyond it: closed at once). */
export const MAX_LINGERING_REFUSALS = 256;
/** How long a refused connection is kept to deliver its answer before it is destroyed. */
export const REFUSAL_LINGER_MS = 1_000;
/** Concurrent long-polls (`?wait=`), all sources together; past it 503. Each holds a connection, so < MAX_CONNECTIONS. */
export const MAX_WAITERS = 2_048;
/** Concurrent long-polls from one source; past it 429. Below MAX_CONNECTIONS_PER_SOURCE, so a source that waits can still lock. */
export const MAX_WAITERS_PER_SOURCE = 128;
/** Nesting depth of a JSON body (a value is ≤ maxValueBytes anyway; this keeps the walk bounded before that check). */
export const MAX_JSON_DEPTH = 64;
/** Default `timeoutMs` of a long-poll that names none. */
export const DEFAULT_WAIT_MS = 30_000;
/** Internal errors logged in full per window; past it they are counted and summed up in one line. */
export const MAX_INTERNAL_ERROR_LOGS = 20;
export const INTERNAL_ERROR_LOG_WINDOW_MS = 60_000;
/** Shortest accepted bearer token: a guessable token is no protection. */
export const MIN_TOKEN_BYTES = 16;

/** What one request may ask for (the handler's limits). */
export interface HttpLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
  minLeaseMs: number;
  maxLeaseMs: number;
  /**
   * Longest `timeoutMs` (long-poll or operation budget). The same rule as the
   * Locker's budget check (src/locker.ts checkTimeout): 0 < timeoutMs ≤
   * maxTimeoutMs, so the two entry points never disagree.
   */
  maxTimeoutMs: number;
  /** Concurrent long-polls; past it 503 unavailable. */
  maxWaiters: number;
  /** Concurrent long-polls from one source; past it 429 unavailable. */
  maxWaitersPerSource: number;
  /** Largest request body; past it 413. */
  maxBodyBytes: number;
  /** Most keys one `GET /v1/keys` lists. */
  maxListedKeys: number;
  bodyTimeoutMs: number;
  bodyIdleTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: Omit<HttpLimits, "maxKeyBytes" | "maxValueBytes" | "maxLeaseMs"> = {
  minLeaseMs: DEFAULT_LIMITS.minLeaseMs,
  maxTimeoutMs: DEFAULT_LIMITS.maxTimeoutMs,
  maxWaiters: MAX_WAITERS,
  maxWaitersPerSource: MAX_WAITERS_PER_SOURCE,
  maxBodyBytes: 64 * 1024,
  maxListedKeys: 10_000,
  bodyTimeoutMs: BODY_TIMEOUT_MS,
  bodyIdleTimeoutMs: BODY_IDLE_TIMEOUT_MS,
};

/** What the server enforces per connection (startHttpServer's limits). */
export interface HttpServerLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  timeoutCheckIntervalMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
  maxConnections: number;
  maxConnectionsPerSource: number;
}

export const DEFAULT_HTTP_SERVER_LIMITS: Readonly<HttpServerLimits> = Object.freeze({
  headersTimeoutMs: HEADERS_TIMEOUT_MS,
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  timeoutCheckIntervalMs: TIMEOUT_CHECK_INTERVAL_MS,
  keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
  maxHeaderBytes: MAX_HEADER_BYTES,
  maxConnections: MAX_CONNECTIONS,
  maxConnectionsPerSource: MAX_CONNECTIONS_PER_SOURCE,
});

/**
 * The source a connection is counted against: the IPv4 address (an
 * IPv4-mapped IPv6 address is IPv4), or an IPv6 address's /64 — one host
 * usually owns a whole /64, so counting single IPv6 addresses would let it
 * open 2^64 "sources".
 */
export function sourceOf(remoteAddress: string | undefined): string {
  if (!remoteAddress) return "?";
  const a = remoteAddress.toLowerCase();
  if (a.startsWith("::ffff:") && a.includes(".")) return a.slice(7);
  if (!a.includes(":")) return a;
  const noZone = a.split("%")[0]!;
  const [head = "", tail = ""] = noZone.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === "" ? [] : tail.split(":");
  const groups = noZone.includes("::") ? [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t] : h;
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":") + "::/64";
}
