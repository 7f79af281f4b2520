// The CASPaxos acceptor for every key on one voter, as a pure state machine:
// it is handed requests and the monotonic time and returns replies and local
// view events; expiry and garbage collection run when the driver calls tick().
// Key state is kept in columns (typed arrays and arrays indexed by a slot per
// key), keys and values packed in byte chunks: a live lease costs ~140 bytes.
// Long because the columnar key store and the CASPaxos rules that use it share
// slot indexes; apart, every rule would go through an accessor per field.
import { KeyIndex } from "./key-index.js";
import { MAX_SLOT_BYTES, SlotBytes } from "./slot-bytes.js";
import { ANY_CONFIG_VERSION, isConfigRegister } from "./reserved.js";
import { LockerError } from "../errors.js";
import { maxPlausibleCounter, type Ballot } from "./ballot.js";
import { CODEC_MAX_KEY_BYTES, CODEC_MAX_VALUE_BYTES, type CasReply, type CasRequest, type WireRecord } from "./messages.js";
import { SlotDeadlineHeap, SlotFifo } from "./lease-table.js";

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

export interface AcceptorResult {
  reply: CasReply;
  events: AcceptorEvent[];
}

// Numeric columns of a slot, interleaved in one Float64Array (stride NUM).
const PROMISED_C = 0;
const ACCEPTED_C = 1;
const ORIGIN_C = 2;
const TOKEN = 3;
const EXPIRES_AT = 4;
const TOUCHED_AT = 5;
const NUM = 6;
const INITIAL_SLOTS = 1024;
// Every key and value the codec admits fits a slot (a key is stored as UTF-16
// at worst: two bytes per UTF-8 byte at most), so storing one never throws.
if (CODEC_MAX_VALUE_BYTES > MAX_SLOT_BYTES || 2 * CODEC_MAX_KEY_BYTES > MAX_SLOT_BYTES) throw new Error("invariant: the codec admits keys or values a slot cannot hold");
/** Distinct node names the name columns can index (Uint16, 0 is "none"); past it the unused ones are dropped. */
const MAX_NAME_INDEX = 0xffff;

/** Orders ballots given as (counter, node); as compareBallots. */
function compareParts(ac: number, an: string, bc: number, bn: string): number {
  if (ac !== bc) return ac < bc ? -1 : 1;
  if (an === bn) return 0;
  return an < bn ? -1 : 1;
}

export class Acceptor {
  /** One past the highest slot in use; a slot indexes every column below. */
  private used = 0;
  /**
   * Keys and the accepted records' values, packed per slot (slot-bytes.ts:
   * no heap string per key or value, for memory per live lease). A slot holds
   * a key while in use; a value only while there is a record (not absent,
   * released or lapsed).
   */
  private readonly keys = new SlotBytes(INITIAL_SLOTS);
  private readonly values = new SlotBytes(INITIAL_SLOTS);
  /** Key → slot over `keys` (key-index.ts: no Map, for memory per live lease). */
  private readonly slotOf: KeyIndex;
  /**
   * Ballot node names as indices into `nameOf` (0: a null ballot): two bytes
   * a column per key where a pointer took eight (memory per live lease).
   */
  private promisedNode = new Uint16Array(INITIAL_SLOTS);
  private acceptedNode = new Uint16Array(INITIAL_SLOTS);
  /** Write id of the accepted state: the ballot of the change that produced it (kept through write-backs and expiry). */
  private originNode = new Uint16Array(INITIAL_SLOTS);
  private num = new Float64Array(INITIAL_SLOTS * NUM);
  /**
   * Bumped on every promise or accept (uint32, wrapping), so stale deadline
   * entries are skipped. A stale entry taken for a current one after a wrap
   * does no harm: tick() acts only on the slot's own expiresAt and touchedAt.
   */
  private genAt = new Uint32Array(INITIAL_SLOTS);
  /** The accepted record's lease ran out (record is null): reported so a proposer writes "absent" back before answering it. */
  private lapsedAt = new Uint8Array(INITIAL_SLOTS);
  private readonly freeSlots: number[] = [];
  /** Node name → its index in the name columns; `nameOf` the other way (index 0 is "none"). */
  private readonly nameIx = new Map<string, number>();
  private nameOf: Array<string | null> = [null];
  /** Lease ends, armed when a record is accepted. */
  private readonly deadlines = new SlotDeadlineHeap();
  /**
   * Garbage-collection deadlines: every promise or accept arms one at
   * now + gcGraceMs, so they come due in the order they were armed and a
   * FIFO holds them (the deadline is derived from the slot's touchedAt).
   * Were `now` ever to go backwards, a key would only be forgotten later, never early.
   */
  private readonly gcQueue = new SlotFifo();
  /** The highest ballot of any key this acceptor forgot: it promises nothing at or below it for a key it has no state for. */
  private forgottenFloor: Ballot | null = null;
  private nextGen = 1;
  /** Deadline entries examined by tick() so far: the expiry work, which tracks what is due, not how many keys live. */
  tickWork = 0;
  /** Prepares and accepts refused because their ballot was implausibly far ahead of this node's wall clock. */
  refusedAhead = 0;

