// Waiting for a majority: the one promise that resolves once enough attempts
// have succeeded and fails as soon as too few are left to get there, used by
// every caller that gathers answers from a quorum outside a CAS round
// (probes, a configuration's activation).

/**
 * Resolves with the count of successes once `need` of `attempts` have
 * fulfilled with a result that `counts`; rejects with `short(successes)` as
 * soon as those still running cannot reach `need`. Attempts left running are
 * not cancelled (their results are ignored). `need` ≤ 0 resolves at once.
 */
export function whenQuorum<T>(attempts: ReadonlyArray<Promise<T>>, need: number, counts: (result: T) => boolean, short: (successes: number) => Error): Promise<number> {
  if (need <= 0) {
    for (const a of attempts) a.catch(() => {}); // ignored, never an unhandled rejection
    return Promise.resolve(0);
  }
  return new Promise<number>((resolve, reject) => {
    let ok = 0;
    let left = attempts.length;
    let done = false;
    const settle = (): void => {
      if (done) return;
      if (ok >= need) {
        done = true;
        resolve(ok);
      } else if (ok + left < need) {
        done = true;
        reject(short(ok));
      }
    };
    for (const a of attempts) {
      a.then(
        (r) => {
          left--;
          if (counts(r)) ok++;
          settle();
        },
        () => {
          left--;
          settle();
        },
      );
    }
    settle();
  });
}
