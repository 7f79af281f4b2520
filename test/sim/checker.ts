// A checker for recorded locker client histories: per-key linearizability as a
// compare-and-set register with leases, exclusive holder windows, and fencing order.
//
// Time is virtual milliseconds, shared by every node in the simulator, so a
// node's monotonic `safeUntil` and the history's invoke/response times are on
// one axis.
//
// ## How leases are modelled
//
// A key's lease does not end at one known instant. Each voter expires its copy
// on its own clock, `lease` after it *processed* the accept, and the moment a
// voter processes an accept is only bounded, not known: it is no earlier than
// the round's start (≥ the operation's invocation) and, because datagrams are
// delayed, duplicated and held by paused receivers, it can be later than the
// client's response. So the model keeps, for a present key, an interval
// [expLo, expHi]:
//
// - expLo: the earliest instant anyone may see the key as absent. For a
//   successful `lock`/`extendLease` it is the caller-safe deadline the
//   implementation returned (`safeUntil`): that is its promise, and a
//   linearization that lets another client see the key free earlier is a
//   violation. For an operation whose outcome is unknown (timeout, crash), the
//   round started no earlier than the invocation, so an honest deadline would
//   be at least `invoke + lease × (1 − driftFactor)`.
// - expHi: the latest instant any voter could still report the key alive:
//   the last time the operation could have had an accept applied (its response
//   or give-up time, or the end of its time budget if later — a coordinator
//   resends to voters that have not answered until then — plus `grantSlackMs`:
//   the longest a datagram can be delayed or held by a paused node) plus the
//   lease. Operations that rewrite a
//   present key without starting a new lease (update, and the write-back that
//   any operation may do before answering) carry the *remaining* lease forward,
//   measured when a voter replied to them and re-applied when the accept lands;
//   that can push the expiry later by at most the rewrite's own span
//   (give-up − invoke + grantSlackMs), so expHi grows by that much. Operations
//   the search leaves out (a `no_quorum` that wrote back before failing, a read
//   of unknown outcome) may have done the same: expHi also grows by the spans
//   of those invoked while the lease may still live.
//
// An operation linearized at time t sees the key present if t < expLo, absent
// if t ≥ expHi, and either in between. The search branches on both. Seeing it
// absent once is final (the state becomes absent), so a key that some client
// observed as gone cannot come back: a resurrection is a violation. Since the
// state depends on time, linearization points are chosen explicitly: each
// operation gets a t in [invoke, response], non-decreasing along the order,
// and the smallest feasible t is always taken (nothing in the model gets
// easier by waiting, except expiry, which is its own branch).
//
// Operations with an unknown outcome may take effect at any point after their
// invocation, or never: they are optional in the search. One that would only
// take effect after its own expHi is skipped as a no-op.
//
// The search is Wing & Gong's, as Porcupine runs it: depth-first over which
// pending operation comes next (only those invoked before the earliest pending
// response are candidates), memoizing (set of placed operations, model state,
// last point) so no configuration is explored twice, and bounded by
// `maxSearchSteps`; running out of budget is reported as "inconclusive",
// which fails a run like any violation. Keys are independent registers and
// are checked one at a time. A failure is explained from the longest
// consistent prefix the search found, with the reason each candidate could
// not come next.
//
// ## Other checks
//
// (b) Holder windows: a successful lock makes its client a holder on
// [response, safeUntil); a successful extendLease adds [response, safeUntil);
// any extendLease by the holder (even of unknown outcome) may shorten the
// lease, so it caps earlier windows at `invoke + lease × (1 − driftFactor)`;
// any release with the holder's value ends its windows at the release's
// invocation (a window a concurrent extend opens after that point is void: the
// release may be placed right after the extend).
// The holder follows its value through updates. Windows of different locks on
// one key must not overlap.
// (c) Fencing: if lock A responded before lock B was invoked (both
// successful), A's token is smaller; no two successful locks share a token.
// The linearizability search also requires tokens to increase along its order.
// (d) No phantom values: a value seen by dirtyRead or waitFor was written by
// some lock or update on that key invoked before it was seen.
import type { LockerErrorCode } from "../../src/errors.js";

export type OpName = "lock" | "update" | "extendLease" | "release" | "read" | "dirtyRead" | "waitFor" | "waitForRelease";

