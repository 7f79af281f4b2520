// Issue 10, "Must show", across network namespaces: a node started before
// its seed joins once the seed is up; a second live node claiming a name
// already alive at another address is refused (non-zero exit, clear error)
// and the others warn, never a silent flip of the address.
import { lanTest } from "./lan-ava.js";
import { until, whenAllAlive, whenReady } from "./lan.js";

const FILE = "lan-join";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

lanTest(FILE, "a node started before its seed joins it once the seed is up", { hosts: 2, timeoutMs: 60_000 }, async (t, lan) => {
  const [h1, h2] = [lan.hosts[0]!, lan.hosts[1]!];
  const voters = ["--voters", "h1:7946,h2:7946"];
  const common = ["--bind", "0.0.0.0:7946", "--http", "0.0.0.0:7947", "--insecure", "--data-dir", "data", "--log-level", "info", ...voters];
  const early = h2.start([...common, "--join", `${h1.address}:7946`]);
  // Alone for 6 s: several failed joins (lan profile: 1 s apart, 5 attempts), i.e. past the point where it used to give up.
  await sleep(6000);
  t.true(early.running, `the early node exited while alone: ${JSON.stringify(early.exit)}\n${early.log(10)}`);
  // The seed without --join and without discovery: only the early node's retries can bring them together.
  const seed = h1.start([...common, "--discover=false"]);
  const t0 = Date.now();
  await whenAllAlive([seed, early], ["h1:7946", "h2:7946"], 40_000, 200);
  const ms = Date.now() - t0;
  t.log(`the early node joined ${ms} ms after the seed started`);
  // Bound: the retry backoff doubles from 1 s; after 6 s alone the next wait is at most 8 s; plus process start and one push-pull.
  t.true(ms <= 12_000, `joined ${ms} ms after the seed started (bound 12000 ms)`);
  for (const a of [seed, early]) await whenReady(a, 20_000);
  const lock = await early.http("PUT", "/v1/keys/k", { value: "x", leaseMs: 5000 });
  t.is(lock.status, 200, lock.text);
});

lanTest(FILE, "a duplicate name is refused: the newcomer exits non-zero with a clear error, the others warn, the address does not flip", { hosts: 4, timeoutMs: 80_000 }, async (t, lan) => {
  const cmd = ["--bind", "0.0.0.0:7946", "--http", "0.0.0.0:7947", "--expect", "3", "--insecure", "--data-dir", "data", "--log-level", "info"];
  const agents = lan.hosts.slice(0, 3).map((h) => h.start(cmd));
  for (const a of agents) await whenReady(a, 40_000);
  const names = ["h1:7946", "h2:7946", "h3:7946"];
  await whenAllAlive(agents, names, 30_000);
  // h4 claims h2's name.
  const impostor = lan.hosts[3]!.start([...cmd, "--name", "h2:7946"]);
  const exit = await Promise.race([impostor.exited, sleep(20_000).then(() => undefined)]);
  // Meanwhile nobody may show h2 at h4's address.
  const flips: string[] = [];
  for (const a of agents) {
    const m = (await a.members()).find((x) => x.name === "h2:7946");
    if (m?.address !== `${lan.hosts[1]!.address}:7946`) flips.push(`${a.host.name} shows h2:7946 at ${m?.address} (${m?.state})`);
  }
  t.deepEqual(flips, [], flips.join("; "));
  t.truthy(exit, `the impostor still runs 20 s later:\n${impostor.log(15)}`);
  t.not(exit!.code, 0, `the impostor exited ${JSON.stringify(exit)}`);
  t.regex(impostor.log(30), /name|h2:7946/i, "the newcomer says why");
  const warned = await until(
    "a warning about the duplicate name on an existing member",
    () => (agents.some((a) => /"level":40.*(duplicate|conflict|same name|already)/i.test(a.log(200))) ? true : undefined),
    5000,
    250,
  ).catch(() => false);
  t.true(warned, "no existing member logged a warning about the duplicate name");
  await whenAllAlive(agents, names, 10_000);
  const lock = await agents[1]!.http("PUT", "/v1/keys/k", { value: "x", leaseMs: 5000 });
  t.is(lock.status, 200, `writes after the duplicate was refused: ${lock.text}`);
});
