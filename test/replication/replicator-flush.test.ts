// Flush when idle, batch when busy: a voter's Replicator pushes a change to a
// replica at once when nothing is in flight to it, gathers changes while a
// push is out and sends them as one batch on its ack, and leaves a failed
// push to the housekeeping tick. A fake channel records each push and lets
// the test answer it; virtual time, no network.
import test from "ava";
import { LockerError } from "../../src/errors.js";
import type { ChangeEntry, ReplMessage } from "../../src/replication/messages.js";
import { Replicator } from "../../src/replication/replicator.js";
import type { ChangeSource } from "../../src/replication/source.js";
import type { Channel } from "../../src/transport/types.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";

interface Sent {
  at: number;
  keys: string[];
  ack(): void;
  fail(): void;
}

function setup(o: { pushIntervalMs?: number } = {}) {
  const clock = new VirtualClock();
  const sent: Sent[] = [];
  const channel: Channel<ReplMessage> = {
    maxMessageBytes: 1400,
    send: () => {},
    request: (_to, m) =>
      new Promise<ReplMessage>((resolve, reject) => {
        if (m.type !== "push") return reject(new LockerError("timeout", "only pushes in this test"));
        sent.push({
          at: clock.now(),
          keys: m.entries.map((e) => e.key),
          ack: () => resolve({ type: "ack", cfg: 1 } as ReplMessage),
          fail: () => reject(new LockerError("timeout", "lost")),
        });
      }),
    onMessage: () => {},
    onRequest: () => {},
    encodedSize: () => 100,
  };
  const listeners: Array<(key: string) => void> = [];
  const entries = new Map<string, ChangeEntry>();
  let c = 1;
  const source: ChangeSource = {
    onChange: (l) => {
      listeners.push(l);
      return () => {};
    },
    entry: (key) => entries.get(key),
    liveKeys: () => [...entries.keys()],
    allKeys: () => [...entries.keys()],
    active: true,
    quiet: false,
  };
  /** A change of `key` on the voter's acceptor, as its event reaches replication. */
  const change = (key: string): void => {
    entries.set(key, { key, ballot: { c: c++, node: "v1" }, origin: null, record: { value: new Uint8Array([1, 2, 3]), token: c, remainingMs: 5000 } });
    for (const l of listeners) l(key);
  };
  const replicator = new Replicator({
    name: "v1",
    channel,
    clock,
    random: new SeededRandom(1),
    source,
    sink: { apply: () => {} },
    peers: { replicas: () => [{ name: "r1", address: "r1" }], voters: () => [], configVersion: () => 1, isVoter: (n) => n === "v1" },
    tombstoneMs: 60_000,
    maxKeys: 100_000,
    ...(o.pushIntervalMs !== undefined ? { pushIntervalMs: o.pushIntervalMs } : {}),
  });
  /** Lets deferred work and promise continuations run without moving time. */
  const turn = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      clock.runFor(0);
      await new Promise((r) => setImmediate(r));
    }
  };
  return { clock, sent, change, replicator, turn };
}

test("idle: a change is pushed at once (no wait for the 100 ms tick); changes of one event share a push", async (t) => {
  const { clock, sent, change, replicator, turn } = setup({ pushIntervalMs: 100 });
  clock.runFor(100); // the first tick finds the replica
  await turn();
  t.is(sent.length, 0, "nothing to push yet");
  const t0 = clock.now();
  change("a");
  change("b");
  await turn();
  t.is(sent.length, 1);
  t.deepEqual(sent[0]!.keys, ["a", "b"]);
  t.is(sent[0]!.at, t0, "sent in the same instant, not at the next tick");
  sent[0]!.ack();
  await turn();
  // Idle again: the next change goes at once too.
  clock.runFor(37);
  change("c");
  await turn();
  t.is(sent.length, 2);
  t.is(sent[1]!.at, clock.now());
  t.deepEqual(sent[1]!.keys, ["c"]);
  replicator.close();
});

test("busy: changes made while a push is in flight wait for its ack and then go as one batch", async (t) => {
  const { clock, sent, change, replicator, turn } = setup();
  clock.runFor(100);
  change("a");
  await turn();
  t.is(sent.length, 1);
  for (const k of ["b", "c", "d", "b"]) {
    clock.runFor(1);
    change(k);
    await turn();
  }
  t.is(sent.length, 1, "no push per change while one is in flight");
  clock.runFor(1);
  sent[0]!.ack();
  await turn();
  t.is(sent.length, 2, "pushed on the ack, before any tick");
  t.deepEqual([...sent[1]!.keys].sort(), ["b", "c", "d"]);
  t.is(sent[1]!.at, clock.now());
  // The tick finds nothing left: no empty pushes.
  sent[1]!.ack();
  clock.runFor(250);
  await turn();
  t.is(sent.length, 2);
  replicator.close();
});

test("busy with more than a message holds: full batches go at once, the rest on the ack", async (t) => {
  const { clock, sent, change, replicator, turn } = setup();
  clock.runFor(100);
  change("first");
  await turn();
  t.is(sent.length, 1);
  for (let i = 0; i < 300; i++) change(`key-${i}`);
  await turn();
  const during = sent.slice(1);
  t.true(during.length >= 2, `full messages are not held back (${during.length})`);
  for (const s of during) t.true(s.keys.length >= 20, `a full batch, not a trickle (${s.keys.length} keys)`);
  const pushed = new Set(during.flatMap((s) => s.keys));
  t.true(pushed.size < 300, "a partial remainder waits for an ack");
  for (const s of sent) s.ack();
  await turn();
  const all = new Set(sent.slice(1).flatMap((s) => s.keys));
  t.is(all.size, 300, "everything is pushed once the pushes are acknowledged");
  replicator.close();
});

test("a failed push is not retried in a hot loop: the keys go again at the next tick", async (t) => {
  const { clock, sent, change, replicator, turn } = setup({ pushIntervalMs: 100 });
  clock.runFor(100);
  change("a");
  await turn();
  t.is(sent.length, 1);
  sent[0]!.fail();
  await turn();
  t.is(sent.length, 1, "no immediate retry");
  clock.runFor(100);
  await turn();
  t.is(sent.length, 2);
  t.deepEqual(sent[1]!.keys, ["a"]);
  replicator.close();
});
