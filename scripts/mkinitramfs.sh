#!/usr/bin/env bash
# Build the guest initramfs: busybox, the DRM modules apu.ko needs (from the
# installed Debian kernel $KVER), apu.ko, libapu and the tools, the guest test
# binaries and every shared library they load, and tests/vm/init.
# Output: $APU_BUILD/vm/initramfs.cpio.gz (or $APU_INITRD_NAME.cpio.gz), and
# initramfs-run.cpio.gz, the smaller one of scripts/vm.sh run.
set -euo pipefail
. "$(dirname "$0")/common.sh"

# The debug kernel (scripts/check-debug.sh) passes its own module tree, apu.ko
# and output name: APU_MODDIR, APU_KO, APU_INITRD_NAME.
KVER=${KVER:-$(apu_kver)}
MODDIR=${APU_MODDIR:-/lib/modules/$KVER}
OUT="$APU_BUILD/vm"
NAME=${APU_INITRD_NAME:-initramfs}
ROOT="$OUT/$NAME.root"
APU_KO=${APU_KO:-$APU_TOP/kernel/apu.ko}

[ -f "$MODDIR/modules.dep" ] || apu_die "no $MODDIR/modules.dep; run scripts/setup.sh (as root)"
[ -f "$APU_KO" ] || apu_die "$APU_KO is not built; run 'make module'"
# APU_BUSYBOX: a static busybox of the guest's architecture (arm64 guests).
BUSYBOX=${APU_BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || apu_die "$BUSYBOX missing; run scripts/setup.sh (as root)"
file -L "$BUSYBOX" | grep -q 'statically linked' || apu_die "$BUSYBOX is not static; install busybox-static"

rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,dev,proc,sys,tmp,usr/bin,usr/lib,lib/modules,lib/firmware,tests}
cp "$BUSYBOX" "$ROOT/bin/busybox"
install -m 0755 "$APU_TOP/tests/vm/init" "$ROOT/init"

# Kernel modules: the ones apu.ko depends on (its modinfo "depends"), and
# everything they need, dependencies first (modules.dep lists a module's
# dependencies after it, deepest last).
[ -f "$APU_KO" ] || apu_die "$APU_KO is not built; run make"
WANT=
for d in $("$(command -v modinfo || echo /usr/sbin/modinfo)" -F depends "$APU_KO" | tr ',' ' '); do
	path=$(awk -F: -v n="$d" '{ b = $1; sub(/.*\//, "", b); sub(/\.ko(\.xz)?$/, "", b);
		gsub(/-/, "_", b); m = n; gsub(/-/, "_", m); if (b == m) { print $1; exit } }' \
		"$MODDIR/modules.dep")
	[ -n "$path" ] || apu_die "apu.ko needs module $d, which kernel $KVER does not have"
	WANT="$WANT $path"
done
declare -A seen=()
order=()
add_mod() {
	local m=$1 deps d
	[ -n "${seen[$m]:-}" ] && return 0
	seen[$m]=1
	deps=$(awk -v m="$m:" '$1 == m { $1 = ""; print }' "$MODDIR/modules.dep")
	for d in $deps; do
		add_mod "$d"
	done
	order+=("$m")
}
for m in $WANT; do
	grep -q "^$m:" "$MODDIR/modules.dep" || apu_die "$m is not in $MODDIR (kernel $KVER)"
	add_mod "$m"
done
: >"$ROOT/lib/modules/load-order"
for m in "${order[@]}"; do
	base=$(basename "$m" .xz)
	case "$m" in
	*.xz) xz -dc "$MODDIR/$m" >"$ROOT/lib/modules/$base" ;;
	*) cp "$MODDIR/$m" "$ROOT/lib/modules/$base" ;;
	esac
	echo "$base" >>"$ROOT/lib/modules/load-order"
done
cp "$APU_KO" "$ROOT/lib/modules/apu.ko"

# The benchmarks' peer: the NVMe driver, loaded only in bench mode.
: >"$ROOT/lib/modules/bench-order"
for m in kernel/drivers/nvme/host/nvme-core.ko.xz kernel/drivers/nvme/host/nvme.ko.xz; do
	[ -f "$MODDIR/$m" ] || continue
	# modules.dep lists the deepest dependency last: load in reverse.
	for d in $(awk -v m="$m:" '$1 == m { for (i = NF; i > 1; i--) print $i }' "$MODDIR/modules.dep") "$m"; do
		base=$(basename "$d" .xz)
		[ -f "$ROOT/lib/modules/$base" ] && continue
		xz -dc "$MODDIR/$d" >"$ROOT/lib/modules/$base"
		echo "$base" >>"$ROOT/lib/modules/bench-order"
	done
