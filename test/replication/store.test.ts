// The replica store: changes apply in ballot order whatever the arrival order,
// duplicates are harmless, leases run on the local clock, tombstones stop a
// late older change from bringing a key back.
import test from "ava";
import fc from "fast-check";
import { compareBallots } from "../../src/cas/ballot.js";
import type { ChangeEntry } from "../../src/replication/messages.js";
import { ReplicaStore } from "../../src/replication/store.js";

const change = (key: string, c: number, value: string | null, remainingMs = 1000): ChangeEntry => ({
  key,
  ballot: { c, node: "n" },
  origin: null,
  record: value === null ? null : { value: Buffer.from(value), token: c, remainingMs },
});

test("the highest ballot wins whatever the order; duplicates change nothing", (t) => {
  fc.assert(
    fc.property(fc.array(fc.record({ c: fc.integer({ min: 1, max: 50 }), v: fc.option(fc.string({ minLength: 1, maxLength: 3 }), { nil: null }) }), { minLength: 1, maxLength: 30 }), fc.integer(), (changes, seed) => {
      // One value per ballot, as in Paxos.
      const byC = new Map(changes.map((x) => [x.c, x.v]));
      const entries = [...byC].map(([c, v]) => change("k", c, v));
      const shuffled = [...entries, ...entries].sort((a, b) => ((a.ballot.c * 7919 + seed) % 101) - ((b.ballot.c * 7919 + seed) % 101));
      const store = new ReplicaStore({ tombstoneMs: 10_000, maxKeys: 10 });
      for (const e of shuffled) store.apply(e, 0);
      const top = entries.reduce((a, b) => (compareBallots(a.ballot, b.ballot) >= 0 ? a : b));
      const got = store.get("k", 0);
      return top.record === null ? got === undefined : got !== undefined && Buffer.from(got.value).toString() === Buffer.from(top.record.value).toString();
    }),
  );
  t.pass();
});

test("leases expire on the local clock and are reported; tombstones block older changes, then are forgotten", (t) => {
  const store = new ReplicaStore({ tombstoneMs: 500, maxKeys: 10 });
  t.deepEqual(store.apply(change("k", 5, "a", 100), 0)?.after?.expiresAt, 100);
  t.deepEqual(store.tick(99), []);
  const expired = store.tick(100);
  t.is(expired.length, 1);
  t.is(expired[0]!.cause, "expired");
  t.is(store.get("k", 100), undefined);
  t.is(store.apply(change("k", 4, "old", 1000), 200), undefined, "an older change does not resurrect the key");
  t.is(store.stats.stale, 1);
  store.tick(700);
  t.is(store.size, 0, "the tombstone is forgotten after tombstoneMs");
});

test("a full store refuses new keys and counts them", (t) => {
  const store = new ReplicaStore({ tombstoneMs: 500, maxKeys: 2 });
  store.apply(change("a", 1, "x"), 0);
  store.apply(change("b", 1, "x"), 0);
  t.is(store.apply(change("c", 1, "x"), 0), undefined);
  t.is(store.stats.refused, 1);
  t.truthy(store.apply(change("a", 2, "y"), 0), "known keys still update");
});
