// The acceptor on its own: promises and accepts, the piggybacked promise,
// leases and their expiry cost, garbage collection with the forgotten-ballot
// floor, the quiet period, configuration versions and the key bound.
import test from "ava";
import { Acceptor, type AcceptorConfig } from "../../src/cas/acceptor.js";
import type { Ballot } from "../../src/cas/ballot.js";
import type { CasRequest, WireRecord } from "../../src/cas/messages.js";

const cfg = (o: Partial<AcceptorConfig> = {}): AcceptorConfig => ({ configVersion: 1, quietUntil: 0, gcGraceMs: 1000, maxKeys: 1000, ...o });
const b = (c: number, node = "p"): Ballot => ({ c, node });
const rec = (v: number, leaseMs: number, token = 1): WireRecord => ({ value: new Uint8Array([v]), leaseMs, token });
const prepare = (key: string, ballot: Ballot, version = 1): CasRequest => ({ type: "prepare", cfg: version, key, ballot });
const accept = (key: string, ballot: Ballot, record: WireRecord | null, nextC: number | null = null): CasRequest => ({
  type: "accept",
  cfg: 1,
  key,
  ballot,
  record,
  nextC,
  origin: null,
});

test("promise, accept, and refusal of lower ballots", (t) => {
  const a = new Acceptor(cfg());
  t.like(a.handle(prepare("k", b(5)), 0).reply, { type: "promise", accepted: null, record: null });
  t.like(a.handle(prepare("k", b(4)), 0).reply, { type: "nack", reason: "promised", promised: b(5) });
  t.like(a.handle(accept("k", b(4), rec(1, 100)), 0).reply, { type: "nack", reason: "promised" });
  const r = a.handle(accept("k", b(5), rec(1, 100)), 0);
  t.like(r.reply, { type: "accepted" });
  t.is(r.events.length, 1);
  t.like(r.events[0], { kind: "changed", key: "k", before: null });
  const p = a.handle(prepare("k", b(6)), 40).reply;
  t.like(p, { type: "promise", accepted: b(5) });
  if (p.type === "promise") t.is(p.record?.leaseMs, 60, "remaining lease = lease − (now − acceptedAt)");
});

test("an accept also promises the proposer's next ballot; a retransmission is idempotent", (t) => {
  const a = new Acceptor(cfg());
  a.handle(prepare("k", b(5)), 0);
  t.like(a.handle(accept("k", b(5), rec(1, 100), 9), 0).reply, { type: "accepted", nextPromised: true });
  t.deepEqual(a.inspect("k")?.promised, b(9));
  // Others below the promised next ballot are refused…
  t.like(a.handle(prepare("k", b(8, "q")), 1).reply, { type: "nack", reason: "promised", promised: b(9) });
  // …the retransmitted accept is answered as before…
  t.like(a.handle(accept("k", b(5), rec(1, 100), 9), 2).reply, { type: "accepted", nextPromised: true });
  // …and the proposer's next accept goes through without a prepare.
  t.like(a.handle(accept("k", b(9), rec(2, 100), 12), 3).reply, { type: "accepted" });
  t.deepEqual(a.inspect("k")?.accepted, b(9));
});

test("an expired record is reported absent and raises one expired event", (t) => {
  const a = new Acceptor(cfg());
  a.handle(accept("k", b(5), rec(1, 100)), 0);
  t.truthy(a.get("k", 99));
  t.is(a.get("k", 100), undefined);
  const events = a.tick(100);
  t.deepEqual(
    events.map((e) => e.kind),
    ["expired"],
  );
  t.deepEqual(a.tick(101), []);
  const p = a.handle(prepare("k", b(6)), 150).reply;
  t.like(p, { type: "promise", accepted: b(5), record: null });
});

