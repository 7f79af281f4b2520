// Zero-config discovery on a LAN: an optional UDP multicast beacon that
// announces "cluster label, node name, gossip address" and reports the
// beacons of other nodes with the same label, to feed SWIM's join seeds.
// Beacons of other labels, of this node, and malformed datagrams are ignored
// (and counted). It decides nothing: a beacon only suggests an address to
// join, and the join itself is authenticated by the transport.
// With a keyring, beacons are sealed like every datagram (the transport's
// envelope: AES-256-GCM, replay stamp, clock window) and plain ones refused:
// otherwise anyone on the LAN could steer every starting node's joins to an
// address of their choosing, and learn member names and addresses.
import dgram from "node:dgram";
import { isIPv4 } from "node:net";
import { LockerError } from "../errors.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import type { Random } from "../util/random.js";
import { decodeCbor, encodeCbor } from "../wire/cbor.js";
import { Envelope } from "../wire/envelope.js";
import { WireError } from "../wire/errors.js";
import type { Keyring } from "../wire/keyring.js";

export const DEFAULT_MULTICAST_GROUP = "239.255.76.75";
export const DEFAULT_MULTICAST_PORT = 7947;
/** Plain beacons: magic then CBOR [label, name, address]. */
const MAGIC = Buffer.from("LKB1", "ascii");
/** Sealed beacons: magic then a sealed envelope (label in its header) around the same CBOR. */
const MAGIC_SEALED = Buffer.from("LKB2", "ascii");
/** Beacons are tiny; anything larger is not one. */
const MAX_BEACON_BYTES = 512;

export interface BeaconOptions {
  /** Cluster label; only beacons with the same label are reported. */
  clusterLabel: string;
  /** This node's name (its own beacons are ignored). */
  name: string;
  /** The gossip address others should join ("host:port"). */
  address: string;
  clock: Clock;
  random: Random;
  group?: string;
  port?: number;
  /**
   * IPv4 address of the interface to join the group on and send beacons from
   * (default: the OS's choice, which needs a route to the group — often the
   * default route). Set it on hosts with a multicast route but no default route.
   */
  interfaceAddress?: string;
  /** When set, beacons are sealed with it and unsealed beacons are refused. Read on every beacon: rotate at will. */
  keyring?: Keyring;
  /** Time between beacons (±20% jitter). Default 1000 ms. */
  intervalMs?: number;
  /** Hop limit of beacons. Default 1 (the local network only). */
  ttl?: number;
  /** Called for each beacon of another node with the same label. */
  onPeer: (peer: { name: string; address: string }) => void;
}

export interface BeaconStats {
  sent: number;
  received: number;
  /** Beacons with another label. */
  otherLabel: number;
  /** Datagrams that are not beacons or are malformed. */
  malformed: number;
  sendErrors: number;
  /** Plain beacons refused because this node has a keyring. */
  unsealed: number;
  /** Sealed beacons refused: no keyring here, no key opens them, or a bad stamp. */
  badSeal: number;
  /** Sealed beacons refused as replays, or as outside the clock window. */
  replayed: number;
}

