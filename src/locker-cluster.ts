// Ready-made Lockers: N nodes on the in-memory network (tests, the simulator)
// and one node on real UDP (the agent, scenario tests).
import { Locker, type LockerOptions, type VoterSpec } from "./locker.js";
import { MemoryNetwork } from "./transport/memory.js";
import type { TransportOptions } from "./transport/transport.js";
import { createUdpTransport } from "./transport/udp.js";
import type { Address } from "./transport/types.js";
import { SystemClock, type Clock } from "./util/clock.js";
import { cryptoSeededRandom, SeededRandom, type Random } from "./util/random.js";

/** Options shared by every node of a ready-made cluster (everything but identity and wiring). */
export type SharedLockerOptions = Omit<LockerOptions, "name" | "channel" | "clock" | "random" | "voters">;

export interface MemoryLockersOptions {
  net: MemoryNetwork;
  /** Node names; they are also their addresses on the network. Default n1..nN. */
  names?: readonly string[];
  /** Node count when `names` is not given. Default 3. */
  count?: number;
  /** How many of the nodes (the first ones) are voters. Default all. */
  voterCount?: number;
  options?: SharedLockerOptions;
  transportOptions?: TransportOptions;
  /** Source of the nodes' random streams. Default SeededRandom(1). */
  random?: SeededRandom;
}

export interface MemoryCluster {
  lockers: Locker[];
  voters: VoterSpec[];
  /**
   * Restarts the node `name` after `net.crash(name)` (or starts a new one)
   * with empty memory. Unless `options` say otherwise, its acceptor keeps the
   * quiet period (maxLeaseMs), as a real restart must.
   */
  restart(name: string, options?: SharedLockerOptions): Locker;
}

/**
 * Builds Lockers on a MemoryNetwork: each gets its own transport, the node's
 * virtual clock (pausable, crashable) and a random stream forked from the network's.
 */
export function createMemoryLockers(o: MemoryLockersOptions): MemoryCluster {
  const names = o.names ?? Array.from({ length: o.count ?? 3 }, (_, i) => `n${i + 1}`);
  const voters: VoterSpec[] = names.slice(0, o.voterCount ?? names.length).map((name) => ({ name, address: name }));
  const random = o.random ?? new SeededRandom(1);
  const start = (name: string, fresh: boolean, options?: SharedLockerOptions): Locker => {
    const transport = o.net.transport(name, o.transportOptions);
    return new Locker({
      // A brand-new cluster has no lease to wait out; a restart has.
      ...(fresh ? { quietPeriodMs: 0 } : {}),
      ...o.options,
      ...options,
      name,
      channel: transport,
      closeTransport: true,
      clock: o.net.nodeClock(name),
      random: random.fork(),
      voters,
    });
  };
  return { lockers: names.map((n) => start(n, true)), voters, restart: (name, options) => start(name, false, options) };
}

export interface UdpLockerOptions extends SharedLockerOptions {
  name: string;
  /** host:port to bind (port 0 picks one; the voters list must then name this node's address some other way). */
  bind: Address;
  voters: readonly VoterSpec[];
  clock?: Clock;
  random?: Random;
  transportOptions?: TransportOptions;
}

/**
 * Starts a Locker on its own UDP socket; closing the Locker closes the socket.
 * Its acceptor keeps the quiet period (default maxLeaseMs) unless
 * `quietPeriodMs` says otherwise — pass 0 only when the whole cluster starts
 * for the first time (no voter can have granted a lease before).
 */
export async function startUdpLocker(o: UdpLockerOptions): Promise<Locker> {
  const clock = o.clock ?? new SystemClock();
  const random = o.random ?? cryptoSeededRandom();
  const { name, bind, voters, transportOptions, clock: _c, random: _r, ...rest } = o;
  const transport = await createUdpTransport({ ...transportOptions, bind, clock, random });
  return new Locker({ ...rest, name, channel: transport, closeTransport: true, clock, random, voters });
}
