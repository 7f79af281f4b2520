// Every CAS message of a write must fit one datagram: the Locker checks the
// largest ones a write can send before it sends anything, so a write that
// cannot fit fails as "invalid" up front instead of mid-round.
import { LockerError } from "../errors.js";
import { largestWriteMessages, type CasMessage } from "../cas/messages.js";
import type { Channel } from "../transport/types.js";

export class WriteSizeCheck {
  /** The largest messages of an empty key and value, encoded once. */
  private readonly emptyWriteBytes: number;

  constructor(private readonly channel: Channel<CasMessage>) {
    this.emptyWriteBytes = this.worstCaseSize("", new Uint8Array(0));
  }

  /** Throws "invalid" when a write of `bytes` under `key` could send a message larger than a datagram. */
  check(key: string, bytes: Uint8Array): void {
    // Most writes are far below the limit: bound their size from the empty
    // key and value's instead of encoding both forms on every operation. The
    // key and the value each appear once, as a CBOR string whose length header
    // grows by at most 8 bytes, and a UTF-16 unit is at most 3 UTF-8 bytes;
    // only a write near the limit is encoded to measure it exactly.
    const limit = this.channel.maxMessageBytes;
    if (this.emptyWriteBytes + 3 * key.length + bytes.length + 16 <= limit) return;
    const size = this.worstCaseSize(key, bytes);
    if (size > limit) {
      throw new LockerError("invalid", `key and value take up to ${size} bytes on the wire; one datagram carries ${limit}`, { size, limit });
    }
  }

  private worstCaseSize(key: string, bytes: Uint8Array): number {
    const [accept, promise] = largestWriteMessages(key, bytes);
    return Math.max(this.channel.encodedSize(accept), this.channel.encodedSize(promise));
  }
}
