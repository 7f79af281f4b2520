// Bootstrap with `expect: N`: the first N members that see each other become
// the voters, and every node ends up with the same set.
//
// Agreement: each node advertises (in its SWIM metadata) at most one "pin", a
// candidate voter set, and never changes it. A node adopts a set S only when
// every member of S advertises the pin S (or when some node already
// advertises an adopted configuration, which it copies). So a node in two
// adopted sets would have pinned both — impossible: two adopted sets are equal
// or disjoint. Disjoint sets need two groups of N that never saw each other
// while forming (a partition at start); a static voter list avoids even that.
// Liveness: a node pins only once its view of alive members has been stable
// for a while, and it joins a pin it sees (one that includes it) rather than
// proposing its own, so nodes started in any order converge on one set.
// Conflicting pins (views that differed when two nodes pinned) can stall the
// bootstrap; the driver then fails with a clear error after its timeout.
import { LockerError } from "../errors.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import { normalizeConfig, type VoterConfig } from "../cluster/config.js";

/** What one member advertises for the bootstrap. */
export interface ExpectAdvert {
  /** Its pinned candidate set (sorted names), or null. */
  readonly pin: readonly string[] | null;
  /** The configuration it runs (version and voter names), or null. */
  readonly adopted: { readonly version: number; readonly voters: readonly string[] } | null;
}

export interface ExpectMember extends ExpectAdvert {
  readonly name: string;
  readonly address: string;
}

export interface ExpectView {
  readonly self: string;
  readonly expect: number;
  /** Alive members, this node included. */
  readonly members: readonly ExpectMember[];
  /** Whether the set of alive members has not changed for the settle time. */
  readonly stable: boolean;
}

export type ExpectDecision =
  | { readonly kind: "adopt"; readonly config: VoterConfig }
  | { readonly kind: "pin"; readonly set: readonly string[] }
  | { readonly kind: "wait"; readonly reason: string };

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function compareLists(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length - b.length;
}

/** The pure decision of one node from its view. */
export function decideExpect(view: ExpectView): ExpectDecision {
  const byName = new Map(view.members.map((m) => [m.name, m]));
  const me = byName.get(view.self);
  if (!me) return { kind: "wait", reason: "this node is not in its own view" };

  // 1. Someone runs a configuration already: copy the newest one whose voters we can address.
  let best: ExpectMember["adopted"] = null;
  for (const m of view.members) {
    const a = m.adopted;
    if (!a) continue;
    if (!best || a.version > best.version || (a.version === best.version && compareLists(a.voters, best.voters) < 0)) best = a;
  }
  // A node that pinned is committed to its pin: it copies only that set (or a later version of whatever formed).
  if (best && me.pin && best.version === 1 && !sameList([...best.voters].sort(), me.pin)) {
    return { kind: "wait", reason: `a different set [${best.voters.join(", ")}] formed while this node pinned [${me.pin.join(", ")}]` };
  }
  if (best) {
    const voters = best.voters.map((n) => byName.get(n));
    if (voters.every((v) => v !== undefined)) return { kind: "adopt", config: normalizeConfig(best.version, voters.map((v) => ({ name: v!.name, address: v!.address }))) };
    return { kind: "wait", reason: `configuration ${best.version} names voters not alive in this view` };
  }

  // 2. My pin: adopt it once every member of it advertises the same pin.
  if (me.pin) {
    const pin = me.pin;
    const all = pin.every((n) => {
      const m = byName.get(n);
      return m !== undefined && m.pin !== null && sameList(m.pin, pin);
    });
    if (all) return { kind: "adopt", config: normalizeConfig(1, pin.map((n) => ({ name: n, address: byName.get(n)!.address }))) };
    return { kind: "wait", reason: `waiting for every member of [${pin.join(", ")}] to pin it` };
  }

  if (view.members.length < view.expect) return { kind: "wait", reason: `${view.members.length} of ${view.expect} expected members visible` };
  if (!view.stable) return { kind: "wait", reason: "membership view still changing" };

  // 3. Join a pin that includes me and whose members are all alive (the lowest, if several).
  let join: readonly string[] | null = null;
  let foreignPin = false;
  for (const m of view.members) {
    const p = m.pin;
    if (!p) continue;
    if (!p.includes(view.self)) {
      foreignPin = true;
      continue;
    }
    if (p.length === view.expect && p.every((n) => byName.has(n)) && (!join || compareLists(p, join) < 0)) join = p;
  }
  if (join) return { kind: "pin", set: [...join] };
  if (foreignPin) return { kind: "wait", reason: "another set is being formed without this node" };

  // 4. Propose the lowest N names, if I am among them.
  const lowest = view.members.map((m) => m.name).sort().slice(0, view.expect);
  if (lowest.includes(view.self)) return { kind: "pin", set: lowest };
  return { kind: "wait", reason: "this node is not among the lowest names; waiting for them to form" };
}

/** Encodes an advert as a compact metadata value (names only: addresses come from membership). */
export function encodeAdvert(a: ExpectAdvert): unknown {
  return { p: a.pin, c: a.adopted ? [a.adopted.version, a.adopted.voters] : null };
}

