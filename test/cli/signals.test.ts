// `locker exec` stopped by a signal while it waits for a held key exits with
// 128 + the signal's number, as a shell reports it: 143 SIGTERM, 129 SIGHUP, 130 SIGINT.
import test from "ava";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startFakeAgent } from "./fake-agent.js";

const BIN = join(fileURLToPath(new URL("../../../", import.meta.url)), "bin", "locker.js");

for (const [signal, code] of [
  ["SIGTERM", 143],
  ["SIGHUP", 129],
  ["SIGINT", 130],
] as const) {
  test(`exec waiting for a held key, stopped by ${signal}, exits ${code}`, async (t) => {
    // The key is held by someone else: lock says locked, the holder is "other",
    // and the wait for its release never ends — until the signal.
    const agent = await startFakeAgent((method, url) => {
      if (method === "PUT") return { status: 409, body: { error: "locked", message: "held" } };
      if (url.includes("consistent=true")) return { status: 200, body: { key: "k", value: "other", token: "5", leaseRemainingMs: 60_000 } };
      return undefined;
    });
    try {
      const waiting = new Promise<void>((resolve) => agent.events.on("request", (_m: string, url: string) => url.includes("wait=released") && resolve()));
      const proc = spawn(process.execPath, [BIN, "exec", "k", "--http", agent.address, "--", "true"], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = once(proc, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
      await waiting;
      proc.kill(signal);
      const [exitCode, bySignal] = await exited;
      t.is(bySignal, null, "locker handles the signal itself");
      t.is(exitCode, code, stderr);
      t.regex(stderr, /interrupted/);
    } finally {
      await agent.close();
    }
  });
}
