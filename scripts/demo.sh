#!/usr/bin/env bash
# Set up, build, and diagnose the bundled sample log.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
echo "== tunneldoc scan samples/asa-vpn.log (one JSON diagnosis per problem line)"
./build/tunneldoc scan --stats samples/asa-vpn.log
echo
echo "== tunneldoc serve: listening on 127.0.0.1:5514 (UDP and TCP), metrics on http://127.0.0.1:9514/metrics"
echo "   In another terminal, send it a line:"
echo "     logger -n 127.0.0.1 -P 5514 --udp '%ASA-5-713904: IP = 203.0.113.9, Received an un-encrypted NO_PROPOSAL_CHOSEN notify message, drop'"
echo "   (or --tcp, --tcp --octet-count). Ctrl-C stops it."
exec ./build/tunneldoc serve --signatures signatures
