#!/usr/bin/env bash
# Download and unpack the third-party sources the build uses, into $APU_CACHE:
#   dl/qemu/       QEMU $QEMU_VERSION Debian source package (.dsc and tarballs)
#   linux-extract/ kselftest harness and kernel style checkers from $LINUX_SOURCE_PKG
#   armnn-src/     Arm NN $ARMNN_DEB_VERSION source (Debian's patches applied): the
#                  internal backend headers the ApuNpu backend compiles against
# Each result appears atomically (unpacked in a temporary folder, then renamed)
# with a stamp naming its version, so a half-done download is never used.
set -euo pipefail
. "$(dirname "$0")/common.sh"
mkdir -p "$APU_CACHE"
exec 9>"$APU_CACHE/.fetch.lock"
flock 9

# apt_source PACKAGE VERSION SUITE TMPDIR: the Debian source package into
# TMPDIR (removed, with a message, when the download fails).
apt_source() {
	(cd "$4" && apt-get source -q --download-only "$1=$2" >download.log 2>&1) || {
		tail -n 5 "$4/download.log" >&2
		rm -rf "$4"
		apu_die "could not download the $1 source $2; is the $3 deb-src entry present (run scripts/setup.sh as root) and the network up?"
	}
}

fetch_qemu() {
	local dst="$APU_CACHE/dl/qemu" stamp tmp
	stamp="$dst/.apu-source-version"
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$QEMU_DEB_VERSION" ]; then
		return 0
	fi
	apu_log "fetching QEMU source $QEMU_DEB_VERSION"
	mkdir -p "$APU_CACHE/dl"
	tmp=$(mktemp -d "$APU_CACHE/dl/qemu.tmp.XXXXXX")
	apt_source qemu "$QEMU_DEB_VERSION" "$SOURCE_SUITE" "$tmp"
	ls "$tmp"/qemu_*.dsc >/dev/null 2>&1 || apu_die "no .dsc in the QEMU download"
	echo "$QEMU_DEB_VERSION" >"$tmp/.apu-source-version"
	rm -rf "$dst"
	mv "$tmp" "$dst"
}

# Files taken from the kernel source: the kselftest harness (tests) and the
# style checkers (static checks). Never committed to this repository.
LINUX_FILES="tools/testing/selftests/kselftest_harness.h
tools/testing/selftests/kselftest.h
scripts/checkpatch.pl
scripts/spelling.txt
scripts/const_structs.checkpatch"

fetch_linux() {
	local dst="$APU_CACHE/linux-extract" stamp tmp deb tarball
	stamp="$dst/.apu-source-version"
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$LINUX_SOURCE_PKG" ]; then
		return 0
	fi
	apu_log "fetching $LINUX_SOURCE_PKG (about 150 MB) for the kselftest harness and checkpatch"
	tmp=$(mktemp -d "$APU_CACHE/linux-extract.tmp.XXXXXX")
	(cd "$tmp" && apt-get download -q "$LINUX_SOURCE_PKG" >download.log 2>&1) || {
		tail -n 5 "$tmp/download.log" >&2
		rm -rf "$tmp"
		apu_die "could not download $LINUX_SOURCE_PKG; run scripts/setup.sh (as root) and check the network"
	}
	deb=$(ls "$tmp"/*.deb)
	mkdir "$tmp/deb"
	dpkg-deb -x "$deb" "$tmp/deb"
	tarball=$(ls "$tmp"/deb/usr/src/linux-source-*.tar.xz)
	mkdir "$tmp/out"
	# shellcheck disable=SC2086
	tar -xJf "$tarball" -C "$tmp/out" --strip-components=1 --wildcards \
		$(for f in $LINUX_FILES; do printf '*/%s ' "$f"; done) ||
		apu_die "could not extract the harness and checkpatch from $tarball"
	for f in $LINUX_FILES; do
		[ -f "$tmp/out/$f" ] || apu_die "$f missing from $LINUX_SOURCE_PKG"
	done
	echo "$LINUX_SOURCE_PKG" >"$tmp/out/.apu-source-version"
	rm -rf "$dst"
	mv "$tmp/out" "$dst"
	rm -rf "$tmp"
}

# Arm NN's backend API (IBackendInternal, SubgraphView, workloads) is C++
# whose headers Debian does not ship in libarmnn-dev: the source package of
# the very version installed provides them. Only headers are kept.
fetch_armnn() {
	local dst="$APU_CACHE/armnn-src" stamp tmp
	stamp="$dst/.apu-source-version"
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$ARMNN_DEB_VERSION" ]; then
		return 0
	fi
	apu_log "fetching Arm NN source $ARMNN_DEB_VERSION (headers of its backend API)"
	mkdir -p "$APU_CACHE"
	tmp=$(mktemp -d "$APU_CACHE/armnn-src.tmp.XXXXXX")
	apt_source armnn "$ARMNN_DEB_VERSION" "$ARMNN_SOURCE_SUITE" "$tmp"
	dpkg-source -q -x "$tmp"/armnn_*.dsc "$tmp/src" >"$tmp/unpack.log" 2>&1 || {
		tail -n 5 "$tmp/unpack.log" >&2
		rm -rf "$tmp"
		apu_die "dpkg-source could not unpack the Arm NN source"
	}
	mkdir "$tmp/out"
	(cd "$tmp/src" && find include src profiling third-party \( -name '*.hpp' -o -name '*.h' \) \
		-print0 | cpio -0 -pdm --quiet "$tmp/out") ||
		apu_die "could not copy the Arm NN headers"
	cp "$tmp/src/LICENSE" "$tmp/out/"
	[ -f "$tmp/out/src/armnn/SubgraphView.hpp" ] || apu_die "no SubgraphView.hpp in the Arm NN source"
	echo "$ARMNN_DEB_VERSION" >"$tmp/out/.apu-source-version"
	rm -rf "$dst"
	mv "$tmp/out" "$dst"
	rm -rf "$tmp"
}

case "${1:-all}" in
qemu) fetch_qemu ;;
linux) fetch_linux ;;
armnn) fetch_armnn ;;
all) fetch_qemu; fetch_linux; fetch_armnn ;;
*) apu_die "usage: $0 [qemu|linux|armnn|all]" ;;
esac
