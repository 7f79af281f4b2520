// A LAN of N hosts for multi-host tests, built from network namespaces.
//
// Topology (everything lives in namespaces this module creates; nothing is
// added to the root namespace, no namespace has a default route):
//
//   <prefix>-br : bridge br0 (multicast snooping off) with ports p1..pN
//   <prefix>-hI : eth0 = 10.77.0.I/24 (veth peer of pI), lo up,
//                 route 224.0.0.0/4 dev eth0 (multicast discovery),
//                 nftables table `inet locker`, chain `in` on the input hook
//
// Each host runs processes under `unshare --uts` with its own hostname (hI),
// so an agent's default name `hostname:port` differs per host, and with its
// own working directory (the same relative --data-dir means a different
// directory per host: the very same command line runs on every host).
// An agent's stdout and stderr go to a log file under the host directory;
// tests print their tails when they fail. HTTP requests reach the agents
// through one small relay process per host (fixtures/http-relay.ts) running
// inside that host's namespace.
//
// Faults are nftables rules on each host's input hook (an output-hook drop
// makes send() fail with EPERM instead of losing the datagram): random UDP
// loss, partitions by source address, heal.
//
// Cleanup: every process is killed by its PID and every namespace deleted by
// destroy() (tests call it from t.teardown), again from a process 'exit'
// handler, and at the start of the next run for namespaces whose creating
// test process is gone. Every wait here is bounded in count and time.
//
// Traffic only goes to addresses inside these namespaces or to loopback.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const BIN = join(ROOT, "bin", "locker.js");
const RELAY = fileURLToPath(new URL("./fixtures/http-relay.js", import.meta.url));

// By absolute path: under npm scripts node_modules/.bin comes first in PATH,
// and a dev dependency ships an unrelated "nft" command.
const find = (...paths: string[]): string | undefined => paths.find((p) => existsSync(p));
const IP = find("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip");
const NFT = find("/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft");
const UNSHARE = find("/usr/bin/unshare", "/bin/unshare", "/usr/sbin/unshare");
const SH = find("/bin/sh", "/usr/bin/sh") ?? "/bin/sh";

/** Namespaces of this module are named `${NS_PREFIX}${pid}-${seq}-…`; the pid is the test process that made them. */
const NS_PREFIX = "locker-lan-";
export const SUBNET = "10.77.0.";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function ip(...args: string[]): string {
  return execFileSync(IP!, args, { stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 }).toString();
}

