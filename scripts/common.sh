# Sourced by the scripts in this folder: paths, versions and error helpers.
# shellcheck shell=bash
APU_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
. "$APU_TOP/scripts/versions.env"
# Everything downloaded or built outside the repo lives here (override with APU_CACHE).
APU_CACHE=${APU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/apu}
# In-repo build outputs (ignored by git).
APU_BUILD=${APU_BUILD:-$APU_TOP/build}

apu_die() { echo "${0##*/}: ERROR: $*" >&2; exit 1; }
apu_log() { echo "${0##*/}: $*" >&2; }

# Newest installed kernel of the pinned series, e.g. 6.12.95+deb12-amd64.
apu_kver() {
	local k
	k=$(ls -1 /boot/vmlinuz-"$KERNEL_SERIES".*-amd64 2>/dev/null | sort -V | tail -n 1)
	[ -n "$k" ] || apu_die "no $KERNEL_SERIES kernel in /boot; run scripts/setup.sh (as root)"
	echo "${k#/boot/vmlinuz-}"
}
