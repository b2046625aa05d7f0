#!/usr/bin/env bash
# Installs what the tests, the demo and the benchmark need on a fresh machine: node modules, the
# unprivileged user the servers run as when we are root, and the PostgreSQL 17 client bundle.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing node modules (npm ci)"
  npm ci --no-audit --no-fund
fi

if [ "$(id -u)" = 0 ] && ! id pgtest >/dev/null 2>&1; then
  echo "creating user pgtest: PostgreSQL refuses to run as root"
  useradd --system --no-create-home --shell /usr/sbin/nologin pgtest
fi

bash scripts/build-client-bundle.sh
