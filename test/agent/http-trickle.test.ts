// Slow-loris: 1,000 connections sending a body one byte at a time must not
// lock other clients out (measured before the fix: every new client was shut
// out for 44 s and the log got 4,096 "internal error" lines).
import test from "ava";
import { BODY_TIMEOUT_MS, MAX_CONNECTIONS_PER_SOURCE } from "../../src/agent/http/limits.js";
import { call, rawJson, rawStatus, startApi, trickler, until, type Api, type Trickler } from "./http-fixture.js";

const TRICKLERS = 1_000;
/** Each trickler sends a byte this often: well inside the idle deadline, so only the total one ends them. */
const TICK_MS = 500;

function startTicking(list: Trickler[]): () => void {
  const timer = setInterval(() => {
    for (const t of list) if (t.socket.writable) t.socket.write("1");
  }, TICK_MS);
  return () => clearInterval(timer);
}

/** Sequential requests from a fresh source; the latency of each, in ms. */
async function probe(api: Api, localAddress: string, n: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = i % 2 === 0 ? await call(api, "/v1/health", { localAddress, timeoutMs: 5000 }) : await call(api, `/v1/keys/probe-${i}`, { method: "PUT", body: { value: i, leaseMs: 5000 }, localAddress, timeoutMs: 5000 });
    ms.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`probe ${i}: ${r.status} ${r.text}`);
  }
  return ms;
}

const summary = (ms: number[]): string => {
  const s = [...ms].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(1)} ms, max ${s[s.length - 1]!.toFixed(1)} ms over ${s.length} requests`;
};

test.serial("1,000 trickling bodies from 8 sources: a new client is served at once; each trickler gets 408 at the body deadline", async (t) => {
  const api = await startApi();
  t.teardown(() => api.close());
  const list: Trickler[] = [];
  for (let i = 0; i < TRICKLERS; i++) list.push(trickler(api, `127.0.1.${1 + (i % 8)}`));
  const stop = startTicking(list);
  t.teardown(stop);
  t.teardown(() => list.forEach((x) => x.socket.destroy()));
  const t0 = performance.now();
  await until("all tricklers admitted", () => api.server.stats().open >= TRICKLERS);
  t.is(api.server.stats().refusedGlobal + api.server.stats().refusedPerSource, 0, "125 per source: all admitted");

  const ms = await probe(api, "127.0.0.2", 20);
  t.log(`new client while ${TRICKLERS} bodies trickle: ${summary(ms)}`);
  t.true(Math.max(...ms) < 2000, summary(ms));

  const answers = await Promise.all(list.map((x) => x.done));
  const elapsed = performance.now() - t0;
  t.log(`all ${TRICKLERS} tricklers cut off after ${(elapsed / 1000).toFixed(1)} s (body deadline ${BODY_TIMEOUT_MS / 1000} s)`);
  // From the first connect: opening 1,000 connections and writing 1,000 answers on a shared CPU take a few seconds.
  t.true(elapsed < BODY_TIMEOUT_MS + 10_000, `${elapsed} ms`);
  const statuses = new Map<number, number>();
  for (const a of answers) statuses.set(rawStatus(a), (statuses.get(rawStatus(a)) ?? 0) + 1);
  t.deepEqual([...statuses], [[408, TRICKLERS]]);
  t.regex(String(rawJson(answers[0]!)?.message), /not received within/);
  t.false(api.logs().some((l) => (l.level as number) >= 50), "no error lines in the log");
});

test.serial("1,000 trickling bodies from one source: past its cap it is refused at once; other sources are served", async (t) => {
  const api = await startApi();
  t.teardown(() => api.close());
  const list: Trickler[] = [];
  for (let i = 0; i < TRICKLERS; i++) list.push(trickler(api, "127.0.2.1"));
  const stop = startTicking(list);
  t.teardown(stop);
  t.teardown(() => list.forEach((x) => x.socket.destroy()));
  await until("every trickler admitted or refused", () => api.server.stats().open + api.server.stats().refusedPerSource >= TRICKLERS);
  t.is(api.server.stats().open, MAX_CONNECTIONS_PER_SOURCE);

  const ms = await probe(api, "127.0.0.3", 20);
  t.log(`new client while one source trickles: ${summary(ms)}`);
  t.true(Math.max(...ms) < 2000, summary(ms));

  const answers = await Promise.all(list.map((x) => x.done));
  const counts = { 408: 0, 429: 0, other: 0 };
  for (const a of answers) {
    const s = rawStatus(a);
    if (s === 408 || s === 429) counts[s]++;
    else counts.other++;
  }
  t.log(`from one source: ${counts[408]} cut off at the deadline (408), ${counts[429]} refused at once (429), ${counts.other} without an answer`);
  t.is(counts[408], MAX_CONNECTIONS_PER_SOURCE);
  // A refused connection's 429 is written at once; a client that keeps sending can still lose it to a reset.
  t.true(counts[429] >= (TRICKLERS - MAX_CONNECTIONS_PER_SOURCE) * 0.9, JSON.stringify(counts));
  t.false(api.logs().some((l) => (l.level as number) >= 50), "no error lines in the log");
});
