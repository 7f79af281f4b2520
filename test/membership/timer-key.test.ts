// The SWIM core's timer keys: every key `timerKey` makes parses back to what
// made it (member names may hold any character, a colon included), and keys
// no core makes are refused rather than half-parsed.
import test from "ava";
import fc from "fast-check";
import { parseTimerKey, timerKey } from "@locker/membership";

test("every timer key parses back to its kind and argument", (t) => {
  for (const k of ["probe", "probeTimeout", "gossip", "pushPull", "reconnect", "reap", "leave"] as const) t.deepEqual(parseTimerKey(k), { kind: k });
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 64 }), fc.nat(), (member, seq) => {
      t.deepEqual(parseTimerKey(timerKey.suspect(member)), { kind: "suspect", member });
      t.deepEqual(parseTimerKey(timerKey.join(seq)), { kind: "join", seq });
      t.deepEqual(parseTimerKey(timerKey.nack(seq)), { kind: "nack", seq });
      t.deepEqual(parseTimerKey(timerKey.ind(seq)), { kind: "ind", seq });
    }),
    { seed: 14, numRuns: 500 },
  );
});

test("keys no core makes are refused", (t) => {
  for (const k of ["", "probe:", "join:", "join:x", "nack:1.5", "ind:-", "other:1", "Probe"]) t.is(parseTimerKey(k), undefined, k);
});
