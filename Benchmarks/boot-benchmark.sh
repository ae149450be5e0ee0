#!/usr/bin/env bash
# Boot-to-marker benchmark of the tiny-i386 test guest: Novabox (release
# build) against QEMU's TCG as a yardstick, measured in the same run.
# Installs Debian's qemu-system-x86 if it is missing (for this benchmark
# only: Novabox itself never runs QEMU), builds the images and the release
# build, then runs novabox-boot-bench with the arguments given, e.g.
#   Benchmarks/boot-benchmark.sh --path all --runs 3
#   Benchmarks/boot-benchmark.sh --path cpu --runs 3 --size 10
# Not part of CI: one boot takes minutes on the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v qemu-system-i386 >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "boot-benchmark: installing qemu-system-x86 (the yardstick)"
    $sudo apt-get update -qq || echo "boot-benchmark: warning: apt-get update failed for some index; trying the install anyway" >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
fi
# The CPU-bound guest (--path cpu) is assembled by the benchmark itself.
case " $* " in
    *" --path cpu "*) ;;
    *) ./scripts/images.sh tiny-i386 ;;
esac
swift build -c release --product novabox-boot-bench
exec .build/release/novabox-boot-bench --qemu "$(command -v qemu-system-i386)" "$@"
