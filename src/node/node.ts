// The one composition root: a UDP transport (or a given one), SWIM
// membership, discovery and rejoin, the voter configuration (static or
// `expect: N`), the Locker, replication and reconfiguration. The agent, the
// library's `startNode`, the benchmarks and the tests all assemble a node here.
// Long because it is the one place that assembles and closes every part, in
// order; each part's policy lives in its own file next to it.
import { networkInterfaces } from "node:os";
import { Membership, type Conflict, type MemberEvent, type MembershipConfig, type ProfileName } from "@locker/membership";
import type { Logger } from "pino";
import { bootstrapExpect, decodeAdvert, encodeAdvert } from "../bootstrap/expect.js";
import { casCodec } from "../cas/messages.js";
import { MulticastBeacon } from "../discovery/multicast.js";
import { LockerError } from "../errors.js";
import type { LockerLimits } from "../limits.js";
import type { SharedLockerOptions } from "../locker-cluster.js";
import { Locker } from "../locker.js";
import { createAffinity, forwardCodec, type Affinity } from "./affinity.js";
import { attachReplication } from "../replication/attach.js";
import { normalizeConfig, type VoterConfig } from "../cluster/config.js";
import type { Configurator } from "../cluster/configurator.js";
import { replChannelOptions, replCodec } from "../replication/messages.js";
import type { Replicator } from "../replication/replicator.js";
import { bytesCodec, type Transport } from "../transport/transport.js";
import { ChannelId, type Address } from "../transport/types.js";
import { createUdpTransport, parseHostPort } from "../transport/udp.js";
import { SystemClock, type Clock, type TimerHandle } from "../util/clock.js";
import { cryptoSeededRandom, type Random } from "../util/random.js";
import { Keyring } from "../wire/keyring.js";
import { chooseAdvertiseAddress, isLoopback } from "./advertise.js";
import { KeyringControl, KeyringFile, keyringCodec } from "./keyring-control.js";
import { MemberGate } from "./member-gate.js";
import { NamedChannel } from "./named-channel.js";
import { readiness, type Readiness } from "./readiness.js";
import { MemberSnapshot, Rejoiner } from "./rejoin.js";

/** The cluster label agents use by default; a library node must use the same one to reach them. */
export const DEFAULT_CLUSTER_LABEL = "locker";
const MAX_DISCOVERED = 64;

export interface DiscoveryOptions {
  group?: string;
  port?: number;
  /** Interface address to send beacons from (default: the advertised address's interface). */
  interfaceAddress?: string;
  intervalMs?: number;
}

