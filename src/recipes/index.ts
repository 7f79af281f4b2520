// Recipes built on the lease operations: a mutex, leader election, withLock.
export type { LeaseClient, LeaseGrant } from "./client.js";
export { Mutex, randomHolderId, type MutexOptions, type AcquireOptions, type MutexState, type MutexEvents } from "./mutex.js";
export { LeaderElection, type ElectionOptions, type ElectionEvents } from "./election.js";
export { withLock, type WithLockOptions } from "./with-lock.js";
export { lockerLeaseClient } from "./locker-client.js";
