// The agent's HTTP API on node:http: JSON in and out, strict validation, the
// documented status codes. A bad request gets a 4xx; the agent keeps serving.
import type { IncomingMessage, ServerResponse } from "node:http";
import { ERROR_TABLE, LockerError, type LockerErrorCode } from "../errors.js";
import { checkKey as validateKey, checkLease as validateLease, checkTimeout as validateTimeout, checkValue as validateValue } from "../locker/validate.js";
import type { Entry, Locker, LockResult } from "../locker.js";
import type { Clock } from "../util/clock.js";
import { KEYS_PER_PAGE, renderDashboard, type DashboardSnapshot } from "./dashboard.js";
import { ELECTION_PREFIX, type EventHub } from "./events.js";
import type { Logger } from "./logger.js";
import type { AgentMetrics, OperationKind } from "./metrics.js";
import { ClientGoneError, readJsonBody } from "./http/body.js";
import { DEFAULT_WAIT_MS, INTERNAL_ERROR_LOG_WINDOW_MS, MAX_INTERNAL_ERROR_LOGS, MAX_JSON_DEPTH, sourceOf, type HttpLimits } from "./http/limits.js";
import { apiError, HttpError, invalid, type Json } from "./http/reply.js";

export { DEFAULT_HTTP_LIMITS, DEFAULT_HTTP_SERVER_LIMITS, type HttpLimits, type HttpServerLimits } from "./http/limits.js";
export { startHttpServer, type HttpServerOptions, type HttpServerStats, type StartedHttpServer } from "./http/server.js";
export { httpLimits, httpServerOptions } from "./http/options.js";

/** What the HTTP API uses of a Locker (the agent passes its node's). */
export type LockerApi = Pick<Locker, "lock" | "update" | "extendLease" | "release" | "read" | "dirtyRead" | "keys" | "waitFor" | "waitForRelease">;

export interface HttpApiDeps {
  locker: LockerApi;
  status(): Promise<Record<string, unknown>>;
  /** Past the quiet period with enough voters alive (cheap: no round). */
  ready(): boolean;
  members(): Record<string, unknown>[];
  /** The voter configuration and its one-voter-at-a-time changes. */
  voters: VoterAdmin;
  metrics: AgentMetrics;
  logger: Logger;
  clock: Clock;
  limits: HttpLimits;
  /** The live event stream (GET /v1/events); absent: 404. */
  events?: EventHub;
  /** Whether "/" carries a snapshot of the data (false when the API needs a token: "/" does not). Default true. */
  dashboardSnapshot?: boolean;
}

export interface VoterConfigView {
  version: number;
  voters: string[];
}

export interface VoterAdmin {
  current(): VoterConfigView;
  /** Makes a live member (a replica) a voter. */
  promote(name: string): Promise<VoterConfigView>;
  /** Takes a voter out of the configuration (it stays a member, as a replica). */
  remove(name: string): Promise<VoterConfigView>;
}

/** Status code for each Locker error code: the error table's (src/errors.ts). */
export const STATUS_BY_CODE: Readonly<Record<LockerErrorCode, number>> = Object.freeze(
  Object.fromEntries(Object.entries(ERROR_TABLE).map(([code, info]) => [code, info.httpStatus])) as Record<LockerErrorCode, number>,
);

interface Reply {
  status: number;
  body: Json | string;
  contentType?: string;
  /** The handler answered on the response itself (an event stream): nothing more to send. */
  streamed?: true;
}

const KEY_ACTIONS = new Set(["update", "extend", "release"]);

