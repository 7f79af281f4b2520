// Load per member must not grow with the cluster: datagrams per second per
// member at 10, 100 and 1,000 members differ by less than 2×.
import test from "ava";
import { SimCluster, type SimNode } from "./membership-cluster.js";

async function steadyLoad(n: number, seed: number): Promise<{ datagramsPerSec: number; messagesPerSec: number; joinMs: number }> {
  const c = new SimCluster({ seed, profile: "lan", recordEvents: false });
  const nodes: SimNode[] = [];
  for (let i = 0; i < n; i++) nodes.push(c.add(`m${i}`));
  // Everyone joins through the first member, at once.
  const t0 = c.clock.now();
  await c.settle(nodes.map((x, i) => x.m.bootstrap(i === 0 ? [] : [nodes[0]!.address])), 60_000);
  const joinMs = c.timeUntil(() => c.converged(nodes), 120_000, 100);
  if (joinMs === undefined) throw new Error(`n=${n} did not converge`);
  // Let join traffic drain (every broadcast queue empty), then measure a steady window.
  const drainedMs = c.timeUntil(() => nodes.every((x) => x.m.stats().broadcastQueueLength === 0), 120_000, 1000);
  if (drainedMs === undefined) throw new Error(`n=${n}: broadcast queues never drained`);
  const windowMs = 60_000;
  const dg0 = nodes.map((x) => x.transport.stats.datagramsOut);
  const msg0 = nodes.map((x) => x.m.stats().datagramsSent);
  c.clock.runFor(windowMs);
  const dg = nodes.reduce((s, x, i) => s + x.transport.stats.datagramsOut - dg0[i]!, 0);
  const msg = nodes.reduce((s, x, i) => s + x.m.stats().datagramsSent - msg0[i]!, 0);
  for (const x of nodes) x.m.close();
  return { datagramsPerSec: dg / n / (windowMs / 1000), messagesPerSec: msg / n / (windowMs / 1000), joinMs: c.clock.now() - t0 - drainedMs - windowMs };
}

// The three sizes run as separate serial tests (each within ava's timeout); the last compares them.
const rates = new Map<number, number>();
for (const n of [10, 100, 1000]) {
  test.serial(`steady load at ${n} members`, async (t) => {
    // About 40 s of CPU at 1000 members on an idle machine (the join alone is n²·log n update receipts); more under load.
    t.timeout(400_000);
    const r = await steadyLoad(n, 60 + n);
    rates.set(n, r.datagramsPerSec);
    t.log(`n=${n}: ${r.datagramsPerSec.toFixed(3)} datagrams/s sent per member (${r.messagesPerSec.toFixed(3)} membership messages/s), all saw all alive ${r.joinMs.toFixed(0)} ms after the joins began`);
    t.true(r.datagramsPerSec > 0);
  });
}

test.serial("datagrams per second per member at 10, 100 and 1000 members differ by less than 2x", (t) => {
  t.is(rates.size, 3, "a size failed to run");
  const ratio = Math.max(...rates.values()) / Math.min(...rates.values());
  t.log(`max/min = ${ratio.toFixed(3)}`);
  t.true(ratio < 2);
});