test("garbage collection forgets dead keys but keeps a ballot floor", (t) => {
  const a = new Acceptor(cfg({ gcGraceMs: 1000 }));
  a.handle(prepare("k", b(5)), 0);
  a.handle(accept("k", b(5), rec(1, 100, 5), 7), 0);
  a.tick(500);
  t.is(a.size, 1, "kept during the grace period");
  a.tick(1000);
  t.is(a.size, 0, "forgotten after it");
  t.deepEqual(a.floor, b(7), "the floor is the highest ballot it forgot (the promised next)");
  // A round at or below the floor is refused for any key without state; above is fine.
  t.like(a.handle(prepare("k", b(7)), 1001).reply, { type: "nack", reason: "promised", promised: b(7) });
  t.like(a.handle(prepare("other", b(6, "z")), 1001).reply, { type: "nack", reason: "promised" });
  const p = a.handle(prepare("k", b(8)), 1001).reply;
  t.like(p, { type: "promise", accepted: null, record: null, floor: b(7) });
});

test("a live key is never forgotten, and a promise-only key is", (t) => {
  const a = new Acceptor(cfg({ gcGraceMs: 100 }));
  a.handle(accept("live", b(5), rec(1, 10_000)), 0);
  a.handle(prepare("promised", b(3)), 0);
  a.tick(5000);
  t.truthy(a.get("live", 5000));
  t.is(a.inspect("promised"), undefined);
  t.deepEqual(a.floor, b(3));
});

test("expiry work follows what is due, not how many keys are live", (t) => {
  const a = new Acceptor(cfg({ maxKeys: 100_000 }));
  for (let i = 0; i < 20_000; i++) a.handle(accept(`long${i}`, b(5), rec(1, 60_000)), 0);
  for (let i = 0; i < 100; i++) a.handle(accept(`short${i}`, b(5), rec(1, 50)), 0);
  const before = a.tickWork;
  for (let now = 1; now <= 49; now++) a.tick(now);
  t.is(a.tickWork - before, 0, "no work while nothing is due");
  const events = a.tick(50);
  t.is(events.length, 100);
  t.is(a.tickWork - before, 100, "only the due entries were examined");
});

test("quiet period: no vote until it has passed", (t) => {
  const a = new Acceptor(cfg({ quietUntil: 1000 }));
  t.like(a.handle(prepare("k", b(5)), 0).reply, { type: "nack", reason: "quiet" });
  t.like(a.handle(accept("k", b(5), rec(1, 100)), 999).reply, { type: "nack", reason: "quiet" });
  t.like(a.handle({ type: "probe", cfg: 1 }, 10).reply, { type: "pong", quiet: true });
  t.like(a.handle(prepare("k", b(5)), 1000).reply, { type: "promise" });
});

test("another configuration version is refused with this acceptor's version", (t) => {
  const a = new Acceptor(cfg({ configVersion: 2 }));
  t.like(a.handle(prepare("k", b(5), 1), 0).reply, { type: "nack", reason: "config", cfg: 2 });
  t.like(a.handle(prepare("k", b(5), 3), 0).reply, { type: "nack", reason: "config", cfg: 2 });
  t.like(a.handle(prepare("k", b(5), 2), 0).reply, { type: "promise" });
});

test("the key bound refuses new keys, never existing ones", (t) => {
  const a = new Acceptor(cfg({ maxKeys: 2 }));
  a.handle(prepare("a", b(1)), 0);
  a.handle(prepare("b", b(1)), 0);
  t.like(a.handle(prepare("c", b(1)), 0).reply, { type: "nack", reason: "full" });
  t.like(a.handle(prepare("a", b(2)), 0).reply, { type: "promise" });
});

test("a lease longer than the GC grace is forgotten when it lapses, not before", (t) => {
  const a = new Acceptor(cfg({ gcGraceMs: 100 }));
  a.handle(accept("k", b(5), rec(1, 1000)), 0);
  t.deepEqual(a.tick(500), []);
  t.truthy(a.get("k", 500), "still live past the grace");
  t.is(a.size, 1);
  t.deepEqual(
    a.tick(1000).map((e) => e.kind),
    ["expired"],
  );
  t.is(a.size, 0, "forgotten as soon as it lapsed, the grace having passed");
  t.deepEqual(a.floor, b(5));
});

