// The datagram envelope: magic, protocol version, flags and cluster label in
// front of a body that is a CBOR sequence of frames, optionally sealed.
//
//   0      2        3      4            5          5+L
//   | "LK" | version | flags | labelLength | label... | body...
import { WireError } from "./errors.js";
import { Keyring, SEAL_OVERHEAD_BYTES } from "./keyring.js";

export const MAGIC_0 = 0x4c; // 'L'
export const MAGIC_1 = 0x4b; // 'K'
export const PROTOCOL_VERSION = 1;
export const FLAG_SEALED = 0x01;
export const FLAG_COMPOUND = 0x02;
const KNOWN_FLAGS = FLAG_SEALED | FLAG_COMPOUND;
export const MAX_CLUSTER_LABEL_BYTES = 64;
export const DEFAULT_MAX_DATAGRAM_BYTES = 1400;
/** Below this a datagram cannot hold a useful frame; refuse such a configuration. */
export const MIN_MAX_DATAGRAM_BYTES = 256;

export interface EnvelopeOptions {
  /** Datagrams from another cluster label are dropped (and counted): two clusters can share a LAN. */
  clusterLabel?: string;
  /** When set, every datagram is sealed and unsealed ones are refused. */
  keyring?: Keyring;
}

/** Encodes and checks envelopes for one node's configuration. */
export class Envelope {
  readonly label: Buffer;
  private readonly headerPlain: Buffer;
  private readonly headerCompound: Buffer;
  readonly keyring: Keyring | undefined;

  constructor(options: EnvelopeOptions = {}) {
    this.label = Buffer.from(options.clusterLabel ?? "", "utf8");
    if (this.label.length > MAX_CLUSTER_LABEL_BYTES) {
      throw new Error(`cluster label is ${this.label.length} bytes; the limit is ${MAX_CLUSTER_LABEL_BYTES}`);
    }
    this.keyring = options.keyring;
    const sealed = this.keyring ? FLAG_SEALED : 0;
    this.headerPlain = this.header(sealed);
    this.headerCompound = this.header(sealed | FLAG_COMPOUND);
  }

  private header(flags: number): Buffer {
    const h = Buffer.allocUnsafe(5 + this.label.length);
    h[0] = MAGIC_0;
    h[1] = MAGIC_1;
    h[2] = PROTOCOL_VERSION;
    h[3] = flags;
    h[4] = this.label.length;
    this.label.copy(h, 5);
    return h;
  }

  /** Bytes the envelope adds around a body. */
  get overheadBytes(): number {
    return this.headerPlain.length + (this.keyring ? SEAL_OVERHEAD_BYTES : 0);
  }

  /** Wraps a body (a CBOR sequence of `frameCount` frames). */
  wrap(body: Uint8Array, frameCount: number): Buffer {
    const header = frameCount > 1 ? this.headerCompound : this.headerPlain;
    if (this.keyring) return Buffer.concat([header, this.keyring.seal(header, body)]);
    return Buffer.concat([header, body]);
  }

  /** Checks the envelope and returns the body; throws WireError with the drop reason. */
  unwrap(datagram: Uint8Array): Uint8Array {
    if (datagram.length < 5) throw new WireError("too_short", "datagram shorter than the envelope header");
    if (datagram[0] !== MAGIC_0 || datagram[1] !== MAGIC_1) throw new WireError("bad_magic", "not a locker datagram");
    if (datagram[2] !== PROTOCOL_VERSION) throw new WireError("bad_version", `protocol version ${datagram[2]} not supported`);
    const flags = datagram[3]!;
    if ((flags & ~KNOWN_FLAGS) !== 0) throw new WireError("bad_version", `unknown flags 0x${flags.toString(16)}`);
    const labelLength = datagram[4]!;
    const bodyStart = 5 + labelLength;
    if (datagram.length < bodyStart) throw new WireError("too_short", "datagram shorter than its label");
    const label = datagram.subarray(5, bodyStart);
    if (!this.label.equals(label)) throw new WireError("bad_label", "datagram from another cluster label");
    const body = datagram.subarray(bodyStart);
    const sealed = (flags & FLAG_SEALED) !== 0;
    if (this.keyring) {
      if (!sealed) throw new WireError("not_sealed", "unsealed datagram refused: this node requires encryption");
      return this.keyring.open(datagram.subarray(0, bodyStart), body);
    }
    if (sealed) throw new WireError("bad_seal", "sealed datagram but this node has no keyring");
    return body;
  }
}
