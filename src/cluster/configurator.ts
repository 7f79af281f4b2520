// Voter reconfiguration, one voter at a time (DESIGN.md "Voters, members, replicas").
//
// Why this is safe. Quorums are majorities of the configured voters. For two
// configurations that differ by one voter, every prepare quorum of the newer
// intersects every accept quorum of the older (add: ⌊(n+1)/2⌋ + ⌊n/2⌋+1 > n;
// remove: likewise), so a value chosen under version v is seen by a round
// under v+1. Two versions apart they need not intersect, so before the next
// change every key is read under v+1 with a prepare quorum of v+1 and written
// back unless a quorum of v+1 already agrees on it: the CASPaxos "rewrite"
// step, which leaves every chosen value on an accept quorum of v+1. Acceptors
// refuse rounds of any other version (and answer with theirs), so once a
// majority of the new voters runs v+1 no round of v can be chosen any more.
//
// Which configuration follows version v is itself agreed by CAS: a reserved
// key per version, `successorKey(v)`, is taken with `lock` (write-once), so of
// two coordinators changing v concurrently exactly one wins, even if one's
// round is retried under a newer version. A coordinator that finds a successor
// already chosen, or its own version not yet marked settled (the successor key
// of v−1 holds a `settled` flag), completes it (activate + rewrite + settle)
// before anything else: a crash halfway loses nothing. If that key is gone
// (its week-long lease lapsed), the running version is rewritten first, as if
// it were unsettled.
// Long because the safety argument below and the code that follows it belong
// together: changing one without the other is how reconfiguration breaks.
import { LockerError, isLockerError } from "../errors.js";
import type { Locker } from "../locker.js";
import type { OpResult, CasOp } from "../cas/proposer.js";
import type { Ballot } from "../cas/ballot.js";
import type { VoterSpec } from "../cas/node.js";
import type { Address, RequestOptions } from "../transport/types.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import { CONFIG_KEY } from "../cas/reserved.js";
import { decodeValue, encodeValue } from "../cas/value.js";
import { whenQuorum } from "../util/quorum.js";
import { configsEqual, MAX_VOTERS, normalizeConfig, type MemberSpec, type VoterConfig } from "./config.js";

/**
 * What the configurator needs of this node's consensus: the configuration it
 * runs, CAS rounds on the reserved registers and on every key (the rewrite),
 * and the keys its acceptor holds. Narrow on purpose: never the acceptor.
 * `votingNodeOf` adapts a Locker.
 */
export interface VotingNode {
  readonly configVersion: number;
  readonly voters: readonly VoterSpec[];
  execute(key: string, op: CasOp, timeoutMs: number): Promise<OpResult>;
  /** The value a majority of `voters` accepted at one ballot in register `key`, if any. */
  chosenRegister(key: string, voters: readonly string[], timeoutMs: number): Promise<Uint8Array | null>;
  /** What each of `voters` holds in register `key` (null: nothing or no answer). */
  peekRegister(key: string, voters: readonly string[], timeoutMs: number): Promise<({ ballot: Ballot; value: Uint8Array } | null)[]>;
  /** Keys this node's acceptor holds state for; undefined when it is no voter or quiet after a restart (its listing does not count). */
  heldKeyNames(): string[] | undefined;
  applyConfiguration(version: number, voters: readonly VoterSpec[]): "promoted" | "demoted" | "unchanged" | "stale";
  setConfigHooks(hooks: {
    onNewerConfig?: ((version: number, from: Address) => void) | undefined;
    awaitConfig?: ((version: number) => Promise<boolean>) | undefined;
    recoveryGate?: (() => Promise<string | null>) | undefined;
  }): void;
}

