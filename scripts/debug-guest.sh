#!/usr/bin/env bash
# The guest suite under the debug kernel (issue 7): Linux $DEBUG_KERNEL_SERIES
# built by scripts/build-debug-kernel.sh with KASAN, lockdep, kmemleak,
# DEBUG_ATOMIC_SLEEP, DMA_API_DEBUG, debug objects and fault injection.
#
#   1. build (or update) the debug kernel; install its modules in the cache
#   2. build apu.ko against it, in a copy of kernel/ under $APU_BUILD/kernel-debug
#      (the same sources build for 6.12 and 7.x)
#   3. an initramfs with that module and the same guest tests
#   4. scripts/vm.sh check with that kernel, kmemleak scans in the guest, and
#      any KASAN, lockdep, DMA-API, kmemleak or WARN report failing the run
#
#   5. the module's line coverage (CONFIG_GCOV_KERNEL, apu.ko built with
#      APU_GCOV=1): the guest sends its counters on the console after rmmod,
#      scripts/coverage.py reads them with gcov; informational, it does not
#      change the verdict
#
# APU_TESTS narrows the tests as for vm.sh. Results: $APU_BUILD/vm/check-debug.result,
# the console log $APU_BUILD/vm/check-debug.log, and the coverage in
# $APU_BUILD/coverage/summary.txt (first line: "apu.ko line coverage
# ($APU_COVERAGE_LABEL): NN.N% (X of Y lines)"; per file, per function and
# the annotated sources beside it).
set -euo pipefail
. "$(dirname "$0")/common.sh"

D="$APU_CACHE/linux-debug"
# No coverage from an earlier run is left to be taken for this one's.
rm -rf "$APU_BUILD/coverage"
KB=$("$APU_TOP/scripts/build-debug-kernel.sh" | tail -n 1)
KREL=$(cat "$KB/include/config/kernel.release")
MODROOT="$D/modroot"
if [ ! -f "$MODROOT/lib/modules/$KREL/modules.dep" ] ||
	[ "$KB/arch/x86/boot/bzImage" -nt "$MODROOT/lib/modules/$KREL/modules.dep" ]; then
	rm -rf "$MODROOT"
	make -s -C "$D/src" O="$KB" INSTALL_MOD_PATH="$MODROOT" modules_install >/dev/null
fi

# The same sources, built in a copy: kernel/ holds the 6.12 build's outputs.
# include/ and uapi/ are reached through links, as ../include from kernel/.
apu_log "building apu.ko for $KREL"
KM="$APU_BUILD/kernel-debug"
apu_copy_module_sources "$KM"
make -s -C "$KB" M="$KM/kernel" APU_GCOV=1 modules

# APU_QEMU (scripts/vm.sh): a QEMU built elsewhere; none is built here then.
# APU_PREBUILT=1: the caller built them (make check, which runs this beside
# other builds of the same tree).
targets=(hal tools guest-tests guest-debug-tests firmware)
[ -n "${APU_QEMU:-}" ] || targets+=(qemu)
[ "${APU_PREBUILT:-0}" = 1 ] || make --no-print-directory -s -C "$APU_TOP" "${targets[@]}"
APU_DEBUG_TESTS=1 KVER=$KREL APU_MODDIR="$MODROOT/lib/modules/$KREL" APU_KO="$KM/kernel/apu.ko" \
	APU_INITRD_NAME=initramfs-debug "$APU_TOP/scripts/mkinitramfs.sh"

# KASAN and lockdep make the guest several times slower.
rc=0
rm -f "$APU_BUILD/vm/check-debug.log"
KVER=$KREL APU_KERNEL="$KB/arch/x86/boot/bzImage" \
	APU_INITRD="$APU_BUILD/vm/initramfs-debug.cpio.gz" APU_VM_NAME=debug APU_VM_DEBUG=1 \
	APU_VM_TIMEOUT=${APU_VM_TIMEOUT:-1500} "$APU_TOP/scripts/vm.sh" check || rc=$?

label=${APU_COVERAGE_LABEL:-${APU_TESTS:+tests: $APU_TESTS}}
"$APU_TOP/scripts/coverage.py" --log "$APU_BUILD/vm/check-debug.log" --objdir "$KM/kernel" \
	--top "$APU_TOP" --label "${label:-whole suite}" --out "$APU_BUILD/coverage" >&2 || true
exit $rc
