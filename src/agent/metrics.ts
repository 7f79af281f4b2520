// Prometheus metrics for one agent (prom-client, a private registry per agent):
// operations by kind and result with latency, members by state, leases,
// datagrams, and the quorum rounds behind the operations.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** What the metrics read from the node when scraped; each returns the current value. */
export interface MetricSources {
  /** Number of members in each SWIM state ("alive", "suspect", "dead", "left"). */
  memberStates(): Record<string, number>;
  /** Keys whose lease is live in this node's local copy. */
  liveLeases(): number;
  /** CAS rounds this node is coordinating right now. */
  pendingRounds(): number;
  /** Transport totals since start. */
  datagrams(): { in: number; out: number; dropped: number };
  /** Quorum rounds and key-affinity totals since start. */
  rounds(): RoundTotals;
}

export interface RoundTotals {
  /** Rounds this node ran as proposer. */
  rounds: number;
  /** Of those, rounds on the one-round-trip path (a cached promise). */
  fast: number;
  /** Rounds lost to another proposer (retried). */
  conflicts: number;
  /** Releases that granted the next queued lock in their own round. */
  handovers: number;
  /** Queued locks answered `locked` from the round before them, without a round of their own. */
  coalesced: number;
  /** Operations forwarded to their key's coordinator, and forwarded operations served for others. */
  forwarded: number;
  served: number;
}

export type OperationKind =
  | "lock"
  | "update"
  | "extend"
  | "release"
  | "read"
  | "read_consistent"
  | "wait_present"
  | "wait_released"
  | "keys"
  | "promote"
  | "remove_voter";

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly operations: Counter<"kind" | "result">;
  private readonly latency: Histogram<"kind" | "result">;
  private readonly httpRequests: Counter<"method" | "status">;

  constructor(sources: MetricSources, options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.operations = new Counter({
      name: "locker_operations_total",
      help: "Operations served, by kind and result (ok or the error code).",
      labelNames: ["kind", "result"],
      registers,
    });
    this.latency = new Histogram({
      name: "locker_operation_duration_seconds",
      help: "Operation latency as seen by the agent, by kind and result.",
      labelNames: ["kind", "result"],
      // From a fast-path round on loopback (sub-ms) to long polls (minutes).
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.httpRequests = new Counter({
      name: "locker_http_requests_total",
      help: "HTTP requests answered, by method and status code.",
      labelNames: ["method", "status"],
      registers,
    });
    new Gauge({
      name: "locker_members",
      help: "Members this node knows, by SWIM state.",
      labelNames: ["state"],
      registers,
      collect() {
        this.reset();
        for (const [state, n] of Object.entries(sources.memberStates())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: "locker_live_leases",
      help: "Keys with a live lease in this node's local copy.",
      registers,
      collect() {
        this.set(sources.liveLeases());
      },
    });
    new Gauge({
      name: "locker_pending_rounds",
      help: "CAS rounds this node is coordinating.",
      registers,
      collect() {
        this.set(sources.pendingRounds());
      },
    });
    // Totals kept by the transport and the CAS node; mirrored into counters on each scrape.
    const mirror = (name: string, help: string, read: () => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };
    mirror("locker_datagrams_in_total", "UDP datagrams received.", () => sources.datagrams().in);
    mirror("locker_datagrams_out_total", "UDP datagrams sent.", () => sources.datagrams().out);
    mirror("locker_datagrams_dropped_total", "Datagrams dropped: malformed, foreign cluster, over a limit.", () => sources.datagrams().dropped);
    mirror("locker_rounds_total", "Quorum rounds this node ran as proposer.", () => sources.rounds().rounds);
    mirror("locker_fast_rounds_total", "Rounds on the one-round-trip path (accept with a cached promise).", () => sources.rounds().fast);
    mirror("locker_round_conflicts_total", "Rounds lost to another proposer on the same key (retried).", () => sources.rounds().conflicts);
    mirror("locker_handovers_total", "Releases that granted the next queued lock in their own round.", () => sources.rounds().handovers);
    mirror("locker_coalesced_locks_total", "Queued locks answered `locked` from the round before them, without a round of their own.", () => sources.rounds().coalesced);
    mirror("locker_forwarded_total", "Operations forwarded to their key's coordinator (key affinity).", () => sources.rounds().forwarded);
    mirror("locker_forwards_served_total", "Operations other nodes forwarded here and this node ran.", () => sources.rounds().served);
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: "locker_process_" });
  }

  /**
   * The labelled series of each (kind, result) and (method, status) seen, kept
   * so a request does not pay prom-client's label hashing (sorted keys
   * joined into a string) three times. Bounded: kinds and error codes are
   * fixed sets; methods and statuses are what the server answers.
   */
  private readonly opSeries = new Map<string, { count: { inc(): void }; latency: { observe(v: number): void } }>();
  private readonly httpSeries = new Map<string, { inc(): void }>();

  /** Records one finished operation. `result` is "ok" or a LockerError code. */
  observe(kind: OperationKind, result: string, seconds: number): void {
    const id = `${kind} ${result}`;
    let s = this.opSeries.get(id);
    if (s === undefined) {
      s = { count: this.operations.labels({ kind, result }), latency: this.latency.labels({ kind, result }) };
      this.opSeries.set(id, s);
    }
    s.count.inc();
    s.latency.observe(seconds);
  }

  observeHttp(method: string, status: number): void {
    const id = `${method} ${status}`;
    let s = this.httpSeries.get(id);
    if (s === undefined) {
      s = this.httpRequests.labels({ method, status: String(status) });
      this.httpSeries.set(id, s);
    }
    s.inc();
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
