// The CASPaxos proposer for one round on one key, as a pure state machine: it
// is given the time and the replies, and returns the requests to send; the
// driver (node.ts) owns sockets, timers and retries between rounds.
// Long because the three round shapes (prepare+accept, fast accept, peek)
// share the quorum counting and the ballot checks; each alone is short.
import { ballotEquals, ballotToString, compareBallots, HLC_TICKS_PER_MS, MAX_BALLOT_AHEAD_MS, MAX_BALLOT_COUNTER, maxBallot, type Ballot } from "./ballot.js";
import type { CasReply, CasRequest, WireRecord } from "./messages.js";

/** A key's record as the proposer knows it. */
export interface KnownRecord {
  readonly value: Uint8Array;
  /** Counter of the ballot that created the lock (the fencing token). */
  readonly token: number;
  /**
   * When the lease ends, on the proposer's monotonic clock. Never earlier than
   * the holder's safe deadline: a new lease is counted from the round's start
   * t0 (the holder's deadline is t0 + lease × (1 − drift)); a reported lease
   * from the reply's receive time, which is no earlier than the acceptor's own
   * reply time, so the estimate is no earlier than that acceptor's expiry —
   * itself no earlier than the holder's deadline. Every rewrite keeps this.
   */
  readonly expiresAt: number;
}

export type CasOp =
  | { readonly kind: "lock"; readonly value: Uint8Array; readonly leaseMs: number }
  | { readonly kind: "update"; readonly expected: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: "extend"; readonly value: Uint8Array; readonly leaseMs: number }
  | { readonly kind: "release"; readonly value: Uint8Array }
  /** A holder's release (`expected`) and the next lock (`value`, `leaseMs`) as one change: the key passes from one to the other. */
  | { readonly kind: "handover"; readonly expected: Uint8Array; readonly value: Uint8Array; readonly leaseMs: number }
  | { readonly kind: "read" };

export type CheckFailure = "locked" | "mismatch" | "not_found";

/** What an operation does to the current state. */
export type OpEffect =
  | { readonly kind: "write"; readonly record: WireRecord | null; readonly newLease: boolean }
  | { readonly kind: "identity" }
  | { readonly kind: "fail"; readonly code: CheckFailure };

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The live part of a known record at `now` (a lapsed lease is absent). */
export function liveAt(r: KnownRecord | null, now: number): KnownRecord | null {
  return r && r.expiresAt > now ? r : null;
}

/** A record rewritten without a new lease carries its remaining lease forward. */
export function carried(r: KnownRecord | null, now: number): WireRecord | null {
  const live = liveAt(r, now);
  return live ? { value: live.value, leaseMs: live.expiresAt - now, token: live.token } : null;
}

/**
 * The change function of each operation (CASPaxos applies it to the current
 * state). `ballotC` is the counter of the round's ballot: a lock it creates
 * gets it as its fencing token.
 */
export function applyOp(op: CasOp, current: KnownRecord | null, ballotC: number, now: number): OpEffect {
  const cur = liveAt(current, now);
  switch (op.kind) {
    case "lock":
      if (cur) return { kind: "fail", code: "locked" };
      return { kind: "write", record: { value: op.value, leaseMs: op.leaseMs, token: ballotC }, newLease: true };
    case "read":
      return { kind: "identity" };
    case "update":
    case "extend":
    case "release":
    case "handover": {
      const check = op.kind === "update" || op.kind === "handover" ? op.expected : op.value;
      if (!cur) return { kind: "fail", code: "not_found" };
      if (!bytesEqual(cur.value, check)) return { kind: "fail", code: "mismatch" };
      if (op.kind === "release") return { kind: "write", record: null, newLease: false };
      if (op.kind === "handover") return { kind: "write", record: { value: op.value, leaseMs: op.leaseMs, token: ballotC }, newLease: true };
      if (op.kind === "extend") return { kind: "write", record: { value: cur.value, leaseMs: op.leaseMs, token: cur.token }, newLease: true };
      return { kind: "write", record: { value: op.value, leaseMs: cur.expiresAt - now, token: cur.token }, newLease: false };
    }
  }
}

/** The proposer's cached promise for a key it changed last: the next change may skip prepare. */
export interface FastPathState {
  /** The ballot a majority promised when it accepted our last change. */
  readonly ballot: Ballot;
  /** The state that change chose. */
  readonly current: KnownRecord | null;
  /** Write id of that state (see CasMessage accept.origin). */
  readonly origin: Ballot;
}

