// The nemesis in CI (issue 11): 5 hosts, real agents, 3 clients per host, a
// short seeded schedule with every kind of fault once (partitions of random
// halves, the holder's host alone, the holder with the majority, one link
// cut, SIGKILL and restart, SIGSTOP past the lease, 20 % loss), then the
// checker over the whole history. `npm run nemesis -- --minutes N --seed S`
// runs a long one.
import { lanTest } from "./lan-ava.js";
import { describeNemesis, runNemesis } from "./nemesis.js";

const SEED = Number(process.env.LOCKER_NEMESIS_SEED ?? 11);

lanTest("nemesis", `nemesis, seed ${SEED}: every fault once on 5 hosts; the history is linearizable, safe windows exclusive, tokens ordered`, { hosts: 5, timeoutMs: 300_000 }, async (t, lan) => {
  const r = await runNemesis(lan, { seed: SEED, durationMs: 60_000, clientsPerHost: 3, log: (l) => t.log(l) });
  t.log(describeNemesis(r));
  const ok = r.history.filter((op) => op.outcome.kind === "ok").length;
  t.true(ok > 100, `the clients got work done (${ok} operations succeeded)`);
  t.true(r.verdict.ok, r.verdict.explanation);
});
