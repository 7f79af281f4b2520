// The agent on loopback as a newcomer runs it: the HTTP API answers while an
// `--expect` bootstrap waits (and says for what), the README's seed restarted
// with its own command rejoins, and a non-loopback bind without a key is
// refused with the fix named.
import test from "ava";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, eventually, freePort, ready, request, spawnAgent, tempDir, type AgentProcess } from "./harness.js";

test("--expect 3: the HTTP API answers from the start and says what the bootstrap waits for", async (t) => {
  const dir = tempDir("expect-wait");
  const agents: AgentProcess[] = [];
  t.teardown(async () => {
    await Promise.all(agents.map((a) => a.kill()));
    dir.remove();
  });
  const seedPort = await freePort();
  const a = await spawnAgent({ name: "ea", udpPort: seedPort, args: ["--expect", "3", "--data-dir", dir.path] });
  agents.push(a);
  const health = await eventually("health while bootstrapping", async () => {
    const r = await request(a.http, "GET", "/v1/health");
    return r.status === 200 ? r.json : undefined;
  });
  t.is(health.ready, false);
  t.regex(String(health.reason), /^bootstrapping: 1 of 3 expected members visible/);
  const write = await request(a.http, "PUT", "/v1/keys/k", { value: "v", leaseMs: 5000 });
  t.is(write.status, 503);
  t.regex(String(write.json.message), /starting: bootstrapping/);
  const st = await cli(["status"], { http: a.http });
  t.regex(st.stdout + st.stderr, /bootstrapping: 1 of 3 expected/);
  for (const n of ["eb", "ec"]) agents.push(await spawnAgent({ name: n, args: ["--expect", "3", "--join", `127.0.0.1:${seedPort}`, "--data-dir", dir.path] }));
  await Promise.all(agents.map((x) => ready(x)));
  const lock = await request(agents[2]!.http, "PUT", "/v1/keys/k", { value: "v", leaseMs: 5000 });
  t.is(lock.status, 200, lock.text);
  t.is((await request(a.http, "GET", "/v1/keys/k?consistent=true")).json.value, "v");
});

test("the README's 3-node example: the seed (no --join) stopped with Ctrl-C and restarted with the same command is alive everywhere again", async (t) => {
  const dir = tempDir("readme-restart");
  const agents: AgentProcess[] = [];
  t.teardown(async () => {
    await Promise.all(agents.map((a) => a.kill()));
    dir.remove();
  });
  const ports = await Promise.all([0, 1, 2].map(async () => ({ udp: await freePort(), http: await freePort() })));
  const voters = ["--voters", "r-n1,r-n2,r-n3", "--data-dir", dir.path, "--max-lease", "2s"];
  const join = ["--join", `127.0.0.1:${ports[0]!.udp}`];
  const startN1 = () => spawnAgent({ name: "r-n1", udpPort: ports[0]!.udp, httpPort: ports[0]!.http, args: voters });
  agents.push(await startN1());
  agents.push(await spawnAgent({ name: "r-n2", udpPort: ports[1]!.udp, httpPort: ports[1]!.http, args: [...voters, ...join] }));
  agents.push(await spawnAgent({ name: "r-n3", udpPort: ports[2]!.udp, httpPort: ports[2]!.http, args: [...voters, ...join] }));
  await Promise.all(agents.map((a) => ready(a)));
  // Let the members file be written (every 5 s, and on a graceful stop).
  const first = agents[0]!;
  t.is((await first.kill("SIGINT")).code, 0);
  const t0 = Date.now();
  const again = await startN1();
  agents[0] = again;
  const states = async (via: AgentProcess): Promise<string | undefined> => {
    const r = await request(via.http, "GET", "/v1/members");
    const m = (r.json.members as { name: string; state: string }[] | undefined)?.find((x) => x.name === "r-n1");
    return m?.state;
  };
  await eventually("r-n1 alive in every view", async () => ((await Promise.all(agents.map(states))).every((s) => s === "alive") ? true : undefined), 20_000);
  const ms = Date.now() - t0;
  t.log(`r-n1 alive everywhere ${ms} ms after its restart`);
  t.true(ms < 10_000, `alive everywhere within a few seconds (took ${ms} ms)`);
});

test("a non-loopback bind without a key is refused (exit 2) and names the fix; a loose key file too; a mode-600 key file or --insecure starts it", async (t) => {
  const refused = await cli(["agent", "--bind", "0.0.0.0:0", "--http", "127.0.0.1:0", "--data-dir", ""]);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /refusing to bind 0\.0\.0\.0:0 without a key.*locker keygen.*--encrypt-file.*--insecure/s);
  const dir = tempDir("keyfile");
  t.teardown(() => dir.remove());
  const keyFile = join(dir.path, "key");
  writeFileSync(keyFile, (await cli(["keygen"])).stdout);
  chmodSync(keyFile, 0o644);
  const loose = await cli(["agent", "--bind", "0.0.0.0:0", "--encrypt-file", keyFile, "--data-dir", ""]);
  t.is(loose.code, 2);
  t.regex(loose.stderr, /readable by other users.*chmod 600/);
  chmodSync(keyFile, 0o600);
  const port = await freePort();
  for (const args of [["--encrypt-file", keyFile], ["--insecure"]]) {
    const a = await spawnAgent({ args: ["--bind", `0.0.0.0:${port}`, "--advertise", "127.0.0.1", "--data-dir", join(dir.path, args[0]!), ...args] });
    t.teardown(() => a.kill());
    await ready(a);
    const members = (await request(a.http, "GET", "/v1/members")).json.members as { address: string }[];
    t.is(members[0]!.address, `127.0.0.1:${port}`, "the advertised address is gossiped, never 0.0.0.0");
    t.is((await a.kill("SIGINT")).code, 0);
  }
});

test("a second live node with a taken name is refused: it exits 1 with a clear error, the others warn, the address does not flip", async (t) => {
  const dir = tempDir("dup-name");
  const agents: AgentProcess[] = [];
  t.teardown(async () => {
    await Promise.all(agents.map((a) => a.kill()));
    dir.remove();
  });
  const seed = await freePort();
  const common = ["--voters", "x1,x2", "--data-dir", dir.path];
  agents.push(await spawnAgent({ name: "x1", udpPort: seed, args: common }));
  agents.push(await spawnAgent({ name: "x2", args: [...common, "--join", `127.0.0.1:${seed}`] }));
  await Promise.all(agents.map((a) => ready(a)));
  const impostor = await spawnAgent({ name: "x2", args: [...common, "--join", `127.0.0.1:${seed}`, "--data-dir", join(dir.path, "other")] });
  agents.push(impostor);
  const exit = await Promise.race([impostor.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000))]);
  t.truthy(exit, "the impostor stopped by itself");
  t.is(exit!.code, 1);
  t.regex(impostor.output(), /another live node is named x2 at 127\.0\.0\.1:\d+ .*give this node another --name/);
  const view = (await request(agents[0]!.http, "GET", "/v1/members")).json.members as { name: string; address: string; state: string }[];
  t.deepEqual(view.find((m) => m.name === "x2"), { ...view.find((m) => m.name === "x2")!, address: agents[1]!.udp, state: "alive" });
  t.regex(agents[0]!.output() + agents[1]!.output(), /duplicate name x2: two live nodes claim it/);
});
