// The request-body parser: bounded in size, in total time and in the gap
// between chunks, and strict about JSON that would not survive storage
// (1e400 parses to Infinity and used to be stored as null).
import type { IncomingMessage } from "node:http";
import { MAX_JSON_DEPTH } from "./limits.js";
import { HttpError, invalid, type Json } from "./reply.js";

export interface BodyLimits {
  maxBodyBytes: number;
  /** The whole body must arrive within this long. */
  bodyTimeoutMs: number;
  /** No gap between chunks longer than this. */
  bodyIdleTimeoutMs: number;
  /** Nesting depth of the JSON; default MAX_JSON_DEPTH. */
  maxDepth?: number;
}

/** The client went away (reset, aborted) before its body was read: nothing to answer, nothing to log as an error. */
export class ClientGoneError extends Error {
  override readonly name = "ClientGoneError";
}

const closeHeaders = { connection: "close" };

/** Reads a JSON object body. Throws HttpError (4xx) or ClientGoneError. */
export function readJsonBody(req: IncomingMessage, limits: BodyLimits): Promise<Json> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limits.maxBodyBytes) {
    // Refused before reading a byte; the connection is closed after the answer
    // rather than drained, so a client cannot make us read an endless body.
    return Promise.reject(new HttpError(413, "invalid", `request body is ${declared} bytes; the limit is ${limits.maxBodyBytes}`, closeHeaders));
  }
  return new Promise<Json>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    let idle: NodeJS.Timeout | undefined;
    const finish = (err: Error | undefined, value?: Json): void => {
      if (done) return;
      done = true;
      clearTimeout(total);
      clearTimeout(idle);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onGone);
      req.off("close", onClose);
      req.socket.off("end", onSocketEnd);
      if (err) {
        // Stop reading: the rest of the body is not wanted, and the answer closes the connection.
        req.pause();
        reject(err);
      } else resolve(value!);
    };
    const armIdle = (): void => {
      clearTimeout(idle);
      idle = setTimeout(
        () => finish(new HttpError(408, "invalid", `request body stalled: no data for ${limits.bodyIdleTimeoutMs} ms`, closeHeaders)),
        limits.bodyIdleTimeoutMs,
      );
    };
    const total = setTimeout(
      () => finish(new HttpError(408, "invalid", `request body not received within ${limits.bodyTimeoutMs} ms`, closeHeaders)),
      limits.bodyTimeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limits.maxBodyBytes) {
        finish(new HttpError(413, "invalid", `request body is over the limit of ${limits.maxBodyBytes} bytes`, closeHeaders));
        return;
      }
      chunks.push(chunk);
      armIdle();
    };
    const onEnd = (): void => {
      try {
        finish(undefined, parseJsonObject(Buffer.concat(chunks).toString("utf8"), limits.maxDepth ?? MAX_JSON_DEPTH));
      } catch (e) {
        finish(e as Error);
      }
    };
    const onGone = (e: Error): void => finish(new ClientGoneError(`client went away while sending its body: ${e.message}`));
    const onClose = (): void => finish(new ClientGoneError("client closed the connection before its body was complete"));
    // Node keeps a half-closed connection open (a request may still be answered
    // on it), so a client's FIN mid-body shows only here: the body can never
    // complete, and waiting for the idle deadline would hold the slot for nothing.
    const onSocketEnd = (): void => finish(new ClientGoneError("client closed its side before its body was complete"));
    armIdle();
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onGone);
    req.on("close", onClose);
    req.socket.once("end", onSocketEnd);
  });
}

/** Parses a body: a JSON object whose every number is finite and every string well-formed, nested at most `maxDepth`. */
export function parseJsonObject(text: string, maxDepth: number): Json {
  if (text.trim().length === 0) throw invalid("request body is empty; send a JSON object");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw invalid(`malformed JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw invalid("request body must be a JSON object");
  checkJsonValue(parsed, maxDepth);
  return parsed as Json;
}

/**
 * Refuses what JSON.parse accepts but the store cannot keep as sent: numbers
 * out of range (1e400 → Infinity), lone UTF-16 surrogates ("\ud800", which
 * UTF-8 and CBOR cannot carry), and nesting deeper than `maxDepth` (the CBOR
 * encoder recurses). An explicit stack: the walk itself cannot overflow.
 */
/** In a `u` regex a surrogate pair is one code point, so only a lone surrogate matches. */
const LONE_SURROGATE = /\p{Cs}/u;

export function checkJsonValue(root: unknown, maxDepth: number): void {
  const stack: Array<[unknown, number]> = [[root, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw invalid("a number in the body is out of range (JSON numbers must be finite doubles, e.g. not 1e400)");
    } else if (typeof v === "string") {
      if (LONE_SURROGATE.test(v)) throw invalid("a string in the body holds a lone UTF-16 surrogate (e.g. \\ud800), which cannot be stored");
    } else if (typeof v === "object" && v !== null) {
      if (depth >= maxDepth) throw invalid(`the body is nested deeper than ${maxDepth} levels`);
      if (Array.isArray(v)) {
        for (const x of v) stack.push([x, depth + 1]);
      } else {
        for (const [k, x] of Object.entries(v)) {
          if (LONE_SURROGATE.test(k)) throw invalid("a field name in the body holds a lone UTF-16 surrogate");
          stack.push([x, depth + 1]);
        }
      }
    }
  }
}
