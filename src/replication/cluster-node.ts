// One self-forming cluster node: SWIM membership, the voter configuration
// (a static list or `expect: N`), the Locker, replication to non-voters and
// reconfiguration, all on one transport (one UDP socket). Optional: multicast
// discovery of join seeds, and an autopilot that replaces a dead voter.
import { Membership, type MembershipConfig, type ProfileName } from "@locker/membership";
import { bootstrapExpect, decodeAdvert } from "../bootstrap/expect.js";
import { MulticastBeacon } from "../discovery/multicast.js";
import { LockerError } from "../errors.js";
import { Locker, type VoterSpec } from "../locker.js";
import type { SharedLockerOptions } from "../locker-cluster.js";
import { bytesCodec, type Transport } from "../transport/transport.js";
import { ChannelId } from "../transport/types.js";
import type { Clock } from "../util/clock.js";
import type { Random } from "../util/random.js";
import { attachReplication, type Attached } from "./attach.js";
import { normalizeConfig, type VoterConfig } from "./messages.js";
import type { Configurator } from "./reconfig.js";
import type { PeerSpec, Replicator } from "./replicator.js";

export interface ClusterNodeOptions {
  /** Unique node name (also the SWIM member name). */
  name: string;
  /** A bound transport; the node opens its membership, cas and replication channels. */
  transport: Transport;
  clock: Clock;
  random: Random;
  /** Addresses of members to join through ("host:port"); none: start alone (or wait for discovery). */
  seeds?: readonly string[];
  /** A static voter configuration (version 1)… */
  voters?: readonly VoterSpec[];
  /** …or `expect: N`: the first N members that see each other become the voters. */
  expect?: number;
  /** expect: the view must be unchanged this long before pinning. Default 500 ms. */
  expectSettleMs?: number;
  /** expect: give up after this long. Default 60 s. */
  expectTimeoutMs?: number;
  membership?: { profile?: ProfileName; config?: Partial<MembershipConfig> };
  locker?: SharedLockerOptions;
  replication?: { pushIntervalMs?: number; maxInflightPerReplica?: number; snapshotWindow?: number };
  /** Multicast discovery of join seeds (off unless given). */
  discovery?: { clusterLabel: string; group?: string; port?: number; intervalMs?: number; interfaceAddress?: string };
  /** Replace a voter dead longer than `deadAfterMs` by a live replica (off unless given). */
  autopilot?: { deadAfterMs: number; checkIntervalMs?: number };
}

/** The newest configuration advertised in members' metadata whose voters are all known to membership. */
function newestAdvertised(membership: Membership): VoterConfig | undefined {
  let best: VoterConfig | undefined;
  for (const m of membership.members()) {
    const a = decodeAdvert(m.meta).adopted;
    if (!a || (best && a.version <= best.version)) continue;
    const voters = a.voters.map((n) => (n === membership.whoami() ? membership.localMember() : membership.member(n)));
    if (voters.some((v) => v === undefined)) continue;
    try {
      best = normalizeConfig(a.version, voters.map((v) => ({ name: v!.name, address: v!.address })));
    } catch {
      // malformed advert: ignore
    }
  }
  return best;
}

export class ClusterNode {
  private closed = false;
  readonly replicator: Replicator;
  readonly configurator: Configurator;

  private constructor(
    readonly name: string,
    readonly transport: Transport,
    readonly membership: Membership,
    readonly locker: Locker,
    private readonly attached: Attached,
    private beacon: MulticastBeacon | undefined,
  ) {
    this.replicator = attached.replicator;
    this.configurator = attached.configurator;
  }

  static async start(o: ClusterNodeOptions): Promise<ClusterNode> {
    if ((o.voters === undefined) === (o.expect === undefined)) throw new LockerError("invalid", "give exactly one of `voters` and `expect`");
    const { transport, clock, random } = o;
    const membership = new Membership({
      name: o.name,
      address: transport.address,
      channel: transport.channel(ChannelId.membership, bytesCodec),
      clock,
      random,
      profile: o.membership?.profile ?? "lan",
      config: o.membership?.config ?? {},
    });
    let beacon: MulticastBeacon | undefined;
    try {
      try {
        await membership.bootstrap(o.seeds ?? []);
      } catch (e) {
        // With discovery on, seeds that are not up yet are no reason to stop: beacons will find them.
        if (!o.discovery) throw e;
      }
      if (o.discovery) {
        const d = o.discovery;
        beacon = await MulticastBeacon.start({
          clusterLabel: d.clusterLabel,
          name: o.name,
          address: transport.address,
          clock,
          random,
          ...(d.group ? { group: d.group } : {}),
          ...(d.port ? { port: d.port } : {}),
          ...(d.intervalMs ? { intervalMs: d.intervalMs } : {}),
          ...(d.interfaceAddress ? { interfaceAddress: d.interfaceAddress } : {}),
          onPeer: (peer) => {
            const known = membership.member(peer.name);
            if (known && known.state === "alive") return;
            membership.bootstrap([peer.address]).catch(() => {});
          },
        });
      }
      let config: VoterConfig;
      if (o.voters) {
        config = normalizeConfig(1, o.voters);
      } else {
        config = await bootstrapExpect({
          membership,
          clock,
          expect: o.expect!,
          ...(o.expectSettleMs !== undefined ? { settleMs: o.expectSettleMs } : {}),
          ...(o.expectTimeoutMs !== undefined ? { timeoutMs: o.expectTimeoutMs } : {}),
        });
      }
      // A node that restarts (memory lost) after the voters changed must not
      // act on its stale static list: two such nodes could otherwise form a
      // quorum of a configuration the cluster left long ago. It takes the
      // newest configuration the members it joined advertise.
      const newer = newestAdvertised(membership);
      if (newer && newer.version > config.version) config = newer;
      const locker = new Locker({
        ...o.locker,
        name: o.name,
        channel: transport,
        clock,
        random,
        voters: config.voters,
        configVersion: config.version,
        // A suspect is still asked: under load SWIM suspects slow members, and
        // failing fast on them would turn a slow cluster into an unavailable one.
        isVoterAlive: (n) => {
          const state = membership.member(n)?.state;
          return state === "alive" || state === "suspect";
        },
      });
      const attached = attachReplication({
        name: o.name,
        locker,
        membership,
        transport,
        clock,
        random,
        ...(o.replication ? { replication: o.replication } : {}),
        ...(o.autopilot ? { autopilot: o.autopilot } : {}),
      });
      return new ClusterNode(o.name, transport, membership, locker, attached, beacon);
    } catch (e) {
      await beacon?.close();
      membership.close();
      throw e;
    }
  }

  get config(): VoterConfig {
    return this.configurator.current();
  }

  addVoter(voter: PeerSpec): Promise<VoterConfig> {
    return this.configurator.addVoter(voter);
  }

  promote(name: string): Promise<VoterConfig> {
    return this.configurator.promote(name);
  }

  removeVoter(name: string): Promise<VoterConfig> {
    return this.configurator.removeVoter(name);
  }

  /** Stops everything; `leave` announces the departure to SWIM first. */
  async close(options: { leave?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.attached.close();
    await this.beacon?.close();
    this.beacon = undefined;
    await this.locker.close();
    if (options.leave) await this.membership.leave();
    else this.membership.close();
    await this.transport.close();
  }
}
