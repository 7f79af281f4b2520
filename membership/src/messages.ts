// The membership wire format: compact positional CBOR arrays, one message per
// datagram, and a strict shape check on everything decoded (nothing is trusted).
import { Encoder } from "cbor-x";

export const MAX_NAME_BYTES = 128;
export const MAX_ADDRESS_BYTES = 256;
/**
 * The largest incarnation on the wire. Far below 2^53 so that every accepted
 * incarnation can be incremented and still encoded and decoded exactly (an
 * incarnation of 2^53−1 once made a refutation of 2^53 undecodable: the
 * victim could never outbid it). Jumps far above what a member is known at are
 * refused separately (core.ts, MAX_INCARNATION_STEP).
 */
export const MAX_INCARNATION = 2 ** 32 - 1;
/** Probe sequence numbers and push-pull ids: this side makes them below 2^31 (core.ts nextSeq). */
export const MAX_SEQ = 2 ** 32 - 1;
/** Chunks of one push-pull: MAX_ITEMS entries per chunk times this is far above any maxMembers worth gossiping. */
export const MAX_PARTS = 0xffff;

export type UpdateKind = "alive" | "suspect" | "dead";

/** A piggybacked membership update (memberlist's alive / suspect / dead broadcasts). */
export type Update =
  | { kind: "alive"; name: string; address: string; incarnation: number; meta: Uint8Array | null }
  | { kind: "suspect"; name: string; incarnation: number; from: string }
  /** `from === name` means the member left gracefully. */
  | { kind: "dead"; name: string; incarnation: number; from: string };

export const StateCode = { alive: 0, suspect: 1, dead: 2, left: 3 } as const;
export type StateCode = (typeof StateCode)[keyof typeof StateCode];

/** One member's entry in a push-pull state exchange. */
export interface PushPullEntry {
  name: string;
  address: string;
  incarnation: number;
  state: StateCode;
  meta: Uint8Array | null;
}

export type Message =
  | { type: "ping"; seq: number; target: string; updates: Update[] }
  | { type: "pingReq"; seq: number; target: string; targetAddress: string; wantNack: boolean; updates: Update[] }
  | { type: "ack"; seq: number; updates: Update[] }
  | { type: "nack"; seq: number; updates: Update[] }
  | { type: "gossip"; updates: Update[] }
  /** One chunk of a full-state exchange; each chunk stands alone (merging is idempotent). */
  | { type: "pushPull"; id: number; response: boolean; join: boolean; part: number; parts: number; sender: string; entries: PushPullEntry[] };

export type MessageType = Message["type"];
export const messageTypes: readonly MessageType[] = ["ping", "pingReq", "ack", "nack", "gossip", "pushPull"];

const T = { ping: 0, pingReq: 1, ack: 2, nack: 3, gossip: 4, pushPull: 5 } as const;
const U = { alive: 0, suspect: 1, dead: 2 } as const;

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, variableMapSize: true });

export function encodeUpdateValue(u: Update): unknown[] {
  switch (u.kind) {
    case "alive":
      return [U.alive, u.name, u.address, u.incarnation, u.meta];
    case "suspect":
      return [U.suspect, u.name, u.incarnation, u.from];
    case "dead":
      return [U.dead, u.name, u.incarnation, u.from];
  }
}

/** Encoded size of an update inside a message (used to pack piggybacks). */
export function updateSize(u: Update): number {
  return cbor.encode(encodeUpdateValue(u)).length;
}

export function entrySize(e: PushPullEntry): number {
  return cbor.encode(entryValue(e)).length;
}

function entryValue(e: PushPullEntry): unknown[] {
  return [e.name, e.address, e.incarnation, e.state, e.meta];
}

export function encodeMessage(m: Message): Uint8Array {
  let v: unknown[];
  switch (m.type) {
    case "ping":
      v = [T.ping, m.seq, m.target, m.updates.map(encodeUpdateValue)];
      break;
    case "pingReq":
      v = [T.pingReq, m.seq, m.target, m.targetAddress, m.wantNack ? 1 : 0, m.updates.map(encodeUpdateValue)];
      break;
    case "ack":
      v = [T.ack, m.seq, m.updates.map(encodeUpdateValue)];
      break;
    case "nack":
      v = [T.nack, m.seq, m.updates.map(encodeUpdateValue)];
      break;
    case "gossip":
      v = [T.gossip, m.updates.map(encodeUpdateValue)];
      break;
    case "pushPull":
      v = [T.pushPull, m.id, m.response ? 1 : 0, m.join ? 1 : 0, m.part, m.parts, m.sender, m.entries.map(entryValue)];
      break;
  }
  return cbor.encode(v);
}

/** Thrown for any datagram that is not a well-formed membership message. */
export class MalformedMessage extends Error {
  override readonly name = "MalformedMessage";
}

function fail(why: string): never {
  throw new MalformedMessage(why);
}

/** Every decoded number has a bound: a non-negative integer of at most `max`. */
function uint(v: unknown, what: string, max: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v > max) fail(`${what} is not an integer in 0..${max}`);
  return v;
}

function str(v: unknown, what: string, maxBytes: number): string {
  if (typeof v !== "string" || v.length === 0 || Buffer.byteLength(v) > maxBytes) fail(`${what} is not a string of 1..${maxBytes} bytes`);
  return v;
}

