// The `locker` commands that talk to an agent over HTTP, and how their
// answers print (plain text for people and scripts, --json for programs).
import type { SystemClock } from "../util/clock.js";
import { formatDuration } from "../agent/duration.js";
import { durationFlag, type CommandSpec, type Parsed } from "./args.js";
import { AgentClient } from "./client.js";
import { EXIT, UsageError } from "./exit.js";
import type { Io } from "./io.js";
import { electCommand, execCommand } from "./supervise.js";

export async function runCommand(spec: CommandSpec, p: Parsed, client: AgentClient, clock: SystemClock, io: Io, json: boolean): Promise<number> {
  const [a, b, c] = p.positional as [string, string, string];
  const show = (body: Record<string, unknown>, human: string): number => {
    io.out(json ? JSON.stringify(body) : human);
    return EXIT.ok;
  };
  const path = AgentClient.keyPath;
  switch (spec.name) {
    case "lock": {
      const leaseMs = durationFlag(p, "lease", 10_000);
      const timeoutMs = p.flags.has("timeout") ? durationFlag(p, "timeout", 0) : undefined;
      const r = await client.lockRaw(a, b, leaseMs, timeoutMs);
      return show(r as unknown as Record<string, unknown>, r.token);
    }
    case "update": {
      const r = await client.call("POST", path(a, "update"), { expected: b, value: c });
      return show(r, `updated ${a} (token ${String(r.token)})`);
    }
    case "extend": {
      const r = await client.extendRaw(a, b, durationFlag(p, "lease", 10_000));
      return show(r as unknown as Record<string, unknown>, `extended ${a} for ${formatDuration(r.leaseMs ?? 0)} (token ${r.token})`);
    }
    case "release": {
      const r = await client.call("POST", path(a, "release"), { value: b });
      return show(r, `released ${a}`);
    }
    case "get": {
      const r = await client.call("GET", path(a) + (p.flags.has("consistent") ? "?consistent=true" : ""));
      return show(r, printable(r.value));
    }
    case "wait": {
      const timeoutMs = durationFlag(p, "timeout", 30_000);
      if (timeoutMs > 300_000) throw new UsageError("--timeout: at most 5m");
      const released = p.flags.has("released");
      const r = await client.call("GET", `${path(a)}?wait=${released ? "released" : "present"}&timeoutMs=${timeoutMs}`, undefined, timeoutMs + 15_000);
      return show(r, released ? `${a} is free` : printable(r.value));
    }
    case "keys": {
      const r = await client.call("GET", `/v1/keys${a !== undefined ? `?prefix=${encodeURIComponent(a)}` : ""}`);
      const rows = (Array.isArray(r.keys) ? r.keys : []) as Record<string, unknown>[];
      const lines = rows.map((k) => [String(k.key), printable(k.value), String(k.token), formatDuration(Number(k.leaseRemainingMs) || 0)]);
      const more = r.truncated === true ? "\n(more keys not listed)" : "";
      return show(r, table(["KEY", "VALUE", "TOKEN", "LEASE LEFT"], lines) + more);
    }
    case "watch": {
      await client.stream(`/v1/events?since=0${a !== undefined ? `&prefix=${encodeURIComponent(a)}` : ""}`, (e) => {
        if (json) return io.out(e.data);
        io.out(describeEvent(e.data));
      });
      // The agent ended the stream (it is stopping).
      io.err("locker: the agent closed the event stream");
      return EXIT.noQuorum;
    }
    case "members": {
      const r = await client.call("GET", "/v1/members");
      const rows = (Array.isArray(r.members) ? r.members : []) as Record<string, unknown>[];
      const lines = rows.map((m) => [m.name, m.role, m.state, m.address, m.incarnation].map(String));
      return show(r, table(["NAME", "ROLE", "STATE", "ADDRESS", "INCARNATION"], lines));
    }
    case "voters":
    case "promote":
    case "remove-voter": {
      const r =
        spec.name === "voters"
          ? await client.call("GET", "/v1/voters")
          : await client.call(spec.name === "promote" ? "PUT" : "DELETE", `/v1/voters/${encodeURIComponent(a)}`, undefined, 120_000);
      const names = Array.isArray(r.voters) ? (r.voters as string[]) : [];
      return show(r, `version ${String(r.version)}: ${names.join(", ")}`);
    }
    case "keyring": {
      const ops = ["list", "install", "use", "remove"];
      if (!ops.includes(a)) throw new UsageError(`keyring: expected one of ${ops.join(", ")}, got ${JSON.stringify(a)}`, "keyring");
      if ((a === "list") !== (b === undefined)) throw new UsageError(a === "list" ? "keyring list takes no KEY" : `keyring ${a} needs a KEY (from locker keygen)`, "keyring");
      const r = a === "list" ? await client.call("GET", "/v1/keyring", undefined, 30_000) : await client.call("POST", `/v1/keyring/${a}`, { key: b }, 30_000);
      const keys = (Array.isArray(r.keys) ? r.keys : []) as Record<string, unknown>[];
      const failed = (Array.isArray(r.failed) ? r.failed : []) as Record<string, unknown>[];
      const lines = [
        `${String(r.ok)} of ${String(r.members)} members ${a === "list" ? "answered" : `did ${a}`}`,
        table(["FINGERPRINT", "INSTALLED", "PRIMARY"], keys.map((k) => [k.fingerprint, k.installed, k.primary].map(String))),
        ...failed.map((f) => `failed on ${String(f.name)}: ${String(f.error)}`),
      ];
      io.out(json ? JSON.stringify(r) : lines.join("\n"));
      return failed.length === 0 ? EXIT.ok : EXIT.noQuorum;
    }
    case "status": {
      const r = await client.call("GET", "/v1/status");
      const summary = (r.summary ?? {}) as Record<string, unknown>;
      const human = [
        `name:            ${String(r.name)}`,
        `role:            ${String(r.role)}`,
        `ready:           ${r.ready === true ? "yes" : `no (${typeof r.reason === "string" ? r.reason : "not ready"})`}`,
        `voters:          ${Array.isArray(r.voters) ? r.voters.join(", ") : ""}`,
        `config version:  ${String(r.configVersion)}`,
        `members:         ${String(r.members)}`,
        `summary:         ${Object.entries(summary).map(([k, v]) => `${k}=${String(v)}`).join(" ")}`,
        `probe lag:       ${typeof r.lagMs === "number" ? r.lagMs.toFixed(1) + " ms" : "-"}`,
        `after restart:   ${describeRecovery(r.recovery)}`,
      ].join("\n");
      return show(r, human);
    }
    case "exec":
      return execCommand(p, a, client, clock, io);
    case "elect":
      return electCommand(p, a, client, clock, io);
  }
  throw new UsageError(`unknown command ${spec.name}`);
}

