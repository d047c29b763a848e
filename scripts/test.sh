#!/usr/bin/env bash
# Set up, build, and run every test: once in a normal build with warnings as
# errors, then again under AddressSanitizer + UndefinedBehaviorSanitizer; the
# daemon and its integration tests under ThreadSanitizer; then every fuzz
# target for a bounded time (FUZZ_SECONDS, 45 s each).
# The normal build is configured for /usr so that it is also the Debian
# package's build: scripts/package.sh builds, lints, installs and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh -DCMAKE_INSTALL_PREFIX=/usr
(cd build && ctest --output-on-failure -j 2)
./scripts/package.sh build
BUILD_DIR=build-asan BUILD_TYPE=Debug ./scripts/build.sh -DTUNNELDOC_SANITIZE=ON -DTUNNELDOC_BUILD_BENCH=OFF
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j 2)
# ThreadSanitizer: only the daemon and its tests are built; the integration
# tests run (the Catch2 daemon tests and the Python scenarios with real clients,
# the SIEM sinks among them: each sink has an intake and a delivery thread).
BUILD_DIR=build-tsan TARGETS="tunneldoc tunneldoc_daemon_tests" ./scripts/build.sh -DTUNNELDOC_SANITIZE=thread \
  -DTUNNELDOC_BUILD_BENCH=OFF
(cd build-tsan && TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1" \
  ctest --output-on-failure -j 2 -R '^(daemon|integration|sinks)\.')
./fuzz/run.sh
