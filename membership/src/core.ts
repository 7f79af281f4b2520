// The SWIM + Lifeguard protocol as a pure state machine: time, randomness and
// datagrams go in; datagrams to send, timers to set and member events come out.
// It never touches a socket, a timer or the system clock (see membership.ts for the driver).
// Long because SWIM's probe, suspicion, gossip and push-pull rules all read and
// write the one member table; split, each part would need the whole of it.
import { BoundedMap } from "./bounded-map.js";
import { Awareness } from "./awareness.js";
import { BroadcastQueue, retransmitLimit } from "./broadcast.js";
import type { MembershipConfig } from "./config.js";
import {
  decodeMessage, decodeMeta, encodeMessage, entrySize, MalformedMessage, MAX_INCARNATION, type Message, type MessageType, messageTypes,
  type PushPullEntry, StateCode, type Update,
} from "./messages.js";
import { Suspicion, suspicionTimeoutMs } from "./suspicion.js";
import type { Member, MembershipRandom, MemberState } from "./types.js";

export type MemberEventType = "join" | "alive" | "suspect" | "dead" | "left" | "update";

export interface MemberEvent {
  readonly type: MemberEventType;
  readonly member: Member;
  /** State before this change (undefined for a member not known before). */
  readonly previous: MemberState | undefined;
}

/** Lifecycle notices for the driver ("joined"/"joinFailed" are kept for old drivers; joins now report through `Output.joins`). */
export type Notice = "joined" | "joinFailed" | "leaveDone";

/** The outcome of one join (core.join): how many of its addresses answered. */
export interface JoinResult {
  readonly id: number;
  readonly answered: number;
  readonly addresses: number;
}

/**
 * Two live nodes claim one name at different addresses (memberlist's conflict
 * delegate). The table keeps `existing`; the claim from `other` is refused.
 * `self` is true on the node whose own name the cluster holds alive at another
 * address: that node is the duplicate and should refuse to run.
 */
export interface Conflict {
  readonly name: string;
  readonly existing: string;
  readonly other: string;
  readonly self: boolean;
}

export interface Send {
  readonly to: string;
  readonly bytes: Uint8Array;
  readonly type: MessageType;
}

/**
 * What the driver must do after an input. Timers are named; setting a name
 * again replaces it; `delayMs: null` cancels it. Apply timer operations in order.
 */
/**
 * A timer of the core, as the driver keys it (one pending timer per key).
 * Typed rather than free strings: a key is made by `timerKey` and taken apart
 * by `parseTimerKey`, never sliced by hand.
 */
export type TimerKey =
  | "probe"
  | "probeTimeout"
  | "gossip"
  | "pushPull"
  | "reconnect"
  | "reap"
  | "leave"
  | `join:${number}`
  | `suspect:${string}`
  | `nack:${number}`
  | `ind:${number}`;

export type ParsedTimer =
  | { readonly kind: "probe" | "probeTimeout" | "gossip" | "pushPull" | "reconnect" | "reap" | "leave" }
  | { readonly kind: "join" | "nack" | "ind"; readonly seq: number }
  | { readonly kind: "suspect"; readonly member: string };

export const timerKey = {
  join: (id: number): TimerKey => `join:${id}`,
  suspect: (member: string): TimerKey => `suspect:${member}`,
  nack: (seq: number): TimerKey => `nack:${seq}`,
  ind: (seq: number): TimerKey => `ind:${seq}`,
};

const FIXED_TIMERS: ReadonlySet<string> = new Set(["probe", "probeTimeout", "gossip", "pushPull", "reconnect", "reap", "leave"]);

/** The timer a key names; undefined for a key no core makes. */
export function parseTimerKey(key: string): ParsedTimer | undefined {
  if (FIXED_TIMERS.has(key)) return { kind: key as "probe" };
  const colon = key.indexOf(":");
  if (colon < 0) return undefined;
  const kind = key.slice(0, colon);
  const rest = key.slice(colon + 1);
  if (kind === "suspect") return { kind, member: rest };
  if (kind === "join" || kind === "nack" || kind === "ind") {
    const seq = Number(rest);
    return rest !== "" && Number.isSafeInteger(seq) ? { kind, seq } : undefined;
  }
  return undefined;
}

export interface Output {
  sends: Send[];
  timers: { key: TimerKey; delayMs: number | null }[];
  events: MemberEvent[];
  notices: Notice[];
  joins: JoinResult[];
  conflicts: Conflict[];
}

export interface CoreStats {
  datagramsSent: number;
  datagramsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Datagrams dropped because they failed to decode or validate. */
  malformed: number;
  sent: Record<MessageType, number>;
  received: Record<MessageType, number>;
  probes: number;
  probesFailed: number;
  pingReqsSent: number;
  nacksReceived: number;
  /** Suspicions this member raised from its own failed probes. */
  suspicionsRaised: number;
  /** Last-chance buddy pings sent when a suspicion ran out (Lifeguard on). */
  finalChecks: number;
  /** Members this member declared dead when its suspicion timer ran out. */
  deathsDeclared: number;
  /** Times others suspected this member while it was up (false positives about us). */
  suspectedWhileAlive: number;
  /** Times others declared this member dead while it was up (false deaths about us). */
  declaredDeadWhileAlive: number;
  refutations: number;
  /** Pings addressed to another name (e.g. a restarted process on a reused address). */
  misdirected: number;
  /** Members that came back (newer incarnation) from another address. */
  addressChanges: number;
  /** Updates about new members dropped because the table is at maxMembers. */
  tableFull: number;
  /** Updates refused because their incarnation jumps implausibly far (MAX_INCARNATION_STEP) above the known one. */
  refusedIncarnations: number;
  /** Claims of a live member's name from another address (refused, see Conflict). */
  conflicts: number;
  /** Probe failures not counted because the target was heard from directly during the probe (e.g. across a heal). */
  staleProbes: number;
  /** Death announcements from others taken only as a suspicion (the member was heard from recently, or not yet suspected long enough). */
  deathsDowngraded: number;
  /** Push-pulls sent to remembered dead or left members (reconnect). */
  reconnects: number;
  pushPulls: number;
  /** Push-pull entries too large for one datagram (skipped). */
  oversizedEntries: number;
  /** Sends the channel refused (counted by the driver). */
  sendErrors: number;
  /** Current local health score (0 = healthy). */
  healthScore: number;
  broadcastQueueLength: number;
  broadcastsDropped: number;
}

interface Rec {
  name: string;
  address: string;
  incarnation: number;
  state: MemberState;
  meta: Uint8Array | null;
  stateChangeMs: number;
  suspicion: Suspicion | undefined;
  /** Last-chance buddy pings sent for the current suspicion. */
  finalChecksSent: number;
  lastCheckMs: number;
  /** Last time a datagram came straight from this member (its address, or a push-pull it sent). */
  lastHeardMs: number;
  /** Round-trip time of direct probes, smoothed (undefined until one was acked directly). */
  rttMs: number | undefined;
}

