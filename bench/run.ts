// `npm run bench`: the floor (UDP request/response between two processes
// through our Transport), then a 3-voter cluster of separate processes with a
// client Locker in this process — sequential latency of every operation as a
// ratio to the floor, lock+release throughput, memory per live lease and the
// CPU cost of expiry. Prints tables and writes bench/results/bench-*.json.
//
//   node dist/bench/run.js [--only=floor,locker,memory] [--quick] [--conc=1,8,64]
//                          [--skip=floor,seq,newkey,contended] [--prof]
//   --prof: fixtures run with --cpu-prof (profiles in bench/results/prof/)
// Every phase is bounded in time and count; everything runs on 127.0.0.1.
import { join } from "node:path";
import { measureFloor, measureQuorumFloor, statsDelta, withCpu, type FloorResult, type ThroughputFigure } from "./floor.js";
import { startClient, startCluster } from "./lib/cluster.js";
import type { LoadResult } from "./lib/load.js";
import { lockReleaseCycles, OPERATIONS, sequentialLatencies } from "./lib/workloads.js";
import { Fixture, interrupted } from "./lib/proc.js";
import { fmtBytes, fmtMs, fmtNum, fmtRatio, machineInfo, RESULTS_DIR, summarize, table, writeResults, type LatencySummary } from "./lib/stats.js";
import { flag } from "./lib/args.js";

const only = new Set((flag("only") ?? "floor,locker,memory").split(",").filter(Boolean));
const quick = flag("quick") !== undefined;
const prof = flag("prof") !== undefined;
/** Parts to leave out (for profiling one workload): floor,seq,newkey,contended. */
const skip = new Set((flag("skip") ?? "").split(",").filter(Boolean));
const PROF_DIR = join(RESULTS_DIR, "prof");
const profArgv = prof ? ["--cpu-prof", `--cpu-prof-dir=${PROF_DIR}`] : [];

const SAMPLES = quick ? 1000 : 3000;
const SEQ_MAX_MS = quick ? 4000 : 8000;
const DURATION_MS = quick ? 1500 : 3000;
const CONCURRENCIES = (flag("conc") ?? "1,8,64").split(",").map(Number);
const LEASE_MS = 10_000;

const results: Record<string, unknown> = { startedAt: new Date().toISOString(), machine: await machineInfo() };
const out = (s: string): void => void process.stdout.write(s + "\n");

// ---- 1. floor ----
let floor: FloorResult | undefined;
if (only.has("floor") || (only.has("locker") && !skip.has("floor"))) {
  out("floor: UDP request/response between two processes (Transport + CAS codec + envelope) ...");
  floor = await measureFloor({ samples: SAMPLES, maxSequentialMs: SEQ_MAX_MS, concurrencies: CONCURRENCIES, durationMs: DURATION_MS, peerExecArgv: profArgv });
  const quorum = await measureQuorumFloor(SAMPLES, SEQ_MAX_MS, [
    { peers: 3, need: 2 },
    { peers: 2, need: 1 },
  ]);
  results.floor = { ...floor, quorumFloor: quorum };
  const s = floor.sequential;
  out(
    table("Floor: request/response between processes on 127.0.0.1, sequential", ["", "n", "p50", "p90", "p99", "mean"], [
      ["round trip, 1 peer (THE floor)", fmtNum(s.count), fmtMs(s.p50Ms), fmtMs(s.p90Ms), fmtMs(s.p99Ms), fmtMs(s.meanMs)],
      ...quorum.map((q) => [`to ${q.peers} peer processes, ${q.need} replies (context)`, fmtNum(q.latency.count), fmtMs(q.latency.p50Ms), fmtMs(q.latency.p90Ms), fmtMs(q.latency.p99Ms), fmtMs(q.latency.meanMs)]),
    ]),
  );
  out(throughputTable("Floor: transport throughput (request/response per second)", floor.throughput));
}

