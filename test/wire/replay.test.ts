// Replay protection of sealed datagrams: the window per sender, the clock
// window, restarts (new boot id) and the bounded sender LRU.
import test from "ava";
import fc from "fast-check";
import {
  DEFAULT_SEAL_CLOCK_WINDOW_MS,
  Envelope,
  Keyring,
  REPLAY_WINDOW_SEQS,
  ReplayGuard,
  SEAL_OVERHEAD_BYTES,
  WireError,
  PLAIN_PROTOCOL_VERSION,
  SEALED_PROTOCOL_VERSION,
} from "../../src/wire/index.js";

const key = Buffer.alloc(32, 9);
const body = Buffer.from([0x84, 1, 0, 0, 0]);

function reason(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    return e instanceof WireError ? e.reason : `thrown: ${(e as Error).message}`;
  }
}

test("a sealed datagram opens once; the same bytes again are refused as replayed", (t) => {
  let wall = 1_800_000_000_000;
  const sender = new Envelope({ keyring: new Keyring([key]), wallNow: () => wall });
  const receiver = new Envelope({ keyring: new Keyring([key]), wallNow: () => wall });
  const d = sender.wrap(body, 1);
  t.is(d[2], SEALED_PROTOCOL_VERSION);
  t.is(d.length, 5 + SEAL_OVERHEAD_BYTES + body.length);
  t.deepEqual(Buffer.from(receiver.unwrap(d)), body);
  t.is(reason(() => receiver.unwrap(d)), "replayed");
  wall += 1000;
  t.is(reason(() => receiver.unwrap(d)), "replayed");
  // Fresh datagrams from the same sender keep passing.
  for (let i = 0; i < 10; i++) t.is(reason(() => receiver.unwrap(sender.wrap(body, 1))), "ok");
});

test("datagrams reordered within the window pass once each; older than the window are refused", (t) => {
  const wall = 1_800_000_000_000;
  const sender = new Envelope({ keyring: new Keyring([key]), wallNow: () => wall });
  const receiver = new Envelope({ keyring: new Keyring([key]), wallNow: () => wall });
  const ds = Array.from({ length: REPLAY_WINDOW_SEQS + 10 }, () => sender.wrap(body, 1));
  // Newest first, then the rest in reverse: all but the ones older than the window pass.
  const order = [...ds.keys()].reverse();
  const verdicts = order.map((i) => reason(() => receiver.unwrap(ds[i]!)));
  const passed = verdicts.filter((v) => v === "ok").length;
  t.is(passed, REPLAY_WINDOW_SEQS);
  t.true(verdicts.slice(REPLAY_WINDOW_SEQS).every((v) => v === "replayed"));
  t.true(order.every((i) => reason(() => receiver.unwrap(ds[i]!)) === "replayed"), "a second pass is refused whole");
});

test("a restarted sender (memory lost, new boot id) is accepted at once", (t) => {
  const wall = 1_800_000_000_000;
  const receiver = new Envelope({ keyring: new Keyring([key]), wallNow: () => wall });
  const first = new Envelope({ keyring: new Keyring([key]), wallNow: () => wall });
  for (let i = 0; i < 100; i++) t.is(reason(() => receiver.unwrap(first.wrap(body, 1))), "ok");
  // Same seed, same everything, but its sequence starts over: the boot id is crypto-random.
  const restarted = new Envelope({ keyring: new Keyring([key]), wallNow: () => wall });
  t.is(reason(() => receiver.unwrap(restarted.wrap(body, 1))), "ok");
  t.is(receiver.trackedSenders, 2);
});

test("a capture older than the clock window is refused even by a receiver that forgot everything", (t) => {
  let wall = 1_800_000_000_000;
  const sender = new Envelope({ keyring: new Keyring([key]), wallNow: () => wall });
  const captured = sender.wrap(body, 1);
  wall += DEFAULT_SEAL_CLOCK_WINDOW_MS + 1;
  const fresh = new Envelope({ keyring: new Keyring([key]), wallNow: () => wall });
  t.is(reason(() => fresh.unwrap(captured)), "clock_skew");
  // A sender whose clock is ahead by more than the window is refused too (and counted as such).
  const ahead = new Envelope({ keyring: new Keyring([key]), wallNow: () => wall + DEFAULT_SEAL_CLOCK_WINDOW_MS + 1 });
  t.is(reason(() => fresh.unwrap(ahead.wrap(body, 1))), "clock_skew");
});

