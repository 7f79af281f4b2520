// The per-key queue on one node: queued locks that were waiting while another
// operation left the key held fail with `locked` without rounds of their own,
// and a holder's release goes before queued locks.
import test from "ava";
import { createMemoryLockers } from "../../src/locker-cluster.js";
import { isLockerError } from "../../src/errors.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { settle, settleAll } from "../support/virtual-time.js";

/** Runs virtual time in 1 ms steps until every promise settles. */
const runAll = (clock: VirtualClock, promises: Promise<unknown>[]): Promise<PromiseSettledResult<unknown>[]> => settleAll(clock, promises, 100_000, 1);

test("twenty concurrent locks of one key on one node: one wins, the rest are told locked from its round", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(1), faults: { minDelayMs: 1, maxDelayMs: 2 } });
  const { lockers } = createMemoryLockers({ net, count: 3, random: new SeededRandom(2), options: { maxLeaseMs: 10_000 } });
  const node = lockers[0]!;
  const roundsBefore = node.summary().stats.rounds;
  const results = await runAll(clock, Array.from({ length: 20 }, (_, i) => node.lock("hot", `worker-${i}`, { leaseMs: 5000 })));
  const won = results.filter((r) => r.status === "fulfilled");
  const locked = results.filter((r) => r.status === "rejected" && isLockerError(r.reason, "locked"));
  t.is(won.length, 1);
  t.is(locked.length, 19);
  const stats = node.summary().stats;
  t.true(stats.coalesced >= 18, `coalesced ${stats.coalesced}`);
  t.true(stats.rounds - roundsBefore <= 3, `rounds ${stats.rounds - roundsBefore}`);
  // Everyone sees the one winner.
  const winner = (won[0] as PromiseFulfilledResult<{ value: string }>).value.value;
  const read = await runAll(clock, [lockers[2]!.read("hot")]);
  t.is(((read[0] as PromiseFulfilledResult<{ value: string }>).value).value, winner);
});

test("the holder's release is not stuck behind queued locks on its own node", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(3), faults: { minDelayMs: 1, maxDelayMs: 2 } });
  const { lockers } = createMemoryLockers({ net, count: 3, random: new SeededRandom(4), options: { maxLeaseMs: 10_000 } });
  const node = lockers[0]!;
  const [first] = await runAll(clock, [node.lock("k", "holder", { leaseMs: 5000 })]);
  t.is(first!.status, "fulfilled");
  // w0 starts its round; w1 and then the holder's release queue behind it.
  const order: string[] = [];
  const record = (name: string) => (p: Promise<unknown>) =>
    p.then(
      () => order.push(`${name} ok`),
      (e: { code: string }) => order.push(`${name} ${e.code}`),
    );
  const w0 = record("w0")(node.lock("k", "w0", { leaseMs: 5000 }));
  await new Promise((r) => setImmediate(r)); // w0 takes the key and starts its round
  clock.runFor(0.5);
  const w1 = record("w1")(node.lock("k", "w1", { leaseMs: 5000 }));
  const release = record("release")(node.release("k", "holder"));
  await runAll(clock, [w0, w1, release]);
  // w1 was invoked after w0 started, so w0's "locked" does not settle it; the
  // release, queued later, still goes first, and w1 then takes the key.
  t.deepEqual(order, ["w0 locked", "release ok", "w1 ok"]);
});

test("a lock on a key this node found held peeks first: `locked` without taking a promise", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(5), faults: { minDelayMs: 1, maxDelayMs: 2 } });
  const { lockers } = createMemoryLockers({ net, count: 3, random: new SeededRandom(6), options: { maxLeaseMs: 10_000 } });
  const [holder, other] = [lockers[0]!, lockers[1]!];
  const [held] = await runAll(clock, [holder.lock("k", "holder", { leaseMs: 5000 })]);
  t.is(held!.status, "fulfilled");
  // The first attempt runs a normal round and learns the key is held.
  const [first] = await runAll(clock, [other.lock("k", "other", { leaseMs: 5000 })]);
  t.true(first!.status === "rejected" && isLockerError(first.reason, "locked"));
  const before = other.summary().stats;
  const [second] = await runAll(clock, [other.lock("k", "other", { leaseMs: 5000 })]);
  t.true(second!.status === "rejected" && isLockerError(second.reason, "locked"));
  const after = other.summary().stats;
  t.is(after.peekLocked - before.peekLocked, 1);
  t.is(after.preparePhases, before.preparePhases, "no prepare: the holder's promise is untouched");
  // The holder's next change still takes the one-round-trip path.
  const fastBefore = holder.summary().stats.fastRounds;
  const [released] = await runAll(clock, [holder.release("k", "holder")]);
  t.is(released!.status, "fulfilled");
  t.is(holder.summary().stats.fastRounds - fastBefore, 1);
  // Once released, a peek cannot confirm a holder and the lock runs its round.
  const [taken] = await runAll(clock, [other.lock("k", "other", { leaseMs: 5000 })]);
  t.is(taken!.status, "fulfilled");
  t.true(other.summary().stats.peekInconclusive >= 1);
});

