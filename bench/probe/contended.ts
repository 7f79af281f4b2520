// Probe (not a benchmark; bench/compare.ts is): what one contended key costs.
// 8 clients fight over one key through a library node joined to 3 agents,
// then through the agents' HTTP API spread over the three; printed: wins/s,
// refusals per win, and per win the quorum rounds the agents ran (from their
// /metrics): all, fast, conflicts, handovers, coalesced locks, forwards.
//
//   npm run build && node dist/bench/probe/contended.js [--clients=8]
import http from "node:http";
import { httpJson, startAgents, startLibraryNode, type AgentCluster } from "../lib/agents.js";
import { closedLoop } from "../lib/load.js";
import { flag } from "../lib/args.js";

const clients = Number(flag("clients") ?? 8);
const COUNTERS = ["rounds", "fast_rounds", "round_conflicts", "handovers", "coalesced_locks", "forwarded", "forwards_served"] as const;

async function agentCounters(cluster: AgentCluster): Promise<Record<string, number>> {
  const sum: Record<string, number> = {};
  for (const a of cluster.agents) {
    const text = await (await fetch(`http://${a.http}/metrics`)).text();
    for (const c of COUNTERS) {
      const m = new RegExp(`^locker_${c}_total (\\S+)$`, "m").exec(text);
      sum[c] = (sum[c] ?? 0) + Number(m?.[1] ?? NaN);
    }
  }
  return sum;
}

async function run(label: string, cluster: AgentCluster, lock: (key: string, value: string, w: number) => Promise<boolean>, release: (key: string, value: string, w: number) => Promise<void>): Promise<void> {
  const key = `contended/${label.replace(/\W+/g, "-")}/${Date.now().toString(36)}`;
  const before = await agentCounters(cluster);
  // A holder's failed release is counted (warm-up included) and retried until definite, so one does not hold the key for a whole lease.
  const releaseFailures: Record<string, number> = {};
  const r = await closedLoop({ concurrency: clients, durationMs: 3000, maxOps: 1_000_000, warmupOps: 100 }, async (w, i) => {
    const value = `c${w}-${i}`;
    if (!(await lock(key, value, w))) return false;
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await release(key, value, w);
        break;
      } catch (e) {
        const m = (e as Error).message;
        if (attempt === 0) releaseFailures[m.slice(0, 60)] = (releaseFailures[m.slice(0, 60)] ?? 0) + 1;
        if (/not_found|mismatch/.test(m)) break;
      }
    }
    return true;
  });
  const after = await agentCounters(cluster);
  const perWin = COUNTERS.map((c) => `${c} ${((after[c]! - before[c]!) / Math.max(1, r.ok)).toFixed(2)}`).join(", ");
  console.log(`${label}: ${r.okPerSec.toFixed(0)} wins/s, ${(r.refused / Math.max(1, r.ok)).toFixed(1)} refusals per win, errors ${JSON.stringify(r.errors)}, failed holder releases ${JSON.stringify(releaseFailures)}; per win: ${perWin}`);
}

const cluster = await startAgents();
const agents = cluster.agents.map(() => new http.Agent({ keepAlive: true, maxSockets: 16 }));
try {
  const node = await startLibraryNode(cluster);
  for (let round = 0; round < 2; round++) {
    await run(
      "library",
      cluster,
      async (key, value) => node.locker.lock(key, value, { leaseMs: 10_000 }).then(() => true, (e: { code?: string }) => (e.code === "locked" ? false : Promise.reject(e))),
      (key, value) => node.locker.release(key, value).catch((e: { code?: string; message: string }) => Promise.reject(new Error(`${e.code}: ${e.message}`))),
    );
    const path = (key: string): string => `/v1/keys/${key}`;
    await run(
      "HTTP spread",
      cluster,
      async (key, value, w) => {
        const r = await httpJson(agents[w % 3]!, cluster.agents[w % 3]!.http, "PUT", path(key), { value, leaseMs: 10_000 });
        if (r.status === 200) return true;
        if (r.json.error === "locked") return false;
        throw new Error(`lock: ${r.status} ${String(r.json.error)}`);
      },
      async (key, value, w) => {
        const r = await httpJson(agents[w % 3]!, cluster.agents[w % 3]!.http, "POST", `${path(key)}/release`, { value });
        if (r.status !== 200) throw new Error(`release: ${r.status} ${String(r.json.error)}`);
      },
    );
  }
  await node.close();
} finally {
  for (const a of agents) a.destroy();
  await cluster.stop();
}
