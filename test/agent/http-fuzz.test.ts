// Fuzzed requests at one in-process agent (fast-check, seeded): random
// methods, paths, queries, headers and bodies, some not even valid HTTP. Every
// answer is below 500, every refusal is JSON, nothing hangs, nothing logs an error.
import test from "ava";
import fc from "fast-check";
import net from "node:net";
import { rawJson, startApi, type Api } from "./http-fixture.js";

const SEED = 1313;
/** FUZZ_RUNS=20000 for a longer run; the seed stays fixed, so a failure replays. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 2500);
/** An answer takes milliseconds; this much means the agent hung on the request. */
const HANG_MS = 5_000;

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const anyText = fc.string({ unit: "binary", maxLength: 60 });
const keyish = fc.oneof(fc.constantFrom("k", "jobs%2Fone", "%00x", "%E0%A4%A", "%ED%A0%80", "a/b/c", "", "%", "..", "k".repeat(300)), printable.map(encodeURIComponent), anyText.map((s) => encodeURIComponent(s).slice(0, 300)));

const path = fc.oneof(
  fc.tuple(fc.constantFrom("/v1/keys/", "/v1/voters/", "/v1/keys", "/v1/health", "/v1/status", "/v1/members", "/v1/voters", "/metrics", "/", "/v2/"), keyish, fc.constantFrom("", "/update", "/extend", "/release", "/x")).map(([a, b, c]) => a + b + c),
  printable.map((s) => "/" + s.replace(/[ ?#]/g, "")),
  fc.constantFrom("*", "http://agent/v1/health", "//evil/v1/keys/k", "/v1/keys/k/../../metrics", "/%2e%2e/v1"),
);
const queryPart = fc.oneof(
  fc.constantFrom("wait=present", "wait=released", "wait=sometime", "timeoutMs=0", "timeoutMs=50", "timeoutMs=99999999999999999999", "timeoutMs=-1", "timeoutMs=1e3", "consistent=true", "consistent=maybe", "prefix=p", "prefix=" + "p".repeat(300)),
  fc.tuple(printable, printable).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
);
const query = fc.oneof({ weight: 2, arbitrary: fc.constant("") }, { weight: 1, arbitrary: fc.array(queryPart, { minLength: 1, maxLength: 3 }).map((q) => "?" + q.join("&")) });
// Mostly methods node's parser knows (an unknown one is refused before routing).
const method = fc.oneof({ weight: 8, arbitrary: fc.constantFrom("GET", "GET", "PUT", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE") }, { weight: 1, arbitrary: token });
const jsonBody = fc.oneof(
  fc.record({ value: fc.jsonValue({ maxDepth: 3 }), leaseMs: fc.oneof(fc.integer({ min: -10, max: 70_000 }), fc.double(), fc.string()) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  fc.record({ expected: fc.jsonValue({ maxDepth: 2 }), value: fc.jsonValue({ maxDepth: 2 }), timeoutMs: fc.oneof(fc.integer({ min: -5, max: 200 }), fc.constant(0)) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? "null"),
  fc.constantFrom('{"value": 1e400, "leaseMs": 1000}', '{"value":"\\ud800","leaseMs":1000}', '{"__proto__": {"value": 1}, "leaseMs": 1000}', '{"value": 1, "leaseMs": 1000, "timeoutMs": 1e400}', "[".repeat(5000), '{"a":' + "[".repeat(2000) + "]".repeat(2000) + "}", "", "{"),
  anyText,
);
// Mostly well-formed headers; now and then one that frames the body differently or breaks the syntax.
const header = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom("content-type", "accept", "authorization", "x-fuzz", "expect", "cookie"), printable) },
  { weight: 4, arbitrary: fc.tuple(token, printable) },
  { weight: 1, arbitrary: fc.tuple(token, anyText) },
  { weight: 1, arbitrary: fc.constantFrom<[string, string]>(["transfer-encoding", "chunked"], ["content-length", "-1"], ["content-length", "99999999999999999999"], ["host", ""], ["expect", "100-continue"]) },
);

interface Fuzzed {
  method: string;
  target: string;
  headers: Array<[string, string]>;
  body: string;
  lengthMode: "exact" | "none" | "short" | "long";
  garbage: string | undefined;
}

const request: fc.Arbitrary<Fuzzed> = fc.record({
  method,
  target: fc.tuple(path, query).map(([p, q]) => p + q),
  headers: fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(header, { minLength: 1, maxLength: 4 }) }),
  body: jsonBody,
  lengthMode: fc.constantFrom("exact", "exact", "exact", "none", "short", "long"),
  // Now and then not HTTP at all.
  garbage: fc.oneof({ weight: 15, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: anyText }),
});

function encode(r: Fuzzed): Buffer {
  if (r.garbage !== undefined) return Buffer.from(r.garbage + "\r\n\r\n", "latin1");
  const body = Buffer.from(r.body, "utf8");
  const lines = [`${r.method} ${r.target} HTTP/1.1`, "host: fuzz", ...r.headers.map(([k, v]) => `${k}: ${v}`)];
  if (r.lengthMode === "exact") lines.push(`content-length: ${body.length}`);
  if (r.lengthMode === "short") lines.push(`content-length: ${Math.floor(body.length / 2)}`);
  if (r.lengthMode === "long") lines.push(`content-length: ${body.length + 10}`);
  lines.push("connection: close");
  return Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1"), body]);
}

/** Sends the bytes on a new connection; everything received until the server closes it. */
function exchange(api: Api, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: api.host, port: api.port });
    let text = "";
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer within ${HANG_MS} ms`));
    }, HANG_MS);
    s.on("data", (c: Buffer) => (text += c.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      resolve(text);
    });
    s.write(bytes);
  });
}

test("fuzzed requests get < 500, JSON refusals, no hang and no error log", async (t) => {
  // Short deadlines so that a body shorter than its content-length costs a fraction of a second.
  const api = await startApi({
    limits: { maxTimeoutMs: 200, bodyIdleTimeoutMs: 200, bodyTimeoutMs: 500 },
    server: { limits: { headersTimeoutMs: 500, requestTimeoutMs: 1000, timeoutCheckIntervalMs: 100 } },
  });
  t.teardown(() => api.close());
  const statuses = new Map<number, number>();
  let answered = 0;
  const slow: string[] = [];
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const t0 = performance.now();
      const text = await exchange(api, encode(r));
      const took = performance.now() - t0;
      if (took > 400) slow.push(`${took.toFixed(0)} ms: ${JSON.stringify(encode(r).toString("latin1").slice(0, 160))}`);
      // Skip an interim "100 Continue".
      const reply = text.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, "");
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(reply);
      if (!m) throw new Error(`no HTTP answer to ${JSON.stringify(encode(r).toString("latin1").slice(0, 200))}: ${JSON.stringify(reply.slice(0, 200))}`);
      const status = Number(m[1]);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      answered++;
      // A long-poll that ends without the key changing answers 504 timeout, as documented; any other 5xx is a bug.
      const waitTimedOut = status === 504 && /[?&]wait=/.test(r.target) && (r.method === "HEAD" || rawJson(reply)?.error === "timeout");
      if (status >= 500 && !waitTimedOut) throw new Error(`${status} for ${JSON.stringify(encode(r).toString("latin1").slice(0, 300))}: ${reply.slice(0, 300)}`);
      if (status >= 400 && r.method !== "HEAD") {
        const json = rawJson(reply);
        if (typeof json?.error !== "string" || typeof json.message !== "string") throw new Error(`${status} without a JSON message: ${reply.slice(0, 300)}`);
      }
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  t.log(`${answered} fuzzed requests; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
  t.log(`${slow.length} took over 400 ms (bodies shorter than their content-length, or blank lines: cut at the deadlines)`);
  t.is(answered, RUNS);
  const errors = api.logs().filter((l) => (l.level as number) >= 50);
  t.deepEqual(errors.slice(0, 3), []);
});
