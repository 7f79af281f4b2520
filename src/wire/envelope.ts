// The datagram envelope: magic, protocol version, flags and cluster label in
// front of a body that is a CBOR sequence of frames, optionally sealed.
//
// Plain (protocol version 1, unchanged):
//   0      2         3       4             5          5+L
//   | "LK" | version | flags | labelLength | label... | body...
// Sealed (protocol version 2: adds the replay stamp, authenticated with the header):
//   | "LK" | 2 | flags | L | label | bootId(8) | seq(8) | wallMs(8) | destBootId(8) | nonce(12) | ciphertext | tag(16)
//
// What a replayed sealed datagram could do, per message type, and why it now cannot.
// A replay is a datagram captured on the wire and sent again, unchanged (a
// changed one does not authenticate). Every sealed datagram carries
// (bootId, seq, wallMs) in the authenticated data: the receiver refuses a
// (bootId, seq) it accepted before (ReplayGuard's sliding window), and any
// stamp whose wallMs is more than the clock window (120 s) away from its own
// wall clock, so a capture is useless once it is older than that, whatever
// the receiver forgot (a restart, an LRU eviction). The stamp also names the
// boot id of the node it is addressed to, as the sender last heard it from
// that address (zeros before it heard anything): a datagram captured on its
// way to node A and replayed to node B, which knows A's boot id, is refused
// too (B has its own window for the sender, in which A's sequence numbers
// look new). The protocols were already
// safe under duplicated and delayed datagrams (the network's own faults);
// replays were the one way to do it on purpose, at any time, as often as wanted:
// - CAS prepare / accept / peek / probe: Paxos tolerates duplicates, but a
//   replayed accept from an earlier round could be re-taken by an acceptor
//   that forgot the key (after GC, or after a restart past its quiet period),
//   and replayed prepares bump promises and make a live holder's release lose
//   rounds (`contention`); each also costs the acceptor a key slot. Now
//   refused before decode.
// - CAS replies (promise, accepted, nack): the transport already drops a reply
//   whose request id is not pending; a replay could answer a later request
//   that reused the id after a wrap. Now refused.
// - Membership (ping, ack, alive/suspect/dead gossip, push-pull, leave): a
//   replayed `leave` or `dead` of the current incarnation could take a member
//   out again after it rejoined, an old ack could mask a failed probe, and a
//   replayed push-pull re-introduces members that left. Now refused.
// - Replication push / page / cfg: old changes are ordered by ballot and old
//   configurations by version, so state cannot go back; but a replayed `cfg`
//   activation or snapshot request is re-executed (work and reflected
//   traffic at the original sender). Now refused.
// - Read-only requests (keys, snapshot, peek, cfgGet): answers are sealed to
//   the key holders, but a replay aims the (large) answers at the original
//   sender: an amplifier. Now refused.
// What is left: a receiver that restarted accepts a capture younger than the
// clock window once per (bootId, seq), which is what the network's own
// duplication and delay already do and every protocol above tolerates.
// Plain (unsealed) datagrams have no protection at all: any host on the
// network can forge them, let alone replay them. Seal on any shared network.
import { BoundedMap } from "../util/bounded-map.js";
import { randomBytes } from "node:crypto";
import { WireError } from "./errors.js";
import { Keyring, SEAL_CIPHER_OVERHEAD_BYTES } from "./keyring.js";
import { DEFAULT_SEAL_CLOCK_WINDOW_MS, readUint53, ReplayGuard, ReplayStamper, type ReplayStamp } from "./replay.js";

