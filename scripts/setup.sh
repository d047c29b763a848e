#!/usr/bin/env bash
# Installs the Debian 12 packages tunneldoc needs.
#
#   scripts/setup.sh build   # only what building the `tunneldoc` binary needs (scripts/demo.sh)
#   scripts/setup.sh         # everything: build, test, package, benchmark (scripts/test.sh, CI)
#
# Idempotent: packages already present are left alone; safe to run repeatedly.
set -euo pipefail
profile=${1:-all}
build=(
  build-essential cmake ninja-build pkg-config
  libre2-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libyaml-cpp-dev libcli11-dev
  libboost-dev libboost-system-dev libssl-dev
)
full=(
  git catch2 libbenchmark-dev
  # the fuzz targets (libFuzzer) and the ThreadSanitizer build
  clang libclang-rt-14-dev
  bsdutils openssl python3 python3-jsonschema procps curl
  # the package: building it (dpkg-dev: dpkg-shlibdeps), linting it, checking its unit
  dpkg-dev lintian systemd man-db
  # the status page and the report in a real browser (tests/ui/)
  chromium
)
# The scale-out test's relay (also the benchmark's PatternDB peer). syslog-ng-core
# conflicts with every other system logger: on a machine that runs rsyslog, apt would
# remove it, so there it is left out and the scale-out test says what is missing.
relay=(syslog-ng-core)
case $profile in
  build) packages=("${build[@]}") ;;
  all)
    packages=("${build[@]}" "${full[@]}")
    if dpkg-query -W -f='${Status}' rsyslog 2>/dev/null | grep -q "install ok installed"; then
      echo "setup: rsyslog is installed; not installing ${relay[*]} (it would replace rsyslog)" >&2
    else
      packages+=("${relay[@]}")
    fi
    ;;
  *) echo "usage: $0 [build|all]" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
