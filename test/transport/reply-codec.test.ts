// A reply the channel's codec cannot encode must come back as an error reply
// (issue 14): before, an async handler's encode failure skipped `fail`, became
// an unhandled rejection, and the cached "running" entry swallowed every
// retry of the request for the response cache's TTL (30 s).
import test from "ava";
import { isLockerError } from "../../src/errors.js";
import { createUdpTransport, type MessageCodec } from "../../src/transport/index.js";
import { SystemClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { echoCodec, type Echo } from "./helpers.js";

/** Refuses to encode a message whose text is "poison" (as a codec refuses what it cannot carry). */
const picky: MessageCodec<Echo> = {
  encode: (m) => {
    if (m.text === "poison") throw new Error("cannot encode poison");
    return echoCodec.encode(m);
  },
  decode: echoCodec.decode,
};

for (const kind of ["async", "sync"] as const) {
  test(`a ${kind} handler whose answer the codec refuses gets an error reply, and the request id is not left "running"`, async (t) => {
    const clock = new SystemClock();
    const random = new SeededRandom(14);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    const server = await createUdpTransport({ bind: "127.0.0.1:0", clock, random: random.fork() });
    const client = await createUdpTransport({
      bind: "127.0.0.1:0",
      clock,
      random: random.fork(),
      request: { attemptTimeoutMs: 100, retries: 3, timeoutMs: 2000 },
    });
    let calls = 0;
    server.channel(2, picky).onRequest((m) => {
      calls++;
      const answer = { text: m.text, n: m.n };
      return kind === "async" ? Promise.resolve(answer) : answer;
    });
    const channel = client.channel(2, echoCodec);
    const started = clock.now();
    const error = await t.throwsAsync(channel.request(server.address, { text: "poison", n: 1 }));
    t.true(isLockerError(error, "unavailable"), String(error));
    t.regex(String((error as Error).message), /cannot encode poison/);
    t.true(clock.now() - started < 1000, "answered, not timed out");
    t.is(client.stats.retries, 0, "the first attempt got the error reply");
    t.is(calls, 1);
    // The server is still healthy.
    t.deepEqual(await channel.request(server.address, { text: "fine", n: 2 }), { text: "fine", n: 2 });
    t.is(server.stats.droppedByReason.duplicate_request ?? 0, 0);
    t.is(server.stats.droppedByReason.handler_error, 1, "counted");
    await new Promise((r) => setImmediate(r));
    process.off("unhandledRejection", onUnhandled);
    t.deepEqual(unhandled, []);
    await Promise.all([server.close(), client.close()]);
    clock.clearAll();
  });
}
