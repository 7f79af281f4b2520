// `npm run bench:compare`: the product as users run it, side by side with
// its peers, on this machine in one run. locker: 3 real agents (bin/locker.js
// agent, OS processes) through their HTTP API (keep-alive, requests spread over
// the 3 agents) and through an embedded library node (`startNode`, joined to
// them as a replica); the bare-Locker figures (3 voter fixtures, no membership,
// replication or HTTP) as a separate "protocol only" row. Peers: Redis single,
// Redlock over 3 Redis, an etcd 3-member cluster (installed from Debian with
// apt-get when missing). Workloads: sequential lock p50, lock+release cycles/s
// at C=1/8/64 on own keys, one key contended by 8 clients (wins/s and each
// node's share), a 24-client contention run counting failed holder releases,
// and the library replica's lag. Everything bounded in count and time, on 127.0.0.1.
//
// Two more rows show key affinity at the protocol level alone: the bare
// voters with the clients inside them, spread over the 3 voters, without and
// with src/node/affinity.ts.
//
//   node dist/bench/compare.js [--quick] [--conc=1,8,64] [--systems=http,http-noaff,library,protocol,spread,affinity,etcd,redis,redlock] [--prof]
// (--prof: the agents run with --cpu-prof, profiles in bench/results/prof/agents/.)
// (http-noaff: the same agents with --affinity=false, requests spread the same way.)
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { isLockerError } from "../src/errors.js";
import { startClient, startCluster } from "./lib/cluster.js";
import { httpError, httpJson, startAgents, startLibraryNode, type AgentCluster } from "./lib/agents.js";
import { freePort } from "./lib/ports.js";
import type { LockerNode } from "../src/node/node.js";
import type { Locker } from "../src/locker.js";
import { closedLoop, type LoadResult } from "./lib/load.js";
import { atExit, interrupted, startServer, sleep, type Fixture } from "./lib/proc.js";
import { fmtMs, fmtNum, fmtRatio, machineInfo, RESULTS_DIR, summarize, table, writeResults, type LatencySummary } from "./lib/stats.js";
import { flag } from "./lib/args.js";

const quick = flag("quick") !== undefined;
const CONCURRENCIES = (flag("conc") ?? "1,8,64").split(",").map(Number);
const SYSTEMS = (flag("systems") ?? "http,http-noaff,library,protocol,spread,affinity,etcd,redis,redlock").split(",");
const DURATION_MS = quick ? 1000 : 2000;
const AGENT_EXEC_ARGV = flag("prof") !== undefined ? ["--cpu-prof", `--cpu-prof-dir=${join(RESULTS_DIR, "prof", "agents")}`] : [];
const LEASE_MS = 10_000;
const out = (s: string): void => void process.stdout.write(s + "\n");

/** One system's lock and release for a key and a holder's value; lock resolves false when the key is held. */
interface LockSystem {
  name: string;
  /** Entry points the workers are spread over (worker w talks to node w % nodes); 1 when there is one. */
  nodes?: number;
  lock(key: string, value: string, worker: number): Promise<boolean>;
  release(key: string, value: string, worker: number): Promise<void>;
  close(): Promise<void>;
}

interface Figure {
  concurrency: number;
  cyclesPerSec: number;
  cycles: number;
  refused: number;
  errors: Record<string, number>;
  latency: LatencySummary;
}

// ---- helpers ----