/** A changing accept this operation sent in an earlier round (so a retry recognises its own write). */
export interface OwnWrite {
  readonly ballot: Ballot;
  /** When the round that sent it started (the lease start for a new lease). */
  readonly t0: number;
  readonly newLease: boolean;
  /** The token of the record it wrote (null: it wrote "absent"). */
  readonly token: number | null;
}

export interface OpResult {
  /** The state after the operation (null: absent). */
  readonly record: KnownRecord | null;
  /** For lock / extendLease: when the round that started the lease began (t0 in DESIGN.md). */
  readonly leaseStart?: number;
  /**
   * Set when an earlier round's change won: the token it wrote. `record` may
   * then be null because the lease already ran out before the operation learned it won.
   */
  readonly writtenToken?: number | null;
}

export type RoundOutcome =
  | { readonly kind: "done"; readonly result: OpResult; readonly fast: FastPathState | null }
  | { readonly kind: "failed"; readonly code: CheckFailure; readonly current: KnownRecord | null; readonly fast: FastPathState | null }
  /** A higher ballot is in play (or our counter is too low for a new token); retry with a higher ballot. */
  | { readonly kind: "conflict"; readonly seen: Ballot | null; readonly retryNow?: boolean }
  /**
   * An earlier round of this operation sent a change that may have landed,
   * and the key now shows another state: whether ours took effect (and was
   * then overwritten) cannot be told, so the outcome is unknown.
   */
  | { readonly kind: "superseded" }
  /** Fewer than a majority answered; `refusals` counts quiet / full / config refusals among them. */
  | {
      readonly kind: "no_quorum";
      readonly refusals: number;
      readonly quiet?: ReadonlyArray<{ readonly voter: string; readonly leftMs?: number }>;
      /** Refusals from voters still on an older configuration (they activate this one in a moment: worth a retry). */
      readonly behind?: number;
    }
  /** A voter runs a newer configuration. */
  | { readonly kind: "config"; readonly cfg: number };

export interface Outgoing {
  /** Voter name. */
  readonly to: string;
  readonly msg: CasRequest;
}

export interface RoundParams {
  readonly key: string;
  readonly cfg: number;
  /** Voters to ask (the live ones); a quorum is counted against the whole configuration. */
  readonly ask: readonly string[];
  readonly quorum: number;
  readonly op: CasOp;
  readonly ballot: Ballot;
  /** Counter of our next ballot for this key, promised along with the accept. Above `ballot.c`. */
  readonly nextC: number;
  /** When set, the round starts at accept with this cached state (the one-round-trip path). */
  readonly fast: FastPathState | null;
  /** Changing accepts earlier rounds of this operation sent that may have landed. */
  readonly ownWrites: readonly OwnWrite[];
  /**
   * Largest counter a reply may report (accepted, floor, promised, origin,
   * token); a reply above it is treated as no answer from that voter and
   * counted in `implausibleReplies`, so it never reaches `highestSeen` and the
   * caller's HLC. Default: `nextC` plus MAX_BALLOT_AHEAD_MS of ticks (nextC
   * was just ticked from this node's wall clock, so it is at least that clock).
   * Drivers may pass maxPlausibleCounter(wallNow) instead.
   */
  readonly maxPlausibleC?: number;
}

/** The default bound of RoundParams.maxPlausibleC. */
export function defaultMaxPlausibleC(nextC: number): number {
  return Math.min(MAX_BALLOT_COUNTER, nextC + MAX_BALLOT_AHEAD_MS * HLC_TICKS_PER_MS);
}

/** The largest counter a reply reports (0 when it reports none). */
function replyMaxCounter(reply: CasReply): number {
  switch (reply.type) {
    case "promise":
      return Math.max(reply.accepted?.c ?? 0, reply.floor?.c ?? 0, reply.origin?.c ?? 0, reply.record?.token ?? 0);
    case "nack":
      return reply.promised?.c ?? 0;
    default:
      return 0;
  }
}

interface PromiseReply {
  accepted: Ballot | null;
  /** Write id of the accepted state (resolved: never null when accepted is not). */
  origin: Ballot | null;
  lapsed: boolean;
  record: WireRecord | null;
  floor: Ballot | null;
  recvAt: number;
}

type Pending =
  | { kind: "answer"; code: CheckFailure | null; result: OpResult }
  | { kind: "change"; result: OpResult };

