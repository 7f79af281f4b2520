// The real socket: one dgram socket per node, bound to host:port.
import dgram from "node:dgram";
import { LockerError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import type { Random } from "../util/random.js";
import type { DatagramSocket } from "./socket.js";
import { Transport, type TransportOptions } from "./transport.js";
import type { Address } from "./types.js";

export interface HostPort {
  host: string;
  port: number;
}

/** Parses "host:port" or "[v6]:port"; throws LockerError("invalid") with the reason. */
export function parseHostPort(address: string): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (!m) throw new LockerError("invalid", `bad address "${address}": expected host:port`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new LockerError("invalid", `bad port in "${address}"`);
  return { host: m[1]!, port };
}

export function formatHostPort(host: string, port: number): Address {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

export class UdpSocket implements DatagramSocket {
  private datagramHandler: (d: Uint8Array, from: Address) => void = () => {};
  private sendErrorHandler: (e: Error, to: Address) => void = () => {};
  private readonly parsed = new Map<Address, HostPort>();
  private closed = false;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly address: Address,
  ) {
    socket.on("message", (msg, rinfo) => this.datagramHandler(msg, formatHostPort(rinfo.address, rinfo.port)));
    // A socket error (e.g. ICMP-driven) must never crash the node.
    socket.on("error", (e) => this.sendErrorHandler(e, ""));
  }

  static async bind(bind: Address, options: { receiveBufferBytes?: number; sendBufferBytes?: number } = {}): Promise<UdpSocket> {
    const { host, port } = parseHostPort(bind);
    const socket = dgram.createSocket({ type: host.includes(":") ? "udp6" : "udp4", reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(new LockerError("unavailable", `cannot bind UDP ${bind}: ${e.message}`));
      socket.once("error", onError);
      socket.bind(port, host, () => {
        socket.off("error", onError);
        resolve();
      });
    });
    // Bursts of concurrent rounds arrive together; a larger buffer avoids kernel drops.
    try {
      socket.setRecvBufferSize(options.receiveBufferBytes ?? 4 * 1024 * 1024);
      socket.setSendBufferSize(options.sendBufferBytes ?? 4 * 1024 * 1024);
    } catch {
      // Not fatal: the kernel may cap buffer sizes.
    }
    const a = socket.address();
    return new UdpSocket(socket, formatHostPort(a.address, a.port));
  }

  send(datagram: Uint8Array, to: Address): void {
    if (this.closed) return;
    let hp = this.parsed.get(to);
    if (!hp) {
      try {
        hp = parseHostPort(to);
      } catch (e) {
        this.sendErrorHandler(e as Error, to);
        return;
      }
      if (this.parsed.size > 10_000) this.parsed.clear();
      this.parsed.set(to, hp);
    }
    this.socket.send(datagram, hp.port, hp.host, (err) => {
      if (err) this.sendErrorHandler(err, to);
    });
  }

  onDatagram(handler: (datagram: Uint8Array, from: Address) => void): void {
    this.datagramHandler = handler;
  }

  onSendError(handler: (error: Error, to: Address) => void): void {
    this.sendErrorHandler = handler;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export interface UdpTransportOptions extends TransportOptions {
  /** host:port to bind; port 0 picks a free port. */
  bind: Address;
  clock: Clock;
  random: Random;
}

export async function createUdpTransport(options: UdpTransportOptions): Promise<Transport> {
  const socket = await UdpSocket.bind(options.bind);
  return new Transport(socket, options.clock, options.random, options);
}