function have(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Installs Debian packages when a command is missing (needs root); returns whether the command exists afterwards. */
function ensure(cmd: string, packages: string[]): boolean {
  if (have(cmd)) return true;
  out(`${cmd} not found: apt-get install ${packages.join(" ")} ...`);
  try {
    execFileSync("apt-get", ["update"], { stdio: "ignore", timeout: 180_000 });
    execFileSync("apt-get", ["install", "-y", "--no-install-recommends", ...packages], {
      stdio: "ignore",
      timeout: 300_000,
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  } catch (e) {
    out(`  install failed: ${(e as Error).message.split("\n")[0]}`);
  }
  return have(cmd);
}

async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < end && i < 1000; i++) {
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

// ---- etcd ----

/** JSON over one keep-alive HTTP agent to etcd's gRPC gateway. */
function etcdPost(agent: http.Agent, port: number, path: string, body: unknown): Promise<Record<string, unknown>> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) }, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode !== 200) {
            reject(new Error(`etcd ${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
            return;
          }
          try {
            resolve(JSON.parse(text) as Record<string, unknown>);
          } catch (e) {
            reject(e as Error);
          }
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`etcd ${path}: timeout`)));
    req.on("error", reject);
    req.end(data);
  });
}

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

async function startEtcd(): Promise<{ system: LockSystem; servers: Fixture[]; dataDir: string; leaderPort: number }> {
  if (!ensure("etcd", ["etcd-server", "etcd-client"])) throw new Error("etcd is not installed and could not be installed");
  const dataDir = mkdtempSync(join(tmpdir(), "locker-bench-etcd-"));
  atExit(() => rmSync(dataDir, { recursive: true, force: true }));
  const members: Array<{ name: string; client: number; peer: number }> = [];
  for (let i = 1; i <= 3; i++) members.push({ name: `m${i}`, client: await freePort(), peer: await freePort() });
  const cluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(",");
  const token = `locker-bench-${randomBytes(4).toString("hex")}`;
  const servers: Fixture[] = [];
  try {
    for (const m of members) {
      servers.push(
        await startServer(`etcd-${m.name}`, "etcd", [
          "--name", m.name,
          "--data-dir", join(dataDir, m.name),
          "--listen-client-urls", `http://127.0.0.1:${m.client}`,
          "--advertise-client-urls", `http://127.0.0.1:${m.client}`,
          "--listen-peer-urls", `http://127.0.0.1:${m.peer}`,
          "--initial-advertise-peer-urls", `http://127.0.0.1:${m.peer}`,
          "--initial-cluster", cluster,
          "--initial-cluster-state", "new",
          "--initial-cluster-token", token,
          "--log-level", "warn",
        ], join(dataDir, `${m.name}.log`)),
      );
    }
    const probeAgent = new http.Agent({ keepAlive: false });
    // A cluster is up when a member reports a leader.
    let leaderId = "";
    await waitFor("etcd cluster", 20_000, async () => {
      const s = await etcdPost(probeAgent, members[0]!.client, "/v3/maintenance/status", {});
      leaderId = String(s.leader ?? "");
      return leaderId !== "" && leaderId !== "0";
    });
    // Talk to the leader (the best case for etcd: no forwarding hop).
    let leaderPort = members[0]!.client;
    for (const m of members) {
      const s = await etcdPost(probeAgent, m.client, "/v3/maintenance/status", {});
      if (String((s.header as Record<string, unknown>)?.member_id) === leaderId) leaderPort = m.client;
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const system: LockSystem = {
      name: "etcd (3 members)",
      async lock(key, value) {
        const grant = await etcdPost(agent, leaderPort, "/v3/lease/grant", { TTL: Math.ceil(LEASE_MS / 1000) });
        const lease = String(grant.ID);
        const r = await etcdPost(agent, leaderPort, "/v3/kv/txn", {
          compare: [{ key: b64(key), target: "CREATE", result: "EQUAL", create_revision: "0" }],
          success: [{ request_put: { key: b64(key), value: b64(value), lease } }],
        });
        return r.succeeded === true;
      },
      async release(key, value) {
        const r = await etcdPost(agent, leaderPort, "/v3/kv/txn", {
          compare: [{ key: b64(key), target: "VALUE", result: "EQUAL", value: b64(value) }],
          success: [{ request_delete_range: { key: b64(key) } }],
        });
        if (r.succeeded !== true) throw new Error("etcd release: value differs");
      },
      async close() {
        agent.destroy();
      },
    };
    return { system, servers, dataDir, leaderPort };
  } catch (e) {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
}

// ---- redis ----

const COMPARE_AND_DELETE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

type CadRedis = Redis & { cad(key: string, value: string): Promise<number> };

function redisClient(port: number): CadRedis {
  const r = new Redis({ host: "127.0.0.1", port, lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true });
  r.defineCommand("cad", { numberOfKeys: 1, lua: COMPARE_AND_DELETE });
  return r as CadRedis;
}

async function startRedis(count: number, dir: string): Promise<{ servers: Fixture[]; ports: number[] }> {
  if (!ensure("redis-server", ["redis-server"])) throw new Error("redis-server is not installed and could not be installed");
  const servers: Fixture[] = [];
  const ports: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      ports.push(port);
      servers.push(
        await startServer(`redis-${i + 1}`, "redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", ""], join(dir, `redis-${i + 1}.log`)),
      );
    }
    for (const port of ports) {
      await waitFor(`redis on ${port}`, 10_000, async () => {
        const r = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        try {
          await r.connect();
          return (await r.ping()) === "PONG";
        } finally {
          r.disconnect();
        }
      });
    }
    return { servers, ports };
  } catch (e) {
    await Promise.all(servers.map((s) => s.stop()));
    throw e;
  }
}

function redisSystem(port: number): LockSystem {
  const r = redisClient(port);
  return {
    name: "Redis (1 instance)",
    async lock(key, value) {
      return (await r.set(key, value, "PX", LEASE_MS, "NX")) === "OK";
    },
    async release(key, value) {
      if ((await r.cad(key, value)) !== 1) throw new Error("redis release: value differs");
    },
    async close() {
      r.disconnect();
    },
  };
}

