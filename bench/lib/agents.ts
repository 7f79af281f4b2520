// The product as users run it, for the benchmarks: 3 `locker agent` OS
// processes (bin/locker.js, the agent's composition root) on loopback ports,
// a keep-alive HTTP client for their API, and an embedded library node
// (`startNode`, the same root) joined to them as a replica.
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LockerError, isLockerErrorCode } from "../../src/errors.js";
import { startNode, type LockerNode, type NodeOptions } from "../../src/node/node.js";
import { atExit, startServer, sleep, type Fixture } from "./proc.js";
import { freePort } from "./ports.js";

const here = dirname(fileURLToPath(import.meta.url));
/** bin/locker.js of the source tree (dist/bench/lib → ../../../bin). */
const BIN = join(here, "..", "..", "..", "bin", "locker.js");

export interface AgentInfo {
  name: string;
  udp: string;
  http: string;
}

export interface AgentCluster {
  agents: AgentInfo[];
  voters: string[];
  dataDir: string;
  stop(): Promise<void>;
}

/** GET/PUT/POST JSON to an agent; resolves with the status and the parsed body (bounded: bodies here are small). */
export function httpJson(agent: http.Agent, address: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const [host, port] = splitHostPort(address);
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, path, method, agent, headers: data === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(data) }, timeout: 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > 1 << 20) req.destroy(new Error(`${path}: answer over 1 MiB`));
          else chunks.push(c);
        });
        res.on("end", () => {
          try {
            const text = Buffer.concat(chunks).toString("utf8");
            resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
          } catch (e) {
            reject(e as Error);
          }
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in 15 s`)));
    req.on("error", reject);
    req.end(data);
  });
}

function splitHostPort(a: string): [string, number] {
  const i = a.lastIndexOf(":");
  return [a.slice(0, i), Number(a.slice(i + 1))];
}

/** An agent's error answer as the LockerError the library would have thrown (same code), so workloads treat both alike. */
export function httpError(r: { status: number; json: Record<string, unknown> }, what: string): LockerError {
  const code = r.json.error;
  return new LockerError(isLockerErrorCode(code) ? code : "unavailable", `${what}: HTTP ${r.status} ${String(r.json.message ?? "").slice(0, 120)}`);
}

export interface StartAgentsOptions {
  names?: readonly string[];
  readyTimeoutMs?: number;
  /** More agent flags (e.g. `--affinity=false`). */
  agentArgs?: readonly string[];
  /** Node flags for each agent process (e.g. `--cpu-prof`). */
  execArgv?: readonly string[];
}

/**
 * Starts `names.length` agents (all voters) as OS processes under the bench's
 * guard (killed with the bench however it ends), each with a fresh data dir
 * (a fresh voter has no quiet period), and waits until every one reports ready.
 */
export async function startAgents(options: StartAgentsOptions = {}): Promise<AgentCluster> {
  const { names = ["v1", "v2", "v3"], readyTimeoutMs = 30_000, agentArgs = [], execArgv = [] } = options;
  const dataDir = mkdtempSync(join(tmpdir(), "locker-bench-agents-"));
  atExit(() => rmSync(dataDir, { recursive: true, force: true }));
  const agents: AgentInfo[] = [];
  for (const name of names) agents.push({ name, udp: `127.0.0.1:${await freePort("udp")}`, http: `127.0.0.1:${await freePort("tcp")}` });
  const servers: Fixture[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    for (const a of agents) {
      const others = agents.filter((b) => b !== a).map((b) => b.udp);
      const args = [
        ...execArgv,
        BIN, "agent",
        "--name", a.name,
        "--bind", a.udp,
        "--http", a.http,
        "--voters", names.join(","),
        "--join", others.join(","),
        "--data-dir", join(dataDir, a.name),
        "--log-level", "warn",
        // C=64 spread over 3 agents opens ~22 keep-alive connections to each from one address.
        "--http-max-connections-per-source", "512",
        ...agentArgs,
      ];
      servers.push(await startServer(`agent-${a.name}`, process.execPath, args, join(dataDir, `${a.name}.log`)));
    }
    const probe = new http.Agent({ keepAlive: false });
    const end = Date.now() + readyTimeoutMs;
    for (const a of agents) {
      for (;;) {
        const r = await httpJson(probe, a.http, "GET", "/v1/health").catch(() => undefined);
        if (r?.json.ready === true) break;
        if (Date.now() > end) throw new Error(`agent ${a.name} not ready within ${readyTimeoutMs} ms (${JSON.stringify(r?.json ?? "no answer")})`);
        await sleep(100);
      }
    }
    return { agents, voters: [...names], dataDir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** An embedded library node (the product's `startNode`) joined to the agents as a non-voting replica. */
export async function startLibraryNode(cluster: AgentCluster, options: { name?: string; affinity?: NodeOptions["affinity"]; readyTimeoutMs?: number } = {}): Promise<LockerNode> {
  const { name = "lib", affinity, readyTimeoutMs = 20_000 } = options;
  const node = await startNode({ name, bind: "127.0.0.1:0", join: cluster.agents.map((a) => a.udp), voters: cluster.voters, replica: true, ...(affinity === undefined ? {} : { affinity }) });
  const end = Date.now() + readyTimeoutMs;
  while (!node.ready()) {
    if (Date.now() > end) {
      await node.close();
      throw new Error(`library node not ready within ${readyTimeoutMs} ms: ${JSON.stringify(node.readiness())}`);
    }
    await sleep(50);
  }
  return node;
}
