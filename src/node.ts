// One locker process: a UDP transport, SWIM membership on its membership
// channel and a Locker on its CAS channel, with voters named by member name
// and their addresses learned from membership.
import { Membership, type MemberEvent, type MembershipConfig, type ProfileName } from "@locker/membership";
import type { Logger } from "pino";
import { LockerError } from "./errors.js";
import type { LockerLimits } from "./limits.js";
import { Locker } from "./locker.js";
import { casCodec, type CasMessage } from "./cas/messages.js";
import { bytesCodec, Transport } from "./transport/transport.js";
import { createUdpTransport } from "./transport/udp.js";
import { ChannelId, type Address, type Channel, type RequestOptions } from "./transport/types.js";
import type { Clock } from "./util/clock.js";
import type { Random } from "./util/random.js";
import type { Keyring } from "./wire/keyring.js";
import { bootstrapExpect, decodeAdvert } from "./bootstrap/expect.js";
import { attachReplication } from "./replication/attach.js";
import { normalizeConfig, type VoterConfig } from "./replication/messages.js";
import type { Configurator } from "./replication/reconfig.js";

export interface NodeOptions {
  /** Unique member name; voters are listed by name. */
  name: string;
  /** UDP host:port to bind (port 0 picks one). */
  bind: Address;
  /** Seeds to join through (host:port); empty = start a cluster. */
  join?: readonly Address[];
  /** The static voter set, by member name. Empty with `expect` set, or for a single-node cluster (then it is [name]). */
  voters?: readonly string[];
  /** Bootstrap: the first `expect` members that see each other become the voters. */
  expect?: number;
  /** Join as a non-voting replica. */
  replica?: boolean;
  clusterLabel?: string;
  keyring?: Keyring;
  limits?: Partial<LockerLimits>;
  /** Quiet period before this node's acceptor votes (default: the Locker's, maxLeaseMs). */
  quietPeriodMs?: number;
  /** Membership metadata (small); the node adds its voter-configuration advert. */
  meta?: Record<string, unknown>;
  /** expect: give up forming the voter set after this long. Default 60 s. */
  expectTimeoutMs?: number;
  /** Membership timing profile (default "lan"). */
  profile?: ProfileName;
  membershipConfig?: Partial<MembershipConfig>;
  clock: Clock;
  random: Random;
  logger?: Logger;
}

export interface LockerNode {
  readonly name: string;
  readonly locker: Locker;
  readonly membership: Membership;
  readonly transport: Transport;
  /** Voter changes: addVoter, removeVoter, promote (one voter at a time). */
  readonly configurator: Configurator;
  /** The voter set in force. */
  voters(): string[];
  configVersion(): number;
  /** True once this node can serve quorum operations: enough voters are known and alive. */
  ready(): boolean;
  /** Leaves the cluster gracefully, then stops everything. */
  close(): Promise<void>;
}

/**
 * A CAS channel addressed by member name instead of host:port. The CAS layer
 * names voters; membership knows where each one is now, so a voter that
 * restarts on another address is still reached.
 */
export class NamedChannel implements Channel<CasMessage> {
  constructor(
    private readonly inner: Channel<CasMessage>,
    private readonly resolve: (name: string) => Address | undefined,
  ) {}
  get maxMessageBytes(): number {
    return this.inner.maxMessageBytes;
  }
  private addressOf(name: string): Address {
    const a = this.resolve(name);
    if (a === undefined) throw new LockerError("unavailable", `voter ${name} has not been seen by membership yet`);
    return a;
  }
  send(to: string, message: CasMessage): void {
    const a = this.resolve(to);
    if (a !== undefined) this.inner.send(a, message);
  }
  request(to: string, message: CasMessage, options?: RequestOptions): Promise<CasMessage> {
    try {
      return this.inner.request(this.addressOf(to), message, options);
    } catch (e) {
      return Promise.reject(e);
    }
  }
  onMessage(handler: (m: CasMessage, from: Address) => void): void {
    this.inner.onMessage(handler);
  }
  onRequest(handler: (m: CasMessage, from: Address) => CasMessage | Promise<CasMessage>): void {
    this.inner.onRequest(handler);
  }
  encodedSize(message: CasMessage): number {
    return this.inner.encodedSize(message);
  }
}

export async function startNode(options: NodeOptions): Promise<LockerNode> {
  const { clock, random } = options;
  const transport = await createUdpTransport({ bind: options.bind, clock, random, clusterLabel: options.clusterLabel, keyring: options.keyring });
  try {
    return await assemble(options, transport);
  } catch (e) {
    await transport.close();
    throw e;
  }
}

/** Membership metadata of a node: the application's fields plus the voter-configuration advert under `locker`. */
function withAdvert(meta: Record<string, unknown> | undefined, advert: unknown): Record<string, unknown> {
  return { ...meta, locker: advert };
}

/**
 * The newest voter configuration the members advertise. A node that restarts
 * (memory lost) after the voters changed must run that one, not its stale
 * static list: two such nodes could otherwise form a quorum of a
 * configuration the cluster has left.
 */
