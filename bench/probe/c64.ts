// Probe (not a benchmark; bench/compare.ts is): where the CPU goes in a C=64
// lock+release run through a library node joined to 3 agents on 127.0.0.1:
// cycles/s, each process's CPU share (this process holds the library node; the
// agents report theirs on /metrics), and how well the transport batches.
//
//   npm run build && node dist/bench/probe/c64.js [--affinity=true|contended|false] [--conc=64] [--http] [--prof]
// (--http: the workers go through the agents' HTTP API, worker w to agent w % 3;
// --prof: the agents run with --cpu-prof, profiles in /tmp/locker-probe-prof.)
import http from "node:http";
import { httpJson, startAgents, startLibraryNode, type AgentCluster } from "../lib/agents.js";
import { closedLoop } from "../lib/load.js";
import { flag } from "../lib/args.js";

const affinityFlag = flag("affinity") ?? "true";
const affinity = affinityFlag === "contended" ? "contended" : affinityFlag === "true";
const concurrency = Number(flag("conc") ?? 64);
const viaHttp = flag("http") !== undefined;
const ROUNDS = 2; // the first warms the JIT and the caches; both print

/** Seconds of CPU each agent has used, from its Prometheus process metrics. */
async function agentCpuSeconds(cluster: AgentCluster): Promise<number[]> {
  return Promise.all(
    cluster.agents.map(async (a) => {
      const text = await (await fetch(`http://${a.http}/metrics`)).text();
      const m = /^locker_process_process_cpu_seconds_total (\S+)$/m.exec(text);
      if (!m) throw new Error(`agent ${a.name}: no CPU figure on /metrics`);
      return Number(m[1]);
    }),
  );
}

const ownCpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const cluster = await startAgents(flag("prof") !== undefined ? { execArgv: ["--cpu-prof", "--cpu-prof-dir=/tmp/locker-probe-prof"] } : {});
try {
  const node = await startLibraryNode(cluster, { affinity });
  const agents = cluster.agents.map(() => new http.Agent({ keepAlive: true, maxSockets: 128 }));
  const lockAndRelease = async (key: string, value: string, w: number): Promise<void> => {
    if (!viaHttp) {
      await node.locker.lock(key, value, { leaseMs: 10_000 });
      await node.locker.release(key, value);
      return;
    }
    const a = w % agents.length;
    const l = await httpJson(agents[a]!, cluster.agents[a]!.http, "PUT", `/v1/keys/${key}`, { value, leaseMs: 10_000 });
    if (l.status !== 200) throw new Error(`lock: HTTP ${l.status} ${String(l.json.error)}`);
    const r = await httpJson(agents[a]!, cluster.agents[a]!.http, "POST", `/v1/keys/${key}/release`, { value });
    if (r.status !== 200) throw new Error(`release: HTTP ${r.status} ${String(r.json.error)}`);
  };
  for (let round = 0; round < ROUNDS; round++) {
    const agents0 = await agentCpuSeconds(cluster);
    const own0 = ownCpuSeconds();
    const stats0 = { ...node.transport.stats };
    const t0 = performance.now();
    const r = await closedLoop({ concurrency, durationMs: 4000, maxOps: 1_000_000, warmupOps: 200 }, async (w, i) => {
      const key = `c64/${round}/${w}`;
      const value = `w${w}-${i}`;
      await lockAndRelease(key, value, w);
      return true;
    });
    const seconds = (performance.now() - t0) / 1000;
    const share = (cpu: number): string => `${((cpu / seconds) * 100).toFixed(0)}%`;
    const agents = (await agentCpuSeconds(cluster)).map((c, i) => share(c - agents0[i]!));
    const s = node.transport.stats;
    const out = s.datagramsOut - stats0.datagramsOut;
    const frames = s.framesOut - stats0.framesOut;
    console.log(
      `${viaHttp ? "HTTP" : "library"} affinity=${String(affinity)} C=${concurrency}: ${r.okPerSec.toFixed(0)} cycles/s, errors ${JSON.stringify(r.errors)}; ` +
        `CPU: library ${share(ownCpuSeconds() - own0)}, agents ${agents.join(" ")}; ` +
        `library sent ${out} datagrams carrying ${frames} frames (${(frames / Math.max(1, out)).toFixed(1)} each)`,
    );
  }
  for (const a of agents) a.destroy();
  await node.close();
} finally {
  await cluster.stop();
}
