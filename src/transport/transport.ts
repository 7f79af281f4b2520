// One node's transport: channels multiplexed over one datagram socket, sends
// batched per peer into shared datagrams, requests with ids, timeouts and
// retries, and duplicate suppression for retried requests.
// Long because the send path, requests and the receive path share the
// per-peer outboxes, the pending-request table and the response cache.
import { LockerError, type LockerErrorCode } from "../errors.js";
import type { Clock } from "../util/clock.js";
import type { Random } from "../util/random.js";
import { Envelope, DEFAULT_MAX_DATAGRAM_BYTES, MIN_MAX_DATAGRAM_BYTES } from "../wire/envelope.js";
import { WireError, type DropReason } from "../wire/errors.js";
import { decodeFrames, encodeFrame, encodeFrameAround, encodePayload, FrameKind, MAX_REQUEST_ID, type Frame } from "../wire/frame.js";
import type { Keyring } from "../wire/keyring.js";
import { packFrames } from "../wire/packer.js";
import { backoffDelayMs, type BackoffPolicy } from "./backoff.js";
import { DeadlineHeap } from "../util/deadline-heap.js";
import { DeadlineTimer } from "../util/deadline-timer.js";
import { ResponseCache } from "./response-cache.js";
import type { DatagramSocket } from "./socket.js";
import type { Address, Channel, ChannelId, MessageCodec, MessageHandler, RequestHandler, RequestOptions } from "./types.js";

export interface TransportOptions {
  /** Hard cap on every datagram sent, envelope included. Default 1400 (fits a 1500-byte MTU). */
  maxDatagramBytes?: number;
  clusterLabel?: string;
  keyring?: Keyring;
  /** Defaults for `request`. */
  request?: RequestOptions;
  backoff?: BackoffPolicy;
  /** How long a handled request's response is kept for retries of it. */
  responseCacheTtlMs?: number;
  responseCacheMaxEntries?: number;
  /** Bound on requests awaiting a response; past it `request` fails with `unavailable`. */
  maxPendingRequests?: number;
  /** Bound on bytes queued for one peer before a flush; past it sends are dropped and counted. */
  maxOutboxBytesPerPeer?: number;
  /** Sealed datagrams whose stamp is further than this from our wall clock are refused (`clock_skew`). Default 120 s. */
  sealClockWindowMs?: number;
}

export const DEFAULT_REQUEST_OPTIONS: Required<RequestOptions> = { attemptTimeoutMs: 200, retries: 4, timeoutMs: 5000 };
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 200, factor: 2, maxMs: 2000 };

export interface TransportStats {
  datagramsIn: number;
  datagramsOut: number;
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  /** Datagrams or frames refused, in total and by reason. */
  dropped: number;
  droppedByReason: Partial<Record<DropReason, number>>;
  requests: number;
  retries: number;
  timeouts: number;
  /** Retried requests answered from the response cache. */
  cachedResponses: number;
}

interface PendingRequest {
  id: number;
  to: Address;
  channel: number;
  frameBytes: Buffer;
  attempt: number;
  /** Unique per attempt: the retransmission heap's entry for an attempt that is no longer current is skipped. */
  attemptSeq: number;
  maxAttempts: number;
  attemptTimeoutMs: number;
  deadline: number;
  resolve: (payload: unknown) => void;
  reject: (error: Error) => void;
}

/** How a channel treats requests. */
export interface ChannelOptions<M> {
  /**
   * Requests whose handler may simply run again for a retransmission (it
   * changes nothing a second run could contradict, and any answer is as good
   * as the first): they skip the response cache. Default: none; the cache
   * answers a retransmission with the first answer, so a handler runs once.
   */
  idempotent?: (request: M) => boolean;
}

interface ChannelEntry {
  codec: MessageCodec<unknown>;
  idempotent?: ((request: unknown) => boolean) | undefined;
  onMessage?: MessageHandler<unknown>;
  onRequest?: RequestHandler<unknown>;
}

interface Outbox {
  frames: Uint8Array[];
  bytes: number;
}

