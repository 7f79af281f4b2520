// The agent's configuration: flags, LOCKER_* variables and the JSON file resolve
// in one order, and every bad input is a ConfigError with a readable message.
import test from "ava";
import { hostname } from "node:os";
import { ConfigError, resolveAgentConfig, agentUsage } from "../../src/agent/config.js";
import { parseDuration, formatDuration } from "../../src/agent/duration.js";

const resolve = (argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}) =>
  resolveAgentConfig({
    argv,
    env,
    readFile: (p) => {
      const t = files[p];
      if (t === undefined) throw new Error("ENOENT: no such file");
      return t;
    },
  });

test("alone, the defaults make a single-node cluster that is its own voter", (t) => {
  const c = resolve([]);
  t.is(c.bind, "127.0.0.1:7946");
  t.is(c.http, "127.0.0.1:7947");
  t.is(c.name, `${hostname()}:7946`);
  t.deepEqual(c.voters, [c.name]);
  t.deepEqual(c.join, []);
  t.false(c.replica);
  t.is(c.logLevel, "info");
  t.is(c.maxLeaseMs, 60_000);
});

test("the default name follows the UDP port", (t) => {
  t.is(resolve(["--bind", "127.0.0.1:9000"]).name, `${hostname()}:9000`);
});

test("flags beat the environment, which beats the config file", (t) => {
  const files = { "/c.json": JSON.stringify({ name: "file", logLevel: "debug", join: ["127.0.0.1:1"], voters: "a,b,c", "max-lease": "30s" }) };
  const fromFile = resolve(["--config", "/c.json"], {}, files);
  t.is(fromFile.name, "file");
  t.is(fromFile.logLevel, "debug");
  t.deepEqual(fromFile.join, ["127.0.0.1:1"]);
  t.deepEqual(fromFile.voters, ["a", "b", "c"]);
  t.is(fromFile.maxLeaseMs, 30_000);
  const env = { LOCKER_NAME: "env", LOCKER_CONFIG: "/c.json", LOCKER_LOG_LEVEL: "warn" };
  t.is(resolve([], env, files).name, "env");
  t.is(resolve([], env, files).logLevel, "warn");
  const flags = resolve(["--name=flag", "--log-level", "error"], env, files);
  t.is(flags.name, "flag");
  t.is(flags.logLevel, "error");
});

test("boolean flags and variables", (t) => {
  t.true(resolve(["--replica", "--voters", "a,b,c", "--name", "r"]).replica);
  t.false(resolve(["--replica=false"]).replica);
  t.true(resolve(["--name", "r"], { LOCKER_REPLICA: "yes", LOCKER_VOTERS: "a,b,c" }).replica);
  t.throws(() => resolve([], { LOCKER_REPLICA: "maybe" }), { instanceOf: ConfigError, message: /true or false/ });
});

test("bad flags are usage errors that say what is wrong", (t) => {
  const bad: Array<[string[], RegExp]> = [
    [["--nope"], /unknown flag --nope/],
    [["-x"], /unknown flag -x /],
    [["--bind"], /needs a value/],
    [["--bind", "localhost"], /expected HOST:PORT/],
    [["--http", "1.2.3.4:99999"], /out of range/],
    [["--expect", "two"], /whole number/],
    [["--expect", "0"], /between 1 and 15/],
    [["--log-level", "loud"], /one of/],
    [["--max-lease", "forever"], /invalid duration/],
    [["--max-lease", "5ms"], /between 10ms and 1h/],
    [["--voters", "a,b", "--expect", "3"], /not both/],
    [["--voters", "a,a"], /twice/],
    [["--join", "127.0.0.1:1"], /needs --voters or --expect/],
    [["--replica"], /needs the cluster's --voters/],
    [["--replica", "--name", "a", "--voters", "a,b,c"], /is in --voters/],
    [["stray"], /unexpected argument/],
    [["--affinity", "sometimes"], /--affinity must be true, false or contended/],
  ];
  for (const [argv, message] of bad) t.throws(() => resolve(argv), { instanceOf: ConfigError, message }, argv.join(" "));
});

test("bad config files are usage errors", (t) => {
  t.throws(() => resolve(["--config", "/missing.json"]), { instanceOf: ConfigError, message: /cannot read/ });
  t.throws(() => resolve(["--config", "/x"], {}, { "/x": "{nope" }), { instanceOf: ConfigError, message: /not valid JSON/ });
  t.throws(() => resolve(["--config", "/x"], {}, { "/x": "[1]" }), { instanceOf: ConfigError, message: /JSON object/ });
  t.throws(() => resolve(["--config", "/x"], {}, { "/x": '{"colour":"red"}' }), { instanceOf: ConfigError, message: /unknown key "colour"/ });
  t.throws(() => resolve(["--config", "/x"], {}, { "/x": '{"join":[1]}' }), { instanceOf: ConfigError, message: /list of strings/ });
  t.throws(() => resolve(["--config", "/x"], {}, { "/x": '{"name":{}}' }), { instanceOf: ConfigError, message: /wrong type/ });
});

test("the usage text names every flag and its variable", (t) => {
  const u = agentUsage();
  for (const f of ["--name", "--bind", "--http", "--join", "--voters", "--expect", "--replica", "--log-level", "--max-lease", "--config", "--data-dir"]) t.true(u.includes(f), f);
  t.true(u.includes("LOCKER_LOG_LEVEL"));
});

test("durations", (t) => {
  t.is(parseDuration("500ms"), 500);
  t.is(parseDuration("10s"), 10_000);
  t.is(parseDuration("1.5s"), 1500);
  t.is(parseDuration("2m"), 120_000);
  t.is(parseDuration("1m30s"), 90_000);
  t.is(parseDuration("1h"), 3_600_000);
  t.is(parseDuration("250"), 250);
  for (const bad of ["", "s", "10 s", "10x", "-1s", "1s2", "25h", "ms10", "1e3"]) {
    t.throws(() => parseDuration(bad), undefined, bad);
  }
  t.is(formatDuration(10_000), "10s");
  t.is(formatDuration(500), "500ms");
  t.is(formatDuration(120_000), "2m");
});