function throughputTable(title: string, rows: ThroughputFigure[], okLabel = "ops/s"): string {
  return table(
    title,
    ["concurrency", okLabel, "p50", "p99", "frames/datagram out", "CPU µs/op client", "peer", "errors"],
    rows.map((r) => [
      String(r.concurrency),
      fmtNum(r.opsPerSec),
      fmtMs(r.latency.p50Ms),
      fmtMs(r.latency.p99Ms),
      r.framesPerDatagramOut.toFixed(1),
      fmtNum(r.clientCpuUsPerOp ?? NaN),
      fmtNum(r.serversCpuUsPerOp ?? NaN),
      Object.entries(r.errors)
        .map(([k, v]) => `${k}:${v}`)
        .join(" ") || "0",
    ]),
  );
}

// ---- 2. locker on 3 voter processes ----
interface CycleFigure extends ThroughputFigure {
  refused: number;
}

function cycleFigure(c: number, r: LoadResult, framesPerDatagramOut: number, clientCpuUs: number, serversCpuUs: number): CycleFigure {
  return {
    concurrency: c,
    opsPerSec: r.okPerSec,
    ok: r.ok,
    refused: r.refused,
    errors: r.errors,
    latency: summarize(r.latencies),
    framesPerDatagramOut,
    clientCpuUsPerOp: clientCpuUs / Math.max(1, r.ok),
    serversCpuUsPerOp: serversCpuUs / Math.max(1, r.ok),
  };
}

const errText = (e: Record<string, number>): string =>
  Object.entries(e)
    .map(([k, v]) => `${k}:${v}`)
    .join(" ") || "0";

