// Small shape checks for message decoders: each throws WireError("bad_message")
// so a codec reads like a schema and never trusts a field it has not checked.
import { WireError } from "./errors.js";

function fail(what: string): never {
  throw new WireError("bad_message", what);
}

/** Default bound on decoded array lengths: no datagram holds more items than bytes. */
export const MAX_DECODED_ARRAY_LENGTH = 65_535;
/** Default range of asBigint: int64 / uint64, what CBOR's major types 0 and 1 carry without a bignum tag. */
export const MIN_DECODED_BIGINT = -(2n ** 63n);
export const MAX_DECODED_BIGINT = 2n ** 64n - 1n;

export function asArray(v: unknown, what: string, minLength = 0, maxLength = MAX_DECODED_ARRAY_LENGTH): unknown[] {
  if (!Array.isArray(v) || v.length < minLength || v.length > maxLength) fail(`${what}: expected an array of ${minLength}..${maxLength}`);
  return v;
}

export function asUint(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) fail(`${what}: expected an integer in 0..${max}`);
  return v;
}

export function asNumber(v: unknown, what: string, min = -Number.MAX_VALUE, max = Number.MAX_VALUE): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) fail(`${what}: expected a finite number in ${min}..${max}`);
  return v;
}

export function asString(v: unknown, what: string, maxBytes = 65535): string {
  if (typeof v !== "string" || Buffer.byteLength(v) > maxBytes) fail(`${what}: expected a string of at most ${maxBytes} bytes`);
  return v;
}

export function asBytes(v: unknown, what: string, maxBytes = 65535): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length > maxBytes) fail(`${what}: expected bytes (at most ${maxBytes})`);
  return v;
}

export function asBoolean(v: unknown, what: string): boolean {
  if (typeof v !== "boolean") fail(`${what}: expected a boolean`);
  return v;
}

/** A bigint, or a safe integer (CBOR encodes small bigints as plain integers), within [min, max]. */
export function asBigint(v: unknown, what: string, min = MIN_DECODED_BIGINT, max = MAX_DECODED_BIGINT): bigint {
  let b: bigint | undefined;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
  if (b === undefined || b < min || b > max) fail(`${what}: expected an integer in ${min}..${max}`);
  return b;
}

export function asOneOf<T extends string | number>(v: unknown, allowed: readonly T[], what: string): T {
  if (!allowed.includes(v as T)) fail(`${what}: expected one of ${allowed.join(", ")}`);
  return v as T;
}
