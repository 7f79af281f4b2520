// The agent's HTTP(S) server around a request handler: the connection caps
// (global and per source), header/request timeouts, bearer-token check, TLS,
// and JSON answers for requests node itself refuses (bad syntax, oversize, slow).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Logger } from "../logger.js";
import { tokenMatches, type TokenCheck } from "./auth.js";
import { DEFAULT_HTTP_SERVER_LIMITS, LISTEN_BACKLOG, MAX_LINGERING_REFUSALS, REFUSAL_LINGER_MS, sourceOf, type HttpServerLimits } from "./limits.js";
import { errorBody, rawErrorResponse } from "./reply.js";

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpServerOptions {
  /** When set, every request but `GET /v1/health` must carry `Authorization: Bearer <token>`. */
  token?: TokenCheck;
  /** When set, the server speaks HTTPS (PEM certificate chain and private key). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  limits?: Partial<HttpServerLimits>;
  /** Hears refused connections and client errors at debug level. */
  logger?: Logger;
}

export interface HttpServerStats {
  /** Connections open now (refused ones excluded). */
  open: number;
  /** Connections refused because all sources together were at maxConnections. */
  refusedGlobal: number;
  /** Connections refused because their source was at maxConnectionsPerSource. */
  refusedPerSource: number;
  /** Requests answered 401. */
  unauthorized: number;
}

export interface StartedHttpServer {
  server: Server;
  /** The bound address, "host:port" (the real port when 0 was asked for). */
  address: string;
  scheme: "http" | "https";
  stats(): HttpServerStats;
  close(): Promise<void>;
}

