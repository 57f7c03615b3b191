#!/usr/bin/env bash
# make check: build and run every test tier, then print one line
#   N passed, N failed
# Tiers:
#   static  checkpatch --strict and sparse on the driver, UAPI and shared
#           headers; QEMU's checkpatch on the device and its qtest;
#           cppcheck and clang-tidy on the HAL, tools and example; the
#           device-tree binding under dt-schema
#   host    unit tests of libapu (ASan + UBSan), no device
#   qtest   the QEMU device through libqtest, no guest OS: the apu's libqos
#           graph tests in qos-test on x86_64 (pc), and on aarch64 (virt)
#           when that QEMU build is there
#   guest   kselftest-harness tests in a VM: Debian's kernel, apu.ko, the
#           emulated APU (scripts/vm.sh); job_test (and recovery_test) again on two other core
#           layouts (one core; eight with a shared interrupt); a host program run in the VM
#           (scripts/vm.sh run, tests/vm/run_test.sh)
#   debug   the core guest tests under the debug kernel (scripts/debug-guest.sh);
#           it runs in the background from the start, once everything is built
# A tier that cannot be built or run counts as a failure, never as a skip.
set -uo pipefail
. "$(dirname "$0")/common.sh"
cd "$APU_TOP"

PASS=0
FAIL=0
declare -a SUMMARY=()
LOGDIR="$APU_BUILD/check"
mkdir -p "$LOGDIR"

tier() { echo; echo "=== $1 ==="; }
SKIP=0
count() { # tier pass fail [skipped]
	local s=${4:-0}

	PASS=$((PASS + $2))
	FAIL=$((FAIL + $3))
	SKIP=$((SKIP + s))
	if [ "$s" -gt 0 ]; then
		SUMMARY+=("$(printf '%-7s %4d passed, %d failed, %d skipped' "$1" "$2" "$3" "$s")")
	else
		SUMMARY+=("$(printf '%-7s %4d passed, %d failed' "$1" "$2" "$3")")
	fi
}
# One check that passes or fails as a whole.
one() { # tier description command...
	local t=$1 d=$2
	shift 2
	if "$@" >"$LOGDIR/one.log" 2>&1; then
		echo "ok     $d"
		return 0
	fi
	echo "FAIL   $d"
	sed 's/^/       /' "$LOGDIR/one.log" | head -n 40
	return 1
}
# Builds use every core (APU_JOBS to change).
JOBS=${APU_JOBS:-$(nproc)}
mk() { make --no-print-directory -j"$JOBS" "$@"; }

# ---------------------------------------------------------------- build
# Everything the tiers need, in one parallel make; each tier still makes its
# own targets (nothing left to do then) and reports its own build failure.
# With the build done, the debug tier (a VM under the debug kernel, the
# longest tier, about one core) runs in the background beside the others;
# its results are read at the end. Without it (a build failure), it runs last.
echo "building (log: $LOGDIR/build.log)"
BUILT=0
if mk sources qemu hal host-tests tools armnn-backend models "$APU_BUILD/fuzz/fuzz_tflite" \
	module firmware guest-tests guest-debug-tests initramfs >"$LOGDIR/build.log" 2>&1; then
	BUILT=1
else
	echo "the build failed (the tiers below report what it stops); last lines:"
	tail -n 20 "$LOGDIR/build.log" | sed 's/^/       /'
fi
DEBUG_TESTS=${APU_DEBUG_TESTS:-"job_test uapi_neg_test recovery_test lifecycle_test faultinj_test bo_lifetime_test race_fuzz_test"}
[ "$DEBUG_TESTS" = all ] && DEBUG_TESTS=
debug_run() {
	rm -f "$APU_BUILD/vm/check-debug.result"
	APU_PREBUILT=$BUILT APU_TESTS="$DEBUG_TESTS" APU_COVERAGE_LABEL="debug tier" \
		scripts/debug-guest.sh >"$LOGDIR/debug.log" 2>&1
}
DEBUG_PID=
if [ "$BUILT" = 1 ] && [ "${APU_DEBUG_SERIAL:-0}" != 1 ]; then
	echo "debug tier started in the background (tests: ${DEBUG_TESTS:-all}; log: $LOGDIR/debug.log)"
	debug_run &
	DEBUG_PID=$!
