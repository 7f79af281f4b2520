#!/usr/bin/env bash
# Installs what the root-only network tests need (nftables, iproute2, and
# util-linux's unshare for per-host hostnames in test/netns/lan.ts) and
# Debian's chromium for the dashboard's browser test, when running as root
# and they are missing. Elsewhere it does nothing: those tests then skip
# with a visible message.
set -uo pipefail
if [ "$(id -u)" != "0" ]; then
  echo "ensure-test-tools: not root; network-namespace tests will be skipped"
  exit 0
fi
missing=()
command -v nft >/dev/null 2>&1 || missing+=(nftables)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# libfaketime: the nemesis skews one host's clock with it.
ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || missing+=(faketime)
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-test-tools: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } >/tmp/locker-apt.log 2>&1; then
    echo "ensure-test-tools: could not install ${missing[*]} (see /tmp/locker-apt.log); network-namespace or browser tests will be skipped"
  fi
fi
exit 0
