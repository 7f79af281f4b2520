// One benchmark node in its own process: this package ("locker") or happn-swim
// ("swim"), with identical instrumentation at the socket: every datagram sent
// is counted, and a fraction `loss` of received datagrams is dropped before
// either implementation sees it. Reports JSON lines on stdout.
// Usage: node membership-node.js <impl> <name> <port>   stdin: "join <seed>" | "loss <rate>" | "stats"
import dgram from "node:dgram";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { Membership } from "@locker/membership";
import { bytesCodec, ChannelId, createUdpTransport } from "../src/transport/index.js";
import { SystemClock } from "../src/util/clock.js";
import { cryptoSeededRandom } from "../src/util/random.js";

const [impl, name, portArg] = process.argv.slice(2);
if ((impl !== "locker" && impl !== "swim") || !name) {
  process.stderr.write("usage: membership-node.js locker|swim <name> <port>\n");
  process.exit(2);
}
const out = (o: object): void => {
  process.stdout.write(JSON.stringify({ ...o, t: Date.now() }) + "\n");
};

// ---- socket-level instrumentation, the same for both implementations ----
let datagramsSent = 0;
let lossRate = 0;
const lossRandom = cryptoSeededRandom();
const proto = dgram.Socket.prototype as unknown as { send: (...a: unknown[]) => unknown; emit: (ev: string, ...a: unknown[]) => boolean };
const origSend = proto.send;
proto.send = function (this: unknown, ...a: unknown[]) {
  datagramsSent++;
  return origSend.apply(this, a);
};
const origEmit = proto.emit;
proto.emit = function (this: unknown, ev: string, ...a: unknown[]) {
  if (ev === "message" && lossRate > 0 && lossRandom.next() < lossRate) return true;
  return origEmit.call(this, ev, ...a);
};

// The protocol period and timeouts both implementations use (this package's `local` profile).
const PERIOD_MS = 200;
const PING_TIMEOUT_MS = 100;
const INDIRECT = 2;

interface Node {
  id: string;
  join(seed: string | undefined): Promise<void>;
  view(): { alive: string[]; dead: string[] };
}

async function startLocker(): Promise<Node> {
  const clock = new SystemClock();
  const transport = await createUdpTransport({ bind: "127.0.0.1:0", clock, random: cryptoSeededRandom() });
  const m = new Membership({ name: name!, address: transport.address, channel: transport.channel(ChannelId.membership, bytesCodec), clock, random: cryptoSeededRandom(), profile: "local" });
  m.on("change", () => report());
  return {
    id: name!,
    address: transport.address,
    join: (seed) => m.bootstrap(seed ? [seed] : []),
    view: () => ({
      alive: m.members().filter((x) => x.state === "alive").map((x) => x.name),
      dead: m.members().filter((x) => x.state === "dead").map((x) => x.name),
    }),
  } as Node & { address: string };
}

interface SwimMember {
  host: string;
  state: number;
}
interface SwimInstance {
  bootstrap(hosts: string[], cb: (err?: Error) => void): void;
  members(): SwimMember[];
  membership: { all(hasLocal: boolean, hasFaulty: boolean): SwimMember[] };
  on(ev: string, fn: () => void): void;
}

async function startSwim(): Promise<Node> {
  const require = createRequire(import.meta.url);
  const Swim = require("happn-swim") as new (opts: object) => SwimInstance;
  const host = `127.0.0.1:${portArg}`;
  const swim = new Swim({
    local: { host },
    interval: PERIOD_MS,
    joinTimeout: 1000,
    pingTimeout: PING_TIMEOUT_MS,
    pingReqTimeout: PERIOD_MS - 10,
    pingReqGroupSize: INDIRECT,
    udp: { maxDgramSize: 1400 },
  });
  swim.on("change", () => report());
  swim.on("update", () => report());
  let started = false;
  return {
    id: host,
    address: host,
    join: (seed) =>
      new Promise<void>((resolve, reject) => {
        if (started) return resolve();
        started = true;
        swim.bootstrap(seed ? [seed] : [], (err) => (err ? reject(err) : resolve()));
      }),
    view: () => ({
      alive: swim.members().filter((x) => x.state === 0).map((x) => x.host),
      dead: swim.membership.all(false, true).filter((x) => x.state === 2).map((x) => x.host),
    }),
  } as Node & { address: string };
}

const node = impl === "locker" ? await startLocker() : await startSwim();
let lastView = "";
function report(): void {
  const v = node.view();
  const key = JSON.stringify(v);
  if (key === lastView) return;
  lastView = key;
  out({ type: "view", id: node.id, ...v });
}
out({ type: "ready", id: node.id, address: (node as Node & { address: string }).address, pid: process.pid });
if (impl === "swim") {
  // happn-swim emits no event for every state change (e.g. suspect -> alive); poll its view too.
  setInterval(report, 20).unref();
}

createInterface({ input: process.stdin }).on("line", (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === "join") {
    node.join(arg).then(
      () => {
        out({ type: "joined", id: node.id });
        report();
      },
      (e: Error) => out({ type: "joinFailed", id: node.id, error: e.message }),
    );
  } else if (cmd === "loss") {
    lossRate = Number(arg);
  } else if (cmd === "stats") {
    out({ type: "stats", id: node.id, datagramsSent });
  }
});
process.stdin.on("end", () => process.exit(0));
