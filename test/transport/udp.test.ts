import test from "ava";
import { isLockerError } from "../../src/errors.js";
import { createUdpTransport, Transport, UdpSocket, parseHostPort } from "../../src/transport/index.js";
import { SystemClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { echoCodec, LossySocket } from "./helpers.js";

test("request/response over real UDP with 30% loss on both sides completes through retries", async (t) => {
  const clock = new SystemClock();
  const random = new SeededRandom(30);
  const serverSocket = new LossySocket(await UdpSocket.bind("127.0.0.1:0"), 0.3, random.fork());
  const clientSocket = new LossySocket(await UdpSocket.bind("127.0.0.1:0"), 0.3, random.fork());
  // Retries are generous: 0.7² ≈ 49% of attempts make the round trip.
  const options = { request: { attemptTimeoutMs: 30, retries: 20, timeoutMs: 30_000 }, backoff: { baseMs: 30, factor: 1.5, maxMs: 200 } };
  const server = new Transport(serverSocket, clock, random.fork(), options);
  const client = new Transport(clientSocket, clock, random.fork(), options);
  let executions = 0;
  server.channel(2, echoCodec).onRequest((m) => {
    executions++;
    return { text: m.text.toUpperCase(), n: m.n * 2 };
  });
  const channel = client.channel(2, echoCodec);
  // One at a time: concurrent requests would share a datagram and be lost together.
  const results = [];
  for (let i = 0; i < 50; i++) results.push(await channel.request(server.address, { text: `hello ${i}`, n: i }));
  results.forEach((r, i) => t.deepEqual(r, { text: `HELLO ${i}`, n: 2 * i }));
  t.true(client.stats.retries > 0, "loss must have forced retries");
  t.true(serverSocket.lost > 0 && clientSocket.lost > 0);
  // A lost response makes the client retry; the server answers from its cache.
  t.is(executions, 50, "every request ran its handler exactly once");
  t.log(`retries ${client.stats.retries}, cached responses ${server.stats.cachedResponses}, lost ${serverSocket.lost}+${clientSocket.lost}`);
  await Promise.all([server.close(), client.close()]);
  clock.clearAll();
});

test("a request to a silent port fails with a timeout after the configured retries", async (t) => {
  const clock = new SystemClock();
  const silent = await UdpSocket.bind("127.0.0.1:0"); // bound, never answers
  const client = await createUdpTransport({ bind: "127.0.0.1:0", clock, random: new SeededRandom(1), request: { attemptTimeoutMs: 20, retries: 3, timeoutMs: 10_000 }, backoff: { baseMs: 20, factor: 2, maxMs: 100 } });
  const error = await t.throwsAsync(client.channel(2, echoCodec).request(silent.address, { text: "anyone?", n: 1 }));
  t.true(isLockerError(error, "timeout"));
  t.is(client.stats.retries, 3);
  t.is(client.stats.timeouts, 1);
  t.is(client.pendingRequests, 0);
  await Promise.all([client.close(), silent.close()]);
});

test("address parsing refuses bad input with a clear message", (t) => {
  t.deepEqual(parseHostPort("127.0.0.1:7946"), { host: "127.0.0.1", port: 7946 });
  t.deepEqual(parseHostPort("[::1]:80"), { host: "::1", port: 80 });
  for (const bad of ["", "host", "host:", "host:99999", ":80x"]) t.throws(() => parseHostPort(bad), { message: /bad/ });
});

test("a handler's LockerError reaches the caller with its code", async (t) => {
  const clock = new SystemClock();
  const random = new SeededRandom(5);
  const a = await createUdpTransport({ bind: "127.0.0.1:0", clock, random });
  const b = await createUdpTransport({ bind: "127.0.0.1:0", clock, random });
  const { LockerError } = await import("../../src/errors.js");
  b.channel(2, echoCodec).onRequest(() => {
    throw new LockerError("locked", "held by someone");
  });
  const e = await t.throwsAsync(a.channel(2, echoCodec).request(b.address, { text: "x", n: 0 }));
  t.true(isLockerError(e, "locked"));
  await Promise.all([a.close(), b.close()]);
});
