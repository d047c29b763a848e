#!/usr/bin/env bash
# Configures and builds tunneldoc into ./build (or $BUILD_DIR). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} -DTUNNELDOC_WERROR=ON "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
