// Which voter coordinates a key: rendezvous (highest-random-weight) hashing of
// key × voter name. Pure, so every node computes the same answer from the same
// live voter set with no extra round, and a voter going down moves only its own keys.
import { fmix32, fnv1a } from "../../util/hash.js";

// fmix32 matters here: FNV-1a alone leaves the low bits of similar keys
// correlated, which would give one voter most of a key family.
/** The weight of `voter` for `key`: the key is hashed seeded by the voter's name (one pass over the key per voter). */
export function rendezvousWeight(key: string, voter: string): number {
  return fmix32(fnv1a(key, fnv1a(voter, 0x811c9dc5) ^ 0x5bd1e995));
}

/**
 * The coordinator of `key` among `voters` (the live ones: the caller filters),
 * or undefined when there is none. Ties (1 in 2^32) go to the smaller name so
 * every node agrees whatever order it lists the voters in.
 */
export function coordinatorOf(key: string, voters: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const v of voters) {
    const w = rendezvousWeight(key, v);
    if (w > bestWeight || (w === bestWeight && best !== undefined && v < best)) {
      best = v;
      bestWeight = w;
    }
  }
  return best;
}
