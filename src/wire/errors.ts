// Why a datagram was refused. Every reason is a counter in transport stats,
// so hostile or corrupt traffic is visible, never fatal.

export type DropReason =
  | "too_short"
  | "bad_magic"
  | "bad_version"
  | "bad_label"
  | "bad_seal"
  | "not_sealed"
  /** A sealed datagram whose (boot id, sequence) was accepted before, or is older than the window. */
  | "replayed"
  /** A sealed datagram whose timestamp is too far from this node's wall clock (a stale capture, or a skewed clock). */
  | "clock_skew"
  | "bad_cbor"
  | "bad_frame"
  | "unknown_channel"
  | "bad_message"
  | "no_handler"
  | "stale_response"
  | "duplicate_request"
  | "outbox_full"
  | "send_error"
  | "handler_error";

/** Thrown by decoders; the receive path catches it and counts `reason`. */
export class WireError extends Error {
  override readonly name = "WireError";
  constructor(
    readonly reason: DropReason,
    message: string,
  ) {
    super(message);
  }
}