if (only.has("locker")) {
  out("\nlocker: 3 voters as child processes (bench/voter.ts), client Locker embedded in this (4th) process ...");
  const cluster = await startCluster(3, profArgv);
  const client = await startClient("client", cluster.specs);
  const L = client.locker;
  const v1 = cluster.voters[0]!;
  try {
    const f = floor?.sequential ?? summarize([]);
    const cycles = skip.has("seq") ? 0 : Math.round(SAMPLES / 3);
    const latency = await sequentialLatencies(L, { cycles, maxMs: SEQ_MAX_MS, leaseMs: LEASE_MS, prefix: "client" });
    // The same, from a client embedded in voter-1: its own acceptor answers
    // locally, so a quorum needs one remote reply.
    const latencyInVoter = await v1.call<Record<string, LatencySummary>>("seq", { cycles, maxMs: SEQ_MAX_MS, leaseMs: LEASE_MS, prefix: "v1" }, 120_000);
    results.locker = {
      process: "A: client Locker (non-voter) in the bench process, 3 voters in child processes; B: client embedded in voter-1's process",
      latency,
      latencyInVoter,
      floorP50Ms: f.p50Ms,
    };
    if (cycles > 0) {
      for (const [title, lat] of [
        ["Locker: sequential latency, A: client in a 4th process (non-voter), 3 voter processes", latency],
        ["Locker: sequential latency, B: client embedded in voter-1 (its own acceptor is one of the quorum)", latencyInVoter],
      ] as const) {
        out(
          table(
            title,
            ["operation", "n", "p50", "p90", "p99", "p50/floor", "p90/floor", "p99/floor"],
            [
              ["floor (UDP round trip)", fmtNum(f.count), fmtMs(f.p50Ms), fmtMs(f.p90Ms), fmtMs(f.p99Ms), "1.00×", "1.00×", "1.00×"],
              ...OPERATIONS.map((k) => {
                const s = lat[k]!;
                return [k, fmtNum(s.count), fmtMs(s.p50Ms), fmtMs(s.p90Ms), fmtMs(s.p99Ms), fmtRatio(s.p50Ms / f.p50Ms), fmtRatio(s.p90Ms / f.p90Ms), fmtRatio(s.p99Ms / f.p99Ms)];
              }),
            ],
          ),
        );
      }
    }

    // Throughput of lock+release cycles from the client in the 4th process.
    const tp: Array<CycleFigure & { workload: string }> = [];
    const run = async (workload: string, c: number, keys: "own" | "new" | "contended"): Promise<void> => {
      const before = { ...client.transport.stats };
      const { result: r, clientCpuUs, serversCpuUs } = await withCpu(cluster.voters, () =>
        lockReleaseCycles(L, { concurrency: c, durationMs: DURATION_MS, leaseMs: LEASE_MS, prefix: "client", keys }),
      );
      const d = statsDelta(before, client.transport.stats);
      tp.push({ workload, ...cycleFigure(c, r, d.framesOut / Math.max(1, d.datagramsOut), clientCpuUs, serversCpuUs) });
    };
    for (const c of CONCURRENCIES) await run("own key per worker", c, "own");
    if (!skip.has("newkey")) await run("new key every cycle", 64, "new");
    if (!skip.has("contended")) for (const c of [8, 64]) await run("one contended key", c, "contended");
    out(
      table(
        "Locker: lock+release cycles/s (client in a 4th process; one contended key: successful acquisitions/s)",
        ["workload", "concurrency", "cycles/s", "× floor ops/s", "p50 cycle", "p99 cycle", "refused", "frames/dgram out", "CPU µs/cycle client", "voters", "errors"],
        tp.map((r) => {
          const fl = floor?.throughput.find((x) => x.concurrency === r.concurrency);
          return [
            r.workload,
            String(r.concurrency),
            fmtNum(r.opsPerSec),
            fl ? fmtRatio(r.opsPerSec / fl.opsPerSec) : "-",
            fmtMs(r.latency.p50Ms),
            fmtMs(r.latency.p99Ms),
            fmtNum(r.refused),
            r.framesPerDatagramOut.toFixed(1),
            fmtNum(r.clientCpuUsPerOp ?? NaN),
            fmtNum(r.serversCpuUsPerOp ?? NaN),
            errText(r.errors),
          ];
        }),
      ),
    );

    // One contended key, contended from every node at once: the client and each voter run 16 workers.
    let everywhere: Record<string, unknown> | undefined;
    if (!skip.has("contended")) {
      const key = `everywhere/${Date.now()}`;
      const opts = { concurrency: 16, durationMs: DURATION_MS, leaseMs: LEASE_MS, keys: "contended" as const, contendedKey: key };
      const [mine, ...theirs] = await Promise.all([
        lockReleaseCycles(L, { ...opts, prefix: "client" }).then((r) => ({ ok: r.ok, refused: r.refused, errors: r.errors, okPerSec: r.okPerSec, latency: summarize(r.latencies) })),
        ...cluster.voters.map((v) => v.call<{ ok: number; refused: number; errors: Record<string, number>; okPerSec: number; latency: LatencySummary }>("cycles", { ...opts, prefix: String(v.info.name) }, 120_000)),
      ]);
      const all = [mine!, ...theirs];
      const errors: Record<string, number> = {};
      for (const a of all) for (const [k, v] of Object.entries(a.errors)) errors[k] = (errors[k] ?? 0) + v;
      everywhere = { perNode: all, acquiredPerSec: all.reduce((a, x) => a + x.okPerSec, 0), refused: all.reduce((a, x) => a + x.refused, 0), errors };
      out(
        table(
          "Locker: one key contended from all 4 nodes at once (16 workers each)",
          ["node", "acquired/s", "refused", "attempt p50", "attempt p99", "errors"],
          all.map((a, i) => [i === 0 ? "client" : String(cluster.voters[i - 1]!.info.name), fmtNum(a.okPerSec), fmtNum(a.refused), fmtMs(a.latency.p50Ms), fmtMs(a.latency.p99Ms), errText(a.errors)]),
        ),
      );
    }
    results.throughput = { cycles: tp, contendedFromAllNodes: everywhere };
    const summaries = await Promise.all(cluster.voters.map((v) => v.call<{ summary: unknown; transport: unknown }>("summary")));
    results.voterSummaries = summaries;
    // The live voters' memory after the runs (leases of the runs still live until their 10 s lease ends).
    results.voterMemory = await Promise.all(cluster.voters.map((v) => v.call<NodeJS.MemoryUsage>("memory")));
    results.clientSummary = L.summary();
  } finally {
    await client.close();
    await cluster.stop();
  }
}