export type Outcome =
  /** Succeeded. `value` is what a read/dirtyRead/waitFor returned (null: absent). */
  | { kind: "ok"; token?: bigint; safeUntilMs?: number; value?: string | null }
  /** A definite failure of the check: nothing changed. */
  | { kind: "fail"; code: "locked" | "mismatch" | "not_found" }
  /** May or may not have taken effect (timeout, unavailable, the coordinator crashed, the client gave up). */
  | { kind: "unknown"; code: string }
  /**
   * Certainly had no effect on the key's value (invalid argument, or a code the
   * implementation documents as "nothing took effect": no_quorum, contention).
   * Left out of the search; a write-back it may have done before failing is
   * still allowed for in expHi.
   */
  | { kind: "void"; code: string };

export interface HistoryOp {
  id: number;
  client: string;
  key: string;
  op: OpName;
  /** lock/extendLease/release: the holder's value; update: the expected value. */
  value?: string;
  /** update: the new value. */
  newValue?: string;
  /** lock/extendLease: the requested lease. */
  leaseMs?: number;
  invokeMs: number;
  /** When the outcome reached the client; for an unknown outcome, when the client gave up. */
  responseMs: number;
  /**
   * The end of the operation's time budget: its coordinator may keep resending
   * (to voters that have not answered) until then, even after it answered.
   */
  deadlineMs?: number;
  outcome: Outcome;
}

export interface CheckOptions {
  /**
   * The longest an accept can still be applied by a voter after the client
   * saw the operation's outcome or gave up on it (max network delay including
   * reordering, plus the longest pause of a voter, plus how long the
   * coordinator may keep resending after the caller returned).
   */
  grantSlackMs: number;
  /** The implementation's lease safety margin: safeUntil = start + lease × (1 − driftFactor). */
  driftFactor?: number;
  /** Bound on search nodes per key; past it the verdict is inconclusive (never a pass). */
  maxSearchSteps?: number;
}

export type ViolationKind = "linearizability" | "double-holder" | "fencing" | "phantom" | "malformed" | "inconclusive";

export interface Violation {
  kind: ViolationKind;
  key: string;
  message: string;
  ops: number[];
}

export interface Verdict {
  ok: boolean;
  violations: Violation[];
  /** Human-readable: one paragraph per violation, or a summary when ok. */
  explanation: string;
  stats: { keys: number; ops: number; searchSteps: number };
}

const DEFAULT_MAX_SEARCH_STEPS = 2_000_000;

// ---------------------------------------------------------------- recording

/** Records a history as the simulator's clients run. Ids are assigned in invocation order. */
export class HistoryRecorder {
  readonly ops: HistoryOp[] = [];
  private readonly open = new Map<number, HistoryOp>();

  invoke(now: number, client: string, key: string, op: OpName, args: { value?: string; newValue?: string; leaseMs?: number; timeoutMs?: number } = {}): number {
    const id = this.ops.length;
    const rec: HistoryOp = { id, client, key, op, invokeMs: now, responseMs: Number.POSITIVE_INFINITY, outcome: { kind: "unknown", code: "pending" } };
    if (args.timeoutMs !== undefined) rec.deadlineMs = now + args.timeoutMs;
    if (args.value !== undefined) rec.value = args.value;
    if (args.newValue !== undefined) rec.newValue = args.newValue;
    if (args.leaseMs !== undefined) rec.leaseMs = args.leaseMs;
    this.ops.push(rec);
    this.open.set(id, rec);
    return id;
  }

  complete(id: number, now: number, outcome: Outcome): void {
    const rec = this.open.get(id);
    if (!rec) throw new Error(`history: operation ${id} is not open`);
    this.open.delete(id);
    rec.responseMs = now;
    rec.outcome = outcome;
  }

  get openCount(): number {
    return this.open.size;
  }
}

// ---------------------------------------------------------------- formatting

