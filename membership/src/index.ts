// @locker/membership: SWIM membership with the Lifeguard extensions.
export { Membership, MembershipError, type MembershipErrorCode, type MembershipOptions, type MembershipStats } from "./membership.js";
export {
  FINAL_CHECKS, MAX_INCARNATION_STEP, MAX_JOIN_ADDRESSES, MAX_JOINS, MAX_RECONNECT_TARGETS, SwimCore,
  type Conflict, type CoreOptions, type CoreStats, type JoinResult, type MemberEvent, type MemberEventType, type Notice, type Output, type Send,
} from "./core.js";
export { lanProfile, localProfile, wanProfile, profiles, resolveConfig, type MembershipConfig, type ProfileName } from "./config.js";
export { remainingSuspicionTime, suspicionTimeoutMs, Suspicion } from "./suspicion.js";
export { Awareness } from "./awareness.js";
export { BroadcastQueue, retransmitLimit } from "./broadcast.js";
export { parseTimerKey, timerKey, type ParsedTimer, type TimerKey } from "./core.js";
export { decodeMessage, encodeMessage, MalformedMessage, MAX_INCARNATION, MAX_PARTS, MAX_SEQ, type Message, type Update, type PushPullEntry } from "./messages.js";
export type { DatagramChannel, Member, MemberState, MembershipClock, MembershipRandom } from "./types.js";
export { defaultRetryJoinPolicy, retryJoin, retryJoinDelayMs, type RetryJoin, type RetryJoinOptions, type RetryJoinPolicy } from "./retry-join.js";
