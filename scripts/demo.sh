#!/usr/bin/env bash
# Set up, build, and diagnose the bundled sample log.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
echo "== tunneldoc scan samples/asa-vpn.log (one JSON diagnosis per problem line)"
./build/tunneldoc scan --stats samples/asa-vpn.log
