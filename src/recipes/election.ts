// Leader election on one key: candidates campaign for it, the holder leads while
// it renews its lease, and everyone learns who leads. Built on Mutex.
import { EventEmitter } from "node:events";
import { LockerError, isLockerError } from "../errors.js";
import { SystemClock, type Clock } from "../util/clock.js";
import { cryptoSeededRandom, type Random } from "../util/random.js";
import { sleep, type LeaseClient } from "./client.js";
import { Mutex, randomHolderId } from "./mutex.js";

export interface ElectionOptions {
  /** Lease of a leadership term: a crashed leader is replaced within about this long. Default 10 s. */
  leaseMs?: number;
  /** This candidate's id, written as the key's value while it leads. Default: a random id. */
  candidate?: string;
  /** The key campaigned for. Default `election/<name>`. */
  key?: string;
  clock?: Clock;
  random?: Random;
}

export interface ElectionEvents {
  /** This candidate became leader; the token fences its term. */
  elected: [token: bigint];
  /** This candidate stopped leading (lease lost or resigned). */
  lost: [reason: Error];
  /** The leader this candidate knows of changed (undefined: none known). */
  changed: [leader: string | undefined];
}

export class LeaderElection extends EventEmitter<ElectionEvents> {
  readonly key: string;
  readonly candidate: string;
  readonly leaseMs: number;
  private readonly clock: Clock;
  private readonly random: Random;
  private known: string | undefined;
  private mutex: Mutex | undefined;
  private running: Promise<void> | undefined;
  private stop: AbortController | undefined;
  private electedWaiters: Array<{ resolve: (t: bigint) => void; reject: (e: Error) => void }> = [];

  constructor(
    private readonly client: LeaseClient,
    readonly name: string,
    options: ElectionOptions = {},
  ) {
    super();
    this.key = options.key ?? `election/${name}`;
    this.leaseMs = options.leaseMs ?? 10_000;
    this.clock = options.clock ?? new SystemClock();
    this.random = options.random ?? cryptoSeededRandom();
    this.candidate = options.candidate ?? randomHolderId(this.random, "candidate");
  }

  /** The leader as last seen by this candidate, or undefined. */
  leader(): string | undefined {
    return this.known;
  }

  get isLeader(): boolean {
    return this.mutex?.held === true;
  }

  /** Aborts when this term of leadership ends; undefined while not leading. */
  get signal(): AbortSignal | undefined {
    return this.isLeader ? this.mutex?.signal : undefined;
  }

  /** The fencing token of the current term. */
  get token(): bigint | undefined {
    return this.mutex?.token;
  }

  /**
   * Starts campaigning (if not already) and resolves with the term's token when this
   * candidate is elected. After a loss it keeps campaigning until `resign()`.
   */
  campaign(): Promise<bigint> {
    if (this.isLeader) return Promise.resolve(this.mutex!.token!);
    const p = new Promise<bigint>((resolve, reject) => this.electedWaiters.push({ resolve, reject }));
    if (!this.running) {
      this.stop = new AbortController();
      const signal = this.stop.signal;
      this.running = this.loop(signal).finally(() => {
        this.running = undefined;
      });
    }
    return p;
  }

  /** Stops campaigning and gives up leadership (releasing the key) if held. */
  async resign(): Promise<void> {
    this.stop?.abort(new LockerError("unavailable", `candidate ${this.candidate} resigned`));
    const waiters = this.electedWaiters;
    this.electedWaiters = [];
    for (const w of waiters) w.reject(new LockerError("unavailable", "resigned before being elected"));
    const m = this.mutex;
    if (m && m.held) {
      await m.release();
    }
    await this.running?.catch(() => undefined);
  }

  /** Reads who leads now from the cluster and updates `leader()`. */
  async observe(): Promise<string | undefined> {
    const h = await this.client.holder(this.key);
    this.setKnown(h);
    return h;
  }

  private setKnown(leader: string | undefined): void {
    if (leader === this.known) return;
    this.known = leader;
    this.emit("changed", leader);
  }

  private async loop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const m = new Mutex(this.client, this.key, { leaseMs: this.leaseMs, value: this.candidate, clock: this.clock, random: this.random });
      this.mutex = m;
      let token: bigint;
      try {
        token = await m.acquire({ timeoutMs: Infinity, signal, onHeld: (h) => this.setKnown(h) });
        failures = 0;
      } catch (e) {
        if (signal.aborted) break;
        // A bad argument will not fix itself: end the campaign and tell the waiters.
        if (isLockerError(e, "invalid")) {
          for (const w of this.electedWaiters.splice(0)) w.reject(e);
          break;
        }
        failures++;
        await sleep(this.clock, Math.min(5000, 50 * 2 ** Math.min(failures, 7)) * (0.5 + this.random.next()), signal).catch(() => undefined);
        continue;
      }
      this.setKnown(this.candidate);
      for (const w of this.electedWaiters.splice(0)) w.resolve(token);
      this.emit("elected", token);
      const reason = await new Promise<Error>((resolve) => {
        const done = (r: Error): void => {
          m.off("lost", done);
          signal.removeEventListener("abort", onAbort);
          resolve(r);
        };
        const onAbort = (): void => done(signal.reason instanceof Error ? signal.reason : new Error("resigned"));
        m.on("lost", done);
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      });
      if (this.known === this.candidate) this.setKnown(undefined);
      this.emit("lost", reason);
    }
  }
}
