#!/usr/bin/env bash
# Build the debug kernel of issue 7 from Debian's linux-source-$DEBUG_KERNEL_SERIES
# (trixie-backports): tinyconfig plus kernel/debug/apu-debug.config (KASAN,
# lockdep, kmemleak, DEBUG_ATOMIC_SLEEP, DMA_API_DEBUG, fault injection).
#
#   $APU_CACHE/linux-debug/src/     the unpacked source, one per package version
#   $APU_CACHE/linux-debug/build/   O= build tree; make is incremental, and the
#                                   config is redone when the fragment changes
#
# The package is found through the suite's Packages index (its current
# version of the series), checked against the index's SHA256, and kept.
# Results: $APU_CACHE/linux-debug/build/arch/x86/boot/bzImage, and the tree
# that apu.ko builds against (make module KDIR=...).
set -euo pipefail
. "$(dirname "$0")/common.sh"

D="$APU_CACHE/linux-debug"
mkdir -p "$D/dl"
exec 9>"$D/.lock"
flock 9

MIRROR=${APU_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PKG="linux-source-$DEBUG_KERNEL_SERIES"

# --- the package ---------------------------------------------------------
index="$D/dl/Packages"
if [ ! -f "$D/src/.apu-version" ] || [ -n "${APU_REFRESH:-}" ]; then
	apu_log "looking up $PKG in $DEBUG_KERNEL_SUITE"
	curl -fsSL "$MIRROR/dists/$DEBUG_KERNEL_SUITE/main/binary-amd64/Packages.xz" |
		xz -dc >"$index.tmp" || apu_die "could not read the $DEBUG_KERNEL_SUITE package index"
	mv "$index.tmp" "$index"
	entry=$(awk -v p="$PKG" 'BEGIN { RS = "" } $0 ~ "(^|\n)Package: " p "\n" { last = $0 } END { print last }' "$index")
	[ -n "$entry" ] || apu_die "$PKG is not in $DEBUG_KERNEL_SUITE"
	ver=$(sed -n 's/^Version: //p' <<<"$entry")
	file=$(sed -n 's/^Filename: //p' <<<"$entry")
	sha=$(sed -n 's/^SHA256: //p' <<<"$entry")
	if [ "$(cat "$D/src/.apu-version" 2>/dev/null)" != "$ver" ]; then
		deb="$D/dl/${file##*/}"
		if [ ! -f "$deb" ] || ! echo "$sha  $deb" | sha256sum -c --status; then
			apu_log "downloading $PKG $ver (about 170 MB)"
			curl -fsSL -o "$deb.tmp" "$MIRROR/$file" || apu_die "could not download $MIRROR/$file"
			echo "$sha  $deb.tmp" | sha256sum -c --status || apu_die "$file: SHA256 mismatch"
			mv "$deb.tmp" "$deb"
		fi
		apu_log "unpacking $PKG $ver"
		tmp=$(mktemp -d "$D/src.tmp.XXXXXX")
		dpkg-deb --fsys-tarfile "$deb" |
			tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
			tar -xJ -C "$tmp" --strip-components=1
		echo "$ver" >"$tmp/.apu-version"
		rm -rf "$D/src" "$D/build" "$D/build-arm64"
		mv "$tmp" "$D/src"
		find "$D/dl" -name '*.deb' ! -name "${file##*/}" -delete
	fi
fi
[ -f "$D/src/Makefile" ] || apu_die "no kernel source in $D/src"

# --- config and build ------------------------------------------------------
# "arm64": the arm64 guest kernel instead (kernel/debug/apu-arm64.config),
# cross-built with gcc-aarch64-linux-gnu into build-arm64/ (Image).
ARCH_SEL=${1:-x86_64}
case "$ARCH_SEL" in
x86_64)
	frag="$APU_TOP/kernel/debug/apu-debug.config"
	B="$D/build"
	KMAKE=(make -s -C "$D/src" O="$B")
	IMAGE=bzImage
	;;
arm64)
	frag="$APU_TOP/kernel/debug/apu-arm64.config"
	B="$D/build-arm64"
	KMAKE=(make -s -C "$D/src" O="$B" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
	IMAGE=Image
	;;
*) apu_die "usage: $0 [x86_64|arm64]" ;;
esac
mkdir -p "$B"
want=$( (cat "$frag"; cat "$D/src/.apu-version") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$B/.apu-config" 2>/dev/null)" != "$want" ]; then
	apu_log "configuring $ARCH_SEL (tinyconfig + $(basename "$frag"))"
	"${KMAKE[@]}" tinyconfig >/dev/null
	"$D/src/scripts/kconfig/merge_config.sh" -m -O "$B" "$B/.config" "$frag" >/dev/null
	"${KMAKE[@]}" olddefconfig >/dev/null
	# Every line of the fragment must have survived (a missing dependency
	# silently drops an option).
	missing=0
	while IFS= read -r line; do
		case "$line" in CONFIG_*=n) continue ;; CONFIG_*) ;; *) continue ;; esac
		grep -qx "$line" "$B/.config" || { echo "not set: $line" >&2; missing=1; }
	done <"$frag"
	[ "$missing" = 0 ] || apu_die "the $ARCH_SEL config lost options (above)"
	echo "$want" >"$B/.apu-config"
fi
apu_log "building the $ARCH_SEL kernel (incremental; first build about 10 min on 2 cores)"
"${KMAKE[@]}" -j"$(nproc)" "$IMAGE" modules >"$B.log" 2>&1 || {
	tail -n 30 "$B.log" >&2
	apu_die "$ARCH_SEL kernel build failed (log: $B.log)"
}
echo "$B"
