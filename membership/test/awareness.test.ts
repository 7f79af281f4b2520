import test from "ava";
import { Awareness } from "../src/awareness.js";

test("Awareness stays within [0, max-1] and stretches timeouts by score+1", (t) => {
  const a = new Awareness(8);
  t.is(a.scaleTimeout(100), 100);
  a.apply(3);
  t.is(a.scaleTimeout(100), 400);
  a.apply(100);
  t.is(a.healthScore, 7);
  t.is(a.scaleTimeout(100), 800);
  a.apply(-100);
  t.is(a.healthScore, 0);
  const off = new Awareness(1);
  off.apply(5);
  t.is(off.scaleTimeout(100), 100);
  t.throws(() => new Awareness(0));
});
