// The HTTP API's bounds on one in-process agent: bad input gets a 4xx with a
// JSON message, slow or abandoned requests are cut off and logged at debug,
// and one source cannot take every connection or long-poll slot.
import test from "ava";
import { clientErrorReply } from "../../src/agent/http/server.js";
import { MAX_CONNECTIONS_PER_SOURCE, MAX_WAITERS_PER_SOURCE, sourceOf } from "../../src/agent/http/limits.js";
import { defaultConfig } from "../../src/agent/config.js";
import { ERROR_TABLE, LOCKER_ERROR_CODES } from "../../src/errors.js";
import { STATUS_BY_CODE } from "../../src/agent/http.js";
import net from "node:net";
import { call, rawExchange, rawJson, rawStatus, startApi, until } from "./http-fixture.js";

test("the error table gives every code a status, an exit code and a meaning; the handler's statuses are the table's", (t) => {
  for (const [code, info] of Object.entries(ERROR_TABLE)) {
    t.true(info.httpStatus >= 400 && info.httpStatus < 600, code);
    t.true(Number.isInteger(info.exitCode) && info.exitCode > 0 && info.exitCode < 126, code);
    t.true(info.meaning.length > 10, code);
  }
  for (const code of LOCKER_ERROR_CODES) t.is(STATUS_BY_CODE[code], ERROR_TABLE[code].httpStatus);
  t.is(ERROR_TABLE.unauthorized.httpStatus, 401);
  t.false((LOCKER_ERROR_CODES as readonly string[]).includes("unauthorized"));
});

test("config defaults are the documented constants", (t) => {
  t.is(defaultConfig().httpMaxConnectionsPerSource, MAX_CONNECTIONS_PER_SOURCE);
  t.is(defaultConfig().httpMaxWaitsPerSource, MAX_WAITERS_PER_SOURCE);
});

