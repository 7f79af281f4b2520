// `npm run nemesis -- --minutes N --seed S [--clients-per-host K]`: a long
// nemesis run (root: it builds network namespaces). Prints operations by
// outcome, latency percentiles per fault window and the verdict; exits 1 on a
// violation, 2 on a bad flag.
import { parseArgs } from "node:util";
import { Lan, lanUnavailableReason } from "./lan.js";
import { describeNemesis, runNemesis } from "./nemesis.js";

const usage = "usage: npm run nemesis -- [--minutes 1..600] [--seed N] [--clients-per-host 1..10]";
let values: { minutes?: string; seed?: string; "clients-per-host"?: string };
try {
  values = parseArgs({ options: { minutes: { type: "string" }, seed: { type: "string" }, "clients-per-host": { type: "string" } }, strict: true, allowPositionals: false }).values;
} catch (e) {
  console.error(`${(e as Error).message}\n${usage}`);
  process.exit(2);
}
const minutes = Number(values.minutes ?? 5);
const seed = Number(values.seed ?? Date.now() % 100_000);
const perHost = Number(values["clients-per-host"] ?? 3);
if (!(minutes >= 1 && minutes <= 600) || !Number.isInteger(seed) || !(Number.isInteger(perHost) && perHost >= 1 && perHost <= 10)) {
  console.error(usage);
  process.exit(2);
}
const reason = lanUnavailableReason();
if (reason) {
  console.error(`nemesis: cannot build the hosts: ${reason}`);
  process.exit(2);
}
const lan = Lan.create({ hosts: 5, label: "nemesis" });
let code = 1;
try {
  console.log(`nemesis: seed ${seed}, ${minutes} min, ${perHost} clients per host`);
  const r = await runNemesis(lan, { seed, durationMs: minutes * 60_000, clientsPerHost: perHost, log: (l) => console.log(l) });
  console.log(describeNemesis(r));
  code = r.verdict.ok ? 0 : 1;
} finally {
  await lan.destroy({ keepLogs: code !== 0 });
  if (code !== 0) console.log(`agent logs kept in ${lan.dir}`);
}
process.exit(code);
