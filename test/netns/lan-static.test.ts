// Three hosts (network namespaces on one bridge), one agent each, with the
// flags that have always existed: a fixed --bind address per host, --join
// through h1, static --voters. The harness itself is on trial here: per-host
// hostnames and addresses, HTTP from inside each namespace, SIGSTOP/SIGCONT,
// partitions and heal.
import { lanTest } from "./lan-ava.js";
import { SUBNET, until, whenAllAlive, whenReady, type Agent } from "./lan.js";

const FILE = "lan-static";
const NAMES = ["h1:7946", "h2:7946", "h3:7946"];

lanTest(FILE, "3 hosts, fixed addresses and --join: real addresses and hostnames, a lock on h1 read on h2, a paused or cut-off host comes back", { hosts: 3, timeoutMs: 110_000 }, async (t, lan) => {
  const [h1, h2, h3] = [lan.hosts[0]!, lan.hosts[1]!, lan.hosts[2]!];
  const agents: Agent[] = lan.hosts.map((h, i) =>
    h.start([
      "--bind", `${h.address}:7946`,
      "--http", "127.0.0.1:7947",
      "--voters", NAMES.join(","),
      ...(i > 0 ? ["--join", `${h1.address}:7946`] : []),
      "--insecure",
      "--data-dir", "data",
      "--log-level", "info",
    ]),
  );
  const started = Date.now();
  for (const a of agents) await whenReady(a, 30_000);
  const views = await whenAllAlive(agents, NAMES, 30_000);
  t.log(`formed in ${Date.now() - started} ms`);
  for (const [observer, members] of views) {
    for (const m of members) {
      const host = m.name.split(":")[0]!;
      t.is(m.address, `${lan.host(host).address}:7946`, `${observer.host.name} shows ${m.name} at ${m.address}`);
      t.true(m.address.startsWith(SUBNET));
    }
  }
  t.is(await agents[1]!.name(), "h2:7946", "the default name is the host's own hostname");

  // A lock taken through h1, read linearizably through h2, released through h1.
  const lock = await agents[0]!.http("PUT", "/v1/keys/job-1", { value: "h1", leaseMs: 10_000 });
  t.is(lock.status, 200, lock.text);
  t.truthy(lock.json.token, lock.text);
  const read = await agents[1]!.http("GET", "/v1/keys/job-1?consistent=true");
  t.is(read.status, 200, read.text);
  t.is(read.json.value, "h1", read.text);
  const release = await agents[0]!.http("POST", "/v1/keys/job-1/release", { value: "h1" });
  t.is(release.status, 200, release.text);

  // SIGSTOP h3 for 2 s (less than any suspicion timeout), SIGCONT: alive everywhere.
  agents[2]!.pause();
  await new Promise((r) => setTimeout(r, 2000));
  agents[2]!.resume();
  await whenAllAlive(agents, NAMES, 20_000);

  // h3 cut off from h1 and h2: the majority still writes; after heal, all alive again.
  lan.partition([h1, h2], [h3]);
  const cut = await h3.request(h1.address, 7946, "GET", "/", undefined, 1000).then(
    () => "reached",
    (e: Error) => e.message,
  );
  t.regex(cut, /no answer/, "h3 cannot reach h1 during the partition");
  const during = await agents[0]!.http("PUT", "/v1/keys/job-2", { value: "h1", leaseMs: 5_000 }, 20_000);
  t.is(during.status, 200, `a write with 2 of 3 voters: ${during.text}`);
  lan.heal();
  const healed = Date.now();
  await whenAllAlive(agents, NAMES, 30_000);
  t.log(`alive everywhere ${Date.now() - healed} ms after heal`);
  const after = await until(
    "a consistent read on h3 after heal",
    async () => {
      const r = await agents[2]!.http("GET", "/v1/keys/job-2?consistent=true");
      return r.status === 200 ? r : undefined;
    },
    15_000,
    500,
  );
  t.is(after.json.value, "h1", after.text);
});
