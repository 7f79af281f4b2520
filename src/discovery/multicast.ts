// Zero-config discovery on a LAN: an optional UDP multicast beacon that
// announces "cluster label, node name, gossip address" and reports the
// beacons of other nodes with the same label, to feed SWIM's join seeds.
// Beacons of other labels, of this node, and malformed datagrams are ignored
// (and counted). It carries no secrets and decides nothing: a beacon only
// suggests an address to join, and the join itself is authenticated by the
// transport (cluster label, optional keyring).
import dgram from "node:dgram";
import { LockerError } from "../errors.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import type { Random } from "../util/random.js";
import { decodeCbor, encodeCbor } from "../wire/cbor.js";

export const DEFAULT_MULTICAST_GROUP = "239.255.76.75";
export const DEFAULT_MULTICAST_PORT = 7947;
const MAGIC = Buffer.from("LKB1", "ascii");
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
  /** Interface address to join the group on and send from (default: the OS's choice). */
  interfaceAddress?: string;
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
}

export class MulticastBeacon {
  readonly stats: BeaconStats = { sent: 0, received: 0, otherLabel: 0, malformed: 0, sendErrors: 0 };
  private timer: TimerHandle | undefined;
  private closed = false;
  private readonly payload: Buffer;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly o: BeaconOptions,
    private readonly group: string,
    private readonly port: number,
  ) {
    this.payload = Buffer.concat([MAGIC, encodeCbor([o.clusterLabel, o.name, o.address])]);
    if (this.payload.length > MAX_BEACON_BYTES) throw new LockerError("invalid", "beacon too large: shorten the name, label or address");
    socket.on("message", (msg) => this.receive(msg));
    // A socket error (e.g. no multicast route) must never crash the node.
    socket.on("error", () => this.stats.sendErrors++);
  }

  /** Binds the group port, joins the group and starts beaconing. */
  static async start(o: BeaconOptions): Promise<MulticastBeacon> {
    const group = o.group ?? DEFAULT_MULTICAST_GROUP;
    const port = o.port ?? DEFAULT_MULTICAST_PORT;
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new LockerError("invalid", `bad multicast port ${port}`);
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
      socket.addMembership(group, o.interfaceAddress);
      socket.setMulticastTTL(o.ttl ?? 1);
      socket.setMulticastLoopback(true);
      if (o.interfaceAddress) socket.setMulticastInterface(o.interfaceAddress);
    } catch (e) {
      socket.close();
      throw new LockerError("unavailable", `cannot join multicast group ${group}: ${(e as Error).message}`);
    }
    const b = new MulticastBeacon(socket, o, group, port);
    b.beacon();
    return b;
  }

  /** Sends one beacon now and schedules the next. */
  private beacon(): void {
    if (this.closed) return;
    this.socket.send(this.payload, this.port, this.group, (err) => {
      if (err) this.stats.sendErrors++;
      else this.stats.sent++;
    });
    const interval = this.o.intervalMs ?? 1000;
    // Jitter keeps a fleet that boots together from beaconing in lockstep.
    this.timer = this.o.clock.setTimer(interval * (0.8 + 0.4 * this.o.random.next()), () => this.beacon());
  }

  private receive(msg: Buffer): void {
    if (this.closed) return;
    if (msg.length > MAX_BEACON_BYTES || msg.length <= MAGIC.length || !msg.subarray(0, MAGIC.length).equals(MAGIC)) {
      this.stats.malformed++;
      return;
    }
    let body: unknown;
    try {
      body = decodeCbor(msg.subarray(MAGIC.length));
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
