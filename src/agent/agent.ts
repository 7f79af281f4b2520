// The agent: one locker node (the composition root in src/node/) with the
// HTTP API, metrics and logs around it, and a graceful leave on SIGTERM/SIGINT.
// The HTTP API listens from the start: while the node joins or forms its voter
// set, health, status and members say what it waits for.
import type { IncomingMessage, ServerResponse } from "node:http";
import { isLoopback } from "../node/advertise.js";
import { openNode, type LockerNode, type StartingNode } from "../node/node.js";
import { SystemClock } from "../util/clock.js";
import { cryptoSeededRandom } from "../util/random.js";
import { resolveAgentConfig, splitAddress, type AgentConfig } from "./config.js";
import { EventHub } from "./events.js";
import { createHttpHandler, httpLimits, httpServerOptions, startHttpServer, type StartedHttpServer } from "./http.js";
import { handleKeyringRoute, isKeyringRoute } from "./keyring-routes.js";
import { agentKeys } from "./keys.js";
import { createLogger, type Logger } from "./logger.js";
import { AgentMetrics } from "./metrics.js";
import { ballotFloorFile, recordStart } from "./state-file.js";
import { LockerError } from "../errors.js";

export interface Agent {
  readonly config: AgentConfig;
  /** The node once it has started (joined, voters known); undefined before. */
  readonly node: LockerNode | undefined;
  /** Resolves with the node once it can serve; rejects if it cannot start. */
  readonly started: Promise<LockerNode>;
  /** The HTTP API's bound address (the real port when port 0 was asked for). */
  readonly httpAddress: string;
  readonly logger: Logger;
  /** Resolves when the agent must stop on its own: another live node holds its name. */
  readonly fatal: Promise<Error>;
  /** Leaves the cluster gracefully and stops everything. Safe to call twice. */
  stop(): Promise<void>;
}

const VERSION = "0.1.0";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Whether discovery runs: forced by --discover, or "auto" (no --join, not loopback). */
function discoveryWanted(config: AgentConfig): boolean {
  if (config.discover !== "auto") return config.discover === "true";
  return config.join.length === 0 && !isLoopback(splitAddress(config.bind).host);
}

