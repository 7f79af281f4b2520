// The HTTP flags end to end on a real agent process: --http-token-file
// (refused when others can read it; 401 without the token; the CLI sends it
// from LOCKER_HTTP_TOKEN) and --tls-cert/--tls-key (HTTPS).
import test from "ava";
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, eventually, request, spawnAgent, tempDir } from "./harness.js";
import { call } from "./http-fixture.js";

const TOKEN = "agent-token-0123456789abcdef";

test("--http-token-file: a file others can read stops the start; with mode 600 the API wants the token and the CLI sends it", async (t) => {
  const dir = tempDir("http-token");
  t.teardown(() => dir.remove());
  const tokenFile = join(dir.path, "token");
  writeFileSync(tokenFile, TOKEN + "\n");
  chmodSync(tokenFile, 0o644);
  const refused = await spawnAgent({ name: "tok", args: ["--data-dir", dir.path, "--http-token-file", tokenFile] });
  t.teardown(() => void refused.kill());
  const exit = await refused.exited;
  t.not(exit.code, 0);
  t.regex(refused.output(), /--http-token-file .* \(mode 644\); run: chmod 600/);

  chmodSync(tokenFile, 0o600);
  // A fresh data dir: the refused start may have recorded one (then this start would sit out a quiet period).
  const data = tempDir("http-token-data");
  t.teardown(() => data.remove());
  const agent = await spawnAgent({ name: "tok", args: ["--data-dir", data.path, "--http-token-file", tokenFile] });
  t.teardown(() => void agent.kill());
  await eventually("the agent to be ready", async () => {
    if (agent.proc.exitCode !== null) throw new Error(agent.output());
    return (await request(agent.http, "GET", "/v1/health")).json.ready === true ? true : undefined;
  });
  const none = await request(agent.http, "GET", "/v1/status");
  t.is(none.status, 401);
  t.is(none.json.error, "unauthorized");
  const withToken = await cli(["status"], { http: agent.http, env: { LOCKER_HTTP_TOKEN: TOKEN } });
  t.is(withToken.code, 0, withToken.stderr);
  const lock = await cli(["lock", "k", "v", "--lease", "5s"], { http: agent.http, env: { LOCKER_HTTP_TOKEN_FILE: tokenFile } });
  t.is(lock.code, 0, lock.stderr);
  const without = await cli(["status"], { http: agent.http, env: { LOCKER_HTTP_TOKEN: "" } });
  t.not(without.code, 0);
  t.regex(without.stderr, /Bearer/);
});

test("--tls-cert / --tls-key: the agent serves HTTPS", async (t) => {
  const dir = tempDir("http-tls");
  t.teardown(() => dir.remove());
  const cert = join(dir.path, "cert.pem");
  const key = join(dir.path, "key.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "1", "-keyout", key, "-out", cert], { stdio: "ignore" });
  chmodSync(key, 0o600);
  const agent = await spawnAgent({ name: "tls", args: ["--data-dir", dir.path, "--tls-cert", cert, "--tls-key", key] });
  t.teardown(() => void agent.kill());
  const [host, port] = agent.http.split(":") as [string, string];
  const tls = { ca: readFileSync(cert, "utf8") };
  const health = await eventually("the agent to answer over HTTPS", async () => {
    if (agent.proc.exitCode !== null) throw new Error(agent.output());
    const r = await call({ host, port: Number(port) }, "/v1/health", { tls });
    return r.json.ready === true ? r : undefined;
  });
  t.is(health.status, 200);
  const lock = await call({ host, port: Number(port) }, "/v1/keys/k", { method: "PUT", body: { value: "tls", leaseMs: 5000 }, tls });
  t.is(lock.status, 200, lock.text);
});
