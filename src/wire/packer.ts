// Fills datagrams with encoded frames up to the size cap. Nothing larger than
// the cap ever leaves: an oversized frame is refused with a clear error.
import { LockerError } from "../errors.js";

export interface PackedBody {
  body: Buffer;
  frameCount: number;
}

/**
 * Groups frames (already CBOR-encoded) into bodies of at most `maxBodyBytes`,
 * keeping their order.
 */
export function packFrames(frames: readonly Uint8Array[], maxBodyBytes: number): PackedBody[] {
  const out: PackedBody[] = [];
  let current: Uint8Array[] = [];
  let size = 0;
  const flush = (): void => {
    if (current.length === 0) return;
    out.push({ body: current.length === 1 ? Buffer.from(current[0]!) : Buffer.concat(current, size), frameCount: current.length });
    current = [];
    size = 0;
  };
  for (const f of frames) {
    if (f.length > maxBodyBytes) {
      throw new LockerError("invalid", `message of ${f.length} bytes exceeds the datagram body limit of ${maxBodyBytes} bytes`);
    }
    if (size + f.length > maxBodyBytes) flush();
    current.push(f);
    size += f.length;
  }
  flush();
  return out;
}

/** Splits bytes into chunks of at most `chunkBytes` (for state transfers that exceed one datagram). */
export function chunkBytes(bytes: Uint8Array, chunkSize: number): Uint8Array[] {
  if (chunkSize <= 0) throw new RangeError("chunk size must be positive");
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, Math.min(bytes.length, i + chunkSize)));
  if (chunks.length === 0) chunks.push(new Uint8Array(0));
  return chunks;
}
