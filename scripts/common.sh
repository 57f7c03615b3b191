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

# Copy the driver's sources to $1/kernel (only files whose content changed),
# with include/ and uapi/ linked beside them as kernel/Kbuild expects: for
# building apu.ko against another kernel than Debian's, since kernel/ holds
# that build's outputs.
apu_copy_module_sources() {
	local dst=$1 f
	mkdir -p "$dst/kernel"
	ln -sfn "$APU_TOP/include" "$dst/include"
	ln -sfn "$APU_TOP/uapi" "$dst/uapi"
	for f in "$APU_TOP"/kernel/*.[ch] "$APU_TOP/kernel/Kbuild"; do
		case "$f" in *.mod.c) continue ;; esac
		cmp -s "$f" "$dst/kernel/${f##*/}" || cp "$f" "$dst/kernel/"
	done
}