fi

# ---------------------------------------------------------------- static
tier static
sp=0
sf=0
if mk sources >"$LOGDIR/static-build.log" 2>&1; then
	CHECKPATCH="$APU_CACHE/linux-extract/scripts/checkpatch.pl"
	for f in $(ls kernel/*.[ch] uapi/drm/*.h include/hw/*.h | grep -v "\.mod\.c$"); do
		if one static "checkpatch --strict $f" perl "$CHECKPATCH" --strict --no-tree --quiet -f "$f"; then
			sp=$((sp + 1)); else sf=$((sf + 1)); fi
	done
	# sparse on every file, and the compiler's and kernel-doc's W=1 warnings
	# (Kbuild checks the kernel-doc of .c files only: the headers too here).
	sparse_check() {
		local out
		command -v sparse >/dev/null || { echo "sparse is not installed; run scripts/setup.sh (as root)"; return 1; }
		out=$(make -s -C "$KDIR" M="$APU_TOP/kernel" C=2 W=1 modules 2>&1) || { echo "$out"; return 1; }
		out+=$(for h in kernel/*.h; do
			perl "$KDIR/scripts/kernel-doc" -none -Wall "$h" 2>&1
		done)
		out=$(grep -i -E 'warning|error' <<<"$out" || true)
		[ -z "$out" ] || { echo "$out"; return 1; }
	}
	KDIR=${KDIR:-/lib/modules/$(apu_kver)/build}
	if one static "sparse and W=1 kernel/" sparse_check; then
		sp=$((sp + 1)); else sf=$((sf + 1)); fi
else
	echo "FAIL   could not fetch the kernel checkers (see $LOGDIR/static-build.log)"
	sf=$((sf + 1))
fi
echo "building QEMU with the APU (first time: about 3 minutes; log: $LOGDIR/qemu-build.log)"
if mk qemu >"$LOGDIR/qemu-build.log" 2>&1; then
	for f in qemu/hw/misc/*.c tests/qtest/*.c tests/qtest/libqos/*.[ch] firmware-stub/*.c firmware-stub/include/hw/*.h; do
		if one static "QEMU checkpatch $f" perl "$APU_CACHE/qemu/src/scripts/checkpatch.pl" --no-tree -q -f "$f"; then
			sp=$((sp + 1)); else sf=$((sf + 1)); fi
	done
else
	echo "FAIL   QEMU did not build; its checkpatch is not available"
	sf=$((sf + 1))
fi
# The HAL, its tools and example: cppcheck (warnings, portability, performance).
cppcheck_hal() {
	command -v cppcheck >/dev/null || { echo "cppcheck is not installed; run scripts/setup.sh (as root)"; return 1; }
	cppcheck --enable=warning,portability,performance --std=c11 --inline-suppr \
		--error-exitcode=1 -q -Ihal/include -Ihal/src -Iuapi -Iinclude \
		hal/src hal/tools hal/examples
}
if one static "cppcheck hal/" cppcheck_hal; then sp=$((sp + 1)); else sf=$((sf + 1)); fi
# clang-tidy (checks in .clang-tidy: the static analyzer, bugprone, performance,
# portability; any finding fails).
clang_tidy_hal() {
	command -v clang-tidy >/dev/null || { echo "clang-tidy is not installed; run scripts/setup.sh (as root)"; return 1; }
	# shellcheck disable=SC2046
	clang-tidy -quiet hal/src/*.c hal/tools/*.c hal/examples/*.c -- -std=c11 -D_GNU_SOURCE \
		-Ihal/include -Ihal/src -Iuapi -Iinclude -Ifirmware-stub/include \
		$(pkg-config --cflags libdrm) 2>&1 | grep -v 'warnings generated' | grep -E -A4 'warning:|error:' &&
		return 1
	return 0
}
if one static "clang-tidy hal/" clang_tidy_hal; then sp=$((sp + 1)); else sf=$((sf + 1)); fi
# The device-tree binding, with dt-schema (good nodes accepted, bad refused).
if one static "dt-schema docs/devicetree/npu/apu-npu.yaml" tests/dt/dt_check.sh; then
	sp=$((sp + 1)); else sf=$((sf + 1)); fi
count static $sp $sf

# ---------------------------------------------------------------- host
tier host
hp=0
hf=0
hs=0
if mk hal host-tests >"$LOGDIR/host-build.log" 2>&1; then
	for t in "$APU_BUILD"/tests/host/*; do
		[ -x "$t" ] || continue
		"$t" >"$LOGDIR/host-$(basename "$t").log" 2>&1
		rc=$?
		grep -E '^(ok|not ok) ' "$LOGDIR/host-$(basename "$t").log"
		read -r p f s < <(sed -n 's/^# Totals: pass:\([0-9]*\) fail:\([0-9]*\).*skip:\([0-9]*\).*/\1 \2 \3/p' \
			"$LOGDIR/host-$(basename "$t").log")
		if [ -z "${p:-}" ]; then
			echo "FAIL   $(basename "$t") ended without a summary (exit $rc); see $LOGDIR/host-$(basename "$t").log"
			hf=$((hf + 1))
			continue
		fi
		hp=$((hp + p))
		hf=$((hf + f))
		hs=$((hs + s))
		grep -E '^#[[:space:]]+SKIP' "$LOGDIR/host-$(basename "$t").log" | sed 's/^/skipped: /'
		if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
			echo "FAIL   $(basename "$t") exited with $rc"
			hf=$((hf + 1))
		fi
		unset p f s
	done
else
	tail -n 20 "$LOGDIR/host-build.log"
	echo "FAIL   host tests did not build (log: $LOGDIR/host-build.log)"
	hf=$((hf + 1))
fi
# The tools and the guide's example under valgrind (CPU backend): no invalid
# access, no leak.
vg() {
	command -v valgrind >/dev/null || { echo "valgrind is not installed; run scripts/setup.sh (as root)"; return 1; }
	APU_BACKEND=cpu valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect "$@"
}
if mk tools >"$LOGDIR/tools-build.log" 2>&1; then
	for t in "apu-run --cpu --conv 20,20,8,16,3,1" "apu-run --cpu --conv 9,9,12,12,3,2,12 --policy low-power" "apu-example"; do
		# shellcheck disable=SC2086
		if one host "valgrind $t" vg "$APU_BUILD"/bin/$t; then hp=$((hp + 1)); else hf=$((hf + 1)); fi
	done
else
	echo "FAIL   tools did not build (log: $LOGDIR/tools-build.log)"
	hf=$((hf + 1))
fi
# make install / uninstall into a staging root, the DKMS source tree; the
# Debian packages (dpkg-buildpackage, lintian, payloads).
# A user's model: libapu against an independent framework (Arm NN's CpuRef).
if one host "Arm NN 20.08 and libapu: same top-1 on the real models, generated models within 3 steps" \
	tests/oracle/armnn_compare.sh "$APU_BUILD"; then
	hp=$((hp + 1)); else hf=$((hf + 1)); fi
sed 's/^/       /' "$LOGDIR/one.log" | grep -E 'largest difference' | head -n 6
# A framework links the HAL: Arm NN's TFLite parser and runtime with the
# ApuNpu backend (frameworks/armnn), libapu's CPU backend as the device;
# each check counts. Prepares build/armnn-test for the guest run.
armnn_count() { # log exit-status: prints its checks, counts them in AP and AF
	grep -E '^(ok|FAIL) ' "$1"
	AP=$(grep -c '^ok ' "$1")
	AF=$(grep -c '^FAIL ' "$1")
	if [ "$2" != 0 ] && [ "$AF" = 0 ]; then
		echo "FAIL   $(basename "$1"): exit $2 without a failed check"
		AF=1
	fi
	if [ "$AP" = 0 ]; then
		echo "FAIL   $(basename "$1"): no check passed"
		AF=$((AF + 1))
	fi
}
if mk armnn-backend models tools >"$LOGDIR/armnn-build.log" 2>&1; then
	tests/frameworks/armnn_test.sh host "$APU_BUILD" >"$LOGDIR/armnn-host.log" 2>&1
	armnn_count "$LOGDIR/armnn-host.log" $?
	hp=$((hp + AP))
	hf=$((hf + AF))
else
	tail -n 20 "$LOGDIR/armnn-build.log"
	echo "FAIL   the Arm NN backend did not build (log: $LOGDIR/armnn-build.log)"
	hf=$((hf + 1))
fi
if one host "valgrind apu-run --model mobilenet_v1_0.25_128_quant.tflite --image cat.bmp" \
	vg "$APU_BUILD"/bin/apu-run --cpu --model "$APU_BUILD"/models/mobilenet_v1_0.25_128_quant.tflite \
	--image "$APU_BUILD"/models/cat.bmp --labels "$APU_BUILD"/models/imagenet_labels.txt; then
	hp=$((hp + 1)); else hf=$((hf + 1)); fi
# The importer under libFuzzer, briefly (make check-deep runs it long).
fuzz_tflite_brief() {
	make --no-print-directory -s "$APU_BUILD/fuzz/fuzz_tflite" || return 1
	local c="$APU_BUILD/fuzz/tflite-corpus"
	mkdir -p "$c" && cp "$APU_BUILD"/tests/models/*.tflite "$c/" &&
		"$APU_BUILD/fuzz/fuzz_tflite" -runs=20000 -max_len=65536 -timeout=20 -seed=1 \
			-artifact_prefix="$APU_BUILD/fuzz/" "$c"
}
if one host "libFuzzer on the TFLite importer (20000 runs)" fuzz_tflite_brief; then
	hp=$((hp + 1)); else hf=$((hf + 1)); fi
if one host "make install/uninstall (DESTDIR, pkg-config, DKMS tree)" tests/install/install_test.sh; then
	hp=$((hp + 1)); else hf=$((hf + 1)); fi
if one host "Debian packages (dpkg-buildpackage, lintian, payloads)" tests/packaging/deb_test.sh; then
	hp=$((hp + 1)); else hf=$((hf + 1)); fi
count host $hp $hf $hs

# ---------------------------------------------------------------- qtest
tier qtest
qp=0
qf=0
qs=0
# The apu's qtests are libqos graph tests in QEMU's qos-test: run those
# under the apu node (".../pci-bus/apu/...", each named with -p: -p of a
# suite does not reach its sub-suites) and count each; once on x86_64 (the
# pc machine), and on aarch64 virt when the aarch64 build
# (scripts/build-qemu.sh aarch64, also made by make check-arm64) is there.
# run_qos ARCH BUILD-FOLDER LOG
run_qos() {
	local arch=$1 b=$2 log=$3 t rc s p f n=0 args=()
	for t in $(cd "$b" && QTEST_QEMU_BINARY=./qemu-system-$arch \
		tests/qtest/qos-test -l 2>/dev/null | grep '/pci-bus/apu/'); do
		args+=(-p "$t")
		n=$((n + 1))
	done
	if [ "$n" = 0 ]; then
		echo "FAIL   qos-test ($arch): no apu tests in its graph"
		qf=$((qf + 1))
		return
	fi
	(cd "$b" && QTEST_QEMU_BINARY=./qemu-system-$arch timeout 600 \
		tests/qtest/qos-test --tap "${args[@]}") >"$log" 2>&1
	rc=$?
	grep -E '^(ok|not ok) |^Bail out|ERROR' "$log" | sed "s|^|$arch: |"
	s=$(grep -c '^ok .*# SKIP' "$log")
	grep '^ok .*# SKIP' "$log" | sed "s/^/skipped: $arch: /"
	p=$(($(grep -c '^ok ' "$log") - s))
	f=$(grep -c '^not ok ' "$log")
	qs=$((qs + s))
	qp=$((qp + p))
	qf=$((qf + f))
	if [ "$rc" != 0 ] || [ "$((p + f + s))" != "$n" ]; then
		echo "FAIL   qos-test ($arch): exit $rc, $((p + f + s)) of $n tests reported (log: $log)"
		qf=$((qf + 1))
	fi
}
if mk qemu >"$LOGDIR/qemu-build.log" 2>&1; then
	run_qos x86_64 "$APU_CACHE/qemu/build" "$LOGDIR/qtest.log"
else
	tail -n 20 "$LOGDIR/qemu-build.log"
	echo "FAIL   QEMU did not build (log: $LOGDIR/qemu-build.log)"
	qf=$((qf + 1))
fi
if [ -x "$APU_CACHE/qemu/build-aarch64/qemu-system-aarch64" ]; then
	if scripts/build-qemu.sh aarch64 >"$LOGDIR/qemu-build-aarch64.log" 2>&1; then
		run_qos aarch64 "$APU_CACHE/qemu/build-aarch64" "$LOGDIR/qtest-aarch64.log"
	else
		tail -n 20 "$LOGDIR/qemu-build-aarch64.log"
		echo "FAIL   QEMU (aarch64) did not build (log: $LOGDIR/qemu-build-aarch64.log)"
		qf=$((qf + 1))
	fi
else
	echo "skipped: aarch64: the apu qos tests on virt (no aarch64 QEMU build; scripts/build-qemu.sh aarch64 makes one)"
	qs=$((qs + 1))
fi
count qtest $qp $qf $qs

# ---------------------------------------------------------------- guest
tier guest
gp=0
gf=0
gs=0
if mk module hal tools guest-tests initramfs qemu >"$LOGDIR/guest-build.log" 2>&1; then
	rm -f "$APU_BUILD/vm/check.result"
	# A hang catcher: the debug tier's VM runs beside this one.
	export APU_VM_TIMEOUT=${APU_VM_TIMEOUT:-1200}
	if [ -n "${V:-}" ]; then
		scripts/vm.sh check
	else
		scripts/vm.sh check | grep -E 'guest\| (ok|not ok) |guest\| APU-GUEST:|guest\| #  (FAIL|SKIP)'
	fi
	if [ -f "$APU_BUILD/vm/check.result" ]; then
		gp=$(awk '$1 == "pass" { print $2 }' "$APU_BUILD/vm/check.result")
		gf=$(awk '$1 == "fail" { print $2 }' "$APU_BUILD/vm/check.result")
		gs=$(awk '$1 == "skip" { print $2 }' "$APU_BUILD/vm/check.result")
		grep -E '^#[[:space:]]+SKIP' "$APU_BUILD/vm/check.log" | sed 's/^/skipped: /' 
	else
		gf=1
	fi
	# Other core layouts of the device (docs/hw.md): job_test and
	# recovery_test on one core, job_test on eight cores with one shared
	# interrupt; a short boot each.
	for layout in "0,1,0 0 job_test recovery_test" "3,3,2 1 job_test"; do
		read -r cores shared tests <<<"$layout"
		IFS=, read -r nb nl nt <<<"$cores"
		name=layout-$nb-$nl-$nt-$shared
		opts=",big-cores=$nb,little-cores=$nl,tiny-cores=$nt"
		[ "$shared" = 1 ] && opts="$opts,shared-irq=on"
		rm -f "$APU_BUILD/vm/check-$name.result"
		APU_VM_NAME=$name APU_TESTS="$tests" APU_DEVICE_OPTS="$opts" \
			APU_VM_ENV="APU_EXPECT_CORES=$cores APU_EXPECT_SHARED_IRQ=$shared" \
			scripts/vm.sh check >"$LOGDIR/guest-$name.log" 2>&1
		r="$APU_BUILD/vm/check-$name.result"
		if [ -f "$r" ]; then
			p=$(awk '$1 == "pass" { print $2 }' "$r")
			f=$(awk '$1 == "fail" { print $2 }' "$r")
			s=$(awk '$1 == "skip" { print $2 }' "$r")
			grep -E 'guest\| (not ok) |guest\| #  FAIL' "$LOGDIR/guest-$name.log"
			# Why a test skipped on this layout (a skip is not a pass).
			grep -a -o 'guest| ok .* # SKIP .*' "$LOGDIR/guest-$name.log" |
				sed "s/^guest| ok [0-9]* /skipped: ($name) /"
			echo "$name (-device apu$opts): ${p:-0} passed, ${f:-0} failed, ${s:-0} skipped (log: $LOGDIR/guest-$name.log)"
			gp=$((gp + ${p:-0}))
			gf=$((gf + ${f:-0}))
			gs=$((gs + ${s:-0}))
		else
			echo "FAIL   $name: no result (log: $LOGDIR/guest-$name.log)"
			gf=$((gf + 1))
		fi
	done
	unset p f s
	# scripts/vm.sh run: another project's test program in the guest, as a
	# CI job runs it (docs/ci.md); three boots.
	tests/vm/run_test.sh >"$LOGDIR/run-test.log" 2>&1
	rc=$?
	grep -E '^(ok|not ok) |^# boot to command' "$LOGDIR/run-test.log"
	read -r p f s < <(sed -n 's/^# Totals: pass:\([0-9]*\) fail:\([0-9]*\) skip:\([0-9]*\)$/\1 \2 \3/p' \
		"$LOGDIR/run-test.log")
	if [ -z "${p:-}" ]; then
		echo "FAIL   tests/vm/run_test.sh ended without a summary (exit $rc; log: $LOGDIR/run-test.log)"
		p=0 f=1 s=0
	elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL   tests/vm/run_test.sh exited with $rc (log: $LOGDIR/run-test.log)"
		f=1
	fi
	gp=$((${gp:-0} + p))
	gf=$((${gf:-0} + f))
	gs=$((${gs:-0} + s))
	unset p f s
	# The Arm NN backend on the APU through the real driver (the host tier
	# prepared build/armnn-test); each check counts.
	APU_VM_TIMEOUT=900 scripts/vm.sh run -- tests/frameworks/armnn_test.sh guest "$APU_BUILD" \
		>"$LOGDIR/armnn-guest.log" 2>&1
	armnn_count "$LOGDIR/armnn-guest.log" $?
	gp=$((gp + AP))
	gf=$((gf + AF))
else
	tail -n 20 "$LOGDIR/guest-build.log"
	echo "FAIL   the guest side did not build (log: $LOGDIR/guest-build.log)"
	gf=1
fi
count guest "$gp" "$gf" "${gs:-0}"

# ---------------------------------------------------------------- debug
# The core guest tests under the debug kernel (Linux $DEBUG_KERNEL_SERIES with
# KASAN, lockdep, kmemleak, DMA-API debugging and fault injection; built and
# cached by scripts/build-debug-kernel.sh, about 10 minutes the first time).
# Any kernel report fails the tier. make check-deep runs the whole suite;
# APU_DEBUG_TESTS=all does here too.
tier debug
dp=0
df=0
ds=0
if [ -n "$DEBUG_PID" ]; then
	echo "waiting for the debug tier started at the beginning"
	wait "$DEBUG_PID"
else
	echo "building the debug kernel if needed, then booting it (tests: ${DEBUG_TESTS:-all})"
	debug_run
fi
grep -E 'guest\| (ok|not ok) |guest\| APU-GUEST:|guest\| #  (FAIL|SKIP)|allocation failures injected|vm.sh: FAIL|ERROR' "$LOGDIR/debug.log"
if [ -f "$APU_BUILD/vm/check-debug.result" ]; then
	dp=$(awk '$1 == "pass" { print $2 }' "$APU_BUILD/vm/check-debug.result")
	df=$(awk '$1 == "fail" { print $2 }' "$APU_BUILD/vm/check-debug.result")
	ds=$(awk '$1 == "skip" { print $2 }' "$APU_BUILD/vm/check-debug.result")
else
	tail -n 20 "$LOGDIR/debug.log"
	echo "FAIL   the debug-kernel run did not complete (log: $LOGDIR/debug.log)"
	df=1
fi
count debug "$dp" "$df" "${ds:-0}"
# apu.ko's line coverage in that run (informational; per file and function in
# $APU_BUILD/coverage/summary.txt, docs/reliability.md "Coverage").
head -n 1 "$APU_BUILD/coverage/summary.txt" 2>/dev/null ||
	echo "apu.ko line coverage (debug tier): unavailable (no $APU_BUILD/coverage/summary.txt)"

echo
echo "=== summary ==="
printf '%s\n' "${SUMMARY[@]}"
if [ "$SKIP" -gt 0 ]; then
	echo "($SKIP skipped: the tests' reasons are listed above as 'skipped:')"
	echo "$PASS passed, $FAIL failed, $SKIP skipped"
else
	echo "$PASS passed, $FAIL failed"
fi
[ "$FAIL" = 0 ]
