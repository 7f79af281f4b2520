// Fixture: the far end of the floor measurement. A bare Transport on
// 127.0.0.1 that answers every CAS accept with "accepted" — the same codec,
// envelope and message sizes as a fast-path lock, with no CAS logic at all.
import { casCodec } from "../src/cas/messages.js";
import { createUdpTransport } from "../src/transport/udp.js";
import { ChannelId } from "../src/transport/types.js";
import { SystemClock } from "../src/util/clock.js";
import { cryptoSeededRandom } from "../src/util/random.js";
import { fixtureReady, serveFixture } from "./lib/proc.js";

const transport = await createUdpTransport({ bind: "127.0.0.1:0", clock: new SystemClock(), random: cryptoSeededRandom() });
const channel = transport.channel(ChannelId.cas, casCodec);
channel.onRequest((m) => {
  if (m.type !== "accept") throw new Error(`floor peer expects accepts, got ${m.type}`);
  return { type: "accepted", nextPromised: m.nextC !== null };
});
serveFixture(
  {
    stats: () => ({ ...transport.stats }),
    memory: () => process.memoryUsage(),
    cpu: () => process.cpuUsage(),
  },
  () => transport.close(),
);
fixtureReady({ address: transport.address });
