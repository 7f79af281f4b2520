// The acceptor's key → slot table (src/cas/key-index.ts) against a Map, over
// random sequences of adds, deletes and renumberings that keep probe runs
// long and wrap around the end of the table.
import test from "ava";
import fc from "fast-check";
import { KeyIndex, type KeyColumn } from "../../src/cas/key-index.js";

/** A key column over a plain array (the acceptor's is packed bytes: slot-bytes.ts). */
const column = (keyAt: Array<string | null>): KeyColumn => ({
  get slotCount() {
    return keyAt.length;
  },
  keyMatches: (slot, key) => keyAt[slot] === key,
  keyAt: (slot) => keyAt[slot] ?? null,
});

type Step = { kind: "add"; key: number } | { kind: "delete"; key: number } | { kind: "compact" };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("add" as const), key: fc.integer({ min: 0, max: 3000 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 3000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "compact" as const }) },
);

test("property: the key index answers as a Map of key → slot would, through adds, deletes, growth and renumbering", (t) => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 2000, maxLength: 4000 }), (steps) => {
      const keyAt: Array<string | null> = [];
      const free: number[] = [];
      const index = new KeyIndex(column(keyAt));
      const model = new Map<string, number>();
      for (const s of steps) {
        if (s.kind === "compact") {
          // Renumber as the acceptor's compactSlots does: the used slots move to the front.
          let k = 0;
          for (let i = 0; i < keyAt.length; i++) {
            const key = keyAt[i]!;
            if (key === null) continue;
            keyAt[k] = key;
            model.set(key, k);
            k++;
          }
          keyAt.length = k;
          free.length = 0;
          index.reindex();
          continue;
        }
        const key = `key/${s.key}`;
        if (s.kind === "add") {
          if (model.has(key)) continue;
          const slot = free.pop() ?? keyAt.length;
          keyAt[slot] = key;
          index.add(key, slot);
          model.set(key, slot);
        } else {
          const slot = model.get(key);
          index.delete(key); // deleting an absent key changes nothing
          if (slot === undefined) continue;
          keyAt[slot] = null;
          free.push(slot);
          model.delete(key);
        }
      }
      if (index.size !== model.size) return false;
      for (let i = 0; i <= 3000; i++) {
        const key = `key/${i}`;
        if (index.get(key) !== (model.get(key) ?? -1)) return false;
      }
      return true;
    }),
    { seed: 1212, numRuns: 30 },
  );
  t.pass();
});

test("a million keys: every one is found at its slot, absent keys are not, and the table stays near 4 bytes a cell at under 3/4 load", (t) => {
  const keyAt: Array<string | null> = [];
  const index = new KeyIndex(column(keyAt));
  const n = 1_000_000;
  for (let i = 0; i < n; i++) {
    keyAt.push(`lease/${i}`);
    index.add(`lease/${i}`, i);
  }
  t.is(index.size, n);
  const load = n / index.capacity;
  t.true(load > 3 / 8 && load <= 3 / 4, `load ${load}`);
  let wrong = 0;
  for (let i = 0; i < n; i += 7) if (index.get(`lease/${i}`) !== i) wrong++;
  for (let i = n; i < n + 10_000; i++) if (index.get(`lease/${i}`) !== -1) wrong++;
  t.is(wrong, 0);
  // Half of them go: the rest are still found (deletion shifts probe runs back).
  for (let i = 0; i < n; i += 2) {
    index.delete(`lease/${i}`);
    keyAt[i] = null;
  }
  for (let i = 1; i < n; i += 14) if (index.get(`lease/${i}`) !== i) wrong++;
  for (let i = 0; i < n; i += 14) if (index.get(`lease/${i}`) !== -1) wrong++;
  t.is(wrong, 0);
  t.is(index.size, n / 2);
});
