// The agent's one state file. Its existence is the proof a node needs to skip the
// quiet period: a node whose state directory has no file for its name never voted.
import { mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from "node:fs";
import { join } from "node:path";
import type { BallotFloorStore } from "../cas/floor-store.js";

export interface StateFile {
  path: string;
  /** True when no earlier run of this node name left a state file: it has never voted. */
  fresh: boolean;
  /** Runs recorded, this one included. */
  starts: number;
}

/**
 * Reads and then rewrites `<dir>/<name>.json` (durably, before the node may vote).
 * With `dir` empty, or when the file cannot be written, the node is never "fresh":
 * without a record that it never voted, it must assume it did.
 */
export function recordStart(dir: string, name: string, wallNowMs: number): StateFile & { warning?: string } {
  if (dir === "") return { path: "", fresh: false, starts: 0 };
  const path = join(dir, `${encodeURIComponent(name)}.json`);
  let starts = 0;
  let fresh = false;
  try {
    const prior = JSON.parse(readFileSync(path, "utf8")) as { starts?: unknown };
    starts = typeof prior.starts === "number" && Number.isSafeInteger(prior.starts) ? prior.starts : 1;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") fresh = true;
    // Unreadable or corrupt: treat as an earlier run (safe side).
  }
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, JSON.stringify({ name, starts: starts + 1, lastStart: new Date(wallNowMs).toISOString() }) + "\n");
    const fd = openSync(tmp, "r");
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    return { path, fresh: false, starts: starts + 1, warning: `cannot write ${path}: ${(e as Error).message}; assuming a restart (quiet period)` };
  }
  return { path, fresh, starts: starts + 1 };
}

/**
 * The persisted ballot floor (src/cas/floor-store.ts) in `<dir>/<name>.floor`:
 * one decimal counter, replaced durably (write, fsync, rename) on every save.
 * Undefined with `dir` empty (nothing is kept). A corrupt file reads as
 * absent with a warning: the floor then rests on the clocks, as without one.
 */
export function ballotFloorFile(dir: string, name: string, warn: (message: string) => void): BallotFloorStore | undefined {
  if (dir === "") return undefined;
  const path = join(dir, `${encodeURIComponent(name)}.floor`);
  return {
    load() {
      let text: string;
      try {
        text = readFileSync(path, "utf8").trim();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") warn(`cannot read ${path}: ${(e as Error).message}`);
        return undefined;
      }
      const c = Number(text);
      if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(c)) {
        warn(`${path} does not hold a ballot counter; ignored`);
        return undefined;
      }
      return c;
    },
    save(counter) {
      mkdirSync(dir, { recursive: true });
      const tmp = `${path}.tmp`;
      const fd = openSync(tmp, "w");
      try {
        writeFileSync(fd, `${counter}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    },
  };
}
