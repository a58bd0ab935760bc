#!/usr/bin/env bash
# Delete e2e network namespaces (bpe2e-<pid>-<hex>) whose owning process is gone, with anything
# still running inside them. Namespaces of live test processes are left alone.
set -euo pipefail
for ns in $(ip netns list | awk '{print $1}' | grep -E '^bpe2e-[0-9]+-[0-9a-f]+$' || true); do
  pid=${ns#bpe2e-}; pid=${pid%%-*}
  if kill -0 "$pid" 2>/dev/null; then continue; fi
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$ns" && echo "deleted stale namespace $ns"
done
