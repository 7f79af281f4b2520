// Every CAS message of a write must fit one datagram. The Locker refuses a key
// and value that could not (a clear "invalid" naming the size and the limit)
// before it sends anything, and accepts everything that does fit: the quick
// bound it uses for small writes must never let through a write whose
// messages the transport would then refuse mid-round.
import test from "ava";
import fc from "fast-check";
import { createMemoryLockers } from "../../src/locker-cluster.js";
import type { Locker } from "../../src/locker.js";
import { LockerError } from "../../src/errors.js";
import { casCodec, largestWriteMessages } from "../../src/cas/messages.js";
import { encodeValue } from "../../src/cas/value.js";
import { ChannelId } from "../../src/transport/types.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { settle } from "../support/virtual-time.js";

const DATAGRAM_BYTES = 700;

function cluster(seed: number) {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(seed) });
  // Values may be larger than a datagram here, so the datagram is the binding limit.
  const c = createMemoryLockers({
    net,
    count: 3,
    random: new SeededRandom(seed + 1),
    options: { limits: { maxValueBytes: 4000 } },
    transportOptions: { maxDatagramBytes: DATAGRAM_BYTES },
  });
  const [n1, n2] = c.lockers as [Locker, Locker, Locker];
  // The exact measure, on a channel like the Lockers' own: what the quick bound must agree with.
  const channel = net.transport("probe", { maxDatagramBytes: DATAGRAM_BYTES }).channel(ChannelId.cas, casCodec);
  const fits = (key: string, value: unknown): boolean =>
    largestWriteMessages(key, encodeValue(value)).every((m) => channel.encodedSize(m) <= channel.maxMessageBytes);
  return { clock, n1, n2, fits };
}

type Outcome = "held" | "refused";

/** Locks `key` with `value` on n1, then has n2 contend for it (its promise replies carry the record back). */
async function tryWrite(c: ReturnType<typeof cluster>, key: string, value: string): Promise<Outcome> {
  try {
    await settle(c.clock, c.n1.lock(key, value, { leaseMs: 5000 }));
  } catch (e) {
    if (e instanceof LockerError && e.code === "invalid" && /on the wire; one datagram carries/.test(e.message)) return "refused";
    throw e;
  }
  const other = await settle(c.clock, c.n2.lock(key, "other", { leaseMs: 5000 }).catch((e: unknown) => e));
  if (!(other instanceof LockerError) || other.code !== "locked") throw new Error(`n2 should see the lock held, got ${String(other)}`);
  await settle(c.clock, c.n1.release(key, value));
  return "held";
}

/** The longest ASCII value `key` can carry, found by bisection on real writes. */
async function longestValue(c: ReturnType<typeof cluster>, key: string): Promise<number> {
  let lo = 0;
  let hi = DATAGRAM_BYTES;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if ((await tryWrite(c, key, "v".repeat(mid))) === "held") lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

test("a value too large for one datagram is refused before anything is sent, naming its size and the limit", async (t) => {
  const c = cluster(3);
  const err = await t.throwsAsync(c.n1.lock("k", "v".repeat(DATAGRAM_BYTES), { leaseMs: 5000 }));
  t.true(err instanceof LockerError);
  t.is((err as LockerError).code, "invalid");
  const details = (err as LockerError).details as { size: number; limit: number };
  t.true(details.size > details.limit);
  t.true(details.limit < DATAGRAM_BYTES);
  t.is(c.n1.summary().stats.rounds, 0, "no round ran");
});

test("the largest value that fits is held and contended for; one byte more is refused", async (t) => {
  const c = cluster(5);
  const n = await longestValue(c, "k");
  // The envelope, frame header and the largest ballots take their share; the rest is the value's.
  t.true(n > DATAGRAM_BYTES / 2, `only ${n} bytes of value fit a ${DATAGRAM_BYTES}-byte datagram`);
  t.is(await tryWrite(c, "k", "v".repeat(n)), "held");
  t.is(await tryWrite(c, "k", "v".repeat(n + 1)), "refused");
});

test("property: a write is refused exactly when its largest messages would not fit one datagram", async (t) => {
  const c = cluster(9);
  // Multi-byte keys make the UTF-16 length and the UTF-8 size differ.
  const keyChar = fc.constantFrom("a", "é", "€", "😀");
  await fc.assert(
    fc.asyncProperty(fc.array(keyChar, { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: DATAGRAM_BYTES }), async (chars, length) => {
      const key = chars.join("");
      const value = "v".repeat(length);
      // tryWrite throws if the transport refused a message mid-round.
      return (await tryWrite(c, key, value)) === (c.fits(key, value) ? "held" : "refused");
    }),
    { numRuns: 60, seed: 12 },
  );
  t.pass();
});
