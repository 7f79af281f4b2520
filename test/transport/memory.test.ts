import test from "ava";
import { MemoryNetwork, Transport, type DatagramSocket } from "../../src/transport/index.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { encodeFrame, Envelope, FrameKind } from "../../src/wire/index.js";
import { echoCodec } from "./helpers.js";

function chatter(seed: number): { trace: string[]; answers: string[] } {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({
    clock,
    random: new SeededRandom(seed),
    faults: { lossRate: 0.2, duplicateRate: 0.1, minDelayMs: 1, maxDelayMs: 5, reorderRate: 0.2, reorderDelayMs: 20 },
    recordTrace: true,
  });
  const nodes = ["a:1", "b:1", "c:1"].map((addr) => net.transport(addr, { request: { attemptTimeoutMs: 20, retries: 10, timeoutMs: 5000 } }));
  const answers: string[] = [];
  const channels = nodes.map((n) => {
    const ch = n.channel(2, echoCodec);
    ch.onRequest((m) => ({ text: `${n.address} got ${m.text}`, n: m.n }));
    return ch;
  });
  for (let i = 0; i < 30; i++) {
    const from = i % 3;
    const to = (i + 1) % 3;
    clock.setTimer(i * 3, () =>
      channels[from]!.request(nodes[to]!.address, { text: `m${i}`, n: i }).then(
        (r) => answers.push(`${r.text}`),
        (e: Error) => answers.push(`${e.message}`),
      ),
    );
  }
  net.partition(["a:1"], ["b:1", "c:1"]);
  clock.runFor(50);
  net.heal();
  clock.runFor(10_000);
  return { trace: net.trace, answers };
}

test("one seed gives identical delivery traces on two runs; another seed differs", (t) => {
  const first = chatter(1234);
  const second = chatter(1234);
  t.true(first.trace.length > 50);
  t.deepEqual(first.trace, second.trace);
  t.deepEqual(first.answers, second.answers);
  t.notDeepEqual(chatter(4321).trace, first.trace);
});

/** A server counting its handler's runs, and a raw socket playing the client so one request id can be sent again and again. */
function countingServer(idempotent?: (m: { text: string }) => boolean) {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(1) });
  const server = net.transport("server:1");
  let runs = 0;
  server.channel(2, echoCodec, idempotent ? { idempotent } : undefined).onRequest((m) => {
    runs++;
    return m;
  });
  const raw: DatagramSocket = net.socket("client:1");
  const responses: Uint8Array[] = [];
  raw.onDatagram((d) => responses.push(d));
  const env = new Envelope();
  const send = (id: number, text: string): void => raw.send(env.wrap(encodeFrame({ channel: 2, kind: FrameKind.request, id, payload: [text, 1] }), 1), "server:1");
  return { clock, server, responses, send, runs: () => runs };
}

test("a request delivered three times runs its handler once and is answered each time", (t) => {
  const { clock, server, responses, send, runs } = countingServer();
  send(77, "once");
  send(77, "once");
  clock.runFor(10);
  send(77, "once");
  clock.runFor(10);
  t.is(runs(), 1);
  t.is(responses.length, 3, "each copy is answered, the later ones from the response cache");
  t.is(server.stats.cachedResponses, 2);
});

test("on a channel whose requests are idempotent, a request delivered three times runs three times and leaves no cache entry", (t) => {
  const { clock, server, responses, send, runs } = countingServer((m) => m.text === "again");
  for (let i = 0; i < 3; i++) send(78, "again");
  clock.runFor(10);
  t.is(runs(), 3);
  t.is(responses.length, 3);
  t.is(server.stats.cachedResponses, 0);
  // Another request of the same channel that is not idempotent still runs once.
  for (let i = 0; i < 3; i++) send(79, "once");
  clock.runFor(10);
  t.is(runs(), 4);
  t.is(server.stats.cachedResponses, 2);
});

test("an async handler still running when the retry arrives is not run twice", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(2), faults: { minDelayMs: 1, maxDelayMs: 1 } });
  const server = net.transport("s:1");
  const client = net.transport("c:1", { request: { attemptTimeoutMs: 5, retries: 5, timeoutMs: 1000 }, backoff: { baseMs: 5, factor: 1, maxMs: 5 } });
  let runs = 0;
  server.channel(2, echoCodec).onRequest(
    (m) =>
      new Promise((resolve) => {
        runs++;
        clock.setTimer(20, () => resolve({ text: "slow " + m.text, n: m.n }));
      }),
  );
  const p = client.channel(2, echoCodec).request("s:1", { text: "x", n: 3 });
  let answer: unknown;
  p.then((r) => (answer = r));
  // Promise continuations run between virtual-time steps, as they would between real events.
  for (let i = 0; i < 200 && answer === undefined; i++) {
    clock.runFor(1);
    await new Promise((r) => setImmediate(r));
  }
  t.deepEqual(answer, { text: "slow x", n: 3 });
  t.true(server.stats.droppedByReason.duplicate_request! >= 2, "retries reached the server while its handler ran");
  t.is(runs, 1);
  t.true(client.stats.retries >= 2);
});