export async function startAgent(config: AgentConfig, options: { logger?: Logger } = {}): Promise<Agent> {
  const logger = options.logger ?? createLogger({ level: config.logLevel, name: config.name });
  const clock = new SystemClock();
  const random = cryptoSeededRandom();
  const startedAt = clock.now();
  const keys = agentKeys(config);

  const state = recordStart(config.dataDir, config.name, clock.wallNow());
  if (state.warning) logger.warn(state.warning);
  const isVoter = !config.replica && (config.voters.includes(config.name) || config.expect > 0);
  // A voter that provably never voted cannot have granted a lease that is still live,
  // so it need not sit out the quiet period (DESIGN: quiet period after memory loss).
  const quietPeriodMs = state.fresh ? 0 : config.maxLeaseMs;
  // Tokens then increase even across a restart of every voter with clocks set back (DESIGN's known edge).
  const ballotFloor = config.persistFloor ? ballotFloorFile(config.dataDir, config.name, (m) => logger.warn(m)) : undefined;
  const discover = discoveryWanted(config);
  let fatalError: (e: Error) => void = () => {};
  const fatal = new Promise<Error>((resolve) => (fatalError = resolve));

  const starting: StartingNode = await openNode({
    name: config.name,
    bind: config.bind,
    ...(config.advertise ? { advertise: config.advertise } : {}),
    join: config.join,
    voters: config.voters,
    expect: config.expect,
    replica: config.replica,
    clusterLabel: config.cluster,
    ...(keys ? { encryptKeys: keys } : {}),
    insecure: config.insecure,
    limits: { maxLeaseMs: config.maxLeaseMs, maxKeyBytes: config.maxKeyBytes, maxValueBytes: config.maxValueBytes },
    quietPeriodMs,
    locker: {
      ...(ballotFloor ? { ballotFloor } : {}),
      recovery: {
        maxClockSkewMs: config.maxClockSkewMs,
        onRecovered: (s) => logger.info({ keys: s.keys, attempts: s.attempts, tookMs: Math.round(s.tookMs ?? 0) }, "recovered from the other voters; voting again without waiting out the quiet period"),
      },
    },
    meta: { http: config.http },
    discovery: discover
      ? { group: config.discoverGroup, port: config.discoverPort, ...(config.discoverInterface ? { interfaceAddress: config.discoverInterface } : {}) }
      : false,
    dataDir: config.dataDir,
    retryJoin: true,
    affinity: config.affinity === "contended" ? "contended" : config.affinity === "true",
    onNameConflict: (e) => fatalError(e),
    clock,
    random,
    logger,
  });
  const { membership, transport } = starting;
  // Member events from the start; key events once the node serves.
  const events = new EventHub();
  events.attachMembership(membership);
  logger.info(
    {
      bind: config.bind,
      advertise: starting.address,
      voters: config.voters,
      expect: config.expect || undefined,
      replica: config.replica,
      discovery: discover,
      sealed: keys !== undefined,
      quietPeriodMs,
      stateFile: state.path || undefined,
    },
    isVoter && quietPeriodMs > 0 ? `started; a restarted voter: recovering from the other voters, or voting after a quiet period of ${quietPeriodMs} ms` : "started",
  );
  if (!keys) logger.warn("datagrams are not sealed (--insecure): anyone who can reach this port can forge locks");

  let node: LockerNode | undefined;
  const roleOf = (name: string): "voter" | "replica" | "unknown" => (node ? (node.voters().includes(name) ? "voter" : "replica") : "unknown");
  const memberList = (): Record<string, unknown>[] => {
    const all = [membership.localMember(), ...membership.members()];
    const self = readinessNow();
    return all.map((m) => ({
      name: m.name,
      address: m.address,
      state: m.state,
      incarnation: m.incarnation,
      role: roleOf(m.name),
      // Smoothed round trip of this node's direct probes of the member (null for itself, or before one was answered).
      rttMs: m.rttMs === undefined ? null : Math.round(m.rttMs * 100) / 100,
      // Each member's readiness as it advertises it (this node's: now); null while unknown.
      ready: m.name === config.name ? (self.ready ? { ok: true } : { ok: false, why: self.reason ?? "not ready" }) : readyOf(m.meta),
      meta: m.meta ?? null,
    }));
  };
  const readinessNow = (): { ready: boolean; reason?: string } => {
    if (!node) return { ready: false, reason: `bootstrapping: ${starting.bootstrapStatus() ?? "starting"}` };
    const r = node.readiness();
    return r.reason ? { ready: r.ready, reason: r.reason } : { ready: r.ready };
  };
  const datagrams = (): Record<string, unknown> => ({ in: transport.stats.datagramsIn, out: transport.stats.datagramsOut, dropped: transport.stats.dropped });

  let api: Handler | undefined;
  const limits = httpLimits(config);
  // Read before anything listens: a bad token or TLS file is a start-up error.
  const serverOptions = httpServerOptions(config);
  // Health and the bootstrap phase are answered here; everything else by the API once the node runs.
  const front: Handler = (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/v1/health") {
      req.resume();
      const r = readinessNow();
      return sendJson(res, 200, { ok: true, ...r });
    }
    if (node && isKeyringRoute(path ?? "")) return void handleKeyringRoute(req, res, path!, node.keyring, { ...limits, maxDepth: 4 });
    if (api) return api(req, res);
    req.resume();
    const r = readinessNow();
    if (req.method === "GET" && path === "/v1/members") return sendJson(res, 200, { members: memberList() });
    if (req.method === "GET" && path === "/v1/status") {
      return sendJson(res, 200, {
        name: config.name,
        version: VERSION,
        role: "unknown",
        address: starting.address,
        http: httpAddress,
        ...r,
        members: membership.members().length + 1,
        uptimeMs: Math.round(clock.now() - startedAt),
        datagrams: datagrams(),
      });
    }
    sendJson(res, 503, { error: "unavailable", message: `the node is starting: ${r.reason}` }, { "retry-after": "1" });
  };
  let http: StartedHttpServer;
  try {
    http = await startHttpServer(splitAddress(config.http, "--http"), front, { ...serverOptions, logger });
  } catch (e) {
    await starting.close({ leave: false });
    throw new LockerError("unavailable", `cannot listen on HTTP ${config.http}: ${(e as Error).message}`);
  }
  const httpAddress = http.address;
  logger.info({ http: httpAddress }, `HTTP API on http://${httpAddress}/`);

  const started = starting.started.then((n) => {
    node = n;
    events.attachLocker(n.locker);
    api = apiFor(n);
    logger.info({ voters: n.voters(), configVersion: n.configVersion() }, "serving");
    return n;
  });
  started.catch((e: unknown) => logger.error({ err: (e as Error).message }, "cannot start the node"));

  const apiFor = (n: LockerNode): Handler => {
    const { locker } = n;
    const metrics = new AgentMetrics({
      memberStates: () => {
        const counts: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
        for (const m of [membership.localMember(), ...membership.members()]) counts[m.state] = (counts[m.state] ?? 0) + 1;
        return counts;
      },
      liveLeases: () => locker.summary().leases,
      pendingRounds: () => locker.summary().pendingRounds,
      datagrams: () => ({ in: transport.stats.datagramsIn, out: transport.stats.datagramsOut, dropped: transport.stats.dropped }),
      rounds: () => {
        const s = locker.cas.stats;
        const a = n.affinity.stats;
        return { rounds: s.rounds, fast: s.fastRounds, conflicts: s.conflicts, handovers: s.handovers, coalesced: s.coalesced, forwarded: a.forwarded, served: a.served };
      },
    });
    const status = async (): Promise<Record<string, unknown>> => {
      // One probe round to the voters; a cluster without quorum still gets a status.
      const lagMs = await locker.lag({ timeoutMs: 1000 }).catch(() => null);
      const summary = locker.summary();
      return {
        name: config.name,
        version: VERSION,
        role: roleOf(config.name),
        address: n.address,
        http: httpAddress,
        ...readinessNow(),
        voters: n.voters(),
        configVersion: n.configVersion(),
        members: membership.members().length + 1,
        summary: { leases: summary.leases, pendingRounds: summary.pendingRounds, quiet: summary.quiet, quorum: summary.quorum, voters: summary.voters, acceptorKeys: summary.acceptorKeys, floorWrites: locker.cas.floorWrites },
        lagMs,
        // How this voter came back after a restart: recovered from the others, or the quiet period.
        recovery: { ...locker.cas.recoveryStatus },
        uptimeMs: Math.round(clock.now() - startedAt),
        datagrams: datagrams(),
      };
    };
    return createHttpHandler({
      locker,
      status,
      ready: () => n.ready(),
      members: memberList,
      voters: {
        current: () => ({ version: n.configVersion(), voters: n.voters() }),
        promote: async (name) => view(await n.configurator.promote(name)),
        remove: async (name) => view(await n.configurator.removeVoter(name)),
      },
      metrics,
      logger,
      clock,
      limits,
      events,
      // "/" is open even with a token: then it carries no data.
      dashboardSnapshot: serverOptions.token === undefined,
    });
  };

  let stopping: Promise<void> | undefined;
  return {
    config,
    get node() {
      return node;
    },
    started,
    fatal,
    httpAddress,
    logger,
    stop: () => {
      stopping ??= (async () => {
        logger.info("leaving the cluster");
        events.close();
        await http.close();
        await starting.close();
        clock.clearAll();
        logger.info("stopped");
      })();
      return stopping;
    },
  };
}

