import test from "ava";
import { BroadcastQueue, retransmitLimit } from "../src/broadcast.js";
import { type Update, updateSize } from "../src/messages.js";

const alive = (name: string, incarnation = 0): Update => ({ kind: "alive", name, address: `${name}:1`, incarnation, meta: null });

test("retransmitLimit is retransmitMult * ceil(log10(n + 1))", (t) => {
  t.is(retransmitLimit(4, 1), 4);
  t.is(retransmitLimit(4, 9), 4);
  t.is(retransmitLimit(4, 10), 8);
  t.is(retransmitLimit(4, 99), 8);
  t.is(retransmitLimit(4, 100), 12);
  t.is(retransmitLimit(4, 1000), 16);
});

test("a newer update about a member replaces the queued one", (t) => {
  const q = new BroadcastQueue(100);
  q.queue(alive("a", 1));
  q.queue({ kind: "suspect", name: "a", incarnation: 1, from: "b" });
  t.is(q.size, 1);
  t.deepEqual(q.take(1000, 4), [{ kind: "suspect", name: "a", incarnation: 1, from: "b" }]);
});

test("least-sent first, newest first among equals, and each leaves after the limit", (t) => {
  const q = new BroadcastQueue(100);
  q.queue(alive("a"));
  q.queue(alive("b"));
  const oneSlot = updateSize(alive("a")) + 1;
  t.is(q.take(oneSlot, 2)[0]!.name, "b", "newest first");
  t.is(q.take(oneSlot, 2)[0]!.name, "a", "then the never-sent one");
  q.queue(alive("c"));
  t.is(q.take(oneSlot, 2)[0]!.name, "c", "a fresh update beats ones already sent");
  // Now a, b, c were each sent once; each goes once more, then the queue is empty.
  const names = [q.take(oneSlot, 2), q.take(oneSlot, 2), q.take(oneSlot, 2)].flat().map((u) => u.name).sort();
  t.deepEqual(names, ["a", "b", "c"]);
  t.is(q.size, 0);
  t.deepEqual(q.take(1000, 2), []);
});

test("take stays within the byte budget", (t) => {
  const q = new BroadcastQueue(1000);
  for (let i = 0; i < 200; i++) q.queue(alive(`member-${i}`));
  const budget = 1200;
  const got = q.take(budget, 4);
  const size = got.reduce((s, u) => s + updateSize(u), 0);
  t.true(size <= budget);
  t.true(got.length > 10);
  t.is(q.size, 200);
});

test("the queue is bounded: past maxItems the most-sent update is dropped", (t) => {
  const q = new BroadcastQueue(3);
  q.queue(alive("a"));
  q.take(1000, 10); // a sent once
  q.queue(alive("b"));
  q.queue(alive("c"));
  q.queue(alive("d"));
  t.is(q.size, 3);
  t.is(q.dropped, 1);
  t.is(q.transmitsOf("a"), undefined);
});

test("a lower limit (fewer members) retires updates already sent enough", (t) => {
  const q = new BroadcastQueue(10);
  q.queue(alive("a"));
  for (let i = 0; i < 3; i++) q.take(1000, 8);
  t.is(q.transmitsOf("a"), 3);
  t.deepEqual(q.take(1000, 2), []);
  t.is(q.size, 0);
});
