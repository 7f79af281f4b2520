// The acceptor's packed keys and values (src/cas/slot-bytes.ts) against a
// model, through writes in place and elsewhere, clears, frees, moves, buffer
// compaction and growth; and the footprint at a million short entries.
import test from "ava";
import fc from "fast-check";
import { SlotBytes } from "../../src/cas/slot-bytes.js";

const SLOTS = 64;
type Step =
  | { kind: "bytes"; slot: number; value: Uint8Array }
  | { kind: "string"; slot: number; value: string }
  | { kind: "clear"; slot: number }
  | { kind: "free"; slot: number }
  | { kind: "move"; from: number; to: number };

const slot = fc.integer({ min: 0, max: SLOTS - 1 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("bytes" as const), slot, value: fc.oneof({ weight: 9, arbitrary: fc.uint8Array({ maxLength: 3000 }) }, {
        weight: 1,
        // Large entries (a few per chunk) exercise the chunk ends; made from a seed, not drawn byte by byte.
        arbitrary: fc.record({ length: fc.integer({ min: 60_000, max: 131_071 }), seed: fc.integer({ min: 1, max: 255 }) }).map(({ length, seed }) => {
          const v = new Uint8Array(length);
          for (let i = 0; i < length; i++) v[i] = (i * seed) & 0xff;
          return v;
        }),
      }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("string" as const), slot, value: fc.oneof(fc.string({ maxLength: 40 }), fc.fullUnicodeString({ maxLength: 20 })) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("clear" as const), slot }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("free" as const), slot }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("move" as const), from: slot, to: slot }) },
);

test("property: every slot reads back what was last stored in it, through compaction and growth of the buffer", (t) => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 200, maxLength: 1500 }), (steps) => {
      const store = new SlotBytes(SLOTS);
      const model = new Map<number, Uint8Array | string>();
      for (const s of steps) {
        switch (s.kind) {
          case "bytes":
            store.setBytes(s.slot, s.value);
            model.set(s.slot, s.value.slice());
            break;
          case "string":
            store.setString(s.slot, s.value);
            model.set(s.slot, s.value);
            break;
          case "clear":
            store.clear(s.slot);
            model.delete(s.slot);
            break;
          case "free":
            store.free(s.slot);
            model.delete(s.slot);
            break;
          case "move":
            if (s.from === s.to) break;
            // The acceptor moves a slot only onto one it freed.
            store.free(s.to);
            store.move(s.from, s.to);
            model.delete(s.to);
            if (model.has(s.from)) model.set(s.to, model.get(s.from)!);
            model.delete(s.from);
            break;
        }
      }
      for (let i = 0; i < SLOTS; i++) {
        const want = model.get(i);
        if (store.has(i) !== (want !== undefined)) return false;
        if (want === undefined) continue;
        if (typeof want === "string") {
          if (store.string(i) !== want || !store.equalsString(i, want) || store.equalsString(i, want + "x")) return false;
        } else if (Buffer.compare(store.bytes(i), want) !== 0) return false;
      }
      return true;
    }),
    { seed: 4242, numRuns: 40 },
  );
  t.pass();
});

test("a million 14-byte keys cost 24 bytes each and a chunk at most; rewriting a value of the same length allocates nothing", (t) => {
  const n = 1_000_000;
  const keys = new SlotBytes(n);
  for (let i = 0; i < n; i++) keys.setString(i, `lease/${i.toString().padStart(8, "0")}`);
  t.true(keys.footprint <= n * 24 + 256 * 1024, `${keys.footprint / n} B per key`);
  t.is(keys.string(123_456), "lease/00123456");
  // A mass expiry frees nine in ten: compaction gives their chunks back, and the rest still read right.
  const full = keys.footprint;
  for (let i = 0; i < n; i++) if (i % 10 !== 0) keys.free(i);
  keys.compactIfMostlyGarbage();
  t.true(keys.footprint < full / 2, `${keys.footprint} of ${full} bytes kept`);
  t.is(keys.string(123_450), "lease/00123450");
  t.false(keys.has(123_456));
  const values = new SlotBytes(4);
  values.setBytes(0, new Uint8Array([1, 2, 3, 4, 5]));
  const before = values.footprint;
  for (let i = 0; i < 100_000; i++) {
    values.clear(0);
    values.setBytes(0, new Uint8Array([i & 0xff, 2, 3, 4, 5]));
  }
  t.is(values.footprint, before);
  t.deepEqual([...values.bytes(0)], [(99_999 & 0xff), 2, 3, 4, 5]);
});

test("more than a slot holds is refused with a RangeError, and what was stored stays", (t) => {
  const store = new SlotBytes(1);
  store.setString(0, "kept");
  t.throws(() => store.setBytes(0, new Uint8Array(0x20000)), { instanceOf: RangeError });
  t.is(store.string(0), "kept");
});
