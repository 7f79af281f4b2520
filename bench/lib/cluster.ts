// The benchmark cluster: voters as separate OS processes on 127.0.0.1
// (bench/voter.ts), and a client Locker embedded in the calling process.
import type { VoterSpec } from "../../src/cas/node.js";
import { Locker } from "../../src/locker.js";
import { createUdpTransport } from "../../src/transport/udp.js";
import type { Transport } from "../../src/transport/transport.js";
import { SystemClock } from "../../src/util/clock.js";
import { cryptoSeededRandom } from "../../src/util/random.js";
import { Fixture } from "./proc.js";

export interface Cluster {
  voters: Fixture[];
  specs: VoterSpec[];
  stop(): Promise<void>;
}

/** `configure`: further options of every voter's configure command (e.g. `{ affinity: true }`). */
export async function startCluster(size: number, execArgv: string[] = [], configure: Record<string, unknown> = {}): Promise<Cluster> {
  const voters: Fixture[] = [];
  try {
    for (let i = 1; i <= size; i++) voters.push(await Fixture.start(`voter-${i}`, "voter.js", [`voter-${i}`], { execArgv }));
    const specs: VoterSpec[] = voters.map((v) => ({ name: String(v.info.name), address: String(v.info.address) }));
    await Promise.all(voters.map((v) => v.call("configure", { ...configure, voters: specs })));
    return { voters, specs, stop: () => Promise.all(voters.map((v) => v.stop())).then(() => undefined) };
  } catch (e) {
    await Promise.all(voters.map((v) => v.stop()));
    throw e;
  }
}

export interface Client {
  locker: Locker;
  transport: Transport;
  close(): Promise<void>;
}

/** A non-voting Locker in this process: every round goes to the voters over UDP. */
export async function startClient(name: string, specs: VoterSpec[]): Promise<Client> {
  const clock = new SystemClock();
  const transport = await createUdpTransport({ bind: "127.0.0.1:0", clock, random: cryptoSeededRandom() });
  const locker = new Locker({ name, channel: transport, clock, random: cryptoSeededRandom(), voters: specs, limits: { maxPendingRounds: 100_000 } });
  return {
    locker,
    transport,
    close: async () => {
      await locker.close();
      await transport.close();
    },
  };
}