/** Redlock (redis.io/docs/manual/patterns/distributed-locks): SET NX PX on every instance, a majority within the validity time. */
function redlockSystem(ports: number[]): LockSystem {
  const clients = ports.map(redisClient);
  const quorum = Math.floor(clients.length / 2) + 1;
  const driftMs = Math.round(LEASE_MS * 0.01) + 2;
  const releaseAll = (key: string, value: string): Promise<number[]> => Promise.all(clients.map((c) => c.cad(key, value).catch(() => 0)));
  return {
    name: "Redlock (3 instances)",
    async lock(key, value) {
      const t0 = performance.now();
      const got = await Promise.all(clients.map((c) => c.set(key, value, "PX", LEASE_MS, "NX").then((x) => x === "OK", () => false)));
      const n = got.filter(Boolean).length;
      const validityMs = LEASE_MS - (performance.now() - t0) - driftMs;
      if (n >= quorum && validityMs > 0) return true;
      await releaseAll(key, value);
      return false;
    },
    async release(key, value) {
      const n = (await releaseAll(key, value)).filter((x) => x === 1).length;
      if (n < quorum) throw new Error("redlock release: fewer than a majority held the value");
    },
    async close() {
      for (const c of clients) c.disconnect();
    },
  };
}

// ---- the workloads ----

interface Contended {
  clients: number;
  winsPerSec: number;
  wins: number;
  refused: number;
  /** Acquisitions by the clients of each entry node (worker w is on node w % nodes). */
  winsByNode: number[];
  /** Largest share over the smallest (1 = fair; Infinity when a node won nothing). */
  shareSpread: number;
  /** A holder's first release attempt threw (it then retried until definite, so the key is not blocked). */
  releaseFailures: number;
  errors: Record<string, number>;
  latency: LatencySummary;
}

interface SystemResult {
  name: string;
  notes?: string;
  lockP50Ms?: number;
  releaseP50Ms?: number;
  figures?: Figure[];
  contended?: Contended;
  contention24?: Contended;
  replicaLag?: LatencySummary & { note: string };
  /** HTTP systems: `GET /v1/health` round trip, sequential, warm (the HTTP part of a request). */
  healthP50Ms?: number;
  skipped?: string;
}

const errorCode = (e: unknown): string => (e && typeof e === "object" && "code" in e ? String((e as { code: unknown }).code) : (e as Error)?.message?.slice(0, 60) ?? String(e));

/**
 * Sequential lock and release latency on keys of its own (each reused, as a
 * client that locks the same keys again), after a warm-up of up to 300
 * cycles or 1.5 s: users run long-lived agents, so this is the steady state,
 * not the JIT's first minutes (with 20 warm-up cycles the figure was up to
 * twice the warm one).
 */
async function sequentialLatency(system: LockSystem): Promise<{ lock: LatencySummary; release: LatencySummary }> {
  const lock: number[] = [];
  const release: number[] = [];
  const run = Date.now().toString(36);
  const warmEnd = performance.now() + (quick ? 500 : 1500);
  let end = Infinity;
  for (let i = -300; i < 400; i++) {
    if (i < 0 && performance.now() >= warmEnd) i = 0;
    if (i === 0 && end === Infinity) end = performance.now() + (quick ? 1000 : 2000);
    if (performance.now() >= end) break;
    const key = `seq/${run}/${((i % 16) + 16) % 16}`;
    const value = `s${i}`;
    const w = ((i % 3) + 3) % 3; // spread over the entry nodes, as a load balancer would
    const t0 = performance.now();
    if (!(await system.lock(key, value, w))) continue;
    const t1 = performance.now();
    await system.release(key, value, w);
    const t2 = performance.now();
    if (i >= 0) {
      lock.push(t1 - t0);
      release.push(t2 - t1);
    }
  }
  return { lock: summarize(lock), release: summarize(release) };
}

/** `GET /v1/health` round trips to one agent, sequential, after a warm-up: what HTTP alone costs. */
async function healthLatency(cluster: AgentCluster): Promise<LatencySummary> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const samples: number[] = [];
    for (let i = -300; i < 1000; i++) {
      const t0 = performance.now();
      const r = await httpJson(agent, cluster.agents[0]!.http, "GET", "/v1/health");
      if (r.status !== 200) throw new Error(`GET /v1/health: HTTP ${r.status}`);
      if (i >= 0) samples.push(performance.now() - t0);
    }
    return summarize(samples);
  } finally {
    agent.destroy();
  }
}

/** Each worker locks and releases a key of its own, over and over. A refused lock counts as refused, not as a cycle. */
async function runWorkload(system: LockSystem, concurrency: number): Promise<Figure> {
  const run = `${Date.now().toString(36)}-${concurrency}`;
  const r: LoadResult = await closedLoop({ concurrency, durationMs: DURATION_MS, maxOps: 1_000_000, warmupOps: Math.max(20, 2 * concurrency) }, async (w, i) => {
    const key = `cmp/${run}/${w}`;
    const value = `w${w}-${i}`;
    if (!(await system.lock(key, value, w))) return false;
    await system.release(key, value, w);
    return true;
  });
  return { concurrency, cyclesPerSec: r.okPerSec, cycles: r.ok, refused: r.refused, errors: r.errors, latency: summarize(r.latencies) };
}

