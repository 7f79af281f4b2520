// Liveness with a voter that crashed but is not yet known dead: a round that
// meets a higher ballot must not wait for the silent voter until its budget
// ends. The loser of a contended lock hears "locked" within milliseconds.
import test from "ava";
import { createMemoryLockers } from "../../src/locker-cluster.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { runFor } from "../support/virtual-time.js";

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  test(`two concurrent locks with a silent voter: one wins, the other is told locked at once (seed ${seed})`, async (t) => {
    const clock = new VirtualClock();
    const net = new MemoryNetwork({ clock, random: new SeededRandom(seed) });
    const c = createMemoryLockers({ net, count: 3, random: new SeededRandom(seed + 1000), options: { maxLeaseMs: 10_000 } });
    await runFor(clock, 10);
    net.crash("n3");
    const t0 = clock.now();
    const res: string[] = [];
    const a = c.lockers[0]!.lock("k", "a", { leaseMs: 2000, timeoutMs: 2000 }).then(() => res.push(`a ok ${clock.now() - t0}`), (e) => res.push(`a ${e.code} ${clock.now() - t0}`));
    const b = c.lockers[1]!.lock("k", "b", { leaseMs: 2000, timeoutMs: 2000 }).then(() => res.push(`b ok ${clock.now() - t0}`), (e) => res.push(`b ${e.code} ${clock.now() - t0}`));
    await runFor(clock, 2500);
    await Promise.all([a, b]);
    t.log(res.join(" | "));
    t.true(res.some((r) => / ok /.test(r)));
    const loser = res.find((r) => / locked /.test(r));
    t.truthy(loser, "the loser is told locked, not no_quorum after its whole budget");
    t.true(Number(loser!.split(" ").pop()) < 500, `the loser waited ${loser}`);
  });
}