/** A Locker as the configurator drives it. */
export function votingNodeOf(locker: Locker): VotingNode {
  const cas = locker.cas;
  return {
    get configVersion() {
      return cas.configVersion;
    },
    get voters() {
      return cas.voters;
    },
    execute: (key, op, timeoutMs) => cas.execute(key, op, timeoutMs),
    chosenRegister: (key, voters, timeoutMs) => cas.chosenRegister(key, voters, timeoutMs),
    peekRegister: (key, voters, timeoutMs) => cas.peekRegister(key, voters, timeoutMs),
    heldKeyNames: () => cas.heldKeyNames(),
    applyConfiguration: (version, voters) => locker.applyConfiguration(version, voters),
    setConfigHooks: (hooks) => cas.setConfigHooks(hooks),
  };
}

/**
 * How the configurator reaches other nodes (replication carries these
 * messages on its channel, src/replication/config-peers.ts). Each call
 * rejects when the node does not answer in time or answers out of turn.
 */
export interface ConfigPeers {
  /** The configuration `address` runs. */
  fetchConfig(address: Address): Promise<VoterConfig>;
  /** Tells `address` to activate `config`; resolves with the configuration it runs then. */
  activate(address: Address, config: VoterConfig): Promise<VoterConfig>;
  /** Every key the acceptor at `address` holds state for, page by page. */
  listKeys(address: Address): Promise<string[]>;
}

/** What a node does with configuration messages from others (replication's channel hands them here). */
export interface ConfigHandler {
  current(): VoterConfig;
  /** A coordinator asks this node to activate `config`; resolves once done. */
  activate(config: VoterConfig, from: Address): Promise<void> | void;
  /** A message showed that some node runs configuration version `version`, newer than ours. */
  newerSeen(version: number, from: Address): void;
}

/** Prefix of the reserved keys that hold the agreed configurations. Clients cannot use them (they start with a NUL). */
export { CONFIG_KEY };
/** Budget of a configurator's request to another node (ConfigPeers implementations use it too). */
export const CONFIG_REQUEST: Readonly<RequestOptions> = { attemptTimeoutMs: 200, retries: 6, timeoutMs: 3000 };
/** A node this many versions behind does not walk the chain of registers (each step is a round of peeks). */
export const MAX_VERIFIED_STEPS = 64;
/** Checks of an offered configuration before it is dropped (the offer or a later message brings it again). */
const VERIFY_ATTEMPTS = 4;
const VERIFY_RETRY_MS = 100;

/** The key that holds the configuration chosen to follow version `version`. */
export function successorKey(version: number): string {
  return `${CONFIG_KEY}/${version}`;
}
/** Lease of a configuration key: long, restarted when the change settles. Its expiry only costs a rewrite (see change). */
const CONFIG_LEASE_MS = 7 * 24 * 3600 * 1000;

interface Register {
  config: VoterConfig;
  /** The rewrite under `config` finished: the next change may start from it. */
  settled: boolean;
  /** The exact bytes held (the `expected` of the next update). */
  raw: unknown;
}

export interface ConfiguratorOptions {
  name: string;
  voting: VotingNode;
  peers: ConfigPeers;
  clock: Clock;
  /** Alive members other than this node (to spread activations and fetch configurations). */
  members(): readonly MemberSpec[];
  /**
   * Where a voter of a configuration receives replication messages. Default:
   * its configured address. A composition that names voters by member name
   * (addresses resolved by membership) maps the name here.
   */
  addressOf?(voter: { name: string; address: string }): Address | undefined;
  /** The address a new voter gets in the configuration. Default: the member's address. */
  voterAddressOf?(member: MemberSpec): string;
  /** Called after this node activated a configuration. */
  onActivated?(config: VoterConfig, change: "promoted" | "demoted" | "unchanged"): void;
  /** Budget of each CAS operation of a change (register writes, rewrites). Default 5000 ms. */
  opTimeoutMs?: number;
  /** Keys rewritten in parallel. Default 64. */
  rewriteConcurrency?: number;
  /**
   * Every this many ms, ask one live member (in turn) which configuration it
   * runs, so a node that missed every activation (restarted, partitioned,
   * idle) still catches up. Default 1000; 0 turns it off.
   */
  antiEntropyMs?: number;
  /** Budget of a request to another node (register peeks). */
  request?: RequestOptions;
  /**
   * Deliberately unsafe: skip the rewrite between changes. Only for showing
   * that the simulator catches it: two changes apart, quorums need not meet.
   */
  unsafeSkipRewrite?: boolean;
}