/**
 * One key, `clients` workers: a winner releases at once. The holder's first
 * release is what a user's code does; if it throws, that is a failed holder
 * release (counted), and the worker then retries until the answer is definite
 * so one failure does not block the key for a whole lease and skew the rest.
 */
async function runContended(system: LockSystem, clients: number): Promise<Contended> {
  const nodes = system.nodes ?? 1;
  const key = `contended/${Date.now().toString(36)}/${clients}`;
  const winsByNode = new Array<number>(nodes).fill(0);
  let releaseFailures = 0;
  const errors: Record<string, number> = {};
  const releaseUntilDefinite = async (value: string, w: number): Promise<void> => {
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await system.release(key, value, w);
        return;
      } catch (e) {
        const c = errorCode(e);
        if (c === "not_found" || c === "mismatch") return;
      }
    }
  };
  const r = await closedLoop({ concurrency: clients, durationMs: DURATION_MS, maxOps: 1_000_000 }, async (w, i) => {
    const value = `c${w}-${i}`;
    let won: boolean;
    try {
      won = await system.lock(key, value, w);
    } catch (e) {
      // A lock whose outcome is unknown may hold the key: release it (a no-op if it did not land).
      if (errorCode(e) === "timeout") await releaseUntilDefinite(value, w);
      throw e;
    }
    if (!won) return false;
    winsByNode[w % nodes]!++;
    try {
      await system.release(key, value, w);
    } catch (e) {
      releaseFailures++;
      const k = `release ${errorCode(e)}`;
      errors[k] = (errors[k] ?? 0) + 1;
      await releaseUntilDefinite(value, w);
    }
    return true;
  });
  for (const [k, n] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + n;
  const min = Math.min(...winsByNode);
  const max = Math.max(...winsByNode);
  return {
    clients,
    winsPerSec: r.okPerSec,
    wins: r.ok,
    refused: r.refused,
    winsByNode,
    shareSpread: nodes === 1 ? 1 : min === 0 ? Infinity : max / min,
    releaseFailures,
    errors,
    latency: summarize(r.latencies),
  };
}

async function measure(system: LockSystem, notes: string): Promise<SystemResult> {
  const res: SystemResult = { name: system.name, notes, figures: [] };
  const seq = await sequentialLatency(system);
  res.lockP50Ms = seq.lock.p50Ms;
  res.releaseP50Ms = seq.release.p50Ms;
  out(`  ${system.name}: sequential lock p50 ${fmtMs(seq.lock.p50Ms)} (p99 ${fmtMs(seq.lock.p99Ms)}), release p50 ${fmtMs(seq.release.p50Ms)}`);
  for (const c of CONCURRENCIES) {
    const f = await runWorkload(system, c);
    res.figures!.push(f);
    out(`  ${system.name} c=${c}: ${fmtNum(f.cyclesPerSec)} cycles/s, p50 ${fmtMs(f.latency.p50Ms)}, p99 ${fmtMs(f.latency.p99Ms)}${f.refused ? `, refused ${f.refused}` : ""}${Object.keys(f.errors).length ? `, errors ${JSON.stringify(f.errors)}` : ""}`);
  }
  for (const clients of [8, 24]) {
    const k = await runContended(system, clients);
    if (clients === 8) res.contended = k;
    else res.contention24 = k;
    out(`  ${system.name} one key, ${clients} clients: ${fmtNum(k.winsPerSec)} wins/s, by node ${k.winsByNode.join("/")}, failed holder releases ${k.releaseFailures}${Object.keys(k.errors).length ? `, errors ${JSON.stringify(k.errors)}` : ""}`);
  }
  return res;
}

// ---- locker's protocol with clients spread over the voters (with and without affinity) ----

/** `total` workers over `n` nodes as evenly as possible, the first nodes taking the remainder. */
const split = (total: number, n: number): number[] => Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));

interface FixtureCycles {
  ok: number;
  refused: number;
  errors: Record<string, number>;
  okPerSec: number;
  releaseFailures: number;
  latency: LatencySummary;
}

/**
 * The bare-Locker voters with the clients inside them, spread over the 3
 * voter processes (as devices talking to their local node): each voter runs
 * its share of the workers, and the figures are summed.
 */
