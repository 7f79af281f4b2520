// Healing without anyone typing an address (as Serf's snapshot and Consul's
// retry_join): a node remembers the members it has seen in its data dir, and
// while it has no live peer it keeps trying its seeds, the remembered
// members, the members it holds as dead or left, and what discovery found —
// with backoff, for as long as it runs.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join as joinPath } from "node:path";
import type { Membership } from "@locker/membership";
import { backoffDelayMs, type BackoffPolicy } from "../transport/backoff.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import type { Random } from "../util/random.js";

/** At most this many remembered members: the file stays small and a corrupt one cannot blow up a start. */
export const MAX_REMEMBERED_MEMBERS = 64;
const MAX_SNAPSHOT_BYTES = 64 * 1024;

export interface RememberedMember {
  name: string;
  address: string;
}

/** The members file in the data dir (`<dir>/<name>.members.json`); "" keeps nothing. */
export class MemberSnapshot {
  readonly path: string;
  private lastWritten = "";

  constructor(dir: string, name: string) {
    this.path = dir === "" ? "" : joinPath(dir, `${encodeURIComponent(name)}.members.json`);
  }

  /** Remembered members; a missing, corrupt or oversized file reads as none (it only speeds up healing). */
  load(): RememberedMember[] {
    if (this.path === "") return [];
    let raw: unknown;
    try {
      const text = readFileSync(this.path, "utf8");
      if (text.length > MAX_SNAPSHOT_BYTES) return [];
      raw = JSON.parse(text);
    } catch {
      return [];
    }
    const list = (raw as { members?: unknown } | null)?.members;
    if (!Array.isArray(list)) return [];
    const out: RememberedMember[] = [];
    for (const m of list.slice(0, MAX_REMEMBERED_MEMBERS)) {
      const { name, address } = (m ?? {}) as { name?: unknown; address?: unknown };
      if (typeof name !== "string" || typeof address !== "string" || name.length === 0 || name.length > 256) continue;
      // An address is whatever the transport gossips (host:port on UDP): short, printable, no spaces.
      if (!/^[\x21-\x7e]{1,300}$/.test(address)) continue;
      out.push({ name, address });
    }
    return out;
  }

  /** Writes the list when it changed (atomically: a crash mid-write leaves the old file). Errors are returned, not thrown. */
  save(members: readonly RememberedMember[]): Error | undefined {
    if (this.path === "") return undefined;
    const sorted = [...members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).slice(0, MAX_REMEMBERED_MEMBERS);
    const text = JSON.stringify({ members: sorted }) + "\n";
    if (text === this.lastWritten) return undefined;
    try {
      mkdirSync(joinPath(this.path, ".."), { recursive: true });
      const tmp = `${this.path}.tmp`;
      writeFileSync(tmp, text);
      renameSync(tmp, this.path);
      this.lastWritten = text;
      return undefined;
    } catch (e) {
      return e as Error;
    }
  }
}

export interface RejoinOptions {
  membership: Membership;
  clock: Clock;
  random: Random;
  /** Seeds given by the operator (--join). */
  seeds: readonly string[];
  /** Where remembered members are kept. */
  snapshot: MemberSnapshot;
  /** Addresses found by discovery, newest last. */
  discovered: () => readonly string[];
  /** This node's own gossip address (never a seed of itself). */
  self: string;
  /** Wait between rounds while alone. Default 1 s doubling to 30 s. */
  backoff?: BackoffPolicy;
  /** How often the members file is refreshed. Default 5 s. */
  saveIntervalMs?: number;
  onAttempt?: (addresses: readonly string[], ok: boolean, error?: string) => void;
  onSaveError?: (e: Error) => void;
}

export const DEFAULT_REJOIN_BACKOFF: BackoffPolicy = { baseMs: 1000, factor: 2, maxMs: 30_000 };

/**
 * Keeps a node connected: while it sees no live peer it joins through every
 * address it knows; once it has one, SWIM (push-pull, reconnect) does the
 * rest. Also saves the live members to the data dir.
 */
export class Rejoiner {
  private timer: TimerHandle | undefined;
  private saveTimer: TimerHandle | undefined;
  private attempt = 0;
  private joining = false;
  private closed = false;
  private remembered: RememberedMember[];
  readonly stats = { attempts: 0, failures: 0, joins: 0 };

