// The `locker` command's exit codes (the README's table uses the same words)
// and how a failure or a signal maps to one.
import { constants } from "node:os";
import { ERROR_TABLE, LockerError } from "../errors.js";
import { ConfigError } from "../agent/config.js";
import { AgentUnauthorizedError, AgentUnreachableError } from "./client.js";

/** Exit codes. Those of failed operations come from the one error table (src/errors.ts). */
export const EXIT = {
  ok: 0,
  /** The check failed: locked, mismatch, contention. */
  failed: ERROR_TABLE.locked.exitCode,
  usage: 2,
  notFound: ERROR_TABLE.not_found.exitCode,
  /** no_quorum or unavailable: the cluster cannot answer now. */
  noQuorum: ERROR_TABLE.no_quorum.exitCode,
  timeout: ERROR_TABLE.timeout.exitCode,
  /** The agent could not be reached. */
  unreachable: 6,
  /** The agent refused the request as invalid. */
  invalid: ERROR_TABLE.invalid.exitCode,
  /** The agent wants its bearer token (--http-token-file, LOCKER_HTTP_TOKEN). */
  unauthorized: ERROR_TABLE.unauthorized.exitCode,
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

export function exitCodeFor(e: unknown): number {
  if (e instanceof AgentUnreachableError) return EXIT.unreachable;
  if (e instanceof AgentUnauthorizedError) return EXIT.unauthorized;
  if (e instanceof LockerError) return ERROR_TABLE[e.code].exitCode;
  if (e instanceof UsageError || e instanceof ConfigError) return EXIT.usage;
  return EXIT.failed;
}

/** The shell's convention for a process ended by a signal: 128 + its number (SIGHUP 129, SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}
