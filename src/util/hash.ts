// 32-bit string hashing shared by the layers that spread keys: key affinity's
// rendezvous weights (node/affinity/rendezvous.ts) and the acceptor's key
// table (cas/key-index.ts).

/** FNV-1a over the UTF-16 code units of `s`, continuing from `h` (32-bit). */
export function fnv1a(s: string, h: number): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * murmur3's finalizer: FNV-1a alone leaves the low bits of similar inputs
 * (k/1, k/2 …) correlated; the avalanche makes every output bit depend on
 * every input bit.
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