export function formatOp(op: HistoryOp): string {
  const args: string[] = [];
  if (op.op === "update") args.push(q(op.value), q(op.newValue));
  else if (op.value !== undefined) args.push(q(op.value));
  if (op.leaseMs !== undefined) args.push(`lease ${op.leaseMs}`);
  const o = op.outcome;
  let out: string;
  if (o.kind === "ok") {
    const parts: string[] = [];
    if ("value" in o && o.value !== undefined) parts.push(o.value === null ? "absent" : q(o.value));
    if (o.token !== undefined) parts.push(`token ${o.token}`);
    if (o.safeUntilMs !== undefined) parts.push(`safeUntil ${fmt(o.safeUntilMs)}`);
    out = `ok${parts.length ? ` (${parts.join(", ")})` : ""}`;
  } else out = `${o.kind === "fail" ? "" : `${o.kind} `}${o.code}`;
  return `#${op.id} ${op.client} ${op.op}(${[q(op.key), ...args].join(", ")}) [${fmt(op.invokeMs)}, ${fmt(op.responseMs)}] → ${out}`;
}

function q(s: string | undefined): string {
  return s === undefined ? "?" : JSON.stringify(s);
}

function fmt(ms: number): string {
  if (!Number.isFinite(ms)) return "∞";
  return Number.isInteger(ms) ? String(ms) : ms.toFixed(3);
}

// ---------------------------------------------------------------- the model

interface ModelState {
  present: boolean;
  value: string;
  token: bigint | undefined;
  expLo: number;
  expHi: number;
  /** Largest fencing token granted so far along this linearization. */
  lastToken: bigint | undefined;
}

const absent = (lastToken: bigint | undefined): ModelState => ({ present: false, value: "", token: undefined, expLo: 0, expHi: 0, lastToken });

function stateKey(s: ModelState, t: number): string {
  return s.present ? `P${s.value}\u0000${s.token}\u0000${s.expLo}\u0000${s.expHi}\u0000${s.lastToken}\u0000${t}` : `A${s.lastToken}\u0000${t}`;
}

interface Branch {
  next: ModelState;
  t: number;
}

interface Prepared {
  op: HistoryOp;
  index: number;
  definite: boolean;
  /** Upper bound for the linearization point (∞ for an unknown outcome). */
  respMs: number;
  /** The last time this operation could be sending accepts, plus the slack. */
  lastGrantMs: number;
}

/**
 * Operations outside the search that may still have rewritten the key with its
 * remaining lease (a write-back before a `no_quorum`, a read whose outcome is
 * unknown): each may push a live key's expiry later by its own span. Sorted by
 * invocation, with prefix sums of spans, to bound their total over a window.
 */
