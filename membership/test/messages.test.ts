import test from "ava";
import fc from "fast-check";
import { encode } from "cbor-x";
import { decodeMessage, encodeMessage, MalformedMessage, MAX_INCARNATION, MAX_PARTS, MAX_SEQ, type Message, type Update } from "../src/messages.js";

const name = fc.string({ minLength: 1, maxLength: 40 });
const incarnation = fc.nat({ max: MAX_INCARNATION });
const uint = fc.nat({ max: MAX_SEQ });
const meta = fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null });
const update: fc.Arbitrary<Update> = fc.oneof(
  fc.record({ kind: fc.constant("alive" as const), name, address: name, incarnation, meta }),
  fc.record({ kind: fc.constant("suspect" as const), name, incarnation, from: name }),
  fc.record({ kind: fc.constant("dead" as const), name, incarnation, from: name }),
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
      entries: fc.array(fc.record({ name, address: name, incarnation, state: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>, meta }), { maxLength: 5 }),
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

// Every number decoded has a bound: one past it (up to 2^53−1, where a +1 is no longer exact) is refused.
const overBound = (max: number): fc.Arbitrary<number> => fc.oneof(fc.constant(max + 1), fc.constant(Number.MAX_SAFE_INTEGER), fc.integer({ min: max + 1, max: Number.MAX_SAFE_INTEGER }));
const decodes = (v: unknown): boolean => {
  try {
    decodeMessage(encode(v), 512);
    return true;
  } catch (e) {
    if (!(e instanceof MalformedMessage)) throw e;
    return false;
  }
};

test("incarnations: at most MAX_INCARNATION decodes, anything above (2^53−1 included) is malformed, in every place one appears", (t) => {
  const places = (inc: number): unknown[] => [
    [4, [[0, "a", "a:1", inc, null]]],
    [4, [[1, "a", inc, "b"]]],
    [4, [[2, "a", inc, "b"]]],
    [5, 1, 0, 0, 0, 1, "s", [["a", "a:1", inc, 0, null]]],
  ];
  fc.assert(fc.property(fc.nat({ max: MAX_INCARNATION }), overBound(MAX_INCARNATION), (ok, bad) => places(ok).every(decodes) && !places(bad).some(decodes)));
  // The bound leaves room to outbid: MAX_INCARNATION + 1 is still an exact integer, far below 2^53.
  t.true(Number.isSafeInteger(MAX_INCARNATION + 1));
});

test("seq, push-pull id, part and parts are bounded", (t) => {
  fc.assert(fc.property(fc.nat({ max: MAX_SEQ }), overBound(MAX_SEQ), (ok, bad) =>
    decodes([0, ok, "a", []]) && decodes([2, ok, []]) && decodes([5, ok, 0, 0, 0, 1, "s", []]) &&
    !decodes([0, bad, "a", []]) && !decodes([2, bad, []]) && !decodes([3, bad, []]) && !decodes([1, bad, "a", "a:1", 0, []]) && !decodes([5, bad, 0, 0, 0, 1, "s", []])));
  fc.assert(fc.property(overBound(MAX_PARTS), (bad) => !decodes([5, 1, 0, 0, 0, bad, "s", []]) && !decodes([5, 1, 0, 0, bad, bad, "s", []])));
  t.true(decodes([5, 1, 0, 0, MAX_PARTS - 1, MAX_PARTS, "s", []]));
});

test("array lengths, string lengths, member states and metadata size are bounded", (t) => {
  t.false(decodes([4, Array.from({ length: 1025 }, () => [1, "a", 0, "b"])]), "more than 1024 updates");
  t.false(decodes([5, 1, 0, 0, 0, 1, "s", Array.from({ length: 1025 }, () => ["a", "a:1", 0, 0, null])]), "more than 1024 entries");
  fc.assert(fc.property(fc.integer({ min: 4, max: 2 ** 31 }), (state) => !decodes([5, 1, 0, 0, 0, 1, "s", [["a", "a:1", 0, state, null]]])));
  fc.assert(fc.property(fc.integer({ min: 129, max: 400 }), (len) => !decodes([0, 1, "x".repeat(len), []]) && decodes([0, 1, "x".repeat(128), []])));
  fc.assert(fc.property(fc.integer({ min: 257, max: 600 }), (len) => !decodes([1, 1, "a", "x".repeat(len), 0, []])));
  fc.assert(fc.property(fc.integer({ min: 0, max: 1200 }), (len) => decodes([4, [[0, "a", "a:1", 0, new Uint8Array(len)]]]) === (len <= 512)));
});
