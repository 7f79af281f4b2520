// Encrypted gossip end to end: agents sharing a key form a cluster and take
// locks; an agent with another key is never admitted, and its datagrams are
// dropped and counted as unopenable.
import test from "ava";
import { cli, eventually, request, startCluster, spawnAgent, tempDir } from "./harness.js";

test("agents with one --encrypt key form a cluster; a node with another key cannot join", async (t) => {
  const keygen = await cli(["keygen"]);
  t.is(keygen.code, 0);
  const key = keygen.stdout.trim();
  t.is(Buffer.from(key, "base64").length, 32);
  const cluster = await startCluster("enc", 3, ["--encrypt", key]);
  t.teardown(() => cluster.stop());
  const [n1, n2] = cluster.agents as [(typeof cluster.agents)[0], (typeof cluster.agents)[0]];
  const lock = await request(n1.http, "PUT", "/v1/keys/sealed", { value: "yes", leaseMs: 5000 });
  t.is(lock.status, 200, lock.text);
  const read = await request(n2.http, "GET", "/v1/keys/sealed?consistent=true");
  t.is(read.json.value, "yes");

  const other = (await cli(["keygen"])).stdout.trim();
  t.not(other, key);
  const dir = tempDir("enc-intruder");
  t.teardown(() => dir.remove());
  const intruder = await spawnAgent({
    name: "intruder",
    args: ["--voters", "enc-n1,enc-n2,enc-n3", "--join", n1.udp, "--cluster", "enc", "--encrypt", other, "--data-dir", dir.path],
  });
  t.teardown(() => intruder.kill());
  // The intruder's join datagrams reach n1, which cannot open them.
  await eventually("n1 to count unopenable datagrams", async () => {
    const m = await request(n1.http, "GET", "/metrics");
    const line = m.text.split("\n").find((l) => /^locker_datagrams_dropped_total\b/.test(l));
    return line && Number(line.trim().split(/\s+/).pop()) > 0 ? true : undefined;
  }, 30_000);
  const members = await request(n1.http, "GET", "/v1/members");
  t.false((members.json.members as Array<{ name: string }>).some((m) => m.name === "intruder"));
  const bad = await cli(["agent", "--encrypt", "not-a-key"]);
  t.is(bad.code, 2, bad.stderr);
  t.regex(bad.stderr, /--encrypt/);
});