test("a key that lapses while a refused request looks at it is still forgotten", (t) => {
  for (const [leaseMs, gcGraceMs] of [
    [100, 1000],
    [500, 100],
  ] as const) {
    const a = new Acceptor(cfg({ gcGraceMs }));
    a.handle(accept("k", b(5), rec(1, leaseMs)), 0);
    a.tick(200);
    // The refused prepare expires the record on the spot (and reports it) but arms nothing.
    const r = a.handle(prepare("k", b(4)), leaseMs + 100);
    t.like(r.reply, { type: "nack", reason: "promised" });
    t.deepEqual(
      r.events.map((e) => e.kind),
      leaseMs > 200 ? ["expired"] : [],
    );
    a.tick(leaseMs + 100);
    a.tick(Math.max(leaseMs, gcGraceMs) + 100);
    t.is(a.size, 0, `lease ${leaseMs} ms, grace ${gcGraceMs} ms`);
  }
});

test("after a mass expiry the survivors keep their state and new keys still work", (t) => {
  const a = new Acceptor(cfg({ gcGraceMs: 1000, maxKeys: 100_000 }));
  const value = (i: number): Uint8Array => new Uint8Array([i & 255, i >> 8, 7]);
  for (let i = 0; i < 20_000; i++) {
    const long = i % 200 === 0;
    a.handle(accept(`k${i}`, b(10 + i, long ? "q" : "p"), { value: value(i), leaseMs: long ? 100_000 : 50, token: i }), i % 7);
  }
  a.handle(prepare("promised-late", b(3)), 1500);
  t.is(a.tick(60).length, 19_900);
  a.tick(1100);
  t.is(a.size, 101, "the dead keys are forgotten; the long leases and the late promise stay");
  for (let i = 0; i < 20_000; i += 200) {
    const r = a.get(`k${i}`, 1100);
    t.deepEqual(r && [...r.value], [...value(i)]);
    t.is(r?.token, i);
    t.is(r?.expiresAt, 100_000 + (i % 7));
    t.deepEqual(a.inspect(`k${i}`)?.accepted, b(10 + i, "q"));
  }
  t.deepEqual(a.inspect("promised-late")?.promised, b(3));
  // New keys after the table shrank, and the survivors' deadlines still fire.
  for (let i = 0; i < 5000; i++) a.handle(accept(`n${i}`, b(1_000_000 + i), { value: value(i), leaseMs: 200, token: i }), 1200);
  t.is(a.size, 5101);
  t.is(a.get("n4999", 1300)?.token, 4999);
  t.is(a.tick(1400).length, 5000);
  a.tick(2600);
  t.is(a.size, 100, "the late promise and the short new keys are forgotten");
  t.is(a.tick(100_006).length, 100, "every long lease expires at its own time");
  a.tick(101_010);
  t.is(a.size, 0);
  t.deepEqual(a.floor, b(1_004_999), "the floor is the highest ballot forgotten");
});

test("node names are kept as small indices: past 65,535 distinct names the unused ones are dropped, and the bound holds when all are in use", (t) => {
  const a = new Acceptor(cfg({ maxKeys: 70_000 }));
  // 65,535 keys, each promised to a node of its own: the name table is full.
  for (let i = 0; i < 0xffff; i++) if (a.handle(prepare(`k${i}`, b(10, `n${i}`)), 0).reply.type !== "promise") t.fail(`k${i}`);
  // Every name is in use: one more is refused (a clear error, nothing changed).
  t.throws(() => a.handle(prepare("extra", b(10, "newcomer")), 0), { message: /65535 distinct node names/ });
  t.is(a.inspect("extra"), undefined);
  // k0 is promised to a higher ballot of a known node: "n0" is no longer used. An accept
  // whose write-back origin names a new node then renumbers the table in the middle of
  // naming its two ballots, and both still come out right.
  t.like(a.handle(prepare("k0", b(11, "n1")), 0).reply, { type: "promise" });
  t.like(a.handle({ ...accept("k65534", b(10, "n65534"), rec(1, 100)), origin: b(7, "fresh") } as CasRequest, 0).reply, { type: "accepted" });
  t.deepEqual(a.inspect("k65534")?.accepted, b(10, "n65534"));
  t.deepEqual(a.inspect("k65534")?.origin, b(7, "fresh"));
  t.deepEqual(a.inspect("k0")?.promised, b(11, "n1"));
  t.deepEqual(a.inspect("k12345")?.promised, b(10, "n12345"));
  // Full again, every name in use: refused.
  t.throws(() => a.handle(prepare("extra", b(10, "newcomer")), 0), { message: /65535 distinct node names/ });
});

