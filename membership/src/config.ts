// All tuning knobs of the protocol in one place, with named profiles.
// Timings of `lan` are memberlist's DefaultLANConfig; `wan` and `local` follow its WAN/Local configs.

export interface MembershipConfig {
  /** Time between two probes of this member (stretched by local health awareness). memberlist ProbeInterval. */
  probeIntervalMs: number;
  /** Time to wait for a direct ack before asking others to probe indirectly. Must be < probeIntervalMs. */
  probeTimeoutMs: number;
  /** Members asked to probe indirectly (ping-req) when a direct probe times out (k in SWIM). */
  indirectChecks: number;
  /** Each piggybacked update is sent retransmitMult * ceil(log10(n + 1)) times. */
  retransmitMult: number;
  /** Minimum suspicion timeout = suspicionMult * max(1, log10(n)) * probeIntervalMs. */
  suspicionMult: number;
  /** Maximum suspicion timeout = suspicionMaxTimeoutMult * minimum (Lifeguard). */
  suspicionMaxTimeoutMult: number;
  /** Full-state exchange with one random member; 0 disables. Scaled up beyond 32 members to keep load constant. */
  pushPullIntervalMs: number;
  /** Extra gossip rounds between probes for faster dissemination; 0 disables (piggyback only). */
  gossipIntervalMs: number;
  /** Members sent to per gossip round (only when there is something to send). */
  gossipNodes: number;
  /** Dead members still receive gossip this long, so a wrongly declared node learns of it and refutes. */
  gossipToTheDeadMs: number;
  /** Upper bound of the local health multiplier (Lifeguard LHA); 1 disables it. */
  awarenessMaxMultiplier: number;
  /** Dead and left members are forgotten after this long. */
  forgetDeadAfterMs: number;
  /**
   * Serf's reconnect: every so often a push-pull is tried with one member held
   * dead or left (or forgotten since), so partitions heal and full restarts
   * rejoin; 0 disables. One datagram's worth of state per interval.
   */
  reconnectIntervalMs: number;
  /** How long after a member went dead or left it is still tried by reconnect (Serf's reconnect_timeout, 24 h there). */
  reconnectTimeoutMs: number;
  /** Interval between join attempts to the seeds. */
  joinRetryIntervalMs: number;
  /** Join attempts (to all seeds each time) before bootstrap rejects. */
  joinMaxAttempts: number;
  /** How long leave() keeps answering so its announcement spreads, at most. */
  leavePropagateMs: number;
  /** Limit of the encoded metadata. */
  maxMetaBytes: number;
  /** Limit of the member table; updates about further members are dropped and counted. */
  maxMembers: number;
  /** Lifeguard on: dynamic suspicion timeout, local health awareness, buddy system, nacks. Off: classic SWIM. */
  lifeguard: boolean;
}

const common = {
  awarenessMaxMultiplier: 8,
  joinMaxAttempts: 5,
  maxMetaBytes: 512,
  maxMembers: 10_000,
  lifeguard: true,
} as const;

/** memberlist DefaultLANConfig timings: a data-centre network. */
export const lanProfile: MembershipConfig = {
  ...common,
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  retransmitMult: 4,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  pushPullIntervalMs: 30_000,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  forgetDeadAfterMs: 60_000,
  reconnectIntervalMs: 10_000,
  reconnectTimeoutMs: 24 * 3_600_000,
  joinRetryIntervalMs: 1000,
  leavePropagateMs: 1000,
};

/** memberlist DefaultWANConfig timings: slow, lossy links between sites. */
export const wanProfile: MembershipConfig = {
  ...common,
  probeIntervalMs: 5000,
  probeTimeoutMs: 3000,
  indirectChecks: 3,
  retransmitMult: 4,
  suspicionMult: 6,
  suspicionMaxTimeoutMult: 6,
  pushPullIntervalMs: 60_000,
  gossipIntervalMs: 500,
  gossipNodes: 4,
  gossipToTheDeadMs: 60_000,
  forgetDeadAfterMs: 120_000,
  reconnectIntervalMs: 30_000,
  reconnectTimeoutMs: 24 * 3_600_000,
  joinRetryIntervalMs: 3000,
  leavePropagateMs: 3000,
};

/** Loopback and tests: fast judgements (memberlist DefaultLocalConfig, with a shorter probe interval). */
export const localProfile: MembershipConfig = {
  ...common,
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  indirectChecks: 2,
  retransmitMult: 3,
  suspicionMult: 3,
  suspicionMaxTimeoutMult: 4,
  pushPullIntervalMs: 5000,
  gossipIntervalMs: 50,
  gossipNodes: 3,
  gossipToTheDeadMs: 5000,
  forgetDeadAfterMs: 15_000,
  reconnectIntervalMs: 2000,
  reconnectTimeoutMs: 3_600_000,
  joinRetryIntervalMs: 250,
  leavePropagateMs: 300,
};

export const profiles = { lan: lanProfile, wan: wanProfile, local: localProfile } as const;
export type ProfileName = keyof typeof profiles;

/** Resolves a profile plus overrides and checks every knob, with a clear error for a bad one. */
export function resolveConfig(profile: ProfileName | MembershipConfig = "lan", overrides: Partial<MembershipConfig> = {}): MembershipConfig {
  const base = typeof profile === "string" ? profiles[profile] : profile;
  if (!base) throw new RangeError(`unknown membership profile ${String(profile)}`);
  const c: MembershipConfig = { ...base };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  // A full config written before this knob existed keeps working with the lan default.
  if ((c as Partial<MembershipConfig>).reconnectTimeoutMs === undefined) c.reconnectTimeoutMs = lanProfile.reconnectTimeoutMs;
  const positive: (keyof MembershipConfig)[] = [
    "probeIntervalMs", "probeTimeoutMs", "retransmitMult", "suspicionMult", "suspicionMaxTimeoutMult",
    "awarenessMaxMultiplier", "forgetDeadAfterMs", "reconnectTimeoutMs", "joinRetryIntervalMs", "joinMaxAttempts", "maxMetaBytes", "maxMembers",
  ];
  for (const k of positive) {
    const v = c[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new RangeError(`membership config ${k} must be a positive number, got ${String(v)}`);
  }
  const nonNegative: (keyof MembershipConfig)[] = [
    "indirectChecks", "pushPullIntervalMs", "gossipIntervalMs", "gossipNodes", "gossipToTheDeadMs", "reconnectIntervalMs", "leavePropagateMs",
  ];
  for (const k of nonNegative) {
    const v = c[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new RangeError(`membership config ${k} must be a non-negative number, got ${String(v)}`);
  }
  if (c.probeTimeoutMs >= c.probeIntervalMs) throw new RangeError("membership config probeTimeoutMs must be less than probeIntervalMs");
  if (c.suspicionMaxTimeoutMult < 1) throw new RangeError("membership config suspicionMaxTimeoutMult must be >= 1");
  return c;
}
