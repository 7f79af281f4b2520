// Runs one external server (etcd, redis) for a benchmark and kills it when
// the benchmark process goes away, however it goes: the IPC channel closing
// is the signal, so a crashed or killed benchmark leaves nothing running.
import { spawn } from "node:child_process";
import { openSync } from "node:fs";

const [logFile, command, ...args] = process.argv.slice(2);
if (!logFile || !command) {
  console.error("usage: guard.js LOGFILE COMMAND [ARGS...]");
  process.exit(2);
}
const log = openSync(logFile, "a");
const server = spawn(command, args, { stdio: ["ignore", log, log] });
let stopping = false;

function stop(why: string): void {
  if (process.env.LOCKER_BENCH_DEBUG) console.error(`guard ${command}: stop (${why})`);
  if (stopping) return;
  stopping = true;
  if (server.exitCode !== null || server.signalCode !== null) process.exit(0);
  server.kill("SIGTERM");
  setTimeout(() => server.kill("SIGKILL"), 2000).unref();
}

server.on("exit", (code, signal) => {
  if (!stopping && process.connected) process.send!({ id: -2, ok: false, error: `${command} exited early (${code ?? signal}); see ${logFile}` });
  process.exit(0);
});
server.on("error", (e) => {
  if (process.connected) process.send!({ id: 0, ok: false, error: `cannot start ${command}: ${e.message}` });
  process.exit(1);
});
server.on("spawn", () => {
  if (process.connected) process.send!({ id: 0, ok: true, result: { pid: server.pid } });
});
process.on("disconnect", () => stop("disconnect"));
process.on("message", (m: { cmd: string }) => {
  if (m.cmd === "exit") stop("exit");
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => stop(sig));
// The parent may have gone before these handlers were set.
if (!process.connected) stop("parent gone before start");
