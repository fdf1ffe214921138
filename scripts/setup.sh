#!/usr/bin/env bash
# Set up a machine for eldercare: Debian packages (if missing) and a virtualenv in .venv.
#   scripts/setup.sh          runtime only
#   scripts/setup.sh dev      also the test and lint tools
set -euo pipefail
cd "$(dirname "$0")/.."

# libjs-chart.js: the desk's report plots (Chart.js, served with the page)
APT_PACKAGES=(mosquitto mosquitto-clients libjs-chart.js)
# The tests also run a real Kannel SMS gateway (fakesmsc comes with kannel-extras) and
# drive the dashboard in a real headless Chromium (never a downloaded browser), and run
# the store contract against a real InfluxDB 1.6, scrape the metrics with a real
# Prometheus, check the installed units with systemd's own tools, and run the multi-node
# alert store on a real PostgreSQL (and one that survives its primary: Patroni with etcd)
# and the broker tier on a real NATS cluster.
if [ "${1:-}" = "dev" ]; then
  APT_PACKAGES+=(kannel kannel-extras chromium fonts-wqy-microhei influxdb prometheus systemd
                 postgresql nats-server patroni etcd-server)
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "warning: no apt-get; install ${missing[*]} yourself" >&2
  fi
fi
# The Debian package enables a system broker on port 1883; we never need it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
  echo "note: a system mosquitto is running on 1883; eldercare starts its own on free ports"
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# the product (with the central extra) and, from this checkout, the tools beside it
# (simulator, service harness, evaluation, benchmarks: never in the product's wheel)
if [ "${1:-}" = "dev" ]; then
  .venv/bin/python -m pip install -q -e '.[dev]' -e tools
else
  .venv/bin/python -m pip install -q -e '.[central]' -e tools
fi
