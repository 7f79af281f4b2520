// Issue 10, "Must show", across network namespaces: 20 % UDP loss for a
// minute shows no healthy member dead; a 2|3 partition and its heal never
// show a majority-side member dead to the majority side, and everyone is
// alive everywhere again within a bound after the heal.
//
// Every host's /v1/members is polled every 250 ms throughout; a sighting is
// one poll showing a watched member in a state other than alive.
import { lanProfile } from "@locker/membership";
import { lanTest } from "./lan-ava.js";
import { describeSightings, until, watchMembers, whenAllAlive, whenReady, type Agent, type Lan, type Sighting } from "./lan.js";

const FILE = "lan-faults";
/** Seconds of loss. Issue 10 asks for 60; LOCKER_LAN_LOSS_SECONDS shortens it where CI time is short. */
const LOSS_SECONDS = Math.max(5, Math.min(600, Number(process.env.LOCKER_LAN_LOSS_SECONDS ?? 60) || 60));
const nameOf = (hostName: string): string => `${hostName}:7946`;

function command(lan: Lan): string[] {
  return [
    "--bind", "0.0.0.0:7946",
    "--http", "0.0.0.0:7947",
    "--voters", lan.hosts.map((h) => nameOf(h.name)).join(","),
    "--insecure",
    "--data-dir", "data",
    "--log-level", "info",
  ];
}

