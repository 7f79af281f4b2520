// Why a node cannot serve quorum operations yet, in words an operator can act
// on: bootstrapping, quiet period (with the time left), or no quorum (with
// the voters that are unreachable).
export interface ReadinessInput {
  /** Still forming or learning the voter set: what it waits for. */
  bootstrapping?: string;
  self: string;
  voters: readonly string[];
  /** Liveness as SWIM sees it (suspects count: a slow voter is still asked). */
  isUp: (name: string) => boolean;
  /** This node is a voter in its quiet period: ms left. 0 when not quiet. */
  quietRemainingMs: number;
  /** Appended to the quiet-period reason: what recovery from the other voters is doing (CasNode.recoveryNote). */
  quietNote?: string;
}

export interface Readiness {
  ready: boolean;
  /** Present when not ready. */
  reason?: string;
  /** Voters SWIM does not show alive or suspect. */
  unreachable?: string[];
}

export function readiness(i: ReadinessInput): Readiness {
  if (i.bootstrapping !== undefined) return { ready: false, reason: `bootstrapping: ${i.bootstrapping}` };
  const up = i.voters.filter((v) => v === i.self || i.isUp(v));
  const unreachable = i.voters.filter((v) => v !== i.self && !i.isUp(v));
  const quorum = Math.floor(i.voters.length / 2) + 1;
  // Our own vote does not count while quiet; the others' still do.
  const voting = i.quietRemainingMs > 0 && i.voters.includes(i.self) ? up.length - 1 : up.length;
  if (voting >= quorum && i.quietRemainingMs <= 0) return { ready: true };
  if (i.quietRemainingMs > 0 && i.voters.includes(i.self)) {
    const seconds = Math.ceil(i.quietRemainingMs / 1000);
    // With enough other voters up, the cluster serves through them; this node's own acceptor waits.
    if (voting >= quorum) return { ready: true };
    return { ready: false, reason: `quiet period: this voter restarted and votes again in ${seconds} s${i.quietNote ?? ""}`, unreachable };
  }
  return {
    ready: false,
    reason: `no quorum: ${up.length} of ${i.voters.length} voters alive${unreachable.length ? ` (unreachable: ${unreachable.join(", ")})` : ""}`,
    unreachable,
  };
}
