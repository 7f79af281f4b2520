// End-to-end: the `locker` CLI against three real agents — every subcommand,
// --json, --help, the documented exit codes, and `exec` stopping its command
// when the lock is lost (agent killed, agent cut off).
import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, eventually, freePort, startCli, startCluster, tempDir, type Cluster } from "./harness.js";

let cluster: Cluster;
const work = tempDir("cli-work");

test.before(async () => {
  cluster = await startCluster("cli");
});

test.after.always(async () => {
  for (const a of cluster?.agents ?? []) if (a.proc.signalCode === null && a.proc.exitCode === null) a.proc.kill("SIGCONT");
  await cluster?.stop();
  work.remove();
});

const on = (i: number) => ({ http: cluster.agents[i]!.http });

test.serial("lock, get, update, extend, keys, wait, release — output and exit codes", async (t) => {
  const lock = await cli(["lock", "cfg", "alpha", "--lease", "20s"], on(0));
  t.is(lock.code, 0, lock.stderr);
  t.regex(lock.stdout.trim(), /^\d+$/, "prints the fencing token");

  const taken = await cli(["lock", "cfg", "beta"], on(1));
  t.is(taken.code, 1);
  t.regex(taken.stderr, /locked/);

  const takenJson = await cli(["lock", "cfg", "beta", "--json"], on(1));
  t.is(takenJson.code, 1);
  t.is(JSON.parse(takenJson.stdout).error, "locked");

  const get = await cli(["get", "cfg", "--consistent"], on(2));
  t.is(get.code, 0, get.stderr);
  t.is(get.stdout.trim(), "alpha");
  const local = await eventually("local copy on n2", async () => {
    const r = await cli(["get", "cfg"], on(1));
    return r.code === 0 ? r : undefined;
  });
  t.is(local.stdout.trim(), "alpha");
  const getJson = await cli(["get", "cfg", "--json"], on(0));
  t.like(JSON.parse(getJson.stdout), { key: "cfg", value: "alpha", token: lock.stdout.trim() });

  const missing = await cli(["get", "nothing-here", "--consistent"], on(0));
  t.is(missing.code, 3);
  t.regex(missing.stderr, /not_found/);

  t.is((await cli(["update", "cfg", "wrong", "gamma"], on(0))).code, 1);
  const upd = await cli(["update", "cfg", "alpha", "gamma"], on(0));
  t.is(upd.code, 0, upd.stderr);
  t.regex(upd.stdout, /updated cfg/);

  const ext = await cli(["extend", "cfg", "gamma", "--lease", "30s", "--json"], on(2));
  t.is(ext.code, 0, ext.stderr);
  t.is(JSON.parse(ext.stdout).leaseMs, 30_000);
  t.is((await cli(["extend", "cfg", "alpha"], on(2))).code, 1, "extend with the wrong value is a failed check");

  const keys = await cli(["keys"], on(0));
  t.is(keys.code, 0);
  t.regex(keys.stdout, /^KEY\s+VALUE\s+TOKEN\s+LEASE LEFT/);
  t.regex(keys.stdout, /cfg\s+gamma\s+\d+/);
  const keysJson = JSON.parse((await cli(["keys", "cf", "--json"], on(0))).stdout);
  t.deepEqual(
    keysJson.keys.map((k: { key: string }) => k.key),
    ["cfg"],
  );
  t.deepEqual(JSON.parse((await cli(["keys", "zzz", "--json"], on(0))).stdout).keys, []);

  const waitPresent = await cli(["wait", "cfg", "--timeout", "2s"], on(0));
  t.is(waitPresent.code, 0);
  t.is(waitPresent.stdout.trim(), "gamma");
  const waitTimeout = await cli(["wait", "cfg", "--released", "--timeout", "300ms"], on(0));
  t.is(waitTimeout.code, 5, "a wait that ends without the event is a timeout");

  // A wait for a key someone takes later.
  const waiter = cli(["wait", "later", "--timeout", "20s"], on(2));
  await new Promise((r) => setTimeout(r, 300));
  t.is((await cli(["lock", "later", "soon", "--lease", "2s"], on(0))).code, 0);
  const waited = await waiter;
  t.is(waited.code, 0, waited.stderr);
  t.is(waited.stdout.trim(), "soon");
  // ...and for its lease to run out.
  const gone = await cli(["wait", "later", "--released", "--timeout", "20s"], on(1));
  t.is(gone.code, 0);
  t.regex(gone.stdout, /later is free/);

  const rel = await cli(["release", "cfg", "gamma"], on(1));
  t.is(rel.code, 0, rel.stderr);
  t.regex(rel.stdout, /released cfg/);
  t.is((await cli(["release", "cfg", "gamma"], on(1))).code, 3, "releasing an absent key is not_found");
});

test.serial("members and status", async (t) => {
  const members = await cli(["members"], on(0));
  t.is(members.code, 0, members.stderr);
  t.regex(members.stdout, /^NAME\s+ROLE\s+STATE\s+ADDRESS\s+INCARNATION/);
  for (const n of ["cli-n1", "cli-n2", "cli-n3"]) t.regex(members.stdout, new RegExp(`${n}\\s+voter\\s+alive\\s+127\\.0\\.0\\.1:\\d+`));
  const mj = JSON.parse((await cli(["members", "--json"], on(1))).stdout);
  t.is(mj.members.length, 3);

  const status = await cli(["status"], on(2));
  t.is(status.code, 0);
  t.regex(status.stdout, /name:\s+cli-n3/);
  t.regex(status.stdout, /role:\s+voter/);
  t.regex(status.stdout, /ready:\s+yes/);
  t.regex(status.stdout, /voters:\s+cli-n1, cli-n2, cli-n3/);
  t.like(JSON.parse((await cli(["status", "--json"], on(2))).stdout), { name: "cli-n3", ready: true });
});

