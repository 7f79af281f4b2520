// The CLI's client for an agent's HTTP API. Errors come back as LockerError with
// the agent's code; an unreachable agent is "unavailable" (so recipes retry).
import http from "node:http";
import { isLockerErrorCode, LockerError } from "../errors.js";
import { readTokenFile } from "../agent/http/auth.js";
import type { LeaseClient, LeaseGrant } from "../recipes/client.js";
import type { Clock } from "../util/clock.js";


/** The agent could not be reached at all (refused, reset, no answer). */
export class AgentUnreachableError extends LockerError {
  constructor(address: string, cause: string) {
    super("unavailable", `cannot reach the agent at ${address}: ${cause}`);
  }
}

/**
 * The agent refused the request for want of its bearer token (401). The code
 * stays "invalid" (LockerErrorCode has no "unauthorized": the library never
 * throws it); the exit code for it is ERROR_TABLE.unauthorized.exitCode.
 */
export class AgentUnauthorizedError extends LockerError {
  readonly apiCode = "unauthorized";
  constructor(message: string) {
    super("invalid", message, { status: 401, error: "unauthorized" });
  }
}

/**
 * The bearer token the CLI sends: `tokenFile` (--http-token-file) if given,
 * else LOCKER_HTTP_TOKEN, else the file LOCKER_HTTP_TOKEN_FILE names; none = no header.
 * A token file must be private to its user (mode 600), as the agent's.
 */
export function clientToken(env: Record<string, string | undefined>, tokenFile?: string): string | undefined {
  if (tokenFile) return readTokenFile(tokenFile);
  if (env.LOCKER_HTTP_TOKEN) return env.LOCKER_HTTP_TOKEN.trim();
  if (env.LOCKER_HTTP_TOKEN_FILE) return readTokenFile(env.LOCKER_HTTP_TOKEN_FILE);
  return undefined;
}

export interface HttpReply {
  status: number;
  body: Record<string, unknown>;
}

export interface KeyReply {
  key: string;
  value: string;
  token: string;
  leaseRemainingMs: number;
  leaseMs?: number;
  safeForMs?: number;
}

