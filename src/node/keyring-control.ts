// Keyring rotation at runtime, cluster-wide (as Serf's `keys` command): one
// node applies install / use / remove to its own keyring and asks every live
// member, over the control channel (sealed, members only), to do the same;
// the answer says which members did. No restart, no quiet period. A node
// that keeps a data dir persists its keyring there, so a restart keeps the
// rotated keys (that file then takes precedence over the configured keys).
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join as joinPath } from "node:path";
import type { Membership } from "@locker/membership";
import { LockerError } from "../errors.js";
import type { Address, Channel, MessageCodec } from "../transport/types.js";
import { KEY_BYTES, keyFingerprint, MAX_KEYRING_KEYS, type KeyInfo, type Keyring } from "../wire/keyring.js";

export type KeyringOp = "list" | "install" | "use" | "remove";
const OPS: readonly KeyringOp[] = ["list", "install", "use", "remove"];

export type KeyringMessage =
  | { readonly type: "keyring"; readonly op: KeyringOp; readonly key: Uint8Array | null }
  | { readonly type: "keys"; readonly keys: readonly KeyInfo[]; readonly error: string | null };

const MAX_ERROR_CHARS = 200;

/** Every field checked: a request carries one 32-byte key at most, a reply at most MAX_KEYRING_KEYS fingerprints. */
export const keyringCodec: MessageCodec<KeyringMessage> = {
  encode(m) {
    return m.type === "keyring" ? [0, OPS.indexOf(m.op), m.key] : [1, m.keys.map((k) => [k.fingerprint, k.primary]), m.error];
  },
  decode(raw) {
    if (!Array.isArray(raw) || raw.length !== 3) throw new Error("keyring message: bad shape");
    if (raw[0] === 0) {
      const op = OPS[raw[1] as number];
      if (!Number.isInteger(raw[1]) || op === undefined) throw new Error("keyring message: unknown op");
      const key = raw[2];
      if (key !== null && !(key instanceof Uint8Array && key.length === KEY_BYTES)) throw new Error("keyring message: a key is 32 bytes");
      if ((op === "list") !== (key === null)) throw new Error("keyring message: list takes no key, the others one");
      return { type: "keyring", op, key };
    }
    if (raw[0] === 1) {
      const list = raw[1];
      if (!Array.isArray(list) || list.length > MAX_KEYRING_KEYS) throw new Error("keyring reply: bad key list");
      const keys = list.map((k: unknown) => {
        if (!Array.isArray(k) || k.length !== 2 || typeof k[0] !== "string" || !/^[0-9a-f]{16}$/.test(k[0]) || typeof k[1] !== "boolean") {
          throw new Error("keyring reply: bad key entry");
        }
        return { fingerprint: k[0], primary: k[1] };
      });
      const error = raw[2];
      if (error !== null && (typeof error !== "string" || error.length > MAX_ERROR_CHARS)) throw new Error("keyring reply: bad error");
      return { type: "keys", keys, error };
    }
    throw new Error("keyring message: unknown type");
  },
};

/** The keyring file in a data dir: base64 keys, primary first, mode 600. */
export class KeyringFile {
  readonly path: string;
  constructor(dir: string, name: string) {
    this.path = dir === "" ? "" : joinPath(dir, `${encodeURIComponent(name)}.keyring`);
  }

