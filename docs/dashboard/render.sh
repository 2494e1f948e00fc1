#!/usr/bin/env bash
# Renders docs/dashboard.png: synthetic series (synthetic.py) → TSDB blocks (promtool tsdb create-blocks-from
# openmetrics) → a real Prometheus (Debian package `prometheus`) → every panel query of the dashboard → PNG
# (render.py, matplotlib). Run from anywhere: npm run dashboard:render
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v prometheus >/dev/null && command -v promtool >/dev/null || { echo "needs prometheus and promtool: apt-get install prometheus" >&2; exit 1; }
python3 -c "import matplotlib" 2>/dev/null || { echo "needs matplotlib: pip install -r docs/dashboard/requirements.txt" >&2; exit 1; }

work=$(mktemp -d)
prom_pid=""
cleanup() { [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

end=$(( $(date +%s) / 60 * 60 ))
start=$(( end - 6 * 3600 ))
python3 docs/dashboard/synthetic.py "$end" > "$work/data.om"
promtool tsdb create-blocks-from openmetrics "$work/data.om" "$work/tsdb" > /dev/null
node -r ts-node/register/transpile-only docs/dashboard/queries.ts > "$work/queries.json"

printf 'global:\n  scrape_interval: 1m\n' > "$work/prometheus.yml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" --storage.tsdb.retention.time=30d \
  --web.listen-address="127.0.0.1:$port" --log.level=warn > "$work/prometheus.log" 2>&1 &
prom_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/-/ready" > /dev/null 2>&1 && break
  sleep 0.2
done
# Prometheus (2.x) looks back 5 minutes for an instant sample: query the range the blocks hold.
python3 docs/dashboard/render.py "$work/queries.json" "http://127.0.0.1:$port" "$start" "$end" docs/dashboard.png