export interface NodeOptions {
  /** Unique member name; voters are listed by name. */
  name: string;
  /** UDP host:port to bind (port 0 picks one). Default 127.0.0.1:0. Ignored when `transport` is given. */
  bind?: Address;
  /** An already-bound transport (e.g. the in-memory network's). */
  transport?: Transport;
  /** The address other members reach this node at (HOST or HOST:PORT). Default: the bound one, or the host's one private address for 0.0.0.0/::. */
  advertise?: string;
  /** Seeds to join through (host:port); any one that answers is enough. */
  join?: readonly Address[];
  /** The static voter set, by member name. For a single-node cluster (no join, no expect) it is [name]. */
  voters?: readonly string[];
  /** Bootstrap: the first `expect` members that see each other become the voters. */
  expect?: number;
  /** Join as a non-voting replica. */
  replica?: boolean;
  /** Datagrams of other labels are dropped. Default "locker", as the agent. */
  clusterLabel?: string;
  /** Keys (32 bytes each, the first seals) for every datagram and discovery beacon. Required for a non-loopback bind unless `insecure`. */
  encryptKeys?: readonly Uint8Array[];
  /** A ready keyring instead of `encryptKeys` (its keys are then not persisted after a rotation). */
  keyring?: Keyring;
  /** Allow unsealed datagrams on a non-loopback bind (anyone on the network can then forge locks). */
  insecure?: boolean;
  limits?: Partial<LockerLimits>;
  /** Quiet period before this node's acceptor votes (default: maxLeaseMs). */
  quietPeriodMs?: number;
  /** Membership metadata (small); the node adds its voter-configuration advert under `locker`. */
  meta?: Record<string, unknown>;
  /** expect: the view must be unchanged this long before pinning. Default 500 ms. */
  expectSettleMs?: number;
  /** expect: give up after this long. Default: wait for as long as it runs (progress in `bootstrapStatus`). */
  expectTimeoutMs?: number;
  /** Membership timing profile. Default "lan". */
  profile?: ProfileName;
  membershipConfig?: Partial<MembershipConfig>;
  /** Multicast discovery of peers. Default: on when there is no `join` and the bind is not loopback. */
  discovery?: boolean | DiscoveryOptions;
  /** Remembers the members seen here, to rejoin through them after a restart. "" (default) keeps nothing. */
  dataDir?: string;
  /**
   * When no seed answers the first join: false (default) rejects `started`
   * with `unavailable`; true keeps retrying seeds, remembered members and
   * discovery with backoff for as long as the node runs (the agent).
   */
  retryJoin?: boolean;
  /** Further Locker options (timings of rounds, fast path…). */
  locker?: Omit<SharedLockerOptions, "limits" | "quietPeriodMs" | "maxLeaseMs" | "isVoterAlive" | "configVersion">;
  replication?: { pushIntervalMs?: number; maxInflightPerReplica?: number; snapshotWindow?: number };
  /** Replace a voter dead longer than `deadAfterMs` by a live replica (off unless given). */
  autopilot?: { deadAfterMs: number; checkIntervalMs?: number };
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  /**
   * Another live node holds this node's name at another address: this node
   * is the duplicate. It stops itself (without a leave, which would speak for
   * the other node's name) and tells this callback; before it has started,
   * `started` rejects instead.
   */
  onNameConflict?: (error: LockerError) => void;
  /**
   * Key affinity (src/node/affinity.ts). "contended" (default): a key's
   * quorum operations run here until this node sees the key contended with
   * other nodes (`locked` while none of its callers holds or is locking it, a
   * round lost to another node's proposer, `contention`, `timeout`), then go
   * to its coordinator among the live voters
   * for a while; a key only this node's callers fight over stays here, where
   * its queue coalesces their locks and a release grants the next lock. A key one node locks again and again
   * keeps that node's one-round-trip path with no hop (measured: a library
   * node's sequential lock p50 353 µs against 770 µs forwarded,
   * bench/probe/latency.ts), and a contended key still has one proposer.
   * true: every key forwarded. false: run here (this node still serves
   * others' forwards).
   */
  affinity?: boolean | "contended";
}

export interface LockerNode {
  readonly name: string;
  /** The address this node gossips (what the others send to). */
  readonly address: Address;
  /** The node's Locker, its quorum operations routed by key affinity (`affinity`). */
  readonly locker: Locker;
  /** Where each key's operations are coordinated, and the forwarding counters. */
  readonly affinity: Affinity;
  readonly membership: Membership;
  readonly transport: Transport;
  /** Voter changes: addVoter, removeVoter, promote (one voter at a time). */
  readonly configurator: Configurator;
  readonly replicator: Replicator;
  /** Requests and messages refused because their sender is not a member. */
  readonly gate: MemberGate;
  /** Cluster-wide keyring rotation; undefined when datagrams are not sealed. */
  readonly keyring: KeyringControl | undefined;
  /** The voter set in force. */
  voters(): string[];
  configVersion(): number;
  /** The configuration in force, with addresses as the CAS layer sees them (names). */
  config(): VoterConfig;
  /** Whether quorum operations can be served, and if not, why. */
  readiness(): Readiness;
  ready(): boolean;
  /** Stops everything; by default announces the departure to SWIM first. Safe to call twice. */
  close(options?: { leave?: boolean }): Promise<void>;
}

