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
