// retryJoin on virtual time: backoff arithmetic, a node started before its seed, giving up, stopping.
import test from "ava";
import fc from "fast-check";
import { Membership, MembershipError } from "../src/index.js";
import { defaultRetryJoinPolicy, retryJoin, retryJoinDelayMs } from "../src/retry-join.js";
import { settle, TestClock, TestNetwork, TestRandom } from "./harness.js";

test("retryJoinDelayMs: capped exponential backoff within its jitter band", (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 200 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 1e9 }), (attempt, jitter, seed) => {
    const p = { ...defaultRetryJoinPolicy, jitter };
    const raw = Math.min(p.maxMs, p.baseMs * 2 ** (attempt - 1));
    const d = retryJoinDelayMs(p, attempt, new TestRandom(seed));
    return d >= raw * (1 - jitter) - 1e-9 && d <= raw * (1 + jitter) + 1e-9 && Number.isFinite(d);
  }));
  const r = new TestRandom(1);
  t.is(retryJoinDelayMs({ ...defaultRetryJoinPolicy, jitter: 0 }, 1, r), 1000);
  t.is(retryJoinDelayMs({ ...defaultRetryJoinPolicy, jitter: 0 }, 3, r), 4000);
  t.is(retryJoinDelayMs({ ...defaultRetryJoinPolicy, jitter: 0 }, 50, r), 30_000);
});

/** Runs virtual time with the event loop turning, so promise callbacks between timers run. */
async function run(clock: TestClock, ms: number, stepMs = 10): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    clock.runFor(stepMs);
    await new Promise((r) => setImmediate(r));
  }
}

function world(seed: number) {
  const clock = new TestClock();
  const random = new TestRandom(seed);
  const net = new TestNetwork(clock, random);
  const add = (name: string): Membership =>
    new Membership({ name, address: `${name}:1`, channel: net.channel(`${name}:1`), clock, random: new TestRandom(random.int(1e9)), profile: "local" });
  return { clock, net, random, add };
}

test("a node started before its seed joins once the seed comes up; attempts back off", async (t) => {
  const w = world(11);
  const early = w.add("early");
  const attempts: { at: number; answered: number }[] = [];
  const rj = retryJoin({ membership: early, addresses: ["seed:1"], clock: w.clock, random: new TestRandom(5), onAttempt: (_n, answered) => attempts.push({ at: w.clock.now(), answered }) });
  await run(w.clock, 20_000); // no seed for 20 s
  const failedBefore = rj.failures;
  t.true(failedBefore >= 3 && failedBefore <= 6, `backoff: ${failedBefore} failed attempts in 20 s`);
  const seed = w.add("seed");
  await settle(w.clock, seed.bootstrap([]), 100);
  const answered = await settle(w.clock, rj.done, 60_000);
  t.is(answered, 1);
  w.clock.runFor(2000);
  t.true(early.isAlive("seed") && seed.isAlive("early"));
  t.log(`joined after ${attempts.length} attempts at ${attempts.map((a) => (a.at / 1000).toFixed(1)).join(", ")} s`);
  early.close();
  seed.close();
});

test("join() alone: answers counted, 0 when nobody answers (no rejection), and a lone member rejoins through it", async (t) => {
  const w = world(12);
  const a = w.add("a");
  const b = w.add("b");
  const c = w.add("c");
  await settle(w.clock, Promise.all([a.bootstrap([]), b.bootstrap([]), c.bootstrap([])]), 100);
  t.is(await settle(w.clock, a.join(["nobody:1"]), 10_000), 0);
  t.is(await settle(w.clock, a.join(["b:1", "c:1", "nobody:1"]), 10_000), 2);
  w.clock.runFor(2000);
  t.true(b.isAlive("c") && c.isAlive("a"));
  await t.throwsAsync(a.join([""]), { instanceOf: MembershipError, message: /addresses/ });
  for (const m of [a, b, c]) m.close();
  const err = await t.throwsAsync(a.join(["b:1"]), { instanceOf: MembershipError });
  t.is((err as MembershipError).code, "closed");
});

test("retryJoin gives up after maxAttempts with join_failed, and stop() ends it with closed", async (t) => {
  const w = world(13);
  const m = w.add("m");
  const rj = retryJoin({ membership: m, addresses: () => ["x:1"], clock: w.clock, random: w.random, policy: { maxAttempts: 3, baseMs: 100, maxMs: 100 } });
  const e1 = await t.throwsAsync(settle(w.clock, rj.done, 60_000), { instanceOf: MembershipError });
  t.is((e1 as MembershipError).code, "join_failed");
  t.is(rj.failures, 3);
  const rj2 = retryJoin({ membership: m, addresses: ["x:1"], clock: w.clock, random: w.random });
  await run(w.clock, 5000);
  rj2.stop();
  const e2 = await t.throwsAsync(rj2.done, { instanceOf: MembershipError });
  t.is((e2 as MembershipError).code, "closed");
  const pending = w.clock.pending;
  const failures = rj2.failures;
  await run(w.clock, 60_000, 100);
  t.is(rj2.failures, failures, "no attempts after stop");
  t.true(w.clock.pending <= pending + 8);
  m.close();
});