/**
 * `locker agent`: resolves the configuration, starts, and resolves with the exit
 * code once a signal has made the agent leave (0), or the node could not
 * start (1) — or rejects if the configuration is bad.
 */
export async function runAgentFromArgs(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  const config = resolveAgentConfig({ argv, env });
  const agent = await startAgent(config);
  if (argv.some((a) => a === "--encrypt" || a.startsWith("--encrypt="))) {
    agent.logger.warn("--encrypt on the command line is visible to every user of this host (ps); prefer --encrypt-file or LOCKER_ENCRYPT");
  }
  return new Promise<number>((resolve) => {
    let signals = 0;
    const failStop = (e: unknown): void => {
      process.stderr.write(`locker agent: ${(e as Error).message}\n`);
      void agent.stop().then(() => resolve(1));
    };
    agent.started.catch(failStop);
    void agent.fatal.then(failStop);
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        agent.logger.warn(`${signal} again: exiting without a graceful leave`);
        resolve(130);
        return;
      }
      agent.logger.info(`${signal}: leaving gracefully`);
      agent.stop().then(
        () => resolve(0),
        (e: unknown) => {
          agent.logger.error({ err: e }, "error while stopping");
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

function view(c: { version: number; voters: ReadonlyArray<{ name: string }> }): { version: number; voters: string[] } {
  return { version: c.version, voters: c.voters.map((v) => v.name) };
}

/** A member's advertised readiness (metadata from the wire: checked, not trusted), or null. */
function readyOf(meta: unknown): { ok: boolean; why?: string } | null {
  const r = (meta as { ready?: unknown } | undefined)?.ready as { ok?: unknown; why?: unknown } | undefined;
  if (!r || typeof r.ok !== "boolean") return null;
  return typeof r.why === "string" ? { ok: r.ok, why: r.why.slice(0, 200) } : { ok: r.ok };
}
