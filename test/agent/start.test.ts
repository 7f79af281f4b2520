// End-to-end: `npm start` alone answers `locker lock` within seconds; SIGTERM
// leaves gracefully with exit 0; a restarted node sits out its quiet period.
import test from "ava";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, eventually, freePort, ready, request, ROOT, spawnAgent, tempDir } from "./harness.js";

test("`npm start` in a fresh checkout answers `locker lock` within seconds", async (t) => {
  const dataDir = tempDir("start");
  const udp = await freePort();
  const http = await freePort();
  const startedAt = Date.now();
  // Exactly `npm start`; the environment only moves it off the default ports and state directory.
  const npm = spawn("npm", ["start", "--silent"], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOCKER_BIND: `127.0.0.1:${udp}`, LOCKER_HTTP: `127.0.0.1:${http}`, LOCKER_DATA_DIR: dataDir.path },
  });
  let out = "";
  npm.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  npm.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  try {
    const lock = await eventually(
      "locker lock to succeed",
      async () => {
        const r = await cli(["lock", "hello", "world", "--lease", "5s"], { http: `127.0.0.1:${http}` });
        if (r.code === 0) return r;
        if (r.code !== 6) throw new Error(`lock failed with ${r.code}: ${r.stderr}`); // 6: not listening yet
        return undefined;
      },
      30_000,
      100,
    );
    const tookMs = Date.now() - startedAt;
    t.log(`npm start → first successful locker lock: ${tookMs} ms`);
    t.regex(lock.stdout.trim(), /^\d+$/);
    t.true(tookMs < 15_000, `took ${tookMs} ms`);
    t.regex(out, /"quietPeriodMs":0/, "a node that never ran needs no quiet period");
  } finally {
    try {
      process.kill(-npm.pid!, "SIGTERM");
    } catch {
      // already gone
    }
    await new Promise((r) => npm.once("close", r));
    dataDir.remove();
  }
});

test("SIGTERM: the agent leaves gracefully (others see it as left) and exits 0", async (t) => {
  const dataDir = tempDir("sigterm");
  const [ua, ub] = [await freePort(), await freePort()];
  const common = ["--voters", "s-a,s-b", "--data-dir", dataDir.path, "--cluster", "sigterm"];
  const a = await spawnAgent({ name: "s-a", udpPort: ua, args: common });
  const b = await spawnAgent({ name: "s-b", udpPort: ub, args: [...common, "--join", `127.0.0.1:${ua}`] });
  try {
    await ready(a);
    await ready(b);
    await eventually("a sees b", async () => {
      const m = (await request(a.http, "GET", "/v1/members")).json.members as Array<{ name: string; state: string }>;
      return m.some((x) => x.name === "s-b" && x.state === "alive") ? true : undefined;
    });
    b.proc.kill("SIGTERM");
    const exit = await b.exited;
    t.is(exit.code, 0, b.output().slice(-2000));
    t.regex(b.output(), /SIGTERM: leaving gracefully/);
    await eventually("a sees b as left", async () => {
      const m = (await request(a.http, "GET", "/v1/members")).json.members as Array<{ name: string; state: string }>;
      return m.some((x) => x.name === "s-b" && x.state === "left") ? true : undefined;
    });
    t.pass();
  } finally {
    await a.kill();
    await b.kill();
    dataDir.remove();
  }
});

test("a restarted node sits out its quiet period (--max-lease) before it votes; settings from a --config file", async (t) => {
  const dataDir = tempDir("quiet");
  const udp = await freePort();
  const configFile = join(dataDir.path, "agent.json");
  writeFileSync(configFile, JSON.stringify({ name: "q1", "max-lease": "2s", logLevel: "debug" }));
  const args = ["--data-dir", dataDir.path, "--config", configFile];
  const first = await spawnAgent({ udpPort: udp, args });
  await ready(first);
  t.is((await request(first.http, "GET", "/v1/status")).json.name, "q1", "the name came from the config file");
  t.is((await cli(["lock", "k", "v", "--lease", "3s"], { http: first.http })).code, 7, "max-lease 2s came from the config file");
  t.is((await cli(["lock", "k", "v", "--lease", "2s"], { http: first.http })).code, 0);
  first.proc.kill("SIGINT");
  t.is((await first.exited).code, 0, "SIGINT leaves gracefully too");

  const restartedAt = Date.now();
  const second = await spawnAgent({ udpPort: udp, args });
  try {
    await eventually("HTTP up", async () => ((await request(second.http, "GET", "/v1/health").catch(() => undefined))?.status === 200 ? true : undefined));
    const early = await cli(["lock", "k", "w", "--lease", "1s"], { http: second.http });
    if (Date.now() - restartedAt < 1500) {
      t.is(early.code, 4, `a lock during the quiet period is refused: ${early.stderr}`);
      t.is((await request(second.http, "GET", "/v1/health")).json.ready, false);
    }
    t.regex(second.output(), /quiet period of 2000 ms/);
    await ready(second, 20_000);
    const readyAfterMs = Date.now() - restartedAt;
    t.true(readyAfterMs >= 1900, `ready after ${readyAfterMs} ms`);
    t.is((await cli(["lock", "k", "w", "--lease", "1s"], { http: second.http })).code, 0);
  } finally {
    await second.kill();
    dataDir.remove();
  }
});
