#!/usr/bin/env bash
# Build QEMU $QEMU_VERSION with the APU device, for x86_64, into $APU_CACHE/qemu.
#
#   src/    Debian's QEMU source with its patches and our hook (qemu/patches/)
#           applied; recreated whenever the version or a hook patch changes.
#   build/  the meson/ninja build; reconfigured from scratch whenever the
#           configure arguments or the device set change, else incremental.
#
# Our own files stay in this repo. Each run copies those whose content changed
# into src/ (so ninja sees exactly what changed) and always runs ninja, so an
# out-of-date or half-built tree is never used: either ninja succeeds, or
# this script fails and says so.
#
# Prints nothing but errors and progress; the results are
#   $APU_CACHE/qemu/build/qemu-system-x86_64
#   $APU_CACHE/qemu/build/tests/qtest/qos-test (QEMU's libqos graph tests,
#   the apu's among them: tests/qtest/apu-test.c, libqos/apu.c)
# (with a mode, in that mode's build folder, see below).
set -euo pipefail
. "$(dirname "$0")/common.sh"

"$APU_TOP/scripts/fetch-sources.sh" qemu

# "scripts/build-qemu.sh fuzz": the same tree built with clang, libFuzzer,
# ASan and UBSan into build-fuzz/, for qemu-fuzz-x86_64 (make check-deep).
# "scripts/build-qemu.sh aarch64": qemu-system-aarch64 (virt + the APU) into
# build-aarch64/, for the arm64 guest suite, and its qos-test (the apu's
# graph qtests on the virt machine).
# "scripts/build-qemu.sh tsan": qemu-system-x86_64 and qos-test built with
# clang and ThreadSanitizer into build-tsan/; "asan": the same with
# AddressSanitizer and UBSan into build-asan/ (make check-deep runs the
# device's core-thread race qtests under both).
MODE=${1:-normal}
case "$MODE" in
normal | fuzz | aarch64 | tsan | asan) ;;
*) apu_die "usage: $0 [fuzz|aarch64|tsan|asan]" ;;
esac
Q="$APU_CACHE/qemu"
SRC="$Q/src"
BLD="$Q/build"
[ "$MODE" != normal ] && BLD="$Q/build-$MODE"
DEVDIR=x86_64-softmmu
[ "$MODE" = aarch64 ] && DEVDIR=aarch64-softmmu
mkdir -p "$Q"
exec 9>"$Q/.lock"
flock 9

CONFIGURE_ARGS=(
	--python=/usr/bin/python3
	--target-list=x86_64-softmmu
	--without-default-features
	--without-default-devices
	--with-devices-x86_64=apu
	--enable-kvm --enable-tcg
	--enable-fdt=system
	--disable-docs --disable-werror
	--disable-install-blobs --disable-tools --disable-guest-agent
)
# virtio-9p (the host's files in the guest: scripts/vm.sh run). The x86_64
# device set (normal and fuzz builds) has it; glibc provides xattr.
if [ "$MODE" != aarch64 ]; then
	CONFIGURE_ARGS+=(--enable-attr --enable-virtfs)
fi
if [ "$MODE" = fuzz ]; then
	CONFIGURE_ARGS+=(--cc=clang --cxx=clang++ --enable-fuzzing --enable-asan --enable-ubsan)
fi
# TSan as QEMU's docs/devel/testing/main.rst has it, with QEMU's compile-time
# ignore list (the dirty-bitmap helpers); runtime suppressions are in
# qemu/tsan.supp. Debian's glib is not instrumented: QEMU's own locks are
# pthread ones, which TSan sees.
if [ "$MODE" = tsan ]; then
	CONFIGURE_ARGS+=(--cc=clang --cxx=clang++ --enable-tsan
		"--extra-cflags=-fsanitize-blacklist=$SRC/tests/tsan/ignore.tsan")
fi
if [ "$MODE" = asan ]; then
	CONFIGURE_ARGS+=(--cc=clang --cxx=clang++ --enable-asan --enable-ubsan)
fi
if [ "$MODE" = aarch64 ]; then
	CONFIGURE_ARGS=("${CONFIGURE_ARGS[@]/--target-list=x86_64-softmmu/--target-list=aarch64-softmmu}")
	CONFIGURE_ARGS=("${CONFIGURE_ARGS[@]/--with-devices-x86_64=apu/--with-devices-aarch64=apu}")
fi

key() { sha256sum | cut -c1-16; }