  /** The persisted keys, or undefined when there is no file (or no data dir). A readable-by-others file is refused. */
  load(): Buffer[] | undefined {
    if (this.path === "") return undefined;
    let text: string;
    try {
      if ((statSync(this.path).mode & 0o077) !== 0) throw new LockerError("invalid", `${this.path} is readable by other users; run: chmod 600 ${this.path}`);
      text = readFileSync(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    const keys = text
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.length > 0)
      .map((l) => Buffer.from(l, "base64"));
    if (keys.length === 0 || keys.length > MAX_KEYRING_KEYS || keys.some((k) => k.length !== KEY_BYTES)) {
      throw new LockerError("invalid", `${this.path} is not a keyring file (base64 32-byte keys, one per line); remove it to use the configured keys`);
    }
    return keys;
  }

  save(keys: readonly Uint8Array[]): void {
    if (this.path === "") return;
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, keys.map((k) => Buffer.from(k).toString("base64")).join("\n") + "\n", { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.path);
  }
}

export interface KeyringResult {
  /** Live members asked, this node included. */
  members: number;
  /** Members that applied the change (or answered a list). */
  ok: number;
  failed: { name: string; error: string }[];
  /** For each fingerprint: on how many members it is installed, and primary. */
  keys: { fingerprint: string; installed: number; primary: number }[];
}

export interface KeyringControlOptions {
  name: string;
  keyring: Keyring;
  /** The keys the keyring was built with, primary first (to persist them). */
  keys: readonly Uint8Array[];
  channel: Channel<KeyringMessage>;
  membership: Membership;
  file?: KeyringFile;
  onChange?: (op: KeyringOp, fingerprint: string) => void;
}

export class KeyringControl {
  /** Raw keys by fingerprint, primary first: the keyring shows fingerprints only, the file needs the keys. */
  private keys: Buffer[];

  constructor(private readonly o: KeyringControlOptions) {
    this.keys = o.keys.map((k) => Buffer.from(k));
    o.channel.onRequest((m) => {
      if (m.type !== "keyring") throw new LockerError("invalid", "not a keyring request");
      try {
        this.apply(m.op, m.key);
        return { type: "keys", keys: this.o.keyring.list(), error: null };
      } catch (e) {
        return { type: "keys", keys: this.o.keyring.list(), error: (e as Error).message.slice(0, MAX_ERROR_CHARS) };
      }
    });
  }

  list(): KeyInfo[] {
    return this.o.keyring.list();
  }

  /** Applies one operation here; throws LockerError("invalid") when it cannot be done. */
  apply(op: KeyringOp, key: Uint8Array | null): void {
    if (op === "list") return;
    if (!key) throw new LockerError("invalid", `${op} needs a key`);
    const fp = keyFingerprint(key);
    try {
      if (op === "install") this.o.keyring.install(key);
      else if (op === "use") this.o.keyring.use(key);
      else this.o.keyring.remove(key);
    } catch (e) {
      throw new LockerError("invalid", (e as Error).message);
    }
    const b = Buffer.from(key);
    if (op === "install" && !this.keys.some((k) => k.equals(b))) this.keys.push(b);
    if (op === "use") this.keys = [b, ...this.keys.filter((k) => !k.equals(b))];
    if (op === "remove") this.keys = this.keys.filter((k) => !k.equals(b));
    this.o.file?.save(this.keys);
    this.o.onChange?.(op, fp);
  }

  /**
   * Applies `op` here and on every live member. `use` only after `install`
   * reached every member: a member without the new key cannot open what is
   * sealed with it. The result lists the members that did not apply it.
   */
  async broadcast(op: KeyringOp, key: Uint8Array | null, timeoutMs = 5000): Promise<KeyringResult> {
    const failed: { name: string; error: string }[] = [];
    const views: KeyInfo[][] = [];
    let ok = 0;
    try {
      this.apply(op, key);
      ok++;
      views.push(this.list());
    } catch (e) {
      failed.push({ name: this.o.name, error: (e as Error).message });
    }
    const live = this.o.membership.members().filter((m) => m.state === "alive" || m.state === "suspect");
    await Promise.all(
      live.map(async (m) => {
        try {
          const r = await this.o.channel.request(m.address as Address, { type: "keyring", op, key }, { timeoutMs, attemptTimeoutMs: 500, retries: 8 });
          if (r.type !== "keys") throw new Error("unexpected reply");
          views.push([...r.keys]);
          if (r.error) failed.push({ name: m.name, error: r.error });
          else ok++;
        } catch (e) {
          failed.push({ name: m.name, error: (e as Error).message });
        }
      }),
    );
    const tally = new Map<string, { fingerprint: string; installed: number; primary: number }>();
    for (const v of views) {
      for (const k of v) {
        const t = tally.get(k.fingerprint) ?? { fingerprint: k.fingerprint, installed: 0, primary: 0 };
        t.installed++;
        if (k.primary) t.primary++;
        tally.set(k.fingerprint, t);
      }
    }
    return { members: live.length + 1, ok, failed, keys: [...tally.values()] };
  }
}