  constructor(readonly config: AcceptorConfig) {
    const self = this;
    this.slotOf = new KeyIndex({
      get slotCount() {
        return self.used;
      },
      keyMatches: (slot, key) => self.keys.equalsString(slot, key),
      keyAt: (slot) => (self.keys.has(slot) ? self.keys.string(slot) : null),
    });
  }

  get floor(): Ballot | null {
    return this.forgottenFloor;
  }

  /** Keys with state (live, dead or only promised). */
  get size(): number {
    return this.slotOf.size;
  }

  /** The accepted state of a key as a promise reply reports it. */
  private stateReport(slot: number, now: number): CasReply {
    const base = slot * NUM;
    const accepted = this.ballotAt(this.num[base + ACCEPTED_C]!, this.nodeAt(this.acceptedNode[slot]!));
    const oNode = this.nodeAt(this.originNode[slot]!);
    const oC = this.num[base + ORIGIN_C]!;
    return {
      type: "promise",
      accepted,
      record: this.wireRecord(slot, now),
      floor: this.forgottenFloor,
      origin: oNode !== null && !(accepted && oC === accepted.c && oNode === accepted.node) ? { c: oC, node: oNode } : null,
      lapsed: this.lapsedAt[slot] === 1 || (this.values.has(slot) && this.num[base + EXPIRES_AT]! <= now),
    };
  }

  isQuiet(now: number): boolean {
    return now < this.config.quietUntil;
  }