done
# scripts/vm.sh run: 9p over virtio (the host's files), loaded only in run mode.
: >"$ROOT/lib/modules/run-order"
for m in kernel/net/9p/9pnet_virtio.ko.xz kernel/fs/9p/9p.ko.xz; do
	[ -f "$MODDIR/$m" ] || continue
	for d in $(awk -v m="$m:" '$1 == m { for (i = NF; i > 1; i--) print $i }' "$MODDIR/modules.dep") "$m"; do
		base=$(basename "$d" .xz)
		[ -f "$ROOT/lib/modules/$base" ] && continue
		xz -dc "$MODDIR/$d" >"$ROOT/lib/modules/$base"
		echo "$base" >>"$ROOT/lib/modules/run-order"
	done
done
mkdir -p "$ROOT/bench"
for f in "$APU_BUILD"/bench/guest/*; do
	[ -f "$f" ] && cp "$f" "$ROOT/bench/"
done

# Our programs and libraries.
cp -a "$APU_BUILD"/lib/libapu.so* "$ROOT/usr/lib/"
# Real models and photos (make models), and the generated test models.
mkdir -p "$ROOT/models/gen"
for f in "$APU_BUILD"/models/*.tflite "$APU_BUILD"/models/*.bmp "$APU_BUILD"/models/*.txt; do
	[ -f "$f" ] && cp "$f" "$ROOT/models/"
done
for f in "$APU_BUILD"/tests/models/*.tflite; do
	[ -f "$f" ] && cp "$f" "$ROOT/models/gen/"
done
for f in "$APU_BUILD"/bin/*; do
	[ -f "$f" ] && cp "$f" "$ROOT/usr/bin/"
done
for f in "$APU_BUILD"/tests/guest/*; do
	[ -f "$f" ] && cp "$f" "$ROOT/tests/"
done
# APU_DEBUG_TESTS=1: also the tests that need the debug kernel.
if [ "${APU_DEBUG_TESTS:-0}" = 1 ]; then
	for f in "$APU_BUILD"/tests/guest-debug/*; do
		[ -f "$f" ] && cp "$f" "$ROOT/tests/"
	done
fi

# Shared libraries, at the paths the host resolves them to.
for f in "$ROOT"/usr/bin/* "$ROOT"/tests/*; do
	# Static programs (the arm64 guest's) have none: ldd fails on them.
	{ LD_LIBRARY_PATH="$APU_BUILD/lib" ldd "$f" 2>/dev/null || true; } | awk '
		/=> \// { print $3 } /^\t\// { print $1 }'
done | sort -u | while read -r lib; do
	case "$lib" in "$APU_BUILD"/*) continue ;; esac
	mkdir -p "$ROOT$(dirname "$lib")"
	cp -L "$lib" "$ROOT$lib"
done
if [ -e /lib64/ld-linux-x86-64.so.2 ]; then
	mkdir -p "$ROOT/lib64"
	cp -L /lib64/ld-linux-x86-64.so.2 "$ROOT/lib64/"
fi
# Firmware, once the device needs it.
if [ -d "$APU_BUILD/firmware" ]; then
	cp -a "$APU_BUILD/firmware/." "$ROOT/lib/firmware/"
fi

pack() { # root output
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 >"$2.tmp"
	mv "$2.tmp" "$2"
}
pack "$ROOT" "$OUT/$NAME.cpio.gz"

# The initramfs of scripts/vm.sh run ($NAME-run.cpio.gz): only what /init
# needs to load the driver and mount the host's files (the command and its
# libraries come from the host), so that it boots faster. The modules'
# signatures are cut off: checking them takes about 0.4 s of the boot under
# TCG, and the unsigned apu.ko taints the kernel the same way anyway.
unsign() { # module: prints it without its appended signature
	local f=$1 size len
	size=$(stat -c %s "$f")
	if [ "$size" -gt 40 ] && tail -c 28 "$f" | cmp -s - <(echo "~Module signature appended~"); then
		# struct module_signature (12 bytes, sig_len last, big-endian) precedes the marker.
		len=$(tail -c 32 "$f" | head -c 4 | od -An -tu4 --endian=big | tr -d ' ')
		head -c $((size - 40 - len)) "$f"
	else
		cat "$f"
	fi
}
RUNROOT="$OUT/$NAME-run.root"
rm -rf "$RUNROOT"
mkdir -p "$RUNROOT"/{bin,dev,proc,sys,tmp,lib/modules}
cp "$ROOT/bin/busybox" "$RUNROOT/bin/"
cp "$ROOT/init" "$RUNROOT/init"
cp -a "$ROOT/lib/firmware" "$RUNROOT/lib/"
for m in $(cat "$ROOT/lib/modules/load-order" "$ROOT/lib/modules/run-order") apu.ko; do
	unsign "$ROOT/lib/modules/$m" >"$RUNROOT/lib/modules/$m"
done
cp "$ROOT/lib/modules/load-order" "$ROOT/lib/modules/run-order" "$RUNROOT/lib/modules/"
: >"$RUNROOT/lib/modules/bench-order"
pack "$RUNROOT" "$OUT/$NAME-run.cpio.gz"
