// Every number of the CAS and replication codecs is bounded where it is
// decoded, and a ballot implausibly far ahead of the local clock is refused by
// the acceptor, the proposer and the HLC without touching state. Each bound is
// probed just below (accepted) and just above (refused).
import test from "ava";
import fc from "fast-check";
import { Acceptor, type AcceptorConfig } from "../../src/cas/acceptor.js";
import {
  BALLOT_COUNTER_MARGIN,
  HLC_TICKS_PER_MS,
  HybridLogicalClock,
  MAX_BALLOT_AHEAD_MS,
  MAX_BALLOT_COUNTER,
  maxPlausibleCounter,
  type Ballot,
} from "../../src/cas/ballot.js";
import { casCodec, MAX_CONFIG_VERSION, type CasRequest } from "../../src/cas/messages.js";
import { ProposerRound } from "../../src/cas/proposer.js";
import { MAX_PAGES, replCodec } from "../../src/replication/messages.js";

const WALL = 1_800_000_000_000;
const cfg = (o: Partial<AcceptorConfig> = {}): AcceptorConfig => ({ configVersion: 1, quietUntil: 0, gcGraceMs: 1000, maxKeys: 1000, ...o });
const decodes = (raw: unknown): boolean => {
  try {
    casCodec.decode(raw);
    return true;
  } catch (e) {
    if (!(e instanceof Error) || !/bad CAS message/.test(e.message)) throw e;
    return false;
  }
};
const replDecodes = (raw: unknown): boolean => {
  try {
    replCodec.decode(raw);
    return true;
  } catch (e) {
    if (!(e instanceof Error) || !/bad replication message|bad voter configuration/.test(e.message)) throw e;
    return false;
  }
};

test("the bounds leave room: 2^32 ticks above the largest counter are still safe integers", (t) => {
  t.true(Number.isSafeInteger(MAX_BALLOT_COUNTER + BALLOT_COUNTER_MARGIN));
  t.false(Number.isSafeInteger(MAX_BALLOT_COUNTER + BALLOT_COUNTER_MARGIN + 1));
  // And today's wall clock is far below them (until past the year 2200).
  t.true(maxPlausibleCounter(WALL) < MAX_BALLOT_COUNTER);
  t.is(maxPlausibleCounter(WALL), (WALL + MAX_BALLOT_AHEAD_MS + 1) * HLC_TICKS_PER_MS - 1);
});

test("property: CAS codec counters — at MAX_BALLOT_COUNTER accepted, above refused, in every field", (t) => {
  const M = MAX_BALLOT_COUNTER;
  // Each builder puts the probed counter `c` in one field of an otherwise valid message.
  const builders: Array<(c: number) => unknown[]> = [
    (c) => [1, 1, "k", c, "n"], // prepare ballot
    (c) => [2, 1, "k", c, "n", null, null, null, null], // accept ballot
    (c) => [2, 1, "k", 0, "n", c, null, null, null], // accept nextC (above the ballot 0)
    (c) => [2, 1, "k", c, "n", null, [new Uint8Array(1), 10, c], null, null], // accept record token (= ballot)
    (c) => [2, 1, "k", c, "n", null, null, 0, "m"], // accept with origin below
    (c) => [3, c, "n", null, null, null, null, null, false], // promise accepted
    (c) => [3, null, null, null, c, "n", null, null, false], // promise floor
    (c) => [3, c, "n", [new Uint8Array(1), 10, c], null, null, null, null, false], // promise record token
    (c) => [5, 0, c, "n", 1], // nack promised
  ];
  fc.assert(
    fc.property(fc.integer({ min: 0, max: builders.length - 1 }), fc.integer({ min: 1, max: 2 ** 40 }), (i, d) => {
      const build = builders[i]!;
      return decodes(build(M)) && decodes(build(M - d)) && !decodes(build(M + 1)) && !decodes(build(Math.min(Number.MAX_SAFE_INTEGER, M + d)));
    }),
    { seed: 31, numRuns: 500 },
  );
  // The value that used to overflow the ballot clock.
  t.false(decodes([1, 1, "k", Number.MAX_SAFE_INTEGER, "n"]));
  t.false(decodes([1, 1, "k", 2 ** 53, "n"]));
});