export const MAGIC_0 = 0x4c; // 'L'
export const MAGIC_1 = 0x4b; // 'K'
/** Version of plain datagrams: unchanged, so plain clusters of old and new nodes still talk. */
export const PLAIN_PROTOCOL_VERSION = 1;
/** Version of sealed datagrams: 2 added the replay stamp (a version-1 sealed datagram is refused). */
export const SEALED_PROTOCOL_VERSION = 2;
/** The newest version this build speaks. */
export const PROTOCOL_VERSION = SEALED_PROTOCOL_VERSION;
export const FLAG_SEALED = 0x01;
export const FLAG_COMPOUND = 0x02;
const KNOWN_FLAGS = FLAG_SEALED | FLAG_COMPOUND;
export const MAX_CLUSTER_LABEL_BYTES = 64;
export const DEFAULT_MAX_DATAGRAM_BYTES = 1400;
/** Below this a datagram cannot hold a useful frame; refuse such a configuration. */
export const MIN_MAX_DATAGRAM_BYTES = 256;
/** bootId(8) ‖ seq(8) ‖ wallMs(8) ‖ destBootId(8). */
export const REPLAY_STAMP_BYTES = 32;
/** Bound on the peers (address → boot id) an envelope remembers for addressing its stamps. */
export const MAX_PEER_BOOT_IDS = 4096;
const NO_BOOT_ID = "0000000000000000";
/** Bytes sealing adds to a datagram: the replay stamp and the cipher's nonce and tag. */
export const SEAL_OVERHEAD_BYTES = REPLAY_STAMP_BYTES + SEAL_CIPHER_OVERHEAD_BYTES;

export interface EnvelopeOptions {
  /** Datagrams from another cluster label are dropped (and counted): two clusters can share a LAN. */
  clusterLabel?: string;
  /** When set, every datagram is sealed and unsealed ones are refused. Read on every datagram: change it at will. */
  keyring?: Keyring;
  /** Wall clock for replay stamps (ms since the epoch). Default Date.now; the transport passes its Clock's. */
  wallNow?: () => number;
  /** Largest accepted difference between a sealed datagram's stamp and `wallNow()`. Default 120 s. */
  clockWindowMs?: number;
  /** Source of boot ids (8 bytes). Default crypto random; tests may pass a seeded one. */
  bootId?: () => Buffer;
}

/** Encodes and checks envelopes for one node's configuration. */
export class Envelope {
  readonly label: Buffer;
  private readonly headerPlain: Buffer;
  private readonly headerCompound: Buffer;
  readonly keyring: Keyring | undefined;
  private readonly wallNow: () => number;
  private readonly stamper: ReplayStamper | undefined;
  private readonly guard: ReplayGuard | undefined;
  /** The replay stamp of the last datagram `unwrap` returned (undefined for plain ones); for tests and logs. */
  lastStamp: ReplayStamp | undefined;
  /** Boot id (hex) each peer address last sealed a datagram with, in recency order (bounded LRU). */
  private readonly peerBootIds = new BoundedMap<string, string>(MAX_PEER_BOOT_IDS);

  constructor(options: EnvelopeOptions = {}) {
    this.label = Buffer.from(options.clusterLabel ?? "", "utf8");
    if (this.label.length > MAX_CLUSTER_LABEL_BYTES) {
      throw new Error(`cluster label is ${this.label.length} bytes; the limit is ${MAX_CLUSTER_LABEL_BYTES}`);
    }
    this.keyring = options.keyring;
    this.wallNow = options.wallNow ?? Date.now;
    const sealed = this.keyring ? FLAG_SEALED : 0;
    const version = this.keyring ? SEALED_PROTOCOL_VERSION : PLAIN_PROTOCOL_VERSION;
    this.headerPlain = this.header(version, sealed);
    this.headerCompound = this.header(version, sealed | FLAG_COMPOUND);
    if (this.keyring) {
      this.stamper = new ReplayStamper(options.bootId ?? (() => randomBytes(8)));
      this.guard = new ReplayGuard(options.clockWindowMs ?? DEFAULT_SEAL_CLOCK_WINDOW_MS);
    }
  }

  private header(version: number, flags: number): Buffer {
    const h = Buffer.allocUnsafe(5 + this.label.length);
    h[0] = MAGIC_0;
    h[1] = MAGIC_1;
    h[2] = version;
    h[3] = flags;
    h[4] = this.label.length;
    this.label.copy(h, 5);
    return h;
  }

  /** Bytes the envelope adds around a body. */
  get overheadBytes(): number {
    return this.headerPlain.length + (this.keyring ? SEAL_OVERHEAD_BYTES : 0);
  }

  /** Senders whose replay windows this envelope keeps (bounded). */
  get trackedSenders(): number {
    return this.guard?.size ?? 0;
  }

  /** This envelope's boot id (hex) when it seals; undefined in plain mode. */
  get bootId(): string | undefined {
    return this.stamper?.bootId;
  }

