// Three hosts (network namespaces on one bridge), one agent each, with the
// flags that have always existed: a fixed --bind address per host, --join
// through h1, static --voters. The harness itself is on trial here: per-host
// hostnames and addresses, HTTP from inside each namespace, SIGSTOP/SIGCONT,
// partitions and heal.
import { lanTest } from "./lan-ava.js";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { SUBNET, until, whenAllAlive, whenReady, type Agent } from "./lan.js";

const FILE = "lan-static";
const NAMES = ["h1:7946", "h2:7946", "h3:7946"];
const IP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].find((p) => existsSync(p)) ?? "ip";
/** Link names of the root namespace (others' tests may add theirs meanwhile; ours never appear: p1…, eth0 peers, br0 live elsewhere). */
const rootLinks = (): string[] =>
  execFileSync(IP, ["-o", "link", "show"]).toString().split("\n").map((l) => l.split(": ")[1]?.split("@")[0] ?? "").filter((n) => /^(p\d+|br0)$/.test(n)).sort();
const rootLinksBefore = rootLinks();

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
  // The LAN lives in its namespaces only: no default route, a multicast route, the address on eth0.
  for (const h of lan.hosts) {
    t.is(h.exec(IP, "route", "show", "default").trim(), "", `${h.name} has no default route`);
    t.regex(h.exec(IP, "route", "show"), /^224\.0\.0\.0\/4 dev eth0/m, `${h.name} routes multicast to eth0`);
    t.regex(h.exec(IP, "-4", "addr", "show", "dev", "eth0"), new RegExp(`inet ${h.address.replace(/\./g, "\\.")}/24`));
  }
  t.deepEqual(rootLinks(), rootLinksBefore, "no link was added to the root namespace");
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