interface Probe {
  seq: number;
  target: string;
  acked: boolean;
  expectedNacks: number;
  nacks: number;
  /** The target spoke to us directly while the probe ran: its failure is stale (lost or pre-heal ping), not evidence. */
  heard: boolean;
  /** When the direct ping left; an ack before the probe timeout (no helper asked yet) measures the round trip. */
  sentMs: number;
  indirect: boolean;
}

interface JoinAttempt {
  id: number;
  /** Addresses that have not answered yet. */
  pending: Set<string>;
  answered: number;
  addresses: number;
  attempt: number;
  /** Bootstrap completes on the first answer; join() once every address answered or ran out of attempts. */
  untilAll: boolean;
}

/** A dead or left member kept (name and address only) after its record was forgotten, for reconnect. */
interface ReconnectTarget {
  address: string;
  sinceMs: number;
}

interface Indirect {
  requester: string;
  requestSeq: number;
  wantNack: boolean;
}

export interface CoreOptions {
  name: string;
  address: string;
  meta: Uint8Array | null;
  config: MembershipConfig;
  random: MembershipRandom;
  /** Largest datagram payload the channel accepts. */
  maxMessageBytes: number;
}

const MAX_PENDING_INDIRECT = 1024;
/**
 * A member raises its own incarnation by one per refutation or metadata change,
 * so an update claiming more than this above the incarnation we hold is
 * implausible (a bug or a forgery meant to make a refutation impossible): it is
 * refused and counted. A member not in the table may come with any incarnation
 * up to MAX_INCARNATION.
 */
export const MAX_INCARNATION_STEP = 2 ** 20;
/** Joins in flight at once (each join() or bootstrap() call is one). */
export const MAX_JOINS = 16;
/** Addresses one join tries. */
export const MAX_JOIN_ADDRESSES = 256;
/** Forgotten dead/left members remembered for reconnect. */
export const MAX_RECONNECT_TARGETS = 256;
/** Remembered senders we pushed our state to because we did not know them (see onUnknownSender). */
const MAX_UNKNOWN_SENDERS = 256;
const MAX_CONFLICTS_REMEMBERED = 64;
/** A conflict about the same claim is reported again after this many probe intervals (it may persist). */
const CONFLICT_REPEAT_PROBES = 10;
const MAX_RECENT_PUSH_PULLS = 256;
const LEAVE_FANOUT = 3;
/** Last-chance buddy pings before a suspicion becomes a death (see onSuspicionTimer). */
export const FINAL_CHECKS = 3;

function emptyCounts(): Record<MessageType, number> {
  return Object.fromEntries(messageTypes.map((t) => [t, 0])) as Record<MessageType, number>;
}

function stateCode(s: MemberState): StateCode {
  return StateCode[s];
}

export class SwimCore {
  readonly name: string;
  readonly address: string;
  private readonly config: MembershipConfig;
  private readonly random: MembershipRandom;
  private readonly maxMessageBytes: number;
  private readonly self: Rec;
  private readonly members = new Map<string, Rec>();
  /** Names in insertion order with their index, for O(1) random picks. */
  private readonly names: string[] = [];
  private readonly nameIndex = new Map<string, number>();
  private probeOrder: string[] = [];
  private probeIndex = 0;
  private probe: Probe | undefined;
  private seq = 0;
  private readonly indirect = new Map<number, Indirect>();
  private readonly awareness: Awareness;
  private readonly queue: BroadcastQueue;
  private readonly recentPushPulls = new BoundedMap<string, true>(MAX_RECENT_PUSH_PULLS);
  private readonly joins = new Map<number, JoinAttempt>();
  /** Push-pull id of a join request → its join and address. Answers to any attempt count. */
  private readonly joinRequests = new Map<number, { join: number; address: string }>();
  private readonly byAddress = new Map<string, string>();
  private readonly reconnectTargets = new BoundedMap<string, ReconnectTarget>(MAX_RECONNECT_TARGETS);
  private readonly unknownSenders = new BoundedMap<string, { firstMs: number; pushedMs: number }>(MAX_UNKNOWN_SENDERS);
  private lastUnknownPushMs = -Infinity;
  private readonly conflictsSeen = new BoundedMap<string, number>(MAX_CONFLICTS_REMEMBERED);
  private leaving = false;
  private stopped = false;
  private started = false;
  private out: Output = { sends: [], timers: [], events: [], notices: [], joins: [], conflicts: [] };
  readonly stats: CoreStats = {
    datagramsSent: 0, datagramsReceived: 0, bytesSent: 0, bytesReceived: 0, malformed: 0,
    sent: emptyCounts(), received: emptyCounts(), probes: 0, probesFailed: 0, pingReqsSent: 0, nacksReceived: 0,
    suspicionsRaised: 0, finalChecks: 0, deathsDeclared: 0, suspectedWhileAlive: 0, declaredDeadWhileAlive: 0, refutations: 0,
    misdirected: 0, addressChanges: 0, tableFull: 0, refusedIncarnations: 0, conflicts: 0, staleProbes: 0, deathsDowngraded: 0, reconnects: 0, pushPulls: 0, oversizedEntries: 0, sendErrors: 0, healthScore: 0, broadcastQueueLength: 0, broadcastsDropped: 0,
  };

  constructor(opts: CoreOptions) {
    this.name = opts.name;
    this.address = opts.address;
    this.config = opts.config;
    this.random = opts.random;
    this.maxMessageBytes = opts.maxMessageBytes;
    if (opts.maxMessageBytes < 256) throw new RangeError("membership needs datagrams of at least 256 bytes");
    this.awareness = new Awareness(opts.config.lifeguard ? opts.config.awarenessMaxMultiplier : 1);
    this.queue = new BroadcastQueue(opts.config.maxMembers);
    this.self = newRec(opts.name, opts.address, 0, opts.meta, 0);
    this.addRecord(this.self);
  }

  /** What the input being handled asked for, handed over once (each input method returns it). */
  private take(): Output {
    const o = this.out;
    this.out = { sends: [], timers: [], events: [], notices: [], joins: [], conflicts: [] };
    return o;
  }

  // ---- inputs -------------------------------------------------------------
  // The convention of every pure core here (this one, the CAS acceptor and
  // proposer): an input goes in, and what it asks the driver to do comes
  // back as the return value; nothing is left behind to be collected later.

  /** Starts the periodic protocol (probing, gossip, push-pull). */
  start(nowMs: number): Output {
    this.onStart(nowMs);
    return this.take();
  }

