// A simulated cluster with replication and reconfiguration: Lockers,
// Replicators and Configurators on the in-memory network and one virtual
// clock. Liveness comes from the simulation itself (a node is alive unless it
// crashed), standing in for SWIM, so runs stay fast and exactly replayable.
import { Locker, type LockerOptions, type VoterSpec } from "../../src/locker.js";
import { normalizeConfig, type VoterConfig } from "../../src/cluster/config.js";
import { CONFIG_REQUEST, Configurator, votingNodeOf } from "../../src/cluster/configurator.js";
import { configPeersOver } from "../../src/replication/config-peers.js";
import { replCodec } from "../../src/replication/messages.js";
import { Replicator, type PeerSpec } from "../../src/replication/replicator.js";
import { lockerChangeSource, lockerSink } from "../../src/replication/source.js";
import { MemoryNetwork, type FaultConfig } from "../../src/transport/memory.js";
import type { Transport, TransportOptions } from "../../src/transport/transport.js";
import { ChannelId } from "../../src/transport/types.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { stepUntil } from "../support/virtual-time.js";

export interface ReplNode {
  name: string;
  transport: Transport;
  locker: Locker;
  replicator: Replicator;
  configurator: Configurator;
}

export interface ReplSimOptions {
  seed: number;
  faults?: Partial<FaultConfig>;
  locker?: Partial<Omit<LockerOptions, "name" | "channel" | "clock" | "random" | "voters">>;
  transport?: TransportOptions;
  pushIntervalMs?: number;
  /** Deliberately unsafe reconfiguration (see ConfiguratorOptions.unsafeSkipRewrite). */
  unsafeSkipRewrite?: boolean;
}

export class ReplSim {
  readonly clock = new VirtualClock();
  readonly rng: SeededRandom;
  readonly net: MemoryNetwork;
  readonly nodes = new Map<string, ReplNode>();

  constructor(readonly o: ReplSimOptions) {
    this.rng = new SeededRandom(o.seed);
    this.net = new MemoryNetwork({ clock: this.clock, random: this.rng.fork(), faults: o.faults ?? {} });
  }

  isUp(name: string): boolean {
    return this.nodes.has(name) && !this.net.isCrashed(name);
  }

  /** Starts a node that believes in `config` (a new cluster, a joiner, or a restart with empty memory). */
  start(name: string, config: VoterConfig, options: { quietPeriodMs?: number; recovery?: LockerOptions["recovery"] } = {}): ReplNode {
    const transport = this.net.transport(name, this.o.transport ?? { request: { attemptTimeoutMs: 50, retries: 4, timeoutMs: 1000 } });
    const clock = this.net.nodeClock(name);
    const locker = new Locker({
      maxLeaseMs: 2000,
      defaultTimeoutMs: 2000,
      requestAttemptTimeoutMs: 40,
      ...this.o.locker,
      ...(options.quietPeriodMs !== undefined ? { quietPeriodMs: options.quietPeriodMs } : {}),
      ...(options.recovery ? { recovery: { ...this.o.locker?.recovery, ...options.recovery } } : {}),
      name,
      channel: transport,
      closeTransport: true,
      clock,
      random: this.rng.fork(),
      voters: config.voters,
      configVersion: config.version,
      isVoterAlive: (n) => this.isUp(n),
    });
    const channel = transport.channel(ChannelId.replication, replCodec);
    const alive = (): PeerSpec[] => [...this.nodes.keys()].filter((n) => n !== name && this.isUp(n)).map((n) => ({ name: n, address: n }));
    let replicator: Replicator | undefined;
    const configurator = new Configurator({
      name,
      voting: votingNodeOf(locker),
      peers: configPeersOver(channel, CONFIG_REQUEST),
      clock,
      members: alive,
      opTimeoutMs: 2000,
      unsafeSkipRewrite: this.o.unsafeSkipRewrite ?? false,
    });
    replicator = new Replicator({
      name,
      channel,
      clock,
      random: this.rng.fork(),
      source: lockerChangeSource(locker),
      sink: lockerSink(locker),
      peers: {
        replicas: () => {
          const voters = new Set(locker.cas.voters.map((v) => v.name));
          return alive().filter((p) => !voters.has(p.name));
        },
        voters: () => locker.cas.voters.filter((v) => v.name !== name && this.isUp(v.name)),
        configVersion: () => locker.cas.configVersion,
        isVoter: (n) => locker.cas.voters.some((v) => v.name === n),
      },
      config: configurator,
      tombstoneMs: 10_000,
      maxKeys: 1_000_000,
      pushIntervalMs: this.o.pushIntervalMs ?? 100,
      request: { attemptTimeoutMs: 50 },
    });
    const node: ReplNode = { name, transport, locker, replicator, configurator };
    this.nodes.set(name, node);
    return node;
  }

  /** The process dies with its memory. */
  crash(name: string): void {
    const n = this.nodes.get(name);
    if (!n) return;
    n.replicator.close();
    n.configurator.close();
    void n.locker.close();
    this.net.crash(name);
    this.nodes.delete(name);
  }

  node(name: string): ReplNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** Runs virtual time, letting promise continuations run after every timer. */
  async run(ms: number): Promise<void> {
    await this.runUntil(() => false, ms);
  }

  /** Runs until `pred` holds or `limitMs` of virtual time pass; returns whether it held. */
  runUntil(pred: () => boolean, limitMs: number): Promise<boolean> {
    return stepUntil(this.clock, pred, limitMs, "timer");
  }


  /** Waits for a promise on virtual time. */
  async settle<T>(p: Promise<T>, limitMs = 60_000): Promise<T> {
    let done = false;
    let value: T | undefined;
    let error: unknown;
    let failed = false;
    p.then(
      (v) => {
        done = true;
        value = v;
      },
      (e: unknown) => {
        done = true;
        failed = true;
        error = e;
      },
    );
    await this.runUntil(() => done, limitMs);
    if (!done) throw new Error(`did not settle within ${limitMs} virtual ms`);
    if (failed) throw error;
    return value as T;
  }
}

export function configOf(version: number, names: readonly string[]): VoterConfig {
  return normalizeConfig(
    version,
    names.map((n): VoterSpec => ({ name: n, address: n })),
  );
}
