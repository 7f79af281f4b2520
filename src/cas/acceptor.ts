// The CASPaxos acceptor for every key on one voter, as a pure state machine:
// it is handed requests and the monotonic time and returns replies and local
// view events; expiry and garbage collection run when the driver calls tick().
import { ballotEquals, compareBallots, maxBallot, type Ballot } from "./ballot.js";
import type { CasReply, CasRequest, WireRecord } from "./messages.js";
import { DeadlineHeap } from "./lease-table.js";

export interface AcceptorConfig {
  /** Version of the voter configuration; rounds from another version are refused. */
  configVersion: number;
  /**
   * Monotonic time before which this acceptor does not vote (the quiet period
   * after a start with empty memory: no lease it accepted in a previous life
   * can still be live when it starts voting).
   */
  quietUntil: number;
  /**
   * How long a key's state is kept after its last promise or accept once its
   * record is dead. Must exceed the longest lease plus the longest time a
   * round's messages can still be in flight: a forgotten key can otherwise let
   * a stale, never-chosen record on another acceptor resurface.
   */
  gcGraceMs: number;
  /** Bound on keys held; past it new keys are refused with a "full" nack. */
  maxKeys: number;
}

/** A live record as the local view sees it. */
export interface LocalRecord {
  readonly value: Uint8Array;
  readonly token: number;
  /** Local monotonic time at which the lease ends. */
  readonly expiresAt: number;
}

export type AcceptorEvent =
  | { readonly kind: "changed"; readonly key: string; readonly before: LocalRecord | null; readonly after: LocalRecord | null }
  | { readonly kind: "expired"; readonly key: string; readonly record: LocalRecord };

interface KeyState {
  promised: Ballot | null;
  accepted: Ballot | null;
  record: LocalRecord | null;
  /** Write id of the accepted state: the ballot of the change that produced it (kept through write-backs and expiry). */
  origin: Ballot | null;
  /** The accepted record's lease ran out (record is null): reported so a proposer writes "absent" back before answering it. */
  lapsed: boolean;
  /** Last promise or accept, for garbage collection. */
  touchedAt: number;
  /** Bumped on every change so stale heap entries are skipped. */
  gen: number;
}

export interface AcceptorResult {
  reply: CasReply;
  events: AcceptorEvent[];
}

export class Acceptor {
  private readonly keys = new Map<string, KeyState>();
  private readonly deadlines = new DeadlineHeap<string>();
  /** The highest ballot of any key this acceptor forgot: it promises nothing at or below it for a key it has no state for. */
  private forgottenFloor: Ballot | null = null;
  private nextGen = 1;
  /** Heap entries examined by tick() so far: the expiry work, which tracks what is due, not how many keys live. */
  tickWork = 0;

  constructor(readonly config: AcceptorConfig) {}

  get floor(): Ballot | null {
    return this.forgottenFloor;
  }

  /** Keys with state (live, dead or only promised). */
  get size(): number {
    return this.keys.size;
  }

  isQuiet(now: number): boolean {
    return now < this.config.quietUntil;
  }

  handle(msg: CasRequest, now: number): AcceptorResult {
    if (msg.type === "probe") {
      return { reply: { type: "pong", cfg: this.config.configVersion, quiet: this.isQuiet(now) }, events: [] };
    }
    if (msg.cfg !== this.config.configVersion) return this.nack("config", null);
    if (this.isQuiet(now)) return this.nack("quiet", null);
    const events: AcceptorEvent[] = [];
    this.expireKey(msg.key, now, events);
    let state = this.keys.get(msg.key);
    if (!state && this.keys.size >= this.config.maxKeys) return { ...this.nack("full", null), events };
    // For a key without state, the forgotten floor acts as the promise.
    const promised = state ? state.promised : this.forgottenFloor;
    const b = msg.ballot;

    if (msg.type === "prepare") {
      // Equal is allowed: a retransmitted prepare of the same proposer.
      const ok = state ? !promised || compareBallots(b, promised) >= 0 : !promised || compareBallots(b, promised) > 0;
      if (!ok) return { ...this.nack("promised", promised), events };
      if (!state) state = this.create(msg.key);
      state.promised = b;
      this.touch(msg.key, state, now);
      return {
        reply: {
          type: "promise",
          accepted: state.accepted,
          record: this.wireRecord(state.record, now),
          floor: this.forgottenFloor,
          origin: state.origin && !ballotEquals(state.origin, state.accepted) ? state.origin : null,
          lapsed: state.lapsed || (state.record !== null && state.record.expiresAt <= now),
        },
        events,
      };
    }

    // accept
    if (state && ballotEquals(state.accepted, b)) {
      // A retransmission of an accept already taken: one ballot carries one value, so it is the same.
      const nextPromised = msg.nextC !== null && ballotEquals(state.promised, { c: msg.nextC, node: b.node });
      return { reply: { type: "accepted", nextPromised }, events };
    }
    const ok = state ? !promised || compareBallots(b, promised) >= 0 : !promised || compareBallots(b, promised) > 0;
    if (!ok) return { ...this.nack("promised", promised), events };
    if (!state) state = this.create(msg.key);
    const before = this.live(state.record, now);
    state.accepted = b;
    state.record = msg.record ? { value: msg.record.value, token: msg.record.token, expiresAt: now + msg.record.leaseMs } : null;
    state.origin = msg.origin ?? b;
    state.lapsed = false;
    // Accepting b also promises the proposer's next ballot (a prepare piggybacked
    // on this accept): the proposer may then skip prepare for its next change.
    state.promised = msg.nextC !== null && msg.nextC > b.c ? { c: msg.nextC, node: b.node } : b;
    this.touch(msg.key, state, now);
    events.push({ kind: "changed", key: msg.key, before, after: state.record });
    return { reply: { type: "accepted", nextPromised: msg.nextC !== null }, events };
  }

