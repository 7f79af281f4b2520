// The local view of a voter that shows copies (taken while it was quiet after
// a restart, or as a replica before a promotion): the copies follow the
// cluster, expire by themselves and agree across dirtyRead, keys() and
// summary(); and the cluster's reserved (NUL-prefixed) keys never show.
import test from "ava";
import { createMemoryLockers } from "../../src/locker-cluster.js";
import type { Locker } from "../../src/locker.js";
import { encodeValue } from "../../src/cas/value.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { settle } from "../support/virtual-time.js";

const QUIET_MS = 1000;
const LEASE_MS = 5000;

/**
 * Three voters; n3 restarts (memory lost) and sits out its quiet period while
 * n1 takes "k". Replication would hand the quiet n3 a copy of "k"; the test
 * gives it that copy directly, as replication's sink does.
 */
async function quietVoterWithCopy(seed = 7) {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(seed) });
  const c = createMemoryLockers({ net, count: 3, random: new SeededRandom(seed + 1), options: { maxLeaseMs: 10_000 } });
  const [n1, n2] = c.lockers as [Locker, Locker, Locker];
  net.crash("n3");
  // Recovery off: these tests are about the quiet period itself (a voter that cannot recover).
  const n3 = c.restart("n3", { quietPeriodMs: QUIET_MS, recovery: { enabled: false } });
  const r = await settle(clock, n1.lock("k", "a", { leaseMs: LEASE_MS }));
  n3.applyReplicated("k", { value: encodeValue("a"), token: Number(r.token), expiresAt: clock.now() + r.leaseRemainingMs });
  return { clock, net, n1, n2, n3, token: r.token, leaseEnd: clock.now() + r.leaseRemainingMs };
}

/** Runs virtual time until `p` settles or `ms` pass; whether it settled. */
async function settlesWithin(clock: VirtualClock, p: Promise<unknown>, ms: number): Promise<boolean> {
  const deadline = new Promise<boolean>((resolve) => clock.setTimer(ms, () => resolve(false)));
  return settle(clock, Promise.race([p.then(() => true, () => true), deadline]), ms + 1);
}

function runPastQuiet(clock: VirtualClock, n3: Locker): void {
  clock.runFor(QUIET_MS + 1);
  if (n3.summary().quiet) throw new Error("n3 should be past its quiet period");
}

test("past its quiet period, a voter that shows a copy: a release elsewhere is a `released` event and ends waitForRelease at once", async (t) => {
  const { clock, n1, n3, leaseEnd } = await quietVoterWithCopy();
  runPastQuiet(clock, n3);
  t.is(n3.dirtyRead("k")?.value, "a");
  const released: unknown[] = [];
  n3.on("released", (e) => released.push(e));
  const waiting = n3.waitForRelease("k", 9000);
  await settle(clock, n1.release("k", "a"));
  t.true(await settlesWithin(clock, waiting, 200), "waitForRelease resolves on the release, not at the copy's lease end");
  t.true(clock.now() < leaseEnd);
  t.deepEqual(released, [{ key: "k", value: "a" }]);
  t.is(n3.dirtyRead("k"), undefined);
  t.deepEqual(n3.keys(), []);
});

test("past its quiet period, keys() and summary() show the copies dirtyRead shows", async (t) => {
  const { clock, n3, token } = await quietVoterWithCopy();
  runPastQuiet(clock, n3);
  const read = n3.dirtyRead("k");
  t.is(read?.value, "a");
  t.deepEqual(
    n3.keys().map((e) => [e.key, e.value, e.token]),
    [["k", "a", token]],
  );
  t.is(n3.summary().leases, 1);
});

test("past its quiet period, a replicated change of a key it shows a copy of still updates that copy", async (t) => {
  const { clock, n3 } = await quietVoterWithCopy();
  runPastQuiet(clock, n3);
  const released: unknown[] = [];
  n3.on("released", (e) => released.push(e));
  n3.applyReplicated("k", null, "changed");
  t.is(n3.dirtyRead("k"), undefined);
  t.deepEqual(released, [{ key: "k", value: "a" }]);
});

test("a voter's copies expire by themselves at their lease end (swept, with an `expired` event, without any read)", async (t) => {
  const { clock, n3, leaseEnd } = await quietVoterWithCopy();
  runPastQuiet(clock, n3);
  const expired: Array<{ key: string; at: number }> = [];
  n3.on("expired", (e) => expired.push({ key: e.key, at: clock.now() }));
  clock.runUntil(leaseEnd + 1);
  t.deepEqual(
    expired.map((e) => e.key),
    ["k"],
  );
  t.true(expired[0]!.at <= leaseEnd + 1);
  t.is(n3.summary().leases, 0);
});

test("a promoted replica's copy is superseded by its acceptor: a release is a `released` event there, and no spurious `acquired`", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(3) });
  const c = createMemoryLockers({ net, count: 4, voterCount: 3, random: new SeededRandom(4), options: { maxLeaseMs: 10_000 } });
  const [n1, , , n4] = c.lockers as [Locker, Locker, Locker, Locker];
  await settle(clock, n4.lock("k", "held-by-n4", { leaseMs: LEASE_MS }));
  t.is(n4.dirtyRead("k")?.value, "held-by-n4", "a replica learns its own operation's result");
  const voters = [...c.voters, { name: "n4", address: "n4" }];
  for (const l of c.lockers) l.cas.applyConfiguration(2, voters);
  t.true(n4.summary().voter);
  const events: string[] = [];
  n4.on("acquired", (e) => events.push(`acquired ${e.key}`));
  n4.on("released", (e) => events.push(`released ${e.key}`));
  t.is(n4.dirtyRead("k")?.value, "held-by-n4", "just promoted, it shows the copy");
  // n1 reads the key under the new configuration (as the rewrite of a reconfiguration does), then releases it.
  await settle(clock, n1.read("k"));
  await settle(clock, n1.release("k", "held-by-n4"));
  await settle(clock, Promise.resolve(), 100);
  t.deepEqual(events, ["released k"]);
  t.is(n4.dirtyRead("k"), undefined);
  t.deepEqual(n4.keys(), []);
});

