// The `locker` command line, in process: one parser (util.parseArgs), a bad
// flag or address is a usage error (exit 2, usage on stderr), and the keys
// table stays one row per key whatever the key holds.
import test from "ava";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main, EXIT } from "../../src/cli/main.js";
import { AgentClient } from "../../src/cli/client.js";
import { isLockerError } from "../../src/errors.js";
import { SystemClock } from "../../src/util/clock.js";
import { captureIo, startFakeAgent } from "./fake-agent.js";

test("a bad flag, a missing flag value or a flag value where none is taken prints usage and exits 2", async (t) => {
  for (const argv of [
    ["lock", "k", "v", "--bogus"],
    ["lock", "k", "v", "--lease"],
    ["get", "k", "--json=yes"],
    ["keys", "-x"],
    ["get"],
    ["exec", "k"],
  ]) {
    const c = captureIo();
    t.is(await main(argv, c.io), EXIT.usage, argv.join(" "));
    t.regex(c.err.join("\n"), new RegExp(`Usage: locker ${argv[0]}`), argv.join(" "));
  }
  const bad = captureIo();
  await main(["lock", "k", "v", "--bogus"], bad.io);
  t.regex(bad.err[0]!, /unknown flag --bogus for locker lock/);
});

test("--help and -h print the command's usage, generated from its flags", async (t) => {
  for (const h of ["--help", "-h"]) {
    const c = captureIo();
    t.is(await main(["exec", h], c.io), EXIT.ok);
    const text = c.out.join("\n");
    for (const flag of ["--lease DURATION", "--timeout DURATION", "--kill-after DURATION", "--http HOST:PORT", "--json"]) t.true(text.includes(flag), flag);
  }
});

test("--http with a port out of range is a usage error (exit 2), not a raw Node error (exit 1)", async (t) => {
  for (const [argv, env] of [
    [["get", "k", "--http", "127.0.0.1:99999"], {}],
    [["get", "k", "--http", "127.0.0.1:0"], {}],
    [["get", "k", "--http", "nocolon"], {}],
    [["status"], { LOCKER_HTTP: "127.0.0.1:70000" }],
  ] as const) {
    const c = captureIo(env);
    t.is(await main(argv, c.io), EXIT.usage, argv.join(" "));
    const text = c.err.join("\n");
    t.regex(text, /port in 1\.\.65535/);
    t.notRegex(text, /RangeError|ERR_SOCKET_BAD_PORT/);
    t.regex(text, /Usage: locker/);
  }
});

test("the HTTP client refuses a port out of range with `invalid` when it is built", (t) => {
  const err = t.throws(() => new AgentClient("127.0.0.1:99999", new SystemClock()));
  t.true(isLockerError(err, "invalid"));
});

test("a value that starts with '-' goes after --", async (t) => {
  const seen: string[] = [];
  const agent = await startFakeAgent((method, url) => {
    seen.push(`${method} ${url}`);
    return { status: 200, body: { key: "k", value: "-1", token: "7", leaseRemainingMs: 1000, leaseMs: 1000, safeForMs: 990 } };
  });
  try {
    const c = captureIo();
    t.is(await main(["lock", "--http", agent.address, "k", "--", "-1"], c.io), EXIT.ok, c.err.join("\n"));
    t.is(c.out[0], "7");
    t.deepEqual(seen, ["PUT /v1/keys/k"]);
  } finally {
    await agent.close();
  }
});

test("keys: a key or value with a newline (or another control character) stays on its row, escaped", async (t) => {
  const agent = await startFakeAgent(() => ({
    status: 200,
    body: {
      keys: [
        { key: "two\nlines", value: "v\r\nw", token: "1", leaseRemainingMs: 1000 },
        { key: "tab\there", value: "sep\u2028x", token: "2", leaseRemainingMs: 2000 },
        { key: "plain", value: "ok", token: "3", leaseRemainingMs: 3000 },
      ],
    },
  }));
  try {
    const c = captureIo();
    t.is(await main(["keys", "--http", agent.address], c.io), EXIT.ok, c.err.join("\n"));
    const lines = c.out.join("\n").split("\n");
    t.is(lines.length, 4, "a header and one line per key");
    t.regex(lines[1]!, /^"two\\nlines"\s+"v\\r\\nw"\s+1\s/);
    t.regex(lines[2]!, /^"tab\\there"\s+"sep\\u2028x"\s+2\s/);
    t.regex(lines[3]!, /^plain\s+ok\s+3\s/, "plain keys print as they are");
    const json = captureIo();
    await main(["keys", "--json", "--http", agent.address], json.io);
    t.is(JSON.parse(json.out[0]!).keys[0].key, "two\nlines", "--json keeps the exact key");
  } finally {
    await agent.close();
  }
});

test("--http-token-file sends the agent's bearer token; without it the agent's 401 is exit 8 (unauthorized)", async (t) => {
  const TOKEN = "k".repeat(40);
  const agent = await startFakeAgent((_m, _u, headers) =>
    headers.authorization === `Bearer ${TOKEN}`
      ? { status: 200, body: { name: "n1", role: "voter", ready: true, voters: ["n1"], configVersion: 1, members: 1, summary: {} } }
      : { status: 401, body: { error: "unauthorized", message: "this agent needs `Authorization: Bearer <token>`" } },
  );
  const dir = mkdtempSync(join(tmpdir(), "cli-token-"));
  try {
    const file = join(dir, "token");
    writeFileSync(file, TOKEN + "\n");
    chmodSync(file, 0o600);
    const ok = captureIo();
    t.is(await main(["status", "--http", agent.address, "--http-token-file", file], ok.io), EXIT.ok, ok.err.join("\n"));
    t.regex(ok.out.join("\n"), /name:\s+n1/);
    const none = captureIo();
    t.is(await main(["status", "--http", agent.address], none.io), EXIT.unauthorized);
    t.is(EXIT.unauthorized, 8);
    t.regex(none.err.join("\n"), /Bearer/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await agent.close();
  }
});