  /**
   * `now` is the monotonic time; `wallMs` this node's wall clock, which bounds
   * how far ahead a ballot may be (MAX_BALLOT_AHEAD_MS). Drivers pass their
   * Clock's wallNow(); without it the system clock is used, so the guard is
   * never off (for a virtual clock behind real time, as in the simulator, it
   * then only refuses what is ahead of real time as well).
   */
  handle(msg: CasRequest, now: number, wallMs?: number): AcceptorResult {
    if (msg.type === "probe") {
      return { reply: { type: "pong", cfg: this.config.configVersion, quiet: this.isQuiet(now) }, events: [] };
    }
    if (msg.type !== "peek") {
      // Refused before anything else, so it touches no state: no promise, no
      // key slot, and never the forgotten floor that every new key inherits.
      const limit = maxPlausibleCounter(wallMs ?? Date.now());
      if (msg.ballot.c > limit || (msg.type === "accept" && msg.nextC !== null && msg.nextC > limit)) {
        this.refusedAhead++;
        return this.nack("ballot", null);
      }
    }
    // A peek of a configuration register is answered under any version: it
    // changes nothing, and it is how a node checks that a configuration it
    // was told about was chosen (see src/cluster/configurator.ts, verification).
    const anyVersionPeek = msg.type === "peek" && msg.cfg === ANY_CONFIG_VERSION && isConfigRegister(msg.key);
    if (msg.cfg !== this.config.configVersion && !anyVersionPeek) return this.nack("config", null);
    if (this.isQuiet(now)) return { reply: { type: "nack", reason: "quiet", promised: null, cfg: this.config.configVersion, quietLeftMs: Math.ceil(this.config.quietUntil - now) }, events: [] };
    const events: AcceptorEvent[] = [];
    let slot = this.slotOf.get(msg.key);
    if (slot >= 0) this.expireSlot(slot, now, events);
    if (msg.type === "peek") {
      // A report of the state that changes nothing (no promise, no new key).
      const reply: CasReply =
        slot >= 0 ? this.stateReport(slot, now) : { type: "promise", accepted: null, record: null, floor: this.forgottenFloor, origin: null, lapsed: false };
      return { reply, events };
    }
    if (slot < 0 && this.slotOf.size >= this.config.maxKeys) return { ...this.nack("full", null), events };
    const b = msg.ballot;
    // For a key without state, the forgotten floor acts as the promise.
    const pNode = slot >= 0 ? this.nodeAt(this.promisedNode[slot]!) : (this.forgottenFloor?.node ?? null);
    const pC = slot >= 0 ? this.num[slot * NUM + PROMISED_C]! : (this.forgottenFloor?.c ?? 0);
    const vsPromised = pNode === null ? 1 : compareParts(b.c, b.node, pC, pNode);

    if (msg.type === "prepare") {
      // Equal is allowed: a retransmitted prepare of the same proposer.
      const ok = slot >= 0 ? vsPromised >= 0 : vsPromised > 0;
      if (!ok) return { ...this.nack("promised", this.promisedBallot(slot)), events };
      // Named before anything changes: at its bound, nameAll throws and nothing has.
      const floorNode = slot < 0 ? (this.forgottenFloor?.node ?? null) : null;
      this.nameAll(b.node, floorNode, null);
      const node = this.nameIx.get(b.node)!;
      const floorIx = floorNode === null ? 0 : this.nameIx.get(floorNode)!;
      if (slot < 0) slot = this.create(msg.key, floorIx);
      this.promisedNode[slot] = node;
      this.num[slot * NUM + PROMISED_C] = b.c;
      this.touch(slot, now);
      return { reply: this.stateReport(slot, now), events };
    }

    // accept
    if (slot >= 0 && this.nodeAt(this.acceptedNode[slot]!) === b.node && this.num[slot * NUM + ACCEPTED_C] === b.c) {
      // A retransmission of an accept already taken: one ballot carries one value, so it is the same.
      const nextPromised = msg.nextC !== null && this.nodeAt(this.promisedNode[slot]!) === b.node && this.num[slot * NUM + PROMISED_C] === msg.nextC;
      return { reply: { type: "accepted", nextPromised }, events };
    }
    const ok = slot >= 0 ? vsPromised >= 0 : vsPromised > 0;
    if (!ok) return { ...this.nack("promised", this.promisedBallot(slot)), events };
    // Named before anything changes: at its bound, nameAll throws and nothing has.
    const floorNode = slot < 0 ? (this.forgottenFloor?.node ?? null) : null;
    this.nameAll(b.node, msg.origin?.node ?? null, floorNode);
    const node = this.nameIx.get(b.node)!;
    const originNode = msg.origin ? this.nameIx.get(msg.origin.node)! : node;
    const floorIx = floorNode === null ? 0 : this.nameIx.get(floorNode)!;
    if (slot < 0) slot = this.create(msg.key, floorIx);
    const before = this.liveRecord(slot, now);
    const base = slot * NUM;
    // The value first: the one step that could throw (a value past MAX_SLOT_BYTES,
    // which the codec's bound rules out) must do so before the ballot changes.
    if (msg.record) this.values.setBytes(slot, msg.record.value);
    else this.values.clear(slot);
    this.acceptedNode[slot] = node;
    this.num[base + ACCEPTED_C] = b.c;
    let after: LocalRecord | null = null;
    if (msg.record) {
      after = { value: msg.record.value, token: msg.record.token, expiresAt: now + msg.record.leaseMs };
      this.num[base + TOKEN] = after.token;
      this.num[base + EXPIRES_AT] = after.expiresAt;
    }
    this.originNode[slot] = originNode;
    this.num[base + ORIGIN_C] = msg.origin ? msg.origin.c : b.c;
    this.lapsedAt[slot] = 0;
    // Accepting b also promises the proposer's next ballot (a prepare piggybacked
    // on this accept): the proposer may then skip prepare for its next change.
    this.promisedNode[slot] = node;
    this.num[base + PROMISED_C] = msg.nextC !== null && msg.nextC > b.c ? msg.nextC : b.c;
    this.touch(slot, now);
    events.push({ kind: "changed", key: msg.key, before, after });
    return { reply: { type: "accepted", nextPromised: msg.nextC !== null }, events };
  }

