// The agent's logger: pino JSON lines for machines, pino-pretty when a person
// watches a terminal. Pretty printing runs in-process (no worker thread).
import { pino, type Logger } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "./config.js";

export type { Logger };

export interface LoggerOptions {
  level: LogLevel;
  /** Pretty output; defaults to whether stdout is a terminal. */
  pretty?: boolean;
  name?: string;
}

export function createLogger(options: LoggerOptions): Logger {
  const usePretty = options.pretty ?? process.stdout.isTTY === true;
  const base = { level: options.level, base: options.name ? { node: options.name } : {} };
  if (usePretty) {
    return pino(base, pretty({ colorize: true, sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" }));
  }
  return pino(base);
}