export class MulticastBeacon {
  readonly stats: BeaconStats = { sent: 0, received: 0, otherLabel: 0, malformed: 0, sendErrors: 0, unsealed: 0, badSeal: 0, replayed: 0 };
  private timer: TimerHandle | undefined;
  private closed = false;
  /** The plain payload, or for sealed beacons the CBOR body sealed afresh for each send (a new stamp each time). */
  private readonly payload: Buffer;
  private readonly body: Buffer;
  private readonly envelope: Envelope | undefined;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly o: BeaconOptions,
    private readonly group: string,
    private readonly port: number,
  ) {
    this.body = encodeCbor([o.clusterLabel, o.name, o.address]);
    this.payload = Buffer.concat([MAGIC, this.body]);
    this.envelope = o.keyring ? new Envelope({ clusterLabel: o.clusterLabel, keyring: o.keyring, wallNow: () => o.clock.wallNow() }) : undefined;
    if (this.nextPayload().length > MAX_BEACON_BYTES) throw new LockerError("invalid", "beacon too large: shorten the name, label or address");
    socket.on("message", (msg) => this.receive(msg));
    // A socket error (e.g. no multicast route) must never crash the node.
    socket.on("error", () => this.stats.sendErrors++);
  }

  /** Binds the group port, joins the group and starts beaconing. */
  static async start(o: BeaconOptions): Promise<MulticastBeacon> {
    const group = o.group ?? DEFAULT_MULTICAST_GROUP;
    const port = o.port ?? DEFAULT_MULTICAST_PORT;
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new LockerError("invalid", `bad multicast port ${port}`);
    if (!isIPv4(group)) throw new LockerError("invalid", `bad multicast group "${group}": expected an IPv4 address`);
    if (o.interfaceAddress !== undefined && !isIPv4(o.interfaceAddress)) {
      throw new LockerError("invalid", `bad multicast interface address "${o.interfaceAddress}": expected this host's IPv4 address on that interface`);
    }
    if (o.keyring && Buffer.byteLength(o.clusterLabel) > 64) throw new LockerError("invalid", "cluster label over 64 bytes");
    const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(new LockerError("unavailable", `cannot bind multicast port ${port}: ${e.message}`));
      socket.once("error", onError);
      socket.bind(port, () => {
        socket.off("error", onError);
        resolve();
      });
    });
    try {
      // Joined and sent on the given interface: without setMulticastInterface
      // the kernel picks the outgoing interface from the routing table, and on
      // a host with no default route (only 224.0.0.0/4 on one link) a send
      // either fails (ENETUNREACH) or leaves by another link.
      socket.addMembership(group, o.interfaceAddress);
      socket.setMulticastTTL(o.ttl ?? 1);
      socket.setMulticastLoopback(true);
      if (o.interfaceAddress) socket.setMulticastInterface(o.interfaceAddress);
    } catch (e) {
      socket.close();
      throw new LockerError("unavailable", `cannot join multicast group ${group}${o.interfaceAddress ? ` on ${o.interfaceAddress}` : ""}: ${(e as Error).message}`);
    }
    let b: MulticastBeacon;
    try {
      b = new MulticastBeacon(socket, o, group, port);
    } catch (e) {
      socket.close();
      throw e;
    }
    b.beacon();
    return b;
  }

  /** Sends one beacon now and schedules the next. */
  private beacon(): void {
    if (this.closed) return;
    let payload: Buffer | undefined;
    try {
      payload = this.nextPayload();
    } catch {
      this.stats.sendErrors++; // sealing failed: never crash the node for a beacon
    }
    if (payload) {
      this.socket.send(payload, this.port, this.group, (err) => {
        if (err) this.stats.sendErrors++;
        else this.stats.sent++;
      });
    }
    const interval = this.o.intervalMs ?? 1000;
    // Jitter keeps a fleet that boots together from beaconing in lockstep.
    this.timer = this.o.clock.setTimer(interval * (0.8 + 0.4 * this.o.random.next()), () => this.beacon());
  }

  private nextPayload(): Buffer {
    return this.envelope ? Buffer.concat([MAGIC_SEALED, this.envelope.wrap(this.body, 1)]) : this.payload;
  }

  private receive(msg: Buffer): void {
    if (this.closed) return;
    if (msg.length > MAX_BEACON_BYTES || msg.length <= MAGIC.length) {
      this.stats.malformed++;
      return;
    }
    const magic = msg.subarray(0, MAGIC.length);
    const sealed = magic.equals(MAGIC_SEALED);
    if (!sealed && !magic.equals(MAGIC)) {
      this.stats.malformed++;
      return;
    }
    let cbor: Uint8Array = msg.subarray(MAGIC.length);
    if (this.envelope) {
      if (!sealed) {
        this.stats.unsealed++;
        return;
      }
      try {
        cbor = this.envelope.unwrap(cbor);
      } catch (e) {
        const reason = e instanceof WireError ? e.reason : "bad_seal";
        if (reason === "bad_label") this.stats.otherLabel++;
        else if (reason === "replayed" || reason === "clock_skew") this.stats.replayed++;
        else this.stats.badSeal++;
        return;
      }
    } else if (sealed) {
      this.stats.badSeal++;
      return;
    }
    let body: unknown;
    try {
      body = decodeCbor(cbor);
    } catch {
      this.stats.malformed++;
      return;
    }
    // Shape: [label, name, address]; the label may be empty (the default cluster), the others not.
    const ok = (x: unknown, min: number): x is string => typeof x === "string" && x.length >= min && Buffer.byteLength(x) <= 256;
    if (!Array.isArray(body) || body.length !== 3 || !ok(body[0], 0) || !ok(body[1], 1) || !ok(body[2], 1)) {
      this.stats.malformed++;
      return;
    }
    const [label, name, address] = body as [string, string, string];
    if (label !== this.o.clusterLabel) {
      this.stats.otherLabel++;
      return;
    }
    this.stats.received++;
    if (name === this.o.name) return;
    this.o.onPeer({ name, address });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.o.clock.clearTimer(this.timer);
    return new Promise((resolve) => {
      try {
        this.socket.dropMembership(this.group, this.o.interfaceAddress);
      } catch {
        // already gone
      }
      this.socket.close(() => resolve());
    });
  }
}
