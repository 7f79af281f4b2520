// The optional bearer token and TLS material of the HTTP API, read from files
// that must be private to the agent's user (as ssh checks its keys), and the
// constant-time token check.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { ConfigError } from "../config.js";
import { MIN_TOKEN_BYTES } from "./limits.js";

/** The token as its SHA-256 digest: comparing digests takes the same time whatever the length of the guess. */
export interface TokenCheck {
  readonly digest: Buffer;
}

export function tokenCheck(token: string): TokenCheck {
  return { digest: createHash("sha256").update(token, "utf8").digest() };
}

/** Whether an Authorization header carries the token ("Bearer <token>", scheme case-insensitive). */
export function tokenMatches(check: TokenCheck, header: string | undefined): boolean {
  if (header === undefined) return false;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!m) return false;
  const given = createHash("sha256").update(m[1]!, "utf8").digest();
  return timingSafeEqual(given, check.digest);
}

const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** Reads a file that must not be readable or writable by group or others; ConfigError names the flag and the fix. */
export function readPrivateFile(path: string, flag: string): string {
  let mode: number;
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error("not a regular file");
    if (st.size > MAX_SECRET_FILE_BYTES) throw new Error(`larger than ${MAX_SECRET_FILE_BYTES} bytes`);
    mode = st.mode;
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`${flag} ${path}: ${(e as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(`${flag} ${path} is accessible to other users (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
  }
  return text;
}

/** The token in --http-token-file: its first line, trimmed; at least MIN_TOKEN_BYTES. */
export function readTokenFile(path: string): string {
  const token = (readPrivateFile(path, "--http-token-file").split(/\r?\n/)[0] ?? "").trim();
  if (Buffer.byteLength(token) < MIN_TOKEN_BYTES) {
    throw new ConfigError(`--http-token-file ${path}: the token must be at least ${MIN_TOKEN_BYTES} bytes (make one with \`locker keygen\`)`);
  }
  if (/\s/.test(token)) throw new ConfigError(`--http-token-file ${path}: the token must not contain spaces`);
  return token;
}

/** The certificate chain (public: no mode check) and the private key (mode-checked) of --tls-cert / --tls-key. */
export function readTlsFiles(certPath: string, keyPath: string): { cert: string; key: string } {
  if ((certPath === "") !== (keyPath === "")) throw new ConfigError("give both --tls-cert and --tls-key, or neither");
  let cert: string;
  try {
    cert = readFileSync(certPath, "utf8");
  } catch (e) {
    throw new ConfigError(`--tls-cert ${certPath}: ${(e as Error).message}`);
  }
  if (!cert.includes("-----BEGIN CERTIFICATE-----")) throw new ConfigError(`--tls-cert ${certPath}: not a PEM certificate`);
  const key = readPrivateFile(keyPath, "--tls-key");
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) throw new ConfigError(`--tls-key ${keyPath}: not a PEM private key`);
  return { cert, key };
}
