#!/usr/bin/env bash
# Runs the end-to-end suite (tests/e2e/README.md) in its own network and mount namespaces (needs root):
# - network: 10.0.0.0/8 is made local on its loopback, so pods, Service addresses and activator replicas get
#   addresses the API server accepts in EndpointSlices (it refuses 127.0.0.0/8), and nothing collides with ports
#   other programs on the machine use;
# - mount: the suite binds a hosts file mapping the plan's cluster DNS names over /etc/hosts, seen by every process it
#   starts (the KEDA operator, the activators) and by nothing outside.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec unshare --net --mount --propagation private sh -c '
  ip link set lo up
  ip route add local 10.0.0.0/8 dev lo
  E2E_NAMESPACED=1 exec npx mocha "$@" "tests/e2e/**/*.e2e.ts"
' run.sh "$@"
