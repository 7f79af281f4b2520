// The replication codec: every message survives a round trip; anything
// malformed is refused with a WireError (the transport drops and counts it).
import test from "ava";
import fc from "fast-check";
import { encodeValue } from "../../src/cas/value.js";
import { replCodec, type ChangeEntry, type ReplMessage } from "../../src/replication/messages.js";
import { MAX_BALLOT_COUNTER } from "../../src/cas/ballot.js";
import { MAX_CONFIG_VERSION } from "../../src/cas/messages.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { ChannelId } from "../../src/transport/types.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { decodeCbor, encodeCbor } from "../../src/wire/cbor.js";

const bytes = (_k: string, v: unknown): unknown => (v instanceof Uint8Array ? [...v] : v);
import { WireError } from "../../src/wire/errors.js";

const name = fc.string({ minLength: 1, maxLength: 20 });
const ballot = fc.record({ c: fc.integer({ min: 1, max: MAX_BALLOT_COUNTER }), node: name });
const entry: fc.Arbitrary<ChangeEntry> = fc
  .record({
    key: fc.string({ minLength: 1, maxLength: 40 }),
    ballot,
    withOrigin: fc.boolean(),
    record: fc.option(fc.record({ value: fc.jsonValue({ maxDepth: 2 }).map(encodeValue), token: fc.nat(), remainingMs: fc.integer({ min: 1, max: 2 ** 31 - 1 }) }), { nil: null }),
  })
  // A token is the counter of the ballot that created the lock: never above the entry's ballot.
  .map(({ key, ballot: b, withOrigin, record }) => ({
    key,
    ballot: b,
    origin: withOrigin && b.c > 1 ? { c: b.c - 1, node: b.node } : null,
    record: record && { ...record, token: record.token % (b.c + 1) },
  }));
const config = fc.uniqueArray(fc.record({ name, address: fc.string({ minLength: 1, maxLength: 30 }) }), { minLength: 1, maxLength: 7, selector: (v) => v.name }).map((voters) => ({
  version: 3,
  voters: [...voters].sort((a, b) => (a.name < b.name ? -1 : 1)),
}));
const message: fc.Arbitrary<ReplMessage> = fc.oneof(
  fc.record({ type: fc.constant("push" as const), from: name, cfg: fc.nat({ max: MAX_CONFIG_VERSION }), entries: fc.array(entry, { maxLength: 5 }) }),
  fc.record({ type: fc.constant("ack" as const), cfg: fc.nat({ max: 1000 }) }),
  fc.record({ type: fc.constant("snap" as const), from: name, session: fc.nat({ max: 2 ** 32 - 1 }), page: fc.nat({ max: 1000 }) }),
  fc.record({ type: fc.constant("page" as const), session: fc.nat({ max: 1000 }), pages: fc.constant(10), page: fc.nat({ max: 9 }), entries: fc.array(entry, { maxLength: 5 }) }),
  fc.record({ type: fc.constant("resync" as const), from: name }),
  fc.constant({ type: "cfgGet" as const }),
  fc.record({ type: fc.constant("cfg" as const), config }),
  fc.record({ type: fc.constant("keys" as const), session: fc.nat({ max: 1000 }), page: fc.nat({ max: 1000 }) }),
  fc.record({ type: fc.constant("keyPage" as const), session: fc.nat({ max: 1000 }), pages: fc.constant(3), page: fc.nat({ max: 2 }), keys: fc.array(fc.string({ minLength: 1, maxLength: 10 }), { maxLength: 5 }) }),
);

test("every message survives encode → CBOR → decode", (t) => {
  fc.assert(
    fc.property(message, (m) => {
      const decoded = replCodec.decode(decodeCbor(encodeCbor(replCodec.encode(m))));
      t.deepEqual(JSON.stringify(decoded, bytes), JSON.stringify(m, bytes));
    }),
  );
});

test("malformed messages are refused with a WireError", (t) => {
  const bad: unknown[] = [
    null,
    [],
    [99],
    [1, "v1", 1],
    [1, "", 1, []],
    [1, "v1", -1, []],
    [1, "v1", 1, [["k", 1, "n", null, null, new Uint8Array(1), 1, 0]]], // lease 0
    [1, "v1", 1, [["k", 1, "n", 5, "n"]]], // origin above the ballot
    [1, "v1", 1, [["", 1, "n", null, null]]], // empty key
    [1, "v1", 1, [["k", 1.5, "n", null, null]]],
    [4, 1, 2, 5, []], // page past the end
    [7, [1, [["b", "x"], ["a", "y"]]]], // voters not sorted
    [7, [1, []]], // no voters
    [1, "v1", 1, new Array(5000).fill(["k", 1, "n", null, null])], // too many entries
  ];
  for (const raw of bad) t.throws(() => replCodec.decode(raw), { instanceOf: WireError }, JSON.stringify(raw)?.slice(0, 60));
});

test("hostile datagrams on the replication channel are dropped and counted, never fatal", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(3) });
  const a = net.transport("a");
  const b = net.transport("b");
  let handled = 0;
  b.channel(ChannelId.replication, replCodec).onRequest(() => {
    handled++;
    return { type: "ack", cfg: 1 };
  });
  const raw = a.channel(ChannelId.replication, { encode: (m: unknown) => m, decode: (m: unknown) => m });
  for (const payload of [[1, "x"], "junk", [7, [1, [["b", "x"], ["a", "y"]]]], encodeCbor([1, 2, 3])]) raw.send("b", payload);
  clock.runFor(10);
  t.is(handled, 0);
  t.is(b.stats.droppedByReason.bad_message, 4);
});