# 1. The source tree.
src_key=$({ echo "$QEMU_DEB_VERSION"; cat "$APU_TOP"/qemu/patches/*.patch; } | key)
if [ "$(cat "$SRC/.apu-src-key" 2>/dev/null)" != "$src_key" ]; then
	apu_log "unpacking QEMU $QEMU_VERSION and applying the apu hook"
	rm -rf "$SRC.tmp"
	dsc=$(ls "$APU_CACHE"/dl/qemu/qemu_*.dsc)
	dpkg-source -q -x "$dsc" "$SRC.tmp" >"$Q/unpack.log" 2>&1 ||
		apu_die "dpkg-source could not unpack $dsc (see $Q/unpack.log)"
	for p in "$APU_TOP"/qemu/patches/*.patch; do
		patch -s -p1 -d "$SRC.tmp" <"$p" ||
			apu_die "hook $p does not apply to QEMU $QEMU_VERSION; refresh it"
	done
	echo "$src_key" >"$SRC.tmp/.apu-src-key"
	rm -rf "$SRC" "$Q/build" "$Q/build-fuzz" "$Q/build-aarch64" \
		"$Q/build-tsan" "$Q/build-asan"
	mv "$SRC.tmp" "$SRC"
fi

# 2. Our files, copied only when their content differs.
sync_file() {
	local from="$1" to="$2"
	if ! cmp -s "$from" "$to"; then
		mkdir -p "$(dirname "$to")"
		cp "$from" "$to.tmp" && mv "$to.tmp" "$to"
	fi
}
(cd "$APU_TOP/qemu" && find hw configs -type f) | while read -r f; do
	sync_file "$APU_TOP/qemu/$f" "$SRC/$f"
done
for f in "$APU_TOP"/include/hw/*.h "$APU_TOP"/firmware-stub/include/hw/*.h; do
	sync_file "$f" "$SRC/include/hw/$(basename "$f")"
done
# The firmware's device-side logic is plain C, linked into the device.
for f in "$APU_TOP"/firmware-stub/apu_*.c; do
	sync_file "$f" "$SRC/hw/misc/$(basename "$f")"
done
for f in "$APU_TOP"/tests/qtest/*.c; do
	sync_file "$f" "$SRC/tests/qtest/$(basename "$f")"
done
# The apu's libqos driver node (the graph tests' QPCIDevice).
for f in "$APU_TOP"/tests/qtest/libqos/*.[ch]; do
	sync_file "$f" "$SRC/tests/qtest/libqos/$(basename "$f")"
done

# 3. Configure when the configuration changed (or never finished).
cfg_key=$({ echo "$src_key"; printf '%s\n' "${CONFIGURE_ARGS[@]}";
	cat "$APU_TOP"/qemu/configs/devices/"$DEVDIR"/*.mak; } | key)
if [ "$(cat "$BLD/.apu-config-key" 2>/dev/null)" != "$cfg_key" ]; then
	apu_log "configuring QEMU ($MODE; log: $Q/configure.log)"
	rm -rf "$BLD"
	mkdir -p "$BLD"
	(cd "$BLD" && "$SRC/configure" "${CONFIGURE_ARGS[@]}") >"$Q/configure.log" 2>&1 || {
		tail -n 20 "$Q/configure.log" >&2
		apu_die "QEMU configure failed (full log: $Q/configure.log); run scripts/setup.sh (as root) for missing build dependencies"
	}
	echo "$cfg_key" >"$BLD/.apu-config-key"
fi

# 4. Firmware blobs from Debian's seabios and qemu-system-data, linked where
#    this QEMU looks for its data, so it runs from the cache without -L.
datadir="$BLD/qemu-bundle/usr/local/share/qemu"
mkdir -p "$datadir"
for blob in /usr/share/seabios/bios-256k.bin /usr/share/qemu/qboot.rom \
	    /usr/share/qemu/kvmvapic.bin \
	    /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/pvh.bin; do
	[ -f "$blob" ] || apu_die "$blob is missing; run scripts/setup.sh (as root)"
	ln -sfn "$blob" "$datadir/$(basename "$blob")"
done

# 5. Build (incremental).
TARGETS=(qemu-system-x86_64 tests/qtest/qos-test)
[ "$MODE" = fuzz ] && TARGETS=(qemu-fuzz-x86_64)
[ "$MODE" = aarch64 ] && TARGETS=(qemu-system-aarch64 tests/qtest/qos-test)
apu_log "building QEMU ($MODE; ninja; log: $Q/build.log)"
if ! ninja -C "$BLD" -j"$(nproc)" "${TARGETS[@]}" >"$Q/build.log" 2>&1; then
	grep -E ' error: |^FAILED:|undefined reference' "$Q/build.log" | head -n 20 >&2
	apu_die "QEMU build failed (full log: $Q/build.log)"
fi
