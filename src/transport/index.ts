export * from "./types.js";
export * from "./socket.js";
export * from "./backoff.js";
export * from "./response-cache.js";
export * from "./transport.js";
export * from "./udp.js";
export * from "./memory.js";
