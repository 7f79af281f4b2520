// Benchmark: SIGKILL detection, 5 real locker agents (the product, default
// `lan` timings) against 5 hashicorp/memberlist 0.2.2 nodes (DefaultLANConfig,
// Debian's golang-github-hashicorp-memberlist-dev, built from
// bench/memberlist/main.go), side by side in one run on loopback. Each round
// starts 5 fresh nodes of one implementation, waits until all see all, kills
// one with SIGKILL and measures the time until every survivor shows it dead.
// Rounds alternate between the two, so machine noise hits both alike.
// Usage: npm run bench:kill -- [--rounds N]   (needs `go`; .ci never runs it)
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin", "locker.js");
const GO_SRC = join(ROOT, "bench", "memberlist");
const N = 5;
const VICTIM = 2; // n3: a voter, not the seed

type Impl = "locker" | "memberlist";

interface Node {
  name: string;
  child: ChildProcess;
  /** Members this node currently holds alive (others), from its event stream. */
  alive: Set<string>;
  /** When this node first showed each member dead (wall ms). */
  deadAt: Map<string, number>;
  exited: Promise<void>;
}

let usage = false;
const args = (() => {
  try {
    return parseArgs({ options: { rounds: { type: "string", default: "3" }, help: { type: "boolean", default: false } } }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    usage = true;
    return { rounds: "3", help: true };
  }
})();
const rounds = Number(args.rounds);
if (usage || args.help || !Number.isInteger(rounds) || rounds < 1 || rounds > 50) {
  process.stderr.write("usage: npm run bench:kill -- [--rounds 1..50]\n");
  process.exit(2);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function buildMemberlist(): string {
  const out = join(ROOT, "dist", "bench", "memberlist-node");
  if (existsSync(out)) return out;
  const work = mkdtempSync(join(tmpdir(), "memberlist-build-"));
  try {
    execFileSync("cp", [join(GO_SRC, "main.go"), work]);
    execFileSync("go", ["build", "-o", out, "."], { cwd: work, env: { ...process.env, GO111MODULE: "off", GOPATH: "/usr/share/gocode", GOFLAGS: "" }, stdio: "inherit" });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}

function watch(name: string, child: ChildProcess, parse: (line: string) => { member: string; state: "alive" | "dead"; t: number } | undefined): Node {
  const node: Node = { name, child, alive: new Set(), deadAt: new Map(), exited: new Promise((r) => child.once("exit", () => r())) };
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const e = parse(line);
    if (!e || e.member === name) return;
    if (e.state === "alive") node.alive.add(e.member);
    else {
      node.alive.delete(e.member);
      if (!node.deadAt.has(e.member)) node.deadAt.set(e.member, e.t);
    }
  });
  return node;
}

async function startLocker(dataDir: string): Promise<Node[]> {
  const names = Array.from({ length: N }, (_, i) => `n${i + 1}`);
  const ports = await Promise.all(names.map(async () => ({ udp: await freePort(), http: await freePort() })));
  return names.map((name, i) => {
    const a = ["agent", "--name", name, "--bind", `127.0.0.1:${ports[i]!.udp}`, "--http", `127.0.0.1:${ports[i]!.http}`, "--voters", "n1,n2,n3", "--data-dir", dataDir];
    if (i > 0) a.push("--join", `127.0.0.1:${ports[0]!.udp}`);
    const child = spawn(process.execPath, [BIN, ...a], { env: { ...process.env, LOCKER_LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "inherit"] });
    // The agent logs every membership change: {"msg":"member dead","member":"n3","time":…}.
    return watch(name, child, (line) => {
      try {
        const l = JSON.parse(line) as { msg?: string; member?: string; state?: string; time?: number };
        if (typeof l.member !== "string" || typeof l.time !== "number" || !l.msg?.startsWith("member ")) return undefined;
        if (l.state === "alive") return { member: l.member, state: "alive", t: l.time };
        if (l.state === "dead" || l.state === "left") return { member: l.member, state: "dead", t: l.time };
        return undefined;
      } catch {
        return undefined;
      }
    });
  });
}

async function startMemberlist(bin: string): Promise<Node[]> {
  const ports = await Promise.all(Array.from({ length: N }, () => freePort()));
  return ports.map((port, i) => {
    const name = `n${i + 1}`;
    const child = spawn(bin, [name, String(port), ...(i > 0 ? [`127.0.0.1:${ports[0]}`] : [])], { stdio: ["ignore", "pipe", "inherit"] });
    return watch(name, child, (line) => {
      try {
        const l = JSON.parse(line) as { type: string; member: string; t: number };
        return l.type === "alive" || l.type === "dead" ? { member: l.member, state: l.type, t: l.t } : undefined;
      } catch {
        return undefined;
      }
    });
  });
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (!ok()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One round: ms from the SIGKILL until the last survivor shows the victim dead. */
async function round(impl: Impl, memberlistBin: string): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), "kill-detect-"));
  const nodes = impl === "locker" ? await startLocker(dataDir) : await startMemberlist(memberlistBin);
  try {
    // Started one after another (the seed first): wait until all see all.
    await until("all to see all", () => nodes.every((n) => n.alive.size === N - 1), 60_000);
    // A settled cluster: a few protocol periods with nobody suspected.
    await new Promise((r) => setTimeout(r, 3_000));
    const victim = nodes[VICTIM]!;
    const killedAt = Date.now();
    victim.child.kill("SIGKILL");
    const survivors = nodes.filter((n) => n !== victim);
    await until(`every survivor to show ${victim.name} dead`, () => survivors.every((n) => n.deadAt.has(victim.name)), 120_000);
    return Math.max(...survivors.map((n) => n.deadAt.get(victim.name)! - killedAt));
  } finally {
    for (const n of nodes) n.child.kill("SIGKILL");
    await Promise.all(nodes.map((n) => n.exited));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const memberlistBin = buildMemberlist();
const samples: Record<Impl, number[]> = { locker: [], memberlist: [] };
for (let r = 0; r < rounds; r++) {
  for (const impl of ["locker", "memberlist"] as const) {
    const ms = await round(impl, memberlistBin);
    samples[impl].push(ms);
    console.log(`round ${r + 1} ${impl}: every survivor showed the victim dead ${ms} ms after the SIGKILL`);
  }
}
const ours = median(samples.locker);
const theirs = median(samples.memberlist);
const rows = (["locker", "memberlist"] as const).map((impl) => `| ${impl === "locker" ? "locker agents (lan profile)" : "memberlist 0.2.2 (DefaultLANConfig)"} | ${samples[impl].join(", ")} | ${median(samples[impl])} | ${Math.max(...samples[impl])} |`);
console.log(["", `| 5 nodes, SIGKILL one, loopback | every survivor shows it dead, ms per round | median | max |`, "|---|---|---|---|", ...rows].join("\n"));
console.log(`\nratio locker/memberlist (medians): ${(ours / theirs).toFixed(2)} (the issue asks for ≤ 1.2)`);
mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
writeFileSync(join(ROOT, "bench", "results", "kill-detect.json"), JSON.stringify({ at: new Date().toISOString(), rounds, samples, ratio: ours / theirs }, null, 2) + "\n");
