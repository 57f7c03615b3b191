#!/usr/bin/env bash
# The Debian packages installed in a clean Debian 12 chroot (make check-deep):
# a minbase bookworm made once by debootstrap and kept as a tarball in
# $APU_CACHE, unpacked fresh for each run. apt installs the five packages
# with their dependencies (from the Debian archive); then the tools run
# (apu-info finds no device: no APU in a chroot, exit 1 with that message),
# the example builds against libapu-dev with pkg-config and runs on the CPU
# backend, DKMS knows apu/VERSION; and apt purges them again, leaving none of
# their files.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/common.sh
T=$(mktemp -d /tmp/apu-chroot.XXXXXX)
R="$T/root"
MIRROR=${APU_DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE="$APU_CACHE/chroot/bookworm-minbase.tar"
cleanup() {
	for m in proc dev/pts dev sys; do umount -l "$R/$m" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "chroot_test: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (chroot)"

if [ ! -f "$BASE" ]; then
	echo "chroot_test: making a bookworm minbase chroot (once; kept in $BASE)"
	mkdir -p "$(dirname "$BASE")"
	debootstrap --variant=minbase bookworm "$T/base" "$MIRROR" >"$T/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$T/debootstrap.log"; fail "debootstrap failed"; }
	tar -C "$T/base" -cf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE"
	rm -rf "$T/base"
fi
mkdir -p "$R"
tar -C "$R" -xf "$BASE"

# The packages, from a clean export of HEAD.
git archive --format=tar --prefix=apu/ HEAD | tar -x -C "$T"
(cd "$T/apu" && dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1 ||
	{ tail -n 30 "$T/build.log"; fail "dpkg-buildpackage failed"; }
mkdir -p "$R/tmp/debs"
cp "$T"/apu-dkms_*.deb "$T"/apu-firmware_*.deb "$T"/libapu1_*.deb "$T"/libapu-dev_*.deb \
	"$T"/apu-tools_*.deb "$R/tmp/debs/"
cp hal/examples/apu-example.c "$R/tmp/"

mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mount --bind /dev/pts "$R/dev/pts"
mount -t sysfs sys "$R/sys"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
echo "deb $MIRROR bookworm main" >"$R/etc/apt/sources.list"
in_chroot() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	DEBIAN_FRONTEND=noninteractive "$@"; }

in_chroot apt-get -q update >"$T/apt.log" 2>&1 || { tail -n 20 "$T/apt.log"; fail "apt-get update"; }
in_chroot sh -c 'apt-get -q -y --no-install-recommends install /tmp/debs/*.deb pkg-config gcc libc6-dev' \
	>>"$T/apt.log" 2>&1 || { grep -B2 -A6 "dpkg: error" "$T/apt.log" | head -n 40; fail "the packages do not install"; }

# Installed: the tools, the development files, DKMS.
out=$(in_chroot apu-info 2>&1) && fail "apu-info found a device in a chroot?"
grep -q "no APU found" <<<"$out" || fail "apu-info: $out"
in_chroot apu-run --help >/dev/null || fail "apu-run --help"
in_chroot man -w apu-run >/dev/null 2>&1 || [ -f "$R/usr/share/man/man1/apu-run.1.gz" ] || fail "no man page"
in_chroot sh -c 'cc -std=c11 -Wall -Werror /tmp/apu-example.c -o /tmp/example $(pkg-config --cflags --libs libapu) &&
	APU_BACKEND=cpu /tmp/example' >"$T/example.log" 2>&1 ||
	{ cat "$T/example.log"; fail "the example against the installed libapu-dev"; }
[ -f "$R/lib/firmware/apu/apu-fw.bin" ] || fail "no firmware"
[ -f "$R/lib/udev/rules.d/70-apu.rules" ] || fail "no udev rule"
in_chroot dkms status 2>/dev/null | grep -q "^apu/0.3.0" || fail "DKMS does not know apu/0.3.0: $(in_chroot dkms status 2>&1)"

# Purged: nothing of theirs is left.
in_chroot apt-get -q -y purge apu-dkms apu-firmware libapu1 libapu-dev apu-tools >>"$T/apt.log" 2>&1 ||
	{ tail -n 20 "$T/apt.log"; fail "purge failed"; }
for f in usr/bin/apu-info usr/lib/x86_64-linux-gnu/libapu.so.1 usr/include/apu/apu.h \
	lib/firmware/apu/apu-fw.bin lib/udev/rules.d/70-apu.rules usr/src/apu-0.3.0; do
	[ ! -e "$R/$f" ] || fail "$f left after purge"
done
in_chroot dkms status 2>/dev/null | grep -q "^apu" && fail "DKMS still lists apu after purge"
echo "chroot_test: ok (installed with dependencies in a clean bookworm, used, purged)"