export function createHttpHandler(deps: HttpApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  let waiters = 0;
  /** Long-polls in progress per source address (sourceOf): one client cannot take every slot. */
  const waitersBySource = new Map<string, number>();
  const { locker, limits, clock, metrics, logger } = deps;
  const bodyLimits = { ...limits, maxDepth: MAX_JSON_DEPTH };
  const internalErrors = internalErrorLog(logger, clock);
  const opts = (timeoutMs: number | undefined): { timeoutMs?: number } => (timeoutMs === undefined ? {} : { timeoutMs });
  /** The holder's remaining safe window, from now (the moment of the answer). */
  const lockJson = (r: LockResult): Json => ({ ...keyJson(r), leaseMs: r.leaseMs, safeForMs: Math.max(0, Math.floor(r.safeUntil - clock.now())) });

  // The Locker's own validator (src/locker/validate.ts) decides; HTTP adds
  // only what JSON needs: whole milliseconds, and field names in the message.
  const asInvalid = <T>(field: string, check: () => T): T => {
    try {
      return check();
    } catch (e) {
      if (e instanceof LockerError && e.code === "invalid") throw invalid(field && !e.message.startsWith(field) ? `"${field}": ${e.message}` : e.message);
      throw e;
    }
  };
  const checkKey = (key: string): void => void asInvalid("", () => validateKey(key, limits));
  const checkValue = (field: string, v: unknown): unknown => {
    // Any JSON value; its size is that of its canonical CBOR encoding, as the cluster stores it.
    asInvalid(field, () => validateValue(v, limits));
    return v;
  };
  const checkLease = (v: unknown): number => {
    if (typeof v !== "number" || !Number.isInteger(v)) throw invalid(`"leaseMs" must be a whole number of milliseconds`);
    return asInvalid("", () => validateLease(v, limits));
  };
  const checkTimeout = (v: unknown, where: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = typeof v === "string" && /^\d{1,15}$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n)) throw invalid(`"${where}" must be a whole number of milliseconds from 1 to ${limits.maxTimeoutMs}`);
    asInvalid(where, () => validateTimeout(n, limits));
    return n;
  };
  /** The body of a lock (PUT) or an extend: value and leaseMs, optional timeoutMs. */
  const leaseBody = (body: Json): { value: unknown; leaseMs: number; timeoutMs: number | undefined } => {
    fields(body, ["value", "leaseMs"], ["timeoutMs"]);
    return { value: checkValue("value", body.value), leaseMs: checkLease(body.leaseMs), timeoutMs: checkTimeout(body.timeoutMs, "timeoutMs") };
  };


  /** Runs one Locker operation, timing it and counting its result. */
  const op = async <T>(kind: OperationKind, run: () => Promise<T>): Promise<T> => {
    const t0 = clock.now();
    try {
      const r = await run();
      metrics.observe(kind, "ok", (clock.now() - t0) / 1000);
      return r;
    } catch (e) {
      metrics.observe(kind, e instanceof LockerError ? e.code : "internal", (clock.now() - t0) / 1000);
      throw e;
    }
  };

  const handleKeys = async (req: IncomingMessage, url: URL, rest: string): Promise<Reply> => {
    const segments = rest.split("/");
    let action: string | undefined;
    if (req.method === "POST") {
      if (segments.length < 2 || !KEY_ACTIONS.has(segments[segments.length - 1]!)) {
        if (segments.length >= 2) {
          throw new HttpError(404, "not_found", `no action "${segments[segments.length - 1]}" on keys: use update, extend or release`);
        }
        throw methodNotAllowed(req.method, "/v1/keys/{key}", ["GET", "PUT"]);
      }
      action = segments.pop();
    } else if (req.method !== "GET" && req.method !== "PUT" && req.method !== "HEAD") {
      const last = segments[segments.length - 1]!;
      if (segments.length >= 2 && KEY_ACTIONS.has(last)) throw methodNotAllowed(req.method ?? "", `/v1/keys/{key}/${last}`, ["POST"]);
      throw methodNotAllowed(req.method ?? "", "/v1/keys/{key}", ["GET", "PUT"]);
    }
    let key: string;
    try {
      key = segments.map((s) => decodeURIComponent(s)).join("/");
    } catch {
      throw invalid("the key in the path is not valid percent-encoding");
    }
    checkKey(key);

    if (req.method === "GET" || req.method === "HEAD") {
      const q = queryParams(url, ["consistent", "wait", "timeoutMs"]);
      const wait = q.wait;
      if (wait !== undefined) {
        if (wait !== "present" && wait !== "released") throw invalid(`"wait" must be "present" or "released"`);
        if (q.consistent !== undefined) throw invalid(`"consistent" cannot be combined with "wait"`);
        const timeoutMs = checkTimeout(q.timeoutMs ?? String(Math.min(DEFAULT_WAIT_MS, limits.maxTimeoutMs)), "timeoutMs")!;
        const source = sourceOf(req.socket.remoteAddress);
        const mine = waitersBySource.get(source) ?? 0;
        if (mine >= limits.maxWaitersPerSource) {
          throw new HttpError(429, "unavailable", `${source} has ${mine} waiting requests, the limit per source; retry later`, { "retry-after": "1" });
        }
        if (waiters >= limits.maxWaiters) {
          throw new HttpError(503, "unavailable", `too many waiting requests (limit ${limits.maxWaiters})`, { "retry-after": "1" });
        }
        waiters++;
        waitersBySource.set(source, mine + 1);
        try {
          if (wait === "present") {
            const value = await op("wait_present", () => locker.waitFor(key, timeoutMs));
            // The entry as it stands now; if it vanished already, the value it had.
            const entry = locker.dirtyRead(key);
            return { status: 200, body: entry ? keyJson(entry) : { key, value } };
          }
          await op("wait_released", () => locker.waitForRelease(key, timeoutMs));
          return { status: 200, body: { key, released: true } };
        } finally {
          waiters--;
          const left = (waitersBySource.get(source) ?? 1) - 1;
          if (left <= 0) waitersBySource.delete(source);
          else waitersBySource.set(source, left);
        }
      }
      if (q.consistent !== undefined && q.consistent !== "true" && q.consistent !== "false") throw invalid(`"consistent" must be true or false`);
      if (q.timeoutMs !== undefined && q.consistent !== "true") throw invalid(`"timeoutMs" applies only with "wait" or "consistent=true"`);
      let view: Entry | undefined;
      if (q.consistent === "true") {
        const timeoutMs = q.timeoutMs === undefined ? undefined : checkTimeout(q.timeoutMs, "timeoutMs");
        view = await op("read_consistent", () => locker.read(key, opts(timeoutMs)));
      } else {
        view = await op("read", async () => locker.dirtyRead(key));
      }
      if (!view) throw apiError("not_found", `key ${JSON.stringify(key)} is not held`);
      return { status: 200, body: keyJson(view) };
    }

    queryParams(url, []);
    const body = await readJsonBody(req, bodyLimits);
    if (req.method === "PUT") {
      const { value, leaseMs, timeoutMs } = leaseBody(body);
      const v = await op("lock", () => locker.lock(key, value, { leaseMs, ...opts(timeoutMs) }));
      return { status: 200, body: lockJson(v) };
    }
    switch (action) {
      case "update": {
        fields(body, ["expected", "value"], ["timeoutMs"]);
        const expected = checkValue("expected", body.expected);
        const value = checkValue("value", body.value);
        const timeoutMs = checkTimeout(body.timeoutMs, "timeoutMs");
        const v = await op("update", () => locker.update(key, expected, value, opts(timeoutMs)));
        return { status: 200, body: keyJson(v) };
      }
      case "extend": {
        const { value, leaseMs, timeoutMs } = leaseBody(body);
        const v = await op("extend", () => locker.extendLease(key, value, leaseMs, opts(timeoutMs)));
        return { status: 200, body: lockJson(v) };
      }
      default: {
        fields(body, ["value"], ["timeoutMs"]);
        const value = checkValue("value", body.value);
        const timeoutMs = checkTimeout(body.timeoutMs, "timeoutMs");
        await op("release", () => locker.release(key, value, opts(timeoutMs)));
        return { status: 200, body: { key, value, released: true } };
      }
    }
  };

  const route = async (req: IncomingMessage, url: URL, res: ServerResponse): Promise<Reply> => {
    const path = url.pathname;
    const method = req.method ?? "";
    const only = (allowed: string[], routeName: string): void => {
      const ok = allowed.includes(method) || (method === "HEAD" && allowed.includes("GET"));
      if (!ok) throw methodNotAllowed(method, routeName, allowed);
    };
    if (path.startsWith("/v1/keys/")) return handleKeys(req, url, path.slice("/v1/keys/".length));
    if (path.startsWith("/v1/voters/")) {
      let name: string;
      try {
        name = decodeURIComponent(path.slice("/v1/voters/".length));
      } catch {
        throw invalid("the voter name is not valid percent-encoding");
      }
      if (name.length === 0 || name.includes("/") || Buffer.byteLength(name) > 128) throw invalid("expected /v1/voters/{name} with a member name of 1..128 bytes");
      only(["PUT", "DELETE"], "/v1/voters/{name}");
      queryParams(url, []);
      const changed = method === "PUT" ? await op("promote", () => deps.voters.promote(name)) : await op("remove_voter", () => deps.voters.remove(name));
      return { status: 200, body: changed as unknown as Record<string, unknown> };
    }
    switch (path) {
      case "/v1/events": {
        only(["GET"], path);
        if (!deps.events) throw new HttpError(404, "not_found", "this agent has no event stream");
        const q = queryParams(url, ["prefix", "since"]);
        const prefix = q.prefix ?? "";
        if (Buffer.byteLength(prefix) > limits.maxKeyBytes) throw invalid(`"prefix" is longer than the key limit`);
        if (q.since !== undefined && !/^\d{1,15}$/.test(q.since)) throw invalid(`"since" must be an event id (a whole number)`);
        const refused = deps.events.serve(req, res, prefix, q.since === undefined ? undefined : Number(q.since));
        if (refused) throw new HttpError(refused.status, refused.error as never, refused.message!);
        return { status: 200, body: "", streamed: true };
      }
      case "/": {
        only(["GET"], path);
        queryParams(url, []);
        // "/" needs no token: an agent with one serves the page without data.
        let snapshot: DashboardSnapshot | undefined;
        if (deps.dashboardSnapshot !== false) {
          const listed = locker.keys("", KEYS_PER_PAGE + 1);
          snapshot = {
            status: await deps.status(),
            members: deps.members(),
            keys: listed.slice(0, KEYS_PER_PAGE).map(keyJson) as Array<Record<string, unknown>>,
            truncated: listed.length > KEYS_PER_PAGE,
            elections: locker.keys(ELECTION_PREFIX, KEYS_PER_PAGE).map(keyJson) as Array<Record<string, unknown>>,
          };
        }
        return { status: 200, body: renderDashboard(snapshot), contentType: "text/html; charset=utf-8" };
      }
      case "/v1/keys": {
        only(["GET"], path);
        const q = queryParams(url, ["prefix"]);
        const prefix = q.prefix ?? "";
        if (Buffer.byteLength(prefix) > limits.maxKeyBytes) throw invalid(`"prefix" is longer than the key limit`);
        // One more than listed, to tell whether the list was cut.
        const all = await op("keys", async () => locker.keys(prefix, limits.maxListedKeys + 1));
        const keys = all.slice(0, limits.maxListedKeys).map(keyJson);
        return { status: 200, body: { keys, truncated: all.length > keys.length } };
      }
      case "/v1/voters":
        only(["GET"], path);
        queryParams(url, []);
        return { status: 200, body: deps.voters.current() as unknown as Record<string, unknown> };
      case "/v1/members":
        only(["GET"], path);
        queryParams(url, []);
        return { status: 200, body: { members: deps.members() } };
      case "/v1/status":
        only(["GET"], path);
        queryParams(url, []);
        return { status: 200, body: await deps.status() };
      case "/v1/health": {
        only(["GET"], path);
        queryParams(url, []);
        return { status: 200, body: { ok: true, ready: deps.ready() } };
      }
      case "/metrics":
        only(["GET"], path);
        return { status: 200, body: await metrics.text(), contentType: metrics.contentType };
      default:
        throw new HttpError(404, "not_found", `no route ${method} ${path} (see the README's HTTP reference)`);
    }
  };

  return (req, res) => {
    const t0 = clock.now();
    const finish = (reply: Reply): void => {
      if (reply.streamed) {
        metrics.observeHttp(req.method ?? "", reply.status);
        return;
      }
      send(res, req, reply, metrics);
      logger.debug({ method: req.method, url: req.url, status: reply.status, ms: Math.round((clock.now() - t0) * 10) / 10 }, "http");
    };
    const url = requestUrl(req.url ?? "/");
    if (!url) {
      finish({ status: 400, body: { error: "invalid", message: "the request target must be a path (/v1/...) or an http(s) URL" } });
      return;
    }
    route(req, url, res).then(
      (reply) => finish(reply),
      (e: unknown) => {
        let reply: Reply;
        let headers: Record<string, string> = {};
        if (e instanceof HttpError) {
          reply = { status: e.status, body: { error: e.code, message: e.message } };
          headers = e.headers;
        } else if (e instanceof LockerError) {
          reply = { status: ERROR_TABLE[e.code]?.httpStatus ?? 500, body: { error: e.code, message: e.message } };
          if (e.code === "unavailable" || e.code === "no_quorum") headers = { "retry-after": "1" };
        } else if (e instanceof ClientGoneError || req.destroyed || res.destroyed) {
          // The client hung up (reset, aborted body): nobody to answer, and not our fault.
          logger.debug({ method: req.method, url: req.url, err: (e as Error).message }, "client went away");
          metrics.observeHttp(req.method ?? "", 499);
          if (!res.destroyed) res.destroy();
          return;
        } else {
          internalErrors.log(e, req);
          reply = { status: 500, body: { error: "internal", message: "internal error; see the agent's log" } };
        }
        for (const [k, v] of Object.entries(headers)) if (!res.headersSent) res.setHeader(k, v);
        finish(reply);
      },
    );
  };
}

