#!/usr/bin/env bash
# The whole test suite on a fresh Debian bookworm machine: installs the
# packages, configures, builds, and runs every test with ctest.
# Tests that need a server start nginx on 127.0.0.1 themselves.
# Usage: scripts/test.sh [extra ctest args], e.g. scripts/test.sh -L slow
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
# -LE slow: the slow label is run on demand (scripts/test.sh -L slow).
if [ $# -eq 0 ]; then set -- -LE slow; fi
# Every test runs once: a test that needs a second try is a defect.
# Tests that use the shared corpus of real-world files find it through
# MODELZOO_CORPUS_DIR (default ../shared/corpus) and skip, naming it, without it.
# No label summary: the output ends with the pass/fail count.
exec ctest --test-dir "$BUILD_DIR" --output-on-failure --no-label-summary -j "$(nproc)" "$@"
