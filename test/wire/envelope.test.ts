import test from "ava";
import fc from "fast-check";
import { decodeFrames, encodeFrame, Envelope, FrameKind, Keyring, packFrames, WireError, type Frame } from "../../src/wire/index.js";

// CBOR values as they come back from a decode: no undefined inside arrays
// (cbor-x maps it to undefined too, but -0 and NaN complicate deepEqual).
const cborValue = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.integer(),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
    fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }).filter((b) => b < -(2n ** 53n) || b > 2n ** 53n),
  ),
  node: fc.oneof({ depthSize: "small" }, tie("leaf"), fc.array(tie("node"), { maxLength: 5 }), fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), tie("node"), { maxKeys: 4 })),
})).node;

const frameArb: fc.Arbitrary<Frame> = fc.record({
  channel: fc.integer({ min: 0, max: 255 }),
  kind: fc.constantFrom(FrameKind.message, FrameKind.request, FrameKind.response, FrameKind.error),
  id: fc.integer({ min: 0, max: 0xffffffff }),
  payload: cborValue,
});

function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}

test("frames round-trip through envelope, packer and decoder", (t) => {
  const keyring = new Keyring([Buffer.alloc(32, 7)]);
  for (const env of [new Envelope(), new Envelope({ clusterLabel: "prod-eu" }), new Envelope({ keyring })]) {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 12 }), (frames) => {
        const encoded = frames.map(encodeFrame);
        const packed = packFrames(encoded.filter((f) => f.length <= 60_000), 60_000);
        const decoded = packed.flatMap((p) => decodeFrames(env.unwrap(env.wrap(p.body, p.frameCount))));
        const expected = frames.filter((_, i) => encoded[i]!.length <= 60_000);
        t.deepEqual(normalize(decoded), normalize(expected));
      }),
      { seed: 42, numRuns: 200 },
    );
  }
});

test("a datagram from another cluster label or without the key is refused with a reason", (t) => {
  const a = new Envelope({ clusterLabel: "a" });
  const b = new Envelope({ clusterLabel: "b" });
  const body = encodeFrame({ channel: 1, kind: 0, id: 0, payload: "x" });
  t.is(t.throws(() => b.unwrap(a.wrap(body, 1)), { instanceOf: WireError })!.reason, "bad_label");
  const sealed = new Envelope({ keyring: new Keyring([Buffer.alloc(32, 1)]) });
  const otherKey = new Envelope({ keyring: new Keyring([Buffer.alloc(32, 2)]) });
  t.is(t.throws(() => otherKey.unwrap(sealed.wrap(body, 1)), { instanceOf: WireError })!.reason, "bad_seal");
  t.is(t.throws(() => sealed.unwrap(new Envelope().wrap(body, 1)), { instanceOf: WireError })!.reason, "not_sealed");
});

test("keyring rotation: a node with old and new keys reads both", (t) => {
  const oldKey = Buffer.alloc(32, 1);
  const newKey = Buffer.alloc(32, 2);
  const rotating = new Keyring([oldKey, newKey]);
  rotating.usePrimary(newKey);
  const oldOnly = new Envelope({ keyring: new Keyring([oldKey]) });
  const both = new Envelope({ keyring: rotating });
  const body = encodeFrame({ channel: 2, kind: 1, id: 9, payload: [1, 2] });
  t.deepEqual(decodeFrames(both.unwrap(oldOnly.wrap(body, 1)))[0]!.payload, [1, 2]);
  t.throws(() => rotating.remove(newKey));
});

test("packer fills datagrams up to the cap and refuses an oversized frame", (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 1300 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 300, max: 1400 }), (sizes, cap) => {
      const frames = sizes.map((n) => encodeFrame({ channel: 2, kind: 0, id: 0, payload: Buffer.alloc(n) })).filter((f) => f.length <= cap);
      const packed = packFrames(frames, cap);
      for (const p of packed) t.true(p.body.length <= cap);
      t.is(packed.reduce((n, p) => n + p.frameCount, 0), frames.length);
      // Greedy: two consecutive datagrams could not have been merged.
      for (let i = 1; i < packed.length; i++) t.true(packed[i - 1]!.body.length + packed[i]!.body.length > cap || packed[i]!.frameCount === 0);
    }),
    { seed: 7, numRuns: 300 },
  );
  t.throws(() => packFrames([Buffer.alloc(1401)], 1400), { message: /exceeds/ });
});
