#!/usr/bin/env bash
# Builds the live test guests Novabox boots, from Debian 12 packages only:
#
#   tiny-i386   TinyCore-class: isolinux CD, Debian's i386 6.1 kernel (686
#               flavour), a busybox-static initramfs
#   live-amd64  GRML-class: the same with the amd64 kernel and busybox
#
# Usage: scripts/images.sh [--refresh] [tiny-i386|live-amd64|all]   (default: all)
#
# Everything goes to ${NOVABOX_IMAGES:-$HOME/.cache/novabox/images}, never
# into the repository:
#   <image>.iso       boots isolinux -> kernel + initramfs; carries
#                     /novabox/check.bin and its sha256 for the CD driver check
#   <image>.vmlinuz   the very same kernel and initramfs, for the direct
#   <image>.initrd    kernel boot path (-kernel/-initrd/-append)
#   <image>.cmdline   the kernel command line both paths use
#   manifest.txt      package names and versions, kernel, modules, sha256 of
#                     every produced file and of /novabox/check.bin on the
#                     ISO (also printed at the end)
#   debs/             the downloaded packages (cache)
#   apt/              a private package index for amd64 + i386 (the system's
#                     own apt setup and architectures are left alone)
#
# The guest's /init (scripts/images/init) loads the CD-ROM drivers, mounts the
# CD at /mnt/cdrom, prints "NOVABOX-MARKER: <image> up" on the serial console
# and starts a shell there. See scripts/images/README.md.
#
# Caching: an image whose manifest entry names this script's hash and whose
# files still match their recorded sha256 is left alone without touching the
# network. --refresh also asks the package index whether newer packages
# exist, and rebuilds only if they do. Downloads are kept in debs/; a run
# that failed half-way leaves no manifest entry and is simply run again.
# Same packages + same script give byte-identical files (fixed timestamps,
# sorted cpio, gzip -n, SOURCE_DATE_EPOCH for xorriso).
#
# If the i386 package index cannot be reached (and nothing is cached), the
# i386 image falls back to the kernel of debian-installer-12-netboot-i386 and
# the busybox inside its netboot initrd; that initrd carries no CD-ROM
# drivers, so such an image boots to a shell but cannot mount its CD. The
# script says so. NOVABOX_IMAGES_I386_NETBOOT=1 forces that path.
#
# Runs as root (CI) and installs its own tools with apt-get when missing.
set -Eeuo pipefail

log() { echo "images: $*"; }
warn() { echo "images: warning: $*" >&2; }
# die exits with 3, which the ERR trap passes on quietly (as it does 141, a
# closed output pipe), so a die inside a command substitution prints one
# line, not two.
die() { echo "images: error: $*" >&2; exit 3; }
trap 'rc=$?; [ $rc -eq 3 ] || [ $rc -eq 141 ] || echo "images: error: unexpected failure (exit $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR
work=""
trap '[ -z "$work" ] || rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
images=${NOVABOX_IMAGES:-$HOME/.cache/novabox/images}

cmdline="console=tty0 console=ttyS0,115200"
# File dates inside the cpio and the ISO: Debian 12's release day.
epoch=1686355200
# The CD check file: deliberately not a multiple of the 2048-byte sector.
check_size=400000
# What the guest needs to read its CD (PIIX IDE -> libata -> SCSI CD-ROM ->
# ISO 9660) and a disk; their dependencies come from modules.dep.
wanted_modules=(ata_piix libata scsi_mod scsi_common sr_mod cdrom isofs sd_mod)
tool_packages=(xorriso isolinux syslinux-common cpio xz-utils kmod openssl binutils)
isolinux_bin=/usr/lib/ISOLINUX/isolinux.bin
isolinux_mbr=/usr/lib/ISOLINUX/isohdpfx.bin
ldlinux_c32=/usr/lib/syslinux/modules/bios/ldlinux.c32
netboot_dir=./usr/lib/debian-installer/images/12/i386/text/debian-installer/i386

usage() { echo "usage: scripts/images.sh [--refresh] [tiny-i386|live-amd64|all]"; }

refresh=0
targets=()
for arg in "$@"; do
    case "$arg" in
        --refresh) refresh=1 ;;
        -h|--help) usage; exit 0 ;;
        tiny-i386|live-amd64) targets+=("$arg") ;;
        all) targets+=(tiny-i386 live-amd64) ;;
        *) usage >&2; die "unknown argument '$arg'" ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(tiny-i386 live-amd64)