async function measureSpread(name: string, voters: Fixture[], notes: string): Promise<SystemResult> {
  const run = Date.now().toString(36);
  const res: SystemResult = { name, notes, figures: [] };
  const seq = await voters[0]!.call<Record<string, LatencySummary>>("seq", { cycles: 200, maxMs: quick ? 1000 : 2000, leaseMs: LEASE_MS, prefix: `seq-${run}` });
  res.lockP50Ms = seq.lock?.p50Ms ?? NaN;
  res.releaseP50Ms = seq.release?.p50Ms ?? NaN;
  out(`  ${name}: sequential lock p50 ${fmtMs(res.lockP50Ms)}, release p50 ${fmtMs(res.releaseP50Ms)} (client in voter 1)`);
  const onAll = (counts: number[], keys: "own" | "contended", contendedKey?: string): Promise<Array<FixtureCycles | undefined>> =>
    Promise.all(
      voters.map((v, i) =>
        counts[i]! > 0
          ? v.call<FixtureCycles>("cycles", { concurrency: counts[i], durationMs: DURATION_MS, leaseMs: LEASE_MS, prefix: `${run}-v${i}`, keys, ...(contendedKey ? { contendedKey } : {}) }, DURATION_MS + 60_000)
          : Promise.resolve(undefined),
      ),
    );
  const merge = (rs: Array<FixtureCycles | undefined>): Record<string, number> => {
    const errors: Record<string, number> = {};
    for (const r of rs) for (const [k, n] of Object.entries(r?.errors ?? {})) errors[k] = (errors[k] ?? 0) + n;
    return errors;
  };
  for (const c of CONCURRENCIES) {
    const rs = await onAll(split(c, voters.length), "own");
    const f: Figure = {
      concurrency: c,
      cyclesPerSec: rs.reduce((a, r) => a + (r?.okPerSec ?? 0), 0),
      cycles: rs.reduce((a, r) => a + (r?.ok ?? 0), 0),
      refused: rs.reduce((a, r) => a + (r?.refused ?? 0), 0),
      errors: merge(rs),
      latency: rs[0]!.latency,
    };
    res.figures!.push(f);
    out(`  ${name} c=${c}: ${fmtNum(f.cyclesPerSec)} cycles/s, p50 ${fmtMs(f.latency.p50Ms)} (voter 1's clients)${Object.keys(f.errors).length ? `, errors ${JSON.stringify(f.errors)}` : ""}`);
  }
  for (const clients of [8, 24]) {
    const rs = await onAll(split(clients, voters.length), "contended", `contended/${run}/${clients}`);
    const winsByNode = rs.map((r) => r?.ok ?? 0);
    const min = Math.min(...winsByNode);
    const k: Contended = {
      clients,
      winsPerSec: rs.reduce((a, r) => a + (r?.okPerSec ?? 0), 0),
      wins: winsByNode.reduce((a, b) => a + b, 0),
      refused: rs.reduce((a, r) => a + (r?.refused ?? 0), 0),
      winsByNode,
      shareSpread: min === 0 ? Infinity : Math.max(...winsByNode) / min,
      releaseFailures: rs.reduce((a, r) => a + (r?.releaseFailures ?? 0), 0),
      errors: merge(rs),
      latency: rs[0]!.latency,
    };
    if (clients === 8) res.contended = k;
    else res.contention24 = k;
    out(`  ${name} one key, ${clients} clients: ${fmtNum(k.winsPerSec)} wins/s, by node ${winsByNode.join("/")}, failed holder releases ${k.releaseFailures}${Object.keys(k.errors).length ? `, errors ${JSON.stringify(k.errors)}` : ""}`);
  }
  return res;
}

// ---- locker as users run it ----

/** The agents' HTTP API: worker w talks to agent w % 3 over its own keep-alive pool (as clients behind a load balancer). */
function httpSystem(cluster: AgentCluster): LockSystem & { agents: http.Agent[] } {
  const agents = cluster.agents.map(() => new http.Agent({ keepAlive: true, maxSockets: 128 }));
  const at = (w: number): number => w % cluster.agents.length;
  const path = (key: string): string => `/v1/keys/${key.split("/").map(encodeURIComponent).join("/")}`;
  return {
    name: "locker HTTP (3 agents)",
    nodes: cluster.agents.length,
    agents,
    async lock(key, value, w) {
      const i = at(w);
      const r = await httpJson(agents[i]!, cluster.agents[i]!.http, "PUT", path(key), { value, leaseMs: LEASE_MS });
      if (r.status === 200) return true;
      if (r.json.error === "locked") return false;
      throw httpError(r, "lock");
    },
    async release(key, value, w) {
      const i = at(w);
      const r = await httpJson(agents[i]!, cluster.agents[i]!.http, "POST", `${path(key)}/release`, { value });
      if (r.status !== 200) throw httpError(r, "release");
    },
    async close() {
      for (const a of agents) a.destroy();
    },
  };
}

function lockerSystem(name: string, L: Locker): LockSystem {
  return {
    name,
    async lock(key, value) {
      try {
        await L.lock(key, value, { leaseMs: LEASE_MS });
        return true;
      } catch (e) {
        if (isLockerError(e, "locked")) return false;
        throw e;
      }
    },
    release: (key, value) => L.release(key, value),
    close: () => Promise.resolve(),
  };
}