  /** Expires leases and forgets dead keys that are due; cost is proportional to what is due. */
  tick(now: number): AcceptorEvent[] {
    const events: AcceptorEvent[] = [];
    for (;;) {
      const e = this.deadlines.popDue(now);
      if (!e) break;
      this.tickWork++;
      const state = this.keys.get(e.key);
      if (!state || state.gen !== e.gen) continue;
      if (state.record) {
        // Lapsed lease: expireKey re-arms the entry for garbage collection.
        this.expireKey(e.key, now, events);
        continue;
      }
      const gcAt = state.touchedAt + this.config.gcGraceMs;
      if (gcAt <= now) {
        this.forgottenFloor = maxBallot(this.forgottenFloor, maxBallot(state.promised, state.accepted));
        this.keys.delete(e.key);
      } else {
        this.deadlines.push(gcAt, e.key, state.gen);
      }
    }
    if (this.deadlines.size > 2 * this.keys.size + 1024) {
      this.deadlines.compact((x) => this.keys.get(x.key)?.gen === x.gen);
    }
    return events;
  }

  /** When tick() next has work, if ever. */
  nextDeadline(): number | undefined {
    return this.deadlines.peekAt();
  }

  /** The live local record of a key (the dirty-read view). */
  get(key: string, now: number): LocalRecord | undefined {
    return this.live(this.keys.get(key)?.record ?? null, now) ?? undefined;
  }

  /** Live local entries whose key starts with `prefix`. O(keys): for inspection, not hot paths. */
  entries(prefix: string, now: number, limit: number): Array<[string, LocalRecord]> {
    const out: Array<[string, LocalRecord]> = [];
    for (const [k, s] of this.keys) {
      if (out.length >= limit) break;
      const r = this.live(s.record, now);
      if (r && k.startsWith(prefix)) out.push([k, r]);
    }
    return out;
  }

  /** Count of live records (O(keys)). */
  liveCount(now: number): number {
    let n = 0;
    for (const s of this.keys.values()) if (this.live(s.record, now)) n++;
    return n;
  }

  /**
   * Every key this acceptor holds state for (live, dead not yet forgotten, or
   * only promised). Added for replication (src/replication/reconfig.ts): a
   * reconfiguration rewrites each of them under the new configuration.
   */
  keyNames(): IterableIterator<string> {
    return this.keys.keys();
  }

  /** For tests and invariants: the raw state of a key. */
  inspect(key: string): { promised: Ballot | null; accepted: Ballot | null; record: LocalRecord | null; origin: Ballot | null } | undefined {
    const s = this.keys.get(key);
    return s ? { promised: s.promised, accepted: s.accepted, record: s.record, origin: s.origin } : undefined;
  }

  private create(key: string): KeyState {
    const s: KeyState = { promised: this.forgottenFloor, accepted: null, record: null, origin: null, lapsed: false, touchedAt: 0, gen: 0 };
    this.keys.set(key, s);
    return s;
  }

  private touch(key: string, s: KeyState, now: number): void {
    s.touchedAt = now;
    s.gen = this.nextGen++;
    this.deadlines.push(s.record ? s.record.expiresAt : now + this.config.gcGraceMs, key, s.gen);
  }

  /** Turns a lapsed record into "absent" (emitting `expired`) and arms the key's GC. */
  private expireKey(key: string, now: number, events: AcceptorEvent[]): void {
    const s = this.keys.get(key);
    if (!s || !s.record || s.record.expiresAt > now) return;
    const record = s.record;
    s.record = null;
    s.lapsed = true;
    s.gen = this.nextGen++;
    this.deadlines.push(Math.max(now, s.touchedAt + this.config.gcGraceMs), key, s.gen);
    events.push({ kind: "expired", key, record });
  }

  private live(r: LocalRecord | null, now: number): LocalRecord | null {
    return r && r.expiresAt > now ? r : null;
  }

  private wireRecord(r: LocalRecord | null, now: number): WireRecord | null {
    if (!r || r.expiresAt <= now) return null;
    return { value: r.value, leaseMs: r.expiresAt - now, token: r.token };
  }

  private nack(reason: "promised" | "quiet" | "config" | "full", promised: Ballot | null): AcceptorResult {
    return { reply: { type: "nack", reason, promised, cfg: this.config.configVersion }, events: [] };
  }
}
