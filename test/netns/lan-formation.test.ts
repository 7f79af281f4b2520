// Issue 10, "Must show", across network namespaces: the very same command on
// every host (no --join, no addresses), discovery by multicast, one cluster;
// a node stopped with Ctrl-C and restarted with the same command is alive
// everywhere again within seconds; a replica outlives a full restart of the
// voters.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { lanTest } from "./lan-ava.js";
import { SUBNET, until, whenAllAlive, whenReady, type Agent, type Lan } from "./lan.js";

const FILE = "lan-formation";

/** The command run on every voter host, word for word. --max-lease 5s: a restarted voter's quiet period is 5 s. */
const VOTER = ["--bind", "0.0.0.0:7946", "--http", "0.0.0.0:7947", "--expect", "3", "--insecure", "--data-dir", "data", "--max-lease", "5s", "--log-level", "info"];
const REPLICA = [...VOTER, "--replica"];
const nameOf = (hostName: string): string => `${hostName}:7946`;

async function formVoters(t: { log(...a: unknown[]): void }, lan: Lan, count = 3): Promise<Agent[]> {
  const started = Date.now();
  const agents = lan.hosts.slice(0, count).map((h) => h.start(VOTER));
  for (const a of agents) await whenReady(a, 40_000);
  await whenAllAlive(agents, agents.map((a) => nameOf(a.host.name)), 30_000);
  t.log(`${count} voters formed (ready and all alive everywhere) in ${Date.now() - started} ms`);
  return agents;
}

/** Lock through `writer`, linearizable read through each of `readers`, release through `writer`. */
async function lockReadRelease(t: import("ava").ExecutionContext, key: string, writer: Agent, readers: Agent[]): Promise<void> {
  const lock = await until(
    `a lock on ${key} through ${writer.host.name}`,
    async () => {
      const r = await writer.http("PUT", `/v1/keys/${key}`, { value: writer.host.name, leaseMs: 5000 }, 10_000);
      if (r.status === 200) return r;
      if (r.status === 503) throw new Error(`503 ${r.text}`); // quiet period or no quorum yet: retry
      return r;
    },
    20_000,
    500,
  );
  t.is(lock.status, 200, `lock through ${writer.host.name}: ${lock.text}`);
  t.truthy(lock.json.token, lock.text);
  for (const reader of readers) {
    const read = await reader.http("GET", `/v1/keys/${key}?consistent=true`, undefined, 10_000);
    t.is(read.status, 200, `consistent read through ${reader.host.name}: ${read.text}`);
    t.is(read.json.value, writer.host.name, `consistent read through ${reader.host.name}: ${read.text}`);
  }
  const rel = await writer.http("POST", `/v1/keys/${key}/release`, { value: writer.host.name }, 10_000);
  t.is(rel.status, 200, `release: ${rel.text}`);
}

lanTest(FILE, "3 hosts, the same command on each, no --join: one cluster with real addresses; a lock and a consistent read from other hosts", { hosts: 3, timeoutMs: 90_000 }, async (t, lan) => {
  // Two hosts up first: the HTTP API answers while they wait for the third, and says what they wait for.
  const first = lan.hosts.slice(0, 2).map((h) => h.start(VOTER));
  for (const a of first) {
    const h = await until(`${a.host.name}'s /v1/health while bootstrapping`, async () => (await a.health()).ok === true ? await a.health() : undefined, 20_000, 200);
    t.false(h.ready, `${a.host.name} is ready with 2 of the 3 expected: ${JSON.stringify(h)}`);
    t.log(`${a.host.name} while 2 of 3 are up: ${JSON.stringify(h)}`);
    t.true(typeof h.reason === "string" && h.reason.length > 0, `${a.host.name} says why it is not ready: ${JSON.stringify(h)}`);
  }
  const third = lan.hosts[2]!.start(VOTER);
  const agents = [...first, third];
  const t0 = Date.now();
  for (const a of agents) await whenReady(a, 40_000);
  await whenAllAlive(agents, agents.map((a) => nameOf(a.host.name)), 30_000);
  t.log(`ready and all alive everywhere ${Date.now() - t0} ms after the third host started`);
  const views = await whenAllAlive(agents, lan.hosts.map((h) => nameOf(h.name)), 5000);
  for (const [observer, members] of views) {
    t.is(members.length, 3, `${observer.host.name} shows ${JSON.stringify(members)}`);
    for (const m of members) {
      t.false(m.address.startsWith("0.0.0.0") || m.address.startsWith("[::]"), `${observer.host.name} shows ${m.name} at the unspecified ${m.address}`);
      t.is(m.address, `${lan.host(m.name.split(":")[0]!).address}:7946`, `${observer.host.name} shows ${m.name} at ${m.address}`);
      t.true(m.address.startsWith(SUBNET));
    }
  }
  const voters = await agents[0]!.http("GET", "/v1/voters");
  t.deepEqual([...((voters.json.voters as string[] | undefined) ?? [])].sort(), ["h1:7946", "h2:7946", "h3:7946"], voters.text);
  await lockReadRelease(t, "job-a", agents[0]!, [agents[1]!, agents[2]!]);
  await lockReadRelease(t, "job-b", agents[2]!, [agents[0]!]);
});

