#!/usr/bin/env bash
# Regenerates docs/coverage.md: per-section coverage of the knowledge base, then
# line precision and recall on real and invented lines. Needs a build in ./build
# (or $BUILD_DIR). The test kb.coverage_doc_current runs the same and diffs.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
{
  "$build/tunneldoc" check --coverage signatures
  echo
  "$build/tests/kb/kb_eval" --lines signatures tests/kb/real.tsv tests/kb/eval.tsv tests/kb/negative.log
} > "${1:-docs/coverage.md}"