  /** Wraps a body (a CBOR sequence of `frameCount` frames) for the peer at `to` (names its boot id in the stamp when known). */
  wrap(body: Uint8Array, frameCount: number, to?: string): Buffer {
    const header = frameCount > 1 ? this.headerCompound : this.headerPlain;
    if (!this.keyring) return Buffer.concat([header, body]);
    const aad = Buffer.allocUnsafe(header.length + REPLAY_STAMP_BYTES);
    header.copy(aad, 0);
    this.stamper!.stamp(aad, header.length, this.wallNow());
    aad.write((to !== undefined && this.peerBootIds.get(to)) || NO_BOOT_ID, header.length + 24, "hex");
    return Buffer.concat([aad, this.keyring.seal(aad, body)]);
  }

  /** Checks the envelope and returns the body; throws WireError with the drop reason. `from`: the sender's address, learnt for addressing replies. */
  unwrap(datagram: Uint8Array, from?: string): Uint8Array {
    this.lastStamp = undefined;
    if (datagram.length < 5) throw new WireError("too_short", "datagram shorter than the envelope header");
    if (datagram[0] !== MAGIC_0 || datagram[1] !== MAGIC_1) throw new WireError("bad_magic", "not a locker datagram");
    const version = datagram[2];
    if (version !== PLAIN_PROTOCOL_VERSION && version !== SEALED_PROTOCOL_VERSION) throw new WireError("bad_version", `protocol version ${version} not supported`);
    const flags = datagram[3]!;
    if ((flags & ~KNOWN_FLAGS) !== 0) throw new WireError("bad_version", `unknown flags 0x${flags.toString(16)}`);
    const labelLength = datagram[4]!;
    const headerEnd = 5 + labelLength;
    if (datagram.length < headerEnd) throw new WireError("too_short", "datagram shorter than its label");
    const label = datagram.subarray(5, headerEnd);
    if (!this.label.equals(label)) throw new WireError("bad_label", "datagram from another cluster label");
    const sealed = (flags & FLAG_SEALED) !== 0;
    if (sealed !== (version === SEALED_PROTOCOL_VERSION)) throw new WireError("bad_version", `protocol version ${version} with sealed=${sealed}`);
    const keyring = this.keyring;
    if (!keyring) {
      if (sealed) throw new WireError("bad_seal", "sealed datagram but this node has no keyring");
      return datagram.subarray(headerEnd);
    }
    if (!sealed) throw new WireError("not_sealed", "unsealed datagram refused: this node requires encryption");
    const aadEnd = headerEnd + REPLAY_STAMP_BYTES;
    if (datagram.length < aadEnd + SEAL_CIPHER_OVERHEAD_BYTES) throw new WireError("too_short", "sealed datagram shorter than its seal");
    const seq = readUint53(datagram, headerEnd + 8);
    const wallMs = readUint53(datagram, headerEnd + 16);
    if (seq === undefined || seq === 0 || wallMs === undefined) throw new WireError("bad_seal", "replay stamp out of range");
    const stamp: ReplayStamp = { bootId: Buffer.from(datagram.buffer, datagram.byteOffset + headerEnd, 8).toString("hex"), seq, wallMs };
    const now = this.wallNow();
    // Checked before the (costlier) decryption, committed only after it: a
    // forgery can neither move a window nor take an LRU slot.
    const before = this.guard!.check(stamp, now);
    if (before !== "ok") throw new WireError(before, before === "replayed" ? "replayed sealed datagram" : "sealed datagram outside the clock window");
    // Addressed to another node we know (not to us, not "unknown", not our own
    // previous life, which we cannot know): a replay aimed at the wrong receiver.
    const dest = Buffer.from(datagram.buffer, datagram.byteOffset + headerEnd + 24, 8).toString("hex");
    if (dest !== NO_BOOT_ID && dest !== this.stamper!.bootId && this.guard!.knows(dest)) {
      throw new WireError("replayed", "sealed datagram addressed to another node");
    }
    const body = keyring.open(datagram.subarray(0, aadEnd), datagram.subarray(aadEnd));
    const verdict = this.guard!.commit(stamp, now);
    if (verdict !== "ok") throw new WireError(verdict, "replayed sealed datagram");
    this.lastStamp = stamp;
    if (from !== undefined && this.peerBootIds.get(from) !== stamp.bootId) {
      this.peerBootIds.set(from, stamp.bootId);
    }
    return body;
  }
}
