// Replication: committed changes pushed to non-voting members, snapshot
// catch-up of joining members, and the voter configuration they follow.
export * from "./messages.js";
export * from "./store.js";
export * from "./source.js";
export * from "./replicator.js";
export * from "./config-peers.js";
export * from "./attach.js";