test("a record token above its ballot is refused (a token is the counter of the ballot that created the lock)", (t) => {
  t.true(decodes([2, 1, "k", 100, "n", null, [new Uint8Array(1), 10, 100], null, null]));
  t.false(decodes([2, 1, "k", 100, "n", null, [new Uint8Array(1), 10, 101], null, null]));
  t.true(decodes([3, 100, "n", [new Uint8Array(1), 10, 100], null, null, null, null, false]));
  t.false(decodes([3, 100, "n", [new Uint8Array(1), 10, 101], null, null, null, null, false]));
});

test("property: configuration versions — at MAX_CONFIG_VERSION accepted, above refused (CAS and replication)", (t) => {
  const V = MAX_CONFIG_VERSION;
  t.is(V, 2 ** 31);
  const cas: Array<(v: number) => unknown[]> = [(v) => [1, v, "k", 1, "n"], (v) => [6, v], (v) => [7, v, false], (v) => [8, v, "k"], (v) => [5, 0, null, null, v]];
  const repl: Array<(v: number) => unknown[]> = [(v) => [1, "n", v, []], (v) => [2, v], (v) => [7, [v, [["a", "h:1"]]]]];
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 32 }), (d) => {
      for (const b of cas) if (!decodes(b(V)) || !decodes(b(V - Math.min(d, V))) || decodes(b(V + 1)) || decodes(b(V + d))) return false;
      for (const b of repl) if (!replDecodes(b(V)) || !replDecodes(b(V - Math.min(d, V))) || replDecodes(b(V + 1)) || replDecodes(b(V + d))) return false;
      return true;
    }),
    { seed: 32, numRuns: 300 },
  );
  // The forged version that once stopped all writes.
  t.false(replDecodes([7, [2 ** 32 - 1, [["zz-nobody", "h:1"]]]]));
});

test("property: replication counters, tokens and page counts are bounded", (t) => {
  const M = MAX_BALLOT_COUNTER;
  const entry = (c: number, token: number): unknown[] => ["k", c, "n", null, null, new Uint8Array(1), token, 10];
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 40 }), (d) => {
      const push = (e: unknown[]): unknown[] => [1, "n", 1, [e]];
      return (
        replDecodes(push(entry(M, M))) &&
        replDecodes(push(entry(M - d, M - d))) &&
        !replDecodes(push(entry(M + 1, 0))) &&
        !replDecodes(push(entry(Math.min(Number.MAX_SAFE_INTEGER, M + d), 0))) &&
        !replDecodes(push(entry(M - d, M - d + 1))) && // token above its ballot
        replDecodes([4, 1, MAX_PAGES, 0, []]) &&
        !replDecodes([4, 1, MAX_PAGES + 1, 0, []]) &&
        !replDecodes([9, 1, MAX_PAGES + d, 0, []])
      );
    }),
    { seed: 33, numRuns: 300 },
  );
  t.pass();
});

test("property: the acceptor takes a ballot up to MAX_BALLOT_AHEAD_MS ahead of its wall clock and refuses one tick more, touching nothing", (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.constantFrom("prepare", "accept", "acceptNext"), (d, kind) => {
      const a = new Acceptor(cfg());
      const limit = maxPlausibleCounter(WALL);
      const msg = (c: number): CasRequest =>
        kind === "prepare"
          ? { type: "prepare", cfg: 1, key: "k", ballot: { c, node: "p" } }
          : kind === "accept"
            ? { type: "accept", cfg: 1, key: "k", ballot: { c, node: "p" }, record: null, nextC: null, origin: null }
            : { type: "accept", cfg: 1, key: "k", ballot: { c: 1, node: "p" }, record: null, nextC: Math.max(2, c), origin: null };
      const above = Math.min(MAX_BALLOT_COUNTER, limit + 1 + d);
      const refused = a.handle(msg(above), 0, WALL).reply;
      if (refused.type !== "nack" || refused.reason !== "ballot") return false;
      if (a.size !== 0 || a.floor !== null || a.inspect("k") !== undefined || a.refusedAhead !== 1) return false;
      const ok = a.handle(msg(Math.max(2, limit - (d % 1000))), 0, WALL).reply;
      return ok.type === "promise" || ok.type === "accepted";
    }),
    { seed: 34, numRuns: 300 },
  );
  t.pass();
});

