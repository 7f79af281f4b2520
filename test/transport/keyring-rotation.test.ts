// Key rotation on a live pair of UDP transports: install new on both → use
// new on both → remove old on both, while requests keep flowing both ways.
// Every datagram must pass: the drop counters stay at zero.
import test from "ava";
import { createUdpTransport } from "../../src/transport/index.js";
import { SystemClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { Keyring } from "../../src/wire/index.js";
import { echoCodec } from "./helpers.js";

test("a live pair keeps talking through install new → use new → remove old, with no datagram refused", async (t) => {
  const clock = new SystemClock();
  const random = new SeededRandom(77);
  const oldKey = Buffer.alloc(32, 0x11);
  const newKey = Buffer.alloc(32, 0x22);
  const ringA = new Keyring([oldKey]);
  const ringB = new Keyring([oldKey]);
  const options = { request: { attemptTimeoutMs: 200, retries: 0, timeoutMs: 2000 } };
  const a = await createUdpTransport({ bind: "127.0.0.1:0", clock, random: random.fork(), keyring: ringA, ...options });
  const b = await createUdpTransport({ bind: "127.0.0.1:0", clock, random: random.fork(), keyring: ringB, ...options });
  const ca = a.channel(2, echoCodec);
  const cb = b.channel(2, echoCodec);
  ca.onRequest((m) => ({ text: `a:${m.text}`, n: m.n }));
  cb.onRequest((m) => ({ text: `b:${m.text}`, n: m.n }));
  let n = 0;
  // A burst of concurrent requests both ways (retries off: a refused datagram fails the test).
  const burst = async (label: string): Promise<void> => {
    // Waves of 5, so the requests spread over many datagrams rather than sharing a few.
    for (let wave = 0; wave < 10; wave++) {
      const calls: Array<Promise<unknown>> = [];
      for (let i = 0; i < 5; i++) {
        const k = n++;
        calls.push(ca.request(b.address, { text: label, n: k }).then((r) => t.deepEqual(r, { text: `b:${label}`, n: k })));
        calls.push(cb.request(a.address, { text: label, n: k }).then((r) => t.deepEqual(r, { text: `a:${label}`, n: k })));
      }
      await Promise.all(calls);
    }
  };
  await burst("old");
  // Each step runs on one node first, with traffic in flight, then on the other.
  const steps: Array<[string, () => void, () => void]> = [
    ["install", () => ringA.install(newKey), () => ringB.install(newKey)],
    ["use", () => ringA.use(newKey), () => ringB.use(newKey)],
    ["remove", () => ringA.remove(oldKey), () => ringB.remove(oldKey)],
  ];
  for (const [name, onA, onB] of steps) {
    const inflight = burst(`${name}-1`);
    onA();
    await inflight;
    await burst(`${name}-2`);
    onB();
    await burst(`${name}-3`);
  }
  t.deepEqual(ringA.list().map((k) => k.fingerprint), [Keyring.fingerprint(newKey)]);
  t.deepEqual(ringB.list().map((k) => k.fingerprint), [Keyring.fingerprint(newKey)]);
  t.is(a.stats.dropped, 0, JSON.stringify(a.stats.droppedByReason));
  t.is(b.stats.dropped, 0, JSON.stringify(b.stats.droppedByReason));
  t.is(a.stats.retries + b.stats.retries, 0);
  t.log(`${n * 2} requests, ${a.stats.datagramsIn + b.stats.datagramsIn} datagrams in, 0 dropped`);
  await Promise.all([a.close(), b.close()]);
  clock.clearAll();
});
