// The `locker` command's exit codes (the README's table uses the same words)
// and how a failure or a signal maps to one.
import { constants } from "node:os";
import { LockerError, type LockerErrorCode } from "../errors.js";
import { ConfigError } from "../agent/config.js";
import { AgentUnreachableError } from "./client.js";

/** Exit codes; the README's table is generated from the same words. */
export const EXIT = {
  ok: 0,
  /** The check failed: locked, mismatch, contention. */
  failed: 1,
  usage: 2,
  notFound: 3,
  /** no_quorum or unavailable: the cluster cannot answer now. */
  noQuorum: 4,
  timeout: 5,
  /** The agent could not be reached. */
  unreachable: 6,
  /** The agent refused the request as invalid. */
  invalid: 7,
  /** exec/elect: the lock was lost and the command was stopped. */
  lockLost: 124,
  /** exec/elect: the command could not be started. */
  cannotRun: 126,
  commandNotFound: 127,
} as const;

/** A bad command line: the usage is printed and the exit code is 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

const BY_CODE: Record<LockerErrorCode, number> = {
  locked: EXIT.failed,
  mismatch: EXIT.failed,
  contention: EXIT.failed,
  not_found: EXIT.notFound,
  no_quorum: EXIT.noQuorum,
  unavailable: EXIT.noQuorum,
  timeout: EXIT.timeout,
  invalid: EXIT.invalid,
};

export function exitCodeFor(e: unknown): number {
  if (e instanceof AgentUnreachableError) return EXIT.unreachable;
  if (e instanceof LockerError) return BY_CODE[e.code];
  if (e instanceof UsageError || e instanceof ConfigError) return EXIT.usage;
  return EXIT.failed;
}

/** The shell's convention for a process ended by a signal: 128 + its number (SIGHUP 129, SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}
