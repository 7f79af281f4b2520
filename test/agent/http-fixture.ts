// One in-process HTTP API on 127.0.0.1 port 0 over a real single-voter Locker
// (its own UDP socket), a log that the tests read, and raw clients that can
// pick their source address (any 127.x.y.z on Linux) and send slowly.
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { pino } from "pino";
import { Locker } from "../../src/locker.js";
import { createUdpTransport } from "../../src/transport/udp.js";
import { SystemClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { AgentMetrics } from "../../src/agent/metrics.js";
import { createHttpHandler, DEFAULT_HTTP_LIMITS, startHttpServer, type HttpLimits, type HttpServerOptions, type LockerApi, type StartedHttpServer } from "../../src/agent/http.js";

export interface Api {
  server: StartedHttpServer;
  host: string;
  port: number;
  locker: Locker;
  /** waitFor / waitForRelease calls the handler has in progress: a held long-poll is counted here. */
  waiting(): number;
  /** Every log line so far, parsed. */
  logs(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startApi(o: { limits?: Partial<HttpLimits>; server?: HttpServerOptions; seed?: number; lockerOverrides?: Partial<LockerApi> } = {}): Promise<Api> {
  const clock = new SystemClock();
  const transport = await createUdpTransport({ bind: "127.0.0.1:0", clock, random: new SeededRandom(o.seed ?? 1) });
  const locker = new Locker({
    name: "h1",
    channel: transport,
    closeTransport: true,
    clock,
    random: new SeededRandom((o.seed ?? 1) + 1),
    voters: [{ name: "h1", address: transport.address }],
    // A brand-new one-node cluster: no lease to wait out.
    quietPeriodMs: 0,
    maxLeaseMs: 60_000,
  });
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(s) });
  const metrics = new AgentMetrics(
    {
      memberStates: () => ({ alive: 1 }),
      liveLeases: () => 0,
      pendingRounds: () => 0,
      datagrams: () => ({ in: 0, out: 0, dropped: 0 }),
      rounds: () => ({ rounds: locker.cas.stats.rounds, fast: locker.cas.stats.fastRounds, conflicts: 0, handovers: 0, coalesced: 0, forwarded: 0, served: 0 }),
    },
    { defaultMetrics: false },
  );
  let waiting = 0;
  const counted = <T>(p: Promise<T>): Promise<T> => {
    waiting++;
    return p.finally(() => waiting--);
  };
  const api: LockerApi = {
    lock: (...a) => locker.lock(...a),
    update: (...a) => locker.update(...a),
    extendLease: (...a) => locker.extendLease(...a),
    release: (...a) => locker.release(...a),
    read: (...a) => locker.read(...a),
    dirtyRead: (...a) => locker.dirtyRead(...a),
    keys: (...a) => locker.keys(...a),
    waitFor: (...a) => counted(locker.waitFor(...a)),
    waitForRelease: (...a) => counted(locker.waitForRelease(...a)),
    ...o.lockerOverrides,
  };
  const handler = createHttpHandler({
    locker: api,
    status: async () => ({ name: "h1" }),
    ready: () => true,
    members: () => [],
    voters: {
      current: () => ({ version: 1, voters: ["h1"] }),
      promote: async () => ({ version: 1, voters: ["h1"] }),
      remove: async () => ({ version: 1, voters: ["h1"] }),
    },
    metrics,
    logger,
    clock,
    limits: { ...DEFAULT_HTTP_LIMITS, maxKeyBytes: 256, maxValueBytes: 1024, maxLeaseMs: 60_000, ...o.limits },
  });
  const server = await startHttpServer({ host: "127.0.0.1", port: 0 }, handler, { logger, ...o.server });
  const port = Number(server.address.split(":").pop());
  return {
    server,
    host: "127.0.0.1",
    port,
    locker,
    waiting: () => waiting,
    logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    close: async () => {
      await server.close();
      await locker.close();
      clock.clearAll();
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: Record<string, unknown>;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Source address, e.g. "127.0.0.2". */
  localAddress?: string;
  timeoutMs?: number;
  tls?: { ca: string };
}

/** One request on a new connection; rejects only on a transport failure or no answer within timeoutMs. */
export function call(api: Pick<Api, "host" | "port">, path: string, o: RequestOptions = {}): Promise<Reply> {
  const payload = o.body === undefined ? undefined : typeof o.body === "string" ? o.body : JSON.stringify(o.body);
  const timeoutMs = o.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = {
      host: api.host,
      port: api.port,
      method: o.method ?? "GET",
      path,
      agent: false,
      headers: { ...(payload === undefined ? {} : { "content-type": "application/json" }), ...o.headers },
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      ...(o.tls ? { ca: o.tls.ca, servername: "localhost" } : {}),
    };
    const req = (o.tls ? https : http).request(options, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => {
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** Raw bytes on a new TCP connection; resolves with everything the server sent once it closes (or after timeoutMs, then destroyed). */
export function rawExchange(api: Pick<Api, "host" | "port">, bytes: string | Buffer, timeoutMs = 10_000, localAddress?: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: api.host, port: api.port, ...(localAddress ? { localAddress } : {}) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed: false });
    }, timeoutMs);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed: true });
    });
    s.write(bytes);
  });
}

/** The status code of the first response in raw bytes (0 if none). */
export function rawStatus(text: string): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return m ? Number(m[1]) : 0;
}

/** The JSON body of the first response in raw bytes (its content-length's worth), or undefined. */
export function rawJson(text: string): Record<string, unknown> | undefined {
  const i = text.indexOf("\r\n\r\n");
  if (i < 0) return undefined;
  const length = /\r\ncontent-length: (\d+)\r\n/i.exec(text.slice(0, i + 2));
  const body = Buffer.from(text.slice(i + 4), "latin1");
  try {
    return JSON.parse((length ? body.subarray(0, Number(length[1])) : body).toString("utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Resolves once `cond()` holds, checking every few ms; fails after `maxMs` naming `what`. For states no event announces. */
export async function until(what: string, cond: () => boolean, maxMs = 20_000): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > maxMs) throw new Error(`timed out after ${maxMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface Trickler {
  socket: net.Socket;
  /** Everything the server sent, once the connection closed. */
  done: Promise<string>;
}

/** Opens a connection that sends a PUT's headers and then its body one byte per `tick()`. */
export function trickler(api: Pick<Api, "host" | "port">, localAddress: string): Trickler {
  const socket = net.connect({ host: api.host, port: api.port, localAddress });
  socket.setNoDelay(true);
  let text = "";
  socket.on("data", (c: Buffer) => (text += c.toString("latin1")));
  socket.on("error", () => {});
  socket.write("PUT /v1/keys/trickle HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 60000\r\n\r\n{");
  return { socket, done: new Promise((resolve) => socket.on("close", () => resolve(text))) };
}
