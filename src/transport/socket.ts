// The narrow waist below the transport: something that sends and receives
// whole datagrams. Implemented by a dgram socket and by the in-memory network.
import type { Address } from "./types.js";

export interface DatagramSocket {
  readonly address: Address;
  /** Sends one datagram; failures are reported through `onSendError`, never thrown. */
  send(datagram: Uint8Array, to: Address): void;
  onDatagram(handler: (datagram: Uint8Array, from: Address) => void): void;
  onSendError(handler: (error: Error, to: Address) => void): void;
  close(): Promise<void>;
}
