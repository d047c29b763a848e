#!/usr/bin/env bash
# The first run: install what the build needs, build only the `tunneldoc` binary
# (no tests, no benchmarks) into its own directory, diagnose the bundled sample,
# then serve on loopback with the default configuration.
#
# Build directory: $BUILD_DIR (default build-demo, apart from the test build in
# build/ so the two never reconfigure each other).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh build
build=${BUILD_DIR:-build-demo}
# Release at -O2, no debug information: the quickest build that is still fast at run time.
BUILD_DIR=$build BUILD_TYPE=Release TARGETS=tunneldoc ./scripts/build.sh \
  -DTUNNELDOC_BUILD_TESTS=OFF -DTUNNELDOC_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG"
echo "== tunneldoc scan samples/asa-vpn.log (one JSON diagnosis per problem line)"
"./$build/tunneldoc" scan --stats --signatures signatures samples/asa-vpn.log
echo
echo "== tunneldoc serve: listening on 127.0.0.1:5514 (UDP and TCP), metrics on http://127.0.0.1:9514/metrics"
echo "   In another terminal, send it a line:"
echo "     logger -n 127.0.0.1 -P 5514 --udp '%ASA-5-713904: IP = 203.0.113.9, Received an un-encrypted NO_PROPOSAL_CHOSEN notify message, drop'"
echo "   (or --tcp, --tcp --octet-count). Ctrl-C stops it."
exec "./$build/tunneldoc" serve --signatures signatures
