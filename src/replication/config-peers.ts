// The configurator's messages (src/cluster/configurator.ts) on replication's
// channel: read a node's configuration, tell it to activate one, list the
// keys of a voter's acceptor page by page. The replicator serves them.
import { LockerError } from "../errors.js";
import type { ConfigPeers } from "../cluster/configurator.js";
import type { Address, Channel, RequestOptions } from "../transport/types.js";
import type { ReplMessage } from "./messages.js";

export function configPeersOver(channel: Channel<ReplMessage>, request: RequestOptions): ConfigPeers {
  const ask = async <T extends ReplMessage["type"]>(address: Address, m: ReplMessage, want: T): Promise<Extract<ReplMessage, { type: T }>> => {
    const r = await channel.request(address, m, request);
    if (r.type !== want) throw new LockerError("unavailable", `unexpected ${r.type} answer to a ${m.type} request`);
    return r as Extract<ReplMessage, { type: T }>;
  };
  return {
    fetchConfig: async (address) => (await ask(address, { type: "cfgGet" }, "cfg")).config,
    activate: async (address, config) => (await ask(address, { type: "cfg", config }, "cfg")).config,
    async listKeys(address) {
      const first = await ask(address, { type: "keys", session: 0, page: 0 }, "keyPage");
      const out = [...first.keys];
      for (let p = 1; p < first.pages; p++) out.push(...(await ask(address, { type: "keys", session: first.session, page: p }, "keyPage")).keys);
      return out;
    },
  };
}