// Issue 14: promoting a voter through its own agent used to say "not a live member"
// (the agent looked the name up among its peers, which do not include itself).
test.serial("promote of a voter, asked of that voter's own agent, says it is already a voter", async (t) => {
  const fromOther = await cli(["promote", "cli-n1"], on(1));
  t.is(fromOther.code, 7, fromOther.stderr);
  t.regex(fromOther.stderr, /already a voter/);
  const fromItself = await cli(["promote", "cli-n1"], on(0));
  t.is(fromItself.code, 7, fromItself.stderr);
  t.regex(fromItself.stderr, /already a voter/);
});

test.serial("--help everywhere, usage errors, an unreachable agent, an invalid request", async (t) => {
  for (const c of ["agent", "lock", "update", "extend", "release", "get", "wait", "keys", "members", "status", "exec", "elect"]) {
    const r = await cli([c, "--help"]);
    t.is(r.code, 0, c);
    t.regex(r.stdout, new RegExp(`^Usage: locker ${c}`), c);
  }
  const top = await cli(["--help"]);
  t.is(top.code, 0);
  for (const c of ["lock", "exec", "elect", "members"]) t.regex(top.stdout, new RegExp(`\\n  ${c} `));
  t.regex(top.stdout, /Exit codes/);

  const usage: string[][] = [[], ["frobnicate"], ["lock", "only-key"], ["lock", "k", "v", "--lease", "forever"], ["get", "k", "--colour"], ["exec", "k"], ["exec", "k", "--", ""].slice(0, 3), ["agent", "--nope"], ["agent", "--bind", "nowhere"]];
  for (const args of usage) {
    const r = await cli(args);
    t.is(r.code, 2, `locker ${args.join(" ")}: ${r.stderr}`);
    t.true(r.stderr.length > 0);
  }

  const closed = await freePort();
  const unreachable = await cli(["get", "k"], { http: `127.0.0.1:${closed}` });
  t.is(unreachable.code, 6);
  t.regex(unreachable.stderr, /cannot reach the agent/);

  const invalid = await cli(["lock", "k", "v", "--lease", "5ms"], on(0));
  t.is(invalid.code, 7);
  t.regex(invalid.stderr, /leaseMs/);
});

/** A command for exec/elect that records its start and its SIGTERM in a file. */
function recorder(file: string): string[] {
  const script = [
    "const fs = require('fs');",
    "const f = process.argv[1];",
    "fs.appendFileSync(f, 'start ' + process.env.LOCKER_TOKEN + '\\n');",
    "process.on('SIGTERM', () => { fs.appendFileSync(f, 'stopped\\n'); process.exit(0); });",
    "setInterval(() => {}, 1000);",
  ].join(" ");
  return [process.execPath, "-e", script, file];
}

test.serial("exec runs the command under the lock and exits with its code", async (t) => {
  const r = await cli(["exec", "job", "--lease", "2s", "--", process.execPath, "-e", "console.log(process.env.LOCKER_KEY, process.env.LOCKER_TOKEN); process.exit(3)"], on(0));
  t.is(r.code, 3, r.stderr);
  t.regex(r.stdout, /^job \d+/);
  t.is((await cli(["get", "job", "--consistent"], on(1))).code, 3, "released after the command exits");

  const notFound = await cli(["exec", "job", "--", "/nonexistent/command"], on(0));
  t.is(notFound.code, 127);

  // A held key: exec waits, and gives up after --timeout.
  t.is((await cli(["lock", "job", "someone", "--lease", "20s"], on(1))).code, 0);
  const blocked = await cli(["exec", "job", "--timeout", "500ms", "--", process.execPath, "-e", ""], on(0));
  t.is(blocked.code, 5, blocked.stderr);
  t.is((await cli(["release", "job", "someone"], on(1))).code, 0);
});

test.serial("exec stops its command when the lock is lost because its agent was killed", async (t) => {
  const file = join(work.path, "killed.log");
  writeFileSync(file, "");
  const leaseMs = 3000;
  const run = startCli(["exec", "guarded", "--lease", `${leaseMs}ms`, "--", ...recorder(file)], on(2));
  await eventually("command started", async () => (readFileSync(file, "utf8").includes("start") ? true : undefined));
  const killedAt = Date.now();
  await cluster.agents[2]!.kill("SIGKILL");
  const r = await run.done;
  const tookMs = Date.now() - killedAt;
  t.is(r.code, 124, r.stderr);
  t.regex(r.stderr, /lost the lock on guarded/);
  t.regex(readFileSync(file, "utf8"), /start \d+\nstopped\n/);
  t.true(tookMs <= leaseMs + 2000, `stopped ${tookMs} ms after the kill (lease ${leaseMs} ms)`);
  t.log(`exec stopped its command ${tookMs} ms after its agent was killed (lease ${leaseMs} ms)`);
});

test.serial("exec stops its command when its agent is cut off (stopped, not answering)", async (t) => {
  const file = join(work.path, "stopped.log");
  writeFileSync(file, "");
  const leaseMs = 3000;
  const run = startCli(["exec", "guarded2", "--lease", `${leaseMs}ms`, "--", ...recorder(file)], on(1));
  await eventually("command started", async () => (readFileSync(file, "utf8").includes("start") ? true : undefined));
  const agent = cluster.agents[1]!;
  agent.proc.kill("SIGSTOP");
  try {
    const r = await run.done;
    t.is(r.code, 124, r.stderr);
    t.regex(readFileSync(file, "utf8"), /start \d+\nstopped\n/);
  } finally {
    agent.proc.kill("SIGCONT");
  }
});
