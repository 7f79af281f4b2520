// The agent with replicas and with `--expect`: real processes on 127.0.0.1.
// A lock taken on a voter reaches a replica's local copy; a replica writes
// through the voters; `--expect 3` forms one voter set and later nodes join
// as replicas.
import test from "ava";
import { cli, eventually, freePort, ready, request, spawnAgent, startCluster, tempDir, type AgentProcess } from "./harness.js";

test("replicas of a static 3-voter cluster see locks by their local copy and write through the voters", async (t) => {
  const cluster = await startCluster("rep", 3);
  t.teardown(() => cluster.stop());
  const voters = cluster.agents.map((a) => a.name).join(",");
  const replicas: AgentProcess[] = [];
  t.teardown(() => Promise.all(replicas.map((r) => r.kill())));
  for (const name of ["rep-r1", "rep-r2"]) {
    replicas.push(
      await spawnAgent({ name, args: ["--voters", voters, "--replica", "--join", cluster.agents[0]!.udp, "--cluster", "rep", "--data-dir", cluster.dataDir.path] }),
    );
  }
  for (const r of replicas) await ready(r, 60_000);
  const lock = await request(cluster.agents[0]!.http, "PUT", "/v1/keys/shared", { value: "from-voter", leaseMs: 20_000 });
  t.is(lock.status, 200, lock.text);
  for (const r of replicas) {
    const seen = await eventually(`${r.name} to hold the key locally`, async () => {
      const g = await request(r.http, "GET", "/v1/keys/shared");
      return g.status === 200 ? g.json : undefined;
    }, 10_000, 20);
    t.is(seen.value, "from-voter");
    t.is(seen.token, lock.json.token);
  }
  // A write from a replica goes through the voters' quorum.
  const fromReplica = await request(replicas[1]!.http, "PUT", "/v1/keys/by-replica", { value: "r2", leaseMs: 20_000 });
  t.is(fromReplica.status, 200, fromReplica.text);
  const onVoter = await request(cluster.agents[2]!.http, "GET", "/v1/keys/by-replica?consistent=true");
  t.is(onVoter.json.value, "r2");
  const status = await request(replicas[0]!.http, "GET", "/v1/status");
  t.is(status.json.role, "replica");
  t.deepEqual(status.json.voters, cluster.agents.map((a) => a.name));

  // Voter changes through the CLI and HTTP: promote a replica, remove a voter;
  // writes keep succeeding and every node follows the new configuration.
  const promoted = await cli(["promote", "rep-r1", "--json"], { http: cluster.agents[0]!.http, timeoutMs: 120_000 });
  t.is(promoted.code, 0, promoted.stderr);
  t.true((JSON.parse(promoted.stdout).voters as string[]).includes("rep-r1"));
  const removed = await request(cluster.agents[1]!.http, "DELETE", "/v1/voters/rep-n3", undefined, 120_000);
  t.is(removed.status, 200, removed.text);
  t.deepEqual([...(removed.json.voters as string[])].sort(), ["rep-n1", "rep-n2", "rep-r1"]);
  for (const node of [...cluster.agents, ...replicas]) {
    await eventually(`${node.name} to follow the new voters`, async () => {
      const v = await request(node.http, "GET", "/v1/voters");
      return (v.json.voters as string[]).includes("rep-r1") && !(v.json.voters as string[]).includes("rep-n3") ? true : undefined;
    }, 30_000);
  }
  const after = await request(replicas[1]!.http, "PUT", "/v1/keys/after-reconfig", { value: "ok", leaseMs: 5000 });
  t.is(after.status, 200, after.text);
  const shown = await cli(["voters"], { http: replicas[0]!.http });
  t.regex(shown.stdout, /version \d+: .*rep-r1/);
  const bad = await request(cluster.agents[0]!.http, "POST", "/v1/voters/rep-r2");
  t.is(bad.status, 405);
});

test("--expect 3: three agents agree on one voter set; a fourth joins as a replica", async (t) => {
  const dir = tempDir("expect");
  const agents: AgentProcess[] = [];
  t.teardown(async () => {
    await Promise.all(agents.map((a) => a.kill()));
    dir.remove();
  });
  const seedPort = await freePort();
  const seed = `127.0.0.1:${seedPort}`;
  for (let i = 1; i <= 3; i++) {
    agents.push(
      await spawnAgent({
        name: `ex-n${i}`,
        ...(i === 1 ? { udpPort: seedPort } : {}),
        args: ["--expect", "3", "--cluster", "ex", "--data-dir", dir.path, ...(i === 1 ? [] : ["--join", seed])],
      }),
    );
  }
  for (const a of agents) await ready(a, 60_000);
  const sets = await Promise.all(agents.map(async (a) => (await request(a.http, "GET", "/v1/status")).json.voters as string[]));
  for (const s of sets) t.deepEqual([...s].sort(), ["ex-n1", "ex-n2", "ex-n3"]);
  const late = await spawnAgent({ name: "ex-late", args: ["--expect", "3", "--cluster", "ex", "--data-dir", dir.path, "--join", seed] });
  agents.push(late);
  await ready(late, 60_000);
  const st = await request(late.http, "GET", "/v1/status");
  t.is(st.json.role, "replica");
  const lock = await request(late.http, "PUT", "/v1/keys/expect-key", { value: "late", leaseMs: 10_000 });
  t.is(lock.status, 200, lock.text);
});
