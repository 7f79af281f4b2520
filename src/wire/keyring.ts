// AES-256-GCM keys for sealing datagrams. Encrypts with the primary key and
// decrypts with any installed key, so keys can be rotated without downtime
// (install new everywhere → use new everywhere → remove old), as memberlist's keyring.
//
// Changing the keyring while a transport runs is safe: the envelope reads the
// current keys on every datagram (JavaScript runs one call at a time, so a
// datagram sees the keyring either before or after a change, never half of one).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { WireError } from "./errors.js";

export const KEY_BYTES = 32;
export const SEAL_NONCE_BYTES = 12;
export const SEAL_TAG_BYTES = 16;
/** Bytes the cipher adds around a plaintext (the envelope adds its replay stamp too: see envelope.ts). */
export const SEAL_CIPHER_OVERHEAD_BYTES = SEAL_NONCE_BYTES + SEAL_TAG_BYTES;
/** Bound on installed keys: rotation needs two or three; every extra key costs a failed decrypt per datagram it does not open. */
export const MAX_KEYRING_KEYS = 16;
/** Length of a fingerprint in hex chars (the first 8 bytes of the key's SHA-256). */
export const FINGERPRINT_HEX_CHARS = 16;

/** A key as `list` shows it: never the key itself. */
export interface KeyInfo {
  /** First 8 bytes of SHA-256(key), hex. Safe to log and to show in an API. */
  readonly fingerprint: string;
  /** The key new datagrams are sealed with. */
  readonly primary: boolean;
}

/** A key given by value, or an installed key given by its fingerprint. */
export type KeyRef = Uint8Array | string;

export function keyFingerprint(key: Uint8Array): string {
  return createHash("sha256").update(key).digest().subarray(0, FINGERPRINT_HEX_CHARS / 2).toString("hex");
}

function checkKey(k: Uint8Array): Buffer {
  if (!(k instanceof Uint8Array) || k.length !== KEY_BYTES) throw new Error(`keyring keys must be ${KEY_BYTES} bytes, got ${k?.length}`);
  return Buffer.from(k);
}

export class Keyring {
  /** The first is the primary. */
  private keys: Buffer[];

  /** Keys are 32 bytes (AES-256); the first is the primary. */
  constructor(keys: Uint8Array[]) {
    if (keys.length === 0) throw new Error("keyring needs at least one key");
    if (keys.length > MAX_KEYRING_KEYS) throw new Error(`a keyring holds at most ${MAX_KEYRING_KEYS} keys`);
    this.keys = [];
    for (const k of keys) {
      const b = checkKey(k);
      if (!this.keys.some((x) => x.equals(b))) this.keys.push(b);
    }
  }

  /** Parses base64 keys, as given on a command line or in a config file. */
  static fromBase64(keys: string[]): Keyring {
    return new Keyring(keys.map((k) => Buffer.from(k, "base64")));
  }

  static generateKey(): Buffer {
    return randomBytes(KEY_BYTES);
  }

  static fingerprint(key: Uint8Array): string {
    return keyFingerprint(key);
  }

  /** The installed keys, primary first, by fingerprint only. */
  list(): KeyInfo[] {
    return this.keys.map((k, i) => ({ fingerprint: keyFingerprint(k), primary: i === 0 }));
  }

  get primaryFingerprint(): string {
    return keyFingerprint(this.keys[0]!);
  }

  get size(): number {
    return this.keys.length;
  }

  /** Adds a key datagrams may be opened with (not yet sealed with). Installing an installed key does nothing. */
  install(key: Uint8Array): void {
    const b = checkKey(key);
    if (this.keys.some((k) => k.equals(b))) return;
    if (this.keys.length >= MAX_KEYRING_KEYS) throw new Error(`a keyring holds at most ${MAX_KEYRING_KEYS} keys: remove one first`);
    this.keys.push(b);
  }

  /** Makes an installed key the primary: datagrams sent from now on are sealed with it. */
  use(ref: KeyRef): void {
    const i = this.indexOf(ref);
    if (i < 0) throw new Error("key is not installed");
    if (i === 0) return;
    const [k] = this.keys.splice(i, 1);
    this.keys.unshift(k!);
  }

  /** The former name of `use`. */
  usePrimary(key: KeyRef): void {
    this.use(key);
  }

  /** Removes a key that is not the primary; removing a key that is not installed does nothing. */
  remove(ref: KeyRef): void {
    const i = this.indexOf(ref);
    if (i === 0) throw new Error("cannot remove the primary key: use another key first");
    if (i > 0) this.keys.splice(i, 1);
  }

  private indexOf(ref: KeyRef): number {
    if (typeof ref === "string") {
      const fp = ref.toLowerCase();
      if (!/^[0-9a-f]{16}$/.test(fp)) throw new Error(`a key fingerprint is ${FINGERPRINT_HEX_CHARS} hex chars`);
      return this.keys.findIndex((k) => keyFingerprint(k) === fp);
    }
    const b = checkKey(ref);
    return this.keys.findIndex((k) => k.equals(b));
  }

  /** nonce ‖ ciphertext ‖ tag; `aad` (the envelope header and replay stamp) is authenticated, not encrypted. */
  seal(aad: Uint8Array, plaintext: Uint8Array): Buffer {
    const nonce = randomBytes(SEAL_NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.keys[0]!, nonce);
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    const final = cipher.final();
    return Buffer.concat([nonce, body, final, cipher.getAuthTag()]);
  }

  open(aad: Uint8Array, sealed: Uint8Array): Buffer {
    if (sealed.length < SEAL_CIPHER_OVERHEAD_BYTES) throw new WireError("bad_seal", "sealed body too short");
    const nonce = sealed.subarray(0, SEAL_NONCE_BYTES);
    const tag = sealed.subarray(sealed.length - SEAL_TAG_BYTES);
    const ciphertext = sealed.subarray(SEAL_NONCE_BYTES, sealed.length - SEAL_TAG_BYTES);
    // A snapshot: a key removed by a callback during this loop cannot shift the indices.
    for (const key of [...this.keys]) {
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, nonce);
        decipher.setAAD(aad);
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
      } catch {
        // wrong key or tampered: try the next key
      }
    }
    throw new WireError("bad_seal", "no key opens this datagram");
  }
}
