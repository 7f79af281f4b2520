// The cluster layer: the voter configuration and the configurator that
// changes it one voter at a time, below replication (which carries its
// messages) and above the Locker (whose rounds it drives through VotingNode).
export * from "./config.js";
export * from "./configurator.js";