test("a refused ballot never reaches the forgotten floor that every new key inherits", (t) => {
  const a = new Acceptor(cfg({ gcGraceMs: 10 }));
  const hostile = { c: MAX_BALLOT_COUNTER, node: "evil" };
  t.like(a.handle({ type: "prepare", cfg: 1, key: "k", ballot: hostile }, 0, WALL).reply, { type: "nack", reason: "ballot" });
  a.tick(1000);
  t.is(a.floor, null);
  // A key nobody has touched is still open to an honest ballot at the wall clock.
  const honest: Ballot = { c: WALL * HLC_TICKS_PER_MS, node: "p" };
  t.like(a.handle({ type: "prepare", cfg: 1, key: "fresh", ballot: honest }, 1000, WALL).reply, { type: "promise" });
});

test("property: the HLC adopts a counter up to the bound ahead of its last tick, refuses one more, and keeps ticking", (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 10 ** 6 }), (d, skewMs) => {
      const wall = WALL + skewMs;
      const h = new HybridLogicalClock();
      h.tick(wall);
      const limit = maxPlausibleCounter(wall);
      if (h.observe(Math.min(Number.MAX_SAFE_INTEGER, limit + 1 + d))) return false;
      if (h.refused !== 1 || h.current > limit) return false;
      if (!h.observe(limit - (d % 1024))) return false;
      // With an explicit wall time too.
      if (new HybridLogicalClock().observe(limit + 1, wall)) return false;
      const c = h.tick(wall);
      return c > limit - (d % 1024) && Number.isSafeInteger(c);
    }),
    { seed: 35, numRuns: 500 },
  );
  // Before any tick only the absolute bound applies (the driver's own start-up observation).
  const h = new HybridLogicalClock();
  t.true(h.observe(MAX_BALLOT_COUNTER));
  t.false(h.observe(MAX_BALLOT_COUNTER + 1));
  for (let i = 0; i < 1000; i++) h.tick(WALL);
  t.true(Number.isSafeInteger(h.current));
});

test("property: a proposer treats a reply whose ballot is too far ahead as no answer, and never reports it as seen", (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.constantFrom("accepted", "floor", "nack"), (d, field) => {
      const c0 = WALL * HLC_TICKS_PER_MS;
      const round = new ProposerRound({
        key: "k",
        cfg: 1,
        ask: ["a", "b", "c"],
        quorum: 2,
        op: { kind: "lock", value: new Uint8Array([1]), leaseMs: 1000 },
        ballot: { c: c0, node: "p" },
        nextC: c0 + 1,
        fast: null,
        ownWrites: [],
        maxPlausibleC: maxPlausibleCounter(WALL),
      });
      round.start(0);
      const bad = Math.min(MAX_BALLOT_COUNTER, maxPlausibleCounter(WALL) + d);
      const hostile: Ballot = { c: bad, node: "evil" };
      const reply =
        field === "nack"
          ? ({ type: "nack", reason: "promised", promised: hostile, cfg: 1 } as const)
          : ({ type: "promise", accepted: field === "accepted" ? hostile : null, record: null, floor: field === "floor" ? hostile : null, origin: null, lapsed: false } as const);
      round.onReply("a", reply, 1, "prepare");
      if (round.implausibleReplies !== 1 || round.highestSeen !== null || round.outcome !== undefined) return false;
      // The other two voters answer honestly: the round goes on without the hostile one.
      const fine = { type: "promise", accepted: null, record: null, floor: null, origin: null, lapsed: false } as const;
      const out = [...round.onReply("b", fine, 1, "prepare"), ...round.onReply("c", fine, 1, "prepare")];
      return out.length === 3 && out.every((o) => o.msg.type === "accept");
    }),
    { seed: 36, numRuns: 300 },
  );
  t.pass();
});
