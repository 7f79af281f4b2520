// Network namespaces and nftables for tests that break a real network:
// packet loss on the input hook, partitions by port. Root only; tests skip
// with a visible message elsewhere.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

// By absolute path: under npm scripts node_modules/.bin comes first in PATH,
// and a dev dependency ships an unrelated "nft" command.
const NFT = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].find((p) => existsSync(p));
const IP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].find((p) => existsSync(p));

export function netnsUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (network namespaces and nftables)";
  if (!IP) return "needs iproute2's 'ip' (scripts/ensure-test-tools.sh installs it)";
  if (!NFT) return "needs nftables' 'nft' (scripts/ensure-test-tools.sh installs it)";
  try {
    // Per process: two test runs probing at once must not see each other's namespace.
    execFileSync(IP, ["netns", "add", `locker-probe-${process.pid}`], { stdio: "ignore" });
    execFileSync(IP, ["netns", "del", `locker-probe-${process.pid}`], { stdio: "ignore" });
  } catch {
    return "cannot create network namespaces here";
  }
  return undefined;
}

/** The `ip` binary, for running processes inside a namespace. */
export const IP_COMMAND = IP ?? "ip";

export class Netns {
  private constructor(readonly name: string) {}

  static create(name: string): Netns {
    try {
      execFileSync(IP!, ["netns", "del", name], { stdio: "ignore" });
    } catch {
      // did not exist
    }
    execFileSync(IP!, ["netns", "add", name]);
    const ns = new Netns(name);
    ns.run(IP!, "link", "set", "lo", "up");
    ns.nft("add table inet locker");
    // Input hook: dropping on output would make send() fail with EPERM instead of losing the datagram.
    ns.nft("add chain inet locker in { type filter hook input priority 0 ; }");
    return ns;
  }

  run(cmd: string, ...args: string[]): string {
    return execFileSync(IP!, ["netns", "exec", this.name, cmd, ...args]).toString();
  }

  nft(rule: string): void {
    this.run(NFT!, ...rule.split(" "));
  }

  /** Drops `percent`% of UDP datagrams at random. */
  loseUdp(percent: number): void {
    this.nft(`add rule inet locker in meta l4proto udp numgen random mod 100 < ${percent} drop`);
  }

  /** Drops every UDP datagram to `port` (the node there is cut off from everyone, both ways for requests). */
  isolatePort(port: number): void {
    this.nft(`add rule inet locker in udp dport ${port} drop`);
    this.nft(`add rule inet locker in udp sport ${port} drop`);
  }

  clearRules(): void {
    this.nft("flush chain inet locker in");
  }

  destroy(): void {
    try {
      execFileSync(IP!, ["netns", "del", this.name], { stdio: "ignore" });
    } catch {
      // already gone
    }
  }
}
