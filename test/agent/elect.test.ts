// End-to-end: `locker elect` with three candidates on three real agents. One
// leads; killing the leader's agent makes another candidate lead within one
// lease, after the old leader's command was stopped.
import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, eventually, startCli, startCluster, tempDir, type Cluster } from "./harness.js";

let cluster: Cluster;
const work = tempDir("elect-work");

test.before(async () => {
  cluster = await startCluster("elect");
});

test.after.always(async () => {
  await cluster?.stop();
  work.remove();
});

function recorder(file: string): string[] {
  const script = [
    "const fs = require('fs');",
    "const f = process.argv[1];",
    "const me = process.env.LOCKER_VALUE;",
    "fs.appendFileSync(f, `start ${me} ${process.env.LOCKER_TOKEN} ${Date.now()}\\n`);",
    "process.on('SIGTERM', () => { fs.appendFileSync(f, `stopped ${me} ${Date.now()}\\n`); process.exit(0); });",
    "setInterval(() => {}, 1000);",
  ].join(" ");
  return [process.execPath, "-e", script, file];
}

interface Line {
  kind: "start" | "stopped";
  who: string;
  token?: bigint;
  at: number;
}

function lines(file: string): Line[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => {
      const p = l.split(" ");
      return p[0] === "start" ? { kind: "start", who: p[1]!, token: BigInt(p[2]!), at: Number(p[3]) } : { kind: "stopped", who: p[1]!, at: Number(p[2]) };
    });
}

test.serial("elect runs the command while leading and exits with its code, resigning", async (t) => {
  const http = cluster.agents[0]!.http;
  const r = await cli(["elect", "solo", "--lease", "2s", "--", process.execPath, "-e", "console.log(process.env.LOCKER_ELECTION, process.env.LOCKER_TOKEN); process.exit(4)"], { http });
  t.is(r.code, 4, r.stderr);
  t.regex(r.stdout, /^solo \d+/);
  t.regex(r.stderr, /elected leader of solo/);
  const after = await cli(["get", "election/solo", "--consistent"], { http });
  t.is(after.code, 3, "the leadership key was released");
});

test.serial("killing the leader's agent makes another candidate lead within one lease", async (t) => {
  const file = join(work.path, "elect.log");
  writeFileSync(file, "");
  const leaseMs = 3000;
  const candidates = [0, 1, 2].map((i) =>
    startCli(["elect", "scheduler", "--lease", `${leaseMs}ms`, "--id", `c${i + 1}`, "--", ...recorder(file)], { http: cluster.agents[i]!.http }),
  );
  try {
    const first = await eventually("a leader", async () => lines(file).find((l) => l.kind === "start"));
    // Give the others time to (wrongly) start too; exactly one runs.
    await new Promise((r) => setTimeout(r, 1500));
    t.is(lines(file).filter((l) => l.kind === "start").length, 1, readFileSync(file, "utf8"));
    const leaderIdx = Number(first.who.slice(1)) - 1;

    const killedAt = Date.now();
    await cluster.agents[leaderIdx]!.kill("SIGKILL");
    const second = await eventually("a new leader", async () => lines(file).find((l) => l.kind === "start" && l.who !== first.who), 30_000, 20);
    const failoverMs = second.at - killedAt;
    t.log(`new leader ${second.who} ${failoverMs} ms after the leader's agent was killed (lease ${leaseMs} ms)`);
    // The voters free the key one lease after the last renewal they accepted, which is at
    // most one lease after the kill; the slack covers starting the command and polling the
    // file on two shared cores.
    t.true(failoverMs <= leaseMs + 1500, `failover took ${failoverMs} ms; the lease is ${leaseMs} ms`);
    t.true(second.token! > first.token!, "the new term's token is larger");

    // The old leader, cut off from its agent, stopped its command before the new one started.
    const stoppedOld = await eventually("old command stopped", async () => lines(file).find((l) => l.kind === "stopped" && l.who === first.who));
    t.true(stoppedOld.at <= second.at, `old leader stopped at ${stoppedOld.at}, new started at ${second.at}`);
    await eventually("old leader says so", async () => (candidates[leaderIdx]!.output().includes("lost leadership") ? true : undefined));

    // The new leader's process on SIGTERM: stops its command, resigns, exits with the command's code;
    // the last candidate takes over without waiting for the lease.
    const secondIdx = Number(second.who.slice(1)) - 1;
    const resignAt = Date.now();
    candidates[secondIdx]!.proc.kill("SIGTERM");
    const r = await candidates[secondIdx]!.done;
    t.is(r.code, 0, r.stderr);
    const third = await eventually("a third leader", async () => lines(file).find((l) => l.kind === "start" && l.who !== first.who && l.who !== second.who), 30_000, 20);
    t.true(third.at - resignAt < leaseMs, `handover after a resign took ${third.at - resignAt} ms`);
    t.true(third.token! > second.token!);
    const timeline = lines(file);
    const stoppedSecond = timeline.find((l) => l.kind === "stopped" && l.who === second.who);
    t.truthy(stoppedSecond);
    t.true(stoppedSecond!.at <= third.at);
  } finally {
    for (const c of candidates) c.proc.kill("SIGTERM");
    await Promise.all(candidates.map((c) => c.done));
  }
});
