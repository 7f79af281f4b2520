// locker's own scenarios on 3 voters over real UDP on 127.0.0.1. The three
// nodes run in this one process (three sockets, three transports, three
// Lockers, each with its own SystemClock); every message crosses the kernel's UDP stack.
import test from "ava";
import { Locker } from "../../src/locker.js";
import { LockerError } from "../../src/errors.js";
import { createUdpTransport } from "../../src/transport/udp.js";
import { SystemClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import type { Transport } from "../../src/transport/transport.js";

interface UdpCluster {
  lockers: Locker[];
  transports: Transport[];
  down: Set<string>;
  close(): Promise<void>;
}

async function udpCluster(seed: number, options: { isVoterAlive?: boolean } = {}): Promise<UdpCluster> {
  const transports: Transport[] = [];
  for (let i = 0; i < 3; i++) {
    transports.push(await createUdpTransport({ bind: "127.0.0.1:0", clock: new SystemClock(), random: new SeededRandom(seed * 10 + i) }));
  }
  const voters = transports.map((tr, i) => ({ name: `v${i + 1}`, address: tr.address }));
  const down = new Set<string>();
  const lockers = transports.map(
    (tr, i) =>
      new Locker({
        name: `v${i + 1}`,
        channel: tr,
        closeTransport: true,
        clock: new SystemClock(),
        random: new SeededRandom(seed * 100 + i),
        voters,
        // A brand-new cluster: nothing to wait out.
        quietPeriodMs: 0,
        maxLeaseMs: 10_000,
        defaultTimeoutMs: 3000,
        ...(options.isVoterAlive ? { isVoterAlive: (name: string) => !down.has(name) } : {}),
      }),
  );
  return {
    lockers,
    transports,
    down,
    close: async () => {
      await Promise.all(lockers.map((l) => l.close()));
    },
  };
}

async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof LockerError) return e.code;
    throw e;
  }
}

function until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const poll = (): void => {
      if (predicate()) resolve(true);
      else if (Date.now() - t0 > timeoutMs) resolve(false);
      else setTimeout(poll, 5);
    };
    poll();
  });
}

test.serial("two nodes lock one key at once: exactly one wins and every node reads the winner's value", async (t) => {
  const c = await udpCluster(1);
  try {
    for (let round = 0; round < 5; round++) {
      const key = `race-${round}`;
      const [a, b] = c.lockers as [Locker, Locker];
      const results = await Promise.allSettled([a.lock(key, "a", { leaseMs: 5000 }), b.lock(key, "b", { leaseMs: 5000 })]);
      const won = results.filter((r) => r.status === "fulfilled");
      t.is(won.length, 1, `round ${round}: ${JSON.stringify(results.map((r) => (r.status === "fulfilled" ? "won" : (r.reason as LockerError).code)))}`);
      const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      // The loser sees the winner's lock (locked), lost every round (contention), or — when its
      // own accept had reached a voter before the winner's prepare — cannot tell (timeout);
      // the reads below show its lock did not take effect either way.
      t.true(["locked", "contention", "timeout"].includes((lost.reason as LockerError).code));
      const winner = won[0]!.status === "fulfilled" ? won[0]!.value.value : undefined;
      for (const l of c.lockers) t.is((await l.read(key))?.value, winner);
    }
  } finally {
    await c.close();
  }
});

test.serial("one voter down: writes still succeed", async (t) => {
  const c = await udpCluster(2);
  try {
    const [a, b, x] = c.lockers as [Locker, Locker, Locker];
    await a.lock("k", "a", { leaseMs: 5000 });
    await x.close();
    await a.update("k", "a", "a2");
    const r = await b.lock("k2", "b", { leaseMs: 5000 });
    t.is(r.value, "b");
    t.is((await b.read("k"))?.value, "a2");
    await b.release("k2", "b");
    t.is(await a.read("k2"), undefined);
  } finally {
    await c.close();
  }
});

test.serial("two of three voters down: no_quorum, and the value stays readable locally", async (t) => {
  const c = await udpCluster(3, { isVoterAlive: true });
  try {
    const [a, b, x] = c.lockers as [Locker, Locker, Locker];
    await a.lock("k", "held", { leaseMs: 8000 });
    await until(() => a.dirtyRead("k") !== undefined, 1000);
    await b.close();
    await x.close();
    // Without a liveness hint the round waits out its budget and finds no majority.
    const t0 = Date.now();
    t.is(await errorCode(a.read("k", { timeoutMs: 800 })), "no_quorum");
    t.is(await errorCode(a.lock("other", "v", { leaseMs: 1000, timeoutMs: 800 })), "no_quorum");
    t.true(Date.now() - t0 >= 700);
    // With the liveness hint (SWIM) it fails at once.
    c.down.add("v2");
    c.down.add("v3");
    const t1 = Date.now();
    t.is(await errorCode(a.read("k", { timeoutMs: 800 })), "no_quorum");
    t.true(Date.now() - t1 < 700, "well before the 800 ms budget");
    t.is(a.dirtyRead("k")?.value, "held");
  } finally {
    await c.close();
  }
});

test.serial("release by a non-owner is a mismatch and changes nothing", async (t) => {
  const c = await udpCluster(4);
  try {
    const [a, b] = c.lockers as [Locker, Locker];
    const r = await a.lock("k", "owner", { leaseMs: 5000 });
    t.is(await errorCode(b.release("k", "intruder")), "mismatch");
    const now = await b.read("k");
    t.is(now?.value, "owner");
    t.is(now?.token, r.token);
    await a.release("k", "owner");
    t.is(await b.read("k"), undefined);
  } finally {
    await c.close();
  }
});

