// Healing without typing an address, on the in-memory network and virtual
// time: a node started before its seed, a seed restarted without --join, a
// replica through a full restart of the voters, and the members file.
import test from "ava";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNode, openNode, type LockerNode, type NodeOptions } from "../../src/node/node.js";
import { MemberSnapshot, MAX_REMEMBERED_MEMBERS } from "../../src/node/rejoin.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { isLockerError } from "../../src/errors.js";
import { settle } from "../support/virtual-time.js";

function world(seed: number) {
  const clock = new VirtualClock();
  const random = new SeededRandom(seed);
  const net = new MemoryNetwork({ clock, random: random.fork() });
  const dir = mkdtempSync(join(tmpdir(), "locker-rejoin-"));
  const start = (name: string, o: Partial<NodeOptions> = {}) =>
    openNode({
      name,
      transport: net.transport(name),
      clock: net.nodeClock(name),
      random: random.fork(),
      profile: "local",
      quietPeriodMs: 0,
      dataDir: dir,
      retryJoin: true,
      ...o,
    });
  /** Runs virtual time until `pred` holds; returns the virtual ms it took, or -1. */
  const until = async (pred: () => boolean, limitMs: number): Promise<number> => {
    const t0 = clock.now();
    while (!pred()) {
      if (clock.now() - t0 > limitMs) return -1;
      clock.runUntilTrue(pred, 20);
      await new Promise((r) => setImmediate(r));
    }
    return clock.now() - t0;
  };
  return { clock, net, dir, start, until, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const aliveEverywhere = (nodes: LockerNode[], name: string) => () =>
  nodes.filter((n) => n.name !== name).every((n) => n.membership.member(name)?.state === "alive");
const voters = ["n1", "n2", "n3"];

test("a node started before its seed joins once the seed is up", async (t) => {
  const w = world(1);
  t.teardown(w.cleanup);
  const n2 = await w.start("n2", { voters, join: ["n1"] });
  await settle(w.clock, new Promise((r) => w.clock.setTimer(8000, () => r(null))));
  t.is(n2.membership.members().length, 0, "alone: the seed is not up");
  const n1 = await settle(w.clock, (await w.start("n1", { voters })).started);
  const n2s = await settle(w.clock, n2.started);
  const ms = await w.until(() => n1.membership.member("n2")?.state === "alive", 60_000);
  t.true(ms >= 0, "n2 joined n1 without anyone typing an address again");
  t.log(`joined ${ms} ms after the seed came up (rejoin backoff 1 s doubling, capped at 30 s)`);
  await settle(w.clock, Promise.all([n1.close(), n2s.close()]));
});

test("the README seed (started without --join) restarted with the same command rejoins through its members file", async (t) => {
  const w = world(2);
  t.teardown(w.cleanup);
  const n1 = await settle(w.clock, (await w.start("n1", { voters })).started);
  const n2 = await settle(w.clock, (await w.start("n2", { voters, join: ["n1"] })).started);
  const n3 = await settle(w.clock, (await w.start("n3", { voters, join: ["n1"] })).started);
  t.true((await w.until(() => [n1, n2, n3].every((n) => n.membership.members().filter((m) => m.state === "alive").length === 2), 20_000)) >= 0);
  // The members file is written every few seconds and on close.
  await settle(w.clock, n1.close());
  t.true((await w.until(() => n2.membership.member("n1")?.state === "left", 5000)) >= 0, "n1 left gracefully");
  const saved = JSON.parse(readFileSync(join(w.dir, "n1.members.json"), "utf8")) as { members: { name: string }[] };
  t.deepEqual(saved.members.map((m) => m.name), ["n2", "n3"]);
  const again = await settle(w.clock, (await w.start("n1", { voters })).started);
  const ms = await w.until(aliveEverywhere([again, n2, n3], "n1"), 20_000);
  if (ms < 0) t.log(JSON.stringify([again, n2, n3].map((n) => [n.name, n.membership.localMember().incarnation, n.membership.members().map((m) => `${m.name}:${m.state}@${m.incarnation}`), n.membership.stats().datagramsSent, n.membership.stats().datagramsReceived, n.transport.stats])));
  t.true(ms >= 0, "n1 is alive in every view again");
  t.log(`n1 alive everywhere ${ms} ms after its restart`);
  const r = await settle(w.clock, again.locker.lock("k", "v", { leaseMs: 5000 }));
  t.true(r.token > 0n);
  await settle(w.clock, Promise.all([again.close(), n2.close(), n3.close()]));
});

test("a replica outlives a full restart of the voters", async (t) => {
  const w = world(3);
  t.teardown(w.cleanup);
  let vs = await settle(w.clock, Promise.all(voters.map(async (n, i) => (await w.start(n, { voters, join: i === 0 ? [] : ["n1"] })).started)));
  const r1 = await settle(w.clock, (await w.start("r1", { voters, replica: true, join: ["n1"] })).started);
  t.true((await w.until(() => vs.every((v) => v.membership.member("r1")?.state === "alive"), 20_000)) >= 0);
  await settle(w.clock, Promise.all(vs.map((v) => v.close())));
  t.true((await w.until(() => voters.every((n) => r1.membership.member(n)?.state === "left"), 10_000)) >= 0, "the replica saw every voter leave");
  // Restarted with the same commands: n1 with no --join at all.
  vs = await settle(w.clock, Promise.all(voters.map(async (n, i) => (await w.start(n, { voters, join: i === 0 ? [] : ["n1"] })).started)));
  const ms = await w.until(() => vs.every((v) => v.membership.member("r1")?.state === "alive") && voters.every((n) => r1.membership.member(n)?.state === "alive"), 60_000);
  t.true(ms >= 0, "replica and voters see each other alive again");
  t.log(`healed ${ms} ms after the voters restarted`);
  const lock = await settle(w.clock, r1.locker.lock("after", "restart", { leaseMs: 5000 }));
  t.true(lock.token > 0n, "the replica writes through the restarted voters");
  await settle(w.clock, Promise.all([...vs, r1].map((n) => n.close())));
});

test("a library node whose seeds never answer gets an error, not silence", async (t) => {
  const w = world(4);
  t.teardown(w.cleanup);
  const starting = await w.start("n2", { voters, join: ["nobody"], retryJoin: false });
  const e = await settle(w.clock, starting.started).catch((x: unknown) => x);
  t.true(isLockerError(e) && e.code === "unavailable", String(e));
  t.regex((e as Error).message, /no seed answered.*nobody/);
  await settle(w.clock, starting.close());
});

test("startNode defaults to the agents' cluster label and refuses a non-loopback bind without a key", async (t) => {
  const e = await startNode({ name: "x", bind: "0.0.0.0:0", voters: ["x"] }).catch((x: unknown) => x);
  t.true(isLockerError(e) && e.code === "invalid");
  t.regex((e as Error).message, /without a key.*locker keygen.*--insecure/s);
});

test("the members file: bounded, validated, corrupt files read as empty", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "locker-snap-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const s = new MemberSnapshot(dir, "a/b");
  t.deepEqual(s.load(), []);
  const many = Array.from({ length: 100 }, (_, i) => ({ name: `m${String(i).padStart(3, "0")}`, address: `10.0.0.${i}:7946` }));
  t.is(s.save(many), undefined);
  t.is(s.load().length, MAX_REMEMBERED_MEMBERS);
  writeFileSync(s.path, JSON.stringify({ members: [{ name: "ok", address: "10.0.0.1:7946" }, { name: "bad", address: "has spaces" }, { name: 5, address: "x:1" }, null] }));
  t.deepEqual(s.load(), [{ name: "ok", address: "10.0.0.1:7946" }]);
  writeFileSync(s.path, "{not json");
  t.deepEqual(s.load(), []);
  t.deepEqual(new MemberSnapshot("", "a").load(), [], "no data dir: nothing kept");
});
