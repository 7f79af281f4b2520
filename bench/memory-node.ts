// Fixture: one voter node's lease state in a process of its own, for memory
// per live lease and the CPU cost of expiry. A full Locker voter (acceptor,
// CAS node, transport) runs on virtual time over the in-memory network; its
// acceptor is filled with accept messages that went through the real wire
// codecs (frame + CAS codec), bypassing only the network round trips (1M
// leases over the network would take minutes). Run with --expose-gc.
import { casCodec, type CasMessage } from "../src/cas/messages.js";
import { encodeValue } from "../src/cas/value.js";
import { Locker } from "../src/locker.js";
import { MemoryNetwork } from "../src/transport/memory.js";
import { VirtualClock } from "../src/util/clock.js";
import { SeededRandom } from "../src/util/random.js";
import { decodeFrames, encodeFrame, FrameKind } from "../src/wire/frame.js";
import { fixtureReady, serveFixture } from "./lib/proc.js";

const LEASE_MS = 30_000;
const GC_GRACE_MS = 60_000;
const clock = new VirtualClock();
const net = new MemoryNetwork({ clock, random: new SeededRandom(7) });
const transport = net.transport("v1");
const locker = new Locker({
  name: "v1",
  channel: transport,
  clock: net.nodeClock("v1"),
  random: new SeededRandom(8),
  voters: [
    { name: "v1", address: "v1" },
    { name: "v2", address: "v2" },
    { name: "v3", address: "v3" },
  ],
  quietPeriodMs: 0,
  maxLeaseMs: LEASE_MS,
  gcGraceMs: GC_GRACE_MS,
  limits: { maxKeys: 2_000_000 },
});
const acceptor = locker.cas.acceptor!;
let expiredEvents = 0;
locker.on("expired", () => expiredEvents++);

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error("run with --expose-gc");
  for (let i = 0; i < 3; i++) g();
}

function memory(): { heapUsedBytes: number; rssBytes: number; externalBytes: number; arrayBuffersBytes: number } {
  gc();
  const m = process.memoryUsage();
  return { heapUsedBytes: m.heapUsed, rssBytes: m.rss, externalBytes: m.external, arrayBuffersBytes: m.arrayBuffers };
}

/** A fast-path lock's accept, as the proposer sends it, decoded as the transport would. */
function acceptThroughWire(i: number, c: number, leaseMs = LEASE_MS + (i % 1000), prefix = "lease"): CasMessage {
  const msg: CasMessage = {
    type: "accept",
    cfg: 1,
    key: `${prefix}/${i.toString().padStart(8, "0")}`,
    ballot: { c, node: "client-1" },
    nextC: c + 1,
    record: { value: encodeValue(`holder-${i % 1000}`), leaseMs, token: c },
    origin: null,
  };
  const [frame] = decodeFrames(encodeFrame({ channel: 2, kind: FrameKind.request, id: 1, payload: casCodec.encode(msg) }));
  return casCodec.decode(frame!.payload);
}

let filled = 0;
function fill(count: number): { fillMs: number; acceptorKeys: number } {
  const t0 = performance.now();
  // Ballot counters from the node's wall clock: acceptors refuse counters implausibly far ahead of it.
  const c0 = Math.floor(net.nodeClock("v1").wallNow()) * 1024;
  for (let i = filled; i < filled + count; i++) {
    const r = acceptor.handle(acceptThroughWire(i, c0 + i * 4) as never, clock.now());
    if (r.reply.type !== "accepted") throw new Error(`accept ${i} refused: ${JSON.stringify(r.reply)}`);
  }
  filled += count;
  return { fillMs: performance.now() - t0, acceptorKeys: acceptor.size };
}

function cpuMs(f: () => void): { cpuMs: number; wallMs: number } {
  const c = process.cpuUsage();
  const t = performance.now();
  f();
  const d = process.cpuUsage(c);
  return { cpuMs: (d.user + d.system) / 1000, wallMs: performance.now() - t };
}

let shortRun = 0;
serveFixture({
  memory: () => memory(),
  // Cost of one tick that expires `count` short leases while the filled leases stay live:
  // it should not grow with the number of live leases.
  expireSome: (a: { count: number }) => {
    const c0 = Math.floor(net.nodeClock("v1").wallNow()) * 1024 + 8_000_000 + shortRun * 10_000_000;
    const prefix = `short${shortRun++}`;
    for (let i = 0; i < a.count; i++) {
      const r = acceptor.handle(acceptThroughWire(i, c0 + i * 4, 100, prefix) as never, clock.now());
      if (r.reply.type !== "accepted") throw new Error("short accept refused");
    }
    locker.cas.tickNow(); // arms the node's expiry timer for the earliest deadline
    const before = expiredEvents;
    const t = cpuMs(() => clock.runUntil(clock.now() + 150));
    return { expired: expiredEvents - before, cpuMs: t.cpuMs, live: acceptor.liveCount(clock.now()) };
  },
  fill: (a: { count: number }) => fill(a.count),
  expiry: () => {
    const live = acceptor.liveCount(clock.now());
    // A tick with nothing due, 1M leases live: what every expiry timer costs in steady state.
    const idle = cpuMs(() => {
      for (let i = 0; i < 1000; i++) locker.cas.tickNow();
    });
    // Every lease lapses (within one second): the node's expiry timer fires and
    // expires them all (acceptor + CAS node + Locker 'expired' events).
    const before = expiredEvents;
    const expire = cpuMs(() => clock.runUntil(clock.now() + LEASE_MS + 1000));
    const expired = expiredEvents - before;
    const afterExpire = memory();
    // Their grace ends: the acceptor forgets them.
    const size = acceptor.size;
    const forget = cpuMs(() => clock.runUntil(clock.now() + GC_GRACE_MS + 1000));
    const forgotten = size - acceptor.size;
    const afterForget = memory();
    return {
      live,
      idleTickCpuUs: (idle.cpuMs * 1000) / 1000,
      expired,
      expireCpuMs: expire.cpuMs,
      expireWallMs: expire.wallMs,
      forgetCpuMs: forget.cpuMs,
      forgotten,
      acceptorKeysAfterForget: acceptor.size,
      afterExpire,
      afterForget,
    };
  },
});
fixtureReady({ pid: process.pid });
