// Values that would not come back unchanged from a canonical CBOR round trip
// are refused with `invalid` (issue 13: `{"value": 1e400}` was stored as null).
import test from "ava";
import fc from "fast-check";
import { isLockerError, LockerError } from "../../src/errors.js";
import { decodeValue, encodeValue, isCanonicalValue, validateValue } from "../../src/cas/value.js";
import { createMemoryLockers } from "../../src/locker-cluster.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { settle } from "../support/virtual-time.js";

const refused: Array<[string, unknown, RegExp]> = [
  ["NaN", NaN, /NaN/],
  ["Infinity", Infinity, /Infinity/],
  ["-Infinity", -Infinity, /Infinity/],
  ["1e400 from JSON", JSON.parse('{"value": 1e400}').value, /1e400/],
  ["nested -1e400", JSON.parse('{"a": [1, {"b": -1e400}]}'), /Infinity/],
  ["lone high surrogate", "ab\ud800", /surrogate/],
  ["lone low surrogate", "\udc00x", /surrogate/],
  ["surrogate in a property name", { ["k\ud801"]: 1 }, /property name/],
  ["surrogate in a Map key", new Map([["\udfff", 1]]), /surrogate/],
  ["invalid Date", new Date(NaN), /Date/],
  ["class instance", new (class Point {})(), /plain data/],
  ["boxed number", new Number(1), /plain data/],
  ["Float32Array", new Float32Array(2), /plain data/],
  ["symbol-keyed property", { [Symbol("s")]: 1, a: 1 }, /symbol/],
  ["function", () => 1, /function/],
  ["undefined", undefined, /undefined/],
];

for (const [name, value, message] of refused) {
  test(`refused with invalid: ${name}`, (t) => {
    const e = t.throws(() => encodeValue(value));
    t.true(isLockerError(e, "invalid"), String(e));
    t.regex((e as LockerError).message, message);
  });
}

test("-0 is stored as 0 (CBOR's shortest form; -0 === 0)", (t) => {
  t.deepEqual(encodeValue(-0), encodeValue(0));
  t.true(Object.is(decodeValue(encodeValue({ a: -0 })) && (decodeValue(encodeValue({ a: -0 })) as { a: number }).a, 0));
});

test("surrogate pairs (astral characters) are fine", (t) => {
  t.is(decodeValue(encodeValue("😀 ok")), "😀 ok");
});

test("property: every value that is accepted survives a canonical round trip byte for byte", (t) => {
  let accepted = 0;
  let refusedCount = 0;
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue(), fc.anything({ withDate: true, withMap: true, withBigInt: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true })), (v) => {
      let bytes: Uint8Array;
      try {
        bytes = encodeValue(v);
      } catch (e) {
        if (!isLockerError(e, "invalid")) throw e;
        refusedCount++;
        return true;
      }
      accepted++;
      return Buffer.from(encodeValue(decodeValue(bytes))).equals(Buffer.from(bytes));
    }),
    { seed: 41, numRuns: 3000 },
  );
  t.true(accepted > 1000 && refusedCount > 0, `${accepted} accepted, ${refusedCount} refused`);
});

test("property: doubles — finite ones are accepted and round-trip, the rest refused", (t) => {
  fc.assert(
    fc.property(fc.double(), (d) => {
      if (!Number.isFinite(d)) return isLockerError(tryEncode(d), "invalid");
      const back = decodeValue(encodeValue(d)) as number;
      return back === d; // -0 comes back as 0, and -0 === 0
    }),
    { seed: 42, numRuns: 5000 },
  );
  t.pass();
});

function tryEncode(v: unknown): unknown {
  try {
    encodeValue(v);
    return undefined;
  } catch (e) {
    return e;
  }
}

test("validateValue: one check of shape and size with a clear message", (t) => {
  t.is(validateValue("x", 10).length, 2);
  const e = t.throws(() => validateValue("x".repeat(20), 10));
  t.true(isLockerError(e, "invalid"));
  t.regex((e as Error).message, /21 bytes encoded; the limit is 10/);
});

test("the Locker refuses such values with invalid, before any round", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(4) });
  const { lockers } = createMemoryLockers({ net });
  const l = lockers[0]!;
  for (const v of [NaN, Infinity, JSON.parse("1e400"), "\ud800"]) {
    const e = await t.throwsAsync(settle(clock, l.lock("k", v, { leaseMs: 1000 })));
    t.true(isLockerError(e, "invalid"), String(e));
  }
  t.is(l.summary().pendingRounds, 0);
  t.is((await settle(clock, l.lock("k", 1.5, { leaseMs: 1000 }))).token > 0n, true);
  await Promise.all(lockers.map((x) => x.close()));
});

test("from the wire, only canonical CBOR is a value: whatever encodeValue writes passes, other bytes are refused without throwing (property)", (t) => {
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), (v) => isCanonicalValue(encodeValue(v))), { seed: 7, numRuns: 500 });
  // Not CBOR at all, a CBOR head with nothing behind it, and non-canonical forms of 1 and "a".
  for (const bytes of [[0xff, 0x00], [0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0x18, 0x01], [0x7a, 0, 0, 0, 1, 0x61]]) {
    t.false(isCanonicalValue(new Uint8Array(bytes)), JSON.stringify(bytes));
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => typeof isCanonicalValue(b) === "boolean"), { seed: 8, numRuns: 2000 });
});
