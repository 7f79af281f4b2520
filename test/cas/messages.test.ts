// The CAS codec: every message survives encode → CBOR → decode unchanged, and
// anything else — random junk, wrong types, out-of-range numbers — is refused.
import test from "ava";
import fc from "fast-check";
import { encodeValue } from "../../src/cas/value.js";
import { casCodec, MAX_CONFIG_VERSION, type CasMessage, type WireRecord } from "../../src/cas/messages.js";
import { MAX_BALLOT_COUNTER } from "../../src/cas/ballot.js";
import { encodeCbor, decodeCbor } from "../../src/wire/cbor.js";

const ballot = fc.record({ c: fc.nat({ max: MAX_BALLOT_COUNTER }), node: fc.string({ minLength: 1, maxLength: 20 }) });
// A record's token is the counter of the ballot that created it: never above the ballot carrying it.
const recordAtMost = (maxToken: number): fc.Arbitrary<WireRecord> =>
  fc.record({
    value: fc.jsonValue({ maxDepth: 2 }).map(encodeValue),
    leaseMs: fc.double({ min: 0.001, max: 2 ** 31 - 1, noNaN: true }),
    token: fc.nat({ max: maxToken }),
  });
const cfg = fc.nat({ max: MAX_CONFIG_VERSION });
const key = fc.string({ maxLength: 50 });

const message: fc.Arbitrary<CasMessage> = fc.oneof(
  fc.record({ type: fc.constant("prepare" as const), cfg, key, ballot }),
  ballot.chain((b) =>
    fc.record({
      type: fc.constant("accept" as const),
      cfg,
      key,
      ballot: fc.constant(b),
      record: fc.option(recordAtMost(b.c), { nil: null }),
      nextC: b.c < MAX_BALLOT_COUNTER ? fc.option(fc.integer({ min: b.c + 1, max: MAX_BALLOT_COUNTER }), { nil: null }) : fc.constant(null),
      origin: b.c > 0 ? fc.option(fc.record({ c: fc.nat({ max: b.c - 1 }), node: fc.string({ minLength: 1, maxLength: 20 }) }), { nil: null }) : fc.constant(null),
    }),
  ),
  fc.oneof(
    ballot.chain((acc) =>
      fc.record({
        type: fc.constant("promise" as const),
        accepted: fc.constant(acc),
        record: fc.option(recordAtMost(acc.c), { nil: null }),
        floor: fc.option(ballot, { nil: null }),
        origin: acc.c > 0 ? fc.option(fc.record({ c: fc.nat({ max: acc.c - 1 }), node: fc.string({ minLength: 1, maxLength: 20 }) }), { nil: null }) : fc.constant(null),
      }).chain((m) => fc.record({ ...Object.fromEntries(Object.entries(m).map(([k, v]) => [k, fc.constant(v)])), lapsed: m.record ? fc.constant(false) : fc.boolean() }) as fc.Arbitrary<typeof m & { lapsed: boolean }>),
    ),
    fc.record({
      type: fc.constant("promise" as const),
      accepted: fc.constant(null),
      record: fc.constant(null),
      floor: fc.option(ballot, { nil: null }),
      origin: fc.constant(null),
      lapsed: fc.constant(false),
    }),
  ),
  fc.record({ type: fc.constant("accepted" as const), nextPromised: fc.boolean() }),
  fc.record({ type: fc.constantFrom("nack" as const), reason: fc.constantFrom("promised" as const, "quiet" as const, "config" as const, "full" as const, "ballot" as const), promised: fc.option(ballot, { nil: null }), cfg }),
  fc.record({ type: fc.constant("nack" as const), reason: fc.constant("quiet" as const), promised: fc.constant(null), cfg, quietLeftMs: fc.nat({ max: 2 ** 31 - 1 }) }),
  fc.record({ type: fc.constant("probe" as const), cfg }),
  fc.record({ type: fc.constant("peek" as const), cfg, key }),
  fc.record({ type: fc.constant("pong" as const), cfg, quiet: fc.boolean() }),
  fc.record({ type: fc.constant("fence" as const), cfg, floor: ballot, session: fc.nat({ max: 0xffffffff }), page: fc.nat({ max: 2 ** 24 - 1 }) }),
  fc.integer({ min: 1, max: 1000 }).chain((pages) =>
    fc.record({
      type: fc.constant("fenced" as const),
      cfg,
      floor: ballot,
      session: fc.nat({ max: 0xffffffff }),
      pages: fc.constant(pages),
      page: fc.nat({ max: pages - 1 }),
      keys: fc.array(key, { maxLength: 10 }),
    }),
  ),
);

