// From the agent's configuration to what the HTTP layer needs: the server's
// options (token, TLS, connection caps) and the handler's limits. Reads the
// token and key files, so a bad file stops the start with a ConfigError.
import type { AgentConfig } from "../config.js";
import { readTlsFiles, readTokenFile, tokenCheck } from "./auth.js";
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from "./limits.js";
import type { HttpServerOptions } from "./server.js";

type HttpConfig = Pick<AgentConfig, "httpTokenFile" | "tlsCert" | "tlsKey" | "httpMaxConnectionsPerSource">;

/** startHttpServer's third argument. @throws ConfigError for a missing, unreadable, group/world-readable or malformed file. */
export function httpServerOptions(config: HttpConfig): HttpServerOptions {
  const options: HttpServerOptions = { limits: { maxConnectionsPerSource: config.httpMaxConnectionsPerSource } };
  if (config.httpTokenFile) options.token = tokenCheck(readTokenFile(config.httpTokenFile));
  if (config.tlsCert || config.tlsKey) options.tls = readTlsFiles(config.tlsCert, config.tlsKey);
  return options;
}

/** createHttpHandler's `limits`. */
export function httpLimits(config: Pick<AgentConfig, "maxKeyBytes" | "maxValueBytes" | "maxLeaseMs" | "httpMaxWaitsPerSource">): HttpLimits {
  return {
    ...DEFAULT_HTTP_LIMITS,
    maxKeyBytes: config.maxKeyBytes,
    maxValueBytes: config.maxValueBytes,
    maxLeaseMs: config.maxLeaseMs,
    maxWaitersPerSource: config.httpMaxWaitsPerSource,
  };
}
