#!/usr/bin/env bash
# Fetches PostgreSQL's regression suite (src/test/regress of the source tree) from Debian's source
# package of one major: 15 from bookworm, 17 from trixie, 18 from sid. Private apt state, as
# scripts/build-client-bundle.sh does it: the machine's own apt lists, cache and status are never touched.
#   bash scripts/corpus/fetch-suite.sh <major>   → .testbed/corpus/suite-<major>/{regress/,VERSION}
set -euo pipefail
cd "$(dirname "$0")/../.."

major=${1:?usage: fetch-suite.sh <15|17|18>}
case "$major" in
  15) suite=bookworm ;;
  17) suite=trixie ;;
  18) suite=sid ;;
  *) echo "no Debian source package chosen for PostgreSQL $major (use 15, 17 or 18)" >&2; exit 1 ;;
esac

out=$PWD/.testbed/corpus/suite-$major
if [ -f "$out/VERSION" ] && [ -f "$out/regress/parallel_schedule" ]; then
  echo "regression suite present: postgresql-$major $(cat "$out/VERSION")"
  exit 0
fi

source scripts/corpus/apt-state.sh
private_apt_state "$suite" deb-src "$PWD/.testbed/corpus/apt-$suite"
mkdir -p "$apt_dir/src"

echo "apt-get update ($suite sources, private state in $apt_dir)"
apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 || { cat "$apt_dir/update.log"; exit 1; }

echo "apt-get source --download-only postgresql-$major"
rm -f "$apt_dir"/src/*
(cd "$apt_dir/src" && apt-get "${apt_opts[@]}" source --download-only "postgresql-$major" >"$apt_dir/source.log" 2>&1) ||
  { cat "$apt_dir/source.log"; exit 1; }

orig=$(ls "$apt_dir"/src/postgresql-"$major"_*.orig.tar.* | head -n1)
[ -f "$orig" ] || { echo "no upstream tarball among: $(ls "$apt_dir/src")" >&2; exit 1; }
# The upstream version (15.14), not Debian's revision: the suite is upstream's.
version=$(basename "$orig" | sed -E "s/^postgresql-${major}_([^.]+\.[^.]+)\.orig\..*/\1/")

work=$PWD/.testbed/corpus/suite-$major.partial
rm -rf "$work"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
tar -xf "$orig" -C "$work" --wildcards '*/src/test/regress/*'
regress=$(find "$work" -maxdepth 4 -type d -path '*/src/test/regress' | head -n1)
[ -f "$regress/parallel_schedule" ] || { echo "no src/test/regress/parallel_schedule in $orig" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
mv "$regress" "$out/regress"
echo "$version" >"$out/VERSION"
rm -rf "$apt_dir/src"
echo "regression suite: postgresql-$major $version in $out/regress"