/** A node whose socket and membership run, still forming or learning its voter set. */
export interface StartingNode {
  readonly name: string;
  readonly address: Address;
  readonly membership: Membership;
  readonly transport: Transport;
  /** What the node waits for while it starts (undefined once started). */
  bootstrapStatus(): string | undefined;
  /** Members seen by discovery beacons (addresses). */
  discovered(): readonly string[];
  /** Resolves once the node can serve; rejects if it cannot start (no seed answered, bad configuration…). */
  readonly started: Promise<LockerNode>;
  /** Stops whatever has started. */
  close(options?: { leave?: boolean }): Promise<void>;
}

/** Opens and assembles a node; resolves once it can serve (see `openNode` for the two steps). */
export async function startNode(options: NodeOptions): Promise<LockerNode> {
  const starting = await openNode(options);
  return starting.started;
}

function checkOptions(o: NodeOptions): { voters: string[]; expect: number } {
  const join = o.join ?? [];
  let voters = [...(o.voters ?? [])];
  const expect = o.expect ?? 0;
  if (voters.length > 0 && expect > 0) throw new LockerError("invalid", "give either voters or expect, not both");
  if (voters.length === 0 && expect === 0) {
    if (join.length > 0 || o.replica) throw new LockerError("invalid", "joining a cluster needs its voters (or expect)");
    voters = [o.name]; // a cluster of one: this node is its own voter
  }
  if (o.replica && voters.includes(o.name)) throw new LockerError("invalid", `replica ${o.name} is listed among the voters`);
  return { voters, expect };
}

/** Safe by default: plain datagrams only where nobody else can send them. */
function checkTrust(o: NodeOptions, bind: string): void {
  if (o.keyring || (o.encryptKeys?.length ?? 0) > 0 || o.insecure || o.transport) return;
  const { host } = parseHostPort(bind);
  if (isLoopback(host)) return;
  throw new LockerError(
    "invalid",
    `refusing to bind ${bind} without a key: anyone on this network could forge locks or take over the voter set. ` +
      "Make a key with `locker keygen` and give it to every node (--encrypt-file FILE or LOCKER_ENCRYPT), or pass --insecure to accept the risk",
  );
}

/** Membership metadata of a node: the application's fields plus the voter-configuration advert under `locker`. */
function withAdvert(meta: Record<string, unknown> | undefined, advert: unknown): Record<string, unknown> {
  return { ...meta, locker: advert };
}

const advertOf = (meta: unknown): unknown => (meta as { locker?: unknown } | undefined)?.locker;

/** Longest readiness reason carried in metadata (the metadata of a member is bounded: maxMetaBytes). */
const MAX_ADVERTISED_REASON = 160;

/**
 * This node's readiness as the other members see it (metadata `ready`): the
 * reason without its countdowns, so it changes (and is gossiped) only when
 * the state does, not every second.
 */