images=$(realpath -m "$images")
case "$images/" in
    "$(realpath "$repo")/"*) die "NOVABOX_IMAGES ($images) is inside the repository; point it elsewhere" ;;
esac
mkdir -p "$images"
debs=$images/debs
mkdir -p "$debs/partial" "$images/apt/lists/partial" "$images/apt/cache/archives/partial"

# One run at a time per images directory.
exec 9>"$images/.lock"
if ! flock -n 9; then
    log "waiting for another images.sh run on $images"
    flock 9
fi
# What a killed run left behind.
rm -rf "$images"/.build-*

# --- tools -------------------------------------------------------------------

install_tools() {
    local missing=() p still=()
    for p in "${tool_packages[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    log "installing ${missing[*]}"
    $sudo apt-get -q -o DPkg::Lock::Timeout=300 update >/dev/null 2>&1 \
        || warn "apt-get update failed for some index; trying the install with the lists we have"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get -qq -y -o DPkg::Lock::Timeout=300 \
        install --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || true
    for p in "${missing[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || still+=("$p"); done
    [ ${#still[@]} -eq 0 ] || die "could not install ${still[*]}; check the package sources and run again"
}

# --- the private package index -------------------------------------------------

native=$(dpkg --print-architecture)
apt_opts=(-o "Dir::State::Lists=$images/apt/lists" -o "Dir::Cache=$images/apt/cache"
          -o "APT::Architectures::=$native" -o "APT::Architectures::=i386")
# apt's download sandbox user cannot write into a root-owned cache.
[ "$(id -u)" -ne 0 ] || apt_opts+=(-o APT::Sandbox::User=root)

index_ready=0
refresh_index() {
    [ $index_ready -eq 0 ] || return 0
    index_ready=1
    log "updating the package index ($native + i386, kept in $images/apt)"
    if ! apt-get "${apt_opts[@]}" -q update >"$images/apt/update.log" 2>&1; then
        local first
        first=$(grep -m1 -E '^(E|Err):' "$images/apt/update.log" | cut -c1-160 || true)
        warn "apt-get update failed for some index (${first:-see $images/apt/update.log}); going on with what is reachable"
    fi
}

# The version apt would pick for name:arch, or nothing.
candidate() {
    local v
    v=$(apt-cache "${apt_opts[@]}" policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')
    [ "$v" = "(none)" ] || echo "$v"
}

deb_sha256() { sha256sum "$1" | cut -d' ' -f1; }

# fetch_deb NAME ARCH VERSION: the cached or downloaded .deb, checked against
# the index's sha256 when the index knows the package.
fetch_deb() {
    local name=$1 arch=$2 version=$3 spec expected file
    spec="$name:$arch=$version"
    [ "$arch" != all ] || spec="$name=$version"
    file="$debs/${name}_${version//:/%3a}_${arch}.deb"
    expected=$(apt-cache "${apt_opts[@]}" show "$spec" 2>/dev/null | awk '/^SHA256:/ {print $2; exit}')
    if [ -f "$file" ]; then
        if [ -z "$expected" ] || [ "$(deb_sha256 "$file")" = "$expected" ]; then
            echo "$file"
            return
        fi
        warn "cached $(basename "$file") does not match the index; downloading it again"
        rm -f "$file"
    fi
    log "downloading $spec" >&2
    rm -f "$debs/partial/"*.deb
    (cd "$debs/partial" && apt-get "${apt_opts[@]}" -q download "$spec" >&2) \
        || die "could not download $spec"
    mv "$debs/partial/$(basename "$file")" "$file"
    if [ -n "$expected" ] && [ "$(deb_sha256 "$file")" != "$expected" ]; then
        rm -f "$file"
        die "$spec arrived with a wrong sha256"
    fi
    echo "$file"
}

# newest_cached GLOB: the newest cached .deb matching GLOB (for when the
# index cannot answer), or nothing.
newest_cached() {
    local f best="" best_version="" v
    for f in "$debs"/$1; do
        [ -f "$f" ] || continue
        v=$(dpkg-deb -f "$f" Version)
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best_version"; then
            best=$f best_version=$v
        fi
    done
    echo "$best"
}

# resolve_kernel META ARCH FLAVOUR: "name version deb" of the 6.1 kernel image
# the metapackage points at, or of the newest cached one.
resolve_kernel() {
    local meta=$1 arch=$2 flavour=$3 meta_version dep name version deb
    meta_version=$(candidate "$meta:$arch")
    if [ -n "$meta_version" ]; then
        dep=$(apt-cache "${apt_opts[@]}" show "$meta:$arch=$meta_version" | awk -F': ' '/^Depends:/ {print $2; exit}')
        dep=${dep%%,*}
        name=${dep%% *}
        version=$(sed -n 's/.*(= \(.*\))/\1/p' <<<"$dep")
        case "$name" in
            linux-image-6.1.*-"$flavour") ;;
            *) die "$meta $meta_version points at '$dep', not a Linux 6.1 $flavour kernel" ;;
        esac
        deb=$(fetch_deb "$name" "$arch" "$version")
    else
        deb=$(newest_cached "linux-image-6.1.*-${flavour}_*_${arch}.deb")
        [ -n "$deb" ] || return 0
        name=$(dpkg-deb -f "$deb" Package)
        version=$(dpkg-deb -f "$deb" Version)
        warn "$meta:$arch is not in the package index; using the cached $name $version"
    fi
    echo "$name $version $deb"
}

# resolve_package NAME ARCH: "name version deb", from the index or the cache.
resolve_package() {
    local name=$1 arch=$2 version deb
    version=$(candidate "$name:$arch")
    if [ -n "$version" ]; then
        deb=$(fetch_deb "$name" "$arch" "$version")
    else
        deb=$(newest_cached "${name}_*_${arch}.deb")
        [ -n "$deb" ] || return 0
        version=$(dpkg-deb -f "$deb" Version)
        warn "$name:$arch is not in the package index; using the cached $version"
    fi
    echo "$name $version $deb"
}

# --- kernel modules -------------------------------------------------------------

# load_order MODROOT: the wanted modules and everything they need, each after
# its dependencies (depth-first over modules.dep), one file path (relative to
# MODROOT) per line. Modules built into the kernel are skipped; wanted
# modules the kernel lacks are reported on stderr.
load_order() {
    local modroot=$1 path deps name key
    declare -A dep_path=() dep_list=() builtin=() seen=()
    while IFS=: read -r path deps; do
        name=${path##*/}
        key=${name%%.ko*}
        key=${key//-/_}
        dep_path[$key]=$path
        dep_list[$key]=$deps
    done <"$modroot/modules.dep"
    if [ -f "$modroot/modules.builtin" ]; then
        while read -r path; do
            name=${path##*/}
            key=${name%%.ko*}
            builtin[${key//-/_}]=1
        done <"$modroot/modules.builtin"
    fi

    visit() {
        local key=$1 dep
        [ -z "${seen[$key]:-}" ] || return 0
        seen[$key]=1
        for dep in ${dep_list[$key]}; do
            dep=${dep##*/}
            dep=${dep%%.ko*}
            visit "${dep//-/_}"
        done
        echo "${dep_path[$key]}"
    }
    for name in "${wanted_modules[@]}"; do
        key=${name//-/_}
        if [ -n "${dep_path[$key]:-}" ]; then
            visit "$key"
        elif [ -n "${builtin[$key]:-}" ]; then
            echo "images: $name is built into the kernel" >&2
        else
            echo "images: MISSING $name" >&2
        fi
    done
}

# check_load_order MODROOT PATH...: every module's own "depends" (modinfo)
# must be loaded before it.
check_load_order() {
    local modroot=$1 path name dep
    shift
    declare -A loaded=()
    for path in "$@"; do
        for dep in $(modinfo -F depends "$modroot/$path" | tr ',' ' '); do
            [ -n "${loaded[${dep//-/_}]:-}" ] \
                || die "load order broken: ${path##*/} needs $dep, which is not loaded before it"
        done
        name=${path##*/}
        name=${name%%.ko*}
        loaded[${name//-/_}]=1
    done
}

# install_modules MODROOT DEST PATH...: copy (decompressing where the package
# compresses them: busybox insmod takes plain .ko) and write DEST/load-order.
install_modules() {
    local modroot=$1 dest=$2 path name
    shift 2
    mkdir -p "$dest"
    : >"$dest/load-order"
    for path in "$@"; do
        name=${path##*/}
        case "$name" in
            *.ko) cp "$modroot/$path" "$dest/$name" ;;
            *.ko.xz) xz -dc "$modroot/$path" >"$dest/${name%.xz}" ;;
            *) die "cannot unpack the module $name (unknown compression)" ;;
        esac
        name=${name%%.ko*}
        echo "$name" >>"$dest/load-order"
    done
}

# --- building blocks ----------------------------------------------------------

# make_initramfs ROOT OUT: a reproducible newc cpio, gzip-compressed.
make_initramfs() {
    local root=$1 out=$2
    find "$root" -type d -exec chmod 755 {} +
    find "$root" -type f -exec chmod 644 {} +
    chmod 755 "$root/init" "$root/bin/busybox"
    find "$root/lib" -type f -name 'ld-linux*' -exec chmod 755 {} +
    if [ "$(id -u)" -eq 0 ]; then
        mknod -m 600 "$root/dev/console" c 5 1
    else
        warn "not root: no /dev/console node in the initramfs (the kernel's built-in one is used)"
    fi
    find "$root" -exec touch -h -d "@$epoch" {} +
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) \
        | gzip -9 -n >"$out"
}

# make_check_file DIR: deterministic pseudo-random bytes (an AES-CTR key
# stream with a fixed key) and their sha256 in sha256sum's format.
make_check_file() {
    local dir=$1
    head -c "$check_size" /dev/zero \
        | openssl enc -aes-128-ctr -K 4e6f7661626f7820636865636b2e6269 -iv 00000000000000000000000000000000 >"$dir/check.bin"
    (cd "$dir" && sha256sum check.bin >check.sha256)
}

# make_iso TARGET VOLUME VMLINUZ INITRD OUT
make_iso() {
    local target=$1 volume=$2 vmlinuz=$3 initrd=$4 out=$5 tree
    tree=$(dirname "$out")/iso-tree
    mkdir -p "$tree/isolinux" "$tree/boot" "$tree/novabox"
    cp "$isolinux_bin" "$ldlinux_c32" "$tree/isolinux/"
    sed -e "s|@LABEL@|$target|g" -e "s|@CMDLINE@|$cmdline|g" \
        "$here/images/isolinux.cfg.in" >"$tree/isolinux/isolinux.cfg"
    cp "$vmlinuz" "$tree/boot/vmlinuz"
    cp "$initrd" "$tree/boot/initrd.gz"
    make_check_file "$tree/novabox"
    find "$tree" -exec touch -h -d "@$epoch" {} +
    SOURCE_DATE_EPOCH=$epoch xorriso -as mkisofs -o "$out" -V "$volume" -r \
        -b isolinux/isolinux.bin -c isolinux/boot.cat \
        -no-emul-boot -boot-load-size 4 -boot-info-table \
        -isohybrid-mbr "$isolinux_mbr" "$tree" >"$work/xorriso.log" 2>&1 \
        || die "xorriso failed for $target: $(grep -m1 -E 'FAILURE|SORRY' "$work/xorriso.log" || tail -n1 "$work/xorriso.log")"
}

# verify_outputs TARGET WORK KVER MODULE...: the ISO and the initramfs hold
# what the guest needs.
verify_outputs() {
    local target=$1 work=$2 kver=$3 listing path
    shift 3
    listing=$(xorriso -indev "$work/$target.iso" -find / -type f 2>/dev/null)
    for path in isolinux/isolinux.bin isolinux/ldlinux.c32 isolinux/isolinux.cfg \
                boot/vmlinuz boot/initrd.gz novabox/check.bin novabox/check.sha256; do
        grep -q "^'/$path'\$" <<<"$listing" || die "the ISO lacks /$path"
    done
    listing=$(gzip -dc "$work/$target.initrd" | cpio -t --quiet)
    for path in init bin/busybox bin/sh etc/novabox-image "lib/modules/$kver/load-order" "$@"; do
        grep -qx "$path" <<<"$listing" || die "the initramfs lacks /$path"
    done
}

# --- manifest -------------------------------------------------------------------

script_hash() {
    cat "$0" "$here/images/init" "$here/images/isolinux.cfg.in" | sha256sum | cut -d' ' -f1
}

# up_to_date TARGET [PACKAGE-LINES]: the target's manifest entry names this
# script, the given packages (when given), and files that still match.
up_to_date() {
    local target=$1 packages=${2:-} entry=$images/$target.manifest
    [ -f "$entry" ] || return 1
    grep -qx "script-sha256: $(script_hash)" "$entry" || return 1
    if [ -n "$packages" ]; then
        [ "$(grep '^package: ' "$entry")" = "$packages" ] || return 1
    fi
    (cd "$images" && sed -n 's/^file: //p' "$entry" | sha256sum -c --quiet --status 2>/dev/null)
}

write_manifest() {
    local t
    {
        echo "# Novabox test guests, built by scripts/images.sh from Debian packages."
        echo "# Check the files with: grep '^file: ' manifest.txt | cut -c7- | sha256sum -c"
        for t in tiny-i386 live-amd64; do
            [ -f "$images/$t.manifest" ] || continue
            echo
            cat "$images/$t.manifest"
        done
    } >"$images/manifest.txt"
}

# --- one image -------------------------------------------------------------------

build_target() {
    local target=$1 arch meta flavour volume
    case "$target" in
        tiny-i386) arch=i386 meta=linux-image-686 flavour=686 volume=NOVABOX_TINY_I386 ;;
        live-amd64) arch=amd64 meta=linux-image-amd64 flavour=amd64 volume=NOVABOX_LIVE_AMD64 ;;
    esac

    if [ $refresh -eq 0 ] && up_to_date "$target"; then
        log "$target: up to date"
        return
    fi

    refresh_index
    local source=packages kernel="" busybox="" netboot=""
    if [ "$arch" = i386 ] && [ "${NOVABOX_IMAGES_I386_NETBOOT:-0}" = 1 ]; then
        source=netboot
        warn "$target: NOVABOX_IMAGES_I386_NETBOOT=1: using the netboot installer's kernel"
    else
        log "$target: resolving $meta:$arch and busybox-static:$arch"
        kernel=$(resolve_kernel "$meta" "$arch" "$flavour")
        busybox=$(resolve_package busybox-static "$arch")
        if [ -z "$kernel" ] || [ -z "$busybox" ]; then
            [ "$arch" = i386 ] || die "$target: ${kernel:+busybox-static}${kernel:-$meta}:$arch is neither in the package index nor cached"
            source=netboot
            warn "$target: the i386 packages are neither in the package index nor cached; falling back to the kernel of debian-installer-12-netboot-i386"
        fi
    fi
    if [ $source = netboot ]; then
        netboot=$(resolve_package debian-installer-12-netboot-i386 all)
        [ -n "$netboot" ] || die "$target: debian-installer-12-netboot-i386 is neither in the package index nor cached"
    fi

    # One "package: name:arch version sha256=..." line per package used.
    local packages="" entry entry_arch
    for entry in "kernel:$arch" "busybox:$arch" "netboot:all"; do
        entry_arch=${entry#*:}
        entry=${entry%%:*}
        [ -n "${!entry}" ] || continue
        set -- ${!entry}
        packages+="${packages:+$'\n'}package: $1:$entry_arch $2 sha256=$(deb_sha256 "$3")"
    done
    if up_to_date "$target" "$packages"; then
        log "$target: up to date (same packages)"
        return
    fi

    work=$(mktemp -d "$images/.build-$target.XXXXXX")
    local root=$work/initramfs kroot vmlinuz kver modroot
    mkdir -p "$root/bin" "$root/dev" "$root/etc" "$root/lib"

    if [ $source = packages ]; then
        set -- $kernel
        log "$target: unpacking $1 $2"
        kroot=$work/kernel
        dpkg-deb -x "$3" "$kroot"
        kver=$(ls "$kroot/lib/modules")
        vmlinuz=$kroot/boot/vmlinuz-$kver
        set -- $busybox
        log "$target: unpacking $1 $2"
        dpkg-deb -x "$3" "$work/busybox"
        cp "$work/busybox/bin/busybox" "$root/bin/busybox"
    else
        set -- $netboot
        log "$target: unpacking $1 $2"
        dpkg-deb --fsys-tarfile "$3" | tar -x -C "$work" "$netboot_dir/linux" "$netboot_dir/initrd.gz"
        vmlinuz=$work/$netboot_dir/linux
        kroot=$work/netboot-initrd
        mkdir -p "$kroot"
        (cd "$kroot" && gzip -dc "$work/$netboot_dir/initrd.gz" | cpio -id --quiet --no-absolute-filenames 2>/dev/null)
        kver=$(ls "$kroot/lib/modules")
        warn "$target: the netboot busybox is dynamically linked and lacks setsid/cttyhack: no job control"
        copy_dynamic_busybox "$kroot" "$root"
    fi
    [ -f "$vmlinuz" ] || die "$target: no kernel image in the package"
    modroot=$kroot/lib/modules/$kver
    log "$target: kernel $kver; resolving module dependencies with depmod"
    # (The netboot initrd lacks modules.builtin.modinfo; depmod only needs it
    # for modprobe's aliases, which this image does not use.)
    depmod -b "$kroot" "$kver" 2>&1 | { grep -v 'modules.builtin.modinfo' >&2 || true; }

    local order=() missing
    mapfile -t order < <(load_order "$modroot" 2>"$work/load-order.notes")
    missing=$(sed -n 's/^images: MISSING //p' "$work/load-order.notes" | tr '\n' ' ')
    grep -v '^images: MISSING ' "$work/load-order.notes" >&2 || true
    if [ -n "$missing" ]; then
        [ $source = netboot ] || die "$target: the kernel package has no module ${missing% }"
        warn "$target: the netboot initrd has no ${missing% }: this image cannot mount its CD"
    fi
    check_load_order "$modroot" "${order[@]}"
    install_modules "$modroot" "$root/lib/modules/$kver" "${order[@]}"
    local loaded
    loaded=$(tr '\n' ' ' <"$root/lib/modules/$kver/load-order")
    log "$target: modules in load order: ${loaded% }"

    ln -s busybox "$root/bin/sh"
    cp "$here/images/init" "$root/init"
    echo "$target" >"$root/etc/novabox-image"
    log "$target: packing the initramfs"
    make_initramfs "$root" "$work/$target.initrd"
    cp "$vmlinuz" "$work/$target.vmlinuz"
    echo "$cmdline" >"$work/$target.cmdline"
    log "$target: making the ISO"
    make_iso "$target" "$volume" "$work/$target.vmlinuz" "$work/$target.initrd" "$work/$target.iso"
    local module_files=()
    mapfile -t module_files < <(sed "s|^|lib/modules/$kver/|; s|\$|.ko|" "$root/lib/modules/$kver/load-order")
    verify_outputs "$target" "$work" "$kver" "${module_files[@]}"

    # The entry goes first, so files moved without their new entry never pass
    # for up to date.
    rm -f "$images/$target.manifest"
    local ext
    for ext in iso vmlinuz initrd cmdline; do
        mv -f "$work/$target.$ext" "$images/$target.$ext"
    done
    {
        echo "[$target]"
        echo "script-sha256: $(script_hash)"
        echo "source: $source"
        echo "$packages"
        echo "kernel: $kver"
        echo "cmdline: $cmdline"
        echo "modules: ${loaded% }"
        echo "tools: $(dpkg-query -W -f '${Package} ${Version}, ' xorriso isolinux syslinux-common cpio gzip | sed 's/, $//')"
        for ext in iso vmlinuz initrd cmdline; do
            echo "size: $target.$ext $(stat -c %s "$images/$target.$ext")"
        done
        for ext in iso vmlinuz initrd cmdline; do
            echo "file: $(cd "$images" && sha256sum "$target.$ext")"
        done
        # What the guest must read back from its CD (the whole-guest tests).
        echo "on-iso: $(cd "$work/iso-tree" && sha256sum novabox/check.bin)"
    } >"$images/$target.manifest"
    rm -rf "$work"
    work=""
    log "$target: built $images/$target.iso"
}

# copy_dynamic_busybox FROM TO: the netboot initrd's busybox with its program
# interpreter and libraries, at the same paths.
copy_dynamic_busybox() {
    local from=$1 to=$2 interp lib found dir
    cp "$from/bin/busybox" "$to/bin/busybox"
    interp=$(readelf -l "$from/bin/busybox" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
    [ -n "$interp" ] || die "cannot read the program interpreter of the netboot busybox"
    (cd "$from" && cp -a --parents ".$interp" "$(readlink -f ".$interp" | sed "s|^$from|.|")" "$to/")
    for lib in $(readelf -d "$from/bin/busybox" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
        found=""
        for dir in lib/i386-linux-gnu lib usr/lib/i386-linux-gnu; do
            if [ -e "$from/$dir/$lib" ]; then
                (cd "$from" && cp -a --parents "$dir/$lib" "$to/")
                found=1
                break
            fi
        done
        [ -n "$found" ] || die "the netboot initrd lacks $lib, which its busybox needs"
    done
}

# --- main -------------------------------------------------------------------------

install_tools
for target in "${targets[@]}"; do
    build_target "$target"
done
write_manifest
log "manifest ($images/manifest.txt):"
cat "$images/manifest.txt"
