// Zero-config discovery: multicast beacons on the host's loopback multicast.
// Same label → reported; other label or garbage → ignored and counted; and
// three nodes with no join list and `expect: 3` form one cluster by themselves.
import dgram from "node:dgram";
import test from "ava";
import { MulticastBeacon } from "../../src/discovery/multicast.js";
import { startNode, type LockerNode } from "../../src/node/node.js";
import { createUdpTransport } from "../../src/transport/index.js";
import { SystemClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";

async function until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) return pred();
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

test.serial("beacons report peers of the same label only; garbage is counted, never fatal", async (t) => {
  const clock = new SystemClock();
  const port = 40_000 + new SeededRandom(Number(process.pid)).int(20_000);
  const seen = new Set<string>();
  const start = (name: string, label: string): Promise<MulticastBeacon> =>
    MulticastBeacon.start({ clusterLabel: label, name, address: `127.0.0.1:${1000 + name.length}`, clock, random: new SeededRandom(name.length), port, intervalMs: 30, onPeer: (p) => seen.add(`${name}<-${p.name}@${p.address}`) });
  const a = await start("a", "blue");
  const b = await start("bb", "blue");
  const c = await start("ccc", "green");
  const junk = dgram.createSocket({ type: "udp4", reuseAddr: true });
  for (const bytes of [Buffer.from("hello"), Buffer.from("LKB1\xff\xff", "binary"), Buffer.concat([Buffer.from("LKB1"), Buffer.from([0x83, 0x01, 0x02, 0x03])])]) {
    junk.send(bytes, port, "239.255.76.75");
  }
  t.true(await until(() => seen.has("a<-bb@127.0.0.1:1002") && seen.has("bb<-a@127.0.0.1:1001"), 5000));
  t.true(await until(() => a.stats.malformed >= 3, 5000), "malformed beacons counted");
  t.false([...seen].some((s) => s.includes("ccc")), "another label is never reported");
  t.true(a.stats.otherLabel > 0 && c.stats.otherLabel > 0);
  junk.close();
  await Promise.all([a.close(), b.close(), c.close()]);
  clock.clearAll();
});

test.serial("three nodes with no join list find each other by multicast and agree on voters (expect: 3)", async (t) => {
  t.timeout(60_000);
  const clock = new SystemClock();
  const random = new SeededRandom(99);
  const port = 40_000 + new SeededRandom(Number(process.pid) + 1).int(20_000);
  const label = `zero-conf-${port}`;
  const starts = ["alpha", "bravo", "charlie"].map(async (name) =>
    startNode({
      name,
      transport: await createUdpTransport({ bind: "127.0.0.1:0", clock, random: random.fork(), clusterLabel: label }),
      clock,
      random: random.fork(),
      expect: 3,
      expectSettleMs: 300,
      profile: "local",
      quietPeriodMs: 0,
      clusterLabel: label,
      discovery: { port, intervalMs: 100 },
    }),
  );
  const nodes = await Promise.all(starts);
  try {
    for (const n of nodes) t.deepEqual(n.config().voters.map((v) => v.name), ["alpha", "bravo", "charlie"]);
    const r = await nodes[0]!.locker.lock("zero", "conf", { leaseMs: 5000 });
    t.true(r.token > 0n);
    t.is((await nodes[2]!.locker.read("zero"))?.value, "conf");
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
    clock.clearAll();
  }
});
