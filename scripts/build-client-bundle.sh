#!/usr/bin/env bash
# Builds real PostgreSQL client tarballs laid out like the production download
# (postgresql-<v>-<target>.tar.gz holding one folder of that name, plus a sha256sum-style .sha256),
# so tests can exercise download, checksum, extract and cache with working binaries.
# Usage: build-client-bundle.sh [major ...] (default: 17 18, the majors a target may run).
# Debian 12 has neither client and the newer suites' builds need a newer glibc, so each bundle carries
# its suite's glibc and runs every tool through that glibc's loader.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-gnu
out=.testbed/client
work=

# The Debian suite that ships each major's client.
suite_of() {
  case "$1" in
    17) echo trixie ;;
    18) echo sid ;;
    *) echo "no Debian suite known for a PostgreSQL $1 client (17: trixie, 18: sid)" >&2; return 1 ;;
  esac
}

build() {
  local major=$1 suite
  suite=$(suite_of "$major")
  local existing
  existing=$(ls "$out"/postgresql-"$major".*-"$target".tar.gz 2>/dev/null | head -n1 || true)
  if [ -n "$existing" ] && [ -f "$existing.sha256" ]; then
    echo "client bundle present: $existing"
    return 0
  fi

  # libxxhash0: the newer liblz4 links it; without it the loader quietly takes the system's copy.
  local packages=(libc6 libgcc-s1 libcom-err2 libgssapi-krb5-2 libk5crypto3 libkeyutils1 libkrb5-3
    libkrb5support0 libldap2 liblz4-1 libxxhash0 libpq5 libreadline8t64 libsasl2-2 libssl3t64 libtinfo6
    libzstd1 zlib1g "postgresql-client-$major")

  local apt_dir=$PWD/.testbed/apt/$suite
  mkdir -p "$apt_dir"/{sources.list.d,preferences.d,lists/partial,cache/archives/partial,debs}
  : >"$apt_dir/status"
  # Private sources, lists, cache and status: the machine's own apt state is never touched.
  awk 'BEGIN { RS = ""; ORS = "\n" } NR == 1' /etc/apt/sources.list.d/debian.sources |
    sed "s/^Suites:.*/Suites: $suite/" >"$apt_dir/sources.list.d/$suite.sources"
  local apt_opts=(-q -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
    -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$apt_dir/preferences.d"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::State::status=$apt_dir/status"
    -o APT::Architecture=amd64 -o APT::Architectures=amd64 -o "APT::Sandbox::User=$(id -un)")

  echo "[$major] step 1/6: apt-get update ($suite, private state in $apt_dir)"
  apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 || { cat "$apt_dir/update.log"; return 1; }
  # libgcc-s1's copyright lives in its gcc-<n>-base package, whose number moves with the suite.
  local gcc_base
  gcc_base=$(apt-cache "${apt_opts[@]}" depends libgcc-s1 | sed -nE 's/^ *Depends: (gcc-[0-9]+-base)$/\1/p' | head -n1)
  [ -n "$gcc_base" ] || { echo "no gcc-<n>-base found for libgcc-s1 in $suite" >&2; return 1; }
  packages+=("$gcc_base")

  echo "[$major] step 2/6: apt-get download ${#packages[@]} packages"
  rm -f "$apt_dir"/debs/*.deb
  (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download "${packages[@]}" >"$apt_dir/download.log" 2>&1) ||
    { cat "$apt_dir/download.log"; return 1; }

  local deb_version minor
  deb_version=$(dpkg-deb -f "$apt_dir"/debs/postgresql-client-"$major"_*.deb Version)
  minor=$(sed -nE "s/^$major\.([0-9]+).*/\1/p" <<<"$deb_version")
  [ -n "$minor" ] || { echo "unexpected postgresql-client-$major version: $deb_version" >&2; return 1; }
  local version=$major.$minor.0
  local name=postgresql-$version-$target

  echo "[$major] step 3/6: extract packages (postgresql-client-$major $deb_version)"
  work=$PWD/.testbed/client-build
  rm -rf "$work"
  mkdir -p "$work/root"
  local deb
  for deb in "$apt_dir"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done

  echo "[$major] step 4/6: lay out $name/"
  local src=$work/root/usr
  local top=$work/$name
  mkdir -p "$top"/{bin,lib/postgresql/"$major",share/postgresql,share/doc}
  # iconv modules are a third of the size and no client tool uses iconv.
  tar -C "$src/lib" --exclude=x86_64-linux-gnu/gconv -cf - x86_64-linux-gnu | tar -C "$top/lib" -xf -
  cp -a "$src/lib/postgresql/$major/bin" "$top/lib/postgresql/$major/"
  cp -a "$src/share/postgresql/$major" "$top/share/postgresql/"
  rm -rf "$top/share/postgresql/$major/man"
  local doc pkg
  for doc in "$src"/share/doc/*/copyright; do
    pkg=$(basename "$(dirname "$doc")")
    mkdir -p "$top/share/doc/$pkg" && cp "$doc" "$top/share/doc/$pkg/"
  done
  cp "$src/share/doc/postgresql-client-$major/copyright" "$top/COPYRIGHT"
  cat >"$top/README.md" <<EOF
PostgreSQL $deb_version client tools (Debian $suite packages) for $target, for tests.
bin/ holds wrappers that run lib/postgresql/$major/bin/* through the bundled loader in lib/x86_64-linux-gnu.
EOF
  local tool
  for tool in "$top"/lib/postgresql/"$major"/bin/*; do
    tool=$(basename "$tool")
    # --argv0 keeps the wrapper's path as the program's own, so pg_dumpall finds the pg_dump wrapper
    # beside it (not the real binary, which the system loader cannot run).
    cat >"$top/bin/$tool" <<EOF
#!/bin/sh
root=\$(CDPATH= cd -- "\$(dirname -- "\$0")/.." && pwd)
lib="\$root/lib/x86_64-linux-gnu"
exec "\$lib/ld-linux-x86-64.so.2" --library-path "\$lib" --argv0 "\$0" "\$root/lib/postgresql/$major/bin/$tool" "\$@"
EOF
    chmod 755 "$top/bin/$tool"
  done

  echo "[$major] step 5/6: check every library resolves inside the bundle and the tools run"
  local lib=$top/lib/x86_64-linux-gnu elf stray
  for elf in "$top"/lib/postgresql/"$major"/bin/*; do
    # The loader falls back to the system's ld.so.cache, so a missing library would go unnoticed.
    stray=$("$lib/ld-linux-x86-64.so.2" --library-path "$lib" --list "$elf" | grep -v -F -e "$top/" -e linux-vdso || true)
    [ -z "$stray" ] || { echo "$(basename "$elf") resolves outside the bundle: $stray" >&2; return 1; }
  done
  for tool in pg_dump pg_restore psql pg_dumpall; do
    "$top/bin/$tool" --version | grep -q "^$tool (PostgreSQL) $major\.$minor" ||
      { echo "$tool --version failed" >&2; return 1; }
  done
  # pg_dumpall looks for its pg_dump before it connects; port 1 then refuses the connection.
  if "$top/bin/pg_dumpall" -h 127.0.0.1 -p 1 -w >/dev/null 2>"$work/dumpall.err" ||
    ! grep -q 'connection' "$work/dumpall.err"; then
    cat "$work/dumpall.err" >&2; echo "pg_dumpall did not find its pg_dump" >&2; return 1
  fi

  echo "[$major] step 6/6: pack $out/$name.tar.gz"
  mkdir -p "$out"
  tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime='2000-01-01 00:00Z' -cf - "$name" |
    gzip -n >"$work/$name.tar.gz"
  # Same record as the release assets: "<sha256>  <file name>", one line.
  (cd "$work" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
  mv "$work/$name.tar.gz" "$out/" && mv "$work/$name.tar.gz.sha256" "$out/"
  echo "client bundle: $out/$name.tar.gz ($("$top/bin/pg_dump" --version))"
  rm -rf "$work"
}

trap '[ -z "$work" ] || rm -rf "$work"' EXIT
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(17 18)
for major in "${majors[@]}"; do build "$major"; done