class WriteBackAllowance {
  private readonly invokes: number[];
  private readonly prefix: number[];
  constructor(ops: readonly { invokeMs: number; spanMs: number }[]) {
    const sorted = [...ops].sort((a, b) => a.invokeMs - b.invokeMs);
    this.invokes = sorted.map((o) => o.invokeMs);
    this.prefix = [0];
    for (const o of sorted) this.prefix.push(this.prefix[this.prefix.length - 1]! + o.spanMs);
  }
  private rank(t: number): number {
    let lo = 0;
    let hi = this.invokes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.invokes[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** A lease that may live until `hi`, counted from `from`: grow it by the spans of write-backs invoked meanwhile. */
  grow(from: number, hi: number): number {
    if (this.invokes.length === 0) return hi;
    let counted = from;
    let total = hi;
    // Each pass takes in at least one more operation or stops, so this ends (and is exact) within n + 1 passes.
    for (let i = 0; i <= this.invokes.length && counted < total; i++) {
      const add = this.prefix[this.rank(total)]! - this.prefix[this.rank(counted)]!;
      counted = total;
      total += add;
    }
    return total;
  }
}

class Model {
  constructor(
    private readonly driftFactor: number,
    private readonly outside: WriteBackAllowance,
  ) {}

  /** Earliest honest caller-safe deadline for a lease of `leaseMs` requested at `invokeMs`. */
  minSafeUntil(invokeMs: number, leaseMs: number): number {
    return invokeMs + leaseMs * (1 - this.driftFactor);
  }

  /**
   * The ways `p` can be linearized next from state `s` with the previous point at `T`,
   * its point being at most `limit`. Returns the branches, or why there is none.
   */
  step(s: ModelState, T: number, p: Prepared, limit: number): Branch[] | string {
    const op = p.op;
    const tMin = Math.max(T, op.invokeMs);
    if (tMin > limit) return `it cannot be placed at or after ${fmt(tMin)} and by ${fmt(limit)}`;
    const views: { present: boolean; t: number; s: ModelState }[] = [];
    if (!s.present) views.push({ present: false, t: tMin, s });
    else {
      if (tMin < s.expHi) views.push({ present: true, t: tMin, s });
      const tExp = Math.max(tMin, s.expLo);
      if (tExp <= limit) views.push({ present: false, t: tExp, s: absent(s.lastToken) });
    }
    const out: Branch[] = [];
    const reasons: string[] = [];
    for (const v of views) {
      const r = this.apply(v.s, v.present, v.t, p);
      if (typeof r === "string") reasons.push(r);
      else out.push({ next: r, t: v.t });
    }
    if (out.length > 0) return out;
    if (views.length === 0) return "the key's lease cannot have expired by then, and it cannot be placed earlier";
    return reasons.join("; or ");
  }

  private carry(s: ModelState, p: Prepared): ModelState {
    // A rewrite that carries the remaining lease forward may postpone expiry by its own span.
    const hi = s.expHi + Math.max(0, p.lastGrantMs - p.op.invokeMs);
    return { ...s, expHi: this.outside.grow(s.expHi, hi) };
  }

  private describe(s: ModelState, present: boolean, t: number): string {
    if (!present) return `the key is absent at ${fmt(t)}`;
    return `the key holds ${q(s.value)}${s.token !== undefined ? ` (token ${s.token})` : ""} at ${fmt(t)}, alive until at least ${fmt(s.expLo)}`;
  }

  private apply(s: ModelState, present: boolean, t: number, p: Prepared): ModelState | string {
    const op = p.op;
    const o = op.outcome;
    const effect = o.kind === "ok" || o.kind === "unknown";
    const here = this.describe(s, present, t);
    switch (op.op) {
      case "lock": {
        if (effect) {
          if (present) return `lock cannot succeed: ${here}`;
          const token = o.kind === "ok" ? o.token : undefined;
          if (token !== undefined && s.lastToken !== undefined && token <= s.lastToken) {
            return `its token ${token} is not above the earlier token ${s.lastToken}`;
          }
          const leaseMs = op.leaseMs ?? 0;
          const expLo = o.kind === "ok" && o.safeUntilMs !== undefined ? o.safeUntilMs : this.minSafeUntil(op.invokeMs, leaseMs);
          const expHi = this.outside.grow(op.invokeMs, p.lastGrantMs + leaseMs);
          if (!p.definite && t >= expHi) return "a late grant would already have expired";
          return {
            present: true,
            value: op.value ?? "",
            token,
            expLo,
            expHi,
            lastToken: token !== undefined ? token : s.lastToken,
          };
        }
        if (o.code === "locked") return present ? this.carry(s, p) : `"locked" is wrong: ${here}`;
        return `lock cannot fail with ${o.code}`;
      }
      case "update":
      case "extendLease":
      case "release": {
        const expected = op.value ?? "";
        if (effect) {
          if (!present || s.value !== expected) return `${op.op} cannot succeed: ${here}`;
          if (op.op === "release") return absent(s.lastToken);
          if (op.op === "update") return this.carry({ ...s, value: op.newValue ?? "" }, p);
          const leaseMs = op.leaseMs ?? 0;
          const expLo = o.kind === "ok" && o.safeUntilMs !== undefined ? o.safeUntilMs : this.minSafeUntil(op.invokeMs, leaseMs);
          return { ...s, expLo, expHi: Math.max(s.expHi, this.outside.grow(op.invokeMs, p.lastGrantMs + leaseMs)) };
        }
        if (o.code === "not_found") return present ? `"not_found" is wrong: ${here}` : s;
        if (o.code === "mismatch") return present && s.value !== expected ? this.carry(s, p) : `"mismatch" is wrong: ${here}`;
        return `${op.op} cannot fail with ${o.code}`;
      }
      case "read": {
        if (o.kind === "fail") {
          if (o.code !== "not_found") return `read cannot fail with ${o.code}`;
          return present ? `"not_found" is wrong: ${here}` : s;
        }
        const seen = o.kind === "ok" ? o.value : undefined;
        if (seen === null || seen === undefined) return present ? `reading absent is wrong: ${here}` : s;
        if (!present || s.value !== seen) return `reading ${q(seen)} is wrong: ${here}`;
        if (o.kind === "ok" && o.token !== undefined && s.token !== undefined && o.token !== s.token) {
          return `read token ${o.token} but the holder's token is ${s.token}`;
        }
        return this.carry(s, p);
      }
      default:
        return `${op.op} is not part of the linearizable model`;
    }
  }
}

// ---------------------------------------------------------------- linearizability search

interface SearchResult {
  ok: boolean;
  inconclusive: boolean;
  steps: number;
  explanation: string;
  ops: number[];
}

/** The last time the operation's coordinator may still send for it: its answer, or its budget's end if later. */
function lastActivity(op: HistoryOp): number {
  const answered = Number.isFinite(op.responseMs) ? op.responseMs : op.invokeMs;
  return Math.max(answered, op.deadlineMs ?? answered);
}

function isQuorumOp(op: HistoryOp): boolean {
  return op.op === "lock" || op.op === "update" || op.op === "extendLease" || op.op === "release" || op.op === "read";
}

function isModelled(op: HistoryOp): boolean {
  if (op.outcome.kind === "void") return false;
  if (op.op === "read") return op.outcome.kind !== "unknown"; // an unknown read changes nothing
  return op.op === "lock" || op.op === "update" || op.op === "extendLease" || op.op === "release";
}

function checkKeyLinearizable(ops: HistoryOp[], driftFactor: number, grantSlackMs: number, maxSteps: number): SearchResult {
  const outside = ops
    .filter((op) => !isModelled(op) && op.outcome.kind !== "ok" && op.outcome.code !== "invalid" && isQuorumOp(op))
    .map((op) => ({ invokeMs: op.invokeMs, spanMs: Math.max(0, lastActivity(op) + grantSlackMs - op.invokeMs) }));
  const model = new Model(driftFactor, new WriteBackAllowance(outside));
  const items: Prepared[] = ops
    .filter(isModelled)
    .sort((a, b) => a.invokeMs - b.invokeMs || a.id - b.id)
    .map((op, index) => {
      const definite = op.outcome.kind !== "unknown";
      return { op, index, definite, respMs: definite ? op.responseMs : Number.POSITIVE_INFINITY, lastGrantMs: lastActivity(op) + grantSlackMs };
    });
  const n = items.length;
  const definiteCount = items.filter((p) => p.definite).length;
  const done = new Uint8Array(n);
  const seen = new Set<string>();
  const path: { p: Prepared; t: number; s: ModelState }[] = [];
  let best: { path: { p: Prepared; t: number; s: ModelState }[]; s: ModelState; T: number; definiteDone: number } | undefined;
  let steps = 0;
  let exhausted = false;
  let definiteDone = 0;

  // The placed set, hashed incrementally (Zobrist: a random 2×32-bit value per
  // operation, XORed in and out), so a step costs O(window) rather than O(n).
  const zobA = new Int32Array(n);
  const zobB = new Int32Array(n);
  let seed = 0x9e3779b9 ^ n;
  const next32 = (): number => {
    // xorshift32: fixed, so a history always checks the same way.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed | 0;
  };
  for (let i = 0; i < n; i++) {
    zobA[i] = next32();
    zobB[i] = next32();
  }
  let hashA = 0;
  let hashB = 0;
  /** Index of the first operation not placed yet (items are sorted by invocation). */
  let firstOpen = 0;
  const place = (i: number): void => {
    done[i] = 1;
    hashA ^= zobA[i]!;
    hashB ^= zobB[i]!;
    if (i === firstOpen) while (firstOpen < n && done[firstOpen]) firstOpen++;
  };
  const unplace = (i: number): void => {
    done[i] = 0;
    hashA ^= zobA[i]!;
    hashB ^= zobB[i]!;
    if (i < firstOpen) firstOpen = i;
  };

  // The earliest response among operations not placed: nothing invoked after it can come before it.
  const limitOf = (): number => {
    let limit = Number.POSITIVE_INFINITY;
    for (let i = firstOpen; i < n; i++) {
      const p = items[i]!;
      if (p.op.invokeMs > limit) break; // every later one responds later still (response ≥ invocation)
      if (!done[i] && p.respMs < limit) limit = p.respMs;
    }
    return limit;
  };

  // Depth-first with memoization of (placed set, state, last point); recursion depth is at most the key's operation count.
  const dfs = (s: ModelState, T: number): boolean => {
    if (definiteDone === definiteCount) return true;
    if (++steps > maxSteps) {
      exhausted = true;
      return false;
    }
    if (!best || definiteDone > best.definiteDone) best = { path: [...path], s, T, definiteDone };
    const limit = limitOf();
    for (let i = firstOpen; i < n; i++) {
      if (done[i]) continue;
      const p = items[i]!;
      if (p.op.invokeMs > limit) break;
      const r = model.step(s, T, p, Math.min(limit, p.respMs));
      if (typeof r === "string") continue;
      for (const b of r) {
        place(i);
        const k = `${hashA}:${hashB}|${stateKey(b.next, b.t)}`;
        if (!seen.has(k)) {
          seen.add(k);
          if (p.definite) definiteDone++;
          path.push({ p, t: b.t, s: b.next });
          const found = dfs(b.next, b.t);
          path.pop();
          if (p.definite) definiteDone--;
          if (found) {
            unplace(i);
            return true;
          }
        }
        unplace(i);
        if (exhausted) return false;
      }
    }
    return false;
  };

  const ok = dfs(absent(undefined), Number.NEGATIVE_INFINITY);
  if (ok) return { ok: true, inconclusive: false, steps, explanation: "", ops: [] };
  if (exhausted) {
    return { ok: false, inconclusive: true, steps, explanation: `search gave up after ${maxSteps} steps over ${n} operations (${definiteCount} with a known outcome)`, ops: [] };
  }
  // Explain from the deepest partial linearization: what was placed, and why nothing else fits next.
  const b = best!;
  for (const e of b.path) done[e.p.index] = 1;
  const limit = limitOf();
  const lines: string[] = [];
  lines.push(`no order of the operations is consistent with a CAS register with leases. The longest consistent prefix places ${b.definiteDone} of ${definiteCount} known operations:`);
  const shown = b.path.slice(-12);
  if (b.path.length > shown.length) lines.push(`  … ${b.path.length - shown.length} earlier`);
  for (const e of shown) lines.push(`  at ${fmt(e.t)}: ${formatOp(e.p.op)}`);
  lines.push(`then none of these can come next (each must be placed by ${fmt(limit)}):`);
  const blamed: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = items[i]!;
    if (done[i] || p.op.invokeMs > limit) continue;
    if (!p.definite) continue;
    const r = model.step(b.s, b.T, p, Math.min(limit, p.respMs));
    const why = typeof r === "string" ? r : "it fits here, but nothing can follow it";
    lines.push(`  ${formatOp(p.op)}: ${why}`);
    blamed.push(p.op.id);
  }
  return { ok: false, inconclusive: false, steps, explanation: lines.join("\n"), ops: blamed };
}

// ---------------------------------------------------------------- holder windows, fencing, phantoms

interface Holder {
  lock: HistoryOp;
  intervals: [number, number][];
  /** Points from which the holder's windows may no longer be safe (a release, a possibly shorter lease). */
  cuts: { at: number; except: [number, number] | undefined }[];
}

function checkHolders(key: string, ops: HistoryOp[], driftFactor: number): Violation[] {
  const sorted = [...ops].sort((a, b) => a.invokeMs - b.invokeMs || a.id - b.id);
  const holders: Holder[] = [];
  const byValue = new Map<string, Holder>();
  const violations: Violation[] = [];
  for (const op of sorted) {
    const o = op.outcome;
    if (op.op === "lock" && o.kind === "ok") {
      if (o.safeUntilMs === undefined) {
        violations.push({ kind: "malformed", key, message: `a successful lock has no safeUntil: ${formatOp(op)}`, ops: [op.id] });
        continue;
      }
      const leaseMs = op.leaseMs ?? 0;
      if (o.safeUntilMs > op.responseMs + leaseMs) {
        violations.push({
          kind: "double-holder",
          key,
          message: `safeUntil ${fmt(o.safeUntilMs)} is later than any voter's expiry could be (response + lease = ${fmt(op.responseMs + leaseMs)}): ${formatOp(op)}`,
          ops: [op.id],
        });
      }
      const h: Holder = { lock: op, intervals: [[op.responseMs, o.safeUntilMs]], cuts: [] };
      holders.push(h);
      if (op.value !== undefined) byValue.set(op.value, h);
      continue;
    }
    const h = op.value !== undefined ? byValue.get(op.value) : undefined;
    if (!h) continue;
    if (op.op === "update" && (o.kind === "ok" || o.kind === "unknown") && op.newValue !== undefined) byValue.set(op.newValue, h);
    if (op.op === "extendLease" && (o.kind === "ok" || o.kind === "unknown")) {
      // A new lease replaces the old one from its linearization point on, and it may be shorter:
      // the key may lapse from invoke + lease on. Concurrent extends may take effect in either
      // order, so the cap applies to every window of the holder but the extend's own.
      const cap = op.invokeMs + (op.leaseMs ?? 0) * (1 - driftFactor);
      const own: [number, number] | undefined = o.kind === "ok" ? [op.responseMs, o.safeUntilMs ?? cap] : undefined;
      if (own) h.intervals.push(own);
      h.cuts.push({ at: cap, except: own });
    }
    if (op.op === "release") {
      // Whoever releases with the holder's value ends its lease, possibly before a
      // concurrent extend's window even starts: the release may be placed right after it.
      h.cuts.push({ at: op.invokeMs, except: undefined });
    }
  }
  for (const h of holders) {
    for (const cut of h.cuts) {
      for (const iv of h.intervals) if (iv !== cut.except) iv[1] = Math.min(iv[1], Math.max(iv[0], cut.at));
    }
  }
  // Every pair of windows of different locks.
  const flat: { h: Holder; a: number; b: number }[] = [];
  for (const h of holders) for (const [a, b] of h.intervals) if (b > a) flat.push({ h, a, b });
  flat.sort((x, y) => x.a - y.a);
  for (let i = 0; i < flat.length; i++) {
    for (let j = i + 1; j < flat.length && flat[j]!.a < flat[i]!.b; j++) {
      const x = flat[i]!;
      const y = flat[j]!;
      if (x.h === y.h) continue;
      violations.push({
        kind: "double-holder",
        key,
        message:
          `${x.h.lock.client} and ${y.h.lock.client} both held ${q(key)} during [${fmt(y.a)}, ${fmt(Math.min(x.b, y.b))}): ` +
          `${x.h.lock.client}'s window [${fmt(x.a)}, ${fmt(x.b)}) from ${formatOp(x.h.lock)}; ` +
          `${y.h.lock.client}'s window [${fmt(y.a)}, ${fmt(y.b)}) from ${formatOp(y.h.lock)}`,
        ops: [x.h.lock.id, y.h.lock.id],
      });
      if (violations.length > 20) return violations;
    }
  }
  return violations;
}

function checkFencing(key: string, ops: HistoryOp[]): Violation[] {
  const locks = ops.filter((o) => o.op === "lock" && o.outcome.kind === "ok" && o.outcome.token !== undefined);
  const token = (o: HistoryOp): bigint => (o.outcome as { token: bigint }).token;
  const violations: Violation[] = [];
  const byToken = new Map<bigint, HistoryOp>();
  for (const l of locks) {
    const other = byToken.get(token(l));
    if (other) {
      violations.push({ kind: "fencing", key, message: `two locks got token ${token(l)}: ${formatOp(other)} and ${formatOp(l)}`, ops: [other.id, l.id] });
    } else byToken.set(token(l), l);
  }
  // Sweep: by invocation, compare with the largest token among locks that had already responded.
  const byResp = [...locks].sort((a, b) => a.responseMs - b.responseMs);
  const byInv = [...locks].sort((a, b) => a.invokeMs - b.invokeMs);
  let r = 0;
  let maxBefore: HistoryOp | undefined;
  for (const b of byInv) {
    while (r < byResp.length && byResp[r]!.responseMs <= b.invokeMs) {
      const a = byResp[r++]!;
      if (!maxBefore || token(a) > token(maxBefore)) maxBefore = a;
    }
    if (maxBefore && maxBefore !== b && token(b) <= token(maxBefore)) {
      violations.push({
        kind: "fencing",
        key,
        message: `token went backwards: ${formatOp(maxBefore)} finished before ${formatOp(b)} started, yet ${token(b)} ≤ ${token(maxBefore)}`,
        ops: [maxBefore.id, b.id],
      });
      if (violations.length > 20) break;
    }
  }
  return violations;
}

function checkPhantoms(key: string, ops: HistoryOp[]): Violation[] {
  const writes = ops.filter((o) => (o.op === "lock" || o.op === "update") && o.outcome.kind !== "void");
  const violations: Violation[] = [];
  for (const op of ops) {
    if (op.op !== "dirtyRead" && op.op !== "waitFor") continue;
    if (op.outcome.kind !== "ok" || op.outcome.value === null || op.outcome.value === undefined) continue;
    const v = op.outcome.value;
    const writer = writes.find((w) => (w.op === "lock" ? w.value : w.newValue) === v && w.invokeMs <= op.responseMs);
    if (!writer) violations.push({ kind: "phantom", key, message: `${formatOp(op)} saw a value no lock or update wrote before`, ops: [op.id] });
  }
  return violations;
}

// ---------------------------------------------------------------- entry point

export function checkHistory(history: readonly HistoryOp[], options: CheckOptions): Verdict {
  const driftFactor = options.driftFactor ?? 0;
  const maxSteps = options.maxSearchSteps ?? DEFAULT_MAX_SEARCH_STEPS;
  const byKey = new Map<string, HistoryOp[]>();
  const violations: Violation[] = [];
  for (const op of history) {
    if (!(op.invokeMs <= op.responseMs)) {
      violations.push({ kind: "malformed", key: op.key, message: `responds before it is invoked: ${formatOp(op)}`, ops: [op.id] });
      continue;
    }
    if (op.outcome.kind === "ok" && !Number.isFinite(op.responseMs)) {
      violations.push({ kind: "malformed", key: op.key, message: `has an outcome but no response time: ${formatOp(op)}`, ops: [op.id] });
      continue;
    }
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, (list = []));
    list.push(op);
  }
  let searchSteps = 0;
  for (const [key, ops] of [...byKey].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const lin = checkKeyLinearizable(ops, driftFactor, options.grantSlackMs, maxSteps);
    searchSteps += lin.steps;
    if (!lin.ok) violations.push({ kind: lin.inconclusive ? "inconclusive" : "linearizability", key, message: lin.explanation, ops: lin.ops });
    violations.push(...checkHolders(key, ops, driftFactor), ...checkFencing(key, ops), ...checkPhantoms(key, ops));
  }
  const explanation =
    violations.length === 0
      ? `ok: ${history.length} operations on ${byKey.size} keys (${searchSteps} search steps)`
      : violations.map((v) => `[${v.kind}] key ${q(v.key)}: ${v.message}`).join("\n\n");
  return { ok: violations.length === 0, violations, explanation, stats: { keys: byKey.size, ops: history.length, searchSteps } };
}

/**
 * What a LockerError code says about an operation's effect, as the Locker
 * documents it: a failed check took no effect and saw the state; no_quorum,
 * contention and invalid took no effect; timeout and unavailable may or may not have.
 */
export function outcomeOfErrorCode(code: LockerErrorCode): Outcome {
  switch (code) {
    case "locked":
    case "mismatch":
    case "not_found":
      return { kind: "fail", code };
    case "no_quorum":
    case "contention":
    case "invalid":
      return { kind: "void", code };
    case "timeout":
    case "unavailable":
      return { kind: "unknown", code };
  }
}

/** Tallies of outcomes a simulator keeps per run. */
export interface OutcomeCounts {
  ok: number;
  failed: number;
  unknown: number;
  /** Unknown because the operation never answered within its guard. */
  hung: number;
  noEffect: number;
}

export function countOutcome(counts: OutcomeCounts, outcome: Outcome): void {
  if (outcome.kind === "ok") counts.ok++;
  else if (outcome.kind === "fail") counts.failed++;
  else if (outcome.kind === "unknown") {
    counts.unknown++;
    if (outcome.code === "hung") counts.hung++;
  } else counts.noEffect++;
}