export async function startHttpServer(
  bind: { host: string; port: number },
  handler: RequestHandler,
  options: HttpServerOptions = {},
): Promise<StartedHttpServer> {
  const limits: HttpServerLimits = { ...DEFAULT_HTTP_SERVER_LIMITS, ...options.limits };
  const { logger, token } = options;
  const stats: HttpServerStats = { open: 0, refusedGlobal: 0, refusedPerSource: 0, unauthorized: 0 };
  const perSource = new Map<string, number>();
  const refused = new WeakSet<Socket>();
  /** Sockets with a response in progress: node's clientError must not write raw bytes into those. */
  const responding = new WeakMap<Socket, number>();
  /** Sockets whose later bytes node could not parse while a response was in progress: closed once it is sent. */
  const closeAfterResponse = new WeakSet<Socket>();
  let lingering = 0;

  const track = (socket: Socket, res: ServerResponse): void => {
    responding.set(socket, (responding.get(socket) ?? 0) + 1);
    res.once("close", () => {
      const n = (responding.get(socket) ?? 1) - 1;
      if (n <= 0) {
        responding.delete(socket);
        if (closeAfterResponse.has(socket)) socket.destroy();
      } else responding.set(socket, n);
    });
  };

  const wrapped: RequestHandler = (req, res) => {
    const socket = req.socket;
    // A refused connection was answered already; a request on it is not served.
    if (refused.has(socket)) return;
    track(socket, res);
    if (token && !isOpenRoute(req) && !tokenMatches(token, req.headers.authorization)) {
      stats.unauthorized++;
      const body = errorBody("unauthorized", "this agent needs `Authorization: Bearer <token>` (the token in its --http-token-file)");
      const hasBody = req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
      res.writeHead(401, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(body),
        "cache-control": "no-store",
        "www-authenticate": 'Bearer realm="locker"',
        // An unauthenticated body is not read: the connection closes instead of draining it.
        ...(hasBody ? { connection: "close" } : {}),
      });
      res.end(req.method === "HEAD" ? undefined : body);
      if (!hasBody) req.resume();
      return;
    }
    handler(req, res);
  };

  const common = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
  };
  const server: Server = options.tls ? createHttpsServer({ ...common, cert: options.tls.cert, key: options.tls.key }, wrapped) : createServer(common, wrapped);
  const scheme = options.tls ? "https" : "http";
  // Our own accounting decides; node's maxConnections would drop silently.
  server.maxConnections = limits.maxConnections + MAX_LINGERING_REFUSALS;

  const refuse = (socket: Socket, status: number, message: string): void => {
    refused.add(socket);
    logger?.debug({ remote: socket.remoteAddress, status }, message);
    if (options.tls || lingering >= MAX_LINGERING_REFUSALS) {
      // A TLS client cannot read a plaintext answer; and past the linger bound
      // refusals must cost nothing, so these are just closed.
      socket.destroy();
      return;
    }
    lingering++;
    socket.once("close", () => lingering--);
    // The answer, then a short linger: closing at once while the client is still
    // sending would make the kernel reset the connection and lose the answer.
    socket.end(rawErrorResponse(status, "unavailable", message, { "retry-after": "1" }));
    socket.setTimeout(REFUSAL_LINGER_MS, () => socket.destroy());
  };

  // Prepended: runs before node sets the connection up, so a refused socket never costs more.
  server.prependListener("connection", (socket: Socket) => {
    const source = sourceOf(socket.remoteAddress);
    const n = perSource.get(source) ?? 0;
    if (stats.open >= limits.maxConnections) {
      stats.refusedGlobal++;
      refuse(socket, 503, `the agent has ${stats.open} connections open, its limit; retry later`);
      return;
    }
    if (n >= limits.maxConnectionsPerSource) {
      stats.refusedPerSource++;
      refuse(socket, 429, `${source} has ${n} connections open to this agent, the limit per source; close some or retry later`);
      return;
    }
    stats.open++;
    perSource.set(source, n + 1);
    socket.once("close", () => {
      stats.open--;
      const left = (perSource.get(source) ?? 1) - 1;
      if (left <= 0) perSource.delete(source);
      else perSource.set(source, left);
    });
  });

  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (responding.has(socket) && err.code !== "ECONNRESET" && socket.writable) {
      // Garbage after a request (a body without content-length, say) must not
      // cost that request its answer: the parser stops here, the answer in
      // progress is sent, then the connection is closed.
      closeAfterResponse.add(socket);
      return;
    }
    if (err.code === "ECONNRESET" || !socket.writable || refused.has(socket)) {
      socket.destroy();
      return;
    }
    const [status, message] = clientErrorReply(err, limits);
    logger?.debug({ remote: socket.remoteAddress, code: err.code, status }, "refused a request node could not parse");
    socket.end(rawErrorResponse(status, "invalid", message));
  });

  // What node would otherwise answer itself without a JSON body (417) or by
  // dropping the connection (CONNECT, Upgrade): refused like any bad request.
  server.on("checkExpectation", (req: IncomingMessage, res: ServerResponse) => {
    track(req.socket, res);
    // The body that may follow is not read: nothing after this answer is parsed.
    closeAfterResponse.add(req.socket);
    const body = errorBody("invalid", `unsupported expectation ${JSON.stringify(String(req.headers.expect).slice(0, 64))} (only 100-continue)`);
    res.writeHead(417, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body), connection: "close" });
    res.end(body);
  });
  const noTunnels = (req: IncomingMessage, socket: Socket): void => {
    socket.end(rawErrorResponse(req.method === "CONNECT" ? 405 : 400, "invalid", req.method === "CONNECT" ? "CONNECT is not supported" : "protocol upgrades are not supported"));
  };
  server.on("connect", noTunnels);
  server.on("upgrade", noTunnels);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: bind.port, host: bind.host, backlog: LISTEN_BACKLOG }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const host = a.address.includes(":") ? `[${a.address}]` : a.address;
  return {
    server,
    address: `${host}:${a.port}`,
    scheme,
    stats: () => ({ ...stats }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Answered without a token: `GET /v1/health`, because probes (systemd, load
 * balancers) need no secret to learn the agent is up; and `GET /`, the
 * dashboard's static page, which holds no data and asks for the token itself.
 */
function isOpenRoute(req: IncomingMessage): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const url = req.url ?? "";
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  return path === "/v1/health" || path === "/";
}

/** The status and message for a request node's parser refused. */
export function clientErrorReply(err: NodeJS.ErrnoException, limits: Pick<HttpServerLimits, "maxHeaderBytes" | "headersTimeoutMs" | "requestTimeoutMs">): [number, string] {
  switch (err.code) {
    case "HPE_HEADER_OVERFLOW":
      return [431, `the request line and headers are over ${limits.maxHeaderBytes} bytes (a key in the path is limited to a few hundred bytes; see --max-key-bytes)`];
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return [408, `the request was not received in time (headers within ${limits.headersTimeoutMs} ms, the whole request within ${limits.requestTimeoutMs} ms)`];
    default:
      return [400, `malformed HTTP request${err.code ? ` (${err.code})` : ""}`];
  }
}