async function form(t: { log(...a: unknown[]): void }, lan: Lan): Promise<Agent[]> {
  const started = Date.now();
  const agents = lan.hosts.map((h) => h.start(command(lan)));
  for (const a of agents) await whenReady(a, 40_000);
  await whenAllAlive(agents, lan.hosts.map((h) => nameOf(h.name)), 30_000);
  t.log(`${agents.length} agents formed in ${Date.now() - started} ms`);
  return agents;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A lock and its release through `a`; the outcome, for the log. */
async function tryLock(a: Agent, key: string): Promise<string> {
  try {
    const r = await a.http("PUT", `/v1/keys/${key}`, { value: a.host.name, leaseMs: 3000 }, 8000);
    if (r.status !== 200) return `${r.status} ${String(r.json.code ?? r.json.error ?? r.text.slice(0, 60))}`;
    await a.http("POST", `/v1/keys/${key}/release`, { value: a.host.name }, 8000).catch(() => undefined);
    return "200";
  } catch (e) {
    return `error ${(e as Error).message.slice(0, 60)}`;
  }
}

function tally(outcomes: string[]): string {
  const c = new Map<string, number>();
  for (const o of outcomes) c.set(o, (c.get(o) ?? 0) + 1);
  return [...c].map(([k, n]) => `${k}×${n}`).join(", ");
}

lanTest(FILE, `5 hosts, 20 % UDP loss on every host for ${LOSS_SECONDS} s: no healthy member is ever shown dead`, { hosts: 5, timeoutMs: (LOSS_SECONDS + 60) * 1000 }, async (t, lan) => {
  const agents = await form(t, lan);
  const all = new Set(lan.hosts.map((h) => nameOf(h.name)));
  const watch = watchMembers(agents, () => all, 250);
  lan.loss(20);
  const started = Date.now();
  const outcomes: string[] = [];
  // Some traffic on the CAS side too, one lock every 3 s through a different host (logged, not asserted).
  for (let i = 0; i < Math.ceil(LOSS_SECONDS / 3) && Date.now() - started < LOSS_SECONDS * 1000; i++) {
    const t0 = Date.now();
    outcomes.push(await tryLock(agents[i % agents.length]!, `lossy-${i}`));
    await sleep(Math.max(0, 3000 - (Date.now() - t0)));
  }
  await sleep(Math.max(0, LOSS_SECONDS * 1000 - (Date.now() - started)));
  lan.heal();
  const { sightings, polls, errors } = await watch.stop();
  const dead = sightings.filter((s) => s.state === "dead");
  const suspect = sightings.filter((s) => s.state === "suspect");
  t.log(`${polls} polls of /v1/members (${errors} failed); ${suspect.length} showed a member suspect, ${dead.length} dead; locks under loss: ${tally(outcomes)}`);
  for (const line of describeSightings(sightings)) t.log(line);
  t.is(dead.length, 0, `healthy members shown dead under 20 % loss:\n${describeSightings(dead).join("\n")}`);
  t.true(polls >= agents.length * LOSS_SECONDS, `too few polls (${polls}) to tell`);
  await whenAllAlive(agents, [...all], 15_000);
});

lanTest(FILE, "5 hosts, a 2|3 partition and heal: no majority-side member ever shown dead by the majority; all alive within a bound after heal", { hosts: 5, timeoutMs: 110_000 }, async (t, lan) => {
  const agents = await form(t, lan);
  const minority = agents.slice(0, 2);
  const majority = agents.slice(2);
  const majorityNames = new Set(majority.map((a) => nameOf(a.host.name)));
  const minorityNames = new Set(minority.map((a) => nameOf(a.host.name)));
  const all = lan.hosts.map((h) => nameOf(h.name));
  // The must-show: what the majority side says about itself. The minority's view of itself is logged.
  const majorityWatch = watchMembers(majority, () => majorityNames, 250);
  const minorityWatch = watchMembers(minority, () => minorityNames, 250);

  lan.partition(minority.map((a) => a.host), majority.map((a) => a.host));
  const cut = Date.now();
  // The majority keeps a quorum of the 5 voters (3): writes go on.
  const during = await until(
    "a lock on the majority side during the partition",
    async () => {
      const r = await majority[0]!.http("PUT", "/v1/keys/during", { value: "maj", leaseMs: 5000 }, 10_000);
      return r.status === 200 ? r : undefined;
    },
    30_000,
    500,
  );
  t.is(during.status, 200);
  // Hold the partition until the majority has declared the minority dead (so the heal has something to heal).
  await until(
    "the majority to show the minority dead",
    async () => {
      for (const a of majority) {
        const ms = await a.members();
        if (!ms.filter((m) => minorityNames.has(m.name)).every((m) => m.state === "dead")) return undefined;
      }
      return true;
    },
    45_000,
    250,
  );
  t.log(`majority shows the minority dead ${Date.now() - cut} ms after the cut`);

  lan.heal();
  const healed = Date.now();
  await whenAllAlive(agents, all, 30_000, 100);
  const healMs = Date.now() - healed;
  // Watch the aftermath too: issue 10 saw same-side members shown dead for 99–202 ms right after a heal.
  const after: string[] = [];
  for (let i = 0; i < 5; i++) {
    after.push(await tryLock(majority[i % majority.length]!, `after-${i}`));
    await sleep(1000);
  }
  const maj = await majorityWatch.stop();
  const min = await minorityWatch.stop();
  t.log(`all alive in every view ${healMs} ms after heal; majority polls ${maj.polls} (${maj.errors} failed), minority polls ${min.polls}; locks on the majority after heal: ${tally(after)}`);
  const show = (s: Sighting[]): string => describeSightings(s).join("\n");
  if (min.sightings.length) t.log(`the minority about itself (not asserted):\n${show(min.sightings)}`);
  if (maj.sightings.length) t.log(`the majority about itself:\n${show(maj.sightings)}`);
  const majDead = maj.sightings.filter((s) => s.state === "dead");
  t.is(majDead.length, 0, `majority-side members shown dead by the majority:\n${show(majDead)}`);
  // Bound after heal, from the lan profile: the minority is still within gossipToTheDeadMs of being
  // declared dead, so the majority's gossip reaches it and it refutes at once; failing that, a
  // reconnect (push-pull with a dead member) every reconnectIntervalMs. Plus 3 probe intervals for
  // the refutation to spread and be probed.
  // Issue 11 asks for 3 s (the nemesis run of the issue took 4.7–6.0 s; Serf's reconnect runs every 30 s).
  const bound = Math.min(3000, lanProfile.reconnectIntervalMs + 3 * lanProfile.probeIntervalMs);
  t.true(healMs <= bound, `alive everywhere ${healMs} ms after heal (bound ${bound} ms)`);
  t.false(after.some((o) => o.startsWith("503")), `the majority answered 503 after heal: ${tally(after)}`);
});
