// A child process for beacon-sealed.test.ts: starts two beacons (same label,
// optional interface address and key) in whatever network namespace it runs
// in, and prints one JSON line: whether they heard each other, and the stats.
import { MulticastBeacon } from "../../src/discovery/multicast.js";
import { SystemClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { Keyring } from "../../src/wire/keyring.js";

const [port, iface, keyB64] = process.argv.slice(2);
const clock = new SystemClock();
const keyring = keyB64 ? () => new Keyring([Buffer.from(keyB64, "base64")]) : () => undefined;
const heard = new Set<string>();
const out = (o: unknown): void => {
  process.stdout.write(JSON.stringify(o) + "\n");
};
try {
  const start = (name: string): Promise<MulticastBeacon> =>
    MulticastBeacon.start({
      clusterLabel: "probe",
      name,
      address: `10.0.0.1:${name.length}`,
      clock,
      random: new SeededRandom(name.length),
      port: Number(port),
      intervalMs: 20,
      ...(iface ? { interfaceAddress: iface } : {}),
      ...(keyring() ? { keyring: keyring()! } : {}),
      onPeer: (p) => heard.add(`${name}<-${p.name}`),
    });
  const a = await start("a");
  const b = await start("bb");
  const deadline = clock.now() + 3000;
  while (!(heard.has("a<-bb") && heard.has("bb<-a")) && clock.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  out({ ok: heard.has("a<-bb") && heard.has("bb<-a"), a: a.stats, b: b.stats });
  await Promise.all([a.close(), b.close()]);
} catch (e) {
  out({ ok: false, error: (e as Error).message });
}
clock.clearAll();
