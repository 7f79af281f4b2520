import test from "ava";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom, shuffle } from "../../src/util/random.js";

test("virtual timers fire in time order, ties in creation order, cancelled ones never", (t) => {
  const clock = new VirtualClock();
  const fired: string[] = [];
  clock.setTimer(10, () => fired.push("b"));
  clock.setTimer(5, () => fired.push("a"));
  clock.setTimer(10, () => fired.push("c"));
  const h = clock.setTimer(7, () => fired.push("never"));
  clock.clearTimer(h);
  clock.runFor(20);
  t.deepEqual(fired, ["a", "b", "c"]);
  t.is(clock.now(), 20);
});

test("a paused node's timers wait for it; a killed node's timers never fire", (t) => {
  const clock = new VirtualClock();
  const node = clock.forNode();
  const dead = clock.forNode();
  const fired: number[] = [];
  node.setTimer(5, () => fired.push(clock.now()));
  dead.setTimer(5, () => fired.push(-1));
  node.pause(50);
  dead.kill();
  clock.runFor(100);
  t.deepEqual(fired, [50]);
});

test("runUntilTrue stops as soon as the predicate holds", (t) => {
  const clock = new VirtualClock();
  let n = 0;
  const tick = (): void => {
    n++;
    clock.setTimer(10, tick);
  };
  tick();
  t.true(clock.runUntilTrue(() => n >= 5, 1000));
  t.is(clock.now(), 40);
  t.false(clock.runUntilTrue(() => n >= 1000, 100));
  t.is(clock.now(), 140);
});

test("seeded random is reproducible and roughly uniform", (t) => {
  const a = new SeededRandom(99);
  const b = new SeededRandom(99);
  const xs = Array.from({ length: 1000 }, () => a.next());
  t.deepEqual(xs, Array.from({ length: 1000 }, () => b.next()));
  t.true(xs.every((x) => x >= 0 && x < 1));
  const buckets = new Array(10).fill(0);
  const r = new SeededRandom(1);
  for (let i = 0; i < 100_000; i++) buckets[r.int(10)]++;
  t.true(buckets.every((c) => c > 9000 && c < 11000));
  t.deepEqual(shuffle([1, 2, 3, 4, 5], new SeededRandom(3)).sort(), [1, 2, 3, 4, 5]);
});
