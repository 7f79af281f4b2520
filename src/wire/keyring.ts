// AES-256-GCM keys for sealing datagrams. Encrypts with the primary key and
// decrypts with any installed key, so keys can be rotated without downtime
// (install new → make primary → remove old), as memberlist's keyring.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { WireError } from "./errors.js";

export const SEAL_NONCE_BYTES = 12;
export const SEAL_TAG_BYTES = 16;
export const SEAL_OVERHEAD_BYTES = SEAL_NONCE_BYTES + SEAL_TAG_BYTES;

export class Keyring {
  private keys: Buffer[];

  /** Keys are 32 bytes (AES-256); the first is the primary. */
  constructor(keys: Uint8Array[]) {
    if (keys.length === 0) throw new Error("keyring needs at least one key");
    this.keys = keys.map((k) => {
      if (k.length !== 32) throw new Error(`keyring keys must be 32 bytes, got ${k.length}`);
      return Buffer.from(k);
    });
  }

  /** Parses base64 keys, as given on a command line or in a config file. */
  static fromBase64(keys: string[]): Keyring {
    return new Keyring(keys.map((k) => Buffer.from(k, "base64")));
  }

  static generateKey(): Buffer {
    return randomBytes(32);
  }

  install(key: Uint8Array): void {
    if (key.length !== 32) throw new Error("keyring keys must be 32 bytes");
    this.keys.push(Buffer.from(key));
  }

  usePrimary(key: Uint8Array): void {
    const i = this.keys.findIndex((k) => k.equals(key));
    if (i < 0) throw new Error("key is not installed");
    const [k] = this.keys.splice(i, 1);
    this.keys.unshift(k!);
  }

  remove(key: Uint8Array): void {
    const i = this.keys.findIndex((k) => k.equals(key));
    if (i === 0) throw new Error("cannot remove the primary key");
    if (i > 0) this.keys.splice(i, 1);
  }

  /** nonce ‖ ciphertext ‖ tag; the header is authenticated as additional data. */
  seal(header: Uint8Array, plaintext: Uint8Array): Buffer {
    const nonce = randomBytes(SEAL_NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.keys[0]!, nonce);
    cipher.setAAD(header);
    const body = cipher.update(plaintext);
    const final = cipher.final();
    return Buffer.concat([nonce, body, final, cipher.getAuthTag()]);
  }

  open(header: Uint8Array, sealed: Uint8Array): Buffer {
    if (sealed.length < SEAL_OVERHEAD_BYTES) throw new WireError("bad_seal", "sealed body too short");
    const nonce = sealed.subarray(0, SEAL_NONCE_BYTES);
    const tag = sealed.subarray(sealed.length - SEAL_TAG_BYTES);
    const ciphertext = sealed.subarray(SEAL_NONCE_BYTES, sealed.length - SEAL_TAG_BYTES);
    for (const key of this.keys) {
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, nonce);
        decipher.setAAD(header);
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
      } catch {
        // wrong key or tampered: try the next key
      }
    }
    throw new WireError("bad_seal", "no key opens this datagram");
  }
}
