// The transport's contract, shared by the UDP transport and the in-memory
// network: channels multiplexed over one datagram socket, fire-and-forget
// sends and request/response with retries.

/** "host:port" for UDP; any unique string on the in-memory network. */
export type Address = string;

/** Channels demultiplexed from one socket. Values are on the wire: never renumber. */
export const ChannelId = {
  membership: 1,
  cas: 2,
  replication: 3,
  control: 4,
  forward: 5, // key affinity: a key's operations handed to its coordinator (src/node/affinity.ts)
} as const;
export type ChannelId = (typeof ChannelId)[keyof typeof ChannelId];

/**
 * Turns a channel's messages into CBOR-encodable values and back. `decode`
 * must validate the shape and throw (any error) on anything unexpected: a
 * decoded message is never trusted before it passes.
 */
export interface MessageCodec<M> {
  encode(message: M): unknown;
  decode(raw: unknown): M;
}

export interface RequestOptions {
  /** Time to wait for each attempt's response. */
  attemptTimeoutMs?: number;
  /** Extra attempts after the first (so attempts = retries + 1). */
  retries?: number;
  /** Overall bound, whatever the retries. */
  timeoutMs?: number;
}

export type RequestHandler<M> = (message: M, from: Address) => M | Promise<M>;
export type MessageHandler<M> = (message: M, from: Address) => void;

export interface Channel<M> {
  /** The largest encoded message that fits in one datagram on this channel. */
  readonly maxMessageBytes: number;
  /** Fire and forget. Messages to one peer in one event-loop turn share datagrams. */
  send(to: Address, message: M): void;
  /** Sends with a request id; retries with backoff until a response or the budget ends. Rejects with LockerError("timeout"). */
  request(to: Address, message: M, options?: RequestOptions): Promise<M>;
  onMessage(handler: MessageHandler<M>): void;
  onRequest(handler: RequestHandler<M>): void;
  /** Encoded size of a message on this channel (for packing decisions). */
  encodedSize(message: M): number;
}
