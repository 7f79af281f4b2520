// A simulated membership cluster for the test/sim/membership*.test.ts files:
// Membership instances on the in-memory network, on one virtual clock.
import { type Conflict, Membership, type MembershipConfig, type MemberEvent, type ProfileName, suspicionTimeoutMs } from "@locker/membership";
import { bytesCodec, ChannelId, MemoryNetwork, type FaultConfig, type Transport } from "../../src/transport/index.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { runFor, settle } from "../support/virtual-time.js";

export interface SimNode {
  name: string;
  address: string;
  transport: Transport;
  m: Membership;
  /** Every member event this node raised, with the virtual time. */
  events: { at: number; e: MemberEvent }[];
  /** Every "conflict" this node raised. */
  conflicts: { at: number; c: Conflict }[];
}

export interface SimClusterOptions {
  seed: number;
  profile?: ProfileName;
  config?: Partial<MembershipConfig>;
  faults?: Partial<FaultConfig>;
  /** Keep every member event (default true); off for very large clusters. */
  recordEvents?: boolean;
}

export class SimCluster {
  readonly clock = new VirtualClock();
  readonly random: SeededRandom;
  readonly net: MemoryNetwork;
  readonly nodes = new Map<string, SimNode>();

  constructor(readonly opts: SimClusterOptions) {
    this.random = new SeededRandom(opts.seed);
    this.net = new MemoryNetwork({ clock: this.clock, random: this.random.fork(), faults: opts.faults ?? {} });
  }

  /** Starts a member named `name` at address `name:7946` unless told otherwise (a restart reuses both). */
  add(name: string, config: Partial<MembershipConfig> = {}, address = `${name}:7946`): SimNode {
    const transport = this.net.transport(address);
    const m = new Membership({
      name,
      address: transport.address,
      channel: transport.channel(ChannelId.membership, bytesCodec),
      clock: this.net.nodeClock(address),
      random: this.random.fork(),
      profile: this.opts.profile ?? "lan",
      config: { ...this.opts.config, ...config },
    });
    const node: SimNode = { name, address, transport, m, events: [], conflicts: [] };
    if (this.opts.recordEvents ?? true) m.on("change", (e: MemberEvent) => node.events.push({ at: this.clock.now(), e }));
    m.on("conflict", (c: Conflict) => node.conflicts.push({ at: this.clock.now(), c }));
    this.nodes.set(name, node);
    return node;
  }

  /** A new process under the same name and address: memory lost, incarnation from 0 (crashes the old one first if it runs). */
  restart(name: string, config: Partial<MembershipConfig> = {}): SimNode {
    const old = this.nodes.get(name)!;
    if (!this.net.isCrashed(old.address)) this.crash(name);
    return this.add(name, config, old.address);
  }

  /** Runs virtual time with the event loop turning (promise callbacks between timers run). */
  async run(ms: number, stepMs = 10): Promise<void> {
    await runFor(this.clock, ms, stepMs);
  }

  /** Starts `n` members named prefix0..; the first bootstraps alone, the others through it. */
  async start(n: number, prefix = "m"): Promise<SimNode[]> {
    const out: SimNode[] = [];
    for (let i = 0; i < n; i++) out.push(this.add(`${prefix}${i}`));
    const joins = out.map((node, i) => node.m.bootstrap(i === 0 ? [] : [out[0]!.address]));
    await this.settle(joins, 60_000);
    return out;
  }

  /** Runs virtual time until all promises settle (they resolve on timers of the virtual clock). */
  async settle<T>(promises: Promise<T>[], limitMs: number): Promise<T[]> {
    const all = Promise.all(promises);
    return settle(this.clock, all, limitMs, 10);
  }

  /** Kills a member: its transport and membership stop without a word. */
  crash(name: string): void {
    const node = this.nodes.get(name)!;
    node.m.close();
    this.net.crash(node.address);
  }

  live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => !this.net.isCrashed(n.address));
  }

  /** True when every live node sees every other live node alive (and nothing else alive). */
  converged(nodes = this.live()): boolean {
    const names = new Set(nodes.map((n) => n.name));
    // Cheap count check first: a full check per node is O(n) and this runs often.
    for (const n of nodes) if (n.m.stats().alive !== names.size) return false;
    for (const n of nodes) {
      let alive = 0;
      for (const mm of n.m.members()) {
        if (mm.state === "alive") {
          if (!names.has(mm.name)) return false;
          alive++;
        }
      }
      if (alive !== names.size - 1) return false;
    }
    return true;
  }

  /** Virtual time until `pred` holds, or undefined if it did not within `limitMs`. */
  timeUntil(pred: () => boolean, limitMs: number, resolutionMs = 10): number | undefined {
    const t0 = this.clock.now();
    // The predicate is checked every `resolutionMs` of virtual time, not after every event (too slow at 1000 members).
    for (;;) {
      if (pred()) return this.clock.now() - t0;
      if (this.clock.now() - t0 >= limitMs) return undefined;
      this.clock.runFor(resolutionMs);
    }
  }
}

/** Events "dead" raised about `victim` anywhere, optionally after `since`. */
export function deathsOf(nodes: Iterable<SimNode>, victim: string, since = 0): number {
  let n = 0;
  for (const node of nodes) for (const { at, e } of node.events) if (e.type === "dead" && e.member.name === victim && at >= since) n++;
  return n;
}

/** Every "dead" event about a member that was not crashed (a false death). */
export function falseDeaths(nodes: Iterable<SimNode>, crashed: ReadonlySet<string>): { observer: string; victim: string; at: number }[] {
  const out: { observer: string; victim: string; at: number }[] = [];
  for (const node of nodes) for (const { at, e } of node.events) if (e.type === "dead" && !crashed.has(e.member.name)) out.push({ observer: node.name, victim: e.member.name, at });
  return out;
}

/**
 * Upper bound on crash detection at every member with Lifeguard, derived from the
 * timings. Each probe interval every member probes one other in randomized
 * round-robin, so probes of the victim arrive at about one per interval (a
 * Poisson stream): none within k intervals has probability ≈ e^−k. The first
 * failed probe is judged one interval after it starts. Other members' failed
 * probes confirm the suspicion, which shrinks it to the minimum timeout (the
 * last-chance buddy pings fall inside it); the death spreads in a gossip round
 * or two. So: minimum suspicion + (k + 1) probe intervals + 2 gossip intervals,
 * with k = 6 for the slowest of several runs (P ≈ 0.25 % per run of exceeding it)
 * and k = 2 for the median (P(k > 2) ≈ 14 %).
 */
export function crashDetectionBoundMs(c: MembershipConfig, n: number, k = 6): number {
  return suspicionTimeoutMs(c.suspicionMult, n, c.probeIntervalMs) + (k + 1) * c.probeIntervalMs + 2 * c.gossipIntervalMs;
}

/** The bound for the median of several runs (k = 2). */
export function crashDetectionMedianBoundMs(c: MembershipConfig, n: number): number {
  return crashDetectionBoundMs(c, n, 2);
}

export function quantiles(xs: readonly number[]): { min: number; median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
}
