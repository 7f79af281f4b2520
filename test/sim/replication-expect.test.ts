// `expect: N` bootstrap in the simulator: members started in every order,
// with random delays, joining through random earlier members, over a lossy
// network — never two different voter sets. SIM_EXPECT_SEEDS=n runs more seeds.
import test from "ava";
import fc from "fast-check";
import { bootstrapExpect, decideExpect, type ExpectMember } from "../../src/bootstrap/expect.js";
import type { VoterConfig } from "../../src/cluster/config.js";
import { SeededRandom, shuffle } from "../../src/util/random.js";
import { SimCluster } from "./membership-cluster.js";

const SEEDS = Number(process.env["SIM_EXPECT_SEEDS"] ?? 300);

interface RunResult {
  adopted: Map<string, string>;
  stalled: string[];
  sets: Set<string>;
}

/**
 * A naive rule, for contrast: adopt the lowest N names once N members have
 * been visible for the settle time. The test harness must catch it.
 */
function naiveExpect(m: { members(): Array<{ name: string; address: string; state: string }>; whoami(): string; localMember(): { address: string } }, clock: { now(): number; setTimer(ms: number, fn: () => void): unknown }, expect: number, settleMs: number): Promise<VoterConfig> {
  return new Promise((resolve) => {
    let last = "";
    let since = clock.now();
    const step = (): void => {
      const alive = [{ name: m.whoami(), address: m.localMember().address }, ...m.members().filter((x) => x.state === "alive")].sort((a, b) => (a.name < b.name ? -1 : 1));
      const key = alive.map((x) => x.name).join();
      if (key !== last) {
        last = key;
        since = clock.now();
      }
      if (alive.length >= expect && clock.now() - since >= settleMs) {
        resolve({ version: 1, voters: alive.slice(0, expect).map((x) => ({ name: x.name, address: x.address })) });
        return;
      }
      clock.setTimer(50, step);
    };
    step();
  });
}

async function runExpect(seed: number, members: number, expect: number, naive = false): Promise<RunResult> {
  const rng = new SeededRandom(seed);
  const sim = new SimCluster({ seed, profile: "local", faults: { lossRate: rng.next() * 0.1, minDelayMs: 0.2, maxDelayMs: 3, duplicateRate: 0.02, reorderRate: 0.05, reorderDelayMs: 10 } });
  const names = shuffle(
    Array.from({ length: members }, (_, i) => `m${i}`),
    rng,
  );
  const adopted = new Map<string, string>();
  const pending: Promise<void>[] = [];
  const started: string[] = [];
  let at = 0;
  for (const name of names) {
    at += rng.next() * 1500; // random start delays
    sim.clock.runUntil(at);
    await new Promise((r) => setImmediate(r));
    const node = sim.add(name);
    const seedNode = started.length > 0 ? started[rng.int(started.length)]! : undefined;
    started.push(name);
    node.m.bootstrap(seedNode ? [`${seedNode}:7946`] : []).catch(() => {});
    const clock = sim.net.nodeClock(node.address);
    const settleMs = 300 + rng.int(400);
    pending.push(
      (naive ? naiveExpect(node.m, clock, expect, settleMs) : bootstrapExpect({ membership: node.m, clock, expect, settleMs, timeoutMs: 20_000 })).then(
        (c: VoterConfig) => {
          adopted.set(name, c.voters.map((v) => `${v.name}@${v.address}`).join(","));
        },
        () => {},
      ),
    );
  }
  await sim.settle(pending, 30_000);
  for (const n of sim.nodes.values()) n.m.close();
  const sets = new Set(adopted.values());
  return { adopted, stalled: names.filter((n) => !adopted.has(n)), sets };
}

test(`expect: 3 with exactly 3 members in every order with random delays: one voter set, everyone adopts it (${SEEDS} seeds)`, async (t) => {
  t.timeout(10 * 60_000);
  const orders = new Set<string>();
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = await runExpect(seed, 3, 3);
    t.is(r.sets.size, 1, `seed ${seed}: voter sets ${[...r.sets].join(" | ")}`);
    t.deepEqual(r.stalled, [], `seed ${seed}: every member adopted`);
    orders.add([...r.adopted.keys()].join(""));
    if (r.sets.size !== 1) break;
  }
  t.log(`${SEEDS} seeds; ${orders.size} distinct adoption orders seen`);
});

