// The replication channel's messages and their codec: batched pushes of
// committed changes, the paged snapshot a joining member pulls, resync hints
// and the voter configuration (read and activate). Every field is checked on
// decode; a malformed message is refused (the transport drops and counts it).
import { isCanonicalValue } from "../cas/value.js";
import type { Ballot } from "../cas/ballot.js";
import { MAX_BALLOT_COUNTER, MAX_NODE_NAME_BYTES } from "../cas/ballot.js";
import { CODEC_MAX_KEY_BYTES, CODEC_MAX_LEASE_MS, CODEC_MAX_VALUE_BYTES, MAX_CONFIG_VERSION } from "../cas/messages.js";
import type { MessageCodec } from "../transport/types.js";
import { WireError } from "../wire/errors.js";
import { decodeConfig, encodeConfig, type VoterConfig } from "../cluster/config.js";

/** A key's state as a voter holds it, carried to a replica. */
export interface ReplicatedRecord {
  /** Canonical CBOR bytes of the value. */
  readonly value: Uint8Array;
  /** Fencing token (counter of the ballot that created the lock). */
  readonly token: number;
  /** Lease left at the sender when it sent this (whole ms, rounded down: the replica never outlives the voter). */
  readonly remainingMs: number;
}

/** One change: the key's accepted ballot and its record (null: absent — released or expired). */
export interface ChangeEntry {
  readonly key: string;
  readonly ballot: Ballot;
  /** The write id of this state when it is a write-back of an earlier change (CasMessage accept.origin); null: the ballot itself. */
  readonly origin: Ballot | null;
  readonly record: ReplicatedRecord | null;
}

export type ReplMessage =
  /** Voter → replica (request): a batch of changes. `cfg` lets the replica notice a newer configuration. */
  | { readonly type: "push"; readonly from: string; readonly cfg: number; readonly entries: readonly ChangeEntry[] }
  | { readonly type: "ack"; readonly cfg: number }
  /** Replica → voter (request): open a snapshot session (`session` 0) or fetch page `page` of one. */
  | { readonly type: "snap"; readonly from: string; readonly session: number; readonly page: number }
  /** The answer: the session, its page count, and the entries of the page asked for. */
  | { readonly type: "page"; readonly session: number; readonly pages: number; readonly page: number; readonly entries: readonly ChangeEntry[] }
  /** Voter → replica (message): you missed changes from me; pull a snapshot. */
  | { readonly type: "resync"; readonly from: string }
  /** Anyone → anyone (request): your active configuration. */
  | { readonly type: "cfgGet" }
  /** The answer to cfgGet, and (as a request) a coordinator telling a node to activate a configuration. */
  | { readonly type: "cfg"; readonly config: VoterConfig }
  /** Coordinator → voter (request): names of the keys your acceptor holds state for, page by page. */
  | { readonly type: "keys"; readonly session: number; readonly page: number }
  | { readonly type: "keyPage"; readonly session: number; readonly pages: number; readonly page: number; readonly keys: readonly string[] };

/** Bound on entries or keys in one message (far above what fits a datagram; a decoder bound, not a tuning knob). */
export const MAX_ENTRIES_PER_MESSAGE = 4096;
/**
 * Bound on a snapshot's or key listing's page count. A client pages through
 * `pages` requests, so a forged count of 2^32 − 1 would keep it asking for
 * ever; 2^24 pages is far beyond the largest acceptor (maxKeys ≤ 2^24 at one
 * key a page).
 */
export const MAX_PAGES = 2 ** 24;
/** Session ids and page numbers are uint32 on the wire. */
const MAX_U32 = 0xffffffff;

const T_PUSH = 1;
const T_ACK = 2;
const T_SNAP = 3;
const T_PAGE = 4;
const T_RESYNC = 5;
const T_CFG_GET = 6;
const T_CFG = 7;
const T_KEYS = 8;
const T_KEY_PAGE = 9;

function fail(what: string): never {
  throw new WireError("bad_message", `bad replication message: ${what}`);
}

function u32(x: unknown, what: string): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > MAX_U32) fail(what);
  return x;
}

/** A ballot counter or token: bounded as in the CAS codec, so adopting it never overflows a ballot clock. */
function counter(x: unknown, what: string): number {
  if (typeof x !== "number" || !Number.isSafeInteger(x) || x < 0 || x > MAX_BALLOT_COUNTER) fail(what);
  return x;
}

/** A configuration version (see MAX_CONFIG_VERSION: a forged 2^32 − 1 once stopped all writes). */
function cfgVersion(x: unknown, what: string): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > MAX_CONFIG_VERSION) fail(what);
  return x;
}

function pageCount(x: unknown): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > MAX_PAGES) fail("pages");
  return x;
}

function name(x: unknown, what: string): string {
  if (typeof x !== "string" || x.length === 0 || Buffer.byteLength(x, "utf8") > MAX_NODE_NAME_BYTES) fail(what);
  return x;
}

function key(x: unknown): string {
  if (typeof x !== "string" || x.length === 0 || Buffer.byteLength(x, "utf8") > CODEC_MAX_KEY_BYTES) fail("key");
  return x;
}