/**
 * The request target as a URL. A path is taken as a path even when it starts
 * with "//" (resolved against a base, "//evil/v1/keys/k" would become host
 * "evil" and path "/v1/keys/k"); an absolute http(s) URL (proxies send those) is accepted.
 */
function requestUrl(target: string): URL | undefined {
  try {
    if (target.startsWith("/")) return new URL("http://agent" + target);
    const u = new URL(target);
    return u.protocol === "http:" || u.protocol === "https:" ? u : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Logs internal errors, at most MAX_INTERNAL_ERROR_LOGS per INTERNAL_ERROR_LOG_WINDOW_MS,
 * then one line saying how many more there were: a bug that every request hits
 * must not fill the disk (4,096 identical lines were seen under a flood).
 */
function internalErrorLog(logger: Logger, clock: Clock): { log(e: unknown, req: IncomingMessage): void } {
  let windowStart = -Infinity;
  let logged = 0;
  let suppressed = 0;
  return {
    log(e, req) {
      const now = clock.now();
      if (now - windowStart >= INTERNAL_ERROR_LOG_WINDOW_MS) {
        if (suppressed > 0) logger.error({ suppressed }, `${suppressed} more internal errors in the last ${INTERNAL_ERROR_LOG_WINDOW_MS / 1000} s were not logged`);
        windowStart = now;
        logged = 0;
        suppressed = 0;
      }
      if (logged < MAX_INTERNAL_ERROR_LOGS) {
        logged++;
        logger.error({ err: e, method: req.method, url: req.url }, "internal error serving a request");
      } else suppressed++;
    },
  };
}

function methodNotAllowed(method: string, routeName: string, allowed: string[]): HttpError {
  return new HttpError(405, "invalid", `method ${method} is not allowed on ${routeName}; use ${allowed.join(" or ")}`, {
    allow: allowed.join(", "),
  });
}

function send(res: ServerResponse, req: IncomingMessage, reply: Reply, metrics: AgentMetrics): void {
  metrics.observeHttp(req.method ?? "", reply.status);
  if (res.writableEnded || res.destroyed) return;
  const text = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body) + "\n";
  res.statusCode = reply.status;
  res.setHeader("content-type", reply.contentType ?? "application/json; charset=utf-8");
  res.setHeader("content-length", Buffer.byteLength(text));
  res.setHeader("cache-control", "no-store");
  res.end(req.method === "HEAD" ? undefined : text);
}

/** Query parameters, refusing any not in `allowed` and any given twice. */
function queryParams(url: URL, allowed: string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of url.searchParams) {
    if (!allowed.includes(k)) {
      throw invalid(allowed.length ? `unknown query parameter "${k}" (allowed: ${allowed.join(", ")})` : `unknown query parameter "${k}"`);
    }
    if (out[k] !== undefined) throw invalid(`query parameter "${k}" given twice`);
    out[k] = v;
  }
  return out;
}

/** Checks a body has every required field and nothing unknown. */
function fields(body: Json, required: string[], optional: string[]): void {
  // Own fields only: "constructor" or "toString" must not count as present.
  for (const f of required) if (!Object.prototype.hasOwnProperty.call(body, f)) throw invalid(`missing field "${f}"`);
  for (const f of Object.keys(body)) {
    if (!required.includes(f) && !optional.includes(f)) throw invalid(`unknown field "${f}"`);
  }
}

function keyJson(v: Entry): Json {
  return { key: v.key, value: v.value, token: v.token.toString(), leaseRemainingMs: Math.max(0, Math.round(v.leaseRemainingMs)) };
}
