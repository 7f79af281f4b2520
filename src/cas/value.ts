// Values as canonical CBOR bytes: two values compare equal (for update,
// extendLease, release) exactly when their canonical encodings are equal,
// so plain objects compare by content whatever their key order.
import { Encoder } from "cbor-x";
import { LockerError } from "../errors.js";

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, variableMapSize: true, bundleStrings: false, tagUint8Array: false });

/** Bound on nesting, so a hostile or cyclic value cannot exhaust the stack. */
const MAX_DEPTH = 64;

/** Unpaired UTF-16 surrogates: UTF-8 cannot carry them, so cbor-x would write bytes that decode to U+FFFD. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function wellFormed(s: string): boolean {
  const f = (s as { isWellFormed?: () => boolean }).isWellFormed;
  return f ? f.call(s) : !LONE_SURROGATE.test(s);
}

function checkString(s: string, what: string): string {
  if (!wellFormed(s)) throw new LockerError("invalid", `${what} contains a lone UTF-16 surrogate, which no UTF-8 (CBOR or JSON) text can carry`);
  return s;
}

/**
 * A value as it will be stored: refuses what would not come back unchanged
 * from a canonical CBOR round trip (and through the JSON of the HTTP API),
 * rather than storing something else than what the caller gave:
 * NaN and ±Infinity (JSON has neither: `{"value": 1e400}` parses as Infinity
 * and used to be stored, then read back as null), strings with lone
 * surrogates, invalid dates, symbol-keyed properties and non-plain objects.
 * -0 is stored as 0 (CBOR's shortest form; -0 === 0 and JSON writes "0").
 */
function canonical(v: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new LockerError("invalid", `value nests deeper than ${MAX_DEPTH} levels`);
  if (v === null || typeof v !== "object") {
    if (typeof v === "function" || typeof v === "symbol") throw new LockerError("invalid", `a ${typeof v} is not a CBOR value`);
    if (typeof v === "number") {
      if (Number.isNaN(v)) throw new LockerError("invalid", "value contains NaN, which JSON cannot carry and which equals nothing");
      if (!Number.isFinite(v)) {
        throw new LockerError("invalid", `value contains ${v}: numbers must be finite float64 (a JSON number such as 1e400 is beyond float64 and parses as Infinity)`);
      }
      return Object.is(v, -0) ? 0 : v;
    }
    if (typeof v === "string") return checkString(v, "a string in the value");
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => canonical(x, depth + 1));
  if (v instanceof Uint8Array) return v;
  if (v instanceof Date) {
    if (!Number.isFinite(v.getTime())) throw new LockerError("invalid", "value contains an invalid Date");
    // Dates travel as float seconds (tag 1): far from 1970 the milliseconds no longer fit.
    if ((encoder.decode(encoder.encode(v)) as Date).getTime() !== v.getTime()) {
      throw new LockerError("invalid", `value contains a Date (${v.toISOString()}) that CBOR cannot carry to the millisecond`);
    }
    return v;
  }
  if (v instanceof Map) {
    // Map entries are ordered by their keys' canonical encodings (RFC 8949 §4.2.1: bytewise).
    const entries = [...v.entries()].map(([k, x]) => [canonical(k, depth + 1), canonical(x, depth + 1)] as const);
    entries.sort((a, b) => Buffer.compare(encoder.encode(a[0]), encoder.encode(b[0])));
    return new Map(entries);
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    throw new LockerError("invalid", "values must be plain data (objects, arrays, strings, numbers, booleans, null, bytes, Map, Date)");
  }
  if (Object.getOwnPropertySymbols(v).length > 0) throw new LockerError("invalid", "value has symbol-keyed properties, which CBOR cannot carry");
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[checkString(k, "a property name in the value")] = canonical((v as Record<string, unknown>)[k], depth + 1);
  return out;
}

/** Canonical CBOR bytes of a value; throws LockerError("invalid") for what CBOR cannot carry. */
export function encodeValue(value: unknown): Uint8Array {
  if (value === undefined) throw new LockerError("invalid", "value must not be undefined (absent is not a value)");
  try {
    return Uint8Array.from(encoder.encode(canonical(value, 0)));
  } catch (e) {
    if (e instanceof LockerError) throw e;
    throw new LockerError("invalid", `value cannot be encoded as CBOR: ${(e as Error).message}`);
  }
}

/**
 * The one check of a caller's value (library, HTTP API, CLI): canonical bytes
 * within `maxBytes`, or LockerError("invalid") saying what is wrong. Every
 * entry point should call this rather than encodeValue plus its own size check.
 */
export function validateValue(value: unknown, maxBytes: number, what = "value"): Uint8Array {
  const bytes = encodeValue(value);
  if (bytes.length > maxBytes) throw new LockerError("invalid", `${what} is ${bytes.length} bytes encoded; the limit is ${maxBytes}`);
  return bytes;
}

/**
 * Whether bytes from the wire are a value as encodeValue writes it (canonical
 * CBOR). A record whose value is not cannot be read back: it is refused where
 * it is decoded, so no member (buggy or hostile) can store a lock that makes
 * every later read fail.
 */
export function isCanonicalValue(bytes: Uint8Array): boolean {
  try {
    const again = encodeValue(encoder.decode(bytes));
    return again.length === bytes.length && Buffer.compare(again, bytes) === 0;
  } catch {
    return false;
  }
}

export function decodeValue(bytes: Uint8Array): unknown {
  return encoder.decode(bytes);
}
