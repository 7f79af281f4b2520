import test from "ava";
import fc from "fast-check";
import { encode } from "cbor-x";
import { decodeMessage, encodeMessage, MalformedMessage, type Message, type Update } from "../src/messages.js";

const name = fc.string({ minLength: 1, maxLength: 40 });
const uint = fc.nat({ max: 2 ** 40 });
const meta = fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null });
const update: fc.Arbitrary<Update> = fc.oneof(
  fc.record({ kind: fc.constant("alive" as const), name, address: name, incarnation: uint, meta }),
  fc.record({ kind: fc.constant("suspect" as const), name, incarnation: uint, from: name }),
  fc.record({ kind: fc.constant("dead" as const), name, incarnation: uint, from: name }),
);
const updates = fc.array(update, { maxLength: 10 });
const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant("ping" as const), seq: uint, target: name, updates }),
  fc.record({ type: fc.constant("pingReq" as const), seq: uint, target: name, targetAddress: name, wantNack: fc.boolean(), updates }),
  fc.record({ type: fc.constant("ack" as const), seq: uint, updates }),
  fc.record({ type: fc.constant("nack" as const), seq: uint, updates }),
  fc.record({ type: fc.constant("gossip" as const), updates }),
  fc.integer({ min: 1, max: 5 }).chain((parts) =>
    fc.record({
      type: fc.constant("pushPull" as const), id: uint, response: fc.boolean(), join: fc.boolean(), part: fc.integer({ min: 0, max: parts - 1 }), parts: fc.constant(parts), sender: name,
      entries: fc.array(fc.record({ name, address: name, incarnation: uint, state: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>, meta }), { maxLength: 5 }),
    }),
  ),
);

function normalize(m: unknown): unknown {
  return JSON.parse(JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v)));
}

test("every message survives encode → decode", (t) => {
  fc.assert(fc.property(message, (m) => {
    const back = decodeMessage(encodeMessage(m), 512);
    return JSON.stringify(normalize(back)) === JSON.stringify(normalize(m));
  }));
  t.pass();
});

test("random bytes never throw anything but MalformedMessage", (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
    try {
      decodeMessage(bytes, 512);
    } catch (e) {
      return e instanceof MalformedMessage;
    }
    return true;
  }));
  t.pass();
});

test("mutated valid messages never throw anything but MalformedMessage", (t) => {
  fc.assert(fc.property(message, fc.nat(), fc.nat({ max: 255 }), (m, pos, byte) => {
    const bytes = encodeMessage(m);
    bytes[pos % bytes.length] = byte;
    try {
      decodeMessage(bytes, 512);
    } catch (e) {
      return e instanceof MalformedMessage;
    }
    return true;
  }));
  t.pass();
});

test("wrong shapes are rejected with a reason", (t) => {
  const bad: unknown[] = [
    null, 42, "ping", {}, [], [99], [0, -1, "a", []], [0, 1.5, "a", []], [0, 1, "", []], [0, 1, "a"], [0, 1, "a", [[7, "x"]]],
    [0, 1, "x".repeat(200), []], [2, 1, [[0, "a", "a:1", 0, "not bytes"]]], [5, 1, 0, 0, 3, 2, "s", []], [5, 1, 2, 0, 0, 1, "s", []],
    [5, 1, 0, 0, 0, 1, "s", [["a", "a:1", 0, 9, null]]],
  ];
  for (const v of bad) t.throws(() => decodeMessage(encode(v), 512), { instanceOf: MalformedMessage }, JSON.stringify(v));
  // Metadata over the limit is refused.
  const big = encodeMessage({ type: "gossip", updates: [{ kind: "alive", name: "a", address: "a:1", incarnation: 0, meta: new Uint8Array(600) }] });
  t.throws(() => decodeMessage(big, 512), { instanceOf: MalformedMessage });
});