/**
 * One round. Phases: prepare → (decide) → accept → done, or accept → done on
 * the fast path. Every input is handled once per voter and phase; duplicates
 * and replies for an earlier phase are ignored.
 */
export class ProposerRound {
  private phase: "idle" | "prepare" | "accept" | "done" = "idle";
  private t0 = 0;
  private readonly promises = new Map<string, PromiseReply>();
  private readonly acks = new Set<string>();
  private acceptNacks = 0;
  private drainOpen = true;
  private drainingNow = false;
  private nextPromisedBy = 0;
  private readonly failed = new Set<string>();
  private refusals = 0;
  /** Refusals from voters on an older configuration version than the round's. */
  private behind = 0;
  /** Voters that refused because they sit out their quiet period (named in the answer). */
  private readonly quietVoters = new Map<string, number | undefined>();
  private conflicted = false;
  private seen: Ballot | null = null;
  private pending: Pending | null = null;
  /** The record the accept phase writes, as the proposer will know it once chosen, and its write id. */
  private writtenKnown: KnownRecord | null = null;
  private writtenOrigin: Ballot | null = null;
  private result: RoundOutcome | undefined;
  /** Set when this round sent an accept that changes the key (not a write-back). */
  sentWrite: OwnWrite | null = null;
  /** Replies refused because a counter in them was implausibly far ahead (see RoundParams.maxPlausibleC). */
  implausibleReplies = 0;
  private readonly maxPlausibleC: number;

  constructor(readonly params: RoundParams) {
    if (params.nextC <= params.ballot.c) throw new Error("invariant: next ballot must be above the round's ballot");
    if (params.quorum < 1) throw new Error("invariant: quorum must be positive");
    this.maxPlausibleC = params.maxPlausibleC ?? defaultMaxPlausibleC(params.nextC);
  }

  get outcome(): RoundOutcome | undefined {
    return this.result;
  }

  get currentPhase(): "idle" | "prepare" | "accept" | "done" {
    return this.phase;
  }

  /**
   * Whether this round's changing accept may have reached an acceptor: it was
   * sent and not every voter asked refused it.
   */
  get writeMayHaveLanded(): boolean {
    return this.sentWrite !== null && this.acceptNacks < this.params.ask.length;
  }

  /** Highest ballot seen in replies (for the caller's HLC). */
  get highestSeen(): Ballot | null {
    return this.seen;
  }

  start(now: number): Outgoing[] {
    if (this.phase !== "idle") throw new Error("invariant: round started twice");
    this.t0 = now;
    const p = this.params;
    if (p.fast) {
      // Our last accept was also a prepare for this ballot at a majority, whose
      // state was the one we cached: phase 1 is already done.
      return this.act(applyOp(p.op, p.fast.current, p.ballot.c, now), p.fast.current, p.fast.origin, false, now);
    }
    this.phase = "prepare";
    if (p.ask.length < p.quorum) return this.finish({ kind: "no_quorum", refusals: 0 });
    // One message object for every voter: the transport encodes it once (see Transport.channel).
    const msg: CasRequest = { type: "prepare", cfg: p.cfg, key: p.key, ballot: p.ballot };
    return p.ask.map((to) => ({ to, msg }));
  }

