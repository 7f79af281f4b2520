// Hostile numbers and names through the driver: incarnations that could not be
// outbid are refused and counted, a forged flip of a live member's address is
// refused and reported as a conflict, a push-pull cannot plant members past maxMembers.
import test from "ava";
import { encode } from "cbor-x";
import { Membership, type Conflict } from "../src/index.js";
import { MAX_INCARNATION_STEP } from "../src/core.js";
import { encodeMessage, MAX_INCARNATION } from "../src/messages.js";
import { settle, TestClock, TestNetwork, TestRandom } from "./harness.js";

async function cluster(n: number, seed: number, config = {}) {
  const clock = new TestClock();
  const random = new TestRandom(seed);
  const net = new TestNetwork(clock, random);
  const conflicts: { observer: string; c: Conflict }[] = [];
  const ms = Array.from({ length: n }, (_, i) => {
    const m = new Membership({ name: `n${i}`, address: `n${i}:1`, channel: net.channel(`n${i}:1`), clock, random: new TestRandom(random.int(1e9)), profile: "local", config });
    m.on("conflict", (c: Conflict) => conflicts.push({ observer: `n${i}`, c }));
    return m;
  });
  await settle(clock, Promise.all(ms.map((m, i) => m.bootstrap(i === 0 ? [] : ["n0:1"]))), 10_000);
  clock.runFor(3000);
  return { clock, net, ms, conflicts };
}

const gossip = (...updates: unknown[]): Uint8Array => encode([4, updates]);

test("an incarnation of 2^53−1 is malformed; 2^32−1 (decodable) is an implausible jump and refused; the victim stays alive and can still refute", async (t) => {
  const w = await cluster(3, 1);
  const [n0, n1] = w.ms as [Membership, Membership, Membership];
  const before = n1.localMember().incarnation;
  w.net.inject("evil:1", "n0:1", gossip([0, "n1", "evil:1", Number.MAX_SAFE_INTEGER, null]));
  t.is(n0.stats().malformed, 1);
  w.net.inject("evil:1", "n0:1", gossip([2, "n1", MAX_INCARNATION, "evil"]));
  w.net.inject("evil:1", "n1:1", gossip([1, "n1", MAX_INCARNATION, "evil"]));
  w.net.inject("evil:1", "n0:1", encode([5, 9, 1, 0, 0, 1, "evil", [["n1", "evil:1", before + MAX_INCARNATION_STEP + 1, 0, null]]]));
  t.is(n0.stats().refusedIncarnations, 2);
  t.is(n1.stats().refusedIncarnations, 1);
  t.is(n1.localMember().incarnation, before, "no refutation to an incarnation nobody would accept");
  w.clock.runFor(3000);
  for (const m of w.ms) if (m !== n1) t.deepEqual([m.member("n1")?.state, m.member("n1")?.address], ["alive", "n1:1"]);
  // A plausible accusation is still refuted the ordinary way.
  w.net.inject("evil:1", "n0:1", gossip([1, "n1", before + 5, "evil"]));
  w.clock.runFor(3000);
  t.true(n1.localMember().incarnation > before + 5);
  for (const m of w.ms) if (m !== n1) t.is(m.member("n1")?.state, "alive");
  for (const m of w.ms) m.close();
});

test("a forged alive moving a live member to another address is refused and reported once per claim (both addresses), counted in stats", async (t) => {
  const w = await cluster(3, 2);
  const [n0, n1] = w.ms as [Membership, Membership, Membership];
  const inc = n0.member("n1")!.incarnation;
  for (let i = 0; i < 5; i++) w.net.inject("evil:1", "n0:1", encodeMessage({ type: "gossip", updates: [{ kind: "alive", name: "n1", address: "evil:1", incarnation: inc + 10 + i, meta: null }] }));
  t.is(n0.member("n1")?.address, "n1:1");
  t.deepEqual(w.conflicts, [{ observer: "n0", c: { name: "n1", existing: "n1:1", other: "evil:1", self: false } }]);
  t.is(n0.stats().conflicts, 1);
  w.clock.runFor(3000);
  t.true(n0.isAlive("n1") && n1.isAlive("n0"));
  t.is(n0.member("n1")?.address, "n1:1", "not flipped later either");
  for (const m of w.ms) m.close();
});

test("a push-pull from an unknown sender plants no more members than maxMembers allows (counted in tableFull)", async (t) => {
  const w = await cluster(3, 3, { maxMembers: 8 });
  const n0 = w.ms[0]!;
  const entries = Array.from({ length: 40 }, (_, i) => [`fake${i}`, `fake${i}:1`, 0, 0, null]);
  w.net.inject("evil:1", "n0:1", encode([5, 77, 1, 0, 0, 1, "evil", entries]));
  t.true(n0.members().length + 1 <= 8);
  t.true(n0.stats().tableFull >= 40 - 5);
  for (const m of w.ms) m.close();
});
