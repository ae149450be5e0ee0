#!/usr/bin/env bash
# The project's test command: one release build (whole-machine tests boot
# real firmware and need optimized code), then every test suite: unit,
# conformance against objdump / the host CPU / real 80286 vectors, and
# machine boots. Ends with a plain "N passed, N failed, N skipped" line.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .build
swift build -c release --build-tests || exit 1
swift test -c release --skip-build --disable-swift-testing 2>&1 | tee .build/test.log
status=${PIPESTATUS[0]}
passed=$(grep -cE "^Test Case '.*' passed" .build/test.log)
failed=$(grep -cE "^Test Case '.*' failed" .build/test.log)
skipped=$(grep -cE "^Test Case '.*' skipped" .build/test.log)
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
