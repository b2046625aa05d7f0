# A private apt state for one Debian suite, sourced by the corpus's fetch scripts: the machine's own
# apt lists, cache and status are never touched. Sets apt_dir and apt_opts.
#   private_apt_state <suite> <deb|deb-src> <dir>
private_apt_state() {
  local suite=$1 types=$2
  apt_dir=$3
  mkdir -p "$apt_dir"/{sources.list.d,preferences.d,lists/partial,cache/archives/partial}
  : >"$apt_dir/status"
  awk 'BEGIN { RS = ""; ORS = "\n" } NR == 1' /etc/apt/sources.list.d/debian.sources |
    sed -e "s/^Types:.*/Types: $types/" -e "s/^Suites:.*/Suites: $suite/" >"$apt_dir/sources.list.d/$suite.sources"
  apt_opts=(-q -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
    -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$apt_dir/preferences.d"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::State::status=$apt_dir/status"
    -o APT::Architecture=amd64 -o APT::Architectures=amd64 -o "APT::Sandbox::User=$(id -un)")
}