/**
 * Replica lag at low load: a lock through an agent's HTTP API, and the time
 * from its 200 until the library replica's local view shows the key (0 when
 * the replica saw it before the answer came back). One sample every ~10 ms.
 */
async function replicaLag(cluster: AgentCluster, node: LockerNode): Promise<LatencySummary & { note: string }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const seenAt = new Map<string, number>();
  const onChanged = ({ key, entry }: { key: string; entry: unknown }): void => {
    if (entry !== undefined && key.startsWith("lag/") && !seenAt.has(key)) seenAt.set(key, performance.now());
  };
  node.locker.on("changed", onChanged);
  const lags: number[] = [];
  let missed = 0;
  const run = Date.now().toString(36);
  try {
    const end = performance.now() + (quick ? 2000 : 4000);
    for (let i = 0; i < 200 && performance.now() < end; i++) {
      const key = `lag/${run}/${i}`;
      const a = cluster.agents[i % cluster.agents.length]!;
      const r = await httpJson(agent, a.http, "PUT", `/v1/keys/${encodeURIComponent(key)}`, { value: "x", leaseMs: LEASE_MS });
      const done = performance.now();
      if (r.status !== 200) continue;
      const waitEnd = done + 1000;
      while (!seenAt.has(key) && performance.now() < waitEnd) await sleep(1);
      const seen = seenAt.get(key);
      if (seen === undefined) missed++;
      else lags.push(Math.max(0, seen - done));
      await httpJson(agent, a.http, "POST", `/v1/keys/${encodeURIComponent(key)}/release`, { value: "x" }).catch(() => undefined);
      await sleep(10);
    }
  } finally {
    node.locker.off("changed", onChanged);
    agent.destroy();
  }
  return { ...summarize(lags), note: `${lags.length} samples, ${missed} not seen within 1 s (polled every 1 ms: ±1 ms)` };
}

// ---- main ----

const results: Record<string, unknown> = {
  startedAt: new Date().toISOString(),
  machine: await machineInfo(),
  sharedMachine: "2 shared cores; other engineers ran tests at the same time: compare systems only within this run",
  leaseMs: LEASE_MS,
  durationMs: DURATION_MS,
  systems: {},
};
const systems = results.systems as Record<string, SystemResult>;
const work = mkdtempSync(join(tmpdir(), "locker-bench-compare-"));
atExit(() => rmSync(work, { recursive: true, force: true }));
const t0 = Date.now();