  /**
   * Voter recovery (recovery.ts): promises `floor` on every key at once — the
   * promise of every key with state is raised to it, and keys without state
   * inherit it as their floor — so no round below it can be accepted here any
   * more. Refused (false, nothing changed) when the floor is implausibly far
   * ahead of `wallMs`, like a prepare. O(keys): it runs once per restart of
   * another voter.
   */
  fence(floor: Ballot, wallMs: number): boolean {
    if (floor.c > maxPlausibleCounter(wallMs)) {
      this.refusedAhead++;
      return false;
    }
    this.nameAll(floor.node, this.forgottenFloor?.node ?? null, null); // at its bound this throws before anything changes
    this.raiseFloor(floor.c, floor.node);
    const f = this.forgottenFloor!;
    const node = this.nameIx.get(f.node)!;
    for (let slot = 0; slot < this.used; slot++) {
      if (!this.keys.has(slot)) continue;
      const base = slot * NUM;
      const pNode = this.nodeAt(this.promisedNode[slot]!);
      if (pNode === null || compareParts(this.num[base + PROMISED_C]!, pNode, f.c, f.node) < 0) {
        this.promisedNode[slot] = node;
        this.num[base + PROMISED_C] = f.c;
      }
    }
    return true;
  }

  /**
   * Starts the floor of a restarted voter at the floor it persisted
   * (floor-store.ts): trusted local state, so no plausibility bound.
   */
  restoreFloor(floor: Ballot): void {
    this.raiseFloor(floor.c, floor.node);
  }

  /** The highest ballot counter this acceptor holds (promised, accepted or as its floor). O(keys). */
  highestCounter(): number {
    let max = this.forgottenFloor?.c ?? 0;
    for (let slot = 0; slot < this.used; slot++) {
      if (!this.keys.has(slot)) continue;
      const base = slot * NUM;
      if (this.num[base + PROMISED_C]! > max) max = this.num[base + PROMISED_C]!;
      if (this.num[base + ACCEPTED_C]! > max) max = this.num[base + ACCEPTED_C]!;
    }
    return max;
  }

  /** Voter recovery: this acceptor holds what it must (recovery.ts) and votes from now on. */
  endQuiet(now: number): void {
    if (this.config.quietUntil > now) this.config.quietUntil = now;
  }

  /** Expires leases and forgets dead keys that are due; cost is proportional to what is due. */
  tick(now: number): AcceptorEvent[] {
    const events: AcceptorEvent[] = [];
    const grace = this.config.gcGraceMs;
    const heap = this.deadlines;
    while (heap.popDue(now)) {
      this.tickWork++;
      const slot = heap.poppedSlot;
      if (!this.keys.has(slot) || this.genAt[slot] !== heap.poppedGen) continue;
      this.expireSlot(slot, now, events);
      // A lease longer than the grace (or a late tick): its GC entry passed while it was live.
      if (!this.values.has(slot) && this.num[slot * NUM + TOUCHED_AT]! + grace <= now) this.forget(slot);
    }
    const q = this.gcQueue;
    while (q.size > 0) {
      this.tickWork += this.dropStaleGcHeads();
      if (q.size === 0) break;
      const slot = q.headSlot();
      if (this.num[slot * NUM + TOUCHED_AT]! + grace > now) break;
      q.shift();
      this.tickWork++;
      this.expireSlot(slot, now, events);
      // Still live: its lease-end entry in the heap forgets it when it lapses.
      if (!this.values.has(slot)) this.forget(slot);
    }
    // Lazy deletion leaves stale entries behind (a key promised or accepted
    // again); drop them when they outnumber the keys, so memory tracks keys.
    const keep = (slot: number, gen: number): number => (this.keys.has(slot) && this.genAt[slot] === gen ? slot : -1);
    if (heap.size > 2 * this.slotOf.size + 1024) heap.compact(keep);
    if (q.size > 2 * this.slotOf.size + 1024) q.compact(keep);
    // After a mass expiry most slots are free: renumber the rest, so the columns shrink back.
    if (this.used > 4 * INITIAL_SLOTS && this.slotOf.size < this.used >> 2) this.compactSlots();
    return events;
  }