/** Plain JSON with sorted keys and bytes as arrays, for comparison. */
function normalise(m: unknown): unknown {
  if (m instanceof Uint8Array) return Array.from(m);
  if (Array.isArray(m)) return m.map(normalise);
  if (m && typeof m === "object") {
    const o = m as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, normalise(o[k])]));
  }
  return m;
}

test("every message round-trips through CBOR", (t) => {
  fc.assert(
    fc.property(message, (m) => {
      const back = casCodec.decode(decodeCbor(encodeCbor(casCodec.encode(m))));
      return JSON.stringify(normalise(back)) === JSON.stringify(normalise(m));
    }),
    { numRuns: 2000, seed: 1 },
  );
  t.pass();
});

test("random values never decode to a message without a clear error", (t) => {
  let accepted = 0;
  fc.assert(
    fc.property(fc.anything({ withTypedArray: true, withBigInt: true, withMap: true }), (raw) => {
      try {
        casCodec.decode(raw);
        accepted++;
      } catch (e) {
        if (!(e instanceof Error) || !/bad CAS message/.test(e.message)) throw e;
      }
    }),
    { numRuns: 3000, seed: 2 },
  );
  t.is(accepted, 0);
});

test("mutated valid messages are refused or still well-formed", (t) => {
  fc.assert(
    fc.property(message, fc.nat(), fc.anything(), (m, pos, junk) => {
      const raw = casCodec.encode(m) as unknown[];
      const i = pos % raw.length;
      const mutated = [...raw];
      mutated[i] = junk;
      try {
        const d = casCodec.decode(mutated);
        // If it decoded, re-encoding it must decode to the same thing (it is a valid message).
        return JSON.stringify(normalise(casCodec.decode(casCodec.encode(d)))) === JSON.stringify(normalise(d));
      } catch (e) {
        return e instanceof Error && /bad CAS message/.test(e.message);
      }
    }),
    { numRuns: 3000, seed: 3 },
  );
  t.pass();
});

test("specific bad shapes are refused", (t) => {
  const bad: unknown[] = [
    null,
    [],
    [99],
    [1, 1, "k", -1, "n"],
    [1, 1, "k", 1.5, "n"],
    [1, 1, "k", 1, ""],
    [1, 1, "k", 1, "x".repeat(65)],
    [1, -1, "k", 1, "n"],
    [1, 1, 7, 1, "n"],
    [1, 1, "k".repeat(5000), 1, "n"],
    [2, 1, "k", 5, "n", 5, null, null, null], // next not above ballot
    [2, 1, "k", 5, "n", null, ["not bytes", 10, 1], null, null],
    [2, 1, "k", 5, "n", null, [new Uint8Array(1), 0, 1], null, null], // zero lease
    [2, 1, "k", 5, "n", null, [new Uint8Array(1), Infinity, 1], null, null],
    [2, 1, "k", 5, "n", null, [new Uint8Array(70_000), 10, 1], null, null],
    [2, 1, "k", 5, "n", null, null, 6, "n"], // origin above the ballot
    [2, 1, "k", 5, "n", null, null], // old arity
    [3, null, null, [new Uint8Array(1), 10, 1], null, null, null, null, false], // record without ballot
    [3, null, null, null, null, null, 1, "n", false], // origin without an accepted ballot
    [3, 5, "n", [new Uint8Array(1), 10, 1], null, null, null, null, true], // lapsed with a live record
    [3, 5, "n", null, null, null, null, null, "no"], // bad lapsed flag
    [4, "yes"],
    [5, 9, null, null, 1],
    [7, 1, 1],
    [1, 1, "k", 1, "n", "extra"],
  ];
  for (const b of bad) t.throws(() => casCodec.decode(b), { message: /bad CAS message/ }, JSON.stringify(b));
});