  /**
   * A reply from voter `from` to the request of phase `phase` (the driver
   * knows which request a response answers); replies to an earlier phase are ignored.
   */
  onReply(from: string, reply: CasReply, now: number, phase: "prepare" | "accept"): Outgoing[] {
    if (this.phase !== phase) return [];
    if (this.failed.has(from) || (phase === "prepare" ? this.promises.has(from) : this.acks.has(from))) return [];
    if (replyMaxCounter(reply) > this.maxPlausibleC) {
      // A ballot no honest voter could hold (a forger with the key, or a
      // broken clock): not adopted, not a conflict — that voter did not answer.
      this.implausibleReplies++;
      return this.onError(from, phase);
    }
    if (reply.type === "nack") {
      if (reply.reason === "promised") {
        this.conflicted = true;
        this.seen = maxBallot(this.seen, reply.promised);
      } else if (reply.reason === "config" && reply.cfg > this.params.cfg) {
        return this.finish({ kind: "config", cfg: reply.cfg });
      } else {
        this.refusals++;
        if (reply.reason === "quiet") this.quietVoters.set(from, reply.quietLeftMs);
        if (reply.reason === "config" && reply.cfg < this.params.cfg) this.behind++;
      }
      if (phase === "accept") this.acceptNacks++;
      this.failed.add(from);
      if (reply.reason === "promised") {
        // A higher ballot is in play. Do not wait for the voters yet to
        // answer: one of them may be down but not yet known dead, and the
        // round would then hang until the caller's budget ran out. A prepare
        // phase is abandoned at once (always safe); an accept phase waits a
        // bounded grace for the other replies (a majority may still accept
        // ours), then ends as a conflict.
        if (phase === "prepare") return this.finish({ kind: "conflict", seen: this.seen });
        const outstanding = this.params.ask.length - this.acks.size - this.failed.size;
        if (outstanding > 0 && this.drainOpen) {
          this.drainingNow = true;
          return [];
        }
        return this.finish({ kind: "conflict", seen: this.seen });
      }
      return this.checkImpossible();
    }
    if (this.phase === "prepare") {
      if (reply.type !== "promise") return this.onError(from, phase);
      this.seen = maxBallot(this.seen, maxBallot(reply.accepted, reply.floor));
      this.promises.set(from, {
        accepted: reply.accepted,
        origin: reply.origin ?? reply.accepted,
        lapsed: reply.lapsed,
        record: reply.record,
        floor: reply.floor,
        recvAt: now,
      });
      if (this.promises.size >= this.params.quorum) return this.decide(now);
      return [];
    }
    // accept phase
    if (reply.type !== "accepted") return this.onError(from, phase);
    this.acks.add(from);
    if (reply.nextPromised) this.nextPromisedBy++;
    if (this.acks.size >= this.params.quorum) return this.chosen();
    // While draining, one acceptance settles it: the change landed somewhere.
    if (this.drainingNow) return this.checkImpossible();
    return [];
  }

  /** The request of phase `phase` to `from` failed for good (no answer within its budget). */
  onError(from: string, phase: "prepare" | "accept"): Outgoing[] {
    if (this.phase !== phase) return [];
    if (this.failed.has(from) || (phase === "prepare" ? this.promises.has(from) : this.acks.has(from))) return [];
    this.failed.add(from);
    return this.checkImpossible();
  }

  /**
   * The accept to `to` was never sent (the driver held it back: see
   * CasNode.drive): as sure a refusal as a nack, for whether the change landed.
   */
  notSent(to: string): Outgoing[] {
    if (this.phase !== "accept" || this.failed.has(to) || this.acks.has(to)) return [];
    this.acceptNacks++;
    this.failed.add(to);
    return this.checkImpossible();
  }

  /** Waiting for the last accept replies to learn whether a refused change landed anywhere. */
  get draining(): boolean {
    return this.drainingNow && this.phase === "accept";
  }

  /** Stops waiting for the remaining accept replies (the driver's grace period ended). */
  endDrain(): Outgoing[] {
    if (!this.draining) return [];
    this.drainOpen = false;
    this.drainingNow = false;
    if (this.conflicted) return this.finish({ kind: "conflict", seen: this.seen });
    return this.checkImpossible();
  }

  /** The operation's time is up: end the round as it stands. */
  abandon(): void {
    if (this.phase !== "done") this.finish(this.noQuorum());
  }

  private answered(): number {
    return this.phase === "prepare" ? this.promises.size : this.acks.size;
  }

  private checkImpossible(): Outgoing[] {
    const outstanding = this.params.ask.length - this.answered() - this.failed.size;
    if (this.answered() + outstanding >= this.params.quorum) return [];
    if (this.phase === "accept" && this.sentWrite && this.acks.size === 0 && outstanding > 0 && this.drainOpen) {
      // Our change cannot be chosen now, but it may still land on the voters
      // yet to answer. Hearing that every one refused it lets the operation
      // retry with a clean slate instead of reporting an unknown outcome; the
      // driver bounds this wait (endDrain).
      this.drainingNow = true;
      return [];
    }
    if (this.conflicted) return this.finish({ kind: "conflict", seen: this.seen });
    return this.finish(this.noQuorum());
  }