// ---- handover: one round per grant ----

async function heldByHolder(seed: number) {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(seed), faults: { minDelayMs: 1, maxDelayMs: 2 } });
  const { lockers } = createMemoryLockers({ net, count: 3, random: new SeededRandom(seed + 1), options: { maxLeaseMs: 10_000 } });
  const node = lockers[0]!;
  const [first] = await runAll(clock, [node.lock("k", "holder", { leaseMs: 5000 })]);
  if (first!.status !== "fulfilled") throw new Error("the holder's lock failed");
  return { clock, net, lockers, node, holderToken: (first as PromiseFulfilledResult<{ token: bigint }>).value.token };
}

test("a holder's release grants the lock queued behind it on its node in the same round, with a new token and lease", async (t) => {
  const { clock, lockers, node, holderToken } = await heldByHolder(11);
  const before = { ...node.summary().stats };
  // The release starts its round; the lock queues behind it.
  const [released, locked] = await runAll(clock, [node.release("k", "holder"), node.lock("k", "next", { leaseMs: 4000 })]);
  t.is(released!.status, "fulfilled");
  t.is(locked!.status, "fulfilled");
  const grant = (locked as PromiseFulfilledResult<{ value: string; token: bigint; leaseMs: number }>).value;
  t.is(grant.value, "next");
  t.true(grant.token > holderToken, `token ${grant.token} after ${holderToken}`);
  const stats = node.summary().stats;
  t.is(stats.handovers - before.handovers, 1);
  t.is(stats.rounds - before.rounds, 1, "one round carried the release and the grant");
  // The whole cluster agrees, and the new lease is the lock's own.
  const [read] = await runAll(clock, [lockers[2]!.read("k")]);
  const entry = (read as PromiseFulfilledResult<{ value: string; token: bigint; leaseRemainingMs: number }>).value;
  t.is(entry.value, "next");
  t.is(entry.token, grant.token);
  t.true(entry.leaseRemainingMs > 3500 && entry.leaseRemainingMs <= 4000, `lease left ${entry.leaseRemainingMs}`);
});

test("a release whose check fails grants nothing: the queued lock runs in its own round and gets the answer the key calls for", async (t) => {
  const { clock, node } = await heldByHolder(13);
  // Not the holder's value: mismatch, and the key is still held, so the lock is refused.
  const [wrong, refused] = await runAll(clock, [node.release("k", "someone else"), node.lock("k", "next", { leaseMs: 4000 })]);
  t.true(wrong!.status === "rejected" && isLockerError(wrong.reason, "mismatch"), String((wrong as PromiseRejectedResult).reason));
  t.true(refused!.status === "rejected" && isLockerError(refused.reason, "locked"), String((refused as PromiseRejectedResult).reason));
  // The holder releases; a second release of the now free key is not_found, and the lock behind it takes the key.
  await runAll(clock, [node.release("k", "holder")]);
  const [gone, won] = await runAll(clock, [node.release("k", "holder"), node.lock("k", "next", { leaseMs: 4000 })]);
  t.true(gone!.status === "rejected" && isLockerError(gone.reason, "not_found"), String((gone as PromiseRejectedResult).reason));
  t.is(won!.status, "fulfilled");
  t.is(node.summary().stats.handovers, 0);
});

test("a holder's extension queued with locks goes first, and the release after it still grants the next lock", async (t) => {
  const { clock, node } = await heldByHolder(17);
  const order: string[] = [];
  const record = (name: string, p: Promise<unknown>) =>
    p.then(
      () => order.push(`${name} ok`),
      (e: { code: string }) => order.push(`${name} ${e.code}`),
    );
  const running = record("read", node.read("k")); // takes the key first
  const lock = record("lock", node.lock("k", "next", { leaseMs: 4000 }));
  const extend = record("extend", node.extendLease("k", "holder", 5000));
  await runAll(clock, [running, lock, extend]);
  // The read takes the key; the lock and the extension wait. The extension (a
  // holder's operation) goes first, and the lock, invoked before it started,
  // is answered `locked` from its round.
  t.deepEqual(order.slice(0, 2), ["read ok", "extend ok"]);
  t.is(order[2], "lock locked");
  const [released, granted] = await runAll(clock, [node.release("k", "holder"), node.lock("k", "next", { leaseMs: 4000 })]);
  t.is(released!.status, "fulfilled");
  t.is(granted!.status, "fulfilled");
  t.is(node.summary().stats.handovers, 1);
});