test("reserved (NUL-prefixed) keys are not counted as live leases nor listed, on a voter and on a replica", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(5) });
  const c = createMemoryLockers({ net, count: 4, voterCount: 3, random: new SeededRandom(6), options: { maxLeaseMs: 10_000 } });
  const [n1, , , n4] = c.lockers as [Locker, Locker, Locker, Locker];
  const acquired: string[] = [];
  n1.on("acquired", (e) => acquired.push(e.key));
  // Reconfiguration's own keys, written as src/cluster/configurator.ts writes them (straight through the CAS node).
  for (const k of ["\u0000locker/config", "\u0000locker/next/1"]) {
    await settle(clock, n1.cas.execute(k, { kind: "lock", value: encodeValue({ version: 2 }), leaseMs: LEASE_MS }, 1000));
  }
  await settle(clock, n1.lock("user", "u", { leaseMs: LEASE_MS }));
  t.deepEqual(acquired, ["user"]);
  const s = n1.summary();
  t.is(s.leases, 1, "live leases count the clients' keys only");
  t.is(s.acceptorKeys, 1);
  t.deepEqual(
    n1.keys("", 1).map((e) => e.key),
    ["user"],
    "reserved keys do not use up the listing's limit",
  );
  t.deepEqual(n1.keys("\u0000"), []);
  // A replica that got the reserved key from replication.
  n4.applyReplicated("\u0000locker/config", { value: encodeValue({ version: 2 }), token: 1, expiresAt: clock.now() + LEASE_MS });
  t.is(n4.summary().leases, 0);
  t.deepEqual(n4.keys(), []);
});

test("a demoted voter keeps showing its keys (as copies), with no `acquired` events when replication hands them over", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(9) });
  const c = createMemoryLockers({ net, count: 3, random: new SeededRandom(10), options: { maxLeaseMs: 10_000 } });
  const [n1, , n3] = c.lockers as [Locker, Locker, Locker];
  const r = await settle(clock, n1.lock("k", "a", { leaseMs: LEASE_MS }));
  await settle(clock, Promise.resolve(), 50); // the accept reaches n3 too
  t.is(n3.dirtyRead("k")?.value, "a");
  const acquired: string[] = [];
  n3.on("acquired", (e) => acquired.push(e.key));
  for (const l of c.lockers) l.cas.applyConfiguration(2, c.voters.slice(0, 2));
  t.false(n3.summary().voter);
  t.is(n3.dirtyRead("k")?.value, "a", "demoted, it still shows the key");
  t.deepEqual(
    n3.keys().map((e) => e.key),
    ["k"],
  );
  // What reconfiguration does on a demotion: hand the acceptor's records to the view.
  n3.applyReplicated("k", { value: encodeValue("a"), token: Number(r.token), expiresAt: clock.now() + 1000 });
  t.deepEqual(acquired, []);
});

test("a replication listener that throws does not break the acceptor's path, and is reported, not swallowed", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(11) });
  const heard: string[] = [];
  const c = createMemoryLockers({
    net,
    count: 3,
    random: new SeededRandom(12),
    options: { maxLeaseMs: 10_000, onInternalError: (e, context) => heard.push(`${context}: ${(e as Error).message}`) },
  });
  const [n1] = c.lockers as [Locker, Locker, Locker];
  n1.onAcceptorChange(() => {
    throw new Error("boom");
  });
  await settle(clock, n1.lock("k", "a", { leaseMs: LEASE_MS }));
  t.is((await settle(clock, n1.read("k")))?.value, "a");
  t.true(heard.length > 0);
  t.regex(heard[0]!, /listener threw: boom/);
});

test("a new holder seen without the key ever free here (one replication batch carried both changes): the old grant's end and the new `acquired` are both heard", async (t) => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(11) });
  const c = createMemoryLockers({ net, count: 4, voterCount: 3, random: new SeededRandom(12), options: { maxLeaseMs: 10_000 } });
  const n4 = c.lockers[3]!;
  const events: string[] = [];
  for (const type of ["acquired", "released", "expired"] as const) n4.on(type, (e: { key: string; value: unknown }) => events.push(`${type} ${e.key}=${String(e.value)}`));
  n4.applyReplicated("election/web", { value: encodeValue("cand-a"), token: 10, expiresAt: clock.now() + LEASE_MS });
  // cand-a released and cand-b locked (a new token) between two batches.
  n4.applyReplicated("election/web", { value: encodeValue("cand-b"), token: 20, expiresAt: clock.now() + LEASE_MS });
  // An update keeps the token: the same grant, no new `acquired`.
  n4.applyReplicated("election/web", { value: encodeValue("cand-b+"), token: 20, expiresAt: clock.now() + LEASE_MS });
  t.deepEqual(events, ["acquired election/web=cand-a", "released election/web=cand-a", "acquired election/web=cand-b"]);
  t.is(n4.dirtyRead("election/web")?.value, "cand-b+");
});