try {
  if (SYSTEMS.includes("http") || SYSTEMS.includes("library")) {
    out("locker: 3 agents (bin/locker.js agent) as OS processes ...");
    let cluster: AgentCluster | undefined;
    try {
      cluster = await startAgents({ execArgv: AGENT_EXEC_ARGV });
      if (SYSTEMS.includes("http")) {
        const s = httpSystem(cluster);
        try {
          systems.http = await measure(s, "3 `locker agent` processes (voters v1,v2,v3); HTTP/1.1 keep-alive; worker w → agent w % 3");
          systems.http.healthP50Ms = (await healthLatency(cluster)).p50Ms;
          out(`  GET /v1/health p50 ${fmtMs(systems.http.healthP50Ms)}`);
        } finally {
          await s.close();
        }
      }
      if (SYSTEMS.includes("library")) {
        const node = await startLibraryNode(cluster);
        try {
          systems.library = await measure(lockerSystem("locker library node", node.locker), "startNode({ replica: true }) in the bench process, joined to the 3 agents");
          systems.library.replicaLag = await replicaLag(cluster, node);
          const l = systems.library.replicaLag;
          out(`  replica lag (HTTP lock answered → library replica sees it): p50 ${fmtMs(l.p50Ms)}, p99 ${fmtMs(l.p99Ms)}; ${l.note}`);
        } finally {
          await node.close();
        }
      }
    } catch (e) {
      const why = `locker agents could not run: ${(e as Error).message}`;
      for (const k of ["http", "library"]) if (SYSTEMS.includes(k) && !systems[k]) systems[k] = { name: k, skipped: why };
      out(`  skipped: ${why}`);
    } finally {
      await cluster?.stop();
    }
  }

  if (SYSTEMS.includes("http-noaff")) {
    out("locker: 3 agents with --affinity=false ...");
    let cluster: AgentCluster | undefined;
    try {
      cluster = await startAgents({ agentArgs: ["--affinity=false"], execArgv: AGENT_EXEC_ARGV });
      const s = httpSystem(cluster);
      try {
        systems["http-noaff"] = await measure(s, "the same 3 agents started with --affinity=false (each request proposed where it arrives); worker w → agent w % 3");
        systems["http-noaff"]!.name = "locker agents, HTTP, no key affinity";
      } finally {
        await s.close();
      }
    } catch (e) {
      systems["http-noaff"] = { name: "http-noaff", skipped: `could not run: ${(e as Error).message}` };
    } finally {
      await cluster?.stop();
    }
  }

  if (SYSTEMS.includes("protocol")) {
    out("locker protocol only: 3 bare voter Lockers as child processes, client Locker in this process ...");
    try {
      const cluster = await startCluster(3);
      const client = await startClient("client", cluster.specs);
      try {
        systems.protocol = await measure(lockerSystem("locker protocol only (bare Lockers)", client.locker), "bare Lockers on UDP: no membership, replication, agent or HTTP");
      } finally {
        await client.close();
        await cluster.stop();
      }
    } catch (e) {
      systems.protocol = { name: "protocol", skipped: `locker could not run: ${(e as Error).message}` };
      out(`  skipped: ${(e as Error).message}`);
    }
  }

  for (const [key, withAffinity] of [["spread", false], ["affinity", true]] as const) {
    if (!SYSTEMS.includes(key)) continue;
    const label = withAffinity ? "locker protocol, spread, key affinity" : "locker protocol, spread over voters";
    out(`${label}: 3 bare voter Lockers, clients inside each voter ...`);
    try {
      const cluster = await startCluster(3, [], { affinity: withAffinity });
      try {
        systems[key] = await measureSpread(label, cluster.voters, `bare Lockers on UDP, clients embedded in the 3 voter processes${withAffinity ? "; src/node/affinity.ts routes each key to its rendezvous coordinator (all voters taken as up: no membership)" : ""}`);
        const stats = await Promise.all(cluster.voters.map((v) => v.call<{ affinity?: unknown }>("summary")));
        if (withAffinity) systems[key]!.notes += `; affinity stats per voter: ${JSON.stringify(stats.map((x) => x.affinity))}`;
      } finally {
        await cluster.stop();
      }
    } catch (e) {
      systems[key] = { name: label, skipped: `could not run: ${(e as Error).message}` };
      out(`  skipped: ${(e as Error).message}`);
    }
  }

  if (SYSTEMS.includes("etcd")) {
    out("etcd: 3-member cluster on loopback ports ...");
    try {
      const { system, servers, dataDir } = await startEtcd();
      try {
        systems.etcd = await measure(system, `etcd ${execFileSync("etcd", ["--version"]).toString().split("\n")[0]}; JSON gateway /v3 over keep-alive HTTP/1.1 to the leader; data dir ${dataDir} (disk, fsync on)`);
      } finally {
        await system.close();
        await Promise.all(servers.map((s) => s.stop()));
        rmSync(dataDir, { recursive: true, force: true });
      }
    } catch (e) {
      systems.etcd = { name: "etcd", skipped: (e as Error).message };
      out(`  skipped: ${(e as Error).message}`);
    }
  }

  if (SYSTEMS.includes("redis") || SYSTEMS.includes("redlock")) {
    out("redis: 3 instances on loopback ports (no persistence) ...");
    try {
      const { servers, ports } = await startRedis(3, work);
      try {
        const version = execFileSync("redis-server", ["--version"]).toString().trim();
        if (SYSTEMS.includes("redis")) {
          const s = redisSystem(ports[0]!);
          try {
            systems.redis = await measure(s, `${version}; ioredis, one connection; SET NX PX + Lua compare-and-delete`);
          } finally {
            await s.close();
          }
        }
        if (SYSTEMS.includes("redlock")) {
          const s = redlockSystem(ports);
          try {
            systems.redlock = await measure(s, `${version}; ioredis, one connection per instance; Redlock: majority of 3 SET NX PX, release on all`);
          } finally {
            await s.close();
          }
        }
      } finally {
        await Promise.all(servers.map((s) => s.stop()));
      }
    } catch (e) {
      systems.redis = { name: "redis", skipped: (e as Error).message };
      out(`  skipped: ${(e as Error).message}`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

// ---- report ----
const cyc = (s: SystemResult, c: number): number => s.figures?.find((f) => f.concurrency === c)?.cyclesPerSec ?? NaN;
const names = Object.keys(systems);
const rows: string[][] = [];
for (const n of names) {
  const s = systems[n]!;
  if (s.skipped) {
    rows.push([s.name, "skipped: " + s.skipped.slice(0, 80)]);
    continue;
  }
  rows.push([
    s.name,
    fmtMs(s.lockP50Ms ?? NaN),
    ...CONCURRENCIES.map((c) => fmtNum(cyc(s, c))),
    fmtNum(s.contended?.winsPerSec ?? NaN),
    (s.contended?.winsByNode.length ?? 0) > 1 ? `${s.contended!.winsByNode.join("/")} (${fmtRatio(s.contended!.shareSpread)})` : "-",
    String(s.contention24?.releaseFailures ?? "-"),
    s.replicaLag ? `${fmtMs(s.replicaLag.p50Ms)} / ${fmtMs(s.replicaLag.p99Ms)}` : "-",
  ]);
}
out(
  table(
    "one run, same machine (2 shared cores, others running tests): lease 10 s, each worker on its own key for cycles",
    ["system", "lock p50", ...CONCURRENCIES.map((c) => `cycles/s C=${c}`), "8 on 1 key wins/s", "wins by node (max/min)", "24 on 1 key: failed releases", "replica lag p50/p99"],
    rows,
  ),
);

const ratioRows: string[][] = [];
for (const ours of ["http", "http-noaff", "library", "protocol", "spread", "affinity"]) {
  const o = systems[ours];
  if (!o?.figures) continue;
  for (const theirs of ["redis", "redlock", "etcd"]) {
    const t = systems[theirs];
    if (!t?.figures) continue;
    ratioRows.push([
      `${o.name} / ${t.name}`,
      fmtRatio((o.lockP50Ms ?? NaN) / (t.lockP50Ms ?? NaN)),
      ...CONCURRENCIES.map((c) => fmtRatio(cyc(o, c) / cyc(t, c))),
      fmtRatio((o.contended?.winsPerSec ?? NaN) / (t.contended?.winsPerSec ?? NaN)),
    ]);
  }
}
if (systems.http?.figures && systems.library?.figures) {
  const h = systems.http;
  const l = systems.library;
  ratioRows.push(["locker HTTP / library", fmtRatio((h.lockP50Ms ?? NaN) / (l.lockP50Ms ?? NaN)), ...CONCURRENCIES.map((c) => fmtRatio(cyc(h, c) / cyc(l, c))), fmtRatio((h.contended?.winsPerSec ?? NaN) / (l.contended?.winsPerSec ?? NaN))]);
}
out(table("ratios (lock p50: <1× is locker faster; cycles/s and wins/s: >1× is locker faster)", ["pair", "lock p50", ...CONCURRENCIES.map((c) => `C=${c}`), "contended wins/s"], ratioRows));
results.ratios = ratioRows;

// The targets of issue 12, each from this run's figures: met, missed, or not measured (a system not run).
const mustShow: string[][] = [];
const check = (what: string, value: number, target: number, atLeast: boolean, show: (v: number) => string): void => {
  const met = Number.isFinite(value) && Number.isFinite(target) ? (atLeast ? value >= target : value <= target) : undefined;
  mustShow.push([what, show(value), `${atLeast ? "≥" : "≤"} ${show(target)}`, met === undefined ? "not measured" : met ? "met" : "missed"]);
};
{
  const h = systems.http;
  const l = systems.library;
  const rl = systems.redlock;
  const p = systems.protocol;
  const c64 = CONCURRENCIES.includes(64) ? 64 : CONCURRENCIES[CONCURRENCIES.length - 1]!;
  const ratio = (v: number): string => fmtRatio(v);
  if (l && rl) check(`library C=${c64} / Redlock`, cyc(l, c64) / cyc(rl, c64), 1, true, ratio);
  if (h && l) check(`HTTP C=${c64} / library`, cyc(h, c64) / cyc(l, c64), 0.8, true, ratio);
  if (h && CONCURRENCIES.includes(8)) check(`HTTP C=${c64} / HTTP C=8`, cyc(h, c64) / cyc(h, 8), 1, true, ratio);
  // "the floor + the HTTP round trip of /v1/health + 1 quorum round": the bare Lockers' sequential lock is the floor and one round.
  if (h) check("HTTP sequential lock p50 (ms)", h.lockP50Ms ?? NaN, (h.healthP50Ms ?? NaN) + (p?.lockP50Ms ?? NaN), false, (v) => fmtMs(v));
  if (h && rl) check("HTTP contended wins/s / Redlock", (h.contended?.winsPerSec ?? NaN) / (rl.contended?.winsPerSec ?? NaN), 1, true, ratio);
  if (l && rl) check("library contended wins/s / Redlock", (l.contended?.winsPerSec ?? NaN) / (rl.contended?.winsPerSec ?? NaN), 1, true, ratio);
  if (h?.contended) check("HTTP contended: largest node share / smallest", h.contended.shareSpread, 2, false, ratio);
  for (const s of [h, l]) if (s?.contention24) check(`${s.name}: failed holder releases, 24 clients`, s.contention24.releaseFailures, 0, false, (v) => String(v));
  if (l?.replicaLag) check("replica lag p99 (ms)", l.replicaLag.p99Ms, 10, false, (v) => fmtMs(v));
}
out(table("must show (issue 12), from this run", ["target", "measured", "wanted", ""], mustShow));
results.mustShow = mustShow;
results.elapsedMs = Date.now() - t0;
out(`\nelapsed ${fmtNum((Date.now() - t0) / 1000, 1)} s; the machine was shared (2 cores, others' tests running): compare within this run only.`);
if (interrupted()) {
  out("\ninterrupted: no results written");
  process.exit(130);
}
const path = writeResults("compare", results);
out(`results: ${path}`);
process.exit(0);