  /** A majority promised: work out the current state and what to write. */
  private decide(now: number): Outgoing[] {
    const replies = [...this.promises.values()];
    let highest: Ballot | null = null;
    let maxSeenC = 0;
    for (const r of replies) {
      highest = maxBallot(highest, r.accepted);
      maxSeenC = Math.max(maxSeenC, r.accepted?.c ?? 0, r.floor?.c ?? 0, r.record?.token ?? 0);
    }
    const origin = replies.find((r) => r.accepted && ballotEquals(r.accepted, highest))?.origin ?? null;
    // Of the records at the highest ballot, the largest remaining lease; a
    // lapsed one was already sent as null (absent).
    let current: KnownRecord | null = null;
    for (const r of replies) {
      if (!r.record || !ballotEquals(r.accepted, highest)) continue;
      const expiresAt = r.recvAt + r.record.leaseMs;
      if (!current || expiresAt > current.expiresAt) current = { value: r.record.value, token: r.record.token, expiresAt };
    }
    // receive time + remaining is no earlier than that acceptor's expiry,
    // which is no earlier than the holder's safe deadline (see KnownRecord).
    // A majority agreeing on one ballot may be answered from without writing —
    // unless the answer is "absent" because a lease lapsed: lapses are local
    // (each acceptor counts from its own accept time), so another majority
    // could still see the lease live; "absent" must first be made chosen.
    // (Our estimate from a reply's receive time can lapse too, while we wait for a majority.)
    const lapsed = !liveAt(current, now) && (current !== null || replies.some((r) => r.lapsed && ballotEquals(r.accepted, highest)));
    const agreed = !lapsed && replies.every((r) => ballotEquals(r.accepted, highest));

    // Recognise our own change by its write id, even if someone wrote it back since.
    const own = origin ? this.params.ownWrites.find((w) => ballotEquals(w.ballot, origin)) : undefined;
    if (own) {
      // An earlier round of this very operation wrote the current state: its
      // effect stands; make it chosen (if it is not yet) and report success.
      const result: OpResult = own.newLease
        ? { record: current, leaseStart: own.t0, writtenToken: own.token }
        : { record: current, writtenToken: own.token };
      if (agreed) return this.finish({ kind: "done", result, fast: null });
      return this.writeBack(current, origin, { kind: "change", result }, now);
    }
    let mustWrite = false;
    if (this.params.ownWrites.length > 0) {
      const oldest = this.params.ownWrites.reduce((m, w) => (compareBallots(w.ballot, m) < 0 ? w.ballot : m), this.params.ownWrites[0]!.ballot);
      if (highest && compareBallots(highest, oldest) >= 0) {
        // A state at or above our earlier change is current: ours may have
        // taken effect and been overwritten since, and evaluating the
        // operation again could deny a change that happened. Only "unknown" is honest.
        return this.finish({ kind: "superseded" });
      }
      // Nothing at or above our earlier changes was ever chosen (a majority
      // would show it), so none took effect; once this round's accept is
      // chosen none ever can. The answer must therefore go through an accept.
      mustWrite = true;
    }

    // A new lock needs a token above every counter seen for the key, so
    // tokens strictly increase across holders even when two ballots share a counter.
    const effect = applyOp(this.params.op, current, this.params.ballot.c, now);
    if (effect.kind === "write" && effect.newLease && (this.params.op.kind === "lock" || this.params.op.kind === "handover") && this.params.ballot.c <= maxSeenC) {
      // Nobody competes: the next ballot (above maxSeenC) can go at once.
      return this.finish({ kind: "conflict", seen: { c: maxSeenC, node: this.params.ballot.node }, retryNow: true });
    }
    return this.act(effect, current, origin, agreed && !mustWrite, now);
  }

  /**
   * Carries out an operation's effect on `current` (whose write id is
   * `origin`). `agreed`: a majority reported the same accepted ballot in this
   * round, so an answer may be given without writing — never on the fast
   * path, where nothing was read from a majority in this round.
   */
  private act(effect: OpEffect, current: KnownRecord | null, origin: Ballot | null, agreed: boolean, now: number): Outgoing[] {
    const live = liveAt(current, now);
    if (effect.kind === "fail" || effect.kind === "identity") {
      const pending: Pending =
        effect.kind === "fail" ? { kind: "answer", code: effect.code, result: { record: live } } : { kind: "answer", code: null, result: { record: live } };
      // An answer rests only on a chosen value: a majority agreeing on one
      // accepted ballot, or our own write-back of what we saw.
      if (agreed) return this.finishPending(pending);
      return this.writeBack(live, origin, pending, now);
    }
    // A changing write.
    const record = effect.record;
    const known: KnownRecord | null = record
      ? { value: record.value, token: record.token, expiresAt: effect.newLease ? this.t0 + record.leaseMs : now + record.leaseMs }
      : null;
    this.sentWrite = { ballot: this.params.ballot, t0: this.t0, newLease: effect.newLease, token: record ? record.token : null };
    const result: OpResult = effect.newLease ? { record: known, leaseStart: this.t0 } : { record: known };
    return this.sendAccept(record, known, null, { kind: "change", result });
  }

