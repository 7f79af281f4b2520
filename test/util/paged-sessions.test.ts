// Paged listings (snapshots, key listings): pages come back as opened, a
// session lapses ttlMs after its last use, past maxSessions the oldest opened
// goes, and bad session ids or pages get the documented errors.
import test from "ava";
import { isLockerError } from "../../src/errors.js";
import { PagedSessions } from "../../src/util/paged-sessions.js";
import { SeededRandom } from "../../src/util/random.js";

const sessions = (): PagedSessions<string> => new PagedSessions<string>({ random: new SeededRandom(1), ttlMs: 1000, maxSessions: 2, what: "key listing" });

test("pages come back as opened; an empty listing has an empty page 0", (t) => {
  const s = sessions();
  const id = s.open([["a", "b"], ["c"]], 0);
  t.not(id, 0);
  t.deepEqual(s.page(id, 1, 10), { pages: 2, items: ["c"] });
  t.deepEqual(s.page(id, 0, 10), { pages: 2, items: ["a", "b"] });
  const empty = s.open([], 0);
  t.deepEqual(s.page(empty, 0, 10), { pages: 0, items: [] });
  t.true(isLockerError(t.throws(() => s.page(id, 2, 10)), "invalid"));
});

test("a session lapses ttlMs after its last use, not after it was opened", (t) => {
  const s = sessions();
  const id = s.open([["a"]], 0);
  s.page(id, 0, 900);
  t.deepEqual(s.page(id, 0, 1800).items, ["a"]);
  t.true(isLockerError(t.throws(() => s.page(id, 0, 2800)), "not_found"));
});

test("past maxSessions the oldest opened goes first", (t) => {
  const s = sessions();
  const first = s.open([["1"]], 0);
  const second = s.open([["2"]], 1);
  s.page(first, 0, 2); // used, but still the oldest opened
  const third = s.open([["3"]], 3);
  t.is(s.size, 2);
  t.true(isLockerError(t.throws(() => s.page(first, 0, 4)), "not_found"));
  t.deepEqual(s.page(second, 0, 4).items, ["2"]);
  t.deepEqual(s.page(third, 0, 4).items, ["3"]);
});
