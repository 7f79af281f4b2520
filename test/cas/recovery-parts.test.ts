// The parts of voter recovery and of the persisted ballot floor, one by one:
// the fence and fenced messages' bounds, Acceptor.fence, the fence server's
// refusals, the floor computed from clocks, PersistedFloor's write-ahead and
// the agent's floor file (durable, corrupt content ignored with a warning).
import test from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Acceptor } from "../../src/cas/acceptor.js";
import { HLC_TICKS_PER_MS, MAX_BALLOT_AHEAD_MS } from "../../src/cas/ballot.js";
import { PersistedFloor } from "../../src/cas/floor-store.js";
import { casCodec, MAX_KEYS_PER_PAGE, MAX_LISTING_PAGES } from "../../src/cas/messages.js";
import { FenceServer, recoveryFloorCounter } from "../../src/cas/recovery.js";
import { ballotFloorFile } from "../../src/agent/state-file.js";
import { LockerError } from "../../src/errors.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";

const WALL = 1_800_000_000_000;
const acceptor = (quietUntil = 0): Acceptor => new Acceptor({ configVersion: 1, quietUntil, gcGraceMs: 10_000, maxKeys: 100 });

test("fence and fenced: pages, page numbers, key counts and ballots are bounded at decode", (t) => {
  const bad: unknown[][] = [
    [9, 1, 5, "n1", 0, MAX_LISTING_PAGES], // page past the bound
    [9, 1, 5, "n1", -1, 0], // negative session
    [9, 1, 2 ** 53 - 1, "n1", 0, 0], // ballot past MAX_BALLOT_COUNTER
    [9, 1, 5, "", 0, 0], // empty node name
    [10, 1, 5, "n1", 1, 2, 2, []], // page not below pages
    [10, 1, 5, "n1", 1, 0, 1, []], // no pages, page ≠ 0
    [10, 1, 5, "n1", 1, MAX_LISTING_PAGES + 1, 0, []],
    [10, 1, 5, "n1", 1, 2, 0, Array.from({ length: MAX_KEYS_PER_PAGE + 1 }, () => "k")],
    [10, 1, 5, "n1", 1, 2, 0, [7]],
  ];
  for (const raw of bad) t.throws(() => casCodec.decode(raw), undefined, JSON.stringify(raw).slice(0, 80));
  t.like(casCodec.decode([10, 1, 5, "n1", 1, 0, 0, []]), { type: "fenced", pages: 0, keys: [] });
});

test("Acceptor.fence: every key's promise and the floor of keys without state rise to it; lower rounds are refused, higher ones go on", (t) => {
  const a = acceptor();
  const b = (c: number, node = "p") => ({ c, node });
  t.is(a.handle({ type: "prepare", cfg: 1, key: "held", ballot: b(100) }, 0, WALL).reply.type, "promise");
  t.is(a.handle({ type: "accept", cfg: 1, key: "held", ballot: b(100), record: null, nextC: 101, origin: null }, 0, WALL).reply.type, "accepted");
  t.true(a.fence(b(1000, "r"), WALL));
  t.deepEqual(a.inspect("held")?.promised, b(1000, "r"));
  // The fast-path promise (nextC 101) is gone, and so is every other ballot below the floor.
  t.like(a.handle({ type: "accept", cfg: 1, key: "held", ballot: b(101), record: null, nextC: null, origin: null }, 0, WALL).reply, { type: "nack", reason: "promised" });
  t.like(a.handle({ type: "prepare", cfg: 1, key: "new", ballot: b(999) }, 0, WALL).reply, { type: "nack", reason: "promised" });
  t.is(a.handle({ type: "prepare", cfg: 1, key: "new", ballot: b(1001) }, 0, WALL).reply.type, "promise");
  // A fence never lowers anything.
  t.true(a.fence(b(10, "r"), WALL));
  t.is(a.floor?.c, 1000);
  // A floor implausibly far ahead of the clock is refused and changes nothing.
  t.false(a.fence(b((WALL + MAX_BALLOT_AHEAD_MS + 10_000) * HLC_TICKS_PER_MS), WALL));
  t.is(a.floor?.c, 1000);
});