test("pause holds a node's deliveries and timers until it resumes; crash loses them", (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(3), faults: { minDelayMs: 1, maxDelayMs: 1 } });
  const a = net.transport("a:1");
  const b = net.transport("b:1");
  const got: number[] = [];
  b.channel(2, echoCodec).onMessage((m) => got.push(clock.now()));
  const ch = a.channel(2, echoCodec);
  net.pause("b:1", 100);
  let fired = -1;
  net.nodeClock("b:1").setTimer(10, () => (fired = clock.now()));
  ch.send("b:1", { text: "during pause", n: 1 });
  clock.runFor(200);
  t.deepEqual(got, [100]);
  t.is(fired, 100);
  net.crash("b:1");
  ch.send("b:1", { text: "to the dead", n: 2 });
  clock.runFor(10);
  t.is(got.length, 1);
  t.is(net.counters.toCrashed, 1);
  // Restart on the same address: a new transport, fresh clock.
  const b2 = net.transport("b:1");
  b2.channel(2, echoCodec).onMessage(() => got.push(-1));
  ch.send("b:1", { text: "back", n: 3 });
  clock.runFor(10);
  t.deepEqual(got, [100, -1]);
});

test("messages to one peer in one turn share datagrams, never over the cap", (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(4) });
  const a: Transport = net.transport("a:1", { maxDatagramBytes: 512 });
  const b = net.transport("b:1", { maxDatagramBytes: 512 });
  let n = 0;
  b.channel(2, echoCodec).onMessage(() => n++);
  const ch = a.channel(2, echoCodec);
  for (let i = 0; i < 100; i++) ch.send("b:1", { text: "x".repeat(i), n: i });
  t.throws(() => ch.send("b:1", { text: "y".repeat(600), n: 0 }), { message: /exceeds/ });
  clock.runFor(10);
  t.is(n, 100);
  t.true(a.stats.datagramsOut < 100 && a.stats.datagramsOut >= Math.ceil(a.stats.bytesOut / 512));
  t.true(a.stats.bytesOut / a.stats.datagramsOut <= 512);
});

test("no datagram exceeds the cap, whatever the mix of message sizes (property)", async (t) => {
  const fc = (await import("fast-check")).default;
  fc.assert(
    fc.property(fc.integer({ min: 256, max: 1400 }), fc.array(fc.integer({ min: 0, max: 2000 }), { minLength: 1, maxLength: 60 }), (cap, sizes) => {
      const clock = new VirtualClock();
      const net = new MemoryNetwork({ clock, random: new SeededRandom(cap), recordTrace: true });
      const a = net.transport("a:1", { maxDatagramBytes: cap });
      const b = net.transport("b:1", { maxDatagramBytes: cap });
      let received = 0;
      b.channel(2, echoCodec).onMessage(() => received++);
      const ch = a.channel(2, echoCodec);
      let accepted = 0;
      for (const n of sizes) {
        try {
          ch.send("b:1", { text: "z".repeat(n), n });
          accepted++;
        } catch (e) {
          // Refused up front with a clear error, only when it cannot fit.
          if (!/exceeds/.test((e as Error).message) || n < cap - 40) throw e;
        }
      }
      clock.runFor(10);
      const lengths = net.trace.map((line) => Number(line.split(" ")[2]));
      return received === accepted && lengths.every((l) => l <= cap);
    }),
    { seed: 11, numRuns: 150 },
  );
  t.pass();
});

test("a message requested of several peers in one turn is encoded once; each peer still gets its own request and answer", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(3), faults: { minDelayMs: 1, maxDelayMs: 2 } });
  let encodes = 0;
  const counting = { ...echoCodec, encode: (m: { text: string; n: number }) => (encodes++, echoCodec.encode(m)) };
  const [a, ...peers] = ["a:1", "b:1", "c:1", "d:1"].map((addr) => net.transport(addr));
  const ch = a!.channel(2, counting);
  for (const p of peers) p.channel(2, echoCodec).onRequest((m) => ({ text: `${p.address} got ${m.text}`, n: m.n }));
  const message = { text: "hello", n: 1 };
  const answers = Promise.all(peers.map((p) => ch.request(p.address, message)));
  clock.runFor(20);
  t.deepEqual((await answers).map((r) => r.text), ["b:1 got hello", "c:1 got hello", "d:1 got hello"]);
  t.is(encodes, 1);
  // Another message, or the same one in a later turn, is encoded again (a caller's message may be rebuilt).
  const next = ch.request("b:1", { text: "again", n: 2 });
  clock.runFor(20);
  await next;
  const same = ch.request("c:1", message);
  clock.runFor(20);
  t.is((await same).text, "c:1 got hello");
  t.is(encodes, 3);
});

test("a response the requester's codec refuses is dropped and counted, and the request fails `unavailable` (never adopted)", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(4), faults: { minDelayMs: 1, maxDelayMs: 2 } });
  const a = net.transport("a:1");
  const b = net.transport("b:1");
  const ch = a.channel(2, echoCodec);
  // b answers on the same channel with a shape echoCodec refuses (one element, not two).
  b.channel(2, { encode: (m: { text: string }) => [m.text], decode: (raw: unknown) => ({ text: String((raw as unknown[])[0]), n: 0 }) }).onRequest((m) => ({ text: `${m.text}!`, n: 0 }));
  const answer = ch.request("b:1", { text: "hi", n: 1 }).then(
    () => "adopted",
    (e: { code?: string; message: string }) => `${e.code}: ${e.message}`,
  );
  clock.runFor(20);
  t.is(await answer, "unavailable: malformed response from b:1");
  t.is(a.stats.droppedByReason.bad_message, 1);
  t.is(a.pendingRequests, 0);
});
