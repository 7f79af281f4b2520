// Which address a node gossips to the others. A node bound to an unspecified
// address (0.0.0.0, ::) must never gossip it: the others would send to
// themselves. Like Consul's -bind, it takes the host's one private address and
// refuses to guess when there are several or none.
import type { NetworkInterfaceInfo } from "node:os";
import { LockerError } from "../errors.js";
import { formatHostPort, parseHostPort } from "../transport/udp.js";

export type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

/** Whether `host` is an unspecified ("any") address. */
export function isUnspecified(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "0:0:0:0:0:0:0:0";
}

/** Whether `host` is a loopback address (or the name localhost). */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

/** RFC 1918, RFC 6598 (carrier-grade NAT, used by some fleets) and IPv6 unique-local addresses. */
export function isPrivate(address: string): boolean {
  const m = /^(\d+)\.(\d+)\.\d+\.\d+$/.exec(address);
  if (m) {
    const a = Number(m[1]);
    const b = Number(m[2]);
    return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  return /^f[cd][0-9a-f]{2}:/i.test(address);
}

/** Private addresses of this host's interfaces (not loopback, not link-local), IPv4 or IPv6 as asked. */
export function privateAddresses(interfaces: Interfaces, family: "IPv4" | "IPv6"): { address: string; interface: string }[] {
  const out: { address: string; interface: string }[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const i of infos ?? []) {
      if (i.internal || i.family !== family || !isPrivate(i.address)) continue;
      out.push({ address: i.address, interface: name });
    }
  }
  return out;
}

/**
 * The address to gossip: `advertise` (HOST or HOST:PORT; the port defaults to
 * the bound one) when given, else the bound address, else — for an
 * unspecified bind — the host's one private address.
 */
export function chooseAdvertiseAddress(bound: string, advertise: string | undefined, interfaces: Interfaces): string {
  const { host, port } = parseHostPort(bound);
  if (advertise !== undefined && advertise !== "") {
    const withPort = /^\[[^\]]+\]:\d+$|^[^:]+:\d+$/.test(advertise);
    const a = withPort ? parseHostPort(advertise) : { host: advertise.replace(/^\[|\]$/g, ""), port };
    if (isUnspecified(a.host)) throw new LockerError("invalid", `--advertise ${advertise}: an unspecified address cannot be reached by other members`);
    if (a.port === 0) throw new LockerError("invalid", `--advertise ${advertise}: port 0 cannot be reached`);
    return formatHostPort(a.host, a.port);
  }
  if (!isUnspecified(host)) return bound;
  const v4 = privateAddresses(interfaces, "IPv4");
  const candidates = v4.length > 0 || host === "0.0.0.0" ? v4 : privateAddresses(interfaces, "IPv6");
  if (candidates.length === 1) return formatHostPort(candidates[0]!.address, port);
  const listed = candidates.map((c) => `${c.address} (${c.interface})`).join(", ");
  throw new LockerError(
    "invalid",
    candidates.length === 0
      ? `bound to ${bound} but this host has no private address to advertise; give --advertise HOST (the address other members reach this node at)`
      : `bound to ${bound} and this host has several private addresses: ${listed}; choose one with --advertise HOST (or bind to it)`,
  );
}
