// The README's library example, installed as the README says (packed
// tarballs), run against agents started with the README's commands.
import test from "ava";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, ready, ROOT, spawnAgent, tempDir, type AgentProcess } from "./harness.js";

const run = promisify(execFile);

/** The code block after `<!-- readme-example: NAME -->` in README.md. */
function readmeExample(name: string): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const m = new RegExp(`<!-- readme-example: ${name} -->\\s*\`\`\`js\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!m) throw new Error(`README.md has no example "${name}"`);
  return m[1]!;
}

test("the README's library example runs against the README's 3 agents", async (t) => {
  t.timeout(240_000);
  const dir = tempDir("readme-lib");
  const agents: AgentProcess[] = [];
  t.teardown(async () => {
    await Promise.all(agents.map((a) => a.kill()));
    dir.remove();
  });
  // Installed as the README says: both packages from tarballs packed in this checkout.
  const packs = join(dir.path, "packs");
  mkdirSync(packs, { recursive: true });
  await run("npm", ["pack", "--ignore-scripts", "-w", "membership", "--pack-destination", packs], { cwd: ROOT });
  await run("npm", ["pack", "--ignore-scripts", "--pack-destination", packs], { cwd: ROOT });
  const app = join(dir.path, "app");
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  const t0 = Date.now();
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", join(packs, "locker-membership-0.1.0.tgz"), join(packs, "locker-0.1.0.tgz")], { cwd: app, timeout: 180_000 });
  t.log(`installed from tarballs in ${Date.now() - t0} ms`);

  // The README's commands (on free ports: the README's own may be taken on a shared machine).
  const ports = await Promise.all([0, 1, 2].map(async () => ({ udp: await freePort(), http: await freePort() })));
  const seed = `127.0.0.1:${ports[0]!.udp}`;
  for (let i = 0; i < 3; i++) {
    const args = ["--voters", "n1,n2,n3", "--data-dir", join(dir.path, "data"), ...(i > 0 ? ["--join", seed] : [])];
    agents.push(await spawnAgent({ name: `n${i + 1}`, udpPort: ports[i]!.udp, httpPort: ports[i]!.http, args }));
  }
  await Promise.all(agents.map((a) => ready(a)));
  const code = readmeExample("library").replaceAll("127.0.0.1:7946", seed);
  writeFileSync(join(app, "app.mjs"), code);
  const out = await run(process.execPath, ["app.mjs"], { cwd: app, timeout: 60_000 });
  t.regex(out.stdout, /locked; fencing token \d+/);
  t.regex(out.stdout, /read through a quorum: app-1/);
});
