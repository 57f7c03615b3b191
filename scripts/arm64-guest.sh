#!/usr/bin/env bash
# The guest suite on arm64 (issue 8): QEMU's virt machine (aarch64, TCG) with
# the APU on PCIe, an arm64 kernel cross-built from the same Linux source as
# the debug kernel (kernel/debug/apu-arm64.config, lockdep and DMA-API
# debugging on), apu.ko, libapu, the tools and the guest tests cross-built
# with gcc-aarch64-linux-gnu (programs linked static), busybox from Debian's
# arm64 busybox-static. Results: $APU_BUILD/vm/check-arm64.result and the
# console log $APU_BUILD/vm/check-arm64.log. APU_TESTS narrows the tests.
set -euo pipefail
. "$(dirname "$0")/common.sh"

D="$APU_CACHE/linux-debug"
A="$APU_CACHE/arm64"
B64="$APU_TOP/build-arm64"
CROSS=aarch64-linux-gnu-
command -v ${CROSS}gcc >/dev/null || apu_die "${CROSS}gcc missing; run scripts/setup.sh (as root)"

KB=$("$APU_TOP/scripts/build-debug-kernel.sh" arm64 | tail -n 1)
KREL=$(cat "$KB/include/config/kernel.release")
MODROOT="$D/modroot-arm64"
if [ ! -f "$MODROOT/lib/modules/$KREL/modules.dep" ] ||
	[ "$KB/arch/arm64/boot/Image" -nt "$MODROOT/lib/modules/$KREL/modules.dep" ]; then
	rm -rf "$MODROOT"
	make -s -C "$D/src" O="$KB" ARCH=arm64 CROSS_COMPILE=$CROSS \
		INSTALL_MOD_PATH="$MODROOT" modules_install >/dev/null
fi

# apu.ko for it, from a copy of kernel/ (as scripts/debug-guest.sh does).
apu_log "building apu.ko for arm64 $KREL"
KM="$B64/kernel-mod"
apu_copy_module_sources "$KM"
make -s -C "$KB" M="$KM/kernel" ARCH=arm64 CROSS_COMPILE=$CROSS modules

# User space, cross-built; the firmware image is the same on every host.
apu_log "cross-building libapu, the tools and the guest tests"
make --no-print-directory -s -C "$APU_TOP" firmware
make --no-print-directory -s -C "$APU_TOP" BUILD="$B64" CC=${CROSS}gcc \
	PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig LDFLAGS=-L/usr/lib/aarch64-linux-gnu \
	EXE_LDFLAGS="-static -ldrm -lm -pthread" TOOLS_RPATH= \
	hal tools guest-tests 2> >(grep -v 'getaddrinfo\|statically linked' >&2)
mkdir -p "$B64/firmware"
cp -a "$APU_BUILD/firmware/." "$B64/firmware/"

# busybox for arm64, from Debian's package (downloaded once).
if [ ! -x "$A/busybox" ]; then
	mkdir -p "$A/dl"
	(cd "$A/dl" && apt-get download -q busybox-static:arm64 >/dev/null 2>&1) ||
		apu_die "cannot download busybox-static:arm64 (is arm64 a dpkg architecture? run scripts/setup.sh)"
	dpkg-deb -x "$(ls "$A"/dl/busybox-static_*_arm64.deb | head -n 1)" "$A/dl/x"
	cp "$A/dl/x/bin/busybox" "$A/busybox"
	rm -rf "$A/dl/x"
fi

APU_BUILD="$B64" APU_BUSYBOX="$A/busybox" KVER=$KREL \
	APU_MODDIR="$MODROOT/lib/modules/$KREL" APU_KO="$KM/kernel/apu.ko" \
	APU_INITRD_NAME=initramfs-arm64 "$APU_TOP/scripts/mkinitramfs.sh"

"$APU_TOP/scripts/build-qemu.sh" aarch64
APU_VM_ARCH=arm64 KVER=$KREL APU_KERNEL="$KB/arch/arm64/boot/Image" \
	APU_INITRD="$B64/vm/initramfs-arm64.cpio.gz" APU_VM_NAME=arm64 \
	APU_VM_TIMEOUT=${APU_VM_TIMEOUT:-1800} exec "$APU_TOP/scripts/vm.sh" check
