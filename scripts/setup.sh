#!/usr/bin/env bash
# Installs everything tunneldoc needs to build, test and benchmark on Debian 12.
# Idempotent: packages already present are left alone; safe to run repeatedly.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libre2-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libyaml-cpp-dev libcli11-dev
  libboost-dev libboost-system-dev libssl-dev
  catch2 libbenchmark-dev
  bsdutils openssl python3 procps curl
  clang libclang-rt-14-dev
)
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
