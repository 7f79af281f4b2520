import test from "ava";
import fc from "fast-check";
import { BoundedMap } from "../../src/util/bounded-map.js";

test("BoundedMap keeps at most maxSize entries, dropping the least recently set first", (t) => {
  const m = new BoundedMap<string, number>(2);
  m.set("a", 1).set("b", 2).set("a", 3).set("c", 4);
  t.deepEqual([...m], [["a", 3], ["c", 4]], "b was the oldest once a was set again");
  t.throws(() => new BoundedMap(0), { instanceOf: RangeError });
});

test("property: BoundedMap holds exactly the last maxSize distinct keys set, with their last values", (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer()), { maxLength: 60 }), (max, sets) => {
      const m = new BoundedMap<number, number>(max);
      const model = new Map<number, number>();
      for (const [k, v] of sets) {
        m.set(k, v);
        model.delete(k);
        model.set(k, v);
        while (model.size > max) model.delete(model.keys().next().value!);
      }
      return JSON.stringify([...m]) === JSON.stringify([...model]);
    }),
    { seed: 3, numRuns: 500 },
  );
  t.pass();
});
