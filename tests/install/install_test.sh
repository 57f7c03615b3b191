#!/usr/bin/env bash
# make install / uninstall into a staging root (DESTDIR), as a distribution
# package build does; run by make check (host tier). Checks that:
#   - every file lands where it should, for PREFIX=/usr;
#   - the installed pkg-config file, headers and library build the guide's
#     example, which then runs (CPU backend) against the installed library;
#   - the udev rule gives the node to the group, the module is for KVER;
#   - the DKMS source tree builds the module with dkms.conf's own command;
#   - make uninstall leaves no file behind.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/common.sh
KVER=${KVER:-$(apu_kver)}
D=$(mktemp -d /tmp/apu-install.XXXXXX)
trap 'rm -rf "$D"' EXIT
fail() { echo "install_test: $*" >&2; exit 1; }
mk() { make --no-print-directory -s "$@" DESTDIR="$D" PREFIX=/usr KVER="$KVER"; }

mk install
mk install-dkms
for f in usr/lib/libapu.so.1.0.0 usr/lib/libapu.so.1 usr/lib/libapu.so usr/lib/libapu.a \
	usr/lib/pkgconfig/libapu.pc usr/include/apu/apu.h usr/include/drm/apu_accel.h \
	usr/bin/apu-info usr/bin/apu-run usr/bin/apu-top lib/firmware/apu/apu-fw.bin \
	usr/share/man/man1/apu-info.1 usr/share/man/man1/apu-run.1 usr/share/man/man1/apu-top.1 \
	lib/udev/rules.d/70-apu.rules "lib/modules/$KVER/updates/apu.ko" \
	usr/src/apu-0.3.0/dkms.conf usr/src/apu-0.3.0/kernel/Kbuild \
	usr/src/apu-0.3.0/include/hw/apu_hw.h usr/src/apu-0.3.0/uapi/drm/apu_accel.h \
	usr/include/apu/apu_graph.h "usr/lib/$(gcc -print-multiarch)/armnn22/Apu_ApuNpu_backend.so" \
	usr/bin/armnn_classify; do
	[ -e "$D/$f" ] || fail "$f was not installed"
done
[ "$(readlink "$D/usr/lib/libapu.so")" = libapu.so.1 ] || fail "libapu.so does not point at the SONAME"

# The installed development files build and run the example.
pc=$(PKG_CONFIG_SYSROOT_DIR="$D" PKG_CONFIG_PATH="$D/usr/lib/pkgconfig" pkg-config --cflags --libs libapu)
grep -q -- "-I$D/usr/include" <<<"$pc" || fail "pkg-config gives no staged include path: $pc"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror hal/examples/apu-example.c -o "$D/example" $pc
APU_BACKEND=cpu LD_LIBRARY_PATH="$D/usr/lib" "$D/example" >"$D/example.out" ||
	fail "the example built against the installed files did not run: $(tail -n 3 "$D/example.out")"
libs=$(LD_LIBRARY_PATH="$D/usr/lib" ldd "$D/example")
grep -q "=> $D/usr/lib/libapu.so.1" <<<"$libs" || fail "the example did not load the installed library"

# Arm NN loads the installed backend from its backends folder (no rpath:
# the installed libapu) and runs a model on it (CPU backend as the device).
m=build/models/mobilenet_v1_0.25_128_quant.tflite
head -c 49152 /dev/zero >"$D/in.bin"
APU_ARMNN_DEVICE=cpu LD_LIBRARY_PATH="$D/usr/lib" "$D/usr/bin/armnn_classify" "$m" "$D/in.bin" \
	--backends ApuNpu --backend-path "$D/usr/lib/$(gcc -print-multiarch)/armnn22" >"$D/armnn.out" 2>&1 ||
	fail "Arm NN did not run the installed backend: $(tail -n 3 "$D/armnn.out")"
grep -q '^layers: \[ApuNpu PreCompiled x1\]$' "$D/armnn.out" ||
	fail "the installed backend took no layers: $(head -n 3 "$D/armnn.out")"
! readelf -d "$D/usr/lib/$(gcc -print-multiarch)/armnn22/Apu_ApuNpu_backend.so" | grep -q RUNPATH ||
	fail "the installed backend keeps the build tree's run path"

grep -q 'GROUP="render", MODE="0660"' "$D/lib/udev/rules.d/70-apu.rules" || fail "udev rule"
[ "$(modinfo -F vermagic "$D/lib/modules/$KVER/updates/apu.ko" | cut -d' ' -f1)" = "$KVER" ] ||
	fail "the module is not built for $KVER"

# What DKMS runs: dkms.conf's MAKE, with kernel_source_dir set.
(
	cd "$D/usr/src/apu-0.3.0"
	# dkms.conf is sourced by DKMS with its variables set; ${kernel_source_dir}
	# is expanded when MAKE runs.
	kernel_source_dir=/lib/modules/$KVER/build
	# shellcheck disable=SC1091
	. ./dkms.conf
	eval "${MAKE[0]}" >"$D/dkms-build.log" 2>&1 || { tail -n 20 "$D/dkms-build.log"; exit 1; }
	[ -f "${BUILT_MODULE_LOCATION[0]}/${BUILT_MODULE_NAME[0]}.ko" ]
) || fail "the DKMS tree does not build the module"

mk uninstall
left=$(find "$D" -type f ! -name 'example*' ! -name 'dkms-build.log' ! -name 'armnn.out' \
	! -name in.bin | sed "s|^$D/||")
[ -z "$left" ] || fail "make uninstall left: $left"
echo "install_test: ok (installed, built against, ran, DKMS-built, uninstalled)"
