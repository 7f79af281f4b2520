// Prints the functions with the most self time in a V8 .cpuprofile
// (node --cpu-prof), with their share of the samples: the first look at a
// profile without a browser.
//   node dist/bench/lib/profile-top.js FILE.cpuprofile [N] [--by-file]
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const byFile = process.argv.includes("--by-file");
const [file, nArg] = process.argv.slice(2).filter((a) => a !== "--by-file");
if (!file) {
  console.error("usage: profile-top.js FILE.cpuprofile [N]");
  process.exit(2);
}
const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  const n = byId.get(p.samples[i]!);
  if (!n) continue;
  const dt = p.timeDeltas[i] ?? 0;
  total += dt;
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, "$1/");
  const k = byFile ? url || f.functionName : `${f.functionName || "(anonymous)"} ${url}:${f.lineNumber + 1}`;
  self.set(k, (self.get(k) ?? 0) + dt);
}
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(nArg ?? 25));
console.log(`total ${(total / 1000).toFixed(0)} ms sampled`);
for (const [k, t] of rows) console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${(t / 1000).toFixed(0).padStart(6)}ms  ${k}`);
