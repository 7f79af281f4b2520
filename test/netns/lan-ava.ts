// ava glue for LAN tests: one serial test per LAN, built before and destroyed
// after (also when the test fails), log tails of every agent on failure, a
// visible skip where namespaces cannot be made, and one LAN test file at a
// time on the machine (they measure timings).
import test, { type ExecutionContext } from "ava";
import { acquireLanLock, Lan, lanUnavailableReason, releaseLanLock } from "./lan.js";

export interface LanTestOptions {
  hosts: number;
  /** ava timeout for this test (ms). */
  timeoutMs: number;
}

/** LOCKER_LAN_KEEP_LOGS=1 keeps the agents' logs of passing tests too (they are always kept for failing ones). */
const KEEP_LOGS = process.env.LOCKER_LAN_KEEP_LOGS === "1";

let suiteRegistered = false;

function registerSuite(file: string): string | undefined {
  const reason = lanUnavailableReason();
  if (suiteRegistered) return reason;
  suiteRegistered = true;
  if (reason) {
    console.log(`[skipped] ${file}: multi-host (network namespace) tests need: ${reason}`);
    test(`${file}: multi-host tests skipped`, (t) => {
      t.log(`skipped: ${reason}`);
      t.pass();
    });
    return reason;
  }
  test.before(async (t) => {
    // The longest LAN file takes about 100 s; ava runs two files at once, so one waits for at most one other.
    t.timeout(310_000);
    const l = await acquireLanLock(300_000);
    if (l.waitedMs > 1000) t.log(`waited ${(l.waitedMs / 1000).toFixed(1)} s for another LAN test file to finish`);
    if (!l.acquired) t.log("another LAN test file still runs; going ahead (timings may suffer)");
  });
  test.after.always(() => releaseLanLock());
  return undefined;
}

/** A serial test on a fresh LAN of `hosts` hosts. */
export function lanTest(file: string, title: string, opts: LanTestOptions, body: (t: ExecutionContext, lan: Lan) => Promise<void>): void {
  const reason = registerSuite(file);
  if (reason) {
    test.skip(`${title} (skipped: ${reason})`, () => {});
    return;
  }
  test.serial(title, async (t) => {
    t.timeout(opts.timeoutMs);
    const lan = Lan.create({ hosts: opts.hosts, label: file.replace(/^lan-|\.test\..*$/g, "") });
    let failed = true;
    t.teardown(async () => {
      if (failed) {
        t.log(`agent logs kept in ${lan.dir}; tails:\n${lan.logs(25)}`);
      } else if (KEEP_LOGS) t.log(`agent logs kept in ${lan.dir}`);
      await lan.destroy({ keepLogs: failed || KEEP_LOGS });
    });
    await body(t, lan);
    failed = false;
  });
}
