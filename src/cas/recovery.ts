// Voter recovery (DESIGN.md "Voter recovery"): a voter that restarted with
// empty memory votes again as soon as it has made the others cover for what
// it forgot, instead of sitting out the quiet period.
//
// Why this is safe. Call the restarted voter R, its life before the crash
// R_old and after R_new, and F the floor of the recovery.
//  1. Every ballot R_old promised or accepted is below F. Ballots are HLC
//     counters: one issued before R restarted is at most the issuer's clock
//     (or the highest counter it saw) then, so under the stated assumption
//     (wall clocks agree within maxClockSkewMs) it is below F, which each
//     fenced voter also raises to its own clock + the skew.
//  2. Fence: R asks other voters to promise F on every key (and as the floor
//     of keys they have no state for). It needs n − q + 1 of them (for 3
//     voters: both others), so every quorum R_old was part of has a fenced
//     member besides R: after the fences no value below F can be chosen with
//     R_old's help any more (a fenced voter refuses the missing accept).
//  3. Listing: each fenced voter lists every key it holds state for, taken
//     after its fence. A value chosen with R_old's help before the fence was
//     accepted by a fenced voter, so its key is listed.
//  4. Rewrite: R reads every listed key through an ordinary round while its
//     own acceptor still refuses everything (nack "quiet"), so the prepare
//     quorum is made of the others and sees every chosen value; the read
//     writes it back at a ballot above F unless a quorum of the others
//     already agrees on it. Either way each key's chosen value now rests on
//     acceptors that did not forget it.
//  5. R_new raises its own floor to the highest floor the fenced voters
//     reported and votes. It refuses every ballot below it, so it never acts
//     on a promise R_old made and forgot; every ballot at or above it is new.
// The fencing order needs nothing more: each fenced voter's floor is above
// every token issued before, and a token is a counter above what a prepare
// quorum reports. When this cannot be done (a single voter, too few others
// reachable, another configuration) the quiet period stays, and the attempt
// is retried with backoff until one of them ends it.
// Assumptions, written down: wall clocks agree within maxClockSkewMs and do
// not step backwards by more than it; the skew is below half the longest
// lease. Each recovery runs ballots ahead of the clocks by up to the skew,
// and recoveries in quick succession stack, so a fenced voter refuses once a
// floor would run more than maxLeaseMs − skew ahead of its clock: a voter
// that then waits out its quiet period still starts above every earlier
// ballot from its clock alone. A fenced voter's floor is also above every
// ballot its acceptor holds. A restarted voter's own proposals wait until it
// has learned the floor (its fresh HLC might otherwise reissue a ballot of
// its earlier life with another value). A quiet voter's key listing never
// counts, here or in a reconfiguration's rewrite (found by review: a rewrite
// that listed the empty acceptor of a restarted voter marked a version
// settled without reading a key chosen with that voter's help).
// Reconfiguration: the argument covers values chosen under the running
// configuration. A value chosen under the previous one is covered only once
// the running one is settled (its rewrite re-chose every key under it), so
// recovery waits for that (the gate, from src/cluster/configurator.ts).
import { LockerError } from "../errors.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import type { Random } from "../util/random.js";
import { PagedSessions, paginate } from "../util/paged-sessions.js";
import { backoffDelayMs } from "../transport/backoff.js";
import type { Acceptor } from "./acceptor.js";
import { compareBallots, HLC_TICKS_PER_MS, isPlausibleCounter, type Ballot } from "./ballot.js";
import type { FenceReply, FenceRequest } from "./messages.js";

export interface RecoveryOptions {
  /** Recover from the other voters at all (default true); false keeps the quiet period. */
  enabled: boolean;
  /** The clock assumption: every two nodes' wall clocks differ by at most this. */
  maxClockSkewMs: number;
  /** Budget of each fence request and of each key's read. */
  requestTimeoutMs: number;
  /** Keys read at once. */
  concurrency: number;
  /**
   * Deliberately unsafe: fence, but vote without reading the listed keys
   * back (step 4). Only for showing that the simulator catches it.
   */
  unsafeSkipRewrite?: boolean;
  /** Bound on the keys one voter may list (its acceptor holds at most this many). */
  maxKeys: number;
  /** The longest lease, which is also the quiet period recovery stands in for. */
  maxLeaseMs: number;
  /** Told once when this voter recovered and votes again. */
  onRecovered?: (status: Readonly<RecoveryStatus>) => void;
}