function flag(v: unknown, what: string): boolean {
  if (v !== 0 && v !== 1) fail(`${what} is not 0 or 1`);
  return v === 1;
}

function meta(v: unknown, maxMetaBytes: number): Uint8Array | null {
  if (v === null || v === undefined) return null;
  if (!(v instanceof Uint8Array) || v.length > maxMetaBytes) fail(`meta is not bytes of at most ${maxMetaBytes}`);
  return v;
}

function arr(v: unknown, what: string, maxLen: number): unknown[] {
  if (!Array.isArray(v) || v.length > maxLen) fail(`${what} is not an array of at most ${maxLen}`);
  return v;
}

function decodeUpdate(v: unknown, maxMetaBytes: number): Update {
  const a = arr(v, "update", 5);
  switch (a[0]) {
    case U.alive:
      if (a.length !== 5) fail("alive update has wrong arity");
      return { kind: "alive", name: str(a[1], "name", MAX_NAME_BYTES), address: str(a[2], "address", MAX_ADDRESS_BYTES), incarnation: uint(a[3], "incarnation", MAX_INCARNATION), meta: meta(a[4], maxMetaBytes) };
    case U.suspect:
      if (a.length !== 4) fail("suspect update has wrong arity");
      return { kind: "suspect", name: str(a[1], "name", MAX_NAME_BYTES), incarnation: uint(a[2], "incarnation", MAX_INCARNATION), from: str(a[3], "from", MAX_NAME_BYTES) };
    case U.dead:
      if (a.length !== 4) fail("dead update has wrong arity");
      return { kind: "dead", name: str(a[1], "name", MAX_NAME_BYTES), incarnation: uint(a[2], "incarnation", MAX_INCARNATION), from: str(a[3], "from", MAX_NAME_BYTES) };
    default:
      return fail("unknown update kind");
  }
}

// A datagram holds at most ~1400 bytes; no honest message has more items than this.
const MAX_ITEMS = 1024;

function updates(v: unknown, maxMetaBytes: number): Update[] {
  return arr(v, "updates", MAX_ITEMS).map((u) => decodeUpdate(u, maxMetaBytes));
}

function decodeEntry(v: unknown, maxMetaBytes: number): PushPullEntry {
  const a = arr(v, "entry", 5);
  if (a.length !== 5) fail("push-pull entry has wrong arity");
  const state = uint(a[3], "state", 3);
  return { name: str(a[0], "name", MAX_NAME_BYTES), address: str(a[1], "address", MAX_ADDRESS_BYTES), incarnation: uint(a[2], "incarnation", MAX_INCARNATION), state: state as StateCode, meta: meta(a[4], maxMetaBytes) };
}

/** Decodes and validates one datagram; throws MalformedMessage (never anything else) on bad input. */
export function decodeMessage(bytes: Uint8Array, maxMetaBytes: number): Message {
  let raw: unknown;
  try {
    raw = cbor.decode(bytes);
  } catch (e) {
    fail(`not CBOR: ${(e as Error).message}`);
  }
  const a = arr(raw, "message", 8);
  switch (a[0]) {
    case T.ping:
      if (a.length !== 4) fail("ping has wrong arity");
      return { type: "ping", seq: uint(a[1], "seq", MAX_SEQ), target: str(a[2], "target", MAX_NAME_BYTES), updates: updates(a[3], maxMetaBytes) };
    case T.pingReq:
      if (a.length !== 6) fail("ping-req has wrong arity");
      return { type: "pingReq", seq: uint(a[1], "seq", MAX_SEQ), target: str(a[2], "target", MAX_NAME_BYTES), targetAddress: str(a[3], "targetAddress", MAX_ADDRESS_BYTES), wantNack: flag(a[4], "wantNack"), updates: updates(a[5], maxMetaBytes) };
    case T.ack:
    case T.nack:
      if (a.length !== 3) fail("ack has wrong arity");
      return { type: a[0] === T.ack ? "ack" : "nack", seq: uint(a[1], "seq", MAX_SEQ), updates: updates(a[2], maxMetaBytes) };
    case T.gossip:
      if (a.length !== 2) fail("gossip has wrong arity");
      return { type: "gossip", updates: updates(a[1], maxMetaBytes) };
    case T.pushPull: {
      if (a.length !== 8) fail("push-pull has wrong arity");
      const part = uint(a[4], "part", MAX_PARTS);
      const parts = uint(a[5], "parts", MAX_PARTS);
      if (parts < 1 || part >= parts) fail("push-pull part out of range");
      return {
        type: "pushPull", id: uint(a[1], "id", MAX_SEQ), response: flag(a[2], "response"), join: flag(a[3], "join"), part, parts,
        sender: str(a[6], "sender", MAX_NAME_BYTES), entries: arr(a[7], "entries", MAX_ITEMS).map((e) => decodeEntry(e, maxMetaBytes)),
      };
    }
    default:
      return fail("unknown message type");
  }
}

/** Encodes application metadata (any CBOR value) to bytes. */
export function encodeMeta(value: unknown): Uint8Array | null {
  if (value === undefined) return null;
  return cbor.encode(value);
}

/** Decodes metadata bytes; undefined if absent or unreadable. */
export function decodeMeta(bytes: Uint8Array | null): unknown {
  if (!bytes) return undefined;
  try {
    return cbor.decode(bytes);
  } catch {
    return undefined;
  }
}