function quietly(f: () => unknown): void {
  try {
    f();
  } catch {
    // best effort (cleanup)
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

let cachedReason: string | undefined | null = null;

/** Why this machine cannot run the LAN tests, or undefined when it can (checked once per process). */
export function lanUnavailableReason(): string | undefined {
  if (cachedReason !== null) return cachedReason;
  cachedReason = probe();
  return cachedReason;
}

function probe(): string | undefined {
  if (process.platform !== "linux") return "needs Linux network namespaces";
  if (process.getuid?.() !== 0) return "needs root (network namespaces, veth, bridge, nftables)";
  if (!IP) return "needs iproute2's 'ip' (scripts/ensure-test-tools.sh installs it)";
  if (!NFT) return "needs nftables' 'nft' (scripts/ensure-test-tools.sh installs it)";
  if (!UNSHARE) return "needs util-linux's 'unshare' (scripts/ensure-test-tools.sh installs it)";
  const ns = `${NS_PREFIX}${process.pid}-probe`;
  try {
    quietly(() => ip("netns", "del", ns));
    ip("netns", "add", ns);
    ip("-n", ns, "link", "add", "br0", "type", "bridge");
    ip("-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1");
    execFileSync(IP, ["netns", "exec", ns, NFT, "add", "table", "inet", "probe"], { stdio: "ignore", timeout: 10_000 });
    execFileSync(IP, ["netns", "exec", ns, UNSHARE, "--uts", "--", SH, "-c", "hostname probe 2>/dev/null || echo probe > /proc/sys/kernel/hostname"], {
      stdio: "ignore",
      timeout: 10_000,
    });
  } catch (e) {
    return `cannot build namespaces here (${((e as Error).message.split("\n")[0] ?? "").slice(0, 200)})`;
  } finally {
    quietly(() => ip("netns", "del", ns));
  }
  return undefined;
}

/**
 * Removes namespaces (and the processes in them, by PID) that an earlier run
 * of this module left behind: those whose creating test process is gone.
 * Namespaces of live test processes (concurrent runs) are left alone.
 */
export function cleanupLeftovers(): string[] {
  if (!IP) return [];
  let list = "";
  try {
    list = ip("netns", "list");
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const line of list.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(name);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner !== process.pid && pidAlive(owner)) continue;
    if (owner === process.pid && [...live].some((l) => l.namespaces().includes(name))) continue;
    quietly(() => {
      for (const p of ip("netns", "pids", name).split("\n").map(Number).filter((n) => n > 0)) quietly(() => process.kill(p, "SIGKILL"));
    });
    quietly(() => ip("netns", "del", name));
    removed.push(name);
  }
  // Working directories of gone runs (logs of failed tests are kept until then).
  quietly(() => {
    for (const d of readdirSync(tmpdir())) {
      const m = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(d);
      if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) {
        const path = join(tmpdir(), d);
        if (Date.now() - statSync(path).mtimeMs > 24 * 3600_000) rmSync(path, { recursive: true, force: true });
      }
    }
  });
  return removed;
}

// ---------------------------------------------------------------------------

export interface HttpAnswer {
  status: number;
  text: string;
  /** Parsed body ({} when not JSON). */
  json: Record<string, unknown>;
  ms: number;
}

export interface Member {
  name: string;
  address: string;
  state: string;
  incarnation: number;
  role?: string;
  meta?: unknown;
}

/** One HTTP client process inside a host's namespace. */
class Relay {
  private nextId = 1;
  private readonly waiting = new Map<number, (o: Record<string, unknown>) => void>();
  private readonly child: ChildProcess;

