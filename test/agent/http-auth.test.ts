// The HTTP API's optional bearer token and TLS: files refused when others can
// read them, 401 without or with a wrong token, /v1/health open, HTTPS with a
// self-signed certificate made here by openssl, and the CLI's client sending the token.
import test from "ava";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { httpServerOptions } from "../../src/agent/http.js";
import { tokenCheck, tokenMatches } from "../../src/agent/http/auth.js";
import { ConfigError } from "../../src/agent/config.js";
import { AgentClient, AgentUnauthorizedError, clientToken } from "../../src/cli/client.js";
import { SystemClock } from "../../src/util/clock.js";
import { call, startApi } from "./http-fixture.js";

const TOKEN = "s3cret-token-0123456789abcdef";

function dir(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), "locker-http-auth-"));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function writeFile(path: string, text: string, mode: number): string {
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

const noFiles = { httpTokenFile: "", tlsCert: "", tlsKey: "", httpMaxConnectionsPerSource: 256 };

test("token check: exact token only, Bearer scheme, constant-time digest compare", (t) => {
  const c = tokenCheck(TOKEN);
  t.true(tokenMatches(c, `Bearer ${TOKEN}`));
  t.true(tokenMatches(c, `bearer ${TOKEN}`));
  t.false(tokenMatches(c, undefined));
  t.false(tokenMatches(c, TOKEN));
  t.false(tokenMatches(c, `Bearer ${TOKEN}x`));
  t.false(tokenMatches(c, `Bearer ${TOKEN.slice(0, -1)}`));
  t.false(tokenMatches(c, `Basic ${TOKEN}`));
  t.false(tokenMatches(c, "Bearer "));
});

test("--http-token-file: refused when group or others can read it, when short, when missing", (t) => {
  const d = dir(t);
  const open = writeFile(join(d, "open"), TOKEN + "\n", 0o644);
  const e = t.throws(() => httpServerOptions({ ...noFiles, httpTokenFile: open }), { instanceOf: ConfigError });
  t.regex(e!.message, /accessible to other users \(mode 644\); run: chmod 600/);
  t.throws(() => httpServerOptions({ ...noFiles, httpTokenFile: writeFile(join(d, "g"), TOKEN, 0o640) }), { message: /mode 640/ });
  t.throws(() => httpServerOptions({ ...noFiles, httpTokenFile: writeFile(join(d, "short"), "abc\n", 0o600) }), { message: /at least 16 bytes/ });
  t.throws(() => httpServerOptions({ ...noFiles, httpTokenFile: join(d, "missing") }), { message: /--http-token-file .*missing/ });
  const ok = httpServerOptions({ ...noFiles, httpTokenFile: writeFile(join(d, "ok"), TOKEN + "\n", 0o600) });
  t.truthy(ok.token);
  t.is(ok.tls, undefined);
  t.is(ok.limits?.maxConnectionsPerSource, 256);
});

test("with a token: 401 JSON without or with a wrong one, 200 with it; /v1/health stays open", async (t) => {
  const d = dir(t);
  const options = httpServerOptions({ ...noFiles, httpTokenFile: writeFile(join(d, "token"), TOKEN + "\n", 0o600) });
  const api = await startApi({ server: options });
  t.teardown(() => api.close());

  const none = await call(api, "/v1/status");
  t.is(none.status, 401);
  t.is(none.json.error, "unauthorized");
  t.regex(String(none.json.message), /Bearer/);
  t.is(none.headers["www-authenticate"], 'Bearer realm="locker"');
  const wrong = await call(api, "/v1/status", { headers: { authorization: "Bearer not-the-token-at-all" } });
  t.is(wrong.status, 401);
  const lockNone = await call(api, "/v1/keys/k", { method: "PUT", body: { value: 1, leaseMs: 1000 } });
  t.is(lockNone.status, 401);
  t.is(lockNone.headers.connection, "close", "an unauthenticated body is not read");
  t.is((await call(api, "/metrics")).status, 401);
  const page = await call(api, "/");
  t.is(page.status, 200, "the dashboard's page is static; its requests carry the token");
  t.regex(page.text, /sessionStorage/);

  const health = await call(api, "/v1/health");
  t.is(health.status, 200, "health is open: probes need no secret");
  t.deepEqual(health.json, { ok: true, ready: true });
  t.is((await call(api, "/v1/health?x=1")).status, 400, "open, but still validated");

  const auth = { authorization: `Bearer ${TOKEN}` };
  t.is((await call(api, "/v1/status", { headers: auth })).status, 200);
  const lock = await call(api, "/v1/keys/k", { method: "PUT", body: { value: 1, leaseMs: 1000 }, headers: auth });
  t.is(lock.status, 200, lock.text);
  t.is(api.server.stats().unauthorized, 4);

  // The CLI's client: the token from LOCKER_HTTP_TOKEN or a token file.
  const clock = new SystemClock();
  const client = new AgentClient(`127.0.0.1:${api.port}`, clock, 5000, clientToken({ LOCKER_HTTP_TOKEN: TOKEN }));
  t.teardown(() => client.close());
  t.is((await client.call("GET", "/v1/keys/k")).value, 1);
  const fromFile = new AgentClient(`127.0.0.1:${api.port}`, clock, 5000, clientToken({ LOCKER_HTTP_TOKEN_FILE: join(d, "token") }));
  t.teardown(() => fromFile.close());
  t.is((await fromFile.call("GET", "/v1/keys/k")).value, 1);
  const without = new AgentClient(`127.0.0.1:${api.port}`, clock, 5000, undefined);
  t.teardown(() => without.close());
  await t.throwsAsync(without.call("GET", "/v1/keys/k"), { instanceOf: AgentUnauthorizedError });
});

function openssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

test("TLS: HTTPS with a self-signed certificate, the same API and the token on top; plain HTTP gets no answer", async (t) => {
  if (!openssl()) {
    t.fail("openssl is not installed: cannot make a test certificate");
    return;
  }
  const d = dir(t);
  const cert = join(d, "cert.pem");
  const key = join(d, "key.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "1", "-keyout", key, "-out", cert], { stdio: "ignore" });
  chmodSync(key, 0o644);
  t.throws(() => httpServerOptions({ ...noFiles, tlsCert: cert, tlsKey: key }), { message: /--tls-key .* \(mode 644\)/ });
  chmodSync(key, 0o600);
  t.throws(() => httpServerOptions({ ...noFiles, tlsCert: cert }), { message: /both --tls-cert and --tls-key/ });
  t.throws(() => httpServerOptions({ ...noFiles, tlsCert: key, tlsKey: key }), { message: /not a PEM certificate/ });

  const tokenFile = writeFile(join(d, "token"), TOKEN, 0o600);
  const api = await startApi({ server: httpServerOptions({ ...noFiles, tlsCert: cert, tlsKey: key, httpTokenFile: tokenFile }) });
  t.teardown(() => api.close());
  t.is(api.server.scheme, "https");
  const tls = { ca: readFileSync(cert, "utf8") };
  const health = await call(api, "/v1/health", { tls });
  t.is(health.status, 200, health.text);
  t.is((await call(api, "/v1/status", { tls })).status, 401);
  const lock = await call(api, "/v1/keys/tls", { method: "PUT", body: { value: "over tls", leaseMs: 1000 }, headers: { authorization: `Bearer ${TOKEN}` }, tls });
  t.is(lock.status, 200, lock.text);
  t.is(lock.json.value, "over tls");
  // An untrusted certificate is refused by the client; plain HTTP to the TLS port gets no HTTP answer.
  await t.throwsAsync(call(api, "/v1/health", { tls: { ca: "" } }));
  const plain = await call(api, "/v1/health").then(
    (r) => r.status,
    () => 0,
  );
  t.not(plain, 200);
});
