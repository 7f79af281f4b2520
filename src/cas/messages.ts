// The CAS channel's messages and their codec. Messages travel as compact CBOR
// arrays; `decode` checks every field's type and range and throws on anything
// else, so the acceptor and proposer never see a malformed message.
import { isCanonicalValue } from "./value.js";
import type { MessageCodec } from "../transport/types.js";
import { compareBallots, MAX_BALLOT_COUNTER, MAX_NODE_NAME_BYTES, type Ballot } from "./ballot.js";

/** A key's record as carried on the wire. */
export interface WireRecord {
  /** The value, canonical CBOR bytes (compared bytewise). */
  readonly value: Uint8Array;
  /**
   * In `accept`: the lease the acceptor starts when it accepts.
   * In `promise`: the lease remaining at the acceptor when it replied (> 0; an expired record is sent as null).
   */
  readonly leaseMs: number;
  /** Counter of the ballot that created the lock (the fencing token). */
  readonly token: number;
}

export type NackReason =
  /** The acceptor promised a higher ballot (or forgot this key at a higher floor). */
  | "promised"
  /** The acceptor is in its quiet period after a start with empty memory. */
  | "quiet"
  /** The configuration versions differ; `cfg` is the acceptor's. */
  | "config"
  /** The acceptor holds as many keys as it may. */
  | "full"
  /** The ballot is implausibly far ahead of the acceptor's clock (MAX_BALLOT_AHEAD_MS): a broken clock or a forger. */
  | "ballot";

export type CasMessage =
  | { readonly type: "prepare"; readonly cfg: number; readonly key: string; readonly ballot: Ballot }
  /**
   * A read of an acceptor's state that promises nothing (answered with a
   * "promise"-shaped report). A lock attempt on a key believed held asks a
   * majority this first: if they agree on one live accepted state, the key is
   * held and the answer is `locked`, without bumping promises that would make
   * the holder's own release lose its round.
   */
  | { readonly type: "peek"; readonly cfg: number; readonly key: string }
  | {
      readonly type: "accept";
      readonly cfg: number;
      readonly key: string;
      readonly ballot: Ballot;
      /** null writes "absent" (a release or the write-back of an absent key). */
      readonly record: WireRecord | null;
      /** Counter of the proposer's next ballot for this key: accepting also promises it (the one-round-trip fast path). */
      readonly nextC: number | null;
      /**
       * The ballot of the change that produced this state (its "write id"):
       * null when it is this accept's ballot; a write-back keeps the original,
       * so a proposer can recognise its own change after someone re-wrote it.
       */
      readonly origin: Ballot | null;
    }
  | {
      readonly type: "promise";
      readonly accepted: Ballot | null;
      readonly record: WireRecord | null;
      readonly floor: Ballot | null;
      /** The accepted state's write id; null when it is the accepted ballot itself (or nothing was accepted). */
      readonly origin: Ballot | null;
      /**
       * The accepted record's lease ran out here (record is then null). Unlike
       * a release, a lapse is local: another acceptor may still see the lease
       * live, so "absent" is only answered after writing it back.
       */
      readonly lapsed: boolean;
    }
  | { readonly type: "accepted"; readonly nextPromised: boolean }
  | {
      readonly type: "nack";
      readonly reason: NackReason;
      readonly promised: Ballot | null;
      readonly cfg: number;
      /** With reason "quiet": how long the acceptor still sits out its quiet period (ms), so the answer can say. */
      readonly quietLeftMs?: number;
    }
  | { readonly type: "probe"; readonly cfg: number }
  | { readonly type: "pong"; readonly cfg: number; readonly quiet: boolean }
  /**
   * Voter recovery (recovery.ts), restarted voter → another voter: raise your
   * promise on every key, and the floor of keys you have no state for, to at
   * least `floor`; then list the keys you hold state for, page by page
   * (session 0 opens a listing and fences; later pages name the session).
   */
  | { readonly type: "fence"; readonly cfg: number; readonly floor: Ballot; readonly session: number; readonly page: number }
  /** The floor the voter raised to (≥ the one asked: its own clock may be further ahead) and one page of its keys. */
  | { readonly type: "fenced"; readonly cfg: number; readonly floor: Ballot; readonly session: number; readonly pages: number; readonly page: number; readonly keys: readonly string[] };

