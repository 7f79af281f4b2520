// Wires replication and reconfiguration onto a node's parts (a Locker, its
// SWIM membership and their transport): the replication channel, the
// Replicator (pushes, snapshots), the Configurator (versions, changes) and an
// optional autopilot. The composition root (src/node/node.ts) calls it.
import type { Membership } from "@locker/membership";
import type { Logger } from "pino";
import type { Locker } from "../locker.js";
import type { Transport } from "../transport/transport.js";
import { ChannelId, type Address, type Channel } from "../transport/types.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import type { Random } from "../util/random.js";
import { CONFIG_REQUEST, Configurator, votingNodeOf } from "../cluster/configurator.js";
import type { VoterConfig } from "../cluster/config.js";
import { configPeersOver } from "./config-peers.js";
import { replChannelOptions, replCodec, type ReplMessage } from "./messages.js";
import { Replicator, type PeerSpec, type ReplicationPeers } from "./replicator.js";
import { lockerChangeSource, lockerSink } from "./source.js";

export interface AttachOptions {
  name: string;
  locker: Locker;
  membership: Membership;
  transport: Transport;
  clock: Clock;
  random: Random;
  /**
   * Where a voter of the configuration receives datagrams. Default: its
   * configured address. A node that names voters by member name (addresses
   * from membership) passes a resolver here.
   */
  addressOf?: (voter: { name: string; address: string }) => Address | undefined;
  /** The address a promoted member gets in the configuration. Default: its membership address. */
  voterAddressOf?: (member: PeerSpec) => string;
  replication?: { pushIntervalMs?: number; maxInflightPerReplica?: number; snapshotWindow?: number };
  /** The replication channel (default: opened on `transport`); the node passes one behind its member gate. */
  channel?: Channel<ReplMessage>;
  /** Replace a voter dead longer than `deadAfterMs` by a live replica (off unless given). */
  autopilot?: { deadAfterMs: number; checkIntervalMs?: number };
  /**
   * Publishes the running configuration (e.g. in this member's SWIM metadata,
   * so `expect` bootstraps and restarts see that one exists). Called at start
   * and after every activation.
   */
  advertise?: (config: VoterConfig) => void;
  logger?: Logger;
}

export interface Attached {
  readonly replicator: Replicator;
  readonly configurator: Configurator;
  close(): void;
}

export function attachReplication(o: AttachOptions): Attached {
  const { locker, membership, clock } = o;
  const reach = (v: { name: string; address: string }): Address | undefined => (o.addressOf ? o.addressOf(v) : v.address);
  const channel = o.channel ?? o.transport.channel(ChannelId.replication, replCodec, replChannelOptions);
  // Suspects count as up: a slow member still gets pushes and may still serve snapshots.
  const up = (state: string): boolean => state === "alive" || state === "suspect";
  const alive = (): PeerSpec[] => membership.members().filter((m) => up(m.state)).map((m) => ({ name: m.name, address: m.address }));
  const peers: ReplicationPeers = {
    replicas: () => {
      const voters = new Set(locker.cas.voters.map((v) => v.name));
      return alive().filter((m) => !voters.has(m.name));
    },
    voters: () => {
      const out: PeerSpec[] = [];
      for (const v of locker.cas.voters) {
        if (v.name === o.name || !up(membership.stateOf(v.name) ?? "dead")) continue;
        const address = reach(v);
        if (address !== undefined) out.push({ name: v.name, address });
      }
      return out;
    },
    configVersion: () => locker.cas.configVersion,
    isVoter: (name) => locker.cas.voters.some((v) => v.name === name),
  };
  const advertise = (c: VoterConfig): void => {
    try {
      o.advertise?.(c);
    } catch (e) {
      // Metadata too large for a very large configuration: others learn it from the CAS channel.
      o.logger?.debug({ err: (e as Error).message }, "cannot advertise the voter configuration in metadata");
    }
  };
  let replicator: Replicator | undefined;
  const configurator = new Configurator({
    name: o.name,
    voting: votingNodeOf(locker),
    peers: configPeersOver(channel, CONFIG_REQUEST),
    clock,
    members: alive,
    addressOf: reach,
    ...(o.voterAddressOf ? { voterAddressOf: o.voterAddressOf } : {}),
    onActivated: (c) => advertise(c),
  });
  replicator = new Replicator({
    name: o.name,
    channel,
    clock,
    random: o.random,
    source: lockerChangeSource(locker),
    sink: lockerSink(locker),
    peers,
    config: configurator,
    // An absent key's ballot outlives any lease and any change still in flight.
    tombstoneMs: locker.limits.maxLeaseMs + 30_000,
    maxKeys: locker.limits.maxKeys,
    ...o.replication,
  });
  advertise(configurator.current());
  const autopilot = o.autopilot ? new Autopilot(o, configurator, o.autopilot.deadAfterMs, o.autopilot.checkIntervalMs ?? 1000) : undefined;
  return {
    replicator,
    configurator,
    close: () => {
      autopilot?.close();
      configurator.close();
      replicator!.close();
    },
  };
}

/**
 * Autopilot: the lowest-named live voter replaces a voter that SWIM has seen
 * dead for longer than `deadAfterMs` by a live replica — add first, then
 * remove, so the number of live voters never drops during the swap.
 */
export class Autopilot {
  private timer: TimerHandle | undefined;
  private closed = false;
  private busy = false;
  private readonly deadSince = new Map<string, number>();

  constructor(
    private readonly o: AttachOptions,
    private readonly configurator: Configurator,
    private readonly deadAfterMs: number,
    private readonly checkIntervalMs: number,
  ) {
    this.arm();
  }

  close(): void {
    this.closed = true;
    this.o.clock.clearTimer(this.timer);
  }

  /** Every re-arm replaces the one handle, so close() cancels whichever is pending. */
  private arm(): void {
    if (!this.closed) this.timer = this.o.clock.setTimer(this.checkIntervalMs, () => this.check());
  }

  private check(): void {
    if (this.closed) return;
    this.arm();
    const { locker, membership, clock } = this.o;
    const now = clock.now();
    const voters = locker.cas.voters;
    for (const v of voters) {
      // Only a member SWIM declared dead (or that left) counts; a suspect may just be slow.
      const state = membership.stateOf(v.name);
      if (v.name === this.o.name || state === "alive" || state === "suspect") this.deadSince.delete(v.name);
      else if (!this.deadSince.has(v.name)) this.deadSince.set(v.name, now);
    }
    if (this.busy || !locker.cas.isVoter) return;
    const liveVoters = voters.filter((v) => !this.deadSince.has(v.name)).map((v) => v.name).sort();
    if (liveVoters[0] !== this.o.name) return;
    const dead = voters.find((v) => now - (this.deadSince.get(v.name) ?? now) >= this.deadAfterMs);
    if (!dead) return;
    const names = new Set(voters.map((v) => v.name));
    const replica = membership
      .members()
      .filter((m) => m.state === "alive" && !names.has(m.name))
      .sort((a, b) => (a.name < b.name ? -1 : 1))[0];
    this.busy = true;
    const swap = async (): Promise<void> => {
      if (replica) await this.configurator.addVoter({ name: replica.name, address: this.o.voterAddressOf ? this.o.voterAddressOf(replica) : replica.address });
      await this.configurator.removeVoter(dead.name);
    };
    swap()
      .catch((e: unknown) => this.o.logger?.warn({ err: (e as Error).message, dead: dead.name }, "autopilot: replacing a dead voter failed; will retry"))
      .finally(() => {
        this.busy = false;
      });
  }
}