export interface ReconfigStats {
  activations: number;
  /** Configurations offered (by a request or a reply) that could not be shown chosen: not adopted. */
  unverified: number;
  /** One-voter changes taken on a voter's word because the registers were lost (see adoptVerified). */
  adoptedOnVoterWord: number;
  changes: number;
  completedForOthers: number;
  keysRewritten: number;
  rewriteFailures: number;
  configFetches: number;
}

export class Configurator implements ConfigHandler {
  readonly stats: ReconfigStats = { activations: 0, unverified: 0, adoptedOnVoterWord: 0, changes: 0, completedForOthers: 0, keysRewritten: 0, rewriteFailures: 0, configFetches: 0 };
  private fetching: Promise<boolean> | undefined;
  private changing = false;
  private readonly opTimeoutMs: number;
  private readonly concurrency: number;
  private readonly requestOptions: RequestOptions;

  constructor(private readonly o: ConfiguratorOptions) {
    this.opTimeoutMs = o.opTimeoutMs ?? 5000;
    this.concurrency = o.rewriteConcurrency ?? 64;
    this.requestOptions = { ...CONFIG_REQUEST, ...o.request };
    o.voting.setConfigHooks({
      onNewerConfig: (version, from) => this.newerSeen(version, from),
      awaitConfig: (version) => this.awaitVersion(version),
      recoveryGate: () => this.recoveryGate(),
    });
    const every = o.antiEntropyMs ?? 1000;
    if (every > 0) {
      const tick = (): void => {
        if (this.closed) return;
        this.antiEntropy();
        this.antiEntropyTimer = o.clock.setTimer(every, tick);
      };
      this.antiEntropyTimer = o.clock.setTimer(every, tick);
    }
  }

  private closed = false;
  private antiEntropyTimer: TimerHandle | undefined;
  private antiEntropyTurn = 0;

  /** Stops the anti-entropy timer. */
  close(): void {
    this.closed = true;
    this.o.clock.clearTimer(this.antiEntropyTimer);
  }

  private antiEntropy(): void {
    const members = this.o.members();
    if (members.length === 0 || this.fetching) return;
    const m = members[this.antiEntropyTurn++ % members.length]!;
    this.fetching = this.o.peers
      .fetchConfig(m.address)
      .then((config) => (config.version > this.current().version ? this.adoptVerified(config, m.address) : false))
      .catch(() => false)
      .finally(() => {
        this.fetching = undefined;
      });
  }

  current(): VoterConfig {
    return normalizeConfig(this.o.voting.configVersion, this.o.voting.voters);
  }

  // ---- learning configurations ----

  /** A coordinator says `config` was chosen: adopted once that is shown (never on its word alone). */
  async activate(config: VoterConfig, from: Address): Promise<void> {
    // A voter that does not answer right now (paused, partitioned) can make a
    // check inconclusive: try again a few times before giving up on this offer.
    for (let attempt = 0; attempt < VERIFY_ATTEMPTS; attempt++) {
      if (this.current().version >= config.version) return;
      if (await this.adoptVerified(config, from)) return;
      await new Promise<void>((r) => this.o.clock.setTimer(VERIFY_RETRY_MS * 2 ** attempt, r));
    }
  }