test(`expect: 3 with 4–6 members started in random orders: never two voter sets (${SEEDS} seeds)`, async (t) => {
  t.timeout(10 * 60_000);
  let stalls = 0;
  let complete = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const members = 4 + (seed % 3);
    const r = await runExpect(10_000 + seed, members, 3);
    t.true(r.sets.size <= 1, `seed ${seed}: voter sets ${[...r.sets].join(" | ")}`);
    if (r.stalled.length > 0) stalls++;
    else complete++;
    for (const s of r.sets) t.is(s.split(",").length, 3);
  }
  t.log(`${complete} runs where every member adopted the one set, ${stalls} where some member was still waiting at the limit (liveness only; never two sets)`);
  t.true(complete > SEEDS / 2, "most runs complete");
});

test("the harness catches a naive rule (lowest N names once N are visible)", async (t) => {
  let caught = 0;
  for (let seed = 1; seed <= 100 && caught === 0; seed++) {
    const r = await runExpect(10_000 + seed, 4 + (seed % 3), 3, true);
    if (r.sets.size > 1) caught = seed;
  }
  t.true(caught > 0, "some seed gives two voter sets under the naive rule");
  t.log(`naive rule: two voter sets at seed ${caught}`);
});

// The pure decision: whatever each node sees, adopted sets are equal or disjoint,
// because a node adopts only a set every member of which pinned it, and pins never change.
test("decideExpect: pins are followed, a unanimous pin is adopted, a committed node never copies another set", (t) => {
  const m = (name: string, pin: string[] | null = null, adopted: ExpectMember["adopted"] = null): ExpectMember => ({ name, address: `${name}:1`, pin, adopted });
  t.deepEqual(decideExpect({ self: "b", expect: 3, stable: true, members: [m("a"), m("b"), m("c"), m("d")] }), { kind: "pin", set: ["a", "b", "c"] });
  t.is(decideExpect({ self: "d", expect: 3, stable: true, members: [m("a"), m("b"), m("c"), m("d")] }).kind, "wait");
  t.is(decideExpect({ self: "b", expect: 3, stable: false, members: [m("a"), m("b"), m("c")] }).kind, "wait");
  // Joins an existing pin that includes it rather than proposing its own.
  t.deepEqual(decideExpect({ self: "c", expect: 3, stable: true, members: [m("a", ["a", "c", "d"]), m("b"), m("c"), m("d")] }), { kind: "pin", set: ["a", "c", "d"] });
  const unanimous = decideExpect({ self: "a", expect: 3, stable: true, members: [m("a", ["a", "b", "c"]), m("b", ["a", "b", "c"]), m("c", ["a", "b", "c"]), m("d")] });
  t.is(unanimous.kind, "adopt");
  t.is(decideExpect({ self: "a", expect: 3, stable: true, members: [m("a", ["a", "b", "c"]), m("b", ["a", "b", "d"]), m("c", ["a", "b", "c"]), m("d")] }).kind, "wait");
  t.is(decideExpect({ self: "a", expect: 3, stable: true, members: [m("a", ["a", "b", "c"]), m("d", null, { version: 1, voters: ["d", "e", "f"] }), m("e"), m("f")] }).kind, "wait");
});

test("decideExpect: two nodes' adoptions never overlap without being equal (property)", (t) => {
  const names = ["a", "b", "c", "d", "e"];
  fc.assert(
    fc.property(fc.array(fc.option(fc.shuffledSubarray(names, { minLength: 3, maxLength: 3 }), { nil: null }), { minLength: 5, maxLength: 5 }), fc.array(fc.boolean(), { minLength: 25, maxLength: 25 }), (pins, visible) => {
      // Each node sees a random subset of the others (itself always), with their pins.
      const adopted: string[][] = [];
      names.forEach((self, i) => {
        const members: ExpectMember[] = names
          .filter((n, j) => n === self || visible[i * 5 + j])
          .map((n) => ({ name: n, address: n, pin: pins[names.indexOf(n)] ? [...pins[names.indexOf(n)]!].sort() : null, adopted: null }));
        const d = decideExpect({ self, expect: 3, stable: true, members });
        if (d.kind === "adopt") adopted.push(d.config.voters.map((v) => v.name));
      });
      for (const x of adopted) for (const y of adopted) if (x.join() !== y.join()) return !x.some((n) => y.includes(n));
      return true;
    }),
  );
  t.pass();
});