export const DEFAULT_MAX_CLOCK_SKEW_MS = 2000;

/**
 * How far a floor may run ahead of the fenced voter's wall clock. Each
 * recovery lifts ballots ahead of the clocks by up to the skew margin, and
 * recoveries in quick succession stack. The quiet period's argument (a voter
 * that cannot recover and waits it out starts above every earlier ballot
 * from its clock alone) holds only while ballots run less than the quiet
 * period minus the skew ahead of the clocks, so past that a voter stops
 * covering for restarted voters: they wait out their quiet period while the
 * clocks catch up. Found by the simulator (a token went backwards after
 * stacked recoveries and a quiet restart).
 */
export function maxRecoveryLeadMs(maxLeaseMs: number, maxClockSkewMs: number): number {
  return maxLeaseMs - maxClockSkewMs;
}

/**
 * The floor a recovery asks for, or a fenced voter raises it to: above this
 * node's wall clock and everything its HLC saw, by the clock assumption's
 * margin — so above every ballot issued anywhere before now.
 */
export function recoveryFloorCounter(wallMs: number, hlcCurrent: number, maxClockSkewMs: number): number {
  return Math.max(Math.floor(wallMs) * HLC_TICKS_PER_MS, hlcCurrent) + (Math.ceil(maxClockSkewMs) + 1) * HLC_TICKS_PER_MS;
}

/** What a CasNode lends its recovery (recovery.ts holds no state of the node's own). */
export interface RecoveryHost {
  readonly name: string;
  readonly clock: Clock;
  readonly random: Random;
  readonly configVersion: number;
  readonly voters: readonly { readonly name: string }[];
  readonly quorum: number;
  readonly acceptor: Acceptor | null;
  readonly closed: boolean;
  hlcCurrent(): number;
  observe(counter: number): void;
  fence(voter: string, msg: FenceRequest, timeoutMs: number): Promise<FenceReply>;
  /** Null when recovery may run now, or why not (a reconfiguration not settled yet). */
  gate(): Promise<string | null>;
  /** A linearizable read of the key (an ordinary round: it writes back what it saw unless a quorum agrees). */
  read(key: string, timeoutMs: number): Promise<void>;
}

export type RecoveryState = "not needed" | "recovering" | "recovered" | "impossible";

export interface RecoveryStatus {
  state: RecoveryState;
  attempts: number;
  /** Why the last attempt failed, in words. */
  lastError?: string;
  /** Keys read in the successful attempt. */
  keys: number;
  /** How long the successful recovery took (ms since this node started). */
  tookMs?: number;
}

export class VoterRecovery {
  private readonly status: RecoveryStatus = { state: "not needed", attempts: 0, keys: 0 };
  private timer: TimerHandle | undefined;
  private running = false;
  /**
   * A restarted voter's own proposals wait until it knows a floor above its
   * earlier life's ballots: its fresh HLC could otherwise reissue a ballot
   * (counter, name) that life used with another value.
   */
  private floorLearned = false;
  private floorWaiters: Array<() => void> = [];
  private readonly startedAt: number;

  constructor(
    private readonly host: RecoveryHost,
    private readonly o: RecoveryOptions,
  ) {
    this.startedAt = host.clock.now();
  }

  get snapshot(): Readonly<RecoveryStatus> {
    return this.status;
  }

  /** Starts recovering if this node's acceptor is quiet and recovery can help; idempotent. */
  start(): void {
    const acceptor = this.host.acceptor;
    if (!this.o.enabled || this.running || this.host.closed || !acceptor || !acceptor.isQuiet(this.host.clock.now())) return;
    if (this.host.voters.length - this.host.quorum + 1 > this.host.voters.length - 1) {
      this.status.state = "impossible";
      this.status.lastError = "a single voter has no other voter to recover from";
      return;
    }
    if (maxRecoveryLeadMs(this.o.maxLeaseMs, this.o.maxClockSkewMs) <= this.o.maxClockSkewMs) {
      this.status.state = "impossible";
      this.status.lastError = `the clock skew allowed (${this.o.maxClockSkewMs} ms) must be below half the longest lease (${this.o.maxLeaseMs} ms) for recovery`;
      return;
    }
    this.running = true;
    this.status.state = "recovering";
    // The first attempt waits a turn: the composition installs the
    // reconfiguration hooks (the gate) right after building this node.
    this.timer = this.host.clock.setTimer(0, () => {
      this.timer = undefined;
      void this.loop();
    });
  }

