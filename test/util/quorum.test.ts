// whenQuorum: resolves at the need-th success, fails as soon as the rest
// cannot reach it, ignores what arrives after, and never leaves a rejection unhandled.
import test from "ava";
import fc from "fast-check";
import { whenQuorum } from "../../src/util/quorum.js";

function deferred<T>(): { p: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const p = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { p, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test("resolves at the need-th counted success, before the others answer", async (t) => {
  const ds = [deferred<boolean>(), deferred<boolean>(), deferred<boolean>()];
  let settled: number | undefined;
  void whenQuorum(
    ds.map((d) => d.p),
    2,
    (r) => r,
    () => new Error("short"),
  ).then((n) => (settled = n));
  ds[0]!.resolve(true);
  ds[1]!.resolve(false); // answered, but does not count
  await tick();
  t.is(settled, undefined);
  ds[2]!.resolve(true);
  await tick();
  t.is(settled, 2);
});

test("fails as soon as too few are left, with the count so far", async (t) => {
  const ds = [deferred<boolean>(), deferred<boolean>(), deferred<boolean>()];
  const p = whenQuorum(
    ds.map((d) => d.p),
    2,
    (r) => r,
    (ok) => new Error(`only ${ok}`),
  );
  ds[0]!.resolve(true);
  ds[1]!.reject(new Error("lost"));
  ds[2]!.resolve(false);
  await t.throwsAsync(p, { message: "only 1" });
});

test("need 0 resolves at once and swallows later rejections", async (t) => {
  const d = deferred<boolean>();
  t.is(await whenQuorum([d.p], 0, () => true, () => new Error("short")), 0);
  d.reject(new Error("late")); // would be an unhandled rejection, failing the test run
  await tick();
  t.pass();
});

test("property: resolves exactly when at least `need` attempts count, else rejects", async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.constantFrom("yes", "no", "fail"), { maxLength: 9 }), fc.integer({ min: 1, max: 9 }), async (outcomes, need) => {
      const attempts = outcomes.map((o) => (o === "fail" ? Promise.reject(new Error("x")) : Promise.resolve(o === "yes")));
      const yes = outcomes.filter((o) => o === "yes").length;
      const r = await whenQuorum(attempts, need, (v) => v, () => new Error("short")).then(
        () => "ok",
        () => "short",
      );
      return r === (yes >= need ? "ok" : "short");
    }),
    { seed: 14, numRuns: 300 },
  );
  t.pass();
});
