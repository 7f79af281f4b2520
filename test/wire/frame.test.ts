// Frames built around a payload encoded once (a request to several voters)
// are byte for byte the frames encoded whole, and decode to the same frame.
import test from "ava";
import fc from "fast-check";
import { decodeFrames, encodeFrame, encodeFrameAround, encodePayload, FrameKind, MAX_CHANNEL, MAX_REQUEST_ID } from "../../src/wire/frame.js";

const payload = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.string({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 64 }),
  fc.array(fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), fc.string({ maxLength: 8 }), fc.constant(null)), { maxLength: 9 }),
);
// The integer sizes CBOR switches at, and everything between.
const uint = (max: number) => fc.oneof(fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, max).filter((v) => v <= max), fc.integer({ min: 0, max }));

test("property: a frame around an encoded payload is the frame encoded whole", (t) => {
  fc.assert(
    fc.property(uint(MAX_CHANNEL), fc.constantFrom(FrameKind.message, FrameKind.request, FrameKind.response, FrameKind.error), uint(MAX_REQUEST_ID), payload, (channel, kind, id, p) => {
      const around = encodeFrameAround(channel, kind, id, encodePayload(p));
      const whole = encodeFrame({ channel, kind, id, payload: p });
      if (!Buffer.from(around).equals(Buffer.from(whole))) return false;
      const [frame] = decodeFrames(around);
      return frame!.channel === channel && frame!.kind === kind && frame!.id === id;
    }),
    { numRuns: 2000, seed: 7 },
  );
  t.pass();
});