/** Requests an acceptor handles. */
export type CasRequest = Extract<CasMessage, { type: "prepare" | "peek" | "accept" | "probe" }>;
export type CasReply = Extract<CasMessage, { type: "promise" | "accepted" | "nack" | "pong" }>;
export type FenceRequest = Extract<CasMessage, { type: "fence" }>;
export type FenceReply = Extract<CasMessage, { type: "fenced" }>;

/** Hard caps of the codec itself (the Locker's configured limits are at most these). */
export const CODEC_MAX_KEY_BYTES = 4096;
export const CODEC_MAX_VALUE_BYTES = 65536;
/** Leases on the wire are below ~24.8 days (setTimeout's range). */
export const CODEC_MAX_LEASE_MS = 2 ** 31 - 1;
/**
 * Largest configuration version on the wire. Versions go up by one per
 * reconfiguration; 2^31 leaves room for any real history while a forged
 * "version 2^32 − 1" (which once stopped all writes) is refused at decode.
 */
export const MAX_CONFIG_VERSION = 2 ** 31;
/** Bound on the pages of one key listing (far above 1 M keys of any length in datagram-sized pages). */
export const MAX_LISTING_PAGES = 2 ** 24;
/** Bound on keys in one listing page (far above what fits a datagram; a decoder bound). */
export const MAX_KEYS_PER_PAGE = 4096;

const T_PREPARE = 1;
const T_ACCEPT = 2;
const T_PROMISE = 3;
const T_ACCEPTED = 4;
const T_NACK = 5;
const T_PROBE = 6;
const T_PONG = 7;
const T_PEEK = 8;
const T_FENCE = 9;
const T_FENCED = 10;
// Append only: the index is on the wire.
const NACK_REASONS: readonly NackReason[] = ["promised", "quiet", "config", "full", "ballot"];

class BadMessage extends Error {}

function fail(what: string): never {
  throw new BadMessage(`bad CAS message: ${what}`);
}

function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/** A ballot counter or fencing token: at most MAX_BALLOT_COUNTER, so one more tick stays a safe integer. */
function counter(x: unknown, what: string): number {
  if (typeof x !== "number" || !Number.isSafeInteger(x) || x < 0 || x > MAX_BALLOT_COUNTER) fail(what);
  return x;
}

function nodeName(x: unknown): string {
  if (typeof x !== "string" || x.length === 0 || utf8Bytes(x) > MAX_NODE_NAME_BYTES) fail("node name");
  return x;
}

function cfgVersion(x: unknown): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > MAX_CONFIG_VERSION) fail("config version");
  return x;
}

function keyString(x: unknown): string {
  if (typeof x !== "string" || utf8Bytes(x) > CODEC_MAX_KEY_BYTES) fail("key");
  return x;
}

function u32(x: unknown, what: string): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > 0xffffffff) fail(what);
  return x;
}

function ballotOrNull(c: unknown, node: unknown, what: string): Ballot | null {
  if (c === null && node === null) return null;
  return { c: counter(c, what), node: nodeName(node) };
}

function encodeRecord(r: WireRecord | null): unknown {
  return r === null ? null : [r.value, r.leaseMs, r.token];
}

function decodeRecord(x: unknown): WireRecord | null {
  if (x === null) return null;
  if (!Array.isArray(x) || x.length !== 3) fail("record");
  const [value, leaseMs, token] = x as unknown[];
  if (!(value instanceof Uint8Array) || value.length > CODEC_MAX_VALUE_BYTES) fail("record value");
  if (!isCanonicalValue(value)) fail("record value is not canonical CBOR");
  if (typeof leaseMs !== "number" || !Number.isFinite(leaseMs) || leaseMs <= 0 || leaseMs > CODEC_MAX_LEASE_MS) fail("record lease");
  // A fresh Uint8Array view: cbor-x may hand out a Buffer over a shared slab.
  return { value: Uint8Array.from(value), leaseMs, token: counter(token, "record token") };
}

