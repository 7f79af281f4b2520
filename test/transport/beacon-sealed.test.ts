// Multicast beacons sealed with the keyring: peers with the key find each
// other; plain, wrong-key and replayed beacons are refused and counted. And a
// beacon sent on a given interface address works on a host with no default
// route (network namespace, root only).
import dgram from "node:dgram";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import test from "ava";
import { MulticastBeacon, type BeaconOptions } from "../../src/discovery/multicast.js";
import { SystemClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { Envelope } from "../../src/wire/envelope.js";
import { Keyring } from "../../src/wire/keyring.js";
import { IP_COMMAND, netnsUnavailableReason } from "../netns/netns.js";

const GROUP = "239.255.76.75";

/** Resolves when `pred` holds, checked on every beacon callback and stats change (polled at the beacon interval). */
async function until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) return pred();
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

test.serial("sealed beacons: peers with the key are reported; plain, wrong-key and replayed beacons are refused and counted", async (t) => {
  const clock = new SystemClock();
  const port = 40_000 + new SeededRandom(Number(process.pid) + 7).int(20_000);
  const key = Buffer.alloc(32, 5);
  const seen = new Set<string>();
  const start = (name: string, keyring: Keyring | undefined, extra: Partial<BeaconOptions> = {}): Promise<MulticastBeacon> =>
    MulticastBeacon.start({
      clusterLabel: "blue",
      name,
      address: `127.0.0.1:${1000 + name.length}`,
      clock,
      random: new SeededRandom(name.length),
      port,
      intervalMs: 30,
      interfaceAddress: "127.0.0.1",
      ...(keyring ? { keyring } : {}),
      onPeer: (p) => seen.add(`${name}<-${p.name}`),
      ...extra,
    });
  // A raw listener captures sealed beacons to replay them.
  const captured: Buffer[] = [];
  const sniffer = dgram.createSocket({ type: "udp4", reuseAddr: true });
  await new Promise<void>((r) => sniffer.bind(port, () => r()));
  sniffer.addMembership(GROUP, "127.0.0.1");
  // Only captures our key opens (not those of `wrong`), so every replay is one `a` could open.
  const opener = new Envelope({ clusterLabel: "blue", keyring: new Keyring([key]) });
  sniffer.on("message", (m) => {
    if (m.subarray(0, 4).toString() !== "LKB2" || captured.length >= 50) return;
    try {
      opener.unwrap(m.subarray(4));
      captured.push(m);
    } catch {
      // another key
    }
  });
  const a = await start("a", new Keyring([key]));
  const b = await start("bb", new Keyring([key]));
  const plain = await start("plain", undefined);
  const wrong = await start("wrong", new Keyring([Buffer.alloc(32, 6)]));
  try {
    t.true(await until(() => seen.has("a<-bb") && seen.has("bb<-a"), 5000), [...seen].join(","));
    t.true(await until(() => a.stats.unsealed > 0 && a.stats.badSeal > 0 && plain.stats.badSeal > 0 && captured.length >= 5, 5000));
    for (const s of seen) t.false(/plain|wrong/.test(s) || /^(plain|wrong)</.test(s), `never reported: ${s}`);
    // Replays of captured sealed beacons: every copy is refused by the keyed nodes.
    const before = a.stats.replayed;
    const replayer = dgram.createSocket({ type: "udp4" });
    await new Promise<void>((r) => replayer.bind(0, "127.0.0.1", () => r()));
    replayer.setMulticastInterface("127.0.0.1");
    for (const m of captured.slice(0, 5)) replayer.send(m, port, GROUP);
    t.true(await until(() => a.stats.replayed - before >= 5, 5000), `replayed ${a.stats.replayed - before}`);
    replayer.close();
    t.log(`a: ${JSON.stringify(a.stats)}`);
  } finally {
    sniffer.close();
    await Promise.all([a.close(), b.close(), plain.close(), wrong.close()]);
    clock.clearAll();
  }
});

test("an interface address that is not IPv4 is refused with invalid", async (t) => {
  const clock = new SystemClock();
  const e = await t.throwsAsync(
    MulticastBeacon.start({ clusterLabel: "x", name: "n", address: "h:1", clock, random: new SeededRandom(1), port: 40_001, interfaceAddress: "eth0", onPeer: () => {} }),
  );
  t.regex(String(e), /interface address/);
});

const netnsSkip = netnsUnavailableReason();
const probe = fileURLToPath(new URL("./beacon-probe.js", import.meta.url));

(netnsSkip ? test.skip : test.serial)(`a host with no default route (only a link with an address): beacons need interfaceAddress${netnsSkip ? ` — skipped: ${netnsSkip}` : ""}`, (t) => {
  const ns = `locker-beacon-${process.pid}`;
  const ip = (...args: string[]): string => execFileSync(IP_COMMAND, args, { stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 }).toString();
  ip("netns", "add", ns);
  try {
    // One link (a veth pair inside the namespace, multicast on), its subnet route only: no default route, no 224.0.0.0/4 route.
    ip("-n", ns, "link", "set", "lo", "up");
    ip("-n", ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1");
    ip("-n", ns, "link", "set", "d1", "up");
    ip("-n", ns, "link", "set", "d0", "multicast", "on", "up");
    ip("-n", ns, "addr", "add", "10.77.0.1/24", "dev", "d0");
    t.notRegex(ip("-n", ns, "route", "show"), /default|224\./);
    const run = (...args: string[]): { ok: boolean; error?: string; a?: { sent: number; sendErrors: number } } =>
      JSON.parse(execFileSync(IP_COMMAND, ["netns", "exec", ns, process.execPath, probe, "47947", ...args], { timeout: 20_000 }).toString().trim().split("\n").pop()!);
    const without = run();
    t.false(without.ok, "without an interface address the kernel has no route for the group");
    t.log(`without interfaceAddress: ${JSON.stringify(without)}`);
    const withIface = run("10.77.0.1");
    t.true(withIface.ok, JSON.stringify(withIface));
    t.is(withIface.a?.sendErrors, 0);
    const sealed = run("10.77.0.1", Buffer.alloc(32, 3).toString("base64"));
    t.true(sealed.ok, JSON.stringify(sealed));
  } finally {
    ip("netns", "del", ns);
  }
});