test("a new key inherits the forgotten floor's node name even when naming it renumbers the table", (t) => {
  const a = new Acceptor(cfg({ maxKeys: 70_000, gcGraceMs: 1000 }));
  // A dead key is forgotten: the floor names "floor-node", which no key uses any more.
  a.handle(prepare("dead", b(20, "floor-node")), 0);
  a.handle(accept("dead", b(20, "floor-node"), null), 0);
  a.tick(2000);
  t.deepEqual(a.floor, b(20, "floor-node"));
  // 65,534 keys, each promised to a node of its own: with "floor-node" the table is full.
  for (let i = 0; i < 0xfffe; i++) if (a.handle(prepare(`k${i}`, b(30, `n${i}`)), 2000).reply.type !== "promise") t.fail(`k${i}`);
  // k0 moves on ("n0" unused); the next new name drops "n0" and "floor-node".
  a.handle(prepare("k0", b(31, "n1")), 2000);
  for (const [key, node] of [["k65533", "x-node"], ["k65532", "y-node"], ["k65531", "z-node"], ["k65530", "w-node"]] as const) {
    t.like(a.handle(prepare(key, b(32, node)), 2000).reply, { type: "promise" }, key);
  }
  // Full again. k2 moves to an earlier name, so dropping "n2" shifts every later
  // index. A new key from a known node needs the floor's node named too, which
  // renumbers the table: every name still comes out right.
  a.handle(prepare("k2", b(31, "n1")), 2000);
  t.like(a.handle(prepare("fresh", b(40, "n7")), 2000).reply, { type: "promise" });
  t.deepEqual(a.inspect("fresh")?.promised, b(40, "n7"));
  const expected = [["k12345", b(30, "n12345")], ["k2", b(31, "n1")], ["k65533", b(32, "x-node")], ["k65531", b(32, "z-node")], ["k0", b(31, "n1")], ["k65530", b(32, "w-node")], ["k65529", b(30, "n65529")]] as const;
  for (const [key, ballot] of expected) t.deepEqual(a.inspect(key)?.promised, ballot, key);
  // The same on the accept path (a new key taken without a promise), with a write-back origin naming a new node.
  a.handle(prepare("k8", b(34, "n9")), 2000);
  a.handle(prepare("k10", b(34, "n11")), 2000);
  t.like(a.handle({ ...accept("taken", b(41, "n12"), rec(1, 100)), origin: b(39, "origin-node") } as CasRequest, 2000).reply, { type: "accepted" });
  t.like(a.inspect("taken"), { accepted: b(41, "n12"), origin: b(39, "origin-node") });
  for (const [key, ballot] of expected) t.deepEqual(a.inspect(key)?.promised, ballot, key);
  // Two new names at once, past the bound again: one compaction makes room for both.
  t.like(a.handle({ ...accept("k20", b(42, "new-1"), rec(1, 100)), origin: b(38, "new-2") } as CasRequest, 2000).reply, { type: "accepted" });
  t.like(a.inspect("k20"), { accepted: b(42, "new-1"), origin: b(38, "new-2") });
  for (const [key, ballot] of expected) t.deepEqual(a.inspect(key)?.promised, ballot, key);
  t.like(a.inspect("taken"), { accepted: b(41, "n12"), origin: b(39, "origin-node") });
});
