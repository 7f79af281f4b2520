// Key rotation across a live 3-agent cluster through the HTTP API, under
// constant lock traffic: no operation lost, no restart; a node restarted with
// its original command comes back with the rotated keyring from its data dir.
import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, eventually, freePort, ready, request, spawnAgent, tempDir, type AgentProcess } from "./harness.js";

test("install, use, remove a key on every agent under lock traffic; a restarted agent keeps the rotated keyring", async (t) => {
  t.timeout(120_000);
  const dir = tempDir("keyring");
  const agents: AgentProcess[] = [];
  t.teardown(async () => {
    await Promise.all(agents.map((a) => a.kill()));
    dir.remove();
  });
  const key1 = (await cli(["keygen"])).stdout.trim();
  const key2 = (await cli(["keygen"])).stdout.trim();
  const keyFile = join(dir.path, "locker.key");
  writeFileSync(keyFile, key1 + "\n", { mode: 0o600 });
  const ports = await Promise.all([0, 1, 2].map(async () => ({ udp: await freePort(), http: await freePort() })));
  const names = ["k1", "k2", "k3"];
  const start = (i: number) =>
    spawnAgent({
      name: names[i]!,
      udpPort: ports[i]!.udp,
      httpPort: ports[i]!.http,
      args: ["--voters", names.join(","), "--encrypt-file", keyFile, "--data-dir", join(dir.path, "data"), "--max-lease", "2s", ...(i ? ["--join", `127.0.0.1:${ports[0]!.udp}`] : [])],
    });
  for (let i = 0; i < 3; i++) agents.push(await start(i));
  await Promise.all(agents.map((a) => ready(a)));

  let running = true;
  let ok = 0;
  const failed: string[] = [];
  const traffic = (async () => {
    for (let i = 0; running && i < 5000; i++) {
      const via = agents[1 + (i % 2)]!;
      const lock = await request(via.http, "PUT", `/v1/keys/rot-${i % 5}`, { value: `v${i}`, leaseMs: 2000 });
      const release = await request(via.http, "POST", `/v1/keys/rot-${i % 5}/release`, { value: `v${i}` });
      if (lock.status === 200 && release.status === 200) ok++;
      else failed.push(`${lock.status} ${lock.text} / ${release.status} ${release.text}`);
    }
  })();
  const admin = agents[0]!.http;
  for (const [op, key] of [["install", key2], ["use", key2], ["remove", key1]] as const) {
    await new Promise((r) => setTimeout(r, 300));
    const r = await request(admin, "POST", `/v1/keyring/${op}`, { key });
    t.is(r.status, 200, `${op}: ${r.text}`);
    t.is(r.json.ok, 3, `${op} reached every agent`);
  }
  await new Promise((r) => setTimeout(r, 300));
  running = false;
  await traffic;
  t.log(`${ok} lock+release cycles over HTTP during the rotation, ${failed.length} failed`);
  t.deepEqual(failed, []);
  t.true(ok > 10);
  const list = await request(admin, "GET", "/v1/keyring");
  t.is(list.status, 200);
  t.deepEqual((list.json.keys as { installed: number; primary: number }[]).map((k) => [k.installed, k.primary]), [[3, 3]], "one key, primary everywhere");

  // The same through the CLI.
  const listed = await cli(["keyring", "list"], { http: admin });
  t.is(listed.code, 0, listed.stderr);
  t.regex(listed.stdout, /3 of 3 members answered/);
  t.regex(listed.stdout, /[0-9a-f]{16}\s+3\s+3/);
  const usage = await cli(["keyring", "use"], { http: admin });
  t.is(usage.code, 2);
  t.regex(usage.stderr, /needs a KEY/);

  // Restart k3 with its original command (its --encrypt-file still holds the removed key).
  t.is((await agents[2]!.kill("SIGINT")).code, 0);
  agents[2] = await start(2);
  await eventually(
    "k3 alive again in k1's view",
    async () => {
      const m = ((await request(admin, "GET", "/v1/members")).json.members as { name: string; state: string }[]).find((x) => x.name === "k3");
      return m?.state === "alive" ? true : undefined;
    },
    20_000,
  );
  const bad = await request(admin, "POST", "/v1/keyring/install", { key: "not-a-key" });
  t.is(bad.status, 400);
  t.regex(String(bad.json.message), /base64 32-byte key/);
});
