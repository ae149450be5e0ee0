#!/usr/bin/env bash
# Installs what Novabox needs on a Debian machine, builds it in release
# mode, and builds the test guests (scripts/images.sh, cached outside the
# clone in ${NOVABOX_IMAGES:-~/.cache/novabox/images}: a second run takes
# seconds). Survives a flaky package index: if `apt-get update` fails on one
# index, it warns and goes on as long as the packages are still reachable
# (or already installed); the image build is tried three times.
# NOVABOX_SKIP_IMAGES=1 skips the images (the whole-guest tests then skip).
set -uo pipefail
cd "$(dirname "$0")/.."

packages=(seabios libsdl2-dev zlib1g-dev liblzf-dev binutils gcc nasm
          xvfb xdotool imagemagick pngcheck xorriso    # the window tests run on Xvfb
          e2fsprogs)                                   # the disk test checks the guest's file system

missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "setup: installing ${missing[*]}"
    if ! $sudo apt-get update -qq; then
        echo "setup: warning: apt-get update failed for some index; trying the install with the lists we have" >&2
    fi
    if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
        still=()
        for p in "${missing[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || still+=("$p"); done
        if [ ${#still[@]} -gt 0 ]; then
            echo "setup: error: could not install ${still[*]}; check the package sources and run again" >&2
            exit 1
        fi
    fi
fi

echo "setup: building novabox (release)"
swift build -c release
test -x .build/release/novabox || { echo "setup: error: the build failed; run 'swift build -c release' to see why" >&2; exit 1; }

# The test guests. A failed attempt (a download cut off, an index mid-sync)
# leaves nothing half-made, so trying again is safe; what did download is
# reused.
if [ "${NOVABOX_SKIP_IMAGES:-0}" != 1 ]; then
    built=0
    for attempt in 1 2 3; do
        echo "setup: building the test guests (scripts/images.sh, attempt $attempt)"
        if ./scripts/images.sh; then built=1; break; fi
        [ $attempt -eq 3 ] || sleep $((attempt * 20))
    done
    if [ $built -eq 0 ]; then
        echo "setup: error: scripts/images.sh failed three times; see its messages above (NOVABOX_SKIP_IMAGES=1 skips the images)" >&2
        exit 1
    fi
fi
echo "setup: done: .build/release/novabox"
