// Hostile input: random and mutated datagrams go through the whole receive
// path. Nothing may throw out of it and every one must be counted as dropped.
import test from "ava";
import { Transport, type DatagramSocket } from "../../src/transport/index.js";
import { VirtualClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { asArray, asBytes, asUint, encodeFrame, Envelope, FrameKind, Keyring, WireError } from "../../src/wire/index.js";

class NullSocket implements DatagramSocket {
  readonly address = "fuzz:1";
  sent = 0;
  send(): void {
    this.sent++;
  }
  onDatagram(): void {}
  onSendError(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const COUNT = 100_000;

for (const sealed of [false, true]) {
  test(`${COUNT} random and mutated datagrams are dropped and counted${sealed ? " (sealed cluster)" : ""}`, (t) => {
    const random = new SeededRandom(sealed ? 2 : 1);
    const clock = new VirtualClock();
    const keyring = sealed ? new Keyring([Buffer.alloc(32, 3)]) : undefined;
    const socket = new NullSocket();
    const transport = new Transport(socket, clock, random.fork(), { clusterLabel: "fuzz", keyring });
    let handled = 0;
    // The codec accepts only one 16-byte token; the "valid" datagram carries a
    // token that differs from it in many bits, so no few bit flips can turn
    // a mutation into an acceptable message.
    const accepted = Buffer.alloc(16, 0x5a);
    const carried = Buffer.alloc(16, 0xa5);
    const channel = transport.channel(2, {
      encode: (m: { token: Uint8Array; n: number }) => [m.token, m.n],
      decode: (raw) => {
        const a = asArray(raw, "msg", 2, 2);
        const token = asBytes(a[0], "token", 16);
        if (!accepted.equals(token)) throw new WireError("bad_message", "wrong token");
        return { token, n: asUint(a[1], "n", 1000) };
      },
    });
    channel.onMessage(() => handled++);
    channel.onRequest((m) => {
      handled++;
      return m;
    });

    const env = new Envelope({ clusterLabel: "fuzz", keyring });
    // A valid datagram carrying a request whose payload the codec rejects.
    const validBody = encodeFrame({ channel: 2, kind: FrameKind.request, id: 5, payload: [carried, 5] });
    const valid = env.wrap(validBody, 1);
    const randomBytes = (n: number): Buffer => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = random.int(256);
      return b;
    };
    let threw = 0;
    for (let i = 0; i < COUNT; i++) {
      let d: Buffer;
      switch (i % 5) {
        case 0: // pure noise
          d = randomBytes(random.int(1500));
          break;
        case 1: {
          // bit flips in a valid datagram
          d = Buffer.from(valid);
          const flips = 1 + random.int(4);
          for (let f = 0; f < flips; f++) {
            const bit = random.int(d.length * 8);
            d[bit >> 3]! ^= 1 << (bit & 7);
          }
          break;
        }
        case 2: // truncation
          d = valid.subarray(0, random.int(valid.length));
          break;
        case 3: // extension with garbage
          d = Buffer.concat([valid, randomBytes(1 + random.int(64))]);
          break;
        default: // a valid envelope around garbage
          d = env.wrap(randomBytes(random.int(600)), 1 + random.int(2));
      }
      const before = transport.stats.dropped;
      try {
        transport.receive(d, `10.0.0.${random.int(255)}:${random.int(65535)}`);
      } catch {
        threw++;
        continue;
      }
      // Each datagram here is invalid: it must have been counted as dropped.
      if (transport.stats.dropped === before) {
        t.fail(`datagram ${i} (${d.toString("hex")}) was accepted`);
        return;
      }
    }
    t.is(threw, 0);
    t.is(handled, 0);
    t.is(transport.stats.datagramsIn, COUNT);
    t.true(transport.stats.dropped >= COUNT);
    t.log("drops by reason", JSON.stringify(transport.stats.droppedByReason));
  });
}