  private onStart(nowMs: number): void {
    if (this.started) return;
    this.started = true;
    this.self.stateChangeMs = nowMs;
    this.queue.queue(this.selfAlive());
    const c = this.config;
    // Random phase so members started together do not probe in lockstep.
    this.timer("probe", this.random.next() * c.probeIntervalMs);
    if (c.gossipIntervalMs > 0) this.timer("gossip", this.random.next() * c.gossipIntervalMs);
    if (c.pushPullIntervalMs > 0) this.timer("pushPull", (0.5 + this.random.next()) * this.pushPullIntervalMs());
    if (c.reconnectIntervalMs > 0) this.timer("reconnect", (0.5 + this.random.next()) * c.reconnectIntervalMs);
    this.timer("reap", this.reapIntervalMs());
  }

  /**
   * Joins through addresses: a push-pull with each, retried every
   * joinRetryIntervalMs up to joinMaxAttempts times. Works at any time, also
   * when this member is alone. The result (Output.joins, with the returned id)
   * comes on the first answer, or with `untilAll` once every address answered
   * or ran out of attempts. Throws RangeError past MAX_JOINS or MAX_JOIN_ADDRESSES.
   */
  join(nowMs: number, seeds: readonly string[], untilAll = false): { id: number; output: Output } {
    const id = this.onJoin(nowMs, seeds, untilAll);
    return { id, output: this.take() };
  }

  private onJoin(_nowMs: number, seeds: readonly string[], untilAll: boolean): number {
    const targets = [...new Set(seeds)].filter((s) => s !== this.address);
    if (targets.length > MAX_JOIN_ADDRESSES) throw new RangeError(`a join takes at most ${MAX_JOIN_ADDRESSES} addresses, got ${targets.length}`);
    if (this.joins.size >= MAX_JOINS) throw new RangeError(`at most ${MAX_JOINS} joins at once`);
    const id = this.nextSeq();
    if (targets.length === 0 || this.stopped) {
      this.out.joins.push({ id, answered: 0, addresses: 0 });
      return id;
    }
    const j: JoinAttempt = { id, pending: new Set(targets), answered: 0, addresses: targets.length, attempt: 1, untilAll };
    this.joins.set(id, j);
    this.sendJoinAttempt(j);
    return id;
  }

  /** Announces a graceful leave; keeps answering for leavePropagateMs, then reports "leaveDone". */
  leave(nowMs: number): Output {
    this.onLeave(nowMs);
    return this.take();
  }

  private onLeave(nowMs: number): void {
    if (this.leaving || this.stopped) return;
    this.leaving = true;
    this.self.incarnation = Math.min(MAX_INCARNATION, this.self.incarnation + 1);
    this.setState(this.self, "left", nowMs);
    const u: Update = { kind: "dead", name: this.name, incarnation: this.self.incarnation, from: this.name };
    this.queue.queue(u);
    for (const r of this.randomMembers(LEAVE_FANOUT, (r) => r.state === "alive" || r.state === "suspect")) {
      this.sendWithUpdates(r.address, { type: "gossip", updates: [] });
    }
    this.timer("leave", this.config.leavePropagateMs);
  }

  /** Stops: cancels every timer; further inputs are ignored. */
  stop(): Output {
    this.onStop();
    return this.take();
  }