  /**
   * Adopts `offered` only once it is shown chosen, never from one request or
   * one member's metadata. First the registers: walking from the running
   * version, each next configuration must be the value that a majority of the
   * previous one's voters accepted at one ballot in its register (a chosen
   * value; the coordinator wrote it with a CAS lock under the previous
   * version before telling anyone). The newest configuration so verified is
   * adopted. When the registers are incomplete (a demoted voter dropped its
   * acceptor, voters restarted with memory lost, the long lease lapsed), a
   * quorum of the running configuration vouches instead: a majority of its
   * voters, each holding `offered` in the register or running it already.
   * Last, when the registers were lost by a majority (restarts with memory
   * lost), the word of a running voter, at its member address, for a one-voter
   * change of the running configuration (the only kind a coordinator makes)
   * among live members: a forged set, a jump of versions or a replica's word
   * are never taken. True when `offered` is what this node now runs.
   */
  async adoptVerified(offered: VoterConfig, from?: Address): Promise<boolean> {
    let prev = this.current();
    if (offered.version <= prev.version) return false;
    if (offered.version - prev.version > MAX_VERIFIED_STEPS) {
      this.stats.unverified++;
      return false;
    }
    const timeoutMs = this.requestOptions.timeoutMs ?? 3000;
    let verified: VoterConfig | undefined;
    while (prev.version < offered.version) {
      const raw = await this.o.voting.chosenRegister(successorKey(prev.version), prev.voters.map((v) => v.name), timeoutMs);
      const reg = raw ? parseRegister(decodeValue(raw)) : null;
      if (!reg || reg.config.version !== prev.version + 1) break;
      verified = reg.config;
      prev = reg.config;
    }
    if (verified) this.apply(verified);
    if (verified && configsEqual(verified, offered)) return true;
    if (await this.vouchedByQuorum(offered)) {
      this.apply(offered);
      return true;
    }
    if (from !== undefined && this.oneStepFromVoter(offered, from)) {
      this.stats.adoptedOnVoterWord++;
      this.apply(offered);
      return true;
    }
    this.stats.unverified++;
    return false;
  }

  private oneStepFromVoter(offered: VoterConfig, from: Address): boolean {
    const cur = this.current();
    if (offered.version !== cur.version + 1) return false;
    const before = new Set(cur.voters.map((v) => v.name));
    const after = new Set(offered.voters.map((v) => v.name));
    const changed = [...before].filter((n) => !after.has(n)).length + [...after].filter((n) => !before.has(n)).length;
    if (changed !== 1) return false;
    const live = new Set([this.o.name, ...this.o.members().map((m) => m.name)]);
    if (!offered.voters.every((v) => live.has(v.name))) return false;
    // A voter of the running configuration: a replica cannot promote itself on its own word.
    return cur.voters.some((v) => v.name !== this.o.name && this.reach(v) === from);
  }

  private async vouchedByQuorum(offered: VoterConfig): Promise<boolean> {
    const cur = this.current();
    if (offered.version <= cur.version) return false;
    const quorum = Math.floor(cur.voters.length / 2) + 1;
    const names = cur.voters.map((v) => v.name);
    const held =
      offered.version === cur.version + 1 ? await this.o.voting.peekRegister(successorKey(cur.version), names, this.requestOptions.timeoutMs ?? 3000) : names.map(() => null);
    const votes = await Promise.all(
      cur.voters.map(async (v, i) => {
        const h = held[i];
        const reg = h ? parseRegister(decodeValue(h.value)) : null;
        if (reg && configsEqual(reg.config, offered)) return true;
        if (v.name === this.o.name) return false;
        const address = this.reach(v);
        if (address === undefined) return false;
        try {
          return configsEqual(await this.o.peers.fetchConfig(address), offered);
        } catch {
          return false;
        }
      }),
    );
    return votes.filter(Boolean).length >= quorum;
  }

  newerSeen(version: number, from: Address): void {
    if (version <= this.current().version || this.fetching) return;
    this.fetching = this.fetchFrom([from]).finally(() => {
      this.fetching = undefined;
    });
  }

  /** Learns configuration `version` (or newer) from any voter or member; true once this node runs it. */
  async awaitVersion(version: number): Promise<boolean> {
    if (this.current().version >= version) return true;
    if (this.fetching) await this.fetching;
    if (this.current().version >= version) return true;
    const candidates = [...this.current().voters.filter((v) => v.name !== this.o.name).map((v) => this.reach(v)), ...this.o.members().map((m) => m.address)];
    await this.fetchFrom([...new Set(candidates.filter((a): a is Address => a !== undefined))], version);
    return this.current().version >= version;
  }