const ERROR_CODES: readonly LockerErrorCode[] = ["locked", "mismatch", "not_found", "no_quorum", "timeout", "contention", "invalid", "unavailable"];

export class Transport {
  readonly stats: TransportStats = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    framesIn: 0,
    framesOut: 0,
    dropped: 0,
    droppedByReason: {},
    requests: 0,
    retries: 0,
    timeouts: 0,
    cachedResponses: 0,
  };
  readonly maxDatagramBytes: number;
  /** Largest encoded frame that fits in one datagram. */
  readonly maxFrameBytes: number;

  private readonly envelope: Envelope;
  private readonly channels = new Map<number, ChannelEntry>();
  private readonly pending = new Map<number, PendingRequest>();
  private readonly responses: ResponseCache;
  private readonly outboxes = new Map<Address, Outbox>();
  private flushScheduled = false;
  /** Flushes so far: a message encoded for several peers is reused only within one turn (one flush). */
  private flushes = 0;
  private nextRequestId: number;
  private closed = false;
  private readonly requestDefaults: Required<RequestOptions>;
  /**
   * When each pending request's current attempt runs out (request id, attempt
   * seq), behind one timer: a timer per request cost an allocation and a
   * clearTimeout per answer on the busiest path. Answered requests' entries
   * are skipped when they come due (lazy deletion).
   */
  private readonly attemptsDue = new DeadlineHeap<number>();
  private readonly attemptTimer: DeadlineTimer;
  private attemptSeq = 0;
  private readonly backoff: BackoffPolicy;
  private readonly maxPendingRequests: number;
  private readonly maxOutboxBytesPerPeer: number;

  constructor(
    private readonly socket: DatagramSocket,
    private readonly clock: Clock,
    private readonly random: Random,
    options: TransportOptions = {},
  ) {
    this.maxDatagramBytes = options.maxDatagramBytes ?? DEFAULT_MAX_DATAGRAM_BYTES;
    if (this.maxDatagramBytes < MIN_MAX_DATAGRAM_BYTES || this.maxDatagramBytes > 65507) {
      throw new LockerError("invalid", `maxDatagramBytes must be in ${MIN_MAX_DATAGRAM_BYTES}..65507`);
    }
    // The envelope reads the keyring on every datagram: install / use / remove take effect at once.
    this.envelope = new Envelope({
      clusterLabel: options.clusterLabel,
      keyring: options.keyring,
      // Boot ids stay crypto-random (the envelope's default), never from the
      // seeded stream: a restarted node re-seeded alike must still be a new sender.
      wallNow: () => clock.wallNow(),
      ...(options.sealClockWindowMs !== undefined ? { clockWindowMs: options.sealClockWindowMs } : {}),
    });
    this.maxFrameBytes = this.maxDatagramBytes - this.envelope.overheadBytes;
    this.requestDefaults = { ...DEFAULT_REQUEST_OPTIONS, ...options.request };
    this.attemptTimer = new DeadlineTimer(this.clock, () => this.attemptsRanOut());
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.responses = new ResponseCache(options.responseCacheTtlMs ?? 30_000, options.responseCacheMaxEntries ?? 50_000);
    this.maxPendingRequests = options.maxPendingRequests ?? 100_000;
    this.maxOutboxBytesPerPeer = options.maxOutboxBytesPerPeer ?? 4 * 1024 * 1024;
    // Start ids at a random point so a restarted node's ids do not collide
    // with the ones a peer still has cached from its previous life.
    this.nextRequestId = 1 + random.int(MAX_REQUEST_ID - 1);
    socket.onDatagram((d, from) => this.receive(d, from));
    socket.onSendError(() => this.drop("send_error"));
  }

  get address(): Address {
    return this.socket.address;
  }

  channel<M>(id: ChannelId, codec: MessageCodec<M>, options?: ChannelOptions<M>): Channel<M> {
    if (this.channels.has(id)) throw new Error(`channel ${id} is already open`);
    const entry: ChannelEntry = { codec: codec as MessageCodec<unknown>, idempotent: options?.idempotent as ChannelEntry["idempotent"] };
    this.channels.set(id, entry);
    const transport = this;
    let lastMessage: M | undefined;
    let lastPayload: Uint8Array | undefined;
    let lastTurn = -1;
    return {
      maxMessageBytes: this.maxFrameBytes - 16, // frame header: [channel, kind, id(uint32)] ≤ 8 bytes, plus margin
      send(to: Address, message: M): void {
        transport.sendFrame(to, { channel: id, kind: FrameKind.message, id: 0, payload: codec.encode(message) });
      },
      request(to: Address, message: M, options?: RequestOptions): Promise<M> {
        // A message sent to several peers in one turn (a round's request to
        // every voter) is encoded once; callers do not change a message they sent.
        if (message !== lastMessage || lastPayload === undefined || lastTurn !== transport.flushes) {
          lastPayload = encodePayload(codec.encode(message));
          lastMessage = message;
          lastTurn = transport.flushes;
        }
        // The answer is decoded with this channel's codec where it arrives (dispatch).
        return transport.request(to, id, lastPayload, options) as Promise<M>;
      },
      onMessage(handler: MessageHandler<M>): void {
        entry.onMessage = handler as MessageHandler<unknown>;
      },
      onRequest(handler: RequestHandler<M>): void {
        entry.onRequest = handler as RequestHandler<unknown>;
      },
      encodedSize(message: M): number {
        return encodeFrame({ channel: id, kind: FrameKind.request, id: MAX_REQUEST_ID, payload: codec.encode(message) }).length;
      },
    };
  }

  /** Requests awaiting a response (for summaries and leak checks). */
  get pendingRequests(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    this.attemptTimer.cancel();
    for (const p of this.pending.values()) p.reject(new LockerError("unavailable", "transport closed"));
    this.pending.clear();
    await this.socket.close();
  }

  // ---- sending ----

  private sendFrame(to: Address, frame: Frame): void {
    this.enqueue(to, encodeFrame(frame));
  }

  private enqueue(to: Address, frameBytes: Uint8Array): void {
    if (this.closed) return;
    if (frameBytes.length > this.maxFrameBytes) {
      throw new LockerError("invalid", `message of ${frameBytes.length} bytes exceeds the limit of ${this.maxFrameBytes} bytes per datagram`);
    }
    let box = this.outboxes.get(to);
    if (!box) {
      box = { frames: [], bytes: 0 };
      this.outboxes.set(to, box);
    }
    if (box.bytes + frameBytes.length > this.maxOutboxBytesPerPeer) {
      this.drop("outbox_full");
      return;
    }
    box.frames.push(frameBytes);
    box.bytes += frameBytes.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Everything sent to one peer in this event-loop turn shares datagrams.
      this.clock.defer(() => this.flush());
    }
  }

  /** Sends every queued frame now. */
  flush(): void {
    this.flushScheduled = false;
    this.flushes++;
    if (this.outboxes.size === 0) return;
    const boxes = [...this.outboxes];
    this.outboxes.clear();
    for (const [to, box] of boxes) {
      for (const packed of packFrames(box.frames, this.maxFrameBytes)) {
        const datagram = this.envelope.wrap(packed.body, packed.frameCount, to);
        if (datagram.length > this.maxDatagramBytes) throw new Error("invariant: datagram over the cap");
        this.stats.datagramsOut++;
        this.stats.framesOut += packed.frameCount;
        this.stats.bytesOut += datagram.length;
        this.socket.send(datagram, to);
      }
    }
  }

  private request(to: Address, channel: number, payload: Uint8Array, options?: RequestOptions): Promise<unknown> {
    if (this.closed) return Promise.reject(new LockerError("unavailable", "transport closed"));
    if (this.pending.size >= this.maxPendingRequests) {
      return Promise.reject(new LockerError("unavailable", `more than ${this.maxPendingRequests} requests pending`));
    }
    const d = this.requestDefaults;
    const id = this.allocateRequestId();
    const frameBytes = encodeFrameAround(channel, FrameKind.request, id, payload);
    if (frameBytes.length > this.maxFrameBytes) {
      return Promise.reject(new LockerError("invalid", `request of ${frameBytes.length} bytes exceeds the limit of ${this.maxFrameBytes} bytes`));
    }
    this.stats.requests++;
    return new Promise((resolve, reject) => {
      const p: PendingRequest = {
        id,
        to,
        channel,
        frameBytes,
        attempt: 0,
        attemptSeq: 0,
        maxAttempts: (options?.retries ?? d.retries) + 1,
        attemptTimeoutMs: options?.attemptTimeoutMs ?? d.attemptTimeoutMs,
        deadline: this.clock.now() + (options?.timeoutMs ?? d.timeoutMs),
        resolve,
        reject,
      };
      this.pending.set(id, p);
      this.attempt(p);
    });
  }

  private allocateRequestId(): number {
    for (;;) {
      const id = this.nextRequestId;
      this.nextRequestId = id >= MAX_REQUEST_ID ? 1 : id + 1;
      if (!this.pending.has(id)) return id;
    }
  }

  private attempt(p: PendingRequest): void {
    p.attempt++;
    p.attemptSeq = ++this.attemptSeq;
    if (p.attempt > 1) this.stats.retries++;
    this.enqueue(p.to, p.frameBytes);
    const now = this.clock.now();
    const wait = p.attempt === 1 ? p.attemptTimeoutMs : Math.max(p.attemptTimeoutMs, backoffDelayMs(this.backoff, p.attempt - 1, this.random));
    const due = now + Math.min(wait, Math.max(0, p.deadline - now));
    this.attemptsDue.push(due, p.id, p.attemptSeq);
    // Answered requests leave entries behind: keep the heap about as large as the pending table.
    if (this.attemptsDue.size > 2 * this.pending.size + 1024) this.attemptsDue.compact((e) => this.pending.get(e.key)?.attemptSeq === e.gen);
    this.attemptTimer.arm(due);
  }

  /** Retransmits or fails every request whose current attempt has run out. */
  private attemptsRanOut(): void {
    const now = this.clock.now();
    for (let e = this.attemptsDue.popDue(now); e; e = this.attemptsDue.popDue(now)) {
      const p = this.pending.get(e.key);
      if (!p || p.attemptSeq !== e.gen) continue; // answered, or a later attempt is current
      if (p.attempt < p.maxAttempts && now < p.deadline) {
        this.attempt(p);
      } else {
        this.pending.delete(p.id);
        this.stats.timeouts++;
        p.reject(new LockerError("timeout", `no response from ${p.to} after ${p.attempt} attempt(s)`, { to: p.to, attempts: p.attempt }));
      }
    }
    this.attemptTimer.arm(this.attemptsDue.peekAt());
  }

  // ---- receiving ----

  /** Counts a refused datagram or frame. */
  drop(reason: DropReason): void {
    this.stats.dropped++;
    this.stats.droppedByReason[reason] = (this.stats.droppedByReason[reason] ?? 0) + 1;
  }

  /** The receive path: whatever arrives, nothing escapes from here but counters. */
  receive(datagram: Uint8Array, from: Address): void {
    if (this.closed) return;
    this.stats.datagramsIn++;
    this.stats.bytesIn += datagram.length;
    let frames: Frame[];
    try {
      frames = decodeFrames(this.envelope.unwrap(datagram, from));
    } catch (e) {
      this.drop(e instanceof WireError ? e.reason : "bad_frame");
      return;
    }
    for (const frame of frames) {
      this.stats.framesIn++;
      try {
        this.dispatch(frame, from);
      } catch (e) {
        this.drop(e instanceof WireError ? e.reason : "handler_error");
      }
    }
  }

  private dispatch(frame: Frame, from: Address): void {
    if (frame.kind === FrameKind.response || frame.kind === FrameKind.error) {
      const p = this.pending.get(frame.id);
      if (!p || p.to !== from || p.channel !== frame.channel) {
        this.drop("stale_response");
        return;
      }
      this.pending.delete(frame.id);
      if (frame.kind === FrameKind.error) {
        p.reject(decodeRemoteError(frame.payload));
        return;
      }
      let answer: unknown;
      try {
        // The request's channel is open (a request is sent only on one), so its codec is there.
        answer = this.channels.get(frame.channel)!.codec.decode(frame.payload);
      } catch {
        this.drop("bad_message");
        p.reject(new LockerError("unavailable", `malformed response from ${from}`));
        return;
      }
      p.resolve(answer);
      return;
    }
    const entry = this.channels.get(frame.channel);
    if (!entry) {
      this.drop("unknown_channel");
      return;
    }
    let message: unknown;
    try {
      message = entry.codec.decode(frame.payload);
    } catch {
      this.drop("bad_message");
      return;
    }
    if (frame.kind === FrameKind.message) {
      if (!entry.onMessage) {
        this.drop("no_handler");
        return;
      }
      entry.onMessage(message, from);
      return;
    }
    this.handleRequest(entry, frame, message, from);
  }

  private handleRequest(entry: ChannelEntry, frame: Frame, message: unknown, from: Address): void {
    if (!entry.onRequest) {
      this.drop("no_handler");
      return;
    }
    // An idempotent request runs again when retransmitted: no cache entry
    // (one per request, kept up to 30 s).
    const key = entry.idempotent?.(message) ? undefined : `${from}#${frame.channel}#${frame.id}`;
    const now = this.clock.now();
    const cached = key === undefined ? undefined : this.responses.get(key, now);
    if (cached) {
      if (cached.state === "running") {
        this.drop("duplicate_request");
      } else {
        this.stats.cachedResponses++;
        this.enqueue(from, cached.datagramFrame);
      }
      return;
    }
    if (key !== undefined) this.responses.set(key, { state: "running" }, now);
    const reply = (kind: FrameKind, payload: unknown): void => {
      if (this.closed) return;
      let bytes = encodeFrame({ channel: frame.channel, kind, id: frame.id, payload });
      if (bytes.length > this.maxFrameBytes) {
        bytes = encodeFrame({ channel: frame.channel, kind: FrameKind.error, id: frame.id, payload: ["invalid", "response exceeds the datagram limit"] });
      }
      if (key !== undefined) this.responses.complete(key, bytes, this.clock.now());
      this.enqueue(from, bytes);
    };
    const fail = (e: unknown): void => {
      const code: LockerErrorCode = e instanceof LockerError ? e.code : "unavailable";
      reply(FrameKind.error, [code, e instanceof Error ? e.message.slice(0, 200) : "request failed"]);
    };
    // Encoding the answer can throw too (a handler returned something the codec
    // refuses): that must become an error reply like any other failure, or the
    // "running" entry above would swallow every retry until it expired and, for
    // an async handler, the throw would escape as an unhandled rejection.
    const answer = (r: unknown): void => {
      let payload: unknown;
      try {
        payload = entry.codec.encode(r);
      } catch (e) {
        this.drop("handler_error");
        fail(e);
        return;
      }
      reply(FrameKind.response, payload);
    };
    let result: unknown;
    try {
      result = entry.onRequest(message, from);
    } catch (e) {
      fail(e);
      return;
    }
    if (result instanceof Promise) {
      result.then(answer, fail).catch(() => {
        // reply() itself failed (closed or an oversized error frame): nothing to send; the entry expires.
        if (key !== undefined) this.responses.delete(key);
      });
    } else {
      answer(result);
    }
  }
}

function decodeRemoteError(payload: unknown): LockerError {
  if (Array.isArray(payload) && payload.length === 2 && typeof payload[1] === "string" && ERROR_CODES.includes(payload[0] as LockerErrorCode)) {
    return new LockerError(payload[0] as LockerErrorCode, `remote: ${payload[1]}`);
  }
  return new LockerError("unavailable", "remote error with an unreadable payload");
}

/** For channels whose messages are already bytes (membership encodes its own). */
export const bytesCodec: MessageCodec<Uint8Array> = {
  encode: (m) => m,
  decode: (raw) => {
    if (!(raw instanceof Uint8Array)) throw new WireError("bad_message", "expected bytes");
    return raw;
  },
};
