// The forward channel's messages: a node hands a key's operation to the key's
// coordinator and gets its answer back. Arrays, not maps (small datagrams);
// every field is checked and bounded on decode.
import { MAX_BALLOT_COUNTER } from "../../cas/ballot.js";
import { CODEC_MAX_KEY_BYTES, CODEC_MAX_LEASE_MS, CODEC_MAX_VALUE_BYTES } from "../../cas/messages.js";
import { LOCKER_ERROR_CODES, type LockerErrorCode } from "../../errors.js";
import type { MessageCodec } from "../../transport/types.js";
import { asArray, asBytes, asOneOf, asString, asUint } from "../../wire/validate.js";

export const FORWARD_OPS = ["lock", "update", "extend", "release", "read"] as const;
export type ForwardOp = (typeof FORWARD_OPS)[number];

/** Longest budget a coordinator accepts for a forwarded operation (the Locker's maxTimeoutMs default). */
export const MAX_FORWARD_BUDGET_MS = 120_000;
/** Error messages are cut here on encode and refused beyond it on decode. */
export const MAX_ERROR_MESSAGE_BYTES = 512;
/** safeSpanMs covers a lease plus the time the operation waited at the coordinator. */
const MAX_SAFE_SPAN_MS = CODEC_MAX_LEASE_MS + MAX_FORWARD_BUDGET_MS;

export interface ForwardRequest {
  type: "op";
  op: ForwardOp;
  key: string;
  /** The coordinator's budget for the whole operation. */
  budgetMs: number;
  /** Encoded value (lock, extend, release: the holder's; update: the new one). */
  value: Uint8Array | null;
  /** update: the encoded expected value. */
  expected: Uint8Array | null;
  /** lock, extend. */
  leaseMs: number;
  /**
   * The highest ballot counter the coordinator may use for this operation.
   * If the forward goes unanswered, the forwarder runs the operation itself
   * with ballots above it, so a copy still queued or running at the
   * coordinator can never be chosen after the forwarder's own round.
   */
  ballotCap: number;
}

export interface ForwardOk {
  type: "ok";
  /** Fencing token (0 for release, and for a read of an absent key). */
  token: number;
  leaseRemainingMs: number;
  /**
   * lock, extend: the coordinator's safeUntil minus the moment it received the
   * request. The forwarder adds it to its own send time, which is earlier than
   * the round's start: its safe window ends no later than the coordinator's.
   */
  safeSpanMs: number;
  /** read: the encoded value, or null when absent. Other ops return null (the forwarder knows the value). */
  value: Uint8Array | null;
}

export interface ForwardError {
  type: "error";
  code: LockerErrorCode;
  message: string;
}

/** The coordinator did not run the operation (over its bound on forwarded operations): the forwarder may run it itself. */
export interface ForwardRefused {
  type: "refused";
  message: string;
}

export type ForwardMessage = ForwardRequest | ForwardOk | ForwardError | ForwardRefused;

const TAG = { op: 0, ok: 1, error: 2, refused: 3 } as const;

const cut = (s: string): string => (Buffer.byteLength(s) <= MAX_ERROR_MESSAGE_BYTES ? s : Buffer.from(s).subarray(0, MAX_ERROR_MESSAGE_BYTES - 3).toString("utf8").replace(/\uFFFD$/, "") + "…");

const bytesOrNull = (v: unknown, what: string): Uint8Array | null => (v === null ? null : asBytes(v, what, CODEC_MAX_VALUE_BYTES));

export const forwardCodec: MessageCodec<ForwardMessage> = {
  encode(m) {
    switch (m.type) {
      case "op":
        return [TAG.op, FORWARD_OPS.indexOf(m.op), m.key, m.budgetMs, m.value, m.expected, m.leaseMs, m.ballotCap];
      case "ok":
        return [TAG.ok, m.token, m.leaseRemainingMs, m.safeSpanMs, m.value];
      case "error":
        return [TAG.error, m.code, cut(m.message)];
      case "refused":
        return [TAG.refused, cut(m.message)];
    }
  },
  decode(raw) {
    const a = asArray(raw, "forward message", 2, 8);
    const tag = asUint(a[0], "forward tag", 3);
    if (tag === TAG.op) {
      if (a.length !== 8) throw new Error("forward op: expected 8 fields");
      const op = FORWARD_OPS[asUint(a[1], "forward op", FORWARD_OPS.length - 1)]!;
      const key = asString(a[2], "forward key", CODEC_MAX_KEY_BYTES);
      if (key.length === 0) throw new Error("forward key: empty");
      const budgetMs = asUint(a[3], "forward budgetMs", MAX_FORWARD_BUDGET_MS);
      if (budgetMs === 0) throw new Error("forward budgetMs: 0");
      const value = bytesOrNull(a[4], "forward value");
      const expected = bytesOrNull(a[5], "forward expected");
      const leaseMs = asUint(a[6], "forward leaseMs", CODEC_MAX_LEASE_MS);
      const ballotCap = asUint(a[7], "forward ballotCap", MAX_BALLOT_COUNTER);
      // Each operation carries exactly the fields it needs: a request that does not is refused, not guessed at.
      const needsValue = op !== "read";
      if (needsValue !== (value !== null)) throw new Error(`forward ${op}: value ${needsValue ? "missing" : "unexpected"}`);
      if ((op === "update") !== (expected !== null)) throw new Error(`forward ${op}: expected ${op === "update" ? "missing" : "unexpected"}`);
      if ((op === "lock" || op === "extend") !== leaseMs > 0) throw new Error(`forward ${op}: leaseMs ${leaseMs > 0 ? "unexpected" : "missing"}`);
      return { type: "op", op, key, budgetMs, value, expected, leaseMs, ballotCap };
    }
    if (tag === TAG.ok) {
      if (a.length !== 5) throw new Error("forward ok: expected 5 fields");
      return {
        type: "ok",
        token: asUint(a[1], "forward token"),
        leaseRemainingMs: asUint(a[2], "forward leaseRemainingMs", CODEC_MAX_LEASE_MS),
        safeSpanMs: asUint(a[3], "forward safeSpanMs", MAX_SAFE_SPAN_MS),
        value: bytesOrNull(a[4], "forward value"),
      };
    }
    if (tag === TAG.error) {
      if (a.length !== 3) throw new Error("forward error: expected 3 fields");
      return { type: "error", code: asOneOf(a[1], LOCKER_ERROR_CODES, "forward error code"), message: asString(a[2], "forward error message", MAX_ERROR_MESSAGE_BYTES) };
    }
    if (a.length !== 2) throw new Error("forward refused: expected 2 fields");
    return { type: "refused", message: asString(a[1], "forward refused message", MAX_ERROR_MESSAGE_BYTES) };
  },
};