export function advertisedReadiness(r: Readiness): { ok: boolean; why?: string } {
  if (r.ready || !r.reason) return { ok: r.ready };
  const why = r.reason.replace(/ in \d+ s\b/g, "").replace(/\(attempt \d+: /g, "(");
  return { ok: false, why: why.length > MAX_ADVERTISED_REASON ? `${why.slice(0, MAX_ADVERTISED_REASON - 1)}…` : why };
}

/** The highest configuration version members advertise (a hint to fetch it; never adopted from metadata). */
function newestAdvertisedVersion(membership: Membership): number {
  let best = 0;
  for (const m of membership.members()) {
    if (m.state !== "alive") continue;
    const adopted = decodeAdvert(advertOf(m.meta)).adopted;
    if (adopted && adopted.version > best) best = adopted.version;
  }
  return best;
}

/**
 * Step one: binds the socket and starts membership (and discovery, rejoin),
 * so an agent can serve its status at once; `started` then forms or learns
 * the voter set and assembles the rest.
 */
export async function openNode(options: NodeOptions): Promise<StartingNode> {
  const clock = options.clock ?? new SystemClock();
  const random = options.random ?? cryptoSeededRandom();
  const { logger } = options;
  const { voters: staticVoters, expect } = checkOptions(options);
  const clusterLabel = options.clusterLabel ?? DEFAULT_CLUSTER_LABEL;
  const bind = options.bind ?? "127.0.0.1:0";
  if (!options.transport) checkTrust(options, bind);
  // A keyring rotated at runtime was persisted in the data dir: it takes precedence over the configured keys.
  const keyFile = new KeyringFile(options.dataDir ?? "", options.name);
  const sealing = options.keyring !== undefined || (options.encryptKeys?.length ?? 0) > 0;
  const persisted = sealing ? keyFile.load() : undefined;
  if (persisted) logger?.info({ file: keyFile.path, keys: persisted.length }, "keyring from the data dir (rotated at runtime) takes precedence over the configured keys");
  const rawKeys = persisted ?? options.encryptKeys;
  const keyring = persisted ? new Keyring(persisted) : (options.keyring ?? (rawKeys && rawKeys.length > 0 ? new Keyring([...rawKeys]) : undefined));
  const transport = options.transport ?? (await createUdpTransport({ bind, clock, random, clusterLabel, ...(keyring ? { keyring } : {}) }));
  let address: Address;
  try {
    address = options.transport ? transport.address : chooseAdvertiseAddress(transport.address, options.advertise, networkInterfaces());
  } catch (e) {
    await transport.close();
    throw e;
  }
  const membership = new Membership({
    address,
    name: options.name,
    channel: transport.channel(ChannelId.membership, bytesCodec),
    clock,
    random,
    meta: withAdvert(options.meta, null),
    profile: options.profile ?? "lan",
    ...(options.membershipConfig ? { config: options.membershipConfig } : {}),
  });
  // Only members are answered on the CAS, replication and control channels (membership's own channel is how one joins).
  const gate = new MemberGate({ membership, self: [transport.address, address], clock });
  const keyringControl = keyring
    ? new KeyringControl({
        name: options.name,
        keyring,
        keys: rawKeys ?? [],
        channel: gate.wrap(transport.channel(ChannelId.control, keyringCodec)),
        membership,
        ...(rawKeys ? { file: keyFile } : {}),
        onChange: (op, fingerprint) => logger?.info({ op, fingerprint }, `keyring ${op}`),
      })
    : undefined;
  let conflictError: LockerError | undefined;
  let rejectOnConflict: ((e: LockerError) => void) | undefined;
  const conflicted = new Promise<never>((_, reject) => {
    rejectOnConflict = reject;
  });
  conflicted.catch(() => {});
  membership.on("conflict", (c: Conflict) => {
    if (!c.self) {
      logger?.warn({ name: c.name, existing: c.existing, other: c.other }, `duplicate name ${c.name}: two live nodes claim it; keeping ${c.existing}, refusing ${c.other}`);
      return;
    }
    if (conflictError) return;
    conflictError = new LockerError(
      "invalid",
      `another live node is named ${c.name} at ${c.existing} (this one is at ${c.other}): names must be unique; give this node another --name`,
    );
    logger?.error({ name: c.name, existing: c.existing }, conflictError.message);
    rejectOnConflict?.(conflictError);
    if (node) {
      void node.close({ leave: false }).then(() => options.onNameConflict?.(conflictError!));
    }
  });
  if (logger) {
    membership.on("change", (e: MemberEvent) => logger.info({ member: e.member.name, address: e.member.address, state: e.member.state }, `member ${e.type}`));
  }

  const join = [...(options.join ?? [])];
  const boundHost = options.transport ? "" : parseHostPort(bind).host;
  const discoveryOn = options.discovery ?? (join.length === 0 && !options.transport && !isLoopback(boundHost));
  const discovered: string[] = [];
  const rejoiner = new Rejoiner({
    membership,
    clock,
    random,
    seeds: join,
    snapshot: new MemberSnapshot(options.dataDir ?? "", options.name),
    discovered: () => discovered,
    self: address,
    onAttempt: (addresses, ok, error) => {
      if (ok) logger?.info({ through: addresses.length }, "joined the cluster");
      else logger?.debug({ addresses, err: error }, "no member answered yet; retrying with backoff");
    },
    onSaveError: (e) => logger?.warn({ err: e.message }, "cannot record members in the data dir"),
  });
  let beacon: MulticastBeacon | undefined;
  let closingStarting: Promise<void> | undefined;
  let status: string | undefined = "joining";
  let closed = false;
  let node: LockerNode | undefined;

  const stopStarting = async (leave: boolean): Promise<void> => {
    rejoiner.close();
    gate.close();
    await beacon?.close();
    beacon = undefined;
    if (leave) await membership.leave().catch((e: unknown) => logger?.debug({ err: (e as Error).message }, "could not announce the leave; the others will find this node dead"));
    membership.close();
    await transport.close();
  };

  if (discoveryOn) {
    const d = typeof discoveryOn === "object" ? discoveryOn : {};
    const host = parseHostPort(address).host;
    try {
      beacon = await MulticastBeacon.start({
        clusterLabel,
        name: options.name,
        address,
        clock,
        random,
        ...(keyring ? { keyring } : {}),
        ...(d.group ? { group: d.group } : {}),
        ...(d.port ? { port: d.port } : {}),
        ...(d.intervalMs ? { intervalMs: d.intervalMs } : {}),
        // Beacons leave through the advertised address's interface, so a host with a multicast route but no default route works.
        ...(d.interfaceAddress ? { interfaceAddress: d.interfaceAddress } : !host.includes(":") && !isLoopback(host) ? { interfaceAddress: host } : {}),
        onPeer: (peer) => {
          if (peer.name === options.name) return;
          if (!discovered.includes(peer.address)) {
            discovered.push(peer.address);
            if (discovered.length > MAX_DISCOVERED) discovered.shift();
          }
          const known = membership.member(peer.name);
          if (!known || known.state === "dead" || known.state === "left") rejoiner.reach(peer.address);
        },
      });
    } catch (e) {
      await stopStarting(false);
      throw e;
    }
  }

  const assembled = (async (): Promise<LockerNode> => {
    const seeds = [...new Set([...join, ...rejoiner.rememberedAddresses()])].filter((a) => a !== address);
    try {
      await membership.bootstrap(seeds);
    } catch (e) {
      if (join.length > 0 && !options.retryJoin) {
        throw new LockerError("unavailable", `no seed answered: ${(e as Error).message}`);
      }
      if (join.length > 0 || seeds.length > 0) {
        logger?.warn({ seeds }, "no seed answered yet; retrying seeds, remembered members and discovery with backoff");
      }
    }
    rejoiner.start();
    if (closed) throw new LockerError("unavailable", "node closed while starting");

    let config: VoterConfig;
    if (expect > 0 && options.replica) {
      status = "waiting for the voters' configuration";
      config = await waitForVoters(membership, clock, options.expectTimeoutMs, () => closed);
    } else if (expect > 0) {
      logger?.info({ expect }, "bootstrap: waiting for the first members that see each other");
      status = `0 of ${expect} expected members visible`;
      config = await bootstrapExpect({
        membership,
        clock,
        expect,
        metaOf: (advert) => withAdvert(options.meta, advert),
        advertOf,
        timeoutMs: options.expectTimeoutMs ?? Number.MAX_SAFE_INTEGER,
        ...(options.expectSettleMs !== undefined ? { settleMs: options.expectSettleMs } : {}),
        onWait: (reason: string) => {
          status = reason;
        },
        isClosed: () => closed,
      });
      config = normalizeConfig(config.version, config.voters.map((v) => ({ name: v.name, address: v.name })));
    } else {
      config = normalizeConfig(1, staticVoters.map((name) => ({ name, address: name })));
    }
    if (closed) throw new LockerError("unavailable", "node closed while starting");

    const addressOf = (name: string): Address | undefined => {
      if (name === options.name) return transport.address;
      const state = membership.stateOf(name);
      return state !== undefined && state !== "dead" && state !== "left" ? membership.addressOf(name) : undefined;
    };
    // A suspect is still asked: under load SWIM suspects slow members, and
    // failing fast on them would turn a slow cluster into an unavailable one.
    const isUp = (name: string): boolean => {
      if (name === options.name) return true;
      const state = membership.stateOf(name);
      return state === "alive" || state === "suspect";
    };
    const channel = new NamedChannel(gate.wrap(transport.channel(ChannelId.cas, casCodec)), addressOf);
    // Metadata: the application's fields, the configuration advert, this node's readiness.
    let adopted: unknown = null;
    let advertisedReady: { ok: boolean; why?: string } | undefined;
    let readinessTimer: TimerHandle | undefined;
    const publishMeta = (): void => {
      try {
        membership.updateMeta({ ...withAdvert(options.meta, adopted), ...(advertisedReady ? { ready: advertisedReady } : {}) });
      } catch (e) {
        logger?.warn({ err: (e as Error).message }, "cannot advertise this node's metadata");
      }
    };
    const quietPeriodMs = options.quietPeriodMs ?? options.limits?.maxLeaseMs;
    const lockerStartedAt = clock.now();
    const locker = new Locker({
      ...options.locker,
      name: options.name,
      channel,
      clock,
      random,
      voters: config.voters,
      configVersion: config.version,
      isVoterAlive: isUp,
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.limits?.maxLeaseMs !== undefined ? { maxLeaseMs: options.limits.maxLeaseMs } : {}),
      ...(quietPeriodMs !== undefined ? { quietPeriodMs } : {}),
    });
    const effectiveQuietMs = quietPeriodMs ?? locker.limits.maxLeaseMs;
    const attached = attachReplication({
      name: options.name,
      locker,
      membership,
      transport,
      clock,
      random,
      addressOf: (v) => addressOf(v.name),
      voterAddressOf: (m) => m.name,
      channel: gate.wrap(transport.channel(ChannelId.replication, replCodec, replChannelOptions)),
      advertise: (c) => {
        adopted = encodeAdvert({ pin: null, adopted: { version: c.version, voters: c.voters.map((v) => v.name) } });
        publishMeta();
      },
      ...(options.replication ? { replication: options.replication } : {}),
      ...(options.autopilot ? { autopilot: options.autopilot } : {}),
      ...(logger ? { logger } : {}),
    });
    // A node that restarted (memory lost) after the voters changed learns the
    // newer configuration from the voters through the protocol, never from
    // metadata alone: metadata only says that a newer version exists.
    const advertised = newestAdvertisedVersion(membership);
    if (advertised > config.version) {
      attached.configurator.awaitVersion(advertised).catch((e: unknown) => logger?.warn({ err: (e as Error).message, version: advertised }, "cannot learn the newer voter configuration yet"));
    }
    status = undefined;
    const currentVoters = (): string[] => locker.cas.voters.map((v) => v.name);
    // Key affinity: each key's quorum operations go to one coordinator among
    // the live voters, so one proposer serves a key whichever node a request
    // reaches. Every node serves others' forwards, even with forwarding off.
    const affinity = createAffinity({
      locker,
      self: options.name,
      voters: currentVoters,
      isUp,
      addressOf,
      channel: gate.wrap(transport.channel(ChannelId.forward, forwardCodec)),
      clock,
      forward: options.affinity ?? "contended",
    });
    let closing: Promise<void> | undefined;
    const built: LockerNode = {
      name: options.name,
      address,
      locker: affinity.api,
      affinity,
      membership,
      transport,
      configurator: attached.configurator,
      replicator: attached.replicator,
      gate,
      keyring: keyringControl,
      voters: currentVoters,
      configVersion: () => locker.cas.configVersion,
      config: () => attached.configurator.current(),
      readiness: () =>
        readiness({
          self: options.name,
          voters: currentVoters(),
          isUp,
          quietRemainingMs: locker.cas.isVoter && locker.summary().quiet ? Math.max(1, lockerStartedAt + effectiveQuietMs - clock.now()) : 0,
          quietNote: locker.cas.recoveryNote(),
        }),
      ready: () => built.readiness().ready,
      close: (o = {}) => {
        closing ??= (async () => {
          closed = true;
          affinity.close();
          attached.close();
          gate.close();
          rejoiner.close();
          clock.clearTimer(readinessTimer);
          await beacon?.close();
          beacon = undefined;
          if (o.leave !== false) await membership.leave().catch((e: unknown) => logger?.debug({ err: (e as Error).message }, "could not announce the leave; the others will find this node dead"));
          await locker.close();
          membership.close();
          await transport.close();
        })();
        return closing;
      },
    };
    if (conflictError) {
      await built.close({ leave: false });
      throw conflictError;
    }
    // Every member shows every other's readiness (and why not): checked each second, gossiped on change.
    const advertiseReadiness = (): void => {
      readinessTimer = undefined;
      if (closed) return;
      const next = advertisedReadiness(built.readiness());
      if (advertisedReady?.ok !== next.ok || advertisedReady.why !== next.why) {
        advertisedReady = next;
        publishMeta();
      }
      readinessTimer = clock.setTimer(1000, advertiseReadiness);
    };
    advertiseReadiness();
    node = built;
    return built;
  })();
  assembled.catch(() => {});
  // A name conflict found while starting fails the start (without a leave: the name is the other node's).
  const started = Promise.race([assembled, conflicted]).catch(async (e: unknown) => {
    if (e === conflictError && !node) {
      closed = true;
      closingStarting ??= stopStarting(false);
      await closingStarting;
    }
    throw e;
  });
  // The caller may never await `started` (it closes first): no unhandled rejection.
  started.catch(() => {});

  return {
    name: options.name,
    address,
    membership,
    transport,
    bootstrapStatus: () => status,
    discovered: () => discovered,
    started,
    close: (o = {}) => {
      if (node) return node.close(o);
      closed = true;
      closingStarting ??= stopStarting(o.leave !== false);
      return closingStarting;
    },
  };
}

/** A replica started with `expect`: waits until a live member advertises an adopted configuration, then learns it. */
function waitForVoters(membership: Membership, clock: Clock, timeoutMs: number | undefined, isClosed: () => boolean): Promise<VoterConfig> {
  return new Promise((resolve, reject) => {
    const started = clock.now();
    const check = (): void => {
      if (isClosed()) return reject(new LockerError("unavailable", "node closed while starting"));
      for (const m of membership.members()) {
        if (m.state !== "alive") continue;
        const adopted = decodeAdvert(advertOf(m.meta)).adopted;
        // Started as version 1 with the advertised names: only this replica's own
        // rounds use it, and voters refuse them until the real configuration
        // (learned through the protocol right after start) replaces it.
        if (adopted) {
          try {
            return resolve(normalizeConfig(1, adopted.voters.map((name) => ({ name, address: name }))));
          } catch {
            // malformed: keep waiting
          }
        }
      }
      if (timeoutMs !== undefined && clock.now() - started >= timeoutMs) {
        return reject(new LockerError("unavailable", `no voter configuration advertised within ${timeoutMs} ms`));
      }
      clock.setTimer(100, check);
    };
    check();
  });
}
