// The one CBOR configuration used on the wire. Records (cbor-x's shared
// structure extension) are off: a datagram must decode on its own, and a
// hostile datagram must not be able to plant state in the decoder.
import { Encoder, type Options } from "cbor-x";
import { WireError } from "./errors.js";

const options: Options = {
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  bundleStrings: false,
  tagUint8Array: false,
};

const cbor = new Encoder(options);

export function encodeCbor(value: unknown): Buffer {
  return cbor.encode(value);
}

export function decodeCbor(bytes: Uint8Array): unknown {
  try {
    return cbor.decode(bytes);
  } catch (e) {
    throw new WireError("bad_cbor", `CBOR decode failed: ${(e as Error).message}`);
  }
}

/** Decodes a CBOR sequence (RFC 8742): items back to back. */
export function decodeCborSequence(bytes: Uint8Array): unknown[] {
  try {
    const items = cbor.decodeMultiple(bytes);
    return Array.isArray(items) ? items : [];
  } catch (e) {
    throw new WireError("bad_cbor", `CBOR decode failed: ${(e as Error).message}`);
  }
}
