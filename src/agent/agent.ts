// The agent: one locker node (transport + membership + Locker) with the HTTP
// API, metrics and logs around it, and a graceful leave on SIGTERM/SIGINT.
import { LockerError } from "../errors.js";
import { startNode, type LockerNode } from "../node.js";
import { SystemClock } from "../util/clock.js";
import { cryptoSeededRandom } from "../util/random.js";
import { Keyring } from "../wire/keyring.js";
import { resolveAgentConfig, splitAddress, type AgentConfig } from "./config.js";
import { createHttpHandler, DEFAULT_HTTP_LIMITS, startHttpServer, type StartedHttpServer } from "./http.js";
import { createLogger, type Logger } from "./logger.js";
import { AgentMetrics } from "./metrics.js";
import { recordStart } from "./state-file.js";

export interface Agent {
  readonly config: AgentConfig;
  readonly node: LockerNode;
  /** The HTTP API's bound address (the real port when port 0 was asked for). */
  readonly httpAddress: string;
  readonly logger: Logger;
  /** Leaves the cluster gracefully and stops everything. Safe to call twice. */
  stop(): Promise<void>;
}

const VERSION = "0.1.0";

export async function startAgent(config: AgentConfig, options: { logger?: Logger } = {}): Promise<Agent> {
  const logger = options.logger ?? createLogger({ level: config.logLevel, name: config.name });
  const clock = new SystemClock();
  const random = cryptoSeededRandom();
  const startedAt = clock.now();

  const state = recordStart(config.dataDir, config.name, clock.wallNow());
  if (state.warning) logger.warn(state.warning);
  const isVoter = !config.replica && (config.voters.includes(config.name) || config.expect > 0);
  // A voter that provably never voted cannot have granted a lease that is still live,
  // so it need not sit out the quiet period (DESIGN: quiet period after memory loss).
  const quietPeriodMs = state.fresh ? 0 : config.maxLeaseMs;

  const node = await startNode({
    name: config.name,
    bind: config.bind,
    join: config.join,
    voters: config.voters,
    expect: config.expect,
    replica: config.replica,
    clusterLabel: config.cluster,
    keyring: config.encrypt.length > 0 ? Keyring.fromBase64(config.encrypt) : undefined,
    limits: { maxLeaseMs: config.maxLeaseMs, maxKeyBytes: config.maxKeyBytes, maxValueBytes: config.maxValueBytes },
    quietPeriodMs,
    meta: { http: config.http },
    clock,
    random,
    logger,
  });
  const { locker, membership, transport } = node;
  logger.info(
    { bind: config.bind, voters: config.voters, expect: config.expect || undefined, replica: config.replica, quietPeriodMs, stateFile: state.path || undefined },
    isVoter && quietPeriodMs > 0 ? `started; voting after a quiet period of ${quietPeriodMs} ms (restarted node)` : "started",
  );

  const roleOf = (name: string): "voter" | "replica" => (node.voters().includes(name) ? "voter" : "replica");
  const memberList = (): Record<string, unknown>[] => {
    const all = [membership.localMember(), ...membership.members()];
    return all.map((m) => ({ name: m.name, address: m.address, state: m.state, incarnation: m.incarnation, role: roleOf(m.name), meta: m.meta ?? null }));
  };
  const metrics = new AgentMetrics({
    memberStates: () => {
      const counts: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
      for (const m of [membership.localMember(), ...membership.members()]) counts[m.state] = (counts[m.state] ?? 0) + 1;
      return counts;
    },
    liveLeases: () => locker.summary().leases,
    pendingRounds: () => locker.summary().pendingRounds,
    datagrams: () => ({ in: transport.stats.datagramsIn, out: transport.stats.datagramsOut, dropped: transport.stats.dropped }),
  });

  const status = async (): Promise<Record<string, unknown>> => {
    // One probe round to the voters; a cluster without quorum still gets a status.
    const lagMs = await locker.lag({ timeoutMs: 1000 }).catch(() => null);
    const summary = locker.summary();
    return {
      name: config.name,
      version: VERSION,
      role: roleOf(config.name),
      address: transport.address,
      http: httpAddress,
      ready: node.ready(),
      voters: node.voters(),
      configVersion: node.configVersion(),
      members: membership.members().length + 1,
      summary: { leases: summary.leases, pendingRounds: summary.pendingRounds, quiet: summary.quiet, quorum: summary.quorum, voters: summary.voters, acceptorKeys: summary.acceptorKeys },
      lagMs,
      uptimeMs: Math.round(clock.now() - startedAt),
      datagrams: { in: transport.stats.datagramsIn, out: transport.stats.datagramsOut, dropped: transport.stats.dropped },
    };
  };
  const handler = createHttpHandler({
    locker,
    status,
    ready: () => node.ready(),
    members: memberList,
    voters: {
      current: () => ({ version: node.configVersion(), voters: node.voters() }),
      promote: async (name) => view(await node.configurator.promote(name)),
      remove: async (name) => view(await node.configurator.removeVoter(name)),
    },
    metrics,
    logger,
    clock,
    limits: { ...DEFAULT_HTTP_LIMITS, maxKeyBytes: config.maxKeyBytes, maxValueBytes: config.maxValueBytes, maxLeaseMs: config.maxLeaseMs },
  });
  let http: StartedHttpServer;
  try {
    http = await startHttpServer(splitAddress(config.http, "--http"), handler);
  } catch (e) {
    await node.close();
    throw new LockerError("unavailable", `cannot listen on HTTP ${config.http}: ${(e as Error).message}`);
  }
  const httpAddress = http.address;
  logger.info({ http: httpAddress }, `HTTP API on http://${httpAddress}/`);

  let stopping: Promise<void> | undefined;
  return {
    config,
    node,
    httpAddress,
    logger,
    stop: () => {
      stopping ??= (async () => {
        logger.info("leaving the cluster");
        await http.close();
        await node.close();
        clock.clearAll();
        logger.info("stopped");
      })();
      return stopping;
    },
  };
}

/**
 * `locker agent`: resolves the configuration, starts, and resolves with the exit
 * code once a signal has made the agent leave (0) — or rejects if it cannot start.
 */
export async function runAgentFromArgs(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  const config = resolveAgentConfig({ argv, env });
  const agent = await startAgent(config);
  return new Promise<number>((resolve) => {
    let signals = 0;
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
