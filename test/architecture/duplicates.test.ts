// The copy-paste check: jscpd (pinned to 5.3.2 in package.json) over src/ and
// membership/src/; every clone pair must be a deliberate parallel listed in ARCHITECTURE.md.
import test from "ava";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
// Compiled to dist/test/architecture/: the sources are three levels up.
const root = [resolve(here, "../../.."), resolve(here, "../..")].find((r) => existsSync(join(r, "src", "locker.ts")))!;
const JSCPD = join(root, "node_modules", "jscpd", "run-jscpd.js");

/** jscpd's thresholds, spelled out so a new jscpd default cannot change what the check finds. */
const ARGS = ["--format", "typescript", "--min-tokens", "50", "--min-lines", "5", "--mode", "mild", "--no-colors", "--absolute", "--reporters", "json"];

interface Clone {
  a: string;
  b: string;
  where: string;
}

/** Runs jscpd over `paths` (absolute) and returns the clone pairs, paths relative to `base`. */
function findClones(paths: readonly string[], base: string): Clone[] {
  const out = mkdtempSync(join(tmpdir(), "jscpd-"));
  try {
    const r = spawnSync(process.execPath, [JSCPD, ...ARGS, "--output", out, ...paths], { encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0) throw new Error(`jscpd exited ${r.status}: ${r.stderr || r.stdout}`);
    const report = JSON.parse(readFileSync(join(out, "jscpd-report.json"), "utf8")) as {
      duplicates: Array<{ firstFile: { name: string; start: number; end: number }; secondFile: { name: string; start: number; end: number } }>;
    };
    const rel = (p: string): string => relative(base, resolve(base, p)).split(sep).join("/");
    return report.duplicates.map((d) => {
      const [x, y] = [d.firstFile, d.secondFile].map((f) => ({ ...f, name: rel(f.name) })).sort((p, q) => (p.name < q.name ? -1 : p.name > q.name ? 1 : p.start - q.start));
      return { a: x!.name, b: y!.name, where: `${x!.name}:${x!.start}-${x!.end} ≈ ${y!.name}:${y!.start}-${y!.end}` };
    });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The file pairs ARCHITECTURE.md lists under "Deliberate parallels" as "- `a` ↔ `b`: why". */
function deliberateParallels(doc: string): Set<string> {
  const section = /^## Deliberate parallels\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(doc)?.[1] ?? "";
  const pairs = new Set<string>();
  for (const m of section.matchAll(/^- `([^`]+)` ↔ `([^`]+)`/gm)) pairs.add([m[1]!, m[2]!].sort().join(" ↔ "));
  return pairs;
}

test("jscpd 5.3.2 runs and finds a planted copy (the check can fail)", (t) => {
  const version = spawnSync(process.execPath, [JSCPD, "--version"], { encoding: "utf8" });
  t.regex(version.stdout, /\b5\.3\.2\b/, "package.json pins jscpd 5.3.2 (5.4.x does not run here)");
  const dir = mkdtempSync(join(tmpdir(), "cpd-plant-"));
  try {
    const block = Array.from({ length: 12 }, (_, i) => `  const v${i} = input.values[${i}] * factor + offset - ${i};\n  if (v${i} > limit) out.push(v${i});`).join("\n");
    mkdirSync(join(dir, "src"));
    for (const f of ["one.ts", "two.ts"]) writeFileSync(join(dir, "src", f), `export function ${f.slice(0, 3)}(input: { values: number[] }, factor: number, offset: number, limit: number): number[] {\n  const out: number[] = [];\n${block}\n  return out;\n}\n`);
    const clones = findClones([join(dir, "src")], dir);
    t.true(clones.some((c) => c.a === "src/one.ts" && c.b === "src/two.ts"), JSON.stringify(clones));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the parallels list is read from ARCHITECTURE.md", (t) => {
  const doc = "# x\n## Deliberate parallels\n- `src/b.ts` ↔ `src/a.ts`: why\n## Next\n- `src/c.ts` ↔ `src/d.ts`: not in the section\n";
  t.deepEqual([...deliberateParallels(doc)], ["src/a.ts ↔ src/b.ts"]);
});

test("no copy-pasted code in src/ or membership/src/ except the deliberate parallels of ARCHITECTURE.md", (t) => {
  const allowed = deliberateParallels(readFileSync(join(root, "ARCHITECTURE.md"), "utf8"));
  const clones = findClones([join(root, "src"), join(root, "membership", "src")], root);
  const unlisted = clones.filter((c) => !allowed.has(`${c.a} ↔ ${c.b}`)).map((c) => c.where);
  t.deepEqual(unlisted, [], `fold these, or list the pair under "Deliberate parallels" in ARCHITECTURE.md with the reason:\n${unlisted.join("\n")}`);
});
