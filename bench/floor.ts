// The floor: request/response round trips between two OS processes on
// 127.0.0.1 through our Transport, with the CAS codec and the envelope and a
// fast-path lock's accept as the request — what one quorum round trip costs
// with no CAS work at all. Also the transport's own throughput.
import { casCodec, type CasMessage } from "../src/cas/messages.js";
import { encodeValue } from "../src/cas/value.js";
import { createUdpTransport } from "../src/transport/udp.js";
import { ChannelId } from "../src/transport/types.js";
import type { TransportStats } from "../src/transport/transport.js";
import { SystemClock } from "../src/util/clock.js";
import { cryptoSeededRandom } from "../src/util/random.js";
import { closedLoop, sequential } from "./lib/load.js";
import { Fixture } from "./lib/proc.js";
import { summarize, type LatencySummary } from "./lib/stats.js";

export interface ThroughputFigure {
  concurrency: number;
  opsPerSec: number;
  ok: number;
  errors: Record<string, number>;
  latency: LatencySummary;
  /** Frames per datagram the client sent: how well sends to one peer were batched. */
  framesPerDatagramOut: number;
  /** CPU time (user + system) per successful operation: in the client process, and summed over the server processes. */
  clientCpuUsPerOp?: number;
  serversCpuUsPerOp?: number;
}

/** CPU (µs, user + system) used by this process and the given fixtures while `f` runs. */
export async function withCpu<T>(servers: Fixture[], f: () => Promise<T>): Promise<{ result: T; clientCpuUs: number; serversCpuUs: number }> {
  const cpuOf = async (): Promise<number> => {
    const all = await Promise.all(servers.map((s) => s.call<NodeJS.CpuUsage>("cpu")));
    return all.reduce((a, c) => a + c.user + c.system, 0);
  };
  const s0 = await cpuOf();
  const c0 = process.cpuUsage();
  const result = await f();
  const c = process.cpuUsage(c0);
  const s1 = await cpuOf();
  return { result, clientCpuUs: c.user + c.system, serversCpuUs: s1 - s0 };
}

export interface FloorResult {
  process: string;
  sequential: LatencySummary;
  throughput: ThroughputFigure[];
}

export interface FloorOptions {
  samples: number;
  maxSequentialMs: number;
  concurrencies: number[];
  durationMs: number;
  /** Node flags for the peer process (e.g. --cpu-prof). */
  peerExecArgv?: string[];
}

/** A fast-path lock's accept for key i: the request the floor times. */
export function floorAccept(i: number): CasMessage {
  const c = 1_800_000_000_000_000 + i * 4;
  return {
    type: "accept",
    cfg: 1,
    key: `bench/key-${(i & 0xffff).toString().padStart(5, "0")}`,
    ballot: { c, node: "client" },
    nextC: c + 1,
    record: { value: encodeValue("holder-1"), leaseMs: 10_000, token: c },
    origin: null,
  };
}

export function statsDelta(a: TransportStats, b: TransportStats): { datagramsOut: number; framesOut: number; datagramsIn: number; framesIn: number } {
  return {
    datagramsOut: b.datagramsOut - a.datagramsOut,
    framesOut: b.framesOut - a.framesOut,
    datagramsIn: b.datagramsIn - a.datagramsIn,
    framesIn: b.framesIn - a.framesIn,
  };
}

export async function measureFloor(o: FloorOptions): Promise<FloorResult> {
  const peer = await Fixture.start("floor-peer", "floor-peer.js", [], { execArgv: o.peerExecArgv ?? [] });
  const transport = await createUdpTransport({ bind: "127.0.0.1:0", clock: new SystemClock(), random: cryptoSeededRandom() });
  try {
    const to = String(peer.info.address);
    const channel = transport.channel(ChannelId.cas, casCodec);
    const reqOpts = { attemptTimeoutMs: 200, retries: 4, timeoutMs: 5000 };
    const one = async (i: number): Promise<boolean> => {
      const r = await channel.request(to, floorAccept(i), reqOpts);
      if (r.type !== "accepted") throw new Error(`floor peer answered ${r.type}`);
      return true;
    };
    const seq = await sequential(o.samples, 2000, o.maxSequentialMs, (i) => one(i >= 0 ? i : -i));
    const throughput: ThroughputFigure[] = [];
    for (const c of o.concurrencies) {
      const before = { ...transport.stats };
      const { result: r, clientCpuUs, serversCpuUs } = await withCpu([peer], () =>
        closedLoop({ concurrency: c, durationMs: o.durationMs, maxOps: 2_000_000, warmupOps: 200 }, (w, i) => one(i >= 0 ? i : w)),
      );
      const d = statsDelta(before, transport.stats);
      throughput.push({
        concurrency: c,
        opsPerSec: r.okPerSec,
        ok: r.ok,
        errors: r.errors,
        latency: summarize(r.latencies),
        framesPerDatagramOut: d.framesOut / Math.max(1, d.datagramsOut),
        clientCpuUsPerOp: clientCpuUs / Math.max(1, r.ok),
        serversCpuUsPerOp: serversCpuUs / Math.max(1, r.ok),
      });
    }
    return { process: "client in the bench process, peer in a child process (bench/floor-peer.ts)", sequential: summarize(seq), throughput };
  } finally {
    await transport.close();
    await peer.stop();
  }
}

/**
 * The quorum floor, for context: the same request sent to `peers` floor peers
 * at once, done when `need` replies are in. (3, 2) is what a client outside the
 * voters waits for; (2, 1) what a client inside a voter waits for.
 */
export async function measureQuorumFloor(samples: number, maxMs: number, shapes: Array<{ peers: number; need: number }>): Promise<Array<{ peers: number; need: number; latency: LatencySummary }>> {
  const most = Math.max(...shapes.map((s) => s.peers));
  const peers: Fixture[] = [];
  const transport = await createUdpTransport({ bind: "127.0.0.1:0", clock: new SystemClock(), random: cryptoSeededRandom() });
  try {
    for (let i = 0; i < most; i++) peers.push(await Fixture.start(`floor-peer-${i + 1}`, "floor-peer.js"));
    const channel = transport.channel(ChannelId.cas, casCodec);
    const reqOpts = { attemptTimeoutMs: 200, retries: 4, timeoutMs: 5000 };
    const out = [];
    for (const shape of shapes) {
      const to = peers.slice(0, shape.peers).map((p) => String(p.info.address));
      const one = (i: number): Promise<void> =>
        new Promise<void>((resolve, reject) => {
          let got = 0;
          let failed = 0;
          for (const a of to) {
            channel.request(a, floorAccept(i), reqOpts).then(
              () => {
                if (++got === shape.need) resolve();
              },
              (e: unknown) => {
                if (++failed > to.length - shape.need) reject(e as Error);
              },
            );
          }
        });
      const seq = await sequential(samples, 1000, maxMs, (i) => one(Math.abs(i)));
      out.push({ ...shape, latency: summarize(seq) });
    }
    // Let the last stragglers' replies arrive before closing.
    await new Promise((r) => setTimeout(r, 50));
    return out;
  } finally {
    await transport.close();
    await Promise.all(peers.map((p) => p.stop()));
  }
}
