// Probe (not a benchmark; bench/compare.ts is): where a sequential HTTP
// lock's time goes. 3 agents on 127.0.0.1; keep-alive; the `/v1/health`
// round trip (HTTP alone), then lock+release on 16 keys against one agent,
// then spread over the three (as behind a load balancer).
//
//   npm run build && node dist/bench/probe/http.js [--prof]
// (--prof: the agents run with --cpu-prof, profiles in /tmp/locker-probe-prof.)
import http from "node:http";
import { httpJson, startAgents } from "../lib/agents.js";
import { flag } from "../lib/args.js";
import { fmtMs, summarize } from "../lib/stats.js";

const CYCLES = 1500;
const WARMUP = 300;
const cluster = await startAgents(flag("prof") !== undefined ? { execArgv: ["--cpu-prof", "--cpu-prof-dir=/tmp/locker-probe-prof"] } : {});
const agents = cluster.agents.map(() => new http.Agent({ keepAlive: true, maxSockets: 4 }));
const timed = async (f: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
};
try {
  const health: number[] = [];
  for (let i = 0; i < CYCLES; i++) {
    const ms = await timed(() => httpJson(agents[0]!, cluster.agents[0]!.http, "GET", "/v1/health"));
    if (i >= WARMUP) health.push(ms);
  }
  console.log(`GET /v1/health: p50 ${fmtMs(summarize(health).p50Ms)} p90 ${fmtMs(summarize(health).p90Ms)}`);
  for (const spread of [false, true]) {
    const lock: number[] = [];
    const release: number[] = [];
    for (let i = 0; i < CYCLES; i++) {
      const key = `probe/${spread ? "spread" : "one"}/${i % 16}`;
      const a = spread ? i % 3 : 0;
      const l = await timed(async () => {
        const r = await httpJson(agents[a]!, cluster.agents[a]!.http, "PUT", `/v1/keys/${key}`, { value: "v", leaseMs: 5000 });
        if (r.status !== 200) throw new Error(`lock: ${r.status} ${JSON.stringify(r.json)}`);
      });
      const r = await timed(async () => {
        const r = await httpJson(agents[a]!, cluster.agents[a]!.http, "POST", `/v1/keys/${key}/release`, { value: "v" });
        if (r.status !== 200) throw new Error(`release: ${r.status} ${JSON.stringify(r.json)}`);
      });
      if (i < WARMUP) continue;
      lock.push(l);
      release.push(r);
    }
    const ls = summarize(lock);
    const rs = summarize(release);
    console.log(`${spread ? "spread over 3 agents" : "one agent"}: lock p50 ${fmtMs(ls.p50Ms)} p90 ${fmtMs(ls.p90Ms)}; release p50 ${fmtMs(rs.p50Ms)} p90 ${fmtMs(rs.p90Ms)}`);
  }
} finally {
  for (const a of agents) a.destroy();
  await cluster.stop();
}
