// Loaded into every test worker (ava's `require`). AVA 6+ stops a test at its
// first failed assertion, so the cleanup after it (closing sockets, killing
// agents) never runs, and their handles keep the worker alive after the file
// is done: AVA then waits for it forever and CI hits its hard limit instead of
// reporting the failure. Once AVA has every result of the file, the worker
// names what is still open (a leak worth fixing), kills the child processes
// it started (agents must not outlive their test), and exits.
import { registerCompletionHandler } from "ava";

/** Resources a finished test file should not hold (the IPC pipe and stdio are AVA's own). */
const LEAKS = new Set(["UDPWRAP", "TCPWRAP", "TCPSERVERWRAP", "ProcessWrap", "Timeout", "FSReqCallback"]);

interface ChildHandle {
  pid?: number;
  spawnargs?: string[];
  exitCode: number | null;
  signalCode: string | null;
  /** A signal was sent already (the test killed it; it is being reaped). */
  killed: boolean;
  kill(signal: string): boolean;
}

registerCompletionHandler(() => {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  for (const h of handles) {
    const c = h as ChildHandle;
    if (h?.constructor?.name !== "ChildProcess" || c.exitCode !== null || c.signalCode !== null || c.killed) continue;
    process.stderr.write(`exit-when-done: killing child ${c.pid} left running: ${(c.spawnargs ?? []).slice(0, 8).join(" ")}\n`);
    c.kill("SIGKILL");
  }
  const open = process.getActiveResourcesInfo().filter((r) => LEAKS.has(r) && r !== "ProcessWrap");
  if (open.length > 0) {
    const counts = new Map<string, number>();
    for (const r of open) counts.set(r, (counts.get(r) ?? 0) + 1);
    process.stderr.write(`exit-when-done: this test file left open ${[...counts].map(([r, n]) => `${n} ${r}`).join(", ")}; exiting its worker\n`);
  }
  process.exit();
});
