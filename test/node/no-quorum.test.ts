// The no-quorum answer says what to do: which voters are unreachable, and
// whether this voter waits out its quiet period (with the time left).
import test from "ava";
import { startNode } from "../../src/node/node.js";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { isLockerError } from "../../src/errors.js";
import { settle } from "../support/virtual-time.js";

test("a lone voter in its quiet period says so, not 'only 0 of 1 voters are alive'", async (t) => {
  const clock = new VirtualClock();
  const random = new SeededRandom(5);
  const net = new MemoryNetwork({ clock, random: random.fork() });
  const node = await settle(clock, startNode({ name: "solo", transport: net.transport("solo"), clock: net.nodeClock("solo"), random, quietPeriodMs: 30_000 }));
  t.regex(node.readiness().reason ?? "", /quiet period.*votes again in 30 s/);
  const e = await settle(clock, node.locker.lock("k", "v", { leaseMs: 1000 })).catch((x: unknown) => x);
  t.true(isLockerError(e) && e.code === "no_quorum", String(e));
  t.regex((e as Error).message, /0 of 1 voters can vote.*quiet period after a restart, voting again in 30 s/);
  await settle(clock, node.close());
});

test("a voter cut off from the others names them", async (t) => {
  const clock = new VirtualClock();
  const random = new SeededRandom(6);
  const net = new MemoryNetwork({ clock, random: random.fork() });
  const voters = ["a", "b", "c"];
  const nodes = await settle(clock, Promise.all(voters.map((n, i) => startNode({ name: n, transport: net.transport(n), clock: net.nodeClock(n), random: random.fork(), voters, join: i ? ["a"] : [], quietPeriodMs: 0, profile: "local" }))));
  await settle(clock, nodes[0]!.locker.lock("warm", "up", { leaseMs: 1000 }));
  net.crash("b");
  net.crash("c");
  await settle(clock, new Promise((r) => clock.setTimer(20_000, () => r(null))));
  t.is(nodes[0]!.readiness().reason, "no quorum: 1 of 3 voters alive (unreachable: b, c)");
  const e = await settle(clock, nodes[0]!.locker.lock("k", "v", { leaseMs: 1000 })).catch((x: unknown) => x);
  t.true(isLockerError(e) && e.code === "no_quorum", String(e));
  t.regex((e as Error).message, /1 of 3 voters can vote \(a quorum is 2\); unreachable: b, c/);
  await settle(clock, nodes[0]!.close({ leave: false }));
});
