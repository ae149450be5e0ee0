#!/usr/bin/env bash
# The project's test command: one release build, then every test suite
# (unit, conformance, and whole-machine boots of real firmware).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --build-tests
swift test -c release --skip-build 2>&1 | tee .build/test.log
