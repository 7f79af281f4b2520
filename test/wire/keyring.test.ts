// The keyring's runtime API: list (fingerprints only), install, use, remove.
import test from "ava";
import { createHash } from "node:crypto";
import { Envelope, Keyring, keyFingerprint, MAX_KEYRING_KEYS, WireError } from "../../src/wire/index.js";

const k1 = Buffer.alloc(32, 1);
const k2 = Buffer.alloc(32, 2);

test("list shows fingerprints (sha256, first 8 bytes hex) and the primary, never a key", (t) => {
  const ring = new Keyring([k1]);
  ring.install(k2);
  const fp1 = createHash("sha256").update(k1).digest("hex").slice(0, 16);
  t.deepEqual(ring.list(), [
    { fingerprint: fp1, primary: true },
    { fingerprint: keyFingerprint(k2), primary: false },
  ]);
  t.false(JSON.stringify(ring.list()).includes(k1.toString("base64")));
  ring.install(k2);
  t.is(ring.size, 2, "installing an installed key does nothing");
});

test("use by key or by fingerprint; the primary cannot be removed; a key not installed cannot be used", (t) => {
  const ring = new Keyring([k1, k2]);
  ring.use(keyFingerprint(k2));
  t.is(ring.primaryFingerprint, keyFingerprint(k2));
  t.throws(() => ring.remove(k2), { message: /primary/ });
  ring.remove(keyFingerprint(k1));
  t.is(ring.size, 1);
  t.throws(() => ring.use(k1), { message: /not installed/ });
  t.throws(() => ring.use("zz"), { message: /fingerprint/ });
  t.throws(() => ring.install(Buffer.alloc(31)), { message: /32 bytes/ });
  ring.remove(k1); // not installed: nothing to do
  t.is(ring.size, 1);
});

test("the keyring is bounded", (t) => {
  const ring = new Keyring([k1]);
  for (let i = 1; i < MAX_KEYRING_KEYS; i++) ring.install(Buffer.alloc(32, 10 + i));
  t.throws(() => ring.install(Buffer.alloc(32, 200)), { message: /at most/ });
});

test("an envelope sees keyring changes on the next datagram", (t) => {
  const a = new Keyring([k1]);
  const b = new Keyring([k1]);
  const ea = new Envelope({ keyring: a });
  const eb = new Envelope({ keyring: b });
  const body = Buffer.from([0x80]);
  t.notThrows(() => eb.unwrap(ea.wrap(body, 1)));
  a.install(k2);
  a.use(k2);
  const sealedWithK2 = ea.wrap(body, 1);
  const e = t.throws(() => eb.unwrap(sealedWithK2));
  t.is((e as WireError).reason, "bad_seal", "b has not installed k2 yet");
  b.install(k2);
  t.notThrows(() => eb.unwrap(ea.wrap(body, 1)));
});
