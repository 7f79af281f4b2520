// Helpers for the end-to-end tests: real agent processes on 127.0.0.1 with
// free ports, the real `locker` CLI, and a raw HTTP client for bad requests.
import { spawn, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import http from "node:http";
import net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const BIN = join(ROOT, "bin", "locker.js");

function tryUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    s.once("error", () => {
      s.close();
      resolve(false);
    });
    s.bind(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

function tcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const handedOut = new Set<number>();

/** A port free for both TCP and UDP on 127.0.0.1 (and not handed out before by this process). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await tcpPort();
    if (!handedOut.has(p) && (await tryUdp(p))) {
      handedOut.add(p);
      return p;
    }
  }
  throw new Error("no free port");
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `locker-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface AgentProcess {
  name: string;
  udp: string;
  http: string;
  proc: ChildProcess;
  /** stdout and stderr so far (JSON log lines). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnAgentOptions {
  name?: string;
  udpPort?: number;
  httpPort?: number;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export async function spawnAgent(o: SpawnAgentOptions = {}): Promise<AgentProcess> {
  const udpPort = o.udpPort ?? (await freePort());
  const httpPort = o.httpPort ?? (await freePort());
  const args = [BIN, "agent", "--bind", `127.0.0.1:${udpPort}`, "--http", `127.0.0.1:${httpPort}`, ...(o.name ? ["--name", o.name] : []), ...(o.args ?? [])];
  const proc = spawn(process.execPath, args, { cwd: o.cwd ?? ROOT, env: { ...process.env, LOCKER_LOG_LEVEL: "info", ...o.env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const cap = (b: Buffer): void => {
    if (out.length < 2_000_000) out += b.toString("utf8");
  };
  proc.stdout!.on("data", cap);
  proc.stderr!.on("data", cap);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
  return {
    name: o.name ?? `?:${udpPort}`,
    udp: `127.0.0.1:${udpPort}`,
    http: `127.0.0.1:${httpPort}`,
    proc,
    output: () => out,
    exited,
    kill: (signal = "SIGKILL") => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: Record<string, unknown>;
}

/** One HTTP request; `body` is sent as given when a string (for malformed JSON), else JSON-encoded. */
export function request(address: string, method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<HttpResult> {
  const [host, port] = address.split(":") as [string, string];
  const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), method, path, agent: false, headers: payload === undefined ? {} : { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => {
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // not JSON (the dashboard, /metrics)
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `locker ARGS` against an agent; resolves when it exits. */
export function cli(args: string[], options: { http?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  const { proc, done } = startCli(args, options);
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  return done.finally(() => clearTimeout(timer));
}

/** Starts `locker ARGS` and returns the process, for commands that run a while (exec, elect). */
export function startCli(args: string[], options: { http?: string; env?: Record<string, string> } = {}): { proc: ChildProcess; output(): string; done: Promise<CliResult> } {
  const env = { ...process.env, ...(options.http ? { LOCKER_HTTP: options.http } : {}), ...options.env };
  const proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout!.on("data", (b: Buffer) => (stdout += b.toString("utf8")));
  proc.stderr!.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
  const done = new Promise<CliResult>((resolve) => proc.once("close", (code) => resolve({ code, stdout, stderr })));
  return { proc, output: () => stdout + stderr, done };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits until the agent answers /v1/health as ready. */
export function ready(agent: AgentProcess, timeoutMs = 30_000): Promise<true> {
  return eventually(
    `${agent.name} to be ready`,
    async () => {
      if (agent.proc.exitCode !== null) throw new Error(`agent exited: ${agent.output().slice(-2000)}`);
      const r = await request(agent.http, "GET", "/v1/health");
      return r.json.ready === true ? true : undefined;
    },
    timeoutMs,
  );
}

export interface Cluster {
  agents: AgentProcess[];
  dataDir: { path: string; remove(): void };
  stop(): Promise<void>;
}

/** Three voters n1..n3 on 127.0.0.1 that join through n1. */
export async function startCluster(prefix: string, size = 3, extraArgs: string[] = []): Promise<Cluster> {
  const dataDir = tempDir(prefix);
  const names = Array.from({ length: size }, (_, i) => `${prefix}-n${i + 1}`);
  const ports = await Promise.all(names.map(async () => ({ udp: await freePort(), http: await freePort() })));
  const seed = `127.0.0.1:${ports[0]!.udp}`;
  const agents: AgentProcess[] = [];
  for (let i = 0; i < size; i++) {
    const args = ["--voters", names.join(","), "--data-dir", dataDir.path, "--cluster", prefix, ...(i > 0 ? ["--join", seed] : []), ...extraArgs];
    agents.push(await spawnAgent({ name: names[i]!, udpPort: ports[i]!.udp, httpPort: ports[i]!.http, args }));
  }
  for (const a of agents) await ready(a, 60_000);
  // Everyone sees everyone before the tests start.
  for (const a of agents) {
    await eventually(`${a.name} to see ${size} members`, async () => {
      const r = await request(a.http, "GET", "/v1/members");
      const m = r.json.members as Array<{ state: string }> | undefined;
      return m && m.filter((x) => x.state === "alive").length === size ? true : undefined;
    }, 60_000);
  }
  return {
    agents,
    dataDir,
    stop: async () => {
      await Promise.all(agents.map((a) => a.kill("SIGKILL")));
      dataDir.remove();
    },
  };
}