// ---- 3. memory per live lease, expiry cost ----
if (only.has("memory")) {
  out("\nmemory: one voter node's lease state per process (bench/memory-node.ts; leases filled through the wire codecs, not the network) ...");
  const counts = quick ? [0, 100_000] : [0, 100_000, 1_000_000];
  const mem: Array<{ leases: number; heapUsedBytes: number; arrayBuffersBytes: number; rssBytes: number; fillMs: number; expire1000CpuMs: number; expiry?: Record<string, unknown> }> = [];
  for (const count of counts) {
    const node = await Fixture.start(`memory-${count}`, "memory-node.js", [], { execArgv: ["--expose-gc", "--max-old-space-size=4096"] });
    try {
      let fillMs = 0;
      for (let done = 0; done < count; done += 100_000) fillMs += (await node.call<{ fillMs: number }>("fill", { count: Math.min(100_000, count - done) })).fillMs;
      const m = await node.call<{ heapUsedBytes: number; arrayBuffersBytes: number; rssBytes: number }>("memory");
      // Median of 5 ticks, each expiring 1,000 short leases beside the live ones.
      const some: number[] = [];
      for (let k = 0; k < 5; k++) some.push((await node.call<{ expired: number; cpuMs: number }>("expireSome", { count: 1000 })).cpuMs);
      some.sort((a, b) => a - b);
      const row: (typeof mem)[number] = { leases: count, heapUsedBytes: m.heapUsedBytes, arrayBuffersBytes: m.arrayBuffersBytes, rssBytes: m.rssBytes, fillMs, expire1000CpuMs: some[2]! };
      if (count === counts[counts.length - 1]) row.expiry = await node.call<Record<string, unknown>>("expiry", {}, 120_000);
      mem.push(row);
    } finally {
      await node.stop();
    }
  }
  const base = mem[0]!;
  results.memory = { method: "fresh process per count; Locker voter on virtual time; accepts decoded through frame+CAS codecs fed to its acceptor", rows: mem };
  out(
    table(
      "Memory per voter node (after GC)",
      // The acceptor keeps key state in typed arrays, whose memory is outside the JS heap (arrayBuffers).
      ["live leases", "heap used", "array buffers", "RSS", "heap+buffers B/lease", "RSS B/lease", "tick expiring 1,000 others (CPU)"],
      mem.map((r) => [
        fmtNum(r.leases),
        fmtBytes(r.heapUsedBytes),
        fmtBytes(r.arrayBuffersBytes),
        fmtBytes(r.rssBytes),
        r.leases ? fmtNum((r.heapUsedBytes + r.arrayBuffersBytes - base.heapUsedBytes - base.arrayBuffersBytes) / r.leases) : "-",
        r.leases ? fmtNum((r.rssBytes - base.rssBytes) / r.leases) : "-",
        `${r.expire1000CpuMs.toFixed(2)}ms`,
      ]),
    ),
  );
  const e = mem[mem.length - 1]!.expiry as { live: number; idleTickCpuUs: number; expired: number; expireCpuMs: number; expireWallMs: number; forgetCpuMs: number; forgotten: number } | undefined;
  if (e) {
    out(
      table(
        `Expiry on one voter node with ${fmtNum(e.live)} live leases (the node's expiry timer on virtual time: acceptor + CAS node + Locker events, in-process)`,
        ["step", "CPU", "per lease"],
        [
          ["tick with nothing due (mean of 1000)", `${e.idleTickCpuUs.toFixed(1)}µs`, "-"],
          [`expire all ${fmtNum(e.expired)} in one tick`, `${e.expireCpuMs.toFixed(0)}ms`, `${((e.expireCpuMs * 1000) / Math.max(1, e.expired)).toFixed(2)}µs`],
          [`forget ${fmtNum(e.forgotten)} dead keys after the GC grace`, `${e.forgetCpuMs.toFixed(0)}ms`, `${((e.forgetCpuMs * 1000) / Math.max(1, e.forgotten)).toFixed(2)}µs`],
        ],
      ),
    );
  }
}

if (interrupted()) {
  out("\ninterrupted: no results written");
  process.exit(130);
}
const path = writeResults("bench", results);
out(`\nresults: ${path}`);
if (prof) out(`profiles: ${PROF_DIR}`);
process.exit(0);
