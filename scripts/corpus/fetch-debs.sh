#!/usr/bin/env bash
# Downloads Debian binary packages (not installed, only the .deb files) with a private apt state, for
# the application corpus (scripts/corpus/apps.json). A package=version the archive no longer has (a
# point release replaced it) falls back to the suite's current version, and says so.
#   bash scripts/corpus/fetch-debs.sh <suite> <out dir> <package=version>...
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/corpus/apt-state.sh

suite=${1:?usage: fetch-debs.sh <suite> <out dir> <package=version>...}
out=${2:?usage: fetch-debs.sh <suite> <out dir> <package=version>...}
shift 2
private_apt_state "$suite" deb "$PWD/.testbed/corpus/apt-$suite-bin"
mkdir -p "$out"
echo "apt-get update ($suite, private state in $apt_dir)"
apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 || { cat "$apt_dir/update.log"; exit 1; }
for wanted in "$@"; do
  if (cd "$out" && apt-get "${apt_opts[@]}" download "$wanted" >"$apt_dir/download.log" 2>&1); then
    echo "downloaded $wanted"
  else
    package=${wanted%%=*}
    echo "note: $wanted is no longer in $suite, taking its current version"
    (cd "$out" && apt-get "${apt_opts[@]}" download "$package" >"$apt_dir/download.log" 2>&1) ||
      { cat "$apt_dir/download.log"; exit 1; }
  fi
done
