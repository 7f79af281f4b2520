// Fixture: one voter of the benchmark cluster — a Locker on its own UDP
// transport on 127.0.0.1, started empty in a new cluster (no quiet period).
// The parent tells it the voter list once every voter has bound its port, and
// whether its embedded clients go through key affinity (src/node/affinity.ts).
import { Locker } from "../src/locker.js";
import { createUdpTransport } from "../src/transport/udp.js";
import { SystemClock } from "../src/util/clock.js";
import { cryptoSeededRandom } from "../src/util/random.js";
import type { VoterSpec } from "../src/cas/node.js";
import { createAffinity, forwardCodec, type Affinity } from "../src/node/affinity.js";
import { ChannelId } from "../src/transport/types.js";
import { fixtureReady, serveFixture } from "./lib/proc.js";
import { summarize } from "./lib/stats.js";
import { lockReleaseCycles, sequentialLatencies, type CycleOptions, type SequentialOptions } from "./lib/workloads.js";

const name = process.argv[2] ?? "voter";
const clock = new SystemClock();
const transport = await createUdpTransport({ bind: "127.0.0.1:0", clock, random: cryptoSeededRandom() });
let locker: Locker | undefined;
let affinity: Affinity | undefined;

/** What the embedded clients call: the affinity-routed view when configured so, else the Locker. */
function need(): Locker {
  if (!locker) throw new Error("not configured");
  return affinity?.api ?? locker;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

serveFixture(
  {
    // A new cluster's first start: no lease can predate it, so no quiet period.
    configure: (args: { voters: VoterSpec[]; maxLeaseMs?: number; affinity?: boolean }) => {
      if (locker) throw new Error("already configured");
      locker = new Locker({
        name,
        channel: transport,
        clock,
        random: cryptoSeededRandom(),
        voters: args.voters,
        quietPeriodMs: 0,
        maxLeaseMs: args.maxLeaseMs ?? 60_000,
        limits: { maxKeys: 2_000_000 },
      });
      if (args.affinity) {
        // No membership here: every voter is taken as up, and found at its configured address.
        const at = new Map(args.voters.map((v) => [v.name, v.address]));
        affinity = createAffinity({
          locker,
          self: name,
          voters: () => args.voters.map((v) => v.name),
          isUp: () => true,
          addressOf: (n) => at.get(n),
          channel: transport.channel(ChannelId.forward, forwardCodec),
          clock,
        });
      }
      return { name };
    },
    summary: () => {
      const s = locker?.summary();
      return { summary: s, transport: { ...transport.stats }, affinity: affinity ? { ...affinity.stats } : undefined };
    },
    cpu: () => process.cpuUsage(),
    // Workloads run by a client embedded in this voter (summaries only cross IPC).
    seq: (a: SequentialOptions) => sequentialLatencies(need(), a),
    cycles: async (a: CycleOptions) => {
      const r = await lockReleaseCycles(need(), a);
      return { ok: r.ok, refused: r.refused, errors: r.errors, okPerSec: r.okPerSec, releaseFailures: r.releaseFailures, latency: summarize(r.latencies) };
    },
    memory: () => {
      gc();
      return process.memoryUsage();
    },
  },
  async () => {
    affinity?.close();
    await locker?.close();
    await transport.close();
  },
);
fixtureReady({ name, address: transport.address, pid: process.pid });
