// Autopilot (off by default): a voter dead longer than the threshold is
// replaced by a live replica — added first, then the dead one removed — and
// the cluster keeps taking locks. Real UDP on loopback.
import test from "ava";
import { startNode, type LockerNode } from "../../src/node/node.js";
import { createUdpTransport, type Transport } from "../../src/transport/index.js";
import { SystemClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";

async function until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) return pred();
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

test("autopilot replaces a dead voter with a live replica", async (t) => {
  t.timeout(60_000);
  const clock = new SystemClock();
  const random = new SeededRandom(17);
  const names = ["v1", "v2", "v3", "r1"];
  const transports = new Map<string, Transport>();
  for (const n of names) transports.set(n, await createUdpTransport({ bind: "127.0.0.1:0", clock, random: random.fork(), clusterLabel: "autopilot" }));
  const voters = ["v1", "v2", "v3"].map((n) => ({ name: n, address: transports.get(n)!.address }));
  const nodes = new Map<string, LockerNode>();
  try {
    for (const n of names) {
      nodes.set(
        n,
        await startNode({
          name: n,
          transport: transports.get(n)!,
          clock,
          random: random.fork(),
          join: n === "v1" ? [] : [voters[0]!.address],
          voters: voters.map((v) => v.name),
          profile: "local",
          quietPeriodMs: 0,
          autopilot: { deadAfterMs: 500, checkIntervalMs: 100 },
        }),
      );
    }
    t.true(await until(() => [...nodes.values()].every((x) => x.membership.members().filter((m) => m.state === "alive").length === 3), 10_000));
    await nodes.get("v1")!.locker.lock("before", "x", { leaseMs: 30_000 });
    // v3 dies without a word.
    await nodes.get("v3")!.close({ leave: false });
    nodes.delete("v3");
    const t0 = performance.now();
    t.true(await until(() => nodes.get("v1")!.config().voters.map((v) => v.name).join() === "r1,v1,v2", 20_000), "r1 took v3's place");
    t.log(`replaced after ${(performance.now() - t0).toFixed(0)} ms (SWIM detection + 500 ms threshold + two changes)`);
    t.true(await until(() => nodes.get("r1")!.locker.cas.isVoter, 5000));
    t.is((await nodes.get("r1")!.locker.read("before"))?.value, "x");
    const r = await nodes.get("v2")!.locker.lock("after", "y", { leaseMs: 5000 });
    t.true(r.token > 0n);
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.close()));
    clock.clearAll();
  }
});