test("a forged stamp (tampered seq, boot id or time) does not authenticate and moves no window", (t) => {
  const wall = 1_800_000_000_000;
  const sender = new Envelope({ keyring: new Keyring([key]), wallNow: () => wall });
  const receiver = new Envelope({ keyring: new Keyring([key]), wallNow: () => wall });
  const d = sender.wrap(body, 1);
  for (const offset of [5, 5 + 7, 5 + 15, 5 + 23]) {
    const forged = Buffer.from(d);
    forged[offset]! ^= 1;
    t.is(reason(() => receiver.unwrap(forged)), "bad_seal", `byte ${offset}`);
  }
  t.is(receiver.trackedSenders, 0, "no forgery took a sender slot");
  t.is(reason(() => receiver.unwrap(d)), "ok", "the genuine datagram still passes: forgeries did not mark its seq");
});

test("plain datagrams keep protocol version 1; a version-1 sealed datagram is refused", (t) => {
  const plain = new Envelope();
  const d = plain.wrap(body, 1);
  t.is(d[2], PLAIN_PROTOCOL_VERSION);
  t.deepEqual(Buffer.from(plain.unwrap(d)), body);
  t.deepEqual(Buffer.from(plain.unwrap(d)), body, "plain mode has no replay state");
  const sealed = new Envelope({ keyring: new Keyring([key]) });
  const s = sealed.wrap(body, 1);
  s[2] = PLAIN_PROTOCOL_VERSION;
  t.is(reason(() => new Envelope({ keyring: new Keyring([key]) }).unwrap(s)), "bad_version");
});

test("sender LRU: evicting a sender never re-opens its old datagrams", (t) => {
  const g = new ReplayGuard(60_000, 4);
  const now = 1_000_000;
  const stamp = (id: number, seq: number, wallMs: number) => ({ bootId: id.toString(16).padStart(16, "0"), seq, wallMs });
  t.is(g.commit(stamp(1, 1, now - 10), now), "ok");
  for (let id = 2; id <= 5; id++) t.is(g.commit(stamp(id, 1, now - 5), now), "ok");
  t.is(g.size, 4, "bounded");
  // Sender 1 was evicted; its old datagram (older than every evicted one) is refused.
  t.is(g.check(stamp(1, 1, now - 10), now), "replayed");
  // A new sender whose stamp is newer than the floor is accepted.
  t.is(g.check(stamp(6, 1, now), now), "ok");
});

test("property: the guard accepts each (sender, seq) at most once and never refuses a fresh in-order seq", (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 20_000 })), { maxLength: 400 }), (events) => {
      const g = new ReplayGuard(60_000, 16);
      const seen = new Set<string>();
      const top = new Map<number, number>();
      for (const [id, seq] of events) {
        const s = { bootId: `${id}`.padStart(16, "0"), seq, wallMs: 5 };
        const before = top.get(id) ?? 0;
        const v = g.commit(s, 5);
        const k = `${id}/${seq}`;
        if (v === "ok") {
          if (seen.has(k)) return false;
          seen.add(k);
          top.set(id, Math.max(before, seq));
        } else if (seq > before) {
          return false;
        }
      }
      return true;
    }),
    { seed: 13, numRuns: 300 },
  );
  t.pass();
});

test("a datagram captured on its way to A and replayed to B (who knows A) is refused; a restarted receiver still accepts", (t) => {
  const wall = 1_800_000_000_000;
  const env = () => new Envelope({ keyring: new Keyring([key]), wallNow: () => wall });
  const s = env();
  const a = env();
  const b = env();
  // Everyone has heard from everyone once (first contact carries no destination).
  for (const [from, fromAddr] of [[s, "s"], [a, "a"], [b, "b"]] as const) {
    for (const [to, toAddr] of [[s, "s"], [a, "a"], [b, "b"]] as const) if (from !== to) to.unwrap(from.wrap(body, 1, toAddr), fromAddr);
  }
  const toA = s.wrap(body, 1, "a");
  t.is(reason(() => b.unwrap(toA, "s")), "replayed", "addressed to A, whom B knows");
  t.is(reason(() => a.unwrap(toA, "s")), "ok", "A takes it");
  // A restarts: S still addresses A's old boot id, which the new A cannot know.
  const a2 = env();
  t.is(reason(() => a2.unwrap(s.wrap(body, 1, "a"), "s")), "ok");
  // Once S hears from the new A, it addresses the new boot id.
  s.unwrap(a2.wrap(body, 1, "s"), "a");
  const toA2 = s.wrap(body, 1, "a");
  t.is(reason(() => a2.unwrap(toA2, "s")), "ok");
});
