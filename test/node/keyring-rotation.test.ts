// Keyring rotation across a live 3-node cluster under constant lock traffic:
// install → use → remove through one node reaches every member, loses no
// operation and needs no restart; the rotated keyring is persisted.
import test from "ava";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNode, type LockerNode } from "../../src/node/node.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { ChannelId } from "../../src/transport/types.js";
import { casCodec } from "../../src/cas/messages.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { Keyring, keyFingerprint } from "../../src/wire/keyring.js";
import { settle } from "../support/virtual-time.js";

test("install, use, remove across a live cluster under lock traffic: every member follows, no operation fails", async (t) => {
  const clock = new VirtualClock();
  const random = new SeededRandom(21);
  const net = new MemoryNetwork({ clock, random: random.fork() });
  const dir = mkdtempSync(join(tmpdir(), "locker-keyring-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const k1 = Buffer.alloc(32, 1);
  const k2 = Buffer.alloc(32, 2);
  const voters = ["a", "b", "c"];
  const nodes: LockerNode[] = await settle(
    clock,
    Promise.all(
      voters.map((n, i) => {
        const keyring = new Keyring([k1]);
        return startNode({ name: n, transport: net.transport(n, { keyring }), keyring, encryptKeys: [k1], dataDir: dir, clock: net.nodeClock(n), random: random.fork(), voters, join: i ? ["a"] : [], quietPeriodMs: 0, profile: "local" });
      }),
    ),
  );
  let ops = 0;
  const failures: string[] = [];
  let running = true;
  const traffic = (async () => {
    for (let i = 0; running && i < 10_000; i++) {
      const n = nodes[i % 3]!;
      try {
        await n.locker.lock(`k${i % 7}`, `v${i}`, { leaseMs: 5000 });
        await n.locker.release(`k${i % 7}`, `v${i}`);
        ops++;
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  })();
  const admin = nodes[0]!.keyring!;
  const steps: [string, Buffer][] = [["install", k2], ["use", k2], ["remove", k1]];
  const pause = (ms: number) => settle(clock, new Promise((r) => clock.setTimer(ms, () => r(null))));
  for (const [op, key] of steps) {
    await pause(1000);
    const r = await settle(clock, admin.broadcast(op as "install", key));
    t.is(r.ok, 3, `${op}: ${JSON.stringify(r.failed)}`);
    t.deepEqual(r.failed, []);
  }
  await pause(1000);
  running = false;
  await settle(clock, traffic);
  t.log(`${ops} lock+release cycles during the rotation, ${failures.length} failed`);
  t.true(ops > 20);
  t.deepEqual(failures, []);
  for (const n of nodes) t.deepEqual(n.keyring!.list(), [{ fingerprint: keyFingerprint(k2), primary: true }]);
  const file = join(dir, "a.keyring");
  t.is(readFileSync(file, "utf8").trim(), k2.toString("base64"), "the rotated keyring is persisted");
  t.is(statSync(file).mode & 0o077, 0, "mode 600");
  // A node that has only the removed key is no longer heard.
  const old = net.transport("old", { keyring: new Keyring([k1]) }).channel(ChannelId.cas, casCodec);
  const e = await settle(clock, old.request("a", { type: "probe", cfg: 1 } as never, { retries: 1, attemptTimeoutMs: 300 }).catch((x: unknown) => x));
  t.regex(String(e), /no response/);
  await settle(clock, Promise.all(nodes.map((n) => n.close())));
});