  private async fetchFrom(addresses: readonly Address[], wanted = 0): Promise<boolean> {
    for (const address of addresses) {
      this.stats.configFetches++;
      try {
        await this.adoptVerified(await this.o.peers.fetchConfig(address), address);
        if (this.current().version >= wanted) return true;
      } catch {
        // try the next one
      }
    }
    return false;
  }

  /** Switches this node to `config` if it is newer; fills a new acceptor from the replica's copy. */
  private apply(config: VoterConfig): void {
    if (config.version <= this.o.voting.configVersion) return;
    const change = this.o.voting.applyConfiguration(config.version, config.voters);
    if (change === "stale") return;
    this.stats.activations++;
    this.o.onActivated?.(config, change);
  }

  // ---- changes ----

  /** Adds a voter (a member that is not one). */
  addVoter(voter: MemberSpec): Promise<VoterConfig> {
    return this.change((c) => {
      if (c.voters.some((v) => v.name === voter.name)) throw new LockerError("invalid", `${voter.name} is already a voter`);
      if (c.voters.length >= MAX_VOTERS) throw new LockerError("invalid", `at most ${MAX_VOTERS} voters`);
      return [...c.voters, { name: voter.name, address: this.o.voterAddressOf ? this.o.voterAddressOf(voter) : voter.address }];
    });
  }

  /** Promotes a replica (a live member) to voter. */
  promote(name: string): Promise<VoterConfig> {
    // A voter (this node included, which is no entry of members()) is told so, not "not a live member".
    if (this.current().voters.some((v) => v.name === name)) return Promise.reject(new LockerError("invalid", `${name} is already a voter`));
    const m = this.o.members().find((x) => x.name === name);
    if (!m) return Promise.reject(new LockerError("invalid", `${name} is not a live member`));
    return this.addVoter(m);
  }

  /** Removes a voter (it becomes a replica if it is still running). */
  removeVoter(name: string): Promise<VoterConfig> {
    return this.change((c) => {
      if (!c.voters.some((v) => v.name === name)) throw new LockerError("invalid", `${name} is not a voter`);
      if (c.voters.length === 1) throw new LockerError("invalid", "cannot remove the last voter");
      return c.voters.filter((v) => v.name !== name);
    });
  }

  private async change(next: (c: VoterConfig) => ReadonlyArray<{ name: string; address: string }>): Promise<VoterConfig> {
    if (this.changing) throw new LockerError("unavailable", "a reconfiguration is already running on this node");
    this.changing = true;
    try {
      for (let attempt = 0; attempt < 16; attempt++) {
        const cur = this.current();
        // 1. Has a successor of the running version been chosen already? Complete it.
        const chosen = await this.readRegister(cur.version);
        if (this.current().version !== cur.version) continue; // learned a newer one meanwhile
        if (chosen) {
          this.stats.completedForOthers++;
          if (chosen.settled) {
            // Done by others; this node only lagged behind: catch up, no rewrite needed.
            this.apply(chosen.config);
            await this.spread(chosen.config);
          } else {
            await this.complete(chosen);
          }
          continue;
        }
        // 2. Is the running version settled (rewritten)? If not, or unknown, settle it first.
        if (cur.version > 1) {
          const own = await this.readRegister(cur.version - 1);
          if (this.current().version !== cur.version) continue;
          if (own && own.config.version === cur.version) {
            if (!own.settled) {
              this.stats.completedForOthers++;
              await this.complete(own);
            }
          } else {
            // The key is gone (its long lease ran out) or unreadable: whether the running version was settled is unknown.
            await this.rewrite(cur);
          }
        }
        // 3. Choose the successor: write-once, so exactly one is ever chosen for this version.
        const proposed: Register = { config: normalizeConfig(cur.version + 1, next(cur)), settled: false, raw: undefined };
        proposed.raw = registerValue(proposed);
        try {
          await this.o.voting.execute(successorKey(cur.version), { kind: "lock", value: encodeValue(proposed.raw), leaseMs: CONFIG_LEASE_MS }, this.opTimeoutMs);
        } catch (e) {
          if (isLockerError(e, "locked")) continue; // someone else chose one: complete it on the next pass
          throw e;
        }
        const after = this.current();
        if (after.version !== cur.version) {
          // Others saw our choice in the key and completed it meanwhile: done.
          if (after.version === proposed.config.version && configsEqual(after, proposed.config)) {
            this.stats.changes++;
            await this.complete(proposed);
            return proposed.config;
          }
          if (after.version > proposed.config.version) return proposed.config;
          // Otherwise the round ran under a version this node learned meanwhile, with
          // the key free only because its lease lapsed: never spread such a choice.
          continue;
        }
        this.stats.changes++;
        await this.complete(proposed);
        return proposed.config;
      }
      throw new LockerError("contention", "the configuration kept changing under this reconfiguration; retry");
    } finally {
      this.changing = false;
    }
  }