test.serial("lease expiry: the key is gone on every node and can be locked again", async (t) => {
  const c = await udpCluster(5);
  try {
    const [a, b] = c.lockers as [Locker, Locker];
    const r = await a.lock("k", "a", { leaseMs: 300 });
    t.true(r.safeUntil <= r.leaseMs + performance.now());
    t.true(await until(() => c.lockers.every((l) => l.dirtyRead("k") !== undefined), 1000));
    t.true(await until(() => c.lockers.every((l) => l.dirtyRead("k") === undefined), 3000), "gone locally everywhere");
    for (const l of c.lockers) t.is(await l.read("k"), undefined);
    const r2 = await b.lock("k", "b", { leaseMs: 2000 });
    t.is(r2.value, "b");
    t.true(r2.token > r.token, "the fencing token increased across expiry");
  } finally {
    await c.close();
  }
});

test.serial("extendLease keeps a key alive past its first lease", async (t) => {
  const c = await udpCluster(6);
  try {
    const [a, b] = c.lockers as [Locker, Locker];
    const r = await a.lock("k", "a", { leaseMs: 400 });
    for (let i = 0; i < 4; i++) {
      await new Promise((res) => setTimeout(res, 200));
      const e = await a.extendLease("k", "a", 400);
      t.is(e.token, r.token);
    }
    // 800+ ms after the lock, well past its first 400 ms lease.
    t.is((await b.read("k"))?.value, "a");
    t.is(await errorCode(b.lock("k", "b", { leaseMs: 400 })), "locked");
  } finally {
    await c.close();
  }
});

test.serial("update with a wrong expected value fails and changes nothing", async (t) => {
  const c = await udpCluster(7);
  try {
    const [a, b] = c.lockers as [Locker, Locker];
    const r = await a.lock("k", { v: 1 }, { leaseMs: 5000 });
    t.is(await errorCode(b.update("k", { v: 2 }, { v: 3 })), "mismatch");
    t.is(await errorCode(b.update("absent", { v: 2 }, { v: 3 })), "not_found");
    const now = await b.read("k");
    t.deepEqual(now?.value, { v: 1 });
    t.is(now?.token, r.token);
    t.is(await b.read("absent"), undefined);
  } finally {
    await c.close();
  }
});

test.serial("waitForRelease resolves on release and on expiry", async (t) => {
  const c = await udpCluster(8);
  try {
    const [a, b, x] = c.lockers as [Locker, Locker, Locker];
    await a.lock("k", "a", { leaseMs: 5000 });
    t.true(await until(() => b.dirtyRead("k") !== undefined && x.dirtyRead("k") !== undefined, 1000));
    const released = Promise.all([b.waitForRelease("k", 5000), x.waitForRelease("k", 5000)]);
    await a.release("k", "a");
    await released;
    t.pass();
    const r = await a.lock("k", "a", { leaseMs: 300 });
    t.true(await until(() => b.dirtyRead("k") !== undefined, 1000));
    await b.waitForRelease("k", 5000);
    // Nobody released it: only the lease running out (never before the holder's safe deadline) resolves it.
    // (Every SystemClock in this process reads performance.now().)
    t.true(performance.now() >= r.safeUntil, "resolved by the lease running out");
    t.is(await errorCode(b.waitFor("never", 100)), "timeout");
  } finally {
    await c.close();
  }
});

test.serial("fast path over UDP: a second change of a quiet key by the same node is one round trip", async (t) => {
  const c = await udpCluster(9);
  try {
    const a = c.lockers[0]!;
    const tr = c.transports[0]!;
    await a.lock("fp", 1, { leaseMs: 5000 });
    const before = { ...a.cas.stats };
    const requestsBefore = tr.stats.requests;
    await a.update("fp", 1, 2);
    const after = a.cas.stats;
    t.is(after.preparePhases - before.preparePhases, 0, "no prepare phase");
    t.is(after.acceptPhases - before.acceptPhases, 1, "one accept phase");
    t.is(tr.stats.requests - requestsBefore, 2, "one request to each of the two other voters (the third is local)");
    t.log(`fast-path change: ${tr.stats.requests - requestsBefore} UDP requests, ${after.acceptPhases - before.acceptPhases} round trip`);
  } finally {
    await c.close();
  }
});

test.serial("many concurrent rounds from every node share datagrams and all succeed", async (t) => {
  const c = await udpCluster(10);
  try {
    const before = c.transports.map((tr) => ({ ...tr.stats }));
    const ops: Array<Promise<unknown>> = [];
    for (let i = 0; i < 300; i++) ops.push(c.lockers[i % 3]!.lock(`many-${i}`, i, { leaseMs: 5000, timeoutMs: 10_000 }));
    const res = await Promise.allSettled(ops);
    t.is(res.filter((r) => r.status === "fulfilled").length, 300);
    const frames = c.transports.reduce((n, tr, i) => n + tr.stats.framesOut - before[i]!.framesOut, 0);
    const datagrams = c.transports.reduce((n, tr, i) => n + tr.stats.datagramsOut - before[i]!.datagramsOut, 0);
    t.log(`300 locks: ${frames} CAS messages in ${datagrams} datagrams`);
    t.true(datagrams < frames, "messages to one peer in one turn were packed together");
    for (const l of c.lockers) t.true(await until(() => l.keys("many-").length === 300, 2000));
  } finally {
    await c.close();
  }
});