test("a lock granted by a release whose round outlasts the lock's budget is answered `timeout` at its budget; the release keeps its own", async (t) => {
  const { clock, net, lockers, node } = await heldByHolder(19);
  // n1 cannot reach the other voters for a while: the handover round waits.
  net.block("n1", "n2");
  net.block("n1", "n3");
  const t0 = clock.now();
  const release = node.release("k", "holder", { timeoutMs: 5000 });
  const lock = node.lock("k", "next", { leaseMs: 4000, timeoutMs: 1000 });
  const lockAnswer = await settle(clock, lock.then(() => undefined, (e: unknown) => e), 1500, 1);
  t.true(isLockerError(lockAnswer, "timeout"), String(lockAnswer));
  t.true(clock.now() - t0 >= 1000 && clock.now() - t0 < 1010, `answered at its budget (${clock.now() - t0} ms)`);
  net.heal();
  const [released] = await runAll(clock, [release]);
  t.is(released!.status, "fulfilled", "the release's round went on within its own budget");
  t.is(node.summary().stats.handovers, 1);
  // The grant landed after all (a `timeout` is "outcome unknown").
  const [read] = await runAll(clock, [lockers[2]!.read("k")]);
  t.is((read as PromiseFulfilledResult<{ value: string }>).value.value, "next");
});

test("a release with too little budget left for a round, or bounds a queued lock cannot share, grants nothing: the lock runs in its own round", async (t) => {
  const { clock, node } = await heldByHolder(23);
  // 500 ms left is less than a round with retransmissions needs (4 × the 200 ms attempt timeout).
  const [released, locked] = await runAll(clock, [node.release("k", "holder", { timeoutMs: 500 }), node.lock("k", "next", { leaseMs: 4000 })]);
  t.is(released!.status, "fulfilled");
  t.is(locked!.status, "fulfilled", "the lock took the key in its own round");
  t.is(node.summary().stats.handovers, 0);
  // A lock that must run above a ballot floor (a forwarder's own run after an
  // unanswered forward) does not share the holder's round either.
  const [released2, locked2] = await runAll(clock, [
    node.release("k", "next"),
    node.lock("k", "third", { leaseMs: 4000, ballots: { above: node.cas.forwardBallotCap(0) } }),
  ]);
  t.is(released2!.status, "fulfilled");
  t.is(locked2!.status, "fulfilled", String((locked2 as PromiseRejectedResult).reason));
  t.is(node.summary().stats.handovers, 0);
  // With compatible bounds it does.
  const [released3, locked3] = await runAll(clock, [node.release("k", "third"), node.lock("k", "fourth", { leaseMs: 4000 })]);
  t.is(released3!.status, "fulfilled");
  t.is(locked3!.status, "fulfilled");
  t.is(node.summary().stats.handovers, 1);
});

// ---- a stale cached promise ----

test("a lock with a cached promise another node's rounds made stale, at an acceptor that missed those rounds, answers definitely: the stale change lands nowhere", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(29), faults: { minDelayMs: 1, maxDelayMs: 2 } });
  const { lockers } = createMemoryLockers({ net, count: 3, random: new SeededRandom(30), options: { maxLeaseMs: 10_000 } });
  const [a, b] = [lockers[0]!, lockers[1]!];
  // a's release leaves it a cached promise (its next change would take one round trip).
  t.is((await runAll(clock, [a.lock("k", "first", { leaseMs: 5000 })]))[0]!.status, "fulfilled");
  t.is((await runAll(clock, [a.release("k", "first")]))[0]!.status, "fulfilled");
  // b changes the key twice while n1's acceptor hears none of it (as if b's datagrams sat unread in its socket).
  net.block("n2", "n1");
  t.is((await runAll(clock, [b.lock("k", "second", { leaseMs: 5000 })]))[0]!.status, "fulfilled");
  t.is((await runAll(clock, [b.release("k", "second")]))[0]!.status, "fulfilled");
  net.heal();
  // a's cached promise is stale at n2 and n3; only its own acceptor would take it.
  const before = a.cas.stats.fastRounds;
  const [locked] = await runAll(clock, [a.lock("k", "third", { leaseMs: 5000 })]);
  t.is(a.cas.stats.fastRounds - before, 1, "the lock tried its cached promise");
  t.is(locked!.status, "fulfilled", String((locked as PromiseRejectedResult).reason));
  const [read] = await runAll(clock, [lockers[2]!.read("k")]);
  t.is((read as PromiseFulfilledResult<{ value: string }>).value.value, "third");
});
