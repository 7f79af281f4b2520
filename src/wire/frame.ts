// A frame is one message inside a datagram body: [channel, kind, id, payload].
// A body is a CBOR sequence of frames, so a packer can append frames to a
// datagram until it is full without re-encoding anything.
import { decodeCborSequence, encodeCbor } from "./cbor.js";
import { WireError } from "./errors.js";

export const FrameKind = {
  /** Fire and forget. */
  message: 0,
  /** Expects a response or error with the same id. */
  request: 1,
  response: 2,
  /** The handler refused: payload is [code, message]. */
  error: 3,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export interface Frame {
  channel: number;
  kind: FrameKind;
  /** Request id (0 for plain messages). */
  id: number;
  payload: unknown;
}

export const MAX_CHANNEL = 255;
export const MAX_REQUEST_ID = 0xffffffff;

export function encodeFrame(frame: Frame): Buffer {
  return encodeCbor([frame.channel, frame.kind, frame.id, frame.payload]);
}

/** The payload's CBOR, encoded once, for frames to several peers (each with its own request id). */
export function encodePayload(payload: unknown): Buffer {
  return encodeCbor(payload);
}

/**
 * The same bytes as `encodeFrame` for a payload already encoded
 * (`encodePayload`): the CBOR array header and three unsigned integers, then
 * the payload as is. A request to three voters encodes its message once.
 */
export function encodeFrameAround(channel: number, kind: FrameKind, id: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(1 + uintSize(channel) + uintSize(kind) + uintSize(id) + payload.length);
  out[0] = 0x84; // array of 4
  let at = writeUint(out, 1, channel);
  at = writeUint(out, at, kind);
  at = writeUint(out, at, id);
  out.set(payload, at);
  return out;
}

/** Bytes of an unsigned integer ≤ 2^32 − 1 in CBOR's shortest form (RFC 8949 §3.1, major type 0). */
function uintSize(v: number): number {
  return v < 24 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : 5;
}

function writeUint(out: Buffer, at: number, v: number): number {
  if (v < 24) {
    out[at] = v;
    return at + 1;
  }
  if (v < 0x100) {
    out[at] = 24;
    out[at + 1] = v;
    return at + 2;
  }
  if (v < 0x10000) {
    out[at] = 25;
    out.writeUInt16BE(v, at + 1);
    return at + 3;
  }
  out[at] = 26;
  out.writeUInt32BE(v, at + 1);
  return at + 5;
}

function isUint(v: unknown, max: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;
}

/** Decodes and validates every frame of a body; one bad frame refuses the datagram. */
export function decodeFrames(body: Uint8Array): Frame[] {
  if (body.length === 0) throw new WireError("bad_frame", "empty body");
  const items = decodeCborSequence(body);
  if (items.length === 0) throw new WireError("bad_frame", "no frames");
  const frames: Frame[] = [];
  for (const item of items) {
    if (!Array.isArray(item) || item.length !== 4) throw new WireError("bad_frame", "frame is not a 4-element array");
    const [channel, kind, id, payload] = item as unknown[];
    if (!isUint(channel, MAX_CHANNEL)) throw new WireError("bad_frame", "bad channel");
    if (!isUint(kind, 3)) throw new WireError("bad_frame", "bad frame kind");
    if (!isUint(id, MAX_REQUEST_ID)) throw new WireError("bad_frame", "bad request id");
    frames.push({ channel, kind: kind as FrameKind, id, payload });
  }
  return frames;
}
