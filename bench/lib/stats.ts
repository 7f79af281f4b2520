// Latency summaries and the printed tables of the benchmarks: percentiles
// over recorded samples, a fixed-width table, and the JSON results file.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

/** Nearest-rank percentile of sorted samples (q in 0..1). */
export function percentile(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(samples: number[]): LatencySummary {
  const s = Float64Array.from(samples).sort();
  let sum = 0;
  for (const x of s) sum += x;
  return {
    count: s.length,
    p50Ms: percentile(s, 0.5),
    p90Ms: percentile(s, 0.9),
    p99Ms: percentile(s, 0.99),
    meanMs: s.length ? sum / s.length : NaN,
    maxMs: s.length ? s[s.length - 1]! : NaN,
  };
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms < 1) return `${(ms * 1000).toFixed(0)}µs`;
  if (ms < 10) return `${ms.toFixed(2)}ms`;
  return `${ms.toFixed(1)}ms`;
}

export function fmtNum(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return "-";
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : "-";
}

export function fmtBytes(b: number): string {
  if (!Number.isFinite(b)) return "-";
  if (Math.abs(b) >= 1024 * 1024) return `${(b / 1024 / 1024).toFixed(1)} MiB`;
  if (Math.abs(b) >= 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${b.toFixed(0)} B`;
}

/** A plain fixed-width table: first column left-aligned, the rest right-aligned. */
export function table(title: string, header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const out = [`\n${title}`, line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
  return out.join("\n");
}

const here = dirname(fileURLToPath(import.meta.url));
/** bench/results in the source tree (dist/bench/lib → ../../../bench/results). */
export const RESULTS_DIR = join(here, "..", "..", "..", "bench", "results");

/** Writes `name-<timestamp>.json` and `name-latest.json` under bench/results; returns the first path. */
export function writeResults(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const json = JSON.stringify(data, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
  const path = join(RESULTS_DIR, `${name}-${stamp}.json`);
  writeFileSync(path, json);
  writeFileSync(join(RESULTS_DIR, `${name}-latest.json`), json);
  return path;
}

/** Machine facts recorded with every result, so numbers are compared like with like. */
export async function machineInfo(): Promise<Record<string, unknown>> {
  const os = await import("node:os");
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    totalMemBytes: os.totalmem(),
    loadAvg: os.loadavg(),
  };
}
