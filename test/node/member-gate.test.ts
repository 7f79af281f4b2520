// Nothing outside the cluster is answered on the CAS and replication
// channels: a forged accept from an address no member has changes nothing, a
// peek or a keys request reads nothing; a member's own requests pass.
import test from "ava";
import { startNode, type LockerNode } from "../../src/node/node.js";
import { casCodec } from "../../src/cas/messages.js";
import { encodeValue } from "../../src/cas/value.js";
import { replCodec } from "../../src/replication/messages.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { ChannelId } from "../../src/transport/types.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { settle } from "../support/virtual-time.js";

test("an outsider's forged accept, peek and keys request are refused; members are served", async (t) => {
  const clock = new VirtualClock();
  const random = new SeededRandom(11);
  const net = new MemoryNetwork({ clock, random: random.fork() });
  const voters = ["a", "b", "c"];
  const nodes: LockerNode[] = await settle(
    clock,
    Promise.all(voters.map((n, i) => startNode({ name: n, transport: net.transport(n), clock: net.nodeClock(n), random: random.fork(), voters, join: i ? ["a"] : [], quietPeriodMs: 0, profile: "local" }))),
  );
  const held = await settle(clock, nodes[0]!.locker.lock("held", "owner", { leaseMs: 60_000 }));
  const outsider = net.transport("evil");
  const cas = outsider.channel(ChannelId.cas, casCodec);
  const repl = outsider.channel(ChannelId.replication, replCodec);
  const ballot = { c: 2 ** 40, node: "evil" };
  const forged = { type: "accept" as const, cfg: 1, key: "forged", ballot, record: { value: encodeValue("a"), leaseMs: 60_000, token: 1 }, nextC: null, origin: null };
  const answers = await settle(
    clock,
    Promise.allSettled([
      ...voters.map((v) => cas.request(v, forged as never, { retries: 0, attemptTimeoutMs: 2000 })),
      cas.request("a", { type: "peek", cfg: 1, key: "held" }, { retries: 0, attemptTimeoutMs: 2000 }),
      repl.request("a", { type: "keys", session: 1, page: 0 }, { retries: 0, attemptTimeoutMs: 2000 }),
    ]),
  );
  t.true(answers.every((a) => a.status === "rejected"), JSON.stringify(answers.map((a) => (a.status === "rejected" ? String(a.reason) : "fulfilled"))));
  t.log(answers.map((a) => (a.status === "rejected" ? String(a.reason) : "fulfilled")).join(" | "));
  t.true(nodes.every((n) => n.gate.stats.refused >= 1), "each voter counted the refusal");
  const read = await settle(clock, nodes[1]!.locker.read("forged"));
  t.is(read, undefined, "no forged lock");
  const still = await settle(clock, nodes[2]!.locker.read("held"));
  t.is(still?.token, held.token, "the held lock is untouched");
  await settle(clock, Promise.all(nodes.map((n) => n.close())));
});
