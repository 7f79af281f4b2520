// The keyring's HTTP routes (`locker keyring …`): list the keys across the
// cluster, and install / use / remove one on every live member. Behind the
// server's bearer-token check like every route but health.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KeyringControl, KeyringOp } from "../node/keyring-control.js";
import { ClientGoneError, readJsonBody, type BodyLimits } from "./http/body.js";
import { HttpError, invalid } from "./http/reply.js";

const ROUTES: Record<string, KeyringOp> = {
  "/v1/keyring": "list",
  "/v1/keyring/install": "install",
  "/v1/keyring/use": "use",
  "/v1/keyring/remove": "remove",
};

export function isKeyringRoute(path: string): boolean {
  return Object.hasOwn(ROUTES, path);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Answers a keyring route; `control` is undefined when this agent does not seal datagrams. */
export async function handleKeyringRoute(req: IncomingMessage, res: ServerResponse, path: string, control: KeyringControl | undefined, limits: BodyLimits): Promise<void> {
  const op = ROUTES[path]!;
  try {
    const method = op === "list" ? "GET" : "POST";
    if (req.method !== method) {
      req.resume();
      res.setHeader("allow", method);
      throw new HttpError(405, "invalid", `${path} takes ${method}`);
    }
    if (!control) {
      req.resume();
      throw invalid("this agent does not seal datagrams (--insecure): there is no keyring to change; start it with --encrypt-file");
    }
    let key: Buffer | null = null;
    if (op !== "list") {
      const body = await readJsonBody(req, limits);
      const extra = Object.keys(body).filter((k) => k !== "key");
      if (extra.length > 0) throw invalid(`unknown field ${JSON.stringify(extra[0])}; the body is {"key": BASE64}`);
      if (typeof body.key !== "string" || !/^[A-Za-z0-9+/]{43}=$/.test(body.key)) throw invalid('"key" must be a base64 32-byte key (locker keygen)');
      key = Buffer.from(body.key, "base64");
    } else {
      req.resume();
    }
    const result = await control.broadcast(op, key);
    send(res, result.failed.length === 0 ? 200 : 207, result);
  } catch (e) {
    if (e instanceof ClientGoneError) return;
    if (e instanceof HttpError) {
      if (!res.headersSent) send(res, e.status, { error: e.code, message: e.message });
      return;
    }
    if (!res.headersSent) send(res, 500, { error: "internal", message: (e as Error).message });
  }
}