  /** Writes the state seen back under this round's ballot, keeping its write id. */
  private writeBack(current: KnownRecord | null, origin: Ballot | null, pending: Pending, now: number): Outgoing[] {
    return this.sendAccept(carried(current, now), liveAt(current, now), origin, pending);
  }

  /** `origin` null: this accept is a change of its own (its write id is its ballot). */
  private sendAccept(record: WireRecord | null, known: KnownRecord | null, origin: Ballot | null, pending: Pending): Outgoing[] {
    const p = this.params;
    // A write id equal to the ballot travels as null (the common case costs nothing).
    const wireOrigin = origin && !ballotEquals(origin, p.ballot) ? origin : null;
    this.phase = "accept";
    this.pending = pending;
    this.writtenKnown = known;
    this.writtenOrigin = wireOrigin ?? p.ballot;
    this.failed.clear();
    this.refusals = 0;
    this.behind = 0;
    this.conflicted = false;
    if (p.ask.length < p.quorum) return this.finish({ kind: "no_quorum", refusals: 0 });
    const msg: CasRequest = { type: "accept", cfg: p.cfg, key: p.key, ballot: p.ballot, record, nextC: p.nextC, origin: wireOrigin };
    return p.ask.map((to) => ({ to, msg }));
  }

  /** A majority accepted: the written value is chosen. */
  private chosen(): Outgoing[] {
    const pending = this.pending;
    if (!pending) throw new Error("invariant: accept phase without a pending answer");
    const fast: FastPathState | null =
      this.nextPromisedBy >= this.params.quorum
        ? { ballot: { c: this.params.nextC, node: this.params.ballot.node }, current: this.writtenKnown, origin: this.writtenOrigin ?? this.params.ballot }
        : null;
    if (pending.kind === "answer" && pending.code) return this.finish({ kind: "failed", code: pending.code, current: pending.result.record, fast });
    this.result = { kind: "done", result: pending.result, fast };
    this.phase = "done";
    return [];
  }

  private finishPending(pending: Pending): Outgoing[] {
    if (pending.kind === "answer" && pending.code) return this.finish({ kind: "failed", code: pending.code, current: pending.result.record, fast: null });
    return this.finish({ kind: "done", result: pending.result, fast: null });
  }

  private noQuorum(): RoundOutcome {
    const quiet = [...this.quietVoters].map(([voter, leftMs]) => (leftMs === undefined ? { voter } : { voter, leftMs }));
    return { kind: "no_quorum", refusals: this.refusals, quiet, ...(this.behind > 0 ? { behind: this.behind } : {}) };
  }

  private finish(outcome: RoundOutcome): Outgoing[] {
    this.result = outcome;
    this.phase = "done";
    return [];
  }

  describe(): string {
    return `round ${this.params.key} ${ballotToString(this.params.ballot)} ${this.phase}`;
  }
}

/** A peek reply as the proposer uses it. */
export interface PeekReply {
  readonly accepted: Ballot | null;
  readonly record: WireRecord | null;
  readonly lapsed: boolean;
  /** Proposer's monotonic time when the reply arrived. */
  readonly recvAt: number;
}

/**
 * The verdict of a peek (a read that promises nothing) from at least a
 * quorum: the live record when every reply reports the same accepted ballot
 * with a live lease, else null ("run a normal round").
 *
 * Why this is a linearizable "held": a majority accepted that ballot, so its
 * value is chosen; no higher ballot was chosen before the peek began, or a
 * reply from the intersecting acceptor would show it. So at the moment the
 * first reply was made the state was this record, whose lease (estimated
 * from the receive time, no earlier than any acceptor's expiry) was live.
 */
export function peekVerdict(replies: readonly PeekReply[], quorum: number, now: number): KnownRecord | null {
  if (replies.length < quorum) return null;
  const first = replies[0]!.accepted;
  if (!first) return null;
  let current: KnownRecord | null = null;
  for (const r of replies) {
    if (!ballotEquals(r.accepted, first) || r.lapsed || !r.record) return null;
    const expiresAt = r.recvAt + r.record.leaseMs;
    if (!current || expiresAt > current.expiresAt) current = { value: r.record.value, token: r.record.token, expiresAt };
  }
  return liveAt(current, now);
}
