// A test harness for the pure CAS cores: acceptors and proposer rounds wired
// by direct calls, where the test decides which messages arrive, and can kill
// a coordinator at any point of a round. No sockets, no timers.
import { Acceptor, type AcceptorConfig } from "../../src/cas/acceptor.js";
import { HybridLogicalClock, type Ballot } from "../../src/cas/ballot.js";
import type { CasReply } from "../../src/cas/messages.js";
import { ProposerRound, type CasOp, type FastPathState, type OwnWrite, type RoundOutcome } from "../../src/cas/proposer.js";

export const WALL_EPOCH_MS = 1_700_000_000_000;

export interface DeliveryPolicy {
  /** Whether the request of `phase` to `voter` arrives (and its reply comes back). Default: all arrive. */
  reach?: (phase: "prepare" | "accept", voter: string) => boolean;
  /**
   * Kill the coordinator when it reaches the accept phase: the accepts go to
   * these voters only and no reply is ever read. An empty list kills it right
   * after prepare.
   */
  killAtAccept?: readonly string[];
  /** The request arrives and is handled, but its reply is lost. */
  replyLost?: (phase: "prepare" | "accept", voter: string) => boolean;
}

export interface RoundRun {
  outcome: RoundOutcome | undefined;
  killed: boolean;
  round: ProposerRound;
  /** Requests that reached an acceptor, by phase. */
  delivered: { prepare: number; accept: number };
}

export class PureCluster {
  readonly acceptors = new Map<string, Acceptor>();
  now = 0;
  private readonly hlcs = new Map<string, HybridLogicalClock>();
  readonly cache = new Map<string, FastPathState>();

  constructor(
    readonly voters: readonly string[],
    config: Partial<AcceptorConfig> = {},
  ) {
    for (const v of voters) {
      this.acceptors.set(v, new Acceptor({ configVersion: 1, quietUntil: 0, gcGraceMs: 10_000, maxKeys: 1_000_000, ...config }));
    }
  }

  get quorum(): number {
    return Math.floor(this.voters.length / 2) + 1;
  }

  hlc(proposer: string): HybridLogicalClock {
    let h = this.hlcs.get(proposer);
    if (!h) {
      h = new HybridLogicalClock();
      this.hlcs.set(proposer, h);
    }
    return h;
  }

  /** Advances time and runs the acceptors' expiry and garbage collection. */
  advance(ms: number): void {
    this.now += ms;
    for (const a of this.acceptors.values()) a.tick(this.now);
  }

  newRound(proposer: string, key: string, op: CasOp, options: { fast?: FastPathState | null; ownWrites?: OwnWrite[]; ask?: string[] } = {}): ProposerRound {
    const h = this.hlc(proposer);
    const wall = WALL_EPOCH_MS + this.now;
    const fast = options.fast ?? null;
    let ballot: Ballot;
    if (fast) {
      ballot = fast.ballot;
      h.observe(ballot.c);
    } else {
      ballot = { c: h.tick(wall), node: proposer };
    }
    return new ProposerRound({
      key,
      cfg: 1,
      ask: options.ask ?? [...this.voters],
      quorum: this.quorum,
      op,
      ballot,
      nextC: h.tick(wall),
      fast,
      ownWrites: options.ownWrites ?? [],
    });
  }

  /** Runs a round with synchronous delivery (all at `now`), per the policy. */
  drive(round: ProposerRound, policy: DeliveryPolicy = {}): RoundRun {
    const reach = policy.reach ?? (() => true);
    const delivered = { prepare: 0, accept: 0 };
    const queue = round.start(this.now);
    while (queue.length > 0) {
      const out = queue.shift()!;
      const phase = out.msg.type === "prepare" ? "prepare" : "accept";
      if (phase === "accept" && policy.killAtAccept) {
        // The coordinator dies: some accepts are on the wire, nobody reads a reply.
        for (const o of [out, ...queue]) {
          if (o.msg.type === "accept" && policy.killAtAccept.includes(o.to)) {
            this.acceptors.get(o.to)!.handle(o.msg, this.now);
            delivered.accept++;
          }
        }
        return { outcome: undefined, killed: true, round, delivered };
      }
      if (!reach(phase, out.to)) {
        queue.push(...round.onError(out.to, phase));
        continue;
      }
      delivered[phase]++;
      const { reply } = this.acceptors.get(out.to)!.handle(out.msg, this.now);
      if (policy.replyLost?.(phase, out.to)) {
        queue.push(...round.onError(out.to, phase));
        continue;
      }
      queue.push(...round.onReply(out.to, reply as CasReply, this.now, phase));
    }
    return { outcome: round.outcome, killed: false, round, delivered };
  }

  /**
   * One operation as node.ts runs it: the cached fast path when there is one,
   * a fallback to both phases when it was overtaken, retries after conflicts.
   */
  operate(proposer: string, key: string, op: CasOp, policy: DeliveryPolicy = {}): RoundRun & { rounds: number; ownWrites: OwnWrite[] } {
    const ownWrites: OwnWrite[] = [];
    const cacheKey = `${proposer}|${key}`;
    let skipCache = false;
    for (let rounds = 1; ; rounds++) {
      const fast = skipCache ? undefined : this.cache.get(cacheKey);
      this.cache.delete(cacheKey);
      const round = this.newRound(proposer, key, op, { fast: fast ?? null, ownWrites });
      const run = this.drive(round, policy);
      if (round.writeMayHaveLanded) ownWrites.push(round.sentWrite!);
      if (round.highestSeen) this.hlc(proposer).observe(round.highestSeen.c);
      const o = run.outcome;
      if (o && (o.kind === "done" || o.kind === "failed") && o.fast) this.cache.set(cacheKey, o.fast);
      if (o?.kind === "conflict") {
        if (o.seen) this.hlc(proposer).observe(o.seen.c);
        if (fast) {
          skipCache = true;
          continue;
        }
        if (rounds < 10) continue;
      }
      return { ...run, rounds, ownWrites };
    }
  }
}