test("sources: IPv4, IPv4-mapped IPv6 and an IPv6 /64", (t) => {
  t.is(sourceOf("10.0.0.7"), "10.0.0.7");
  t.is(sourceOf("::ffff:10.0.0.7"), "10.0.0.7");
  t.is(sourceOf("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  t.is(sourceOf("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
  t.is(sourceOf("2001:db8::1"), "2001:db8:0:0::/64");
  t.is(sourceOf("::1"), "0:0:0:0::/64");
  t.is(sourceOf("fe80::1%eth0"), "fe80:0:0:0::/64");
  t.is(sourceOf(undefined), "?");
});

test("node's parser refusals map to 431, 408 and 400", (t) => {
  const l = { maxHeaderBytes: 16384, headersTimeoutMs: 1, requestTimeoutMs: 2 };
  t.is(clientErrorReply(Object.assign(new Error("x"), { code: "HPE_HEADER_OVERFLOW" }), l)[0], 431);
  t.is(clientErrorReply(Object.assign(new Error("x"), { code: "ERR_HTTP_REQUEST_TIMEOUT" }), l)[0], 408);
  t.is(clientErrorReply(Object.assign(new Error("x"), { code: "HPE_INVALID_METHOD" }), l)[0], 400);
});

test("bugs: a 20 KB key, 1e400, a lone surrogate, timeoutMs=0 and deep nesting get a 4xx with a JSON message", async (t) => {
  const api = await startApi();
  t.teardown(() => api.close());
  const big = await call(api, `/v1/keys/${"k".repeat(20_000)}`);
  t.is(big.status, 431, big.text);
  t.is(big.json.error, "invalid");
  t.regex(String(big.json.message), /over 16384 bytes/);

  const cases: Array<[string, string, unknown, number, RegExp]> = [
    ["PUT", "/v1/keys/k", '{"value": 1e400, "leaseMs": 1000}', 400, /out of range/],
    ["PUT", "/v1/keys/k", '{"value": [-1e400], "leaseMs": 1000}', 400, /out of range/],
    ["PUT", "/v1/keys/k", '{"value": "\\ud800", "leaseMs": 1000}', 400, /surrogate/],
    ["PUT", "/v1/keys/k", '{"value": {"\\udfff": 1}, "leaseMs": 1000}', 400, /surrogate/],
    ["PUT", "/v1/keys/k", `{"value": ${"[".repeat(100)}${"]".repeat(100)}, "leaseMs": 1000}`, 400, /nested deeper/],
    ["PUT", "/v1/keys/k", { value: "v", leaseMs: 1000, timeoutMs: 0 }, 400, /timeoutMs must be more than 0 and at most 120000/],
    ["PUT", "/v1/keys/k", { value: "v", leaseMs: 1000, timeoutMs: 120_001 }, 400, /at most 120000/],
    ["GET", "/v1/keys/k?wait=present&timeoutMs=0", undefined, 400, /timeoutMs must be more than 0 and at most 120000/],
    ["GET", "/v1/keys/k?consistent=true&timeoutMs=0", undefined, 400, /timeoutMs must be more than 0 and at most 120000/],
    ["PUT", "/v1/keys/k", '{"leaseMs": 1000, "constructor": 1}', 400, /missing field "value"/],
  ];
  for (const [method, path, body, status, message] of cases) {
    const r = await call(api, path, { method, body });
    t.is(r.status, status, `${method} ${path} ${String(body).slice(0, 40)}: ${r.text}`);
    t.is(r.json.error, "invalid");
    t.regex(String(r.json.message), message);
  }
  // 1e300 is a finite double: stored as sent.
  // (A budget of 1 ms, as this once sent, can run out before the round starts on a loaded machine: 503.)
  const ok = await call(api, "/v1/keys/k", { method: "PUT", body: '{"value": [1e300, "\\ud83d\\ude00"], "leaseMs": 1000, "timeoutMs": 5000}' });
  t.is(ok.status, 200, ok.text);
  t.deepEqual(ok.json.value, [1e300, "\u{1F600}"]);
});

test("a stalled body gets 408 with a JSON message and the connection is closed; a too slow one too", async (t) => {
  const api = await startApi({ limits: { bodyIdleTimeoutMs: 300, bodyTimeoutMs: 1500 } });
  t.teardown(() => api.close());
  const head = "PUT /v1/keys/k HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n";
  const t0 = performance.now();
  const stalled = await rawExchange(api, head + '{"value"', 5000);
  t.true(stalled.closed, "closed by the server");
  t.is(rawStatus(stalled.text), 408, stalled.text);
  t.regex(String(rawJson(stalled.text)?.message), /no data for 300 ms/);
  t.true(performance.now() - t0 < 4000);

  // One byte every 100 ms never trips the idle deadline; the total one ends it.
  const slow = await new Promise<string>((resolve) => {
    const s = net.connect({ host: api.host, port: api.port });
    let text = "";
    s.on("data", (c: Buffer) => (text += c.toString("latin1")));
    s.on("error", () => {});
    s.write(head);
    const tick = setInterval(() => s.writable && s.write("x"), 100);
    s.on("close", () => {
      clearInterval(tick);
      resolve(text);
    });
  });
  t.is(rawStatus(slow), 408, slow);
  t.regex(String(rawJson(slow)?.message), /not received within 1500 ms/);
  t.false(api.logs().some((l) => l.level === 50), "no error lines");
});

test("slow headers get 408 with a JSON message within the headers timeout", async (t) => {
  const api = await startApi({ server: { limits: { headersTimeoutMs: 400, requestTimeoutMs: 800, timeoutCheckIntervalMs: 100 } } });
  t.teardown(() => api.close());
  const t0 = performance.now();
  const r = await rawExchange(api, "GET /v1/health HTTP/1.1\r\nhost: x\r\n", 5000);
  const ms = performance.now() - t0;
  t.true(r.closed);
  t.is(rawStatus(r.text), 408, r.text);
  t.is(rawJson(r.text)?.error, "invalid");
  t.true(ms >= 350 && ms < 3000, `${ms} ms`);
});

test("aborted bodies are logged at debug, never as internal errors", async (t) => {
  const api = await startApi();
  t.teardown(() => api.close());
  const head = "PUT /v1/keys/k HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n";
  // The handler starts reading a body in the same tick node announces the request.
  let requests = 0;
  api.server.server.on("request", () => requests++);
  const sockets = Array.from({ length: 50 }, () => {
    const s = net.connect({ host: api.host, port: api.port });
    s.on("error", () => {});
    s.write(head + '{"val');
    return s;
  });
  await until("all 50 requests in the handler", () => requests >= 50);
  // Half reset, half closed: both are a client going away mid-body.
  sockets.forEach((s, i) => (i % 2 === 0 ? s.resetAndDestroy() : s.destroy()));
  // Every one of them has been noticed once the server's count of open connections is back to zero.
  await until("every aborted connection closed", () => api.server.stats().open === 0);
  const logs = api.logs();
  t.false(logs.some((l) => (l.level as number) >= 50), JSON.stringify(logs.filter((l) => (l.level as number) >= 50).slice(0, 2)));
  t.is(logs.filter((l) => l.msg === "client went away").length, 50);
  const after = await call(api, "/v1/health");
  t.is(after.status, 200);
});

test("long-polls: one source's cap leaves room for another source; the global cap still holds", async (t) => {
  const api = await startApi({ limits: { maxWaitersPerSource: 20, maxWaiters: 30 } });
  t.teardown(() => api.close());
  const poll = (localAddress: string) => call(api, "/v1/keys/never?wait=present&timeoutMs=60000", { localAddress, timeoutMs: 30_000 });
  const first = Array.from({ length: 20 }, () => poll("127.0.0.1"));
  // Until all 20 are waiting inside the Locker (the handler counts a waiter before it calls waitFor).
  await until("20 waiters", () => api.waiting() >= 20);
  const over = await poll("127.0.0.1");
  t.is(over.status, 429, over.text);
  t.is(over.json.error, "unavailable");
  t.is(over.headers["retry-after"], "1");
  t.regex(String(over.json.message), /127\.0\.0\.1 has 20 waiting requests/);

  // Another source still gets a long-poll, and it is answered.
  const other = poll("127.0.0.2");
  const others = Array.from({ length: 9 }, () => poll("127.0.0.3"));
  await until("30 waiters", () => api.waiting() >= 30);
  const full = await poll("127.0.0.4");
  t.is(full.status, 503, full.text);
  t.regex(String(full.json.message), /too many waiting requests \(limit 30\)/);
  const lock = await call(api, "/v1/keys/never", { method: "PUT", body: { value: "here", leaseMs: 5000 }, localAddress: "127.0.0.1" });
  t.is(lock.status, 200, "a source at its long-poll cap can still lock");
  for (const r of [await other, ...(await Promise.all(others)), ...(await Promise.all(first))]) t.is(r.status, 200, r.text);
});

test("connections: past the per-source cap a new connection gets 429 JSON at once; other sources are served", async (t) => {
  const api = await startApi({ server: { limits: { maxConnectionsPerSource: 10, maxConnections: 15 } } });
  t.teardown(() => api.close());
  const held: net.Socket[] = [];
  t.teardown(() => held.forEach((s) => s.destroy()));
  for (let i = 0; i < 10; i++) {
    const s = net.connect({ host: api.host, port: api.port, localAddress: "127.0.0.1" });
    s.on("error", () => {});
    held.push(s);
  }
  await until("10 connections", () => api.server.stats().open >= 10);
  const refused = await rawExchange(api, "GET /v1/health HTTP/1.1\r\nhost: x\r\n\r\n", 5000, "127.0.0.1");
  t.is(rawStatus(refused.text), 429, refused.text);
  t.regex(String(rawJson(refused.text)?.message), /127\.0\.0\.1 has 10 connections open/);
  t.is((await call(api, "/v1/health", { localAddress: "127.0.0.2" })).status, 200);
  for (let i = 0; i < 5; i++) {
    const s = net.connect({ host: api.host, port: api.port, localAddress: "127.0.0.3" });
    s.on("error", () => {});
    held.push(s);
  }
  await until("15 connections", () => api.server.stats().open >= 15);
  const full = await rawExchange(api, "GET /v1/health HTTP/1.1\r\nhost: x\r\n\r\n", 5000, "127.0.0.4");
  t.is(rawStatus(full.text), 503, full.text);
  t.is(rawJson(full.text)?.error, "unavailable");
  t.is(api.server.stats().refusedPerSource, 1);
  t.is(api.server.stats().refusedGlobal, 1);
});

test("keep-alive: several requests on one connection", async (t) => {
  const api = await startApi();
  t.teardown(() => api.close());
  const r = await rawExchange(api, "GET /v1/health HTTP/1.1\r\nhost: x\r\n\r\nGET /v1/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n", 5000);
  t.is(r.text.match(/HTTP\/1\.1 200/g)?.length, 2, r.text);
});

test("internal errors: 500 JSON, and at most 20 logged per minute, the rest counted", async (t) => {
  const api = await startApi({
    lockerOverrides: {
      dirtyRead: () => {
        throw new Error("a bug");
      },
    },
  });
  t.teardown(() => api.close());
  for (let i = 0; i < 30; i++) {
    const r = await call(api, "/v1/keys/k");
    t.is(r.status, 500);
    t.is(r.json.error, "internal");
  }
  t.is(api.logs().filter((l) => l.msg === "internal error serving a request").length, 20);
});
