// How the HTTP API says no: an HttpError carries status, code and message, and
// every refusal — from a route, the body parser, or the connection layer
// before any request exists — is a JSON body {"error", "message"}.
import { STATUS_CODES } from "node:http";
import { ERROR_TABLE, type ApiErrorCode } from "../../errors.js";

export type Json = Record<string, unknown>;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** An error whose status is the table's for its code. */
export function apiError(code: ApiErrorCode, message: string, headers: Record<string, string> = {}): HttpError {
  return new HttpError(ERROR_TABLE[code].httpStatus, code, message, headers);
}

export const invalid = (message: string): HttpError => apiError("invalid", message);

export function errorBody(code: ApiErrorCode, message: string): string {
  return JSON.stringify({ error: code, message }) + "\n";
}

/**
 * A complete HTTP/1.1 response as bytes, for the places that have a socket but
 * no ServerResponse (a refused connection, a request node could not parse).
 * It always closes the connection: the socket's state is not trusted after it.
 */
export function rawErrorResponse(status: number, code: ApiErrorCode, message: string, headers: Record<string, string> = {}): string {
  const body = errorBody(code, message);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`,
    "content-type: application/json; charset=utf-8",
    `content-length: ${Buffer.byteLength(body)}`,
    "cache-control: no-store",
    "connection: close",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return lines.join("\r\n") + "\r\n\r\n" + body;
}