test("the floor is above the wall clock and the HLC by the skew margin; a fenced voter raises a floor asked for by a slow clock to its own", (t) => {
  t.is(recoveryFloorCounter(WALL, 0, 2000), (WALL + 2001) * HLC_TICKS_PER_MS);
  t.is(recoveryFloorCounter(WALL, (WALL + 5000) * HLC_TICKS_PER_MS, 2000), (WALL + 7001) * HLC_TICKS_PER_MS);
  const clock = new VirtualClock();
  const server = new FenceServer({ clock, random: new SeededRandom(1), maxClockSkewMs: 2000, maxLeaseMs: 60_000, pageBudgetBytes: 100 });
  const a = acceptor();
  for (let i = 0; i < 30; i++) a.handle({ type: "prepare", cfg: 1, key: `key-${i}`, ballot: { c: 5, node: "p" } }, 0, clock.wallNow());
  const slow = { c: 1, node: "r" }; // the restarted voter's clock is far behind
  const { reply, floor } = server.serve({ type: "fence", cfg: 1, floor: slow, session: 0, page: 0 }, a, 1, 0);
  t.true(floor!.c >= recoveryFloorCounter(clock.wallNow(), 0, 2000));
  t.is(reply.floor.c, floor!.c);
  t.true(reply.pages > 1, "30 keys do not fit one 100-byte page");
  const keys = [...reply.keys];
  for (let p = 1; p < reply.pages; p++) keys.push(...server.serve({ type: "fence", cfg: 1, floor: slow, session: reply.session, page: p }, a, 1, 0).reply.keys);
  t.is(new Set(keys).size, 30);
  // Refusals: another configuration, a quiet voter, no acceptor, an unknown session.
  const refused = (f: () => unknown, re: RegExp): void => {
    const e = t.throws(f, { instanceOf: LockerError });
    t.regex(e!.message, re);
  };
  refused(() => server.serve({ type: "fence", cfg: 2, floor: slow, session: 0, page: 0 }, a, 1, 0), /runs configuration 1/);
  refused(() => server.serve({ type: "fence", cfg: 1, floor: slow, session: 0, page: 0 }, acceptor(1e9), 1, 0), /own quiet period/);
  refused(() => server.serve({ type: "fence", cfg: 1, floor: slow, session: 0, page: 0 }, null, 1, 0), /not a voter/);
  refused(() => server.serve({ type: "fence", cfg: 1, floor: slow, session: 12345, page: 1 }, a, 1, 0), /unknown or expired/);
});

test("PersistedFloor writes ahead: one write covers a second of ballot time; a restart reads it back", (t) => {
  let disk: number | undefined;
  const saves: number[] = [];
  const store = { load: () => disk, save: (c: number) => void (saves.push(c), (disk = c)) };
  const f = new PersistedFloor(store);
  t.is(f.value, 0);
  const base = WALL * HLC_TICKS_PER_MS;
  for (let ms = 0; ms < 2500; ms += 10) f.cover(base + ms * HLC_TICKS_PER_MS);
  t.is(f.writes, 3, `saves ${saves.join(", ")}`);
  t.true(disk! >= base + 2490 * HLC_TICKS_PER_MS);
  t.is(new PersistedFloor(store).value, disk!);
});

test("the agent's floor file: written durably, read back, absent or corrupt reads as none (with a warning for corrupt)", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "floor-test-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const warnings: string[] = [];
  const store = ballotFloorFile(dir, "n/1", (m) => warnings.push(m))!;
  t.is(store.load(), undefined);
  store.save(1_843_200_000_000_123);
  t.is(store.load(), 1_843_200_000_000_123);
  writeFileSync(join(dir, `${encodeURIComponent("n/1")}.floor`), "not a number\n");
  t.is(store.load(), undefined);
  t.regex(warnings.join(), /does not hold a ballot counter/);
  t.is(ballotFloorFile("", "n1", () => {}), undefined, "--data-dir '' keeps nothing");
});
