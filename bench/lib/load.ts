// Closed-loop load: `concurrency` workers each run one operation after
// another until a time budget or an operation count runs out, recording
// every latency and counting outcomes by kind.

export interface LoadResult {
  concurrency: number;
  elapsedMs: number;
  /** Operations that returned true (a completed cycle, a successful acquisition). */
  ok: number;
  /** Operations that returned false (an expected refusal, e.g. "locked"). */
  refused: number;
  /** Operations that threw, by error code or name. */
  errors: Record<string, number>;
  okPerSec: number;
  /** Latency of every operation (ok, refused or failed), ms. */
  latencies: number[];
}

export interface LoadOptions {
  concurrency: number;
  durationMs: number;
  /** Upper bound on operations started, whatever the time. */
  maxOps: number;
  /** Operations run before measuring (JIT, connection set-up, fast-path caches). */
  warmupOps?: number;
}

function errorName(e: unknown): string {
  if (e && typeof e === "object" && "code" in e && typeof (e as { code: unknown }).code === "string") return (e as { code: string }).code;
  if (e instanceof Error) return e.name + ": " + e.message.slice(0, 60);
  return String(e).slice(0, 60);
}

/** `op(worker, i)` resolves true on success, false on an expected refusal; throwing counts as an error. */
export async function closedLoop(options: LoadOptions, op: (worker: number, i: number) => Promise<boolean>): Promise<LoadResult> {
  const { concurrency, durationMs, maxOps } = options;
  const warm = options.warmupOps ?? 0;
  // Warm-up, spread over the workers, not measured.
  if (warm > 0) {
    let w = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        while (w < warm) {
          const i = w++;
          try {
            await op(worker, -1 - i);
          } catch {
            // warm-up errors are not counted
          }
        }
      }),
    );
  }
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let ok = 0;
  let refused = 0;
  let started = 0;
  const t0 = performance.now();
  const end = t0 + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (;;) {
        const now = performance.now();
        if (now >= end || started >= maxOps) return;
        const i = started++;
        const s = performance.now();
        try {
          if (await op(worker, i)) ok++;
          else refused++;
        } catch (e) {
          const k = errorName(e);
          errors[k] = (errors[k] ?? 0) + 1;
        }
        latencies.push(performance.now() - s);
      }
    }),
  );
  const elapsedMs = performance.now() - t0;
  return { concurrency, elapsedMs, ok, refused, errors, okPerSec: (ok / elapsedMs) * 1000, latencies };
}

/** Sequential samples of one operation (after `warmup` unmeasured runs). */
export async function sequential(count: number, warmup: number, maxMs: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await op(-1 - i);
  const out: number[] = [];
  const end = performance.now() + maxMs;
  for (let i = 0; i < count && performance.now() < end; i++) {
    const s = performance.now();
    await op(i);
    out.push(performance.now() - s);
  }
  return out;
}
