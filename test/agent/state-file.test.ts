// The state file that lets a node that never voted skip the quiet period: only
// a missing file means fresh; anything else (a run recorded, no directory, an
// unwritable one, a corrupt file) means "assume it voted".
import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { recordStart } from "../../src/agent/state-file.js";
import { tempDir } from "./harness.js";

test("the first start is fresh, every later one is not", (t) => {
  const dir = tempDir("state");
  try {
    const first = recordStart(dir.path, "host:7946", 1_700_000_000_000);
    t.true(first.fresh);
    t.is(first.starts, 1);
    t.is(first.path, join(dir.path, "host%3A7946.json"));
    t.like(JSON.parse(readFileSync(first.path, "utf8")), { name: "host:7946", starts: 1 });
    const second = recordStart(dir.path, "host:7946", 1_700_000_001_000);
    t.false(second.fresh);
    t.is(second.starts, 2);
    t.true(recordStart(dir.path, "other", 0).fresh, "names have separate files");
  } finally {
    dir.remove();
  }
});

test("no directory, a corrupt file or an unwritable directory all mean: not fresh", (t) => {
  t.false(recordStart("", "n", 0).fresh);
  const dir = tempDir("state-bad");
  try {
    writeFileSync(join(dir.path, "n.json"), "{corrupt");
    t.false(recordStart(dir.path, "n", 0).fresh);
    const blocked = join(dir.path, "blocked");
    writeFileSync(blocked, "a file where a directory should be");
    const r = recordStart(join(blocked, "sub"), "n", 0);
    t.false(r.fresh);
    t.regex(r.warning ?? "", /cannot write/);
  } finally {
    dir.remove();
  }
});
