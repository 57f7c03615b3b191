#!/usr/bin/env bash
# The Debian packages: built from a clean export of HEAD with
# dpkg-buildpackage, clean under lintian (no error or warning), each with
# its files; then unpacked into an empty root, where the development
# package and the library build and run the guide's example, and the DKMS
# package's tree builds the module with its dkms.conf. Run by make check.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/common.sh
KVER=${KVER:-$(apu_kver)}
T=$(mktemp -d /tmp/apu-deb.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "deb_test: $*" >&2; exit 1; }

git archive --format=tar --prefix=apu/ HEAD | tar -x -C "$T"
# The working tree's packaging and sources when run before a commit.
if ! git diff --quiet HEAD -- debian packaging Makefile hal kernel include uapi firmware-stub 2>/dev/null; then
	echo "deb_test: note: packaging HEAD; uncommitted changes are not in the packages"
fi
(cd "$T/apu" && dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1 ||
	{ tail -n 30 "$T/build.log"; fail "dpkg-buildpackage failed"; }
changes=$(ls "$T"/apu_*.changes)
lintian --fail-on error,warning "$changes" >"$T/lintian.log" 2>&1 ||
	{ cat "$T/lintian.log"; fail "lintian reports errors or warnings"; }

has() { # package file...
	local deb
	deb=$(ls "$T/$1"_*.deb)
	shift
	for f in "$@"; do
		dpkg-deb -c "$deb" | awk '{ print $6 }' | grep -qx "./$f" || fail "$(basename "$deb") lacks $f"
	done
}
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
has libapu1 "usr/lib/$MA/libapu.so.1.0.0" "usr/lib/$MA/libapu.so.1"
has libapu-dev usr/include/apu/apu.h usr/include/drm/apu_accel.h "usr/lib/$MA/libapu.so" \
	"usr/lib/$MA/libapu.a" "usr/lib/$MA/pkgconfig/libapu.pc"
has apu-tools usr/bin/apu-info usr/bin/apu-run usr/bin/apu-top lib/udev/rules.d/70-apu.rules \
	usr/share/man/man1/apu-run.1.gz
has apu-firmware lib/firmware/apu/apu-fw.bin
has apu-armnn-backend "usr/lib/$MA/armnn22/Apu_ApuNpu_backend.so" usr/bin/armnn_classify
has apu-dkms usr/src/apu-0.3.0/dkms.conf usr/src/apu-0.3.0/kernel/Kbuild
dpkg-deb -I "$(ls "$T"/apu-dkms_*.deb)" postinst >/dev/null 2>&1 || fail "apu-dkms has no postinst (dh_dkms)"
# Each file in one package only (dh_dkms once installed dkms.conf in all).
for d in "$T"/*.deb; do
	dpkg-deb -c "$d" | awk '$1 !~ /^d/ { print $6 }' | grep -v '^./usr/share/doc/' | sed "s|^|${d##*/} |"
done | awk '{ n[$2]++; p[$2] = p[$2] " " $1 } END { for (f in n) if (n[f] > 1) print f ":" p[f] }' >"$T/dups"
[ ! -s "$T/dups" ] || fail "files in more than one package: $(cat "$T/dups")"

# The payloads work: unpacked, they build and run the example, and build the module.
R="$T/root"
for d in "$T"/*.deb; do
	case "$d" in *-dbgsym_*) continue ;; esac
	dpkg-deb -x "$d" "$R"
done
pc=$(PKG_CONFIG_SYSROOT_DIR="$R" PKG_CONFIG_PATH="$R/usr/lib/$MA/pkgconfig" pkg-config --cflags --libs libapu)
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror hal/examples/apu-example.c -o "$T/example" $pc
APU_BACKEND=cpu LD_LIBRARY_PATH="$R/usr/lib/$MA" "$T/example" >"$T/example.log" ||
	fail "the example against the packaged library: $(tail -n 3 "$T/example.log")"
APU_BACKEND=cpu LD_LIBRARY_PATH="$R/usr/lib/$MA" "$R/usr/bin/apu-run" --cpu --conv 8,8,8,8,3,1 >"$T/run.log" ||
	fail "the packaged apu-run: $(tail -n 3 "$T/run.log")"
# Arm NN loads the packaged backend from the packaged folder.
head -c 49152 /dev/zero >"$T/in.bin"
APU_ARMNN_DEVICE=cpu LD_LIBRARY_PATH="$R/usr/lib/$MA" "$R/usr/bin/armnn_classify" \
	build/models/mobilenet_v1_0.25_128_quant.tflite "$T/in.bin" --backends ApuNpu \
	--backend-path "$R/usr/lib/$MA/armnn22" >"$T/armnn.log" 2>&1 &&
	grep -q '^layers: \[ApuNpu PreCompiled x1\]$' "$T/armnn.log" ||
	fail "Arm NN with the packaged backend: $(tail -n 3 "$T/armnn.log")"
(
	cd "$R/usr/src/apu-0.3.0"
	kernel_source_dir=/lib/modules/$KVER/build
	# shellcheck disable=SC1091
	. ./dkms.conf
	eval "${MAKE[0]}" >"$T/dkms.log" 2>&1 || { tail -n 20 "$T/dkms.log"; exit 1; }
	modinfo -F vermagic kernel/apu.ko | grep -q "^$KVER "
) || fail "the packaged DKMS tree does not build the module for $KVER"
echo "deb_test: ok ($(ls "$T"/*.deb | grep -vc dbgsym) packages, lintian clean, payloads build and run)"
