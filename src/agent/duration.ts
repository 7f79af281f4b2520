// Human durations for flags and config files ("10s", "500ms", "1m30s"), parsed
// strictly: a typo is a usage error, never a silently different number.

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** The longest duration any flag accepts; nothing in locker waits or leases longer. */
export const MAX_DURATION_MS = 24 * 3_600_000;

/**
 * Parses "250ms", "10s", "1.5s", "2m", "1h", "1m30s", or a bare integer (milliseconds).
 * Throws an Error with a readable message on anything else.
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s.length === 0 || s.length > 32) throw new Error(`invalid duration ${JSON.stringify(text)}`);
  if (/^\d+$/.test(s)) return checkRange(Number(s), text);
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = part.exec(s); m; m = part.exec(s)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    consumed = part.lastIndex;
  }
  if (consumed !== s.length || consumed === 0) {
    throw new Error(`invalid duration ${JSON.stringify(text)} (use e.g. 500ms, 10s, 2m, 1h, 1m30s)`);
  }
  return checkRange(Math.round(total), text);
}

function checkRange(ms: number, text: string): number {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_DURATION_MS) {
    throw new Error(`duration ${JSON.stringify(text)} is out of range (0 to 24h)`);
  }
  return ms;
}

/** "1500" → "1.5s", for messages and help text. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}
