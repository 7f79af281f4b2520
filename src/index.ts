// The package's public entry point: the Locker API, its errors, limits and
// ready-made clusters, with the clock and random types they take.
export { Locker } from "./locker.js";
export type { Entry, LockOptions, LockResult, LockerEventMap, LockerOptions, LockerSummary, OperationOptions, VoterSpec } from "./locker.js";
export { createMemoryLockers, startUdpLocker } from "./locker-cluster.js";
export type { MemoryCluster, MemoryLockersOptions, SharedLockerOptions, UdpLockerOptions } from "./locker-cluster.js";
export { DEFAULT_LIMITS } from "./limits.js";
export type { LockerLimits } from "./limits.js";
export { LockerError, isLockerError } from "./errors.js";
export type { LockerErrorCode } from "./errors.js";
export { casCodec } from "./cas/messages.js";
export type { CasMessage } from "./cas/messages.js";
export { SystemClock, VirtualClock, VirtualNodeClock } from "./util/clock.js";
export type { Clock } from "./util/clock.js";
export { SeededRandom, cryptoSeededRandom } from "./util/random.js";
export type { Random } from "./util/random.js";
export { Mutex, LeaderElection, withLock, lockerLeaseClient, randomHolderId } from "./recipes/index.js";
export type { LeaseClient, LeaseGrant, MutexOptions, AcquireOptions, MutexState, MutexEvents, ElectionOptions, ElectionEvents, WithLockOptions } from "./recipes/index.js";
// The one composition root: a node (UDP transport, membership, discovery,
// rejoin, Locker, replication), as the agent runs it.
export { startNode, openNode, DEFAULT_CLUSTER_LABEL } from "./node/node.js";
export type { LockerNode, NodeOptions, StartingNode, DiscoveryOptions } from "./node/node.js";
export type { Readiness } from "./node/readiness.js";
// Replication, catch-up and voter changes; the `expect: N` bootstrap; LAN discovery.
export { Configurator } from "./cluster/index.js";
export type { VoterConfig } from "./cluster/index.js";
export { Replicator } from "./replication/index.js";
export { bootstrapExpect } from "./bootstrap/expect.js";
export { MulticastBeacon } from "./discovery/multicast.js";
