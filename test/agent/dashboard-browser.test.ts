// The dashboard in a real browser: Debian's chromium driven by playwright-core
// against a live 3-node cluster. The first paint has content; the page lists 3
// alive members; a lock appears with its holder, token and a countdown that
// runs down to its expiry; an election's leader is shown and changes when the
// leader's agent is killed, and that agent turns suspect then dead; internal
// keys never appear. Screenshots go to test-artifacts/dashboard/. Skipped, with
// a visible message, where chromium is not installed (scripts/ensure-test-tools.sh
// installs it when run as root, as CI does).
import test from "ava";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { eventually, request, ROOT, startCli, startCluster } from "./harness.js";

const CHROMIUM = process.env.LOCKER_CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = join(ROOT, "test-artifacts", "dashboard");

type Playwright = typeof import("playwright-core");
let playwright: Playwright | undefined;
let unavailable: string | undefined;
if (!existsSync(CHROMIUM)) unavailable = `no chromium at ${CHROMIUM} (apt-get install chromium; scripts/ensure-test-tools.sh does it as root)`;
else {
  try {
    playwright = await import("playwright-core");
  } catch (e) {
    unavailable = `playwright-core does not load: ${(e as Error).message}`;
  }
}

if (unavailable) {
  console.log(`[skipped] dashboard-browser: ${unavailable}`);
  test("dashboard in a browser: skipped", (t) => {
    t.log(`skipped: ${unavailable}`);
    t.pass();
  });
} else {
  test("dashboard in chromium: members, a lock's countdown to expiry, an election's leader across a kill; no internal key", async (t) => {
    t.timeout(180_000);
    mkdirSync(ARTIFACTS, { recursive: true });
    const cluster = await startCluster("dash", 3);
    t.teardown(() => cluster.stop());
    const [n1, n2, n3] = cluster.agents as [(typeof cluster.agents)[0], (typeof cluster.agents)[0], (typeof cluster.agents)[0]];
    // A lock held before the page loads: the server renders it into the first paint.
    t.is((await request(n2.http, "PUT", "/v1/keys/before-load", { value: "early", leaseMs: 60_000 })).status, 200);

    const browser = await playwright!.chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    t.teardown(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`http://${n1.http}/`, { waitUntil: "load" });
    await page.screenshot({ path: join(ARTIFACTS, "1-first-paint.png") });
    // Server-rendered: right after load, before any script round trip.
    t.is(await page.locator('#keys tr[data-key="before-load"]').count(), 1, "the first paint lists the key");
    t.is(await page.locator("#members tr[data-member]").count(), 3, "the first paint lists the members");

    await eventually("3 alive members on the page", async () => ((await page.locator('#members tr[data-state="alive"]').count()) === 3 ? true : undefined), 20_000);
    // Each member's own readiness, as it advertises it to the others.
    await eventually("every member shown ready", async () => ((await page.locator("#members td.ready", { hasText: /^ready$/ }).count()) === 3 ? true : undefined), 20_000);

    // A lock through another agent: its row, holder, token, then a countdown to its expiry.
    const lock = await request(n3.http, "PUT", "/v1/keys/dash-job", { value: "worker-7", leaseMs: 4000 });
    t.is(lock.status, 200, lock.text);
    const row = page.locator('#keys tr[data-key="dash-job"]');
    await eventually("the lock on the page", async () => ((await row.count()) === 1 ? true : undefined), 10_000);
    t.is(await row.locator(".holder").innerText(), "worker-7");
    t.is(await row.locator(".token").innerText(), String(lock.json.token));
    const first = parseFloat(await row.locator(".lease").innerText());
    await page.waitForTimeout(1200);
    const later = parseFloat(await row.locator(".lease").innerText());
    t.true(later < first, `the countdown runs: ${first} → ${later}`);
    await page.screenshot({ path: join(ARTIFACTS, "2-lock-held.png") });
    const lastText = await eventually("the countdown to reach zero (or the row to go on expiry)", async () => {
      // allInnerTexts does not wait: the row may leave between two reads (innerText would wait 30 s for it).
      const texts = await row.locator(".lease").allInnerTexts();
      if (texts.length === 0) return "gone";
      return texts[0] === "0.0 s" ? texts[0] : undefined;
    }, 15_000);
    t.log(`countdown ${first} s → ${later} s → ${lastText}`);
    await eventually("the expired lock to leave the page", async () => ((await row.count()) === 0 ? true : undefined), 15_000);

    // An election: a candidate through n2 leads; killing n2 hands it to the candidate through n3.
    const cand2 = startCli(["elect", "web", "--id", "cand-n2", "--lease", "2s", "--", "sleep", "600"], { http: n2.http });
    t.teardown(() => void cand2.proc.kill("SIGKILL"));
    const leader = page.locator('#elections tr[data-election="web"] .leader');
    // Read without waiting: the cell is replaced while the leader changes.
    const shownLeader = (texts: string[]): string | undefined => (texts.length === 1 ? texts[0] : undefined);
    await eventually("cand-n2 shown as leader", async () => (shownLeader(await leader.allInnerTexts()) === "cand-n2" ? true : undefined), 20_000);
    const cand3 = startCli(["elect", "web", "--id", "cand-n3", "--lease", "2s", "--", "sleep", "600"], { http: n3.http });
    t.teardown(() => void cand3.proc.kill("SIGKILL"));
    await page.screenshot({ path: join(ARTIFACTS, "3-leader-cand-n2.png") });

    const states: string[] = [];
    const n2row = page.locator(`#members tr[data-member="${n2.name}"]`);
    await n2.kill("SIGKILL");
    await eventually(`${n2.name} dead on the page`, async () => {
      const s = await n2row.getAttribute("data-state");
      if (s && states[states.length - 1] !== s) states.push(s);
      return s === "dead" ? true : undefined;
    }, 60_000, 50);
    t.log(`${n2.name} on the page: ${states.join(" → ")}`);
    t.true(states.includes("suspect") && states.indexOf("suspect") < states.indexOf("dead"), `suspect before dead: ${states.join(" → ")}`);
    await eventually("cand-n3 shown as leader", async () => (shownLeader(await leader.allInnerTexts()) === "cand-n3" ? true : undefined), 30_000);
    await page.screenshot({ path: join(ARTIFACTS, "4-leader-cand-n3-after-kill.png") });

    // A voter change writes the cluster's internal (NUL-prefixed) configuration keys: never shown, never counted.
    const removed = await request(n1.http, "DELETE", `/v1/voters/${n2.name}`);
    t.is(removed.status, 200, removed.text);
    const userKeys = ((await request(n1.http, "GET", "/v1/keys")).json.keys as unknown[]).length;
    await eventually("the page to show the new voter set", async () => ((await page.locator("#voters").innerText()).includes(n2.name) ? undefined : true), 15_000);
    await page.waitForTimeout(2500);
    const leases = await page.locator("#cards .card", { hasText: "live leases" }).locator("b").innerText();
    t.is(Number(leases), userKeys, "live leases count the user keys only");
    await page.screenshot({ path: join(ARTIFACTS, "5-after-voter-change.png") });
    const listed = await page.locator("#keys tr[data-key]").evaluateAll((rows) => rows.map((r) => (r as unknown as { dataset: { key: string } }).dataset.key));
    t.true(listed.every((k) => k.charCodeAt(0) !== 0), `no internal key: ${JSON.stringify(listed)}`);
    const events = await page.locator("#events li").allInnerTexts();
    t.true(events.some((e) => e.includes(`member ${n2.name} dead`)), "the death is in the event list");
    t.true(events.some((e) => e.includes("leader of web: cand-n3")), "the new leader is in the event list");
    t.deepEqual(pageErrors, [], "no script error on the page");
  });
}
