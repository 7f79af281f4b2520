// The CAS channel as the node uses it: voters are addressed by member name,
// and membership says where each one is now (a voter that restarts on
// another address is still reached).
import { LockerError } from "../errors.js";
import type { CasMessage } from "../cas/messages.js";
import type { Address, Channel, RequestOptions } from "../transport/types.js";

/**
 * A CAS channel addressed by member name instead of host:port. The CAS layer
 * names voters; membership knows where each one is now, so a voter that
 * restarts on another address is still reached.
 */
export class NamedChannel implements Channel<CasMessage> {
  constructor(
    private readonly inner: Channel<CasMessage>,
    private readonly resolve: (name: string) => Address | undefined,
  ) {}
  get maxMessageBytes(): number {
    return this.inner.maxMessageBytes;
  }
  private addressOf(name: string): Address {
    const a = this.resolve(name);
    if (a === undefined) throw new LockerError("unavailable", `voter ${name} has not been seen by membership yet`);
    return a;
  }
  send(to: string, message: CasMessage): void {
    const a = this.resolve(to);
    if (a !== undefined) this.inner.send(a, message);
  }
  request(to: string, message: CasMessage, options?: RequestOptions): Promise<CasMessage> {
    try {
      return this.inner.request(this.addressOf(to), message, options);
    } catch (e) {
      return Promise.reject(e);
    }
  }
  onMessage(handler: (m: CasMessage, from: Address) => void): void {
    this.inner.onMessage(handler);
  }
  onRequest(handler: (m: CasMessage, from: Address) => CasMessage | Promise<CasMessage>): void {
    this.inner.onRequest(handler);
  }
  encodedSize(message: CasMessage): number {
    return this.inner.encodedSize(message);
  }
}