/** Decodes an advert from a member's metadata; anything malformed reads as "nothing advertised". */
export function decodeAdvert(meta: unknown): ExpectAdvert {
  const none: ExpectAdvert = { pin: null, adopted: null };
  if (typeof meta !== "object" || meta === null) return none;
  const o = meta as { p?: unknown; c?: unknown };
  const names = (x: unknown): string[] | null => (Array.isArray(x) && x.length > 0 && x.length <= 64 && x.every((n) => typeof n === "string" && n.length > 0) ? (x as string[]) : null);
  const pin = names(o.p);
  let adopted: ExpectAdvert["adopted"] = null;
  if (Array.isArray(o.c) && o.c.length === 2 && typeof o.c[0] === "number" && Number.isInteger(o.c[0]) && o.c[0] > 0) {
    const v = names(o.c[1]);
    if (v) adopted = { version: o.c[0], voters: v };
  }
  return { pin: pin ? [...pin].sort() : null, adopted };
}

/** What the driver needs from membership (satisfied by @locker/membership's Membership). */
export interface ExpectMembership {
  whoami(): string;
  localMember(): { name: string; address: string; meta: unknown };
  members(): ReadonlyArray<{ name: string; address: string; state: string; meta: unknown }>;
  updateMeta(meta: unknown): void;
  on(event: "change", listener: (...args: unknown[]) => void): unknown;
  off(event: "change", listener: (...args: unknown[]) => void): unknown;
}

export interface ExpectOptions {
  membership: ExpectMembership;
  clock: Clock;
  expect: number;
  /** The view must be unchanged this long before this node pins. Default 500 ms. */
  settleMs?: number;
  /** How often the decision is re-evaluated. Default 50 ms. */
  checkIntervalMs?: number;
  /** Give up after this long. Default 60 s. */
  timeoutMs?: number;
  /** Builds the metadata to advertise from the bootstrap's advert (to merge with other metadata). Default: the advert alone. */
  metaOf?: (advert: unknown) => unknown;
  /** Reads the bootstrap's advert from a member's metadata. Default: the metadata itself. */
  advertOf?: (meta: unknown) => unknown;
  /** Told what the bootstrap waits for, each time that changes (for status pages). */
  onWait?: (reason: string) => void;
  /** Stops waiting (rejects) once this returns true. */
  isClosed?: () => boolean;
}

/** Runs the bootstrap on a live membership; resolves with the agreed configuration. */
export function bootstrapExpect(o: ExpectOptions): Promise<VoterConfig> {
  if (!Number.isInteger(o.expect) || o.expect < 1 || o.expect > 31) return Promise.reject(new LockerError("invalid", "expect must be an integer in 1..31"));
  const settleMs = o.settleMs ?? 500;
  const checkMs = o.checkIntervalMs ?? 50;
  const timeoutMs = o.timeoutMs ?? 60_000;
  const metaOf = o.metaOf ?? ((a: unknown) => a);
  const advertOf = o.advertOf ?? ((m: unknown) => m);
  const m = o.membership;
  const self = m.whoami();
  const started = o.clock.now();
  let lastChange = started;
  let pin: readonly string[] | null = null;
  let lastAlive = "";
  let timer: TimerHandle | undefined;
  let lastReason = "";
  return new Promise<VoterConfig>((resolve, reject) => {
    const onChange = (): void => {
      // Only the set of alive members matters for stability, not metadata updates.
      const alive = aliveNames();
      if (alive !== lastAlive) {
        lastAlive = alive;
        lastChange = o.clock.now();
      }
    };
    const aliveNames = (): string =>
      m
        .members()
        .filter((x) => x.state === "alive")
        .map((x) => x.name)
        .sort()
        .join("\u0000");
    const finish = (): void => {
      o.clock.clearTimer(timer);
      m.off("change", onChange);
    };
    const step = (): void => {
      const now = o.clock.now();
      onChange();
      const local = m.localMember();
      const members: ExpectMember[] = [{ name: self, address: local.address, pin, adopted: null }];
      for (const x of m.members()) {
        if (x.state !== "alive") continue;
        members.push({ name: x.name, address: x.address, ...decodeAdvert(advertOf(x.meta)) });
      }
      const d = decideExpect({ self, expect: o.expect, members, stable: now - lastChange >= settleMs });
      if (d.kind === "adopt") {
        finish();
        m.updateMeta(metaOf(encodeAdvert({ pin, adopted: { version: d.config.version, voters: d.config.voters.map((v) => v.name) } })));
        resolve(d.config);
        return;
      }
      if (d.kind === "pin" && !pin) {
        pin = d.set; // write-once: never changed afterwards
        m.updateMeta(metaOf(encodeAdvert({ pin, adopted: null })));
      } else if (d.kind === "wait") {
        if (d.reason !== lastReason) o.onWait?.(d.reason);
        lastReason = d.reason;
      }
      if (o.isClosed?.()) {
        finish();
        reject(new LockerError("unavailable", "closed while bootstrapping"));
        return;
      }
      if (now - started >= timeoutMs) {
        finish();
        reject(new LockerError("unavailable", `expect: ${o.expect} voters not agreed within ${timeoutMs} ms: ${lastReason}`));
        return;
      }
      timer = o.clock.setTimer(checkMs, step);
    };
    m.on("change", onChange);
    step();
  });
}

/** The advert of a node that runs `config` (to keep advertising it after a reconfiguration). */
export function advertOfConfig(config: VoterConfig): unknown {
  return encodeAdvert({ pin: null, adopted: { version: config.version, voters: config.voters.map((v) => v.name) } });
}
