#!/usr/bin/env bash
# Boot-to-marker benchmark of the test guests (tiny-i386, live-amd64):
# Novabox (release build) with -accel auto and -accel tcg against QEMU's
# TCG as a yardstick, measured in the same run. Installs Debian's
# qemu-system-x86 if it is missing (for this benchmark only: Novabox
# itself never runs QEMU), builds the images and the release build, then
# runs novabox-boot-bench with the arguments given, e.g.
#   Benchmarks/boot-benchmark.sh --path all --runs 3
#   Benchmarks/boot-benchmark.sh --guest live-amd64 --path direct --accel auto,tcg,kvm --timeout 90
#   Benchmarks/boot-benchmark.sh --path cpu --runs 3 --size 10
# Not part of CI: one boot takes minutes.
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
    *) ./scripts/images.sh all ;;
esac
swift build -c release --product novabox-boot-bench
exec .build/release/novabox-boot-bench --qemu "$(dirname "$(command -v qemu-system-i386)")" "$@"