function arity(a: unknown[], n: number, what: string): void {
  if (a.length !== n) fail(`${what} arity`);
}

export const casCodec: MessageCodec<CasMessage> = {
  encode(m: CasMessage): unknown {
    switch (m.type) {
      case "prepare":
        return [T_PREPARE, m.cfg, m.key, m.ballot.c, m.ballot.node];
      case "accept":
        return [T_ACCEPT, m.cfg, m.key, m.ballot.c, m.ballot.node, m.nextC, encodeRecord(m.record), m.origin?.c ?? null, m.origin?.node ?? null];
      case "promise":
        return [
          T_PROMISE,
          m.accepted?.c ?? null,
          m.accepted?.node ?? null,
          encodeRecord(m.record),
          m.floor?.c ?? null,
          m.floor?.node ?? null,
          m.origin?.c ?? null,
          m.origin?.node ?? null,
          m.lapsed,
        ];
      case "accepted":
        return [T_ACCEPTED, m.nextPromised];
      case "nack":
        return m.quietLeftMs === undefined
          ? [T_NACK, NACK_REASONS.indexOf(m.reason), m.promised?.c ?? null, m.promised?.node ?? null, m.cfg]
          : [T_NACK, NACK_REASONS.indexOf(m.reason), m.promised?.c ?? null, m.promised?.node ?? null, m.cfg, m.quietLeftMs];
      case "peek":
        return [T_PEEK, m.cfg, m.key];
      case "probe":
        return [T_PROBE, m.cfg];
      case "pong":
        return [T_PONG, m.cfg, m.quiet];
      case "fence":
        return [T_FENCE, m.cfg, m.floor.c, m.floor.node, m.session, m.page];
      case "fenced":
        return [T_FENCED, m.cfg, m.floor.c, m.floor.node, m.session, m.pages, m.page, m.keys];
    }
  },

  decode(raw: unknown): CasMessage {
    if (!Array.isArray(raw) || raw.length < 1) fail("not an array");
    const a = raw as unknown[];
    switch (a[0]) {
      case T_PREPARE:
        arity(a, 5, "prepare");
        return { type: "prepare", cfg: cfgVersion(a[1]), key: keyString(a[2]), ballot: { c: counter(a[3], "ballot"), node: nodeName(a[4]) } };
      case T_ACCEPT: {
        arity(a, 9, "accept");
        const ballot = { c: counter(a[3], "ballot"), node: nodeName(a[4]) };
        const nextC = a[5] === null ? null : counter(a[5], "next ballot");
        if (nextC !== null && nextC <= ballot.c) fail("next ballot not above ballot");
        const origin = ballotOrNull(a[7], a[8], "origin");
        if (origin && compareBallots(origin, ballot) >= 0) fail("origin not below ballot");
        const record = decodeRecord(a[6]);
        // A token is the counter of the ballot that created the lock: this one or an earlier one.
        if (record && record.token > ballot.c) fail("record token above the ballot");
        return { type: "accept", cfg: cfgVersion(a[1]), key: keyString(a[2]), ballot, nextC, record, origin };
      }
      case T_PROMISE: {
        arity(a, 9, "promise");
        const accepted = ballotOrNull(a[1], a[2], "accepted ballot");
        const record = decodeRecord(a[3]);
        if (record && !accepted) fail("record without a ballot");
        if (record && record.token > accepted!.c) fail("record token above the accepted ballot");
        const origin = ballotOrNull(a[6], a[7], "origin");
        if (origin && (!accepted || compareBallots(origin, accepted) >= 0)) fail("origin not below the accepted ballot");
        if (typeof a[8] !== "boolean" || (a[8] && (record || !accepted))) fail("lapsed flag");
        return { type: "promise", accepted, record, floor: ballotOrNull(a[4], a[5], "floor"), origin, lapsed: a[8] };
      }
      case T_ACCEPTED:
        arity(a, 2, "accepted");
        if (typeof a[1] !== "boolean") fail("accepted flag");
        return { type: "accepted", nextPromised: a[1] };
      case T_NACK: {
        if (a.length !== 5 && a.length !== 6) fail("nack arity");
        const r = a[1];
        if (typeof r !== "number" || !Number.isInteger(r) || r < 0 || r >= NACK_REASONS.length) fail("nack reason");
        const nack = { type: "nack" as const, reason: NACK_REASONS[r]!, promised: ballotOrNull(a[2], a[3], "promised ballot"), cfg: cfgVersion(a[4]) };
        if (a.length === 5) return nack;
        const left = a[5];
        if (typeof left !== "number" || !Number.isInteger(left) || left < 0 || left > CODEC_MAX_LEASE_MS) fail("quiet time left");
        return { ...nack, quietLeftMs: left };
      }
      case T_PEEK:
        arity(a, 3, "peek");
        return { type: "peek", cfg: cfgVersion(a[1]), key: keyString(a[2]) };
      case T_PROBE:
        arity(a, 2, "probe");
        return { type: "probe", cfg: cfgVersion(a[1]) };
      case T_PONG:
        arity(a, 3, "pong");
        if (typeof a[2] !== "boolean") fail("pong flag");
        return { type: "pong", cfg: cfgVersion(a[1]), quiet: a[2] };
      case T_FENCE: {
        arity(a, 6, "fence");
        const page = u32(a[5], "page");
        if (page >= MAX_LISTING_PAGES) fail("page");
        return { type: "fence", cfg: cfgVersion(a[1]), floor: { c: counter(a[2], "floor"), node: nodeName(a[3]) }, session: u32(a[4], "session"), page };
      }
      case T_FENCED: {
        arity(a, 8, "fenced");
        const pages = u32(a[5], "pages");
        const page = u32(a[6], "page");
        if (pages > MAX_LISTING_PAGES || (pages > 0 ? page >= pages : page !== 0)) fail("page");
        const keys = a[7];
        if (!Array.isArray(keys) || keys.length > MAX_KEYS_PER_PAGE) fail("keys");
        return {
          type: "fenced",
          cfg: cfgVersion(a[1]),
          floor: { c: counter(a[2], "floor"), node: nodeName(a[3]) },
          session: u32(a[4], "session"),
          pages,
          page,
          keys: (keys as unknown[]).map(keyString),
        };
      }
      default:
        return fail("unknown type");
    }
  },
};

/**
 * The largest messages a write of `value` under `key` can send: an accept
 * with a write-back's origin, and a promise reply carrying the record back,
 * each with the largest ballots, token and lease the codec admits. A write
 * fits the wire when both fit one datagram.
 */
export function largestWriteMessages(key: string, value: Uint8Array): [CasMessage, CasMessage] {
  const big = { c: Number.MAX_SAFE_INTEGER, node: "x".repeat(MAX_NODE_NAME_BYTES) };
  const record = { value, leaseMs: CODEC_MAX_LEASE_MS, token: Number.MAX_SAFE_INTEGER };
  return [
    { type: "accept", cfg: 0xffffffff, key, ballot: big, nextC: Number.MAX_SAFE_INTEGER, origin: big, record },
    { type: "promise", accepted: big, record, floor: big, origin: big, lapsed: false },
  ];
}

export function isCasRequest(m: CasMessage): m is CasRequest {
  return m.type === "prepare" || m.type === "peek" || m.type === "accept" || m.type === "probe";
}

export function isCasReply(m: CasMessage): m is CasReply {
  return m.type === "promise" || m.type === "accepted" || m.type === "nack" || m.type === "pong";
}