lanTest(FILE, "SIGINT a node and restart it with the same command: alive everywhere again within seconds", { hosts: 3, timeoutMs: 100_000 }, async (t, lan) => {
  let agents = await formVoters(t, lan);
  const names = lan.hosts.map((h) => nameOf(h.name));
  // Restart the one a seed-based setup would call the seed, then another one.
  for (const i of [0, 1]) {
    const exit = await agents[i]!.stop("SIGINT");
    t.is(exit.code, 0, `${agents[i]!.host.name} exits 0 on SIGINT: ${JSON.stringify(exit)}\n${agents[i]!.log(10)}`);
    // The others saw it go (left), so "alive again" below is news they had to learn.
    const gone = nameOf(agents[i]!.host.name);
    await until(
      `the others to show ${gone} not alive`,
      async () => {
        for (const a of agents.filter((_, j) => j !== i)) if ((await a.members()).find((m) => m.name === gone)?.state === "alive") return undefined;
        return true;
      },
      10_000,
      100,
    );
    const restarted = agents[i]!.restart();
    const t0 = Date.now();
    agents = agents.map((a, j) => (j === i ? restarted : a));
    await whenAllAlive(agents, names, 30_000, 100);
    const ms = Date.now() - t0;
    t.log(`${restarted.host.name} restarted: alive in every view ${ms} ms after its start`);
    // "Within a few seconds": 5 s = process start (≈1 s on a busy 2-core machine) + join through the remembered members or discovery + one gossip round.
    t.true(ms <= 5000, `${restarted.host.name} took ${ms} ms to be alive everywhere again (bound 5000 ms)`);
    await whenReady(restarted, 20_000); // past its 5 s quiet period
    await lockReadRelease(t, `after-restart-${i}`, restarted, agents.filter((a) => a !== restarted));
  }
});

lanTest(FILE, "a replica on a 4th host outlives a full restart of the 3 voters", { hosts: 4, timeoutMs: 110_000 }, async (t, lan) => {
  let voters = await formVoters(t, lan);
  const replica = lan.hosts[3]!.start(REPLICA);
  const all = lan.hosts.map((h) => nameOf(h.name));
  await whenReady(replica, 30_000);
  await whenAllAlive([...voters, replica], all, 30_000);
  const members = await replica.members();
  t.is(members.find((m) => m.name === "h4:7946")?.role, "replica", JSON.stringify(members));
  await lockReadRelease(t, "before", voters[0]!, [replica]);

  // All voters stopped with Ctrl-C at once, then started again with the same command.
  const exits = await Promise.all(voters.map((v) => v.stop("SIGINT")));
  t.deepEqual(exits.map((e) => e.code), [0, 0, 0], JSON.stringify(exits));
  voters = voters.map((v) => v.restart());
  const t0 = Date.now();
  await whenAllAlive([...voters, replica], all, 45_000, 200);
  const ms = Date.now() - t0;
  t.log(`after the full restart, all 4 alive in every view ${ms} ms after the voters' start`);
  // Bound: process start + join through the remembered members (the replica among them) + the
  // replica's own retry of dead/left members (reconnect, lan profile: every 10 s) + slack.
  t.true(ms <= 15_000, `the replica took ${ms} ms to be alive in every view again (bound 15000 ms)`);
  for (const v of voters) await whenReady(v, 30_000);
  // Writes through a voter, linearizable reads through the replica, and its local copy follows.
  await lockReadRelease(t, "after", voters[1]!, [replica, voters[2]!]);
  const w = await voters[0]!.http("PUT", "/v1/keys/follow", { value: "v1", leaseMs: 5000 });
  t.is(w.status, 200, w.text);
  const local = await until(
    "the replica's local copy to show the new key",
    async () => {
      const r = await replica.http("GET", "/v1/keys/follow");
      return r.status === 200 && r.json.value === "v1" ? r : undefined;
    },
    5000,
    100,
  );
  t.is(local.json.value, "v1");
});

lanTest(FILE, "sealed: the same command with --encrypt-file forms by discovery; a host without the key is not admitted", { hosts: 4, timeoutMs: 90_000 }, async (t, lan) => {
  const key = randomBytes(32).toString("base64");
  for (const h of lan.hosts.slice(0, 3)) writeFileSync(join(h.dir, "key"), key + "\n", { mode: 0o600 });
  const sealed = ["--bind", "0.0.0.0:7946", "--http", "0.0.0.0:7947", "--expect", "3", "--encrypt-file", "key", "--data-dir", "data", "--log-level", "info"];
  const agents = lan.hosts.slice(0, 3).map((h) => h.start(sealed));
  for (const a of agents) await whenReady(a, 40_000);
  const names = agents.map((a) => nameOf(a.host.name));
  await whenAllAlive(agents, names, 30_000);
  // An unsealed agent on the same LAN (its beacons and datagrams unsealed, theirs unreadable to it).
  const outsider = lan.hosts[3]!.start(["--bind", "0.0.0.0:7946", "--http", "0.0.0.0:7947", "--insecure", "--data-dir", "data", "--log-level", "info"]);
  await until(`${outsider.host.name}'s HTTP API`, async () => ((await outsider.health()).ok === true ? true : undefined), 20_000, 200);
  await new Promise((r) => setTimeout(r, 5000));
  for (const a of agents) {
    const ms = await a.members();
    t.false(ms.some((m) => m.name === "h4:7946"), `${a.host.name} admitted the unsealed h4: ${JSON.stringify(ms)}`);
  }
  const theirs = await outsider.members();
  t.deepEqual(theirs.filter((m) => m.state === "alive").map((m) => m.name), ["h4:7946"], `the outsider sees ${JSON.stringify(theirs)}`);
  await lockReadRelease(t, "sealed", agents[0]!, [agents[2]!]);
});
