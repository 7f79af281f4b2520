// `npm run bench:compare`: the same lock+release workload, on this machine in
// this run, against locker (3 voter processes), an etcd 3-member cluster
// (lease grant + txn on create revision == 0; release = txn on value + delete,
// through etcd's JSON gRPC gateway), Redis (SET NX PX; compare-and-delete in
// Lua) and Redlock over 3 Redis instances. Starts and stops its own servers on
// free loopback ports; installs Debian's etcd-server, etcd-client and
// redis-server with apt-get when they are missing.
//
//   node dist/bench/compare.js [--quick] [--conc=1,8,64] [--systems=locker,etcd,redis,redlock]
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { isLockerError } from "../src/errors.js";
import { startClient, startCluster } from "./lib/cluster.js";
import { closedLoop, type LoadResult } from "./lib/load.js";
import { atExit, interrupted, startServer, sleep, type Fixture } from "./lib/proc.js";
import { fmtMs, fmtNum, fmtRatio, machineInfo, summarize, table, writeResults, type LatencySummary } from "./lib/stats.js";
import { flag } from "./lib/args.js";

const quick = flag("quick") !== undefined;
const CONCURRENCIES = (flag("conc") ?? "1,8,64").split(",").map(Number);
const SYSTEMS = (flag("systems") ?? "locker,etcd,redis,redlock").split(",");
const DURATION_MS = quick ? 1500 : 3000;
const LEASE_MS = 10_000;
const out = (s: string): void => void process.stdout.write(s + "\n");

/** One system's lock and release for a key and a holder's value; lock resolves false when the key is held. */
interface LockSystem {
  name: string;
  lock(key: string, value: string): Promise<boolean>;
  release(key: string, value: string): Promise<void>;
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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

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

// ---- the workload ----

/** Each worker locks and releases a key of its own, over and over. A refused lock counts as refused, not as a cycle. */
async function runWorkload(system: LockSystem, concurrency: number): Promise<Figure> {
  const run = `${Date.now().toString(36)}-${concurrency}`;
  const r: LoadResult = await closedLoop({ concurrency, durationMs: DURATION_MS, maxOps: 1_000_000, warmupOps: Math.max(20, 2 * concurrency) }, async (w, i) => {
    const key = `cmp/${run}/${w}`;
    const value = `w${w}-${i}`;
    if (!(await system.lock(key, value))) return false;
    await system.release(key, value);
    return true;
  });
  return { concurrency, cyclesPerSec: r.okPerSec, cycles: r.ok, refused: r.refused, errors: r.errors, latency: summarize(r.latencies) };
}

async function measure(system: LockSystem): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const c of CONCURRENCIES) {
    const f = await runWorkload(system, c);
    figures.push(f);
    out(`  ${system.name} c=${c}: ${fmtNum(f.cyclesPerSec)} cycles/s, p50 ${fmtMs(f.latency.p50Ms)}, p99 ${fmtMs(f.latency.p99Ms)}${f.refused ? `, refused ${f.refused}` : ""}${Object.keys(f.errors).length ? `, errors ${JSON.stringify(f.errors)}` : ""}`);
  }
  return figures;
}

// ---- main ----

const results: Record<string, unknown> = { startedAt: new Date().toISOString(), machine: await machineInfo(), leaseMs: LEASE_MS, durationMs: DURATION_MS, systems: {} };
const systems = results.systems as Record<string, { figures?: Figure[]; skipped?: string; notes?: string }>;
const work = mkdtempSync(join(tmpdir(), "locker-bench-compare-"));
atExit(() => rmSync(work, { recursive: true, force: true }));

try {
  if (SYSTEMS.includes("locker")) {
    out("locker: 3 voters as child processes, client Locker in this process ...");
    try {
      const cluster = await startCluster(3);
      const client = await startClient("client", cluster.specs);
      const L = client.locker;
      try {
        const system: LockSystem = {
          name: "locker (3 voters)",
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
        systems.locker = { figures: await measure(system), notes: "client Locker (non-voter) in the bench process; voters in 3 child processes; UDP on 127.0.0.1" };
      } finally {
        await client.close();
        await cluster.stop();
      }
    } catch (e) {
      systems.locker = { skipped: `locker could not run: ${(e as Error).message}` };
      out(`  skipped: ${(e as Error).message}`);
    }
  }

  if (SYSTEMS.includes("etcd")) {
    out("etcd: 3-member cluster on loopback ports ...");
    try {
      const { system, servers, dataDir } = await startEtcd();
      try {
        systems.etcd = { figures: await measure(system), notes: `etcd ${execFileSync("etcd", ["--version"]).toString().split("\n")[0]}; JSON gateway /v3 over keep-alive HTTP/1.1 to the leader; data dir ${dataDir} (disk, fsync on)` };
      } finally {
        await system.close();
        await Promise.all(servers.map((s) => s.stop()));
        rmSync(dataDir, { recursive: true, force: true });
      }
    } catch (e) {
      systems.etcd = { skipped: (e as Error).message };
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
            systems.redis = { figures: await measure(s), notes: `${version}; ioredis, one connection; SET NX PX + Lua compare-and-delete` };
          } finally {
            await s.close();
          }
        }
        if (SYSTEMS.includes("redlock")) {
          const s = redlockSystem(ports);
          try {
            systems.redlock = { figures: await measure(s), notes: `${version}; ioredis, one connection per instance; Redlock: majority of 3 SET NX PX, release on all` };
          } finally {
            await s.close();
          }
        }
      } finally {
        await Promise.all(servers.map((s) => s.stop()));
      }
    } catch (e) {
      systems.redis = { skipped: (e as Error).message };
      out(`  skipped: ${(e as Error).message}`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

// ---- report ----
const names = Object.keys(systems);
const rows: string[][] = [];
for (const n of names) {
  const s = systems[n]!;
  if (!s.figures) {
    rows.push([n, "skipped", "", "", s.skipped ?? ""]);
    continue;
  }
  for (const f of s.figures) rows.push([n, String(f.concurrency), fmtNum(f.cyclesPerSec), fmtMs(f.latency.p50Ms), fmtMs(f.latency.p99Ms)]);
}
out(table("lock+release cycles, each worker on its own key (same machine, same run)", ["system", "concurrency", "cycles/s", "p50 cycle", "p99 cycle"], rows));

const ours = systems.locker?.figures;
if (ours) {
  const ratioRows: string[][] = [];
  for (const n of names.filter((x) => x !== "locker")) {
    const theirs = systems[n]?.figures;
    if (!theirs) continue;
    for (const f of theirs) {
      const o = ours.find((x) => x.concurrency === f.concurrency);
      if (!o) continue;
      ratioRows.push([n, String(f.concurrency), fmtRatio(o.cyclesPerSec / f.cyclesPerSec), fmtRatio(o.latency.p50Ms / f.latency.p50Ms), fmtRatio(o.latency.p99Ms / f.latency.p99Ms)]);
    }
  }
  out(table("locker relative to each (throughput: >1× is locker faster; latency: <1× is locker faster)", ["vs", "concurrency", "cycles/s ratio", "p50 ratio", "p99 ratio"], ratioRows));
  results.ratios = ratioRows;
} else {
  out(`\nlocker ${SYSTEMS.includes("locker") ? "was skipped" : "was not selected"}: no ratios.`);
}
if (interrupted()) {
  out("\ninterrupted: no results written");
  process.exit(130);
}
const path = writeResults("compare", results);
out(`\nresults: ${path}`);
process.exit(0);