  private onStop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancel("probe", "probeTimeout", "gossip", "pushPull", "reconnect", "reap", "leave");
    for (const j of [...this.joins.values()]) this.finishJoin(j);
    for (const r of this.members.values()) if (r.suspicion) this.cancel(timerKey.suspect(r.name));
    for (const seq of this.indirect.keys()) this.cancel(timerKey.nack(seq), timerKey.ind(seq));
    this.indirect.clear();
  }

  /** Replaces this member's metadata and announces it (with a new incarnation). */
  updateMeta(nowMs: number, meta: Uint8Array | null): Output {
    if (meta && meta.length > this.config.maxMetaBytes) throw new RangeError(`metadata is ${meta.length} bytes, limit is ${this.config.maxMetaBytes}`);
    this.onUpdateMeta(nowMs, meta);
    return this.take();
  }

  private onUpdateMeta(nowMs: number, meta: Uint8Array | null): void {
    this.self.meta = meta;
    this.self.incarnation = Math.min(MAX_INCARNATION, this.self.incarnation + 1);
    this.self.stateChangeMs = nowMs;
    this.queue.queue(this.selfAlive());
    this.emit("update", this.self, "alive");
  }

  handleDatagram(nowMs: number, bytes: Uint8Array, from: string): Output {
    this.onDatagram(nowMs, bytes, from);
    return this.take();
  }

  private onDatagram(nowMs: number, bytes: Uint8Array, from: string): void {
    if (this.stopped) return;
    this.stats.datagramsReceived++;
    this.stats.bytesReceived += bytes.length;
    let m: Message;
    try {
      m = decodeMessage(bytes, this.config.maxMetaBytes);
    } catch (e) {
      if (!(e instanceof MalformedMessage)) throw e;
      this.stats.malformed++;
      return;
    }
    this.stats.received[m.type]++;
    this.heardFrom(nowMs, from, m.type === "pushPull" ? m.sender : undefined);
    if (m.type !== "pushPull") for (const u of m.updates) this.applyUpdate(nowMs, u);
    switch (m.type) {
      case "ping":
        if (m.target !== this.name) {
          this.stats.misdirected++;
          return;
        }
        this.sendWithUpdates(from, { type: "ack", seq: m.seq, updates: this.buddyFor(from) });
        this.onUnknownSender(nowMs, from);
        return;
      case "pingReq":
        this.onPingReq(m, from);
        return;
      case "ack":
        this.onAck(nowMs, m.seq);
        return;
      case "nack":
        if (this.probe && m.seq === this.probe.seq) {
          this.probe.nacks++;
          this.stats.nacksReceived++;
        }
        return;
      case "gossip":
        return;
      case "pushPull":
        this.onPushPull(nowMs, m, from);
        return;
    }
  }

  handleTimer(nowMs: number, key: TimerKey): Output {
    this.onTimer(nowMs, key);
    return this.take();
  }

  private onTimer(nowMs: number, key: TimerKey): void {
    if (this.stopped) return;
    const t = parseTimerKey(key);
    if (!t) return;
    switch (t.kind) {
      case "probe":
        return this.onProbeTimer(nowMs);
      case "probeTimeout":
        return this.onProbeTimeout();
      case "gossip":
        return this.onGossipTimer(nowMs);
      case "pushPull":
        return this.onPushPullTimer();
      case "reconnect":
        return this.onReconnectTimer(nowMs);
      case "reap":
        return this.onReapTimer(nowMs);
      case "leave":
        this.out.notices.push("leaveDone");
        return;
      case "join":
        return this.onJoinTimer(t.seq);
      case "suspect":
        return this.onSuspicionTimer(nowMs, t.member);
      case "nack":
        return this.onNackTimer(t.seq);
      case "ind":
        this.indirect.delete(t.seq);
        return;
    }
  }

  // ---- queries -------------------------------------------------------------

  member(name: string): Member | undefined {
    const r = this.members.get(name);
    return r && view(r);
  }

  /** A member's state, without building its view (no metadata decode): for per-operation checks. */
  stateOf(name: string): MemberState | undefined {
    return this.members.get(name)?.state;
  }

  /** A member's address, without building its view. */
  addressOf(name: string): string | undefined {
    return this.members.get(name)?.address;
  }

  allMembers(): Member[] {
    return [...this.members.values()].map(view);
  }

  get incarnation(): number {
    return this.self.incarnation;
  }

  get isLeaving(): boolean {
    return this.leaving;
  }

  /** Members by state, this one included. */
  countByState(): Record<MemberState, number> {
    const counts = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const r of this.members.values()) counts[r.state]++;
    return counts;
  }

  /** Alive + suspect members, this one included. */
  liveCount(): number {
    let n = 0;
    for (const r of this.members.values()) if (r.state === "alive" || r.state === "suspect") n++;
    return n;
  }

  currentStats(): CoreStats {
    this.stats.healthScore = this.awareness.healthScore;
    this.stats.broadcastQueueLength = this.queue.size;
    this.stats.broadcastsDropped = this.queue.dropped;
    return { ...this.stats, sent: { ...this.stats.sent }, received: { ...this.stats.received } };
  }

  // ---- probing --------------------------------------------------------------

  private onProbeTimer(nowMs: number): void {
    if (this.probe) this.finishProbe(nowMs);
    this.cancel("probeTimeout");
    if (!this.leaving) {
      const target = this.nextProbeTarget();
      if (target) {
        const seq = this.nextSeq();
        this.probe = { seq, target: target.name, acked: false, expectedNacks: 0, nacks: 0, heard: false, sentMs: nowMs, indirect: false };
        this.stats.probes++;
        const buddy: Update[] = [];
        // Lifeguard buddy system: tell a suspect it is suspected, so it can refute at once.
        if (this.config.lifeguard && target.state === "suspect") buddy.push({ kind: "suspect", name: target.name, incarnation: target.incarnation, from: this.name });
        this.sendWithUpdates(target.address, { type: "ping", seq, target: target.name, updates: buddy });
        this.timer("probeTimeout", this.awareness.scaleTimeout(this.config.probeTimeoutMs));
      }
    }
    this.timer("probe", this.awareness.scaleTimeout(this.config.probeIntervalMs));
  }

  private onProbeTimeout(): void {
    const p = this.probe;
    if (!p || p.acked) return;
    const target = this.members.get(p.target);
    if (!target) return;
    p.indirect = true;
    const helpers = this.randomMembers(this.config.indirectChecks, (r) => r.state === "alive" && r.name !== p.target);
    for (const h of helpers) {
      this.sendWithUpdates(h.address, { type: "pingReq", seq: p.seq, target: target.name, targetAddress: target.address, wantNack: this.config.lifeguard, updates: [] });
      this.stats.pingReqsSent++;
    }
    if (this.config.lifeguard) p.expectedNacks = helpers.length;
  }

  private onAck(nowMs: number, seq: number): void {
    if (this.probe && seq === this.probe.seq) {
      if (!this.probe.acked) {
        this.probe.acked = true;
        this.cancel("probeTimeout");
        // Direct or relayed by a helper, an ack is fresh evidence that the target is up.
        const r = this.members.get(this.probe.target);
        if (r) {
          r.lastHeardMs = nowMs;
          // Only a direct answer measures the path to the member (a relayed one adds the helper's hops).
          if (!this.probe.indirect) {
            const sample = nowMs - this.probe.sentMs;
            r.rttMs = r.rttMs === undefined ? sample : 0.8 * r.rttMs + 0.2 * sample;
          }
        }
      }
      return;
    }
    const ind = this.indirect.get(seq);
    if (ind) {
      this.indirect.delete(seq);
      this.cancel(timerKey.nack(seq), timerKey.ind(seq));
      this.sendWithUpdates(ind.requester, { type: "ack", seq: ind.requestSeq, updates: [] });
    }
  }

  private finishProbe(nowMs: number): void {
    const p = this.probe!;
    this.probe = undefined;
    if (p.acked) {
      this.awareness.apply(-1);
      return;
    }
    const target = this.members.get(p.target);
    if (p.heard) {
      // The target spoke to us while its probe ran (a ping of its own, gossip, a push-pull):
      // it is up, and the missing ack is a lost or stale datagram (one sent before a
      // partition healed). Judging it would accuse a member we know is reachable.
      this.stats.staleProbes++;
      return;
    }
    this.stats.probesFailed++;
    // With helpers that nack, a missing nack points at our own health rather than the target's.
    this.awareness.apply(p.expectedNacks > 0 ? Math.max(0, p.expectedNacks - p.nacks) : 1);
    if (!target || (target.state !== "alive" && target.state !== "suspect")) return;
    // A failed probe of a member already suspect is this member's own confirmation of the
    // suspicion (Lifeguard): counted once per member, it shrinks the timeout toward its minimum.
    if (target.state === "alive") this.stats.suspicionsRaised++;
    this.onSuspect(nowMs, { kind: "suspect", name: target.name, incarnation: target.incarnation, from: this.name });
  }

  private onPingReq(m: Extract<Message, { type: "pingReq" }>, from: string): void {
    if (this.indirect.size >= MAX_PENDING_INDIRECT) return;
    const seq = this.nextSeq();
    this.indirect.set(seq, { requester: from, requestSeq: m.seq, wantNack: m.wantNack });
    this.sendWithUpdates(m.targetAddress, { type: "ping", seq, target: m.target, updates: [] });
    // Nack well before the requester's deadline so it can tell "target down" from "my network is bad".
    if (m.wantNack) this.timer(timerKey.nack(seq), 0.8 * this.config.probeTimeoutMs);
    this.timer(timerKey.ind(seq), this.config.probeIntervalMs);
  }

  private onNackTimer(seq: number): void {
    const ind = this.indirect.get(seq);
    if (ind?.wantNack) this.sendWithUpdates(ind.requester, { type: "nack", seq: ind.requestSeq, updates: [] });
  }

  private nextProbeTarget(): Rec | undefined {
    for (let tries = 0; tries < 2; tries++) {
      while (this.probeIndex < this.probeOrder.length) {
        const r = this.members.get(this.probeOrder[this.probeIndex++]!);
        if (r && r !== this.self && (r.state === "alive" || r.state === "suspect")) return r;
      }
      // A new round: every member once, in a fresh random order (SWIM's randomized round-robin).
      this.probeOrder = this.names.filter((n) => n !== this.name);
      for (let i = this.probeOrder.length - 1; i > 0; i--) {
        const j = this.random.int(i + 1);
        [this.probeOrder[i], this.probeOrder[j]] = [this.probeOrder[j]!, this.probeOrder[i]!];
      }
      this.probeIndex = 0;
    }
    return undefined;
  }

  // ---- dissemination ---------------------------------------------------------

  private onGossipTimer(nowMs: number): void {
    if (this.queue.size > 0) {
      const deadWindow = this.config.gossipToTheDeadMs;
      const targets = this.randomMembers(this.config.gossipNodes, (r) =>
        r.state === "alive" || r.state === "suspect" || (r.state === "dead" && nowMs - r.stateChangeMs < deadWindow));
      for (const t of targets) this.sendWithUpdates(t.address, { type: "gossip", updates: [] }, true);
    }
    this.timer("gossip", this.config.gossipIntervalMs);
  }

  /** Sends `m` with as many queued updates piggybacked as fit; a gossip with nothing to carry is not sent. */
  private sendWithUpdates(to: string, m: Exclude<Message, { type: "pushPull" }>, skipIfEmpty = false): void {
    const baseSize = encodeMessage(m).length;
    // Fixed updates (the buddy suspicion) are already inside baseSize; 3 bytes allow for a longer array header.
    const budget = this.maxMessageBytes - baseSize - 3;
    const extra = budget > 0 ? this.queue.take(budget, this.retransmitLimit(), m.updates.length > 0 ? m.updates[0]!.name : undefined) : [];
    if (skipIfEmpty && extra.length === 0 && m.updates.length === 0) return;
    const full = { ...m, updates: [...m.updates, ...extra] } as Message;
    let bytes = encodeMessage(full);
    while (bytes.length > this.maxMessageBytes && (full as { updates: Update[] }).updates.length > 0) {
      (full as { updates: Update[] }).updates.pop();
      bytes = encodeMessage(full);
    }
    this.emitSend(to, bytes, m.type);
  }

  private emitSend(to: string, bytes: Uint8Array, type: MessageType): void {
    this.stats.datagramsSent++;
    this.stats.bytesSent += bytes.length;
    this.stats.sent[type]++;
    this.out.sends.push({ to, bytes, type });
  }

  private retransmitLimit(): number {
    return retransmitLimit(this.config.retransmitMult, this.members.size);
  }

  // ---- push-pull anti-entropy ------------------------------------------------

  /** memberlist's pushPullScale: beyond 32 members the interval grows with log2(n), keeping per-member load flat. */
  private pushPullIntervalMs(): number {
    const n = this.liveCount();
    if (n <= 32) return this.config.pushPullIntervalMs;
    return this.config.pushPullIntervalMs * (Math.ceil(Math.log2(n) - Math.log2(32)) + 1);
  }

  private onPushPullTimer(): void {
    const [peer] = this.randomMembers(1, (r) => r.state === "alive");
    if (peer && !this.leaving) this.sendState(peer.address, this.nextSeq(), false, false);
    this.timer("pushPull", this.pushPullIntervalMs());
  }

  /**
   * Serf's reconnect: every reconnectIntervalMs one member held dead or left
   * (or forgotten since, for up to reconnectTimeoutMs) gets a push-pull. Two sides
   * of a healed partition find each other this way even when no gossip is
   * pending, and a member restarted after everyone else forgot it comes back.
   */
  private onReconnectTimer(nowMs: number): void {
    this.timer("reconnect", this.config.reconnectIntervalMs);
    if (this.leaving) return;
    for (const [name, t] of this.reconnectTargets) if (nowMs - t.sinceMs >= this.config.reconnectTimeoutMs) this.reconnectTargets.delete(name);
    const [peer] = this.randomMembers(1, (r) => (r.state === "dead" || r.state === "left") && nowMs - r.stateChangeMs < this.config.reconnectTimeoutMs);
    let address = peer?.address;
    // Forgotten members get a share of the attempts in proportion to their number.
    const forgotten = this.reconnectTargets.size;
    const counts = this.countByState();
    const held = counts.dead + counts.left;
    if (forgotten > 0 && (!address || this.random.int(held + forgotten) < forgotten)) {
      const i = this.random.int(forgotten);
      let k = 0;
      for (const t of this.reconnectTargets.values()) if (k++ === i) address = t.address;
    }
    if (!address) return;
    this.stats.reconnects++;
    this.sendState(address, this.nextSeq(), false, false);
  }

  /**
   * A ping from an address we hold no member at: its sender knows us and we do
   * not know it (we restarted with an empty table, or the rest of the cluster
   * re-formed without it). A push-pull request with just our own entry makes it
   * answer with its whole state, so both sides learn each other within a probe
   * interval instead of at the next push-pull. Only a sender still unknown a
   * probe interval after its first ping: a member that just joined pings before
   * gossip about it arrives, and answering all of those with full states would
   * flood a mass join. Bounded: once per address per reconnect interval, at most
   * one per probe interval in all, one datagram each (a forged source address
   * gains an attacker nothing it could not ask for).
   */
  private onUnknownSender(nowMs: number, from: string): void {
    if (this.leaving || this.byAddress.has(from) || from === this.address) return;
    const u = this.unknownSenders.get(from);
    if (!u) {
      this.unknownSenders.set(from, { firstMs: nowMs, pushedMs: -Infinity });
      return;
    }
    if (nowMs - u.firstMs < this.config.probeIntervalMs) return;
    if (nowMs - u.pushedMs < Math.max(this.config.reconnectIntervalMs, this.config.probeIntervalMs)) return;
    if (nowMs - this.lastUnknownPushMs < this.config.probeIntervalMs) return;
    u.pushedMs = nowMs;
    this.lastUnknownPushMs = nowMs;
    this.sendState(from, this.nextSeq(), false, false, true);
  }

  /** Sends our state as a push-pull (all of it, or with `selfOnly` just our own entry: a request that costs one datagram). */
  private sendState(to: string, id: number, response: boolean, join: boolean, selfOnly = false): void {
    this.stats.pushPulls++;
    const entries: PushPullEntry[] = [];
    for (const r of selfOnly ? [this.self] : this.members.values()) {
      entries.push({ name: r.name, address: r.address, incarnation: r.incarnation, state: stateCode(r.state), meta: r.meta });
    }
    // Chunks stand alone: each is merged on arrival, so a lost chunk costs only its entries.
    const header = encodeMessage({ type: "pushPull", id, response, join, part: 0xffff, parts: 0xffff, sender: this.name, entries: [] }).length + 5;
    const chunks: PushPullEntry[][] = [];
    let cur: PushPullEntry[] = [];
    let size = header;
    for (const e of entries) {
      const s = entrySize(e);
      if (header + s > this.maxMessageBytes) {
        this.stats.oversizedEntries++; // cannot fit any datagram (tiny cap, large metadata): skipped, never sent oversized
        continue;
      }
      if (cur.length > 0 && size + s > this.maxMessageBytes) {
        chunks.push(cur);
        cur = [];
        size = header;
      }
      cur.push(e);
      size += s;
    }
    if (cur.length > 0) chunks.push(cur);
    chunks.forEach((chunk, part) => {
      const bytes = encodeMessage({ type: "pushPull", id, response, join, part, parts: chunks.length, sender: this.name, entries: chunk });
      this.emitSend(to, bytes, "pushPull");
    });
  }

  private onPushPull(nowMs: number, m: Extract<Message, { type: "pushPull" }>, from: string): void {
    // An unknown sender plants at most the free part of the table (maxMembers, counted in tableFull).
    for (const e of m.entries) this.mergeEntry(nowMs, e, m.sender);
    if (!m.response) {
      const key = `${from}/${m.id}`;
      if (this.recentPushPulls.has(key)) return; // answer a chunked request once
      this.recentPushPulls.set(key, true);
      this.sendState(from, m.id, true, m.join);
      return;
    }
    const req = this.joinRequests.get(m.id);
    const j = req && this.joins.get(req.join);
    if (!req || !j || !j.pending.delete(req.address)) return;
    j.answered++;
    if (!j.untilAll || j.pending.size === 0) this.finishJoin(j);
  }

  private mergeEntry(nowMs: number, e: PushPullEntry, sender: string): void {
    switch (e.state) {
      case StateCode.alive:
        // The sender's table holds our name at another address: the cluster knows another
        // live node by this name, and this one is the duplicate.
        if (e.name === this.name && e.address !== this.address && !this.leaving && this.plausible(this.self, e.incarnation)) {
          this.conflict(nowMs, this.name, e.address, this.address, true);
          return;
        }
        this.onAlive(nowMs, { kind: "alive", name: e.name, address: e.address, incarnation: e.incarnation, meta: e.meta });
        return;
      case StateCode.left:
        this.onDead(nowMs, { kind: "dead", name: e.name, incarnation: e.incarnation, from: e.name });
        return;
      // Another member's "dead" becomes only a suspicion here: our own timer must confirm it (as memberlist does).
      case StateCode.dead:
      case StateCode.suspect:
        this.onSuspect(nowMs, { kind: "suspect", name: e.name, incarnation: e.incarnation, from: sender });
        return;
    }
  }

  private sendJoinAttempt(j: JoinAttempt): void {
    for (const address of j.pending) {
      // A fresh id per attempt: the seed answers each request id once (recentPushPulls).
      const id = this.nextSeq();
      this.joinRequests.set(id, { join: j.id, address });
      this.sendState(address, id, false, true);
    }
    this.timer(timerKey.join(j.id), this.config.joinRetryIntervalMs);
  }

  private onJoinTimer(id: number): void {
    const j = this.joins.get(id);
    if (!j) return;
    if (j.attempt >= this.config.joinMaxAttempts) return this.finishJoin(j);
    j.attempt++;
    this.sendJoinAttempt(j);
  }

  private finishJoin(j: JoinAttempt): void {
    this.joins.delete(j.id);
    this.cancel(timerKey.join(j.id));
    for (const [id, req] of this.joinRequests) if (req.join === j.id) this.joinRequests.delete(id);
    this.out.joins.push({ id: j.id, answered: j.answered, addresses: j.addresses });
  }

  // ---- state changes (memberlist's aliveNode / suspectNode / deadNode) --------

  private applyUpdate(nowMs: number, u: Update): void {
    if (u.kind === "alive") this.onAlive(nowMs, u);
    else if (u.kind === "suspect") this.onSuspect(nowMs, u);
    else this.onDead(nowMs, u);
  }

  private onAlive(nowMs: number, a: Extract<Update, { kind: "alive" }>): void {
    if (a.name === this.name) {
      if (this.leaving || !this.plausible(this.self, a.incarnation)) return;
      if (a.address !== this.address) {
        // Another node claims our name. Gossip cannot tell which of us is the newcomer, so
        // this is a warning (self: false); a push-pull entry, a member's table, decides (mergeEntry).
        // Outbid it, so the members that hold us keep holding us.
        this.conflict(nowMs, this.name, this.address, a.address, false);
        if (a.incarnation >= this.self.incarnation) this.refute(a.incarnation);
        return;
      }
      // An alive about us that is newer than ours, or the same incarnation with other data, is stale or forged
      // (or from our previous life, before a restart): outbid it.
      if (a.incarnation > this.self.incarnation || (a.incarnation === this.self.incarnation && !sameBytes(a.meta, this.self.meta))) {
        this.refute(a.incarnation);
      }
      return;
    }
    const r = this.members.get(a.name);
    if (!r) {
      if (this.members.size >= this.config.maxMembers) {
        this.stats.tableFull++;
        return;
      }
      const rec = newRec(a.name, a.address, a.incarnation, a.meta, nowMs);
      this.addRecord(rec);
      this.reconnectTargets.delete(a.name);
      this.queue.queue(a);
      this.emit("join", rec, undefined);
      this.emit("alive", rec, undefined);
      return;
    }
    if (!this.plausible(r, a.incarnation)) return;
    if (a.address !== r.address && (r.state === "alive" || r.state === "suspect")) {
      // memberlist's conflict: a live member keeps its address; a second node under its name
      // is reported, never allowed to flip the record (which would redirect its traffic).
      // Once the record is dead or left the name is free again (a restart elsewhere).
      this.conflict(nowMs, a.name, r.address, a.address, false);
      return;
    }
    if (a.incarnation <= r.incarnation) return;
    // A newer incarnation from another address: the member restarted elsewhere (a new port) under its name.
    if (a.address !== r.address) this.stats.addressChanges++;
    const prev = r.state;
    const changed = r.address !== a.address || !sameBytes(r.meta, a.meta);
    this.clearSuspicion(r);
    r.incarnation = a.incarnation;
    this.setAddress(r, a.address);
    r.meta = a.meta;
    if (prev !== "alive") this.setState(r, "alive", nowMs);
    this.queue.queue(a);
    if (prev === "dead" || prev === "left") {
      this.emit("join", r, prev);
      this.emit("alive", r, prev);
    } else if (prev === "suspect") {
      this.emit("alive", r, prev);
      if (changed) this.emit("update", r, prev);
    } else if (changed) {
      this.emit("update", r, prev);
    }
  }

  private onSuspect(nowMs: number, s: Extract<Update, { kind: "suspect" }>): void {
    if (s.name === this.name) {
      if (this.leaving || !this.plausible(this.self, s.incarnation)) return;
      if (s.incarnation < this.self.incarnation) {
        // A stale accusation: someone missed our refutation. Send it again, first in line,
        // so the ack to this very (buddy) ping carries it to the accuser.
        this.queue.queue(this.selfAlive());
        return;
      }
      this.stats.suspectedWhileAlive++;
      this.refute(s.incarnation);
      return;
    }
    const r = this.members.get(s.name);
    if (!r || s.incarnation < r.incarnation || !this.plausible(r, s.incarnation)) return;
    if (r.suspicion) {
      // Lifeguard: an independent confirmation (another member's, or our own failed probe of a
      // suspect) shortens the timeout; re-gossip it so others gain it too.
      if (r.suspicion.confirm(s.from)) {
        this.queue.queue(s);
        this.armSuspicion(r, nowMs);
      }
      return;
    }
    if (r.state !== "alive") return;
    const n = this.liveCount();
    const c = this.config;
    let k = c.lifeguard ? c.suspicionMult - 2 : 0;
    if (n - 2 < k) k = Math.max(0, n - 2);
    const minMs = suspicionTimeoutMs(c.suspicionMult, n, c.probeIntervalMs);
    const maxMs = c.lifeguard ? c.suspicionMaxTimeoutMult * minMs : minMs;
    r.incarnation = s.incarnation;
    r.finalChecksSent = 0;
    r.lastCheckMs = -Infinity;
    r.suspicion = new Suspicion(s.incarnation, nowMs, k, minMs, maxMs, s.from);
    this.setState(r, "suspect", nowMs);
    this.queue.queue(s);
    this.armSuspicion(r, nowMs);
    this.emit("suspect", r, "alive");
  }

  /** Half a (health-scaled) probe timeout: the spacing of the last-chance buddy pings. */
  private finalCheckStepMs(): number {
    return this.awareness.scaleTimeout(this.config.probeTimeoutMs) / 2;
  }

  /**
   * Arms a suspicion's timer. With Lifeguard the FINAL_CHECKS last-chance pings fall
   * inside the last FINAL_CHECKS·step of the timeout (not after it, which would
   * make every detection that much slower), at least a step apart, and the death
   * comes at least a step after the last one, so the suspect's ack has time to arrive.
   */
  private armSuspicion(r: Rec, nowMs: number): void {
    const left = r.suspicion!.remainingMs(nowMs);
    if (!this.config.lifeguard) return this.timer(timerKey.suspect(r.name), Math.max(0, left));
    const step = this.finalCheckStepMs();
    const checksLeft = Math.max(0, FINAL_CHECKS - r.finalChecksSent);
    this.timer(timerKey.suspect(r.name), Math.max(0, left - checksLeft * step, r.lastCheckMs + step - nowMs));
  }

  private onSuspicionTimer(nowMs: number, name: string): void {
    const r = this.members.get(name);
    if (!r || r.state !== "suspect" || !r.suspicion) return;
    const left = r.suspicion.remainingMs(nowMs);
    // "Not yet" means at least a millisecond away: with fractional times, now + tiny can round to
    // now, and a timer re-armed for the remainder would fire again at the same instant forever.
    if (!this.config.lifeguard) {
      if (left >= 1) return this.armSuspicion(r, nowMs);
    } else {
      const step = this.finalCheckStepMs();
      const checksLeft = FINAL_CHECKS - r.finalChecksSent;
      if (left - Math.max(0, checksLeft) * step >= 1 || r.lastCheckMs + step - nowMs >= 1) return this.armSuspicion(r, nowMs);
      // Buddy system, last chance: a member that missed the refutation gossip (likely under
      // loss) asks the suspect itself; its ack carries the refutation. Only members still
      // holding the suspicion pay for these pings. A suspect that spoke to us directly since
      // we began to suspect it is up: it gets FINAL_CHECKS more chances before we give up.
      const heard = r.lastHeardMs >= r.suspicion.startMs;
      if (checksLeft > 0 || (heard && r.finalChecksSent < 2 * FINAL_CHECKS)) {
        r.finalChecksSent++;
        r.lastCheckMs = nowMs;
        this.stats.finalChecks++;
        this.sendWithUpdates(r.address, { type: "ping", seq: this.nextSeq(), target: r.name, updates: [{ kind: "suspect", name: r.name, incarnation: r.incarnation, from: this.name }] });
        return this.armSuspicion(r, nowMs);
      }
    }
    this.stats.deathsDeclared++;
    this.declareDead(nowMs, r, { kind: "dead", name, incarnation: r.incarnation, from: this.name });
  }

  private onDead(nowMs: number, d: Extract<Update, { kind: "dead" }>): void {
    if (d.name === this.name) {
      if (this.leaving || !this.plausible(this.self, d.incarnation)) return;
      if (d.incarnation < this.self.incarnation) {
        this.queue.queue(this.selfAlive());
        return;
      }
      this.stats.declaredDeadWhileAlive++;
      this.refute(d.incarnation);
      return;
    }
    const r = this.members.get(d.name);
    if (!r || d.incarnation < r.incarnation || !this.plausible(r, d.incarnation)) return;
    if (r.state === "dead" || r.state === "left") return;
    if (this.config.lifeguard && d.from !== d.name) {
      // Another member's verdict (a leave, from the member itself, is always taken). We take it
      // only for a member we have suspected ourselves for at least half the minimum timeout
      // and not heard from since: a crash always looks like that by the time a death is
      // announced. Otherwise the verdict is stale (e.g. made on the other side of a partition
      // that has healed) and counts as a suspicion or a confirmation, which a live member refutes.
      const s = r.suspicion;
      if (!s || nowMs - s.startMs < s.minMs / 2 || r.lastHeardMs >= s.startMs) {
        this.stats.deathsDowngraded++;
        this.onSuspect(nowMs, { kind: "suspect", name: d.name, incarnation: d.incarnation, from: d.from });
        return;
      }
    }
    this.declareDead(nowMs, r, d);
  }

  private declareDead(nowMs: number, r: Rec, d: Extract<Update, { kind: "dead" }>): void {
    const prev = r.state;
    this.clearSuspicion(r);
    r.incarnation = d.incarnation;
    const next: MemberState = d.from === d.name ? "left" : "dead";
    this.setState(r, next, nowMs);
    this.queue.queue(d);
    this.emit(next, r, prev);
  }

  private refute(accusedIncarnation: number): void {
    this.stats.refutations++;
    // Bounded: accusations above MAX_INCARNATION never decode, and jumps are refused (plausible).
    this.self.incarnation = Math.min(MAX_INCARNATION, Math.max(this.self.incarnation, accusedIncarnation) + 1);
    this.queue.queue(this.selfAlive());
    // Having to refute means others cannot hear us well: likely our own fault, so slow our judgements.
    this.awareness.apply(1);
  }

  /** An incarnation more than MAX_INCARNATION_STEP above the one we hold is refused (counted). */
  private plausible(r: Rec, incarnation: number): boolean {
    if (incarnation - r.incarnation <= MAX_INCARNATION_STEP) return true;
    this.stats.refusedIncarnations++;
    return false;
  }

  /** Reports a name claimed from a second address, at most once per claim per CONFLICT_REPEAT_PROBES probe intervals. */
  private conflict(nowMs: number, name: string, existing: string, other: string, self: boolean): void {
    const key = `${self ? 1 : 0}\u0000${name}\u0000${other}`;
    const last = this.conflictsSeen.get(key);
    if (last !== undefined && nowMs - last < CONFLICT_REPEAT_PROBES * this.config.probeIntervalMs) return;
    this.conflictsSeen.set(key, nowMs);
    this.stats.conflicts++;
    this.out.conflicts.push({ name, existing, other, self });
  }

  private clearSuspicion(r: Rec): void {
    if (r.suspicion) {
      r.suspicion = undefined;
      this.cancel(timerKey.suspect(r.name));
    }
  }

  private onReapTimer(nowMs: number): void {
    for (const r of [...this.members.values()]) {
      if (r !== this.self && (r.state === "dead" || r.state === "left") && nowMs - r.stateChangeMs >= this.config.forgetDeadAfterMs) {
        this.removeRecord(r);
        // Keep trying it (reconnect) until reconnectTimeoutMs after it went away.
        if (nowMs - r.stateChangeMs < this.config.reconnectTimeoutMs && this.config.reconnectIntervalMs > 0) {
          this.reconnectTargets.set(r.name, { address: r.address, sinceMs: r.stateChangeMs });
        }
      }
    }
    this.timer("reap", this.reapIntervalMs());
  }

  private reapIntervalMs(): number {
    return Math.max(100, this.config.forgetDeadAfterMs / 4);
  }

  /**
   * Lifeguard's buddy system on acks too: a member we suspect that pings us is up and
   * may not know it is suspected (the gossip about it was spent while a partition
   * dropped it). The ack tells it, so it refutes now rather than at our next probe of it.
   */
  private buddyFor(address: string): Update[] {
    if (!this.config.lifeguard) return [];
    const name = this.byAddress.get(address);
    const r = name === undefined ? undefined : this.members.get(name);
    return r && r.state === "suspect" ? [{ kind: "suspect", name: r.name, incarnation: r.incarnation, from: this.name }] : [];
  }

  /** Notes direct contact: a datagram from a member's address, or a push-pull it sent. */
  private heardFrom(nowMs: number, from: string, sender: string | undefined): void {
    const byAddr = this.byAddress.get(from);
    if (byAddr !== undefined) this.heard(nowMs, byAddr);
    if (sender !== undefined && sender !== byAddr) this.heard(nowMs, sender);
  }

  private heard(nowMs: number, name: string): void {
    const r = this.members.get(name);
    if (!r || r === this.self) return;
    r.lastHeardMs = nowMs;
    if (this.probe && this.probe.target === name) this.probe.heard = true;
  }

  // ---- helpers -----------------------------------------------------------------

  private selfAlive(): Update {
    return { kind: "alive", name: this.name, address: this.address, incarnation: this.self.incarnation, meta: this.self.meta };
  }

  private setState(r: Rec, s: MemberState, nowMs: number): void {
    r.state = s;
    r.stateChangeMs = nowMs;
  }

  private addRecord(r: Rec): void {
    this.members.set(r.name, r);
    if (r !== this.self) this.byAddress.set(r.address, r.name);
    this.nameIndex.set(r.name, this.names.length);
    this.names.push(r.name);
    // Probe a newcomer within this round, at a random place among those not yet probed.
    // (Append, then swap with a random not-yet-probed slot: O(1), where a splice would make joins O(n²).)
    if (r !== this.self && this.probeOrder.length > 0) {
      const order = this.probeOrder;
      order.push(r.name);
      const at = this.probeIndex + this.random.int(order.length - this.probeIndex);
      [order[at], order[order.length - 1]] = [order[order.length - 1]!, order[at]!];
    }
  }

  /** Changes a member's address, keeping the address → name index (used to recognise direct contact). */
  private setAddress(r: Rec, address: string): void {
    if (r.address === address) return;
    if (this.byAddress.get(r.address) === r.name) this.byAddress.delete(r.address);
    r.address = address;
    this.byAddress.set(address, r.name);
  }

  private removeRecord(r: Rec): void {
    this.members.delete(r.name);
    if (this.byAddress.get(r.address) === r.name) this.byAddress.delete(r.address);
    const i = this.nameIndex.get(r.name)!;
    const last = this.names.pop()!;
    if (last !== r.name) {
      this.names[i] = last;
      this.nameIndex.set(last, i);
    }
    this.nameIndex.delete(r.name);
  }

  /** Up to k distinct random members (never this one) passing `ok`, sampled without scanning the table. */
  private randomMembers(k: number, ok: (r: Rec) => boolean): Rec[] {
    const picked: Rec[] = [];
    const seen = new Set<string>();
    const n = this.names.length;
    if (k <= 0 || n <= 1) return picked;
    const consider = (name: string): void => {
      if (name === this.name || seen.has(name)) return;
      seen.add(name);
      const r = this.members.get(name)!;
      if (ok(r)) picked.push(r);
    };
    for (let tries = 0; tries < 4 * k + 8 && picked.length < k; tries++) consider(this.names[this.random.int(n)]!);
    if (picked.length < k && n <= 64) {
      // Small tables: sampling may miss the few eligible members; finish with a scan from a random start.
      const start = this.random.int(n);
      for (let i = 0; i < n && picked.length < k; i++) consider(this.names[(start + i) % n]!);
    }
    return picked;
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) % 0x7fffffff;
    return this.seq;
  }

  private timer(key: TimerKey, delayMs: number): void {
    this.out.timers.push({ key, delayMs });
  }

  private cancel(...keys: TimerKey[]): void {
    for (const key of keys) this.out.timers.push({ key, delayMs: null });
  }

  private emit(type: MemberEventType, r: Rec, previous: MemberState | undefined): void {
    this.out.events.push({ type, member: view(r), previous });
  }
}

function newRec(name: string, address: string, incarnation: number, meta: Uint8Array | null, nowMs: number): Rec {
  return { name, address, incarnation, state: "alive", meta, stateChangeMs: nowMs, suspicion: undefined, finalChecksSent: 0, lastCheckMs: -Infinity, lastHeardMs: -Infinity, rttMs: undefined };
}

function view(r: Rec): Member {
  return { name: r.name, address: r.address, state: r.state, incarnation: r.incarnation, meta: decodeMeta(r.meta), ...(r.rttMs === undefined ? {} : { rttMs: r.rttMs }) };
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