export class AgentClient implements LeaseClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  private readonly host: string;
  private readonly port: number;

  constructor(
    readonly address: string,
    private readonly clock: Clock,
    /** Bound on one request that is not a long poll. */
    private readonly requestTimeoutMs = 15_000,
    /** Sent as `Authorization: Bearer <token>`; by default from the environment (clientToken). */
    private readonly token: string | undefined = clientToken(process.env),
  ) {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
    // Checked here, or node:http throws a RangeError from inside the first request instead.
    if (!m || !(Number(m[3]) >= 1 && Number(m[3]) <= 65535)) throw new LockerError("invalid", `--http: expected HOST:PORT with a port in 1..65535, got ${JSON.stringify(address)}`);
    this.host = (m[1] ?? m[2])!;
    this.port = Number(m[3]);
  }

  close(): void {
    this.agent.destroy();
  }

  /** One request; resolves with any HTTP status, rejects only when the agent cannot be reached. */
  raw(method: string, path: string, body?: unknown, timeoutMs = this.requestTimeoutMs): Promise<HttpReply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.host,
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: {
            ...(payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
            ...(this.token === undefined ? {} : { authorization: `Bearer ${this.token}` }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            // Replies are small; a runaway one is cut off rather than buffered forever.
            if (size <= 16 * 1024 * 1024) chunks.push(c);
          });
          res.on("error", (e) => reject(new AgentUnreachableError(this.address, e.message)));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown;
            try {
              parsed = text.length ? JSON.parse(text) : {};
            } catch {
              parsed = { text };
            }
            const obj = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { data: parsed };
            resolve({ status: res.statusCode ?? 0, body: obj });
          });
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on("error", (e: NodeJS.ErrnoException) => reject(new AgentUnreachableError(this.address, e.code ?? e.message)));
      req.end(payload);
    });
  }

  /**
   * Reads a Server-Sent Events stream (GET `path`): `onEvent` for each event
   * as it arrives; resolves when the agent ends the stream. A non-200 answer
   * rejects like `call` does; an unreachable agent with AgentUnreachableError.
   */
  stream(path: string, onEvent: (event: { type: string; data: string; id: string | undefined }) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: this.host, port: this.port, method: "GET", path, headers: { accept: "text/event-stream", ...(this.token === undefined ? {} : { authorization: `Bearer ${this.token}` }) } },
        (res) => {
          if (res.statusCode !== 200) {
            let text = "";
            res.on("data", (c: Buffer) => void (text.length < 65_536 && (text += c.toString("utf8"))));
            res.on("end", () => {
              let body: Record<string, unknown> = {};
              try {
                body = JSON.parse(text) as Record<string, unknown>;
              } catch {
                body = { message: text };
              }
              const message = typeof body.message === "string" ? body.message : `HTTP ${res.statusCode}`;
              if (res.statusCode === 401) reject(new AgentUnauthorizedError(message));
              else reject(new LockerError(isLockerErrorCode(body.error) ? body.error : "invalid", message, { status: res.statusCode ?? 0 }));
            });
            return;
          }
          res.setEncoding("utf8");
          let buffer = "";
          res.on("data", (chunk: string) => {
            buffer += chunk;
            // An event ends with a blank line; a runaway line without one is cut off.
            if (buffer.length > 4 * 1024 * 1024) return res.destroy(new Error("event too large"));
            let end: number;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              let type = "message";
              let id: string | undefined;
              const data: string[] = [];
              for (const line of block.split("\n")) {
                if (line.startsWith(":")) continue;
                const colon = line.indexOf(":");
                const field = colon < 0 ? line : line.slice(0, colon);
                const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
                if (field === "event") type = value;
                else if (field === "id") id = value;
                else if (field === "data") data.push(value);
              }
              if (data.length > 0) onEvent({ type, data: data.join("\n"), id });
            }
          });
          res.on("end", () => resolve());
          res.on("error", (e) => reject(new AgentUnreachableError(this.address, e.message)));
        },
      );
      req.on("error", (e: NodeJS.ErrnoException) => reject(new AgentUnreachableError(this.address, e.code ?? e.message)));
      req.end();
    });
  }

  /** A request whose non-2xx answer becomes a LockerError with the agent's code. */
  async call(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<Record<string, unknown>> {
    const r = await this.raw(method, path, body, timeoutMs);
    if (r.status >= 200 && r.status < 300) return r.body;
    const message = typeof r.body.message === "string" ? r.body.message : `HTTP ${r.status}`;
    if (r.status === 401 || r.body.error === "unauthorized") throw new AgentUnauthorizedError(message);
    const code = isLockerErrorCode(r.body.error) ? r.body.error : "invalid";
    throw new LockerError(code, message, { status: r.status });
  }

  static keyPath(key: string, action?: string): string {
    return `/v1/keys/${encodeURIComponent(key)}${action ? "/" + action : ""}`;
  }

  async lockRaw(key: string, value: string, leaseMs: number, timeoutMs?: number): Promise<KeyReply> {
    return (await this.call("PUT", AgentClient.keyPath(key), withTimeout({ value, leaseMs }, timeoutMs), httpBound(timeoutMs))) as unknown as KeyReply;
  }

  async extendRaw(key: string, value: string, leaseMs: number, timeoutMs?: number): Promise<KeyReply> {
    return (await this.call("POST", AgentClient.keyPath(key, "extend"), withTimeout({ value, leaseMs }, timeoutMs), httpBound(timeoutMs))) as unknown as KeyReply;
  }

  // LeaseClient, for the recipes (exec, elect).

  async lock(key: string, value: string, leaseMs: number, timeoutMs: number): Promise<LeaseGrant> {
    const t0 = this.clock.now();
    return grant(t0, await this.lockRaw(key, value, leaseMs, Math.ceil(timeoutMs)));
  }

  async extendLease(key: string, value: string, leaseMs: number, timeoutMs: number): Promise<LeaseGrant> {
    const t0 = this.clock.now();
    return grant(t0, await this.extendRaw(key, value, leaseMs, Math.ceil(timeoutMs)));
  }

  async release(key: string, value: string): Promise<void> {
    await this.call("POST", AgentClient.keyPath(key, "release"), { value });
  }

  async holder(key: string): Promise<string | undefined> {
    try {
      const r = await this.call("GET", `${AgentClient.keyPath(key)}?consistent=true`);
      return typeof r.value === "string" ? r.value : undefined;
    } catch (e) {
      if (e instanceof LockerError && e.code === "not_found") return undefined;
      throw e;
    }
  }

  async waitForRelease(key: string, timeoutMs: number): Promise<void> {
    const ms = Math.max(0, Math.min(Math.round(timeoutMs), 300_000));
    await this.call("GET", `${AgentClient.keyPath(key)}?wait=released&timeoutMs=${ms}`, undefined, ms + this.requestTimeoutMs);
  }
}

/** The HTTP request may take the operation's budget plus a little; a hung agent then fails fast. */
function httpBound(timeoutMs: number | undefined): number | undefined {
  return timeoutMs === undefined ? undefined : timeoutMs + 1000;
}

function withTimeout(body: Record<string, unknown>, timeoutMs: number | undefined): Record<string, unknown> {
  return timeoutMs === undefined ? body : { ...body, timeoutMs };
}

/**
 * The agent measured `safeForMs` from when its round started, which is after we sent
 * the request: counting it from our own send time `t0` ends our window no later than
 * the agent's.
 */
function grant(t0: number, r: KeyReply): LeaseGrant {
  if (typeof r.token !== "string" || typeof r.safeForMs !== "number") {
    throw new LockerError("invalid", "the agent's answer lacks token or safeForMs");
  }
  return { token: BigInt(r.token), safeUntil: t0 + r.safeForMs };
}
