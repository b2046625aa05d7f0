#!/usr/bin/env bash
# Installs pgcopydb, the open-source peer the benchmark measures the action against, into
# .testbed/pgcopydb (never committed). Debian ships it in sid only, built against a newer glibc than
# many machines have, so it is unpacked with its libraries and run through their own loader, as
# build-client-bundle.sh does for the client tools. pgcopydb runs the pg_dump and pg_restore it finds
# on PATH: the benchmark puts the 17 client there.
# Usage: build-pgcopydb.sh   (prints the path of the pgcopydb wrapper on its last line)
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.18
suite=sid
out=$PWD/.testbed/pgcopydb
if [ -x "$out/bin/pgcopydb" ] && "$out/bin/pgcopydb" --version 2>/dev/null | grep -q "pgcopydb version $version"; then
  echo "$out/bin/pgcopydb"
  exit 0
fi

# pgcopydb's own libraries, and what libpq5 needs in the suite it comes from.
packages=(pgcopydb libc6 libgc1 libatomic1 libpq5 libssl3t64 libgssapi-krb5-2 libkrb5-3 libk5crypto3
  libkrb5support0 libcom-err2 libkeyutils1 libldap2 libsasl2-2 libzstd1 liblz4-1 zlib1g)

apt_dir=$PWD/.testbed/apt/$suite-pgcopydb
mkdir -p "$apt_dir"/{sources.list.d,preferences.d,lists/partial,cache/archives/partial,debs}
: >"$apt_dir/status"
# Private sources, lists, cache and status: the machine's own apt state is never touched.
awk 'BEGIN { RS = ""; ORS = "\n" } NR == 1' /etc/apt/sources.list.d/debian.sources |
  sed "s/^Suites:.*/Suites: $suite/" >"$apt_dir/sources.list.d/$suite.sources"
apt_opts=(-q -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
  -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$apt_dir/preferences.d"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::State::status=$apt_dir/status"
  -o APT::Architecture=amd64 -o APT::Architectures=amd64 -o "APT::Sandbox::User=$(id -un)")

echo "pgcopydb $version: apt-get update ($suite, private state in $apt_dir)" >&2
apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 || { cat "$apt_dir/update.log" >&2; exit 1; }
candidate=$(apt-cache "${apt_opts[@]}" policy pgcopydb | sed -nE 's/^ *Candidate: (.*)$/\1/p')
case "$candidate" in
  "$version"-*) ;;
  *) echo "Debian $suite offers pgcopydb '$candidate', not $version: update this script's version" >&2; exit 1 ;;
esac

echo "pgcopydb $version: apt-get download ${#packages[@]} packages" >&2
rm -f "$apt_dir"/debs/*.deb
(cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download "${packages[@]}" >"$apt_dir/download.log" 2>&1) ||
  { cat "$apt_dir/download.log" >&2; exit 1; }

work=$PWD/.testbed/pgcopydb-build
trap 'rm -rf "$work"' EXIT
rm -rf "$work"
mkdir -p "$work/root"
for deb in "$apt_dir"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done

lib=$work/root/usr/lib/x86_64-linux-gnu
elf=$work/root/usr/bin/pgcopydb
# The loader falls back to the system's ld.so.cache, so a missing library would go unnoticed.
stray=$("$lib/ld-linux-x86-64.so.2" --library-path "$lib" --list "$elf" | grep -v -F -e "$work/root/" -e linux-vdso || true)
[ -z "$stray" ] || { echo "pgcopydb resolves outside its folder: $stray" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/bin"
mv "$work/root" "$out/root"
cat >"$out/bin/pgcopydb" <<'EOF'
#!/bin/sh
root=$(CDPATH= cd -- "$(dirname -- "$0")/../root" && pwd)
lib="$root/usr/lib/x86_64-linux-gnu"
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" --argv0 "$0" "$root/usr/bin/pgcopydb" "$@"
EOF
chmod 755 "$out/bin/pgcopydb"
"$out/bin/pgcopydb" --version 2>&1 | grep -q "pgcopydb version $version" ||
  { "$out/bin/pgcopydb" --version >&2; echo "pgcopydb --version failed" >&2; exit 1; }
echo "$out/bin/pgcopydb"
