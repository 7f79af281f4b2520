// The one error class of the public API. Every failure carries a code a caller
// can branch on; locker's single `no_quorum` is split into what really happened.

export type LockerErrorCode =
  /** lock: someone else holds the key (it is present and not expired). */
  | "locked"
  /** update / extendLease / release: the current value differs from the one given. */
  | "mismatch"
  /** update / extendLease / release / read: the key is absent or expired. */
  | "not_found"
  /** Fewer than a majority of voters answered (or are alive, by SWIM). */
  | "no_quorum"
  /** The operation did not finish within its time budget; its outcome is unknown. */
  | "timeout"
  /** A concurrent round on the same key won; the caller may retry. */
  | "contention"
  /** A bad argument: key or value too large, lease out of range, wrong type. */
  | "invalid"
  /** The node is shut down or not yet able to serve (quiet period, not started). */
  | "unavailable";

/**
 * Codes the agent's HTTP API and the CLI answer with: every LockerErrorCode,
 * plus `unauthorized`, which only the HTTP layer produces (the library never
 * throws it, so it stays out of LockerErrorCode and exhaustive switches over
 * the library's codes stay exhaustive).
 */
export type ApiErrorCode = LockerErrorCode | "unauthorized";

export interface ErrorCodeInfo {
  /** The HTTP status the agent answers with (some routes refine it: 405, 413, 429, 408). */
  readonly httpStatus: number;
  /** The `locker` CLI's exit code. */
  readonly exitCode: number;
  /** One line for the README and for messages. */
  readonly meaning: string;
}

/**
 * The one table from which HTTP statuses, CLI exit codes and the documented
 * meanings are derived (nats.js keeps one such table; we used to write the
 * map in three files). Exit codes 1–7 are unchanged from the CLI's EXIT.
 */
export const ERROR_TABLE: Readonly<Record<ApiErrorCode, ErrorCodeInfo>> = Object.freeze({
  locked: { httpStatus: 409, exitCode: 1, meaning: "someone else holds the key; nothing changed" },
  mismatch: { httpStatus: 409, exitCode: 1, meaning: "the key holds another value than the one given; nothing changed" },
  contention: { httpStatus: 409, exitCode: 1, meaning: "a concurrent change of the same key won; nothing changed, retry" },
  not_found: { httpStatus: 404, exitCode: 3, meaning: "the key is absent or its lease ran out (or no such route)" },
  no_quorum: { httpStatus: 503, exitCode: 4, meaning: "fewer than a majority of voters answered; nothing changed" },
  unavailable: { httpStatus: 503, exitCode: 4, meaning: "the node cannot serve now (starting, quiet period, shutting down, over a limit); retry later" },
  timeout: { httpStatus: 504, exitCode: 5, meaning: "no answer within the time budget; the change may or may not have happened" },
  invalid: { httpStatus: 400, exitCode: 7, meaning: "a bad request or argument (key, value, lease, budget, JSON); nothing was run" },
  unauthorized: { httpStatus: 401, exitCode: 8, meaning: "the agent wants a bearer token (--http-token-file) and got none or a wrong one" },
});

/** Every code, in the table's order (for decoders that must refuse unknown codes). */
export const API_ERROR_CODES: readonly ApiErrorCode[] = Object.freeze(Object.keys(ERROR_TABLE) as ApiErrorCode[]);

/** The library's codes only (what a remote node or the transport may carry). */
export const LOCKER_ERROR_CODES: readonly LockerErrorCode[] = Object.freeze(
  API_ERROR_CODES.filter((c): c is LockerErrorCode => c !== "unauthorized"),
);

export function isApiErrorCode(s: unknown): s is ApiErrorCode {
  return typeof s === "string" && Object.prototype.hasOwnProperty.call(ERROR_TABLE, s);
}

export function isLockerErrorCode(s: unknown): s is LockerErrorCode {
  return isApiErrorCode(s) && s !== "unauthorized";
}

export class LockerError extends Error {
  override readonly name = "LockerError";
  constructor(
    readonly code: LockerErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function isLockerError(e: unknown, code?: LockerErrorCode): e is LockerError {
  return e instanceof LockerError && (code === undefined || e.code === code);
}
