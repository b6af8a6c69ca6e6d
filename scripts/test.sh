#!/usr/bin/env bash
# The whole test suite from a fresh machine: install dependencies, build, and
# run every test (lit/FileCheck, unit tests, golden conformance) through CTest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}

bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" "$build"
cd "$build"
ctest --output-on-failure -j "$(nproc)"
