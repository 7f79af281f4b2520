// Keeps ARCHITECTURE.md true: reads the import graph of src/ and
// membership/src/ and fails on an import that points up the layer list, on a
// circular import, and on a long file that does not say why it is long.
import test from "ava";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/**
 * The layers, lowest first. A file may import its own layer or any layer
 * below it. A pattern ending in "/" is a folder (with subfolders), "src/*.ts"
 * means the files directly in src/, anything else is one file; the longest
 * matching pattern wins. ARCHITECTURE.md shows this same table (checked below).
 */
export const LAYERS: ReadonlyArray<{ readonly layer: string; readonly paths: readonly string[] }> = [
  { layer: "base", paths: ["src/*.ts"] },
  { layer: "util", paths: ["src/util/"] },
  { layer: "wire", paths: ["src/wire/"] },
  { layer: "transport", paths: ["src/transport/"] },
  { layer: "membership", paths: ["membership/src/"] },
  { layer: "cas", paths: ["src/cas/"] },
  { layer: "locker", paths: ["src/locker.ts", "src/locker/", "src/recipes/", "src/locker-cluster.ts"] },
  { layer: "cluster", paths: ["src/cluster/"] },
  { layer: "replication", paths: ["src/replication/"] },
  { layer: "bootstrap", paths: ["src/bootstrap/", "src/discovery/"] },
  { layer: "node", paths: ["src/node.ts", "src/node/"] },
  { layer: "agent", paths: ["src/agent/"] },
  { layer: "cli", paths: ["src/cli/"] },
  { layer: "entry", paths: ["src/index.ts"] },
];

/** Bare specifiers that name a layer of this repository (the workspace package). */
const PACKAGES: Readonly<Record<string, string>> = { "@locker/membership": "membership/src/index.ts" };

/** Past this many lines a file needs a top comment saying why it is long. */
const MAX_LINES = 450;
/** How a long file says why (in its leading comment): "long because …". */
const LONG_BECAUSE = /\blong\b[^\n]*\bbecause\b/i;

const here = dirname(fileURLToPath(import.meta.url));
// Compiled to dist/test/architecture/: the sources are three levels up.
const root = [resolve(here, "../../.."), resolve(here, "../..")].find((r) => existsSync(join(r, "src", "locker.ts")))!;

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
  line: number;
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(join(root, dir))) return out;
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** The layer index of a repository path, or -1 when no pattern covers it. */
export function layerOf(path: string): number {
  let best = -1;
  let bestLen = -1;
  LAYERS.forEach((l, i) => {
    for (const p of l.paths) {
      const hit = p.endsWith("/") ? path.startsWith(p) : p.endsWith("/*.ts") ? dirname(path) === p.slice(0, -5) && path.endsWith(".ts") : path === p;
      if (hit && p.length > bestLen) {
        best = i;
        bestLen = p.length;
      }
    }
  });
  return best;
}

/** Every import, re-export and dynamic import of a file, with the specifier and whether it is type-only. */
function importsOf(text: string, file: string): Array<{ spec: string; typeOnly: boolean; line: number }> {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: Array<{ spec: string; typeOnly: boolean; line: number }> = [];
  const lineOf = (n: ts.Node): number => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      const c = n.importClause;
      // `import { type A, type B }` is type-only too: every named binding says so.
      const allTypes = !!c && !c.name && !!c.namedBindings && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly);
      out.push({ spec: n.moduleSpecifier.text, typeOnly: !!c && (c.isTypeOnly || allTypes), line: lineOf(n) });
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      out.push({ spec: n.moduleSpecifier.text, typeOnly: n.isTypeOnly, line: lineOf(n) });
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) {
      out.push({ spec: n.arguments[0].text, typeOnly: false, line: lineOf(n) });
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
      out.push({ spec: n.argument.literal.text, typeOnly: true, line: lineOf(n) });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** The repository path a specifier names, or undefined for a package outside the repository (node:*, cbor-x). */
function resolveSpec(from: string, spec: string, files: ReadonlySet<string>): string | undefined {
  if (PACKAGES[spec]) return PACKAGES[spec];
  if (!spec.startsWith(".")) return undefined;
  const base = relative(root, resolve(root, dirname(from), spec)).split(sep).join("/");
  const candidates = [base.replace(/\.js$/, ".ts"), `${base}.ts`, `${base}/index.ts`];
  return candidates.find((c) => files.has(c)) ?? candidates[0];
}

function readGraph(): { files: string[]; edges: Edge[]; lines: Map<string, string[]> } {
  const files = [...listTs("src"), ...listTs("membership/src")].sort();
  const set = new Set(files);
  const edges: Edge[] = [];
  const lines = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(join(root, f), "utf8");
    lines.set(f, text.split("\n"));
    for (const i of importsOf(text, f)) {
      const to = resolveSpec(f, i.spec, set);
      if (to !== undefined) edges.push({ from: f, to, typeOnly: i.typeOnly, line: i.line });
    }
  }
  return { files, edges, lines };
}

