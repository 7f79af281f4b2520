// A rolling restart of the 3 voters under constant traffic (issue 11): each
// voter in turn is taken out of service (as a load balancer would on its
// health check), stopped with SIGINT, started again with the same command
// and put back once /v1/health says ready. Every answer the cluster gives
// meanwhile is counted: none may be `no_quorum` or `unavailable`, and no
// restarted voter may sit out its quiet period (--max-lease 30s here): each
// recovers from the other two and votes within seconds.
import test from "ava";
import { eventually, ready, request, spawnAgent, startCluster, type AgentProcess } from "./harness.js";

const MAX_LEASE = "30s";
const QUIET_MS = 30_000;
/** Bound on each traffic loop's run (the test's own guard; it normally ends far sooner). */
const TRAFFIC_LIMIT_MS = 120_000;

test("rolling restart of the 3 voters under traffic: 0 no_quorum, 0 unavailable, each restarted voter recovers instead of waiting out its quiet period", async (t) => {
  t.timeout(240_000);
  const cluster = await startCluster("roll", 3, ["--max-lease", MAX_LEASE]);
  const agents: AgentProcess[] = [...cluster.agents];
  t.teardown(async () => {
    await Promise.all(agents.map((a) => a.kill("SIGKILL")));
    cluster.dataDir.remove();
  });
  const inService = new Set<number>([0, 1, 2]);
  const inFlight = [0, 0, 0];
  const answers = new Map<string, number>();
  const count = (what: string): void => void answers.set(what, (answers.get(what) ?? 0) + 1);
  /** The first message of each kind of failed answer, for the log. */
  const firstMessage = new Map<string, string>();
  const failed = (what: string, message: unknown): void => {
    count(what);
    if (!firstMessage.has(what)) firstMessage.set(what, String(message));
  };
  let running = true;
  const startedAt = Date.now();

  const worker = async (w: number): Promise<void> => {
    let n = 0;
    while (running && Date.now() - startedAt < TRAFFIC_LIMIT_MS) {
      const candidates = [...inService];
      if (candidates.length === 0) {
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      const i = candidates[(w + n) % candidates.length]!;
      const key = `roll/w${w}-${n++ % 8}`;
      const value = `w${w}.${n}`;
      inFlight[i]!++;
      try {
        const lock = await request(agents[i]!.http, "PUT", `/v1/keys/${key}`, { value, leaseMs: 5000 }, 10_000);
        if (lock.status === 200) count("lock ok");
        else failed(`lock ${String(lock.json.error)}`, lock.json.message);
        if (lock.status === 200) {
          const rel = await request(agents[i]!.http, "POST", `/v1/keys/${key}/release`, { value }, 10_000);
          if (rel.status === 200) count("release ok");
          else failed(`release ${String(rel.json.error)}`, rel.json.message);
        }
      } catch (e) {
        // The connection itself failed (not an answer of the cluster).
        count(`connection ${(e as Error).message.slice(0, 40)}`);
      } finally {
        inFlight[i]!--;
      }
    }
  };
  const traffic = Promise.all(Array.from({ length: 6 }, (_, w) => worker(w)));

  const restarts: string[] = [];
  for (let i = 0; i < 3; i++) {
    const old = agents[i]!;
    // Out of service, then drained: no request of ours is cut off by the stop.
    inService.delete(i);
    while (inFlight[i]! > 0) await new Promise((r) => setTimeout(r, 5));
    old.proc.kill("SIGINT");
    t.is((await old.exited).code, 0, `${old.name} left gracefully`);
    const [, udpPort] = old.udp.split(":");
    const [, httpPort] = old.http.split(":");
    const restartedAt = Date.now();
    const args = old.proc.spawnargs.slice(old.proc.spawnargs.indexOf("agent") + 1);
    const again = await spawnAgent({ udpPort: Number(udpPort), httpPort: Number(httpPort), args: stripAddresses(args) });
    again.name = old.name;
    agents[i] = again;
    await ready(again, QUIET_MS);
    // Ready (the other two vote) comes first; its own vote follows once it recovered.
    const status = await eventually(
      `${old.name} to recover`,
      async () => {
        const s = await request(again.http, "GET", "/v1/status");
        return (s.json.recovery as { state?: string } | undefined)?.state === "recovering" ? undefined : s;
      },
      QUIET_MS,
    );
    const recovery = status.json.recovery as { state: string; tookMs: number; keys: number };
    const readyAfterMs = Date.now() - restartedAt;
    restarts.push(`${old.name}: ready ${readyAfterMs} ms after its start, ${recovery.state} in ${Math.round(recovery.tookMs)} ms (${recovery.keys} keys)`);
    t.is(recovery.state, "recovered", `${old.name} recovered from the others: ${JSON.stringify(status.json.recovery)}`);
    t.true(readyAfterMs < QUIET_MS / 2, `${old.name} was ready only after ${readyAfterMs} ms (its quiet period is ${QUIET_MS} ms)`);
    t.is((status.json.summary as { quiet: boolean }).quiet, false, `${old.name} votes`);
    t.regex(again.output(), /recovered from the other voters; voting again without waiting out the quiet period/);
    inService.add(i);
    // Traffic through the restarted voter before the next one goes.
    await new Promise((r) => setTimeout(r, 500));
  }
  running = false;
  await traffic;
  const summary = Object.fromEntries([...answers].sort());
  t.log(restarts.join("\n"));
  t.log(`answers during the rolling restart: ${JSON.stringify(summary)}`);
  for (const [what, message] of firstMessage) t.log(`first ${what}: ${message}`);
  t.true((answers.get("lock ok") ?? 0) > 50, "traffic kept flowing");
  for (const [what, n] of answers) {
    t.false(/no_quorum|unavailable/.test(what), `${n} answers were ${what}`);
    t.false(what.startsWith("connection"), `${n} requests failed to connect (${what}): traffic only goes to agents in service`);
  }
  t.is(answers.get("release timeout") ?? 0, 0, "no holder's release failed");
});

/** The spawn arguments without --bind/--http (spawnAgent adds them again with the same ports). */
function stripAddresses(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--bind" || args[i] === "--http") {
      i++;
      continue;
    }
    out.push(args[i]!);
  }
  return out;
}