  constructor(ns: string) {
    this.child = spawn(IP!, ["netns", "exec", ns, process.execPath, RELAY, SUBNET], { stdio: ["pipe", "pipe", "ignore"] });
    this.child.on("error", () => {});
    this.child.stdin!.on("error", () => {});
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      const id = Number(o.id);
      this.waiting.get(id)?.(o);
      this.waiting.delete(id);
    });
    this.child.once("exit", () => {
      for (const [id, w] of this.waiting) {
        this.waiting.delete(id);
        w({ error: "relay exited" });
      }
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  request(host: string, port: number, method: string, path: string, body: unknown, timeoutMs: number): Promise<HttpAnswer> {
    if (this.exited) return Promise.reject(new Error("relay exited"));
    const id = this.nextId++;
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const guard = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${method} ${host}:${port}${path}: relay gave no answer within ${timeoutMs + 2000} ms`));
      }, timeoutMs + 2000);
      this.waiting.set(id, (o) => {
        clearTimeout(guard);
        if (typeof o.error === "string") {
          reject(new Error(`${method} ${host}:${port}${path}: ${o.error}`));
          return;
        }
        const text = String(o.text ?? "");
        let json: Record<string, unknown> = {};
        try {
          const parsed: unknown = JSON.parse(text);
          if (parsed && typeof parsed === "object") json = parsed as Record<string, unknown>;
        } catch {
          // not JSON
        }
        resolve({ status: Number(o.status), text, json, ms: Number(o.ms) });
      });
      this.child.stdin!.write(JSON.stringify({ id, method, host, port, path, body: payload, timeoutMs }) + "\n");
    });
  }

  kill(): void {
    if (!this.exited && this.child.pid) quietly(() => process.kill(this.child.pid!, "SIGKILL"));
  }
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One `locker agent` process on a host. */
export class Agent {
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  exit: ExitStatus | undefined;
  /** The HTTP API as reached from inside the host's namespace. */
  readonly httpHost: string;
  readonly httpPort: number;

  constructor(
    readonly host: Host,
    readonly args: string[],
    readonly env: Record<string, string>,
    readonly logFile: string,
    private readonly child: ChildProcess,
  ) {
    if (!child.pid) throw new Error(`${host.name}: agent did not start`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
    const flag = args.indexOf("--http");
    const http = flag >= 0 ? args[flag + 1]! : (env.LOCKER_HTTP ?? "127.0.0.1:7947");
    const colon = http.lastIndexOf(":");
    const h = http.slice(0, colon).replace(/^\[|\]$/g, "");
    this.httpHost = h === "0.0.0.0" || h === "::" || h === "" || h === "localhost" ? "127.0.0.1" : h;
    this.httpPort = Number(http.slice(colon + 1));
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** `GET /v1/...` etc. on this agent, from inside its namespace. */
  http(method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<HttpAnswer> {
    return this.host.request(this.httpHost, this.httpPort, method, path, body, timeoutMs);
  }

  async members(timeoutMs = 3000): Promise<Member[]> {
    const r = await this.http("GET", "/v1/members", undefined, timeoutMs);
    if (r.status !== 200 || !Array.isArray(r.json.members)) throw new Error(`${this.host.name}: /v1/members answered ${r.status} ${r.text.slice(0, 200)}`);
    return r.json.members as Member[];
  }

  async health(timeoutMs = 3000): Promise<{ ok?: boolean; ready?: boolean; reason?: string }> {
    return (await this.http("GET", "/v1/health", undefined, timeoutMs)).json;
  }

  /** The agent's own member name (from /v1/status). */
  async name(): Promise<string> {
    const r = await this.http("GET", "/v1/status");
    return String(r.json.name);
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    this.host.lan.note(`${this.host.name}: ${sig} agent pid ${this.pid}`);
    quietly(() => process.kill(this.pid, sig));
  }

  pause(): void {
    this.signal("SIGSTOP");
  }

  resume(): void {
    this.signal("SIGCONT");
  }

  /** SIGKILL, resolves when it is gone. */
  async kill(): Promise<ExitStatus> {
    this.signal("SIGCONT");
    this.signal("SIGKILL");
    return this.exited;
  }

  /** Graceful stop (SIGINT by default, like Ctrl-C); SIGKILL after `graceMs`. */
  async stop(sig: NodeJS.Signals = "SIGINT", graceMs = 10_000): Promise<ExitStatus> {
    if (!this.running) return this.exit!;
    this.signal("SIGCONT");
    this.signal(sig);
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Starts the same command again on the same host (same working directory, so the same data dir); `env` replaces its environment additions when given. */
  restart(env?: Record<string, string>): Agent {
    if (this.running) throw new Error(`${this.host.name}: restart of a running agent (pid ${this.pid})`);
    return this.host.start(this.args, { env: env ?? this.env });
  }

  /** The last `lines` lines of its log. */
  log(lines = 30): string {
    try {
      return readFileSync(this.logFile, "utf8").split("\n").slice(-lines - 1).join("\n");
    } catch {
      return "(no log)";
    }
  }
}

/** One host: a network namespace with its own address, hostname and directory. */
export class Host {
  readonly agents: Agent[] = [];
  private relay: Relay | undefined;
  private nftReady = false;

  constructor(
    readonly lan: Lan,
    /** h1, h2, … (also its hostname) */
    readonly name: string,
    /** Network namespace name. */
    readonly ns: string,
    /** 10.77.0.I, without a port. */
    readonly address: string,
    /** Working directory of its processes. */
    readonly dir: string,
  ) {}

  /** Runs a command inside the namespace (synchronously, for setup). */
  exec(cmd: string, ...args: string[]): string {
    return execFileSync(IP!, ["netns", "exec", this.ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 }).toString();
  }

  /** One nft command inside the namespace, e.g. `add rule inet locker in udp dport 7946 drop`. */
  nft(rule: string): void {
    if (!this.nftReady) {
      this.exec(NFT!, "add", "table", "inet", "locker");
      this.exec(NFT!, "add", "chain", "inet", "locker", "in", "{", "type", "filter", "hook", "input", "priority", "0", ";", "}");
      this.nftReady = true;
    }
    this.exec(NFT!, ...rule.split(" ").filter(Boolean));
  }

  /** Starts `locker agent ARGS` on this host; its output goes to a log file. LOCKER_* of the test's environment are not passed on. */
  start(args: string[], opts: { env?: Record<string, string> } = {}): Agent {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("LOCKER_")) env[k] = v;
    Object.assign(env, opts.env ?? {});
    const logFile = join(this.dir, `agent-${this.agents.length + 1}.log`);
    const fd = openSync(logFile, "a");
    let child: ChildProcess;
    try {
      writeFileSync(fd, `# ${new Date().toISOString()} ${this.name}: locker agent ${args.join(" ")}\n`);
      // ip netns exec and unshare exec (no fork), the shell execs node: the child's PID is the agent's.
      const script = 'hostname "$0" 2>/dev/null || echo "$0" > /proc/sys/kernel/hostname || exit 97; exec "$@"';
      child = spawn(IP!, ["netns", "exec", this.ns, UNSHARE!, "--uts", "--", SH, "-c", script, this.name, process.execPath, BIN, "agent", ...args], {
        cwd: this.dir,
        env,
        stdio: ["ignore", fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    child.on("error", () => {});
    const agent = new Agent(this, args, opts.env ?? {}, logFile, child);
    this.lan.note(`${this.name}: started agent pid ${agent.pid} (${logFile})`);
    this.agents.push(agent);
    return agent;
  }

  /** An HTTP request made from inside this namespace (to loopback or a LAN address). */
  request(host: string, port: number, method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<HttpAnswer> {
    if (!this.relay || this.relay.exited) this.relay = new Relay(this.ns);
    return this.relay.request(host, port, method, path, body, timeoutMs);
  }

  pids(): number[] {
    const p = this.agents.filter((a) => a.running).map((a) => a.pid);
    if (this.relay?.pid && !this.relay.exited) p.push(this.relay.pid);
    return p;
  }

  /** Kills everything it runs (SIGKILL by PID). */
  killAll(): void {
    for (const a of this.agents) {
      if (a.running) {
        quietly(() => process.kill(a.pid, "SIGCONT"));
        quietly(() => process.kill(a.pid, "SIGKILL"));
      }
    }
    this.relay?.kill();
  }
}

const live = new Set<Lan>();
let exitHookInstalled = false;
let seq = 0;

export interface LanOptions {
  hosts: number;
  /** Kept in the namespace names, for whoever lists them. */
  label?: string;
}

/** N hosts on one bridge. */
export class Lan {
  readonly hosts: Host[] = [];
  readonly prefix: string;
  readonly bridgeNs: string;
  readonly dir: string;
  /** What the test did to the LAN, with wall-clock times (epoch ms, as in the agents' JSON logs). */
  readonly events: string[] = [];
  private destroyed = false;

  private constructor(label: string) {
    this.prefix = `${NS_PREFIX}${process.pid}-${++seq}${label ? `-${label.replace(/[^a-z0-9]/gi, "").slice(0, 12)}` : ""}`;
    this.bridgeNs = `${this.prefix}-br`;
    this.dir = mkdtempSync(join(tmpdir(), `${NS_PREFIX}${process.pid}-`));
  }

  /** Builds the LAN. Throws (after cleaning up) when it cannot; check lanUnavailableReason() first. */
  static create(opts: LanOptions): Lan {
    const reason = lanUnavailableReason();
    if (reason) throw new Error(`LAN tests unavailable: ${reason}`);
    if (opts.hosts < 1 || opts.hosts > 200) throw new RangeError("1..200 hosts");
    cleanupLeftovers();
    installExitHook();
    const lan = new Lan(opts.label ?? "");
    live.add(lan);
    try {
      ip("netns", "add", lan.bridgeNs);
      ip("-n", lan.bridgeNs, "link", "set", "lo", "up");
      // Snooping off: multicast floods to every port, whatever IGMP reports went missing.
      ip("-n", lan.bridgeNs, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
      ip("-n", lan.bridgeNs, "link", "set", "br0", "up");
      for (let i = 1; i <= opts.hosts; i++) lan.addHost();
    } catch (e) {
      lan.destroySync();
      throw e;
    }
    return lan;
  }

  /** Adds host h(N+1) to the bridge. */
  addHost(): Host {
    const i = this.hosts.length + 1;
    const name = `h${i}`;
    const ns = `${this.prefix}-${name}`;
    const address = `${SUBNET}${i}`;
    const dir = join(this.dir, name);
    mkdirSync(dir, { recursive: true });
    const host = new Host(this, name, ns, address, dir);
    this.hosts.push(host);
    ip("netns", "add", ns);
    ip("-n", ns, "link", "set", "lo", "up");
    // Created inside the bridge namespace with its peer moved straight into the host's: no link ever exists in the root namespace.
    ip("-n", this.bridgeNs, "link", "add", `p${i}`, "type", "veth", "peer", "name", "eth0", "netns", ns);
    ip("-n", this.bridgeNs, "link", "set", `p${i}`, "master", "br0");
    ip("-n", this.bridgeNs, "link", "set", `p${i}`, "up");
    ip("-n", ns, "addr", "add", `${address}/24`, "dev", "eth0");
    ip("-n", ns, "link", "set", "eth0", "up");
    ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0");
    host.nft("list table inet locker");
    return host;
  }

  /** Records an event (also in <dir>/events.log). */
  note(what: string): void {
    const now = Date.now();
    const line = `${new Date(now).toISOString()} (${now}) ${what}`;
    this.events.push(line);
    quietly(() => writeFileSync(join(this.dir, "events.log"), line + "\n", { flag: "a" }));
  }

  host(name: string): Host {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  namespaces(): string[] {
    return [this.bridgeNs, ...this.hosts.map((h) => h.ns)];
  }

  /** Every agent ever started, running or not. */
  get agents(): Agent[] {
    return this.hosts.flatMap((h) => h.agents);
  }

  /** Drops `percent`% of incoming UDP datagrams on each of `hosts` (default: all). */
  loss(percent: number, hosts: Host[] = this.hosts): void {
    if (!(percent >= 0 && percent <= 100)) throw new RangeError("percent");
    for (const h of hosts) h.nft(`add rule inet locker in meta l4proto udp numgen random mod 100 < ${Math.round(percent)} drop`);
    this.note(`${Math.round(percent)} % UDP loss on ${hosts.map((h) => h.name).join(",")}`);
  }

  /** Cuts the LAN into sides: a host drops everything coming from hosts of other sides. Hosts not listed are left alone. */
  partition(...sides: Host[][]): void {
    for (const side of sides) {
      const others = sides.filter((s) => s !== side).flat();
      if (others.length === 0) continue;
      for (const h of side) h.nft(`add rule inet locker in ip saddr { ${others.map((o) => o.address).join(", ")} } drop`);
    }
    this.note(`partition ${sides.map((side) => side.map((h) => h.name).join(",")).join(" | ")}`);
  }

  /** Removes every fault rule. */
  heal(): void {
    for (const h of this.hosts) h.nft("flush chain inet locker in");
    this.note("heal: every fault rule removed");
  }

  /** Log tails of every agent, for a failing test. */
  logs(lines = 25): string {
    const events = `--- events\n${this.events.join("\n")}\n`;
    return events + this.agents.map((a) => `--- ${a.host.name} pid ${a.pid} (${a.logFile}) exit ${JSON.stringify(a.exit ?? "running")}\n${a.log(lines)}`).join("\n");
  }

  /** Kills every process (by PID, bounded wait), deletes every namespace; removes the logs unless `keepLogs`. */
  async destroy(opts: { keepLogs?: boolean } = {}): Promise<void> {
    if (this.destroyed) return;
    for (const h of this.hosts) h.killAll();
    const running = this.agents.filter((a) => a.running);
    await Promise.race([Promise.all(running.map((a) => a.exited)), sleep(5000)]);
    this.destroySync(opts);
  }

  /** Synchronous cleanup (also run from the process 'exit' handler). */
  destroySync(opts: { keepLogs?: boolean } = { keepLogs: true }): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const h of this.hosts) h.killAll();
    for (const ns of this.namespaces()) {
      // Anything still in there was started by us (agents' children, if any).
      quietly(() => {
        for (const p of ip("netns", "pids", ns).split("\n").map(Number).filter((n) => n > 0)) quietly(() => process.kill(p, "SIGKILL"));
      });
      quietly(() => ip("netns", "del", ns));
    }
    if (!opts.keepLogs) quietly(() => rmSync(this.dir, { recursive: true, force: true }));
    live.delete(this);
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const lan of [...live]) lan.destroySync({ keepLogs: true });
    releaseLanLock();
  });
}

// ---------------------------------------------------------------------------
// Helpers for tests.

/** Thrown from an until() probe: stop polling, fail now (e.g. the agent exited). */
export class Fatal extends Error {}

/** Polls `probe` every `intervalMs` until it returns something other than undefined; throws after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs = 200): Promise<T> {
  const started = Date.now();
  let last: unknown;
  const maxRounds = Math.ceil(timeoutMs / Math.max(1, intervalMs)) + 10;
  for (let round = 0; round < maxRounds; round++) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      last = e;
    }
    if (Date.now() - started > timeoutMs) break;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message ?? String(last)}` : ""}`);
}

/** Waits until `agent` answers /v1/health with ready:true. */
export function whenReady(agent: Agent, timeoutMs: number): Promise<true> {
  return until(
    `${agent.host.name} to be ready`,
    async () => {
      if (!agent.running) throw new Fatal(`${agent.host.name}: agent exited ${JSON.stringify(agent.exit)}:\n${agent.log(15)}`);
      const h = await agent.health();
      return h.ready === true ? true : undefined;
    },
    timeoutMs,
    200,
  );
}

/** Waits until every agent in `observers` shows exactly the members named in `names` alive (extra members must not be alive). Returns their views. */
export function whenAllAlive(observers: Agent[], names: string[], timeoutMs: number, intervalMs = 200): Promise<Map<Agent, Member[]>> {
  const want = [...names].sort().join(",");
  return until(
    `${observers.map((o) => o.host.name).join(",")} to show ${want} alive`,
    async () => {
      const views = new Map<Agent, Member[]>();
      const seen: string[] = [];
      for (const o of observers) {
        if (!o.running) throw new Fatal(`${o.host.name}: agent exited ${JSON.stringify(o.exit)}:\n${o.log(15)}`);
        const ms = await o.members(2000);
        const alive = ms.filter((m) => m.state === "alive").map((m) => m.name).sort().join(",");
        seen.push(`${o.host.name}: ${ms.map((m) => `${m.name}=${m.state}`).join(" ")}`);
        if (alive !== want) throw new Error(seen.join("; "));
        views.set(o, ms);
      }
      return views;
    },
    timeoutMs,
    intervalMs,
  );
}

export interface Sighting {
  /** ms since the watch started */
  at: number;
  observer: string;
  member: string;
  state: string;
}

/**
 * Polls every observer's /v1/members every `intervalMs` (one request per
 * observer in flight at a time) and records each time a member in `watched`
 * is shown in a state other than alive. stop() returns what it saw.
 */
export function watchMembers(observers: Agent[], watched: () => Set<string>, intervalMs = 250): { stop(): Promise<{ sightings: Sighting[]; polls: number; errors: number }> } {
  const started = Date.now();
  const sightings: Sighting[] = [];
  let polls = 0;
  let errors = 0;
  let stopped = false;
  const loops = observers.map(async (o) => {
    const maxRounds = 100_000;
    for (let round = 0; round < maxRounds && !stopped; round++) {
      const t0 = Date.now();
      try {
        const ms = await o.members(Math.max(1000, intervalMs * 4));
        polls++;
        const w = watched();
        for (const m of ms) if (w.has(m.name) && m.state !== "alive") sightings.push({ at: Date.now() - started, observer: o.host.name, member: m.name, state: m.state });
      } catch {
        errors++;
      }
      await sleep(Math.max(0, intervalMs - (Date.now() - t0)));
    }
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.race([Promise.all(loops), sleep(10_000)]);
      return { sightings, polls, errors };
    },
  };
}

/** Groups sightings into episodes per (observer, member, state), for messages. */
export function describeSightings(s: Sighting[], gapMs = 1000): string[] {
  const episodes = new Map<string, { from: number; to: number; n: number }[]>();
  for (const x of s) {
    const k = `${x.observer} saw ${x.member} ${x.state}`;
    const list = episodes.get(k) ?? [];
    const last = list[list.length - 1];
    if (last && x.at - last.to <= gapMs) {
      last.to = x.at;
      last.n++;
    } else list.push({ from: x.at, to: x.at, n: 1 });
    episodes.set(k, list);
  }
  return [...episodes].flatMap(([k, list]) => list.map((e) => `${k} at ${(e.from / 1000).toFixed(1)}–${(e.to / 1000).toFixed(1)} s (${e.n} polls)`));
}

// ---------------------------------------------------------------------------
// One LAN test file at a time on this machine: they measure timings, and two
// of them at once on two cores would measure each other. A fair queue: each
// waiter drops a ticket (start time, PID) into a directory; the oldest ticket
// of a live process holds the lock; tickets of dead processes are removed.

const QUEUE = join(tmpdir(), "locker-lan-tests.queue");
let ticket: string | undefined;

function queueHead(): string | undefined {
  let names: string[] = [];
  try {
    names = readdirSync(QUEUE).filter((n) => /^\d+-\d+$/.test(n)).sort();
  } catch {
    return undefined;
  }
  for (const n of names) {
    const pid = Number(n.split("-")[1]);
    if (pid === process.pid || pidAlive(pid)) return n;
    quietly(() => rmSync(join(QUEUE, n), { force: true }));
  }
  return undefined;
}

export async function acquireLanLock(maxWaitMs = 100_000): Promise<{ waitedMs: number; acquired: boolean }> {
  const started = Date.now();
  installExitHook();
  if (!ticket) {
    mkdirSync(QUEUE, { recursive: true });
    ticket = `${String(Date.now()).padStart(15, "0")}-${process.pid}`;
    writeFileSync(join(QUEUE, ticket), "");
  }
  for (let round = 0; round < Math.ceil(maxWaitMs / 200) + 1; round++) {
    if (queueHead() === ticket) return { waitedMs: Date.now() - started, acquired: true };
    if (Date.now() - started > maxWaitMs) break;
    await sleep(200);
  }
  return { waitedMs: Date.now() - started, acquired: false };
}

export function releaseLanLock(): void {
  if (!ticket) return;
  const mine = ticket;
  ticket = undefined;
  quietly(() => rmSync(join(QUEUE, mine), { force: true }));
}