function newestAdvertised(membership: Membership): VoterConfig | undefined {
  let best: VoterConfig | undefined;
  for (const m of membership.members()) {
    const adopted = decodeAdvert((m.meta as { locker?: unknown } | undefined)?.locker).adopted;
    if (!adopted || (best && adopted.version <= best.version)) continue;
    try {
      best = normalizeConfig(adopted.version, adopted.voters.map((name) => ({ name, address: name })));
    } catch {
      // a malformed advert is ignored
    }
  }
  return best;
}

async function assemble(options: NodeOptions, transport: Transport): Promise<LockerNode> {
  const { clock, random, logger } = options;
  const join = options.join ?? [];
  let voters = [...(options.voters ?? [])];
  const expect = options.expect ?? 0;
  if (voters.length > 0 && expect > 0) throw new LockerError("invalid", "give either voters or expect, not both");
  if (voters.length === 0 && expect === 0) {
    if (join.length > 0 || options.replica) throw new LockerError("invalid", "joining a cluster needs its voters (or expect)");
    voters = [options.name]; // a cluster of one: this node is its own voter
  }
  const membership = new Membership({
    address: transport.address,
    name: options.name,
    channel: transport.channel(ChannelId.membership, bytesCodec),
    clock,
    random,
    meta: withAdvert(options.meta, null),
    profile: options.profile ?? "lan",
    config: options.membershipConfig,
  });
  if (logger) {
    membership.on("change", (e: MemberEvent) => logger.info({ member: e.member.name, address: e.member.address, state: e.member.state }, `member ${e.type}`));
  }
  try {
    await membership.bootstrap([...join]);
  } catch (e) {
    // Keep running alone: seeds may come up later and find us, as in memberlist.
    logger?.warn({ err: (e as Error).message, join }, "no seed answered; running until a member finds this node");
  }
  // Voters are named; the CAS layer addresses them by name and membership
  // says where each one is now (see NamedChannel).
  let config: VoterConfig;
  if (expect > 0) {
    if (options.replica) {
      // A replica never proposes itself: it waits for the voters' advert.
      config = await waitForAdvertised(membership, clock, options.expectTimeoutMs ?? 60_000);
    } else {
      logger?.info({ expect }, "bootstrap: waiting for the first members that see each other");
      const decided = await bootstrapExpect({
        membership,
        clock,
        expect,
        metaOf: (advert) => withAdvert(options.meta, advert),
        advertOf: (meta) => (meta as { locker?: unknown } | undefined)?.locker,
        ...(options.expectTimeoutMs !== undefined ? { timeoutMs: options.expectTimeoutMs } : {}),
      });
      config = normalizeConfig(decided.version, decided.voters.map((v) => ({ name: v.name, address: v.name })));
    }
  } else {
    config = normalizeConfig(1, voters.map((name) => ({ name, address: name })));
  }
  const newer = newestAdvertised(membership);
  if (newer && newer.version > config.version) config = newer;

  const addressOf = (name: string): Address | undefined => {
    if (name === options.name) return transport.address;
    const m = membership.member(name);
    return m && m.state !== "dead" && m.state !== "left" ? m.address : undefined;
  };
  const channel = new NamedChannel(transport.channel(ChannelId.cas, casCodec), addressOf);
  const locker = new Locker({
    name: options.name,
    channel,
    clock,
    random,
    voters: config.voters,
    configVersion: config.version,
    // A suspect is still asked: under load SWIM suspects slow members, and
    // failing fast on them would turn a slow cluster into an unavailable one.
    isVoterAlive: (name) => {
      if (name === options.name) return true;
      const state = membership.member(name)?.state;
      return state === "alive" || state === "suspect";
    },
    limits: options.limits,
    maxLeaseMs: options.limits?.maxLeaseMs,
    quietPeriodMs: options.quietPeriodMs,
  });
  const attached = attachReplication({
    name: options.name,
    locker,
    membership,
    transport,
    clock,
    random,
    addressOf: (v) => addressOf(v.name),
    voterAddressOf: (m) => m.name,
    advertise: (advert) => withAdvert(options.meta, advert),
  });
  const currentVoters = (): string[] => locker.cas.voters.map((v) => v.name);
  let closing: Promise<void> | undefined;
  return {
    name: options.name,
    locker,
    membership,
    transport,
    configurator: attached.configurator,
    voters: currentVoters,
    configVersion: () => locker.cas.configVersion,
    ready: () => {
      const all = currentVoters();
      const alive = all.filter((v) => v === options.name || membership.isAlive(v)).length;
      return alive > all.length / 2 && !locker.summary().quiet;
    },
    close: () => {
      closing ??= (async () => {
        attached.close();
        try {
          await membership.leave();
        } catch {
          // leaving is best effort: peers will find us dead instead
        }
        await locker.close();
        membership.close();
        await transport.close();
      })();
      return closing;
    },
  };
}

/** A replica started with `expect`: waits until some member advertises the adopted configuration. */
function waitForAdvertised(membership: Membership, clock: Clock, timeoutMs: number): Promise<VoterConfig> {
  return new Promise((resolve, reject) => {
    const started = clock.now();
    const check = (): void => {
      const c = newestAdvertised(membership);
      if (c) return resolve(c);
      if (clock.now() - started >= timeoutMs) {
        return reject(new LockerError("unavailable", `no voter configuration advertised within ${timeoutMs} ms`));
      }
      clock.setTimer(100, check);
    };
    check();
  });
}