  /**
   * Whether a restarted voter may recover under the running configuration:
   * only once it is settled (src/cas/recovery.ts). Null when it may, else why not.
   */
  private async recoveryGate(): Promise<string | null> {
    const cur = this.current();
    if (cur.version <= 1) return null; // the first configuration has no predecessor to settle
    let own: Register | null;
    try {
      own = await this.readRegister(cur.version - 1);
    } catch (e) {
      return `cannot tell whether configuration ${cur.version} is settled: ${(e as Error).message}`;
    }
    if (this.current().version !== cur.version) return `the configuration changed (${cur.version} → ${this.current().version})`;
    if (own && own.config.version === cur.version && own.settled) return null;
    // Not found may also mean the register was chosen with this restarted
    // voter's help and is not visible without it: unknown is not settled.
    // (A register whose week-long lease lapsed keeps recovery off until the
    // next change settles a version again; the quiet period covers it.)
    return own ? `configuration ${cur.version} is not settled yet (its rewrite has not finished)` : `whether configuration ${cur.version} is settled is unknown (its register is not found)`;
  }

  /** The configuration chosen to follow `version`, if any (a linearizable read under the running version). */
  private async readRegister(version: number): Promise<Register | null> {
    const r = await this.o.voting.execute(successorKey(version), { kind: "read" }, this.opTimeoutMs);
    if (!r.record) return null;
    const reg = parseRegister(decodeValue(r.record.value));
    return reg && reg.config.version === version + 1 ? reg : null;
  }

  /** Activates a chosen configuration everywhere, rewrites every key under it, and marks it settled. */
  private async complete(reg: Register): Promise<void> {
    const config = reg.config;
    // A coordinator that is not a voter of the new configuration switches
    // only once a majority of its voters run it: if they cannot (they lost
    // the register), it stays with the cluster instead of running ahead alone.
    const voterOfNew = config.voters.some((v) => v.name === this.o.name);
    if (voterOfNew) this.apply(config);
    await this.spread(config);
    if (!voterOfNew) this.apply(config);
    if (!this.o.unsafeSkipRewrite) await this.rewrite(config);
    const settled: Register = { config, settled: true, raw: undefined };
    settled.raw = registerValue(settled);
    const key = successorKey(config.version - 1);
    try {
      await this.o.voting.execute(key, { kind: "update", expected: encodeValue(reg.raw), value: encodeValue(settled.raw) }, this.opTimeoutMs);
      // An update carries the lease on; restart it so the key outlives quiet weeks.
      await this.o.voting.execute(key, { kind: "extend", value: encodeValue(settled.raw), leaseMs: CONFIG_LEASE_MS }, this.opTimeoutMs).catch(() => undefined);
    } catch (e) {
      // Someone else settled it (or moved on) first: fine.
      if (!(isLockerError(e, "mismatch") || isLockerError(e, "not_found"))) throw e;
    }
  }