/** Strings print as they are (for scripts); other JSON values as JSON. */
function printable(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/**
 * One table cell on one line: a key or value with a control character (a
 * newline would start a false row, a tab or escape would shift the columns)
 * prints as a JSON string instead, so the row stays one row and the text is
 * still recoverable.
 */
export function cell(text: string): string {
  if (!UNPRINTABLE.test(text)) return text;
  // JSON.stringify escapes C0 controls but leaves DEL, C1 and the line/paragraph separators as they are.
  return JSON.stringify(text).replace(/[\u007f-\u009f\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export function table(head: string[], rows: string[][]): string {
  const cells = rows.map((r) => r.map(cell));
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  return [head, ...cells].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

/** One event as a line for people: time, what, who. */
export function describeEvent(data: string): string {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(data) as Record<string, unknown>;
  } catch {
    return data;
  }
  const time = typeof e.time === "number" ? new Date(e.time).toISOString().slice(11, 23) : "?";
  switch (e.type) {
    case "member":
      return `${time}  member   ${String(e.member)} ${String(e.state)} (${String(e.change)}, ${String(e.address)})`;
    case "acquired":
      return `${time}  acquired ${String(e.key)} = ${printable(e.value)} (token ${String(e.token)}, lease ${formatDuration(Number(e.leaseMs) || 0)})`;
    case "released":
    case "expired":
      return `${time}  ${String(e.type).padEnd(8)} ${String(e.key)} (was ${printable(e.value)})`;
    case "leader":
      return `${time}  leader   ${String(e.election)}: ${printable(e.leader)} (token ${String(e.token)})`;
    default:
      return `${time}  ${String(e.type)} ${data}`;
  }
}

/** The recovery block of /v1/status in words. */
function describeRecovery(x: unknown): string {
  const r = (x ?? {}) as { state?: unknown; keys?: unknown; tookMs?: unknown; attempts?: unknown; lastError?: unknown };
  switch (r.state) {
    case "recovered":
      return `recovered from the other voters in ${Math.round(Number(r.tookMs))} ms (${String(r.keys)} keys read back)`;
    case "recovering":
      return `recovering from the other voters (attempt ${String(r.attempts)}${typeof r.lastError === "string" ? `: ${r.lastError}` : ""})`;
    case "impossible":
      return `quiet period (${typeof r.lastError === "string" ? r.lastError : "cannot recover"})`;
    default:
      return "nothing to recover";
  }
}
