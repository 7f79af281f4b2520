import test from "ava";
import type { NetworkInterfaceInfo } from "node:os";
import { chooseAdvertiseAddress, isPrivate } from "../../src/node/advertise.js";
import { isLockerError } from "../../src/errors.js";

const v4 = (address: string, internal = false): NetworkInterfaceInfo => ({ address, netmask: "255.255.255.0", family: "IPv4", mac: "00:00:00:00:00:00", internal, cidr: `${address}/24` });
const v6 = (address: string): NetworkInterfaceInfo => ({ address, netmask: "ffff:ffff:ffff:ffff::", family: "IPv6", mac: "00:00:00:00:00:00", internal: false, cidr: `${address}/64`, scopeid: 0 });

test("a bound address is advertised as it is; --advertise overrides it, with or without a port", (t) => {
  t.is(chooseAdvertiseAddress("10.0.0.5:7946", undefined, {}), "10.0.0.5:7946");
  t.is(chooseAdvertiseAddress("0.0.0.0:7946", "192.168.1.9", {}), "192.168.1.9:7946");
  t.is(chooseAdvertiseAddress("0.0.0.0:7946", "192.168.1.9:9000", {}), "192.168.1.9:9000");
  t.is(chooseAdvertiseAddress("[::]:7946", "[fd00::1]", {}), "[fd00::1]:7946");
});

test("0.0.0.0 advertises the host's one private address, never the unspecified one", (t) => {
  const ifs = { lo: [v4("127.0.0.1", true)], eth0: [v4("10.77.0.2"), v6("fe80::1")], docker0: [v4("8.8.4.4")] };
  t.is(chooseAdvertiseAddress("0.0.0.0:7946", undefined, ifs), "10.77.0.2:7946");
});

test("several or no private addresses: a clear error that lists them and names --advertise", (t) => {
  const several = { eth0: [v4("10.0.0.2")], wlan0: [v4("192.168.1.4")] };
  const e1 = t.throws(() => chooseAdvertiseAddress("0.0.0.0:7946", undefined, several));
  t.true(isLockerError(e1) && e1.code === "invalid");
  t.regex(e1!.message, /10\.0\.0\.2 \(eth0\).*192\.168\.1\.4 \(wlan0\).*--advertise/);
  const e2 = t.throws(() => chooseAdvertiseAddress("0.0.0.0:7946", undefined, { lo: [v4("127.0.0.1", true)] }));
  t.regex(e2!.message, /no private address.*--advertise/);
  t.throws(() => chooseAdvertiseAddress("0.0.0.0:7946", "0.0.0.0", {}), { message: /unspecified/ });
});

test("private ranges", (t) => {
  for (const a of ["10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.0.1", "100.64.0.1", "fd12:3456::1", "fc00::1"]) t.true(isPrivate(a), a);
  for (const a of ["172.32.0.1", "8.8.8.8", "127.0.0.1", "169.254.1.1", "fe80::1", "2001:db8::1", "100.128.0.1"]) t.false(isPrivate(a), a);
});
