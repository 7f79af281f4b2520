// The forgeries of issue 13, sent from outside at a live cluster of real
// agents (processes, UDP sockets): a forged accept that would create a lock,
// a peek + accept that would overwrite or delete a held one, a replication
// `cfg` naming an outsider's voter set (or an unreachable version), a
// push-pull planting a fake member, an alive update moving n2 to the
// attacker's address with a huge incarnation, and the read-only requests
// (peek, keys, snapshot, cfgGet). After the barrage, consistent reads check
// the lock, its token, the voter set and the member list.
//
// Sealed (the agents share a key, as a non-loopback bind requires): nothing
// the attacker sends is opened, let alone answered. Plain (what `--insecure`
// gives on a LAN, and the loopback default): the member gate still refuses
// every CAS and replication request from an address that is no member, but
// anyone who can reach the port can join the membership — the test pins
// that down, as the README's Security section says.
import test, { type ExecutionContext } from "ava";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeMessage, MAX_INCARNATION, type Message } from "@locker/membership";
import { HLC_TICKS_PER_MS } from "../../src/cas/ballot.js";
import { casCodec, type CasMessage } from "../../src/cas/messages.js";
import { encodeValue } from "../../src/cas/value.js";
import { replCodec, type ReplMessage } from "../../src/replication/messages.js";
import { bytesCodec, Transport } from "../../src/transport/transport.js";
import { ChannelId } from "../../src/transport/types.js";
import { UdpSocket } from "../../src/transport/udp.js";
import { SystemClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { Keyring } from "../../src/wire/keyring.js";
import { cli, eventually, request, startCluster, tempDir, type Cluster } from "./harness.js";

interface Observed {
  held: { value: unknown; token: unknown } | undefined;
  forged: number;
  voters: unknown;
  members: Array<{ name: string; address: string; state: string }>;
  dropped: number;
}

/** What the cluster says after the barrage, through consistent reads and the member list of every agent. */
async function observe(cluster: Cluster): Promise<Observed> {
  const [n1, n2, n3] = cluster.agents as [Cluster["agents"][0], Cluster["agents"][0], Cluster["agents"][0]];
  const held = await request(n2.http, "GET", "/v1/keys/held?consistent=true");
  const forged = await request(n3.http, "GET", "/v1/keys/forged?consistent=true");
  const voters = await request(n1.http, "GET", "/v1/voters");
  const members: Observed["members"] = [];
  let dropped = 0;
  for (const a of cluster.agents) {
    const m = await request(a.http, "GET", "/v1/members");
    for (const x of m.json.members as Observed["members"]) members.push({ name: `${a.name}→${x.name}`, address: x.address, state: x.state });
    const s = await request(a.http, "GET", "/v1/status");
    dropped += Number((s.json.datagrams as { dropped: number }).dropped);
  }
  return {
    held: held.status === 200 ? { value: held.json.value, token: held.json.token } : undefined,
    forged: forged.status,
    voters: voters.json.voters,
    members,
    dropped,
  };
}

/**
 * Sends every forgery at the cluster from one socket; returns what each
 * request got back ("no answer" when it timed out, as a sealed cluster does).
 */
async function barrage(cluster: Cluster, attacker: Attacker, label: string): Promise<Record<string, string>> {
  const udp = cluster.agents.map((a) => a.udp);
  const n1 = cluster.agents[0]!;
  const { cas, repl } = attacker;
  const version = Number((await request(n1.http, "GET", "/v1/voters")).json.version);
  const outcome = async (what: string, p: Promise<unknown>): Promise<[string, string]> => {
    try {
      const r = await p;
      return [what, `answered ${JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v instanceof Uint8Array ? `<${v.length} bytes>` : v))}`];
    } catch (e) {
      const m = (e as Error).message;
      return [what, /timed out|timeout|no response/i.test(m) ? "no answer" : `refused: ${m}`];
    }
  };
  const ask = { retries: 1, attemptTimeoutMs: 500 };
  // A plausible ballot (the HLC of now, a little ahead): only membership can refuse it.
  const ballot = { c: Date.now() * HLC_TICKS_PER_MS + 5_000, node: "evil" };
  const record = (value: string, token: number) => ({ value: encodeValue(value), leaseMs: 60_000, token });
  const accept = (key: string, rec: ReturnType<typeof record> | null, c = ballot.c): CasMessage =>
    ({ type: "accept", cfg: version, key, ballot: { ...ballot, c }, record: rec, nextC: null, origin: null }) as never;

  const results = await Promise.all([
    ...udp.map((to, i) => outcome(`accept creating "forged" at voter ${i + 1}`, cas.request(to, accept("forged", record("evil", 1)), ask))),
    // Bytes that are not canonical CBOR would make every later read of the key fail: refused by the codec.
    outcome("accept of a non-CBOR value", cas.request(udp[1]!, accept("garbage", { value: new Uint8Array([0xff, 0x00]), leaseMs: 60_000, token: 1 }), ask)),
    outcome("peek of the held lock", cas.request(udp[0]!, { type: "peek", cfg: version, key: "held" } as never, ask)),
    ...udp.map((to, i) => outcome(`accept overwriting "held" (token 1) at voter ${i + 1}`, cas.request(to, accept("held", record("evil", 1), ballot.c + 1), ask))),
    ...udp.map((to, i) => outcome(`accept deleting "held" at voter ${i + 1}`, cas.request(to, accept("held", null, ballot.c + 2), ask))),
    ...udp.map((to, i) =>
      outcome(`cfg with voters [evil] at node ${i + 1}`, repl.request(to, { type: "cfg", config: { version: version + 1, voters: [{ name: "evil", address: attacker.address }] } } as ReplMessage, ask)),
    ),
    outcome("cfg version 2^31-1 [zz-nobody]", repl.request(udp[1]!, { type: "cfg", config: { version: 2 ** 31 - 1, voters: [{ name: "zz-nobody", address: "127.0.0.1:9" }] } }, ask)),
    outcome("keys", repl.request(udp[0]!, { type: "keys", session: 1, page: 0 }, ask)),
    outcome("snapshot", repl.request(udp[0]!, { type: "snap", from: "evil", session: 1, page: 0 }, ask)),
    outcome("cfgGet", repl.request(udp[2]!, { type: "cfgGet" }, ask)),
  ]);
  void label;
  return Object.fromEntries(results);
}

/** A push-pull joining as "evil", and gossip that n2 moved to the attacker's address with the largest incarnation. */
function forgeMembership(cluster: Cluster, attacker: Attacker): void {
  const { swim } = attacker;
  const n2 = cluster.agents[1]!;
  const evilJoin: Message = {
    type: "pushPull", id: 7, response: false, join: true, part: 0, parts: 1, sender: "evil",
    entries: [{ name: "evil", address: attacker.address, incarnation: 1, state: 0, meta: null }],
  };
  const n2Moves: Message = { type: "gossip", updates: [{ kind: "alive", name: n2.name, address: attacker.address, incarnation: MAX_INCARNATION, meta: null }] };
  for (const a of cluster.agents) {
    swim.send(a.udp, encodeMessage(evilJoin));
    swim.send(a.udp, encodeMessage(n2Moves));
  }
}

/** An outsider's socket with the cluster's label (and no key, or a wrong one), its channels open once. */
async function attackerOn(clusterLabel: string, keyring?: Keyring) {
  const socket = await UdpSocket.bind("127.0.0.1:0");
  const transport = new Transport(socket, new SystemClock(), new SeededRandom(13), { clusterLabel, ...(keyring ? { keyring } : {}) });
  return {
    address: transport.address,
    cas: transport.channel(ChannelId.cas, casCodec),
    repl: transport.channel(ChannelId.replication, replCodec),
    swim: transport.channel(ChannelId.membership, bytesCodec),
    close: () => transport.close(),
  };
}
type Attacker = Awaited<ReturnType<typeof attackerOn>>;

function checkUntouched(t: ExecutionContext, before: Observed, after: Observed, cluster: Cluster): void {
  t.deepEqual(after.held, before.held, "the held lock keeps its value and token");
  t.is(after.forged, 404, "no forged lock");
  t.deepEqual(after.voters, before.voters, "the voter set is unchanged");
  const n2 = cluster.agents[1]!;
  t.true(
    after.members.filter((m) => m.name.endsWith(`→${n2.name}`)).every((m) => m.address === n2.udp),
    `n2 stays at its own address: ${JSON.stringify(after.members)}`,
  );
}

test("sealed cluster: no forgery from outside is opened; lock, token, voters and members unchanged", async (t) => {
  t.timeout(120_000);
  const key = (await cli(["keygen"])).stdout.trim();
  // A key file (mode 600), as a LAN deployment uses.
  const dir = tempDir("forge-key");
  t.teardown(() => dir.remove());
  const keyFile = join(dir.path, "key");
  writeFileSync(keyFile, key + "\n", { mode: 0o600 });
  const sealed = await startCluster("forge-sealed", 3, ["--encrypt-file", keyFile]);
  t.teardown(() => sealed.stop());
  const lock = await request(sealed.agents[0]!.http, "PUT", "/v1/keys/held", { value: "owner", leaseMs: 60_000 });
  t.is(lock.status, 200, lock.text);
  const before = await observe(sealed);

  const results: Record<string, string> = {};
  for (const [who, ring] of [["plain", undefined], ["wrong key", new Keyring([randomBytes(32)])]] as const) {
    const attacker = await attackerOn("forge-sealed", ring);
    forgeMembership(sealed, attacker);
    for (const [what, got] of Object.entries(await barrage(sealed, attacker, who))) results[`${who}: ${what}`] = got;
    await attacker.close();
  }
  t.log(JSON.stringify(results, null, 1));
  t.deepEqual(Object.values(results).filter((r) => r !== "no answer"), [], "nothing was answered");
  const after = await eventually("the drops to be counted", async () => {
    const o = await observe(sealed);
    return o.dropped > before.dropped ? o : undefined;
  });
  checkUntouched(t, before, after, sealed);
  t.false(after.members.some((m) => m.name.endsWith("→evil")), "evil is no member");
  t.log(`datagrams dropped across the 3 agents: ${before.dropped} → ${after.dropped}`);
});

test("plain cluster (--insecure on a LAN): an outsider's CAS and replication forgeries are refused by the member gate, but anyone can join and then write as a member", async (t) => {
  t.timeout(120_000);
  const cluster = await startCluster("forge-plain", 3);
  t.teardown(() => cluster.stop());
  const lock = await request(cluster.agents[0]!.http, "PUT", "/v1/keys/held", { value: "owner", leaseMs: 60_000 });
  t.is(lock.status, 200, lock.text);
  const before = await observe(cluster);

  const attacker = await attackerOn("forge-plain");
  t.teardown(() => attacker.close());
  const outside = await barrage(cluster, attacker, "plain");
  t.log(JSON.stringify(outside, null, 1));
  for (const [what, got] of Object.entries(outside)) t.true(got.startsWith("refused") || got === "no answer", `${what}: ${got}`);
  checkUntouched(t, before, await observe(cluster), cluster);

  // What --insecure leaves open: the membership itself. The push-pull makes
  // "evil" a member (only a key keeps it out); its claim that n2 moved to
  // its address is refused.
  forgeMembership(cluster, attacker);
  await eventually("evil to be a member everywhere", async () => {
    for (const a of cluster.agents) {
      const m = (await request(a.http, "GET", "/v1/members")).json.members as Array<{ name: string }>;
      if (!m.some((x) => x.name === "evil")) return undefined;
    }
    return true;
  }, 20_000);
  // As a member it is answered like one: a well-formed accept at a plausible
  // ballot writes a lock. A voter set of its own is still never adopted (not chosen).
  const inside = await barrage(cluster, attacker, "member");
  t.log(JSON.stringify(inside, null, 1));
  const after = await observe(cluster);
  t.deepEqual(after.voters, before.voters, "the voter set is unchanged: a cfg that was not chosen is never adopted");
  t.is(after.forged, 200, "documented: without a key, an outsider who joins can write locks");
  t.is(inside["accept of a non-CBOR value"], "no answer", "a value that is not canonical CBOR is dropped by the codec, even from a member");
  t.is((await request(cluster.agents[2]!.http, "GET", "/v1/keys/garbage?consistent=true")).status, 404);
  const n2 = cluster.agents[1]!;
  t.true(after.members.filter((m) => m.name.endsWith(`→${n2.name}`)).every((m) => m.address === n2.udp), "n2 stays at its own address");
});