function list(x: unknown, what: string, max = MAX_ENTRIES_PER_MESSAGE): unknown[] {
  if (!Array.isArray(x) || x.length > max) fail(what);
  return x;
}

function arity(a: unknown[], n: number, what: string): void {
  if (a.length !== n) fail(`${what} arity`);
}

export function encodeEntry(e: ChangeEntry): unknown[] {
  const r = e.record;
  const head = [e.key, e.ballot.c, e.ballot.node, e.origin?.c ?? null, e.origin?.node ?? null];
  return r ? [...head, r.value, r.token, r.remainingMs] : head;
}

function decodeEntry(x: unknown): ChangeEntry {
  const a = list(x, "entry", 8);
  if (a.length !== 5 && a.length !== 8) fail("entry arity");
  const ballot = { c: counter(a[1], "ballot"), node: name(a[2], "ballot node") };
  let origin: Ballot | null = null;
  if (a[3] !== null || a[4] !== null) {
    origin = { c: counter(a[3], "origin"), node: name(a[4], "origin node") };
    if (origin.c > ballot.c || (origin.c === ballot.c && origin.node >= ballot.node)) fail("origin not below the ballot");
  }
  if (a.length === 5) return { key: key(a[0]), ballot, origin, record: null };
  const value = a[5];
  if (!(value instanceof Uint8Array) || value.length > CODEC_MAX_VALUE_BYTES) fail("value");
  if (!isCanonicalValue(value)) fail("value is not canonical CBOR");
  const remainingMs = a[7];
  if (typeof remainingMs !== "number" || !Number.isInteger(remainingMs) || remainingMs <= 0 || remainingMs > CODEC_MAX_LEASE_MS) fail("remaining lease");
  const token = counter(a[6], "token");
  // The token is the counter of the ballot that created the lock: this one or an earlier one.
  if (token > ballot.c) fail("token above the ballot");
  // A fresh copy: cbor-x may hand out a view over a shared slab.
  return { key: key(a[0]), ballot, origin, record: { value: Uint8Array.from(value), token, remainingMs } };
}

/**
 * Replication requests a retransmission may simply run again (transport
 * ChannelOptions.idempotent): a push applies entries only where they are newer
 * and answers an ack; a configuration read changes nothing. (A snapshot page
 * of session 0 opens a session: answered from the response cache.)
 */
export const replChannelOptions = { idempotent: (m: ReplMessage): boolean => m.type === "push" || m.type === "cfgGet" };

export const replCodec: MessageCodec<ReplMessage> = {
  encode(m: ReplMessage): unknown {
    switch (m.type) {
      case "push":
        return [T_PUSH, m.from, m.cfg, m.entries.map(encodeEntry)];
      case "ack":
        return [T_ACK, m.cfg];
      case "snap":
        return [T_SNAP, m.from, m.session, m.page];
      case "page":
        return [T_PAGE, m.session, m.pages, m.page, m.entries.map(encodeEntry)];
      case "resync":
        return [T_RESYNC, m.from];
      case "cfgGet":
        return [T_CFG_GET];
      case "cfg":
        return [T_CFG, encodeConfig(m.config)];
      case "keys":
        return [T_KEYS, m.session, m.page];
      case "keyPage":
        return [T_KEY_PAGE, m.session, m.pages, m.page, m.keys];
    }
  },
  decode(raw: unknown): ReplMessage {
    const a = list(raw, "message", 8);
    switch (a[0]) {
      case T_PUSH:
        arity(a, 4, "push");
        return { type: "push", from: name(a[1], "from"), cfg: cfgVersion(a[2], "cfg"), entries: list(a[3], "entries").map(decodeEntry) };
      case T_ACK:
        arity(a, 2, "ack");
        return { type: "ack", cfg: cfgVersion(a[1], "cfg") };
      case T_SNAP:
        arity(a, 4, "snap");
        return { type: "snap", from: name(a[1], "from"), session: u32(a[2], "session"), page: u32(a[3], "page") };
      case T_PAGE: {
        arity(a, 5, "page");
        const pages = pageCount(a[2]);
        const page = u32(a[3], "page");
        if (pages > 0 && page >= pages) fail("page past the end");
        return { type: "page", session: u32(a[1], "session"), pages, page, entries: list(a[4], "entries").map(decodeEntry) };
      }
      case T_RESYNC:
        arity(a, 2, "resync");
        return { type: "resync", from: name(a[1], "from") };
      case T_CFG_GET:
        arity(a, 1, "cfgGet");
        return { type: "cfgGet" };
      case T_CFG:
        arity(a, 2, "cfg");
        return { type: "cfg", config: decodeConfig(a[1]) };
      case T_KEYS:
        arity(a, 3, "keys");
        return { type: "keys", session: u32(a[1], "session"), page: u32(a[2], "page") };
      case T_KEY_PAGE: {
        arity(a, 5, "keyPage");
        const pages = pageCount(a[2]);
        const page = u32(a[3], "page");
        if (pages > 0 && page >= pages) fail("page past the end");
        return { type: "keyPage", session: u32(a[1], "session"), pages, page, keys: list(a[4], "keys").map(key) };
      }
      default:
        return fail("unknown type");
    }
  },
};

