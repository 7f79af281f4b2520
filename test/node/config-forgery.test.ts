// A voter configuration is adopted only once it was chosen: forged `cfg`
// requests from a member (a replica with the key) — an outsider's voter set,
// an unreachable version, a replica promoting itself — change nothing, while
// a real promote and remove still reach every node.
import test from "ava";
import { Membership } from "@locker/membership";
import { startNode, type LockerNode } from "../../src/node/node.js";
import { bytesCodec } from "../../src/transport/transport.js";
import { replCodec, type ReplMessage } from "../../src/replication/messages.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { ChannelId } from "../../src/transport/types.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { settle } from "../support/virtual-time.js";

test("forged configurations from a member are never adopted; real changes are", async (t) => {
  const clock = new VirtualClock();
  const random = new SeededRandom(31);
  const net = new MemoryNetwork({ clock, random: random.fork() });
  const voters = ["a", "b", "c"];
  const names = [...voters, "r"];
  const transports = new Map(names.map((n) => [n, net.transport(n)]));
  const nodes: LockerNode[] = await settle(
    clock,
    Promise.all(
      names.map((n, i) =>
        startNode({ name: n, transport: transports.get(n)!, clock: net.nodeClock(n), random: random.fork(), voters, replica: n === "r", join: i ? ["a"] : [], quietPeriodMs: 0, profile: "local" }),
      ),
    ),
  );
  await settle(clock, new Promise((r) => clock.setTimer(2000, () => r(null))));
  await settle(clock, nodes[0]!.locker.lock("k", "v", { leaseMs: 60_000 }));
  // A member (it joined through SWIM, with whatever key the cluster has) that speaks raw replication messages.
  const forger = net.transport("f");
  const membership = new Membership({ name: "f", address: "f", channel: forger.channel(ChannelId.membership, bytesCodec), clock: net.nodeClock("f"), random: random.fork(), profile: "local" });
  await settle(clock, membership.bootstrap(["a"]));
  await settle(clock, new Promise((r) => clock.setTimer(2000, () => r(null))));
  t.true(nodes.every((n) => n.membership.member("f")?.state === "alive"), "the forger is a member");
  const channel = forger.channel(ChannelId.replication, replCodec);
  const forge = (version: number, set: string[]): Promise<unknown> =>
    Promise.allSettled(voters.map((v) => channel.request(v, { type: "cfg", config: { version, voters: set.map((name) => ({ name, address: name })) } } as ReplMessage, { retries: 1, attemptTimeoutMs: 3000 })));
  await settle(clock, forge(2, ["evil"]));
  await settle(clock, forge(2 ** 31 - 1, ["zz-nobody"]));
  await settle(clock, forge(2, ["a", "b", "c", "f"])); // a member promoting itself, one voter at a time
  await settle(clock, new Promise((r) => clock.setTimer(3000, () => r(null))));
  for (const n of nodes) t.is(n.configVersion(), 1, `${n.name} still runs version 1`);
  t.true(nodes.slice(0, 3).every((n) => n.configurator.stats.unverified >= 1), "each voter counted refusals");
  t.is((await settle(clock, nodes[1]!.locker.read("k")))?.value, "v");
  // Promoting a voter (itself, or another) says it is one (it said "not a live member" for itself).
  await t.throwsAsync(settle(clock, nodes[0]!.configurator.promote("a")), { message: /a is already a voter/ });
  await t.throwsAsync(settle(clock, nodes[0]!.configurator.promote("b")), { message: /b is already a voter/ });
  // A real change, and a removal after it, reach every node.
  const c2 = await settle(clock, nodes[0]!.configurator.promote("r"));
  t.is(c2.version, 2);
  const c3 = await settle(clock, nodes[1]!.configurator.removeVoter("c"));
  t.is(c3.version, 3);
  await settle(clock, new Promise((r) => clock.setTimer(3000, () => r(null))));
  for (const n of nodes) t.deepEqual(n.voters().sort(), ["a", "b", "r"], `${n.name} follows the real changes`);
  membership.close();
  await settle(clock, Promise.all(nodes.map((n) => n.close())));
});
