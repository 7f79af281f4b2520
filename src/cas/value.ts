// Values as canonical CBOR bytes: two values compare equal (for update,
// extendLease, release) exactly when their canonical encodings are equal,
// so plain objects compare by content whatever their key order.
import { Encoder } from "cbor-x";
import { LockerError } from "../errors.js";

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, variableMapSize: true, bundleStrings: false, tagUint8Array: false });

/** Bound on nesting, so a hostile or cyclic value cannot exhaust the stack. */
const MAX_DEPTH = 64;

function canonical(v: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new LockerError("invalid", `value nests deeper than ${MAX_DEPTH} levels`);
  if (v === null || typeof v !== "object") {
    if (typeof v === "function" || typeof v === "symbol") throw new LockerError("invalid", `a ${typeof v} is not a CBOR value`);
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => canonical(x, depth + 1));
  if (v instanceof Uint8Array || v instanceof Date) return v;
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
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = canonical((v as Record<string, unknown>)[k], depth + 1);
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

export function decodeValue(bytes: Uint8Array): unknown {
  return encoder.decode(bytes);
}