  constructor(private readonly o: RejoinOptions) {
    this.remembered = o.snapshot.load();
  }

  /** Addresses remembered from the last run (seeds for the first join). */
  rememberedAddresses(): string[] {
    return this.remembered.map((m) => m.address);
  }

  /** Every address worth a join while alone: seeds, remembered, discovered, and members held dead or left. */
  candidates(): string[] {
    const all = new Set<string>([...this.o.seeds, ...this.rememberedAddresses(), ...this.o.discovered()]);
    for (const m of this.o.membership.members()) if (m.state === "dead" || m.state === "left") all.add(m.address);
    all.delete(this.o.self);
    return [...all];
  }

  /** Whether this node sees at least one live peer. */
  connected(): boolean {
    return this.o.membership.members().some((m) => m.state === "alive" || m.state === "suspect");
  }

  start(): void {
    this.schedule(0);
    const saveEvery = this.o.saveIntervalMs ?? 5000;
    const save = (): void => {
      if (this.closed) return;
      this.save();
      this.saveTimer = this.o.clock.setTimer(saveEvery, save);
    };
    this.saveTimer = this.o.clock.setTimer(saveEvery, save);
  }

  private readonly lastReach = new Map<string, number>();

  /**
   * Discovery found a node this one does not hold alive: join through it, even
   * when connected (two islands that formed apart merge this way). At most one
   * try per address every few seconds.
   */
  reach(address: string): void {
    if (this.closed || address === this.o.self) return;
    const now = this.o.clock.now();
    if (now - (this.lastReach.get(address) ?? -Infinity) < 5000) return;
    if (this.lastReach.size > 256) this.lastReach.clear();
    this.lastReach.set(address, now);
    if (!this.connected()) return this.schedule(0);
    if (this.joining) return;
    this.joining = true;
    this.o.membership
      .bootstrap([address])
      .then(
        () => this.o.onAttempt?.([address], true),
        (e: unknown) => this.o.onAttempt?.([address], false, (e as Error).message),
      )
      .finally(() => {
        this.joining = false;
      });
  }

  /** Records the live members (and keeps remembered ones not seen dead), so a restart can rejoin through them. */
  save(): void {
    const live = this.o.membership.members().filter((m) => m.state === "alive" || m.state === "suspect");
    if (live.length === 0) return; // alone: keep what we knew, it is the way back
    const byName = new Map(this.remembered.map((m) => [m.name, m]));
    for (const m of live) byName.set(m.name, { name: m.name, address: m.address });
    this.remembered = [...byName.values()].slice(-MAX_REMEMBERED_MEMBERS);
    const e = this.o.snapshot.save(this.remembered);
    if (e) this.o.onSaveError?.(e);
  }

  close(): void {
    if (this.closed) return;
    this.save();
    this.closed = true;
    this.o.clock.clearTimer(this.timer);
    this.o.clock.clearTimer(this.saveTimer);
  }

  private schedule(delayMs: number): void {
    this.o.clock.clearTimer(this.timer);
    this.timer = this.o.clock.setTimer(delayMs, () => void this.tick());
  }

  private async tick(): Promise<void> {
    if (this.closed || this.joining) return;
    if (this.connected()) {
      this.attempt = 0;
      this.schedule(this.o.backoff?.baseMs ?? DEFAULT_REJOIN_BACKOFF.baseMs);
      return;
    }
    const addresses = this.candidates();
    if (addresses.length > 0) {
      this.joining = true;
      this.stats.attempts++;
      try {
        await this.o.membership.bootstrap(addresses);
        this.stats.joins++;
        this.attempt = 0;
        this.o.onAttempt?.(addresses, true);
      } catch (e) {
        this.stats.failures++;
        this.o.onAttempt?.(addresses, false, (e as Error).message);
      } finally {
        this.joining = false;
      }
    }
    if (this.closed) return;
    this.attempt++;
    this.schedule(this.connected() ? 1000 : backoffDelayMs(this.o.backoff ?? DEFAULT_REJOIN_BACKOFF, this.attempt, this.o.random));
  }
}