  stop(): void {
    this.host.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.learnedFloor();
  }

  /** Whether this node's proposals must wait for the floor (it is recovering and has not learned one yet). */
  get proposalsWait(): boolean {
    if (!this.running || this.floorLearned) return false;
    const acceptor = this.host.acceptor;
    // Past the quiet period the old ballots are as covered as without recovery.
    return acceptor !== null && acceptor.isQuiet(this.host.clock.now());
  }

  /** Resolves once proposals need not wait (the floor is known, or recovery ended). */
  whenProposalsMayGo(): Promise<void> {
    if (!this.proposalsWait) return Promise.resolve();
    return new Promise((resolve) => this.floorWaiters.push(resolve));
  }

  private learnedFloor(): void {
    this.floorLearned = true;
    for (const w of this.floorWaiters.splice(0)) w();
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        const acceptor = this.host.acceptor;
        if (this.host.closed || !acceptor) return;
        if (!acceptor.isQuiet(this.host.clock.now())) {
          // The quiet period ran out first: nothing is left to recover.
          if (this.status.state === "recovering") this.status.state = "not needed";
          return;
        }
        this.status.attempts++;
        try {
          this.status.keys = await this.attempt();
          this.status.state = "recovered";
          this.status.tookMs = this.host.clock.now() - this.startedAt;
          delete this.status.lastError;
          this.o.onRecovered?.(this.status);
          return;
        } catch (e) {
          this.status.lastError = e instanceof Error ? e.message : String(e);
        }
        // Not past the end of the quiet period: then the loop ends at once.
        const delay = Math.min(backoffDelayMs({ baseMs: 200, factor: 2, maxMs: 2000 }, this.status.attempts, this.host.random), Math.max(0, acceptor.config.quietUntil - this.host.clock.now()));
        await new Promise<void>((resolve) => {
          this.timer = this.host.clock.setTimer(delay, () => {
            this.timer = undefined;
            resolve();
          });
        });
      }
    } finally {
      this.running = false;
      this.learnedFloor();
    }
  }

  /** One recovery: fence and list, read every key, then vote. Returns the keys read. */
  private async attempt(): Promise<number> {
    const h = this.host;
    const cfg = h.configVersion;
    const others = h.voters.filter((v) => v.name !== h.name).map((v) => v.name);
    const need = h.voters.length - h.quorum + 1;
    const asked: Ballot = { c: recoveryFloorCounter(h.clock.wallNow(), h.hlcCurrent(), this.o.maxClockSkewMs), node: h.name };
    const errors: string[] = [];
    const listings = await Promise.all(
      others.map((v) =>
        this.fenceAndList(v, asked, cfg).catch((e: unknown) => {
          errors.push(`${v}: ${e instanceof Error ? e.message : String(e)}`);
          return null;
        }),
      ),
    );
    const fenced = listings.filter((l): l is { floor: Ballot; keys: string[] } => l !== null);
    if (fenced.length < need) {
      throw new LockerError("no_quorum", `fenced ${fenced.length} of the ${need} other voters needed (${errors.join("; ")})`);
    }
    let floor = asked;
    for (const l of fenced) if (compareBallots(l.floor, floor) > 0) floor = l.floor;
    h.observe(floor.c);
    this.learnedFloor();
    // Fenced first, so the gate's own read runs above the floor.
    const notYet = await h.gate();
    if (notYet !== null) throw new LockerError("unavailable", notYet);
    const keys = new Set<string>();
    for (const l of fenced) for (const k of l.keys) keys.add(k);
    const all = this.o.unsafeSkipRewrite === true ? [] : [...keys];
    let next = 0;
    const failed: string[] = [];
    const worker = async (): Promise<void> => {
      while (next < all.length && failed.length === 0) {
        const key = all[next++]!;
        let lastError: unknown;
        let ok = false;
        for (let attempt = 0; attempt < 3 && !ok && !h.closed; attempt++) {
          try {
            await h.read(key, this.o.requestTimeoutMs);
            ok = true;
          } catch (e) {
            // A key the codec refuses cannot be held either.
            if (e instanceof LockerError && e.code === "invalid") ok = true;
            lastError = e;
          }
        }
        if (!ok) failed.push(`${JSON.stringify(key)}: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency, all.length) }, () => worker()));
    if (failed.length > 0) throw new LockerError("no_quorum", `could not read ${failed.length === 1 ? "a key" : "keys"} back: ${failed[0]}`);
    if (h.closed) throw new LockerError("unavailable", "locker is closed");
    if (h.configVersion !== cfg) throw new LockerError("unavailable", `the configuration changed during recovery (${cfg} → ${h.configVersion})`);
    const acceptor = h.acceptor;
    if (!acceptor) throw new LockerError("unavailable", "this node is no longer a voter");
    if (!acceptor.fence(floor, h.clock.wallNow())) throw new LockerError("unavailable", "the recovery floor is implausibly far ahead of this node's clock");
    acceptor.endQuiet(h.clock.now());
    return all.length;
  }

  private async fenceAndList(voter: string, floor: Ballot, cfg: number): Promise<{ floor: Ballot; keys: string[] }> {
    const first = await this.host.fence(voter, { type: "fence", cfg, floor, session: 0, page: 0 }, this.o.requestTimeoutMs);
    if (compareBallots(first.floor, floor) < 0) throw new LockerError("unavailable", "fenced below the floor asked for");
    // Every number from the wire has a bound: a floor this node could not adopt is refused, not observed.
    if (!isPlausibleCounter(first.floor.c, this.host.clock.wallNow())) throw new LockerError("unavailable", "fenced at a floor implausibly far ahead of this node's clock");
    const keys = [...first.keys];
    for (let p = 1; p < first.pages; p++) {
      const r = await this.host.fence(voter, { type: "fence", cfg, floor, session: first.session, page: p }, this.o.requestTimeoutMs);
      if (r.session !== first.session || r.page !== p) throw new LockerError("unavailable", "a listing page out of order");
      keys.push(...r.keys);
      if (keys.length > this.o.maxKeys) throw new LockerError("unavailable", `listed more than the ${this.o.maxKeys} keys an acceptor may hold`);
    }
    return { floor: first.floor, keys };
  }
}

/**
 * The other side: a voter asked to fence. It promises the higher of the floor
 * asked for and its own (its clock plus the skew: the restarted voter's clock
 * may be the slow one), then lists its keys, taken after the fence.
 */
export class FenceServer {
  private readonly listings: PagedSessions<string>;
  /** Fences served (first pages). */
  served = 0;

  constructor(
    private readonly o: { clock: Clock; random: Random; maxClockSkewMs: number; maxLeaseMs: number; pageBudgetBytes: number },
  ) {
    this.listings = new PagedSessions({ random: o.random, ttlMs: 30_000, maxSessions: 4, what: "recovery key listing" });
  }

  serve(msg: FenceRequest, acceptor: Acceptor | null, cfg: number, hlcCurrent: number): { reply: FenceReply; floor: Ballot | null } {

    if (!acceptor) throw new LockerError("unavailable", "this node is not a voter");
    if (msg.cfg !== cfg) throw new LockerError("unavailable", `this voter runs configuration ${cfg}, the request ${msg.cfg}`);
    const now = this.o.clock.now();
    if (acceptor.isQuiet(now)) throw new LockerError("unavailable", "this voter is in its own quiet period and cannot cover for another");
    let session = msg.session;
    let floor = msg.floor;
    let raised: Ballot | null = null;
    if (session === 0) {
      // Above this voter's clock and HLC by the skew, and above every ballot its acceptor holds.
      const own = Math.max(recoveryFloorCounter(this.o.clock.wallNow(), hlcCurrent, this.o.maxClockSkewMs), acceptor.highestCounter() + 1);
      if (own > floor.c) floor = { c: own, node: floor.node };
      const leadMs = floor.c / HLC_TICKS_PER_MS - this.o.clock.wallNow();
      if (leadMs > maxRecoveryLeadMs(this.o.maxLeaseMs, this.o.maxClockSkewMs)) {
        throw new LockerError("unavailable", `the floor would run ${Math.round(leadMs)} ms ahead of this voter's clock (recent recoveries); the restarted voter waits out its quiet period while the clocks catch up`);
      }
      if (!acceptor.fence(floor, this.o.clock.wallNow())) throw new LockerError("invalid", "the floor is implausibly far ahead of this voter's clock");
      raised = floor;
      this.served++;
      session = this.listings.open(paginate(acceptor.keyNames(), (k) => Buffer.byteLength(k) + 3, this.o.pageBudgetBytes), now);
    }
    const { pages, items } = this.listings.page(session, msg.page, now);
    return { reply: { type: "fenced", cfg, floor, session, pages, page: pages === 0 ? 0 : msg.page, keys: items }, floor: raised };
  }
}
