#!/usr/bin/env bash
# Install everything the build, the tests and the demo need on Debian 12 (root).
# Idempotent: a second run changes nothing and takes about a second.
# Versions are pinned in scripts/versions.env.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

die() { echo "setup: ERROR: $*" >&2; exit 1; }
log() { echo "setup: $*"; }

. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] ||
	log "warning: written for Debian 12 (bookworm), this is ${PRETTY_NAME:-unknown}"

# Packages from bookworm itself.
BASE_PKGS="build-essential bison flex pkg-config ninja-build python3 python3-venv patch
 libglib2.0-dev libpixman-1-dev libfdt-dev dpkg-dev xz-utils cpio
 busybox-static libdrm-dev kmod seabios file sparse libgemmlowp-dev
 libxnnpack-dev libpthreadpool-dev libcpuinfo-dev gnuplot-nox valgrind cppcheck
 libelf-dev bc libssl-dev curl clang-tidy clang libclang-rt-14-dev
 dt-schema device-tree-compiler debhelper dh-dkms dkms lintian fakeroot
 debootstrap"
# Real models (tests/data/models): stb_image for the tools' picture loader;
# Pillow and numpy for the image tests' oracle; Arm NN's reference backend
# and TFLite parser as the models' oracle (tests/oracle/armnn_run.py).
BASE_PKGS="$BASE_PKGS libstb-dev python3-pil python3-numpy python3-flatbuffers
 python3-pyarmnn libarmnn-cpuref-backend22 libarmnntfliteparser22"
# The Arm NN backend (frameworks/armnn): Arm NN's headers and TFLite parser,
# and the Boost headers its internal headers include.
BASE_PKGS="$BASE_PKGS libarmnn-dev libarmnntfliteparser-dev libboost-dev"
# Packages taken from bookworm-backports.
BP_PKGS="linux-image-amd64 linux-headers-amd64 meson qemu-system-data"

src_file=/etc/apt/sources.list.d/apu-dev.sources
want_sources="# Written by apu scripts/setup.sh
Types: deb deb-src
URIs: http://deb.debian.org/debian
Suites: $BACKPORTS_SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $SOURCE_SUITE $ARMNN_SOURCE_SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"

need_update=0
if [ ! -f "$src_file" ] || [ "$(cat "$src_file")" != "$(printf '%s' "$want_sources")" ]; then
	need_update=1
fi

missing() {
	local p out=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			out="$out $p"
	done
	echo "$out"
}

# The kernel must be the pinned series, whatever linux-image-amd64 points to.
kernel_ok() {
	compgen -G "/boot/vmlinuz-$KERNEL_SERIES.*-amd64" >/dev/null &&
		compgen -G "/lib/modules/$KERNEL_SERIES.*-amd64/build" >/dev/null
}

# shellcheck disable=SC2086
m_base=$(missing $BASE_PKGS)
# shellcheck disable=SC2086
m_bp=$(missing $BP_PKGS)
meson_ok=0
if command -v meson >/dev/null && dpkg --compare-versions "$(meson --version)" ge 1.5; then
	meson_ok=1
fi
if [ -z "$m_base$m_bp" ] && kernel_ok && [ $meson_ok = 1 ] &&
   [ $need_update = 0 ] && [ "${APU_SETUP_FORCE:-0}" = 0 ]; then
	log "all packages present"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "packages are missing and installing them needs root: run 'sudo scripts/setup.sh' once"
exec 9>/var/lock/apu-setup.lock
flock 9
if [ $need_update = 1 ]; then
	log "writing $src_file ($BACKPORTS_SUITE, $SOURCE_SUITE and $ARMNN_SOURCE_SUITE deb-src)"
	printf '%s' "$want_sources" >"$src_file.tmp" && mv "$src_file.tmp" "$src_file"
fi
export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
apt-get update -q >/tmp/apu-setup-update.log 2>&1 ||
	die "apt-get update failed (network or mirror?); see /tmp/apu-setup-update.log"
if [ -n "${m_base// /}" ]; then
	log "installing:$m_base"
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $m_base ||
		die "could not install:$m_base (see the apt output above)"
fi
log "installing from $BACKPORTS_SUITE: $BP_PKGS"
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends -t "$BACKPORTS_SUITE" $BP_PKGS ||
	die "could not install from $BACKPORTS_SUITE: $BP_PKGS (see the apt output above)"

kernel_ok || die "no $KERNEL_SERIES kernel image and headers after install; check 'apt-cache policy linux-image-amd64'"
command -v meson >/dev/null && dpkg --compare-versions "$(meson --version)" ge 1.5 ||
	die "meson >= 1.5 is needed for QEMU $QEMU_VERSION (from $BACKPORTS_SUITE)"
log "done"