/** Strongly connected components with more than one file (or a file importing itself): the import cycles. */
export function cycles(nodes: readonly string[], edges: ReadonlyArray<{ from: string; to: string }>): string[][] {
  const next = new Map<string, string[]>();
  for (const n of nodes) next.set(n, []);
  for (const e of edges) next.get(e.from)?.push(e.to);
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  // Iterative Tarjan: the graph is small, but recursion depth should not depend on it.
  for (const start of nodes) {
    if (idx.has(start)) continue;
    const work: Array<{ v: string; i: number }> = [{ v: start, i: 0 }];
    idx.set(start, index);
    low.set(start, index++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const succ = next.get(top.v) ?? [];
      if (top.i < succ.length) {
        const w = succ[top.i++]!;
        if (!next.has(w)) continue;
        if (!idx.has(w)) {
          idx.set(w, index);
          low.set(w, index++);
          stack.push(w);
          onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) {
          low.set(top.v, Math.min(low.get(top.v)!, idx.get(w)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]!.v;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.v)!));
      }
      if (low.get(top.v) === idx.get(top.v)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          comp.push(w);
        } while (w !== top.v);
        if (comp.length > 1 || succ.includes(top.v)) out.push(comp.sort());
      }
    }
  }
  return out;
}

/** The markdown table ARCHITECTURE.md must carry, generated from LAYERS. */
export function layerTable(): string {
  return [
    "| # | layer | paths |",
    "|---|---|---|",
    ...LAYERS.map((l, i) => `| ${i} | ${l.layer} | ${l.paths.map((p) => `\`${p}\``).join(", ")} |`),
  ].join("\n");
}

const graph = readGraph();
const describe = (e: Edge): string => {
  const a = LAYERS[layerOf(e.from)]?.layer ?? "?";
  const b = LAYERS[layerOf(e.to)]?.layer ?? "?";
  return `${e.from}:${e.line} (${a}) → ${e.to} (${b})${e.typeOnly ? " [type-only]" : ""}`;
};

test("the checks can fail: an upward edge, a cycle and an unassigned path are each detected", (t) => {
  t.true(layerOf("src/cas/node.ts") < layerOf("src/replication/store.ts"));
  t.is(layerOf("src/errors.ts"), 0, "files at src/ root are the base layer");
  t.is(layerOf("src/index.ts"), LAYERS.length - 1, "index.ts is the top");
  t.is(layerOf("src/locker/local-view.ts"), layerOf("src/locker.ts"));
  t.is(layerOf("src/newfolder/x.ts"), -1, "a new folder must be placed in the table");
  t.deepEqual(cycles(["a", "b", "c"], [{ from: "a", to: "b" }, { from: "b", to: "c" }, { from: "c", to: "a" }]), [["a", "b", "c"]]);
  t.deepEqual(cycles(["a", "b"], [{ from: "a", to: "b" }]), []);
  t.deepEqual(cycles(["a"], [{ from: "a", to: "a" }]), [["a"]]);
  t.is(unitOf("src/locker.ts"), unitOf("src/locker/local-view.ts"));
  t.not(unitOf("src/bootstrap/expect.ts"), unitOf("src/replication/attach.ts"));
  t.true(graph.files.length > 50, `found the sources under ${root}`);
  t.true(graph.edges.some((e) => e.to === "membership/src/index.ts"), "@locker/membership resolves to the workspace package");
});

test("every source file belongs to a layer", (t) => {
  const unplaced = graph.files.filter((f) => layerOf(f) < 0);
  t.deepEqual(unplaced, [], "add the folder to LAYERS (and to ARCHITECTURE.md)");
});

test("no import points up the layer list", (t) => {
  const up = graph.edges.filter((e) => layerOf(e.to) > layerOf(e.from)).map(describe);
  t.deepEqual(up, [], `upward imports:\n${up.join("\n")}`);
});

test("no circular import", (t) => {
  const found = cycles(graph.files, graph.edges);
  const shown = found.map((c) => {
    const inside = new Set(c);
    return c.join(" ⇄ ") + "\n    " + graph.edges.filter((e) => inside.has(e.from) && inside.has(e.to)).map(describe).join("\n    ");
  });
  t.deepEqual(shown, [], `cycles:\n${shown.join("\n")}`);
});

/** The folder a file belongs to, as a unit of the architecture: src/locker.ts and src/locker/* are one. */
export function unitOf(path: string): string {
  const parts = path.replace(/\.ts$/, "").split("/");
  return parts[0] === "membership" ? "membership/src" : parts.slice(0, 2).join("/");
}

test("no circular import between folders (e.g. bootstrap ⇄ replication)", (t) => {
  const units = [...new Set(graph.files.map(unitOf))].sort();
  const between = graph.edges.filter((e) => unitOf(e.from) !== unitOf(e.to)).map((e) => ({ ...e, from: unitOf(e.from), to: unitOf(e.to) }));
  const found = cycles(units, between);
  const shown = found.map((c) => {
    const inside = new Set(c);
    const witness = graph.edges.filter((e) => unitOf(e.from) !== unitOf(e.to) && inside.has(unitOf(e.from)) && inside.has(unitOf(e.to)));
    return c.join(" ⇄ ") + "\n    " + witness.map(describe).join("\n    ");
  });
  t.deepEqual(shown, [], `folder cycles:\n${shown.join("\n")}`);
});

test(`no file over ${MAX_LINES} lines without a top comment saying why it is long`, (t) => {
  const long: string[] = [];
  for (const [f, lines] of graph.lines) {
    const count = lines.length - (lines[lines.length - 1] === "" ? 1 : 0);
    if (count <= MAX_LINES) continue;
    const head: string[] = [];
    for (const l of lines) {
      if (!/^\s*(\/\/|\/\*|\*)/.test(l)) break;
      head.push(l);
    }
    if (!LONG_BECAUSE.test(head.join(" "))) long.push(`${f}: ${count} lines`);
  }
  t.deepEqual(long, [], `split these along their seams, or start them with a comment "long because …":\n${long.join("\n")}`);
});

// The acceptor is the cas layer's own (the Locker's local view reads it
// too); every layer above reaches it through CasNode's narrow readers.
test("no file above the locker layer touches an acceptor (`.acceptor`, `inspect(`)", (t) => {
  const owners = /^src\/(cas\/|locker\.ts$|locker\/)/;
  const touching: string[] = [];
  for (const [f, lines] of graph.lines) {
    if (owners.test(f) || !f.startsWith("src/")) continue;
    lines.forEach((l, i) => {
      const code = l.replace(/\/\/.*$/, "");
      if (/\.acceptor\b|\.inspect\(/.test(code) && !/^\s*\*/.test(l)) touching.push(`${f}:${i + 1}: ${l.trim()}`);
    });
  }
  t.deepEqual(touching, [], `use CasNode's acceptedState / liveEntries / heldKeyNames instead:\n${touching.join("\n")}`);
});

test("ARCHITECTURE.md shows the layer table of this test", (t) => {
  const doc = readFileSync(join(root, "ARCHITECTURE.md"), "utf8");
  t.true(doc.includes(layerTable()), `ARCHITECTURE.md must contain, verbatim:\n${layerTable()}`);
});