  /** When tick() next has work, if ever. */
  nextDeadline(): number | undefined {
    let at = this.deadlines.peekAt();
    const q = this.gcQueue;
    // Stale heads are dropped here so the head's deadline is a real one.
    this.dropStaleGcHeads();
    if (q.size > 0) {
      const gcAt = this.num[q.headSlot() * NUM + TOUCHED_AT]! + this.config.gcGraceMs;
      at = at === undefined ? gcAt : Math.min(at, gcAt);
    }
    return at;
  }

  /** Drops GC queue heads whose key was forgotten or reused since they were queued (lazy deletion); returns how many. */
  private dropStaleGcHeads(): number {
    const q = this.gcQueue;
    let dropped = 0;
    while (q.size > 0) {
      const slot = q.headSlot();
      if (this.keys.has(slot) && this.genAt[slot] === q.headGen()) break;
      q.shift();
      dropped++;
    }
    return dropped;
  }

  /** The live local record of a key (the dirty-read view). */
  get(key: string, now: number): LocalRecord | undefined {
    const slot = this.slotOf.get(key);
    return slot < 0 ? undefined : (this.liveRecord(slot, now) ?? undefined);
  }

  /** Live local entries whose key starts with `prefix`. O(keys): for inspection, not hot paths. */
  entries(prefix: string, now: number, limit: number): Array<[string, LocalRecord]> {
    const out: Array<[string, LocalRecord]> = [];
    for (let slot = 0; slot < this.used; slot++) {
      if (out.length >= limit) break;
      if (!this.keys.has(slot) || !this.isLive(slot, now)) continue;
      const k = this.keys.string(slot);
      if (!k.startsWith(prefix)) continue;
      out.push([k, this.liveRecord(slot, now)!]);
    }
    return out;
  }

  /** Count of live records (O(keys)). */
  liveCount(now: number): number {
    let n = 0;
    for (let slot = 0; slot < this.used; slot++) if (this.keys.has(slot) && this.isLive(slot, now)) n++;
    return n;
  }

  /**
   * Every key this acceptor holds state for (live, dead not yet forgotten, or
   * only promised). Added for reconfiguration (src/cluster/configurator.ts): a
   * reconfiguration rewrites each of them under the new configuration.
   */
  keyNames(): IterableIterator<string> {
    return this.keysInUse();
  }

  private *keysInUse(): IterableIterator<string> {
    for (let slot = 0; slot < this.used; slot++) if (this.keys.has(slot)) yield this.keys.string(slot);
  }

  /** For tests and invariants: the raw state of a key. */
  inspect(key: string): { promised: Ballot | null; accepted: Ballot | null; record: LocalRecord | null; origin: Ballot | null } | undefined {
    const slot = this.slotOf.get(key);
    if (slot < 0) return undefined;
    const base = slot * NUM;
    return {
      promised: this.promisedBallot(slot),
      accepted: this.ballotAt(this.num[base + ACCEPTED_C]!, this.nodeAt(this.acceptedNode[slot]!)),
      record: this.values.has(slot) ? { value: this.values.bytes(slot), token: this.num[base + TOKEN]!, expiresAt: this.num[base + EXPIRES_AT]! } : null,
      origin: this.ballotAt(this.num[base + ORIGIN_C]!, this.nodeAt(this.originNode[slot]!)),
    };
  }

