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
  /** Membership metadata (small); the node adds its role. */
  meta?: Record<string, unknown>;
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
  const { clock, random, logger } = options;
  const transport = await createUdpTransport({ bind: options.bind, clock, random, clusterLabel: options.clusterLabel, keyring: options.keyring });
  try {
    return await assemble(options, transport);
  } catch (e) {
    await transport.close();
    throw e;
  }
}

async function assemble(options: NodeOptions, transport: Transport): Promise<LockerNode> {
  const { clock, random, logger } = options;
  const join = options.join ?? [];
  let voters = [...(options.voters ?? [])];
  const expect = options.expect ?? 0;
  if (voters.length === 0 && expect === 0) {
    if (join.length > 0 || options.replica) throw new LockerError("invalid", "joining a cluster needs its voters (or expect)");
    voters = [options.name]; // a cluster of one: this node is its own voter
  }
  if (expect > 0) {
    throw new LockerError("invalid", "expect-based bootstrap is not wired into the node yet; list the voters");
  }
  const role = voters.includes(options.name) && !options.replica ? "voter" : "replica";
  const membership = new Membership({
    address: transport.address,
    name: options.name,
    channel: transport.channel(ChannelId.membership, bytesCodec),
    clock,
    random,
    meta: { ...options.meta, role },
    profile: options.profile ?? "lan",
    config: options.membershipConfig,
  });
  if (logger) {
    membership.on("change", (e: MemberEvent) => logger.info({ member: e.member.name, address: e.member.address, state: e.member.state }, `member ${e.type}`));
  }
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
    voters: voters.map((name) => ({ name, address: name })),
    isVoterAlive: (name) => name === options.name || membership.isAlive(name),
    limits: options.limits,
    maxLeaseMs: options.limits?.maxLeaseMs,
    quietPeriodMs: options.quietPeriodMs,
  });
  try {
    await membership.bootstrap([...join]);
  } catch (e) {
    // Keep running alone: seeds may come up later and find us, as in memberlist.
    logger?.warn({ err: (e as Error).message, join }, "no seed answered; running until a member finds this node");
  }
  let closing: Promise<void> | undefined;
  return {
    name: options.name,
    locker,
    membership,
    transport,
    voters: () => [...voters],
    configVersion: () => 1,
    ready: () => {
      const alive = voters.filter((v) => v === options.name || membership.isAlive(v)).length;
      return alive > voters.length / 2 && !locker.summary().quiet;
    },
    close: () => {
      closing ??= (async () => {
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
