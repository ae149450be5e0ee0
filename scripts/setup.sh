#!/usr/bin/env bash
# Installs what Novabox needs on a Debian machine and builds it in release
# mode. Survives a flaky package index: if `apt-get update` fails on one
# index, it warns and goes on as long as the packages are still reachable
# (or already installed).
set -uo pipefail

packages=(seabios libsdl2-dev zlib1g-dev liblzf-dev binutils gcc nasm
          xvfb xdotool imagemagick pngcheck xorriso)   # the window tests run on Xvfb

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
echo "setup: done: .build/release/novabox"
