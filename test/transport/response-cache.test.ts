// The response cache's bounds: entries expire after the TTL, the oldest go
// first past the size bound, and a key set again is aged from its last set.
import test from "ava";
import fc from "fast-check";
import { ResponseCache } from "../../src/transport/response-cache.js";

const done = (n: number) => ({ state: "done" as const, datagramFrame: new Uint8Array([n]) });

test("entries expire after the TTL", (t) => {
  const c = new ResponseCache(100, 10);
  c.set("a", done(1), 0);
  t.deepEqual(c.get("a", 99), done(1));
  t.is(c.get("a", 100), undefined);
  t.is(c.size, 0);
});

test("past the size bound the oldest entries are evicted first", (t) => {
  const c = new ResponseCache(1_000_000, 3);
  for (let i = 0; i < 5; i++) c.set(`k${i}`, done(i), i);
  t.is(c.size, 3);
  t.is(c.get("k0", 10), undefined);
  t.is(c.get("k1", 10), undefined);
  t.deepEqual(c.get("k4", 10), done(4));
});

test("a key set again (running, then done) is aged from its last set", (t) => {
  const c = new ResponseCache(100, 1000);
  c.set("a", { state: "running" }, 0);
  c.set("b", done(2), 50);
  c.set("a", done(1), 60);
  c.set("c", done(3), 155); // evicts b (expired at 150), keeps a (expires at 160)
  t.is(c.get("b", 155), undefined);
  t.deepEqual(c.get("a", 155), done(1));
  t.is(c.get("a", 160), undefined);
});

test("model: matches a plain map with TTL and oldest-first bound", (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom("set", "get", "delete"), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 30 })), { maxLength: 300 }),
      (ops) => {
        const ttl = 50;
        const max = 8;
        const c = new ResponseCache(ttl, max);
        // Model: key → [value, expiresAt, order of last set]
        const m = new Map<string, { v: number; exp: number }>();
        let now = 0;
        for (const [op, k, dt] of ops) {
          now += dt;
          const key = `k${k}`;
          if (op === "set") {
            m.delete(key);
            m.set(key, { v: k + now, exp: now + ttl });
            c.set(key, done(k + now), now);
            // evict oldest first while expired or over the bound
            for (const [mk, e] of m) {
              if (m.size > max || e.exp <= now) m.delete(mk);
              else break;
            }
          } else if (op === "get") {
            const e = m.get(key);
            const want = e && e.exp > now ? done(e.v) : undefined;
            if (e && e.exp <= now) m.delete(key);
            const got = c.get(key, now);
            if (JSON.stringify(got) !== JSON.stringify(want)) return false;
          } else {
            m.delete(key);
            c.delete(key);
          }
          if (c.size > max) return false;
        }
        return true;
      },
    ),
  );
  t.pass();
});