  /** Tells every voter of `config` and every live member; waits until a majority of the new voters run it. */
  private async spread(config: VoterConfig): Promise<void> {
    const quorum = Math.floor(config.voters.length / 2) + 1;
    const targets = new Map<string, Address>();
    for (const v of config.voters) {
      const address = v.name === this.o.name ? undefined : this.reach(v);
      if (address !== undefined) targets.set(v.name, address);
    }
    for (const m of this.o.members()) if (!targets.has(m.name)) targets.set(m.name, m.address);
    const isNewVoter = (n: string): boolean => config.voters.some((v) => v.name === n);
    const self = isNewVoter(this.o.name) ? 1 : 0;
    const counted: Promise<VoterConfig>[] = [];
    for (const [name, address] of targets) {
      const told = this.o.peers.activate(address, config);
      if (isNewVoter(name)) counted.push(told);
      else told.catch(() => {}); // told, not waited for
    }
    await whenQuorum(counted, quorum - self, (runs) => runs.version >= config.version, (ok) =>
      new LockerError("no_quorum", `only ${ok + self} of ${config.voters.length} voters of configuration ${config.version} confirmed it`),
    );
  }

  /**
   * Reads every key under `config` (a read writes back unless a quorum of
   * `config` already agrees). The keys are those a majority of the new
   * voters hold state for, which includes every key chosen under the
   * previous version (see the header).
   */
  private async rewrite(config: VoterConfig): Promise<void> {
    const quorum = Math.floor(config.voters.length / 2) + 1;
    const keys = new Set<string>();
    let listed = 0;
    // A quiet (restarted) acceptor forgot what it held: its listing does not count (heldKeyNames is undefined then).
    const own = config.voters.some((v) => v.name === this.o.name) ? this.o.voting.heldKeyNames() : undefined;
    if (own) {
      for (const k of own) keys.add(k);
      listed++;
    }
    for (const v of config.voters) {
      if (listed >= quorum) break;
      if (v.name === this.o.name) continue;
      try {
        const address = this.reach(v);
        if (address === undefined) continue;
        for (const k of await this.o.peers.listKeys(address)) keys.add(k);
        listed++;
      } catch {
        // another voter then
      }
    }
    if (listed < quorum) throw new LockerError("no_quorum", `could list keys of only ${listed} voters; ${quorum} needed`);
    const all = [...keys];
    let next = 0;
    let failures = 0;
    const worker = async (): Promise<void> => {
      while (next < all.length) {
        const key = all[next++]!;
        let ok = false;
        for (let attempt = 0; attempt < 4 && !ok; attempt++) {
          try {
            await this.o.voting.execute(key, { kind: "read" }, this.opTimeoutMs);
            ok = true;
          } catch (e) {
            if (isLockerError(e, "invalid")) ok = true; // a key the codec refuses cannot be held either
          }
        }
        if (ok) this.stats.keysRewritten++;
        else failures++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, all.length) }, () => worker()));
    if (failures > 0) {
      this.stats.rewriteFailures += failures;
      throw new LockerError("no_quorum", `${failures} keys could not be rewritten under configuration ${config.version}; the change stays unsettled and is completed by the next attempt`);
    }
  }

  private reach(v: { name: string; address: string }): Address | undefined {
    return this.o.addressOf ? this.o.addressOf(v) : v.address;
  }
}

function registerValue(r: Register): unknown {
  return ["locker-config", r.config.version, r.config.voters.map((v) => [v.name, v.address]), r.settled];
}

function parseRegister(v: unknown): Register | null {
  if (!Array.isArray(v) || v.length !== 4 || v[0] !== "locker-config" || typeof v[1] !== "number" || !Array.isArray(v[2]) || typeof v[3] !== "boolean") return null;
  try {
    const config = normalizeConfig(v[1], (v[2] as unknown[]).map((p) => ({ name: (p as string[])[0]!, address: (p as string[])[1]! })));
    const reg: Register = { config, settled: v[3], raw: undefined };
    reg.raw = registerValue(reg);
    return reg;
  } catch {
    return null;
  }
}


