// Wires replication and reconfiguration onto an existing node (a Locker, its
// SWIM membership and their transport): the replication channel, the
// Replicator (pushes, snapshots), the Configurator (versions, changes) and an
// optional autopilot. Used by ClusterNode, and by any other composition (the
// agent's node) that already has these three parts.
//
// For a node that names voters by member name (voter address = name, real
// addresses from membership), with other metadata next to the advert:
//
//   const config = expect > 0
//     ? await bootstrapExpect({ membership, clock, expect, metaOf: (a) => ({ ...meta, locker: a }), advertOf: (m) => (m as { locker?: unknown } | undefined)?.locker })
//     : normalizeConfig(1, voters.map((n) => ({ name: n, address: n })));
//   const locker = new Locker({ ..., voters: config.voters, configVersion: config.version });
//   const { replicator, configurator } = attachReplication({ name, locker, membership, transport, clock, random,
//     addressOf: (v) => (v.name === name ? transport.address : membership.member(v.name)?.address),
//     voterAddressOf: (m) => m.name,
//     advertise: (a) => ({ ...meta, locker: a }) });
//   // voters now: locker.cas.voters; version: locker.cas.configVersion;
//   // changes: configurator.promote(name) / addVoter / removeVoter.
import type { Membership } from "@locker/membership";
import { advertOfConfig } from "../bootstrap/expect.js";
import type { Locker } from "../locker.js";
import type { Transport } from "../transport/transport.js";
import { ChannelId, type Address } from "../transport/types.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import type { Random } from "../util/random.js";
import { replCodec, type VoterConfig } from "./messages.js";
import { Configurator } from "./reconfig.js";
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
  /** Replace a voter dead longer than `deadAfterMs` by a live replica (off unless given). */
  autopilot?: { deadAfterMs: number; checkIntervalMs?: number };
  /**
   * Advertise the running configuration in this member's SWIM metadata (so
   * `expect` bootstraps and restarts pick it up). Default: replace the
   * metadata with the advert; give a function to merge it with other metadata.
   */
  advertise?: false | ((advert: unknown) => unknown);
}

export interface Attached {
  readonly replicator: Replicator;
  readonly configurator: Configurator;
  close(): void;
}

export function attachReplication(o: AttachOptions): Attached {
  const { locker, membership, clock } = o;
  const reach = (v: { name: string; address: string }): Address | undefined => (o.addressOf ? o.addressOf(v) : v.address);
  const channel = o.transport.channel(ChannelId.replication, replCodec);
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
        if (v.name === o.name || !up(membership.member(v.name)?.state ?? "dead")) continue;
        const address = reach(v);
        if (address !== undefined) out.push({ name: v.name, address });
      }
      return out;
    },
    configVersion: () => locker.cas.configVersion,
    isVoter: (name) => locker.cas.voters.some((v) => v.name === name),
  };
  const advertise = (c: VoterConfig): void => {
    if (o.advertise === false) return;
    try {
      const advert = advertOfConfig(c);
      membership.updateMeta(o.advertise ? o.advertise(advert) : advert);
    } catch {
      // metadata too large for a very large configuration: others learn it from the CAS channel
    }
  };
  let replicator: Replicator | undefined;
  const configurator = new Configurator({
    name: o.name,
    locker,
    channel,
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
  let autopilot: TimerHandle | undefined;
  if (o.autopilot) autopilot = startAutopilot(o, configurator, o.autopilot.deadAfterMs, o.autopilot.checkIntervalMs ?? 1000);
  return {
    replicator,
    configurator,
    close: () => {
      clock.clearTimer(autopilot);
      stopped.add(configurator);
      replicator!.close();
    },
  };
}

const stopped = new WeakSet<Configurator>();

/**
 * Autopilot: the lowest-named live voter replaces a voter that SWIM has seen
 * dead for longer than `deadAfterMs` by a live replica — add first, then
 * remove, so the number of live voters never drops during the swap.
 */
function startAutopilot(o: AttachOptions, configurator: Configurator, deadAfterMs: number, checkIntervalMs: number): TimerHandle {
  const { locker, membership, clock } = o;
  const deadSince = new Map<string, number>();
  let busy = false;
  const check = (): void => {
    if (stopped.has(configurator)) return;
    clock.setTimer(checkIntervalMs, check);
    const now = clock.now();
    const voters = locker.cas.voters;
    for (const v of voters) {
      // Only a member SWIM declared dead (or that left) counts; a suspect may just be slow.
      const state = membership.member(v.name)?.state;
      if (v.name === o.name || state === "alive" || state === "suspect") deadSince.delete(v.name);
      else if (!deadSince.has(v.name)) deadSince.set(v.name, now);
    }
    if (busy || !locker.cas.isVoter) return;
    const liveVoters = voters.filter((v) => !deadSince.has(v.name)).map((v) => v.name).sort();
    if (liveVoters[0] !== o.name) return;
    const dead = voters.find((v) => now - (deadSince.get(v.name) ?? now) >= deadAfterMs);
    if (!dead) return;
    const names = new Set(voters.map((v) => v.name));
    const replica = membership
      .members()
      .filter((m) => m.state === "alive" && !names.has(m.name))
      .sort((a, b) => (a.name < b.name ? -1 : 1))[0];
    busy = true;
    const swap = async (): Promise<void> => {
      if (replica) await configurator.addVoter({ name: replica.name, address: replica.address });
      await configurator.removeVoter(dead.name);
    };
    swap()
      .catch(() => {})
      .finally(() => {
        busy = false;
      });
  };
  // Each check re-arms itself; close() marks the configurator stopped, which ends the loop.
  return clock.setTimer(checkIntervalMs, check);
}