  /** A new key's slot, promised to the forgotten floor (`floorIx`: its node's name index, named by the caller with its other names). */
  private create(key: string, floorIx: number): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.used;
      if (slot === this.genAt.length) this.grow(2 * slot);
      this.used++;
    }
    this.keys.setString(slot, key);
    this.values.clear(slot);
    this.slotOf.add(key, slot);
    const floor = this.forgottenFloor;
    this.promisedNode[slot] = floor ? floorIx : 0;
    this.acceptedNode[slot] = 0;
    this.originNode[slot] = 0;
    this.num[slot * NUM + PROMISED_C] = floor ? floor.c : 0;
    this.lapsedAt[slot] = 0;
    return slot;
  }

  /** Forgets a dead key; the floor keeps the highest ballot it had. */
  private forget(slot: number): void {
    const base = slot * NUM;
    this.raiseFloor(this.num[base + PROMISED_C]!, this.nodeAt(this.promisedNode[slot]!));
    this.raiseFloor(this.num[base + ACCEPTED_C]!, this.nodeAt(this.acceptedNode[slot]!));
    this.slotOf.delete(this.keys.string(slot));
    this.keys.free(slot);
    this.values.free(slot);
    this.promisedNode[slot] = 0;
    this.acceptedNode[slot] = 0;
    this.originNode[slot] = 0;
    this.freeSlots.push(slot);
  }

  private raiseFloor(c: number, node: string | null): void {
    const floor = this.forgottenFloor;
    if (node !== null && (!floor || compareParts(c, node, floor.c, floor.node) > 0)) this.forgottenFloor = { c, node };
  }

  /** Resizes the typed columns to `slots` (at least the slots in use). */
  private grow(slots: number): void {
    const used = this.used;
    this.keys.resizeSlots(slots);
    this.values.resizeSlots(slots);
    const num = new Float64Array(slots * NUM);
    num.set(this.num.subarray(0, used * NUM));
    this.num = num;
    const gen = new Uint32Array(slots);
    gen.set(this.genAt.subarray(0, used));
    this.genAt = gen;
    const lapsed = new Uint8Array(slots);
    lapsed.set(this.lapsedAt.subarray(0, used));
    this.lapsedAt = lapsed;
    const names = (column: Uint16Array): Uint16Array<ArrayBuffer> => {
      const grown = new Uint16Array(slots);
      grown.set(column.subarray(0, used));
      return grown;
    };
    this.promisedNode = names(this.promisedNode);
    this.acceptedNode = names(this.acceptedNode);
    this.originNode = names(this.originNode);
  }

  /** Moves the used slots to the front (keeping their order), remaps the deadline entries and shrinks the columns. O(slots). */
  private compactSlots(): void {
    const used = this.used;
    const newSlot = new Int32Array(used).fill(-1);
    let k = 0;
    for (let s = 0; s < used; s++) {
      if (!this.keys.has(s)) continue;
      newSlot[s] = k;
      if (k !== s) {
        this.keys.move(s, k);
        this.values.move(s, k);
        this.promisedNode[k] = this.promisedNode[s]!;
        this.acceptedNode[k] = this.acceptedNode[s]!;
        this.originNode[k] = this.originNode[s]!;
        this.num.copyWithin(k * NUM, s * NUM, (s + 1) * NUM);
        this.genAt[k] = this.genAt[s]!;
        this.lapsedAt[k] = this.lapsedAt[s]!;
      }
      k++;
    }
    this.used = k;
    // The bytes of the forgotten keys and values go too.
    this.keys.compactIfMostlyGarbage();
    this.values.compactIfMostlyGarbage();
    this.freeSlots.length = 0;
    let capacity = INITIAL_SLOTS;
    while (capacity < 2 * k) capacity *= 2;
    this.grow(capacity);
    this.slotOf.reindex();
    const remap = (slot: number, gen: number): number => {
      const to = newSlot[slot]!;
      return to >= 0 && this.genAt[to] === gen ? to : -1;
    };
    this.deadlines.compact(remap);
    this.gcQueue.compact(remap);
  }

  private touch(slot: number, now: number): void {
    this.num[slot * NUM + TOUCHED_AT] = now;
    const gen = this.nextGen;
    this.nextGen = (gen + 1) >>> 0;
    this.genAt[slot] = gen;
    if (this.values.has(slot)) this.deadlines.push(this.num[slot * NUM + EXPIRES_AT]!, slot, gen);
    this.gcQueue.push(slot, gen);
  }

  /** Turns a lapsed record into "absent" (emitting `expired`); its GC stays armed by the key's last touch. */
  private expireSlot(slot: number, now: number, events: AcceptorEvent[]): void {
    if (!this.values.has(slot)) return;
    const base = slot * NUM;
    const expiresAt = this.num[base + EXPIRES_AT]!;
    if (expiresAt > now) return;
    const value = this.values.bytes(slot);
    this.values.clear(slot);
    this.lapsedAt[slot] = 1;
    events.push({ kind: "expired", key: this.keys.string(slot), record: { value, token: this.num[base + TOKEN]!, expiresAt } });
  }

  private isLive(slot: number, now: number): boolean {
    return this.values.has(slot) && this.num[slot * NUM + EXPIRES_AT]! > now;
  }

  private liveRecord(slot: number, now: number): LocalRecord | null {
    if (!this.isLive(slot, now)) return null;
    const base = slot * NUM;
    return { value: this.values.bytes(slot), token: this.num[base + TOKEN]!, expiresAt: this.num[base + EXPIRES_AT]! };
  }

  private wireRecord(slot: number, now: number): WireRecord | null {
    if (!this.isLive(slot, now)) return null;
    const base = slot * NUM;
    return { value: this.values.bytes(slot), leaseMs: this.num[base + EXPIRES_AT]! - now, token: this.num[base + TOKEN]! };
  }

  private ballotAt(c: number, node: string | null): Ballot | null {
    return node === null ? null : { c, node };
  }

  /** The promise a key is held to: its own, or the forgotten floor for a key without state. */
  private promisedBallot(slot: number): Ballot | null {
    return slot < 0 ? this.forgottenFloor : this.ballotAt(this.num[slot * NUM + PROMISED_C]!, this.nodeAt(this.promisedNode[slot]!));
  }

  private nodeAt(ix: number): string | null {
    return this.nameOf[ix] ?? null;
  }

  /**
   * Gives each of up to three names (null: none) an index in the name columns,
   * adding the new ones. When they do not fit, the names no key uses are
   * dropped and the rest renumbered first (compactNames): so indices are read
   * (nameIx) only after this, and all names one change needs are named in one
   * call — naming them one at a time, a later one could renumber an earlier
   * one, or drop it again while it is still unused. Throws at the bound with
   * nothing changed.
   */
  private nameAll(a: string, b: string | null, c: string | null): void {
    if (this.unnamed(a, b, c) === 0) return;
    if (this.nameOf.length - 1 + this.unnamed(a, b, c) > MAX_NAME_INDEX) this.compactNames();
    if (this.nameOf.length - 1 + this.unnamed(a, b, c) > MAX_NAME_INDEX) {
      throw new LockerError("unavailable", `this acceptor holds ballots of ${MAX_NAME_INDEX} distinct node names, its bound`);
    }
    for (const name of [a, b, c]) {
      if (name === null || this.nameIx.has(name)) continue;
      this.nameIx.set(name, this.nameOf.length);
      this.nameOf.push(name);
    }
  }

  /** How many distinct names among a, b, c have no index yet. */
  private unnamed(a: string, b: string | null, c: string | null): number {
    let n = this.nameIx.has(a) ? 0 : 1;
    if (b !== null && b !== a && !this.nameIx.has(b)) n++;
    if (c !== null && c !== a && c !== b && !this.nameIx.has(c)) n++;
    return n;
  }

  /** Drops the names no key refers to any more and renumbers the rest. O(slots); runs when the table is full. */
  private compactNames(): void {
    const used = this.used;
    const columns = [this.promisedNode, this.acceptedNode, this.originNode];
    const renumber = new Uint16Array(this.nameOf.length);
    const kept: Array<string | null> = [null];
    for (const column of columns) {
      for (let s = 0; s < used; s++) {
        const ix = column[s]!;
        if (ix !== 0 && renumber[ix] === 0) {
          renumber[ix] = kept.length;
          kept.push(this.nameOf[ix]!);
        }
      }
    }
    for (const column of columns) for (let s = 0; s < used; s++) column[s] = renumber[column[s]!]!;
    this.nameOf = kept;
    this.nameIx.clear();
    for (let i = 1; i < kept.length; i++) this.nameIx.set(kept[i]!, i);
  }

  private nack(reason: "promised" | "quiet" | "config" | "full" | "ballot", promised: Ballot | null): AcceptorResult {
    return { reply: { type: "nack", reason, promised, cfg: this.config.configVersion }, events: [] };
  }
}
