#!/usr/bin/env bash
# What the arm64 guest suite (make check-arm64) needs besides scripts/setup.sh:
# the aarch64 cross compiler, and arm64 as a dpkg architecture for libdrm's
# arm64 development files and Debian's arm64 busybox-static.
set -euo pipefail
. "$(dirname "$0")/common.sh"

PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross libdrm-dev:arm64 libstb-dev:arm64"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
if [ -z "$missing" ] && dpkg --print-foreign-architectures | grep -qx arm64; then
	exit 0
fi
[ "$(id -u)" = 0 ] || apu_die "installing$missing needs root: run 'sudo scripts/setup-arm64.sh' once"
exec 9>/var/lock/apu-setup.lock
flock 9
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	apu_log "adding arm64 as a dpkg architecture"
	dpkg --add-architecture arm64
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/tmp/apu-setup-arm64.log 2>&1 ||
	apu_die "apt-get update failed; see /tmp/apu-setup-arm64.log"
apu_log "installing:$missing"
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $PKGS ||
	apu_die "could not install $PKGS"
