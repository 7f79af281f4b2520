// Shared pieces for transport tests: a tiny request codec and a socket
// decorator that loses a seeded fraction of received datagrams.
import type { DatagramSocket, MessageCodec } from "../../src/transport/index.js";
import type { Random } from "../../src/util/random.js";
import { asArray, asString, asUint } from "../../src/wire/index.js";

export interface Echo {
  text: string;
  n: number;
}

export const echoCodec: MessageCodec<Echo> = {
  encode: (m) => [m.text, m.n],
  decode: (raw) => {
    const a = asArray(raw, "echo", 2, 2);
    return { text: asString(a[0], "text", 65535), n: asUint(a[1], "n") };
  },
};

/** Wraps a real socket and drops `lossRate` of the datagrams it receives. */
export class LossySocket implements DatagramSocket {
  received = 0;
  lost = 0;
  constructor(
    private readonly inner: DatagramSocket,
    private readonly lossRate: number,
    private readonly random: Random,
  ) {}
  get address(): string {
    return this.inner.address;
  }
  send(datagram: Uint8Array, to: string): void {
    this.inner.send(datagram, to);
  }
  onDatagram(handler: (d: Uint8Array, from: string) => void): void {
    this.inner.onDatagram((d, from) => {
      this.received++;
      if (this.random.next() < this.lossRate) {
        this.lost++;
        return;
      }
      handler(d, from);
    });
  }
  onSendError(handler: (e: Error, to: string) => void): void {
    this.inner.onSendError(handler);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
