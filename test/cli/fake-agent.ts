// A stand-in for an agent's HTTP API with canned answers, so the CLI's own
// behaviour (parsing, printing, signals) is tested without a cluster.
import { EventEmitter } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeAnswer {
  status: number;
  body: unknown;
}

export interface FakeAgent {
  /** HOST:PORT for --http. */
  address: string;
  /** Emits "request" (method, url) for every request, after answering or while holding it. */
  events: EventEmitter;
  close(): Promise<void>;
}

/**
 * Starts a fake agent on loopback. `answer` returns the reply for a request,
 * or undefined to hold the request open (a long poll that never ends).
 */
export async function startFakeAgent(answer: (method: string, url: string, headers: http.IncomingHttpHeaders) => FakeAnswer | undefined): Promise<FakeAgent> {
  const events = new EventEmitter();
  const held = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const a = answer(req.method ?? "GET", req.url ?? "/", req.headers);
      if (a) {
        const text = JSON.stringify(a.body);
        res.writeHead(a.status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
        res.end(text);
      } else {
        held.add(res);
      }
      events.emit("request", req.method, req.url);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    events,
    close: async () => {
      for (const r of held) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An Io that captures what the CLI prints. */
export function captureIo(env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), env }, out, err };
}
