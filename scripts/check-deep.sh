#!/usr/bin/env bash
# make check-deep: the long reliability runs of docs/reliability.md, after
# everything make check runs. Each step passes or fails as a whole; the
# figures (calls, executions, faults injected) go to
# $APU_BUILD/check-deep/figures.txt. Ends with "N passed, N failed".
#
#   1. make check (every tier)
#   2. the whole guest suite under the debug kernel (scripts/debug-guest.sh):
#      KASAN, lockdep, kmemleak, DMA-API debugging, the allocation-failure
#      campaign; any report fails it
#   3. the guest fuzzers, long: APU_DEEP_CALLS ioctl calls per process (4
#      processes; 1 000 000 in all by default), APU_DEEP_JOBS mutated
#      command buffers (100 000), and the race fuzzer with APU_DEEP_RACE_OPS
#      actions per thread (2 processes x 2 files x 3 threads)
#   4. the device model under libFuzzer (QEMU's generic-fuzz, ASan + UBSan,
#      threads=off), APU_DEEP_QEMU_RUNS executions
#   5. the HAL's libFuzzer targets, APU_DEEP_HAL_RUNS executions each
#   6. the device's command processor and engine under libFuzzer
#      (tests/fuzz/fuzz_cp.c, structure-aware), APU_DEEP_CP_RUNS executions
#   7. the Debian packages installed, used and purged in a clean bookworm
#      chroot (tests/packaging/chroot_test.sh)
#   8. the guest suite on arm64 (make check-arm64)
#   9. the device model with core threads (threads=on) racing resets,
#      bus mastering and hot-unplug: the qtest
#      /apu/jobs/threads-race-resets-unplug, APU_DEEP_QEMU_RACE_ITERS
#      iterations (40), and its relatives, under ThreadSanitizer
#      (scripts/build-qemu.sh tsan) and under ASan + UBSan (... asan); any
#      sanitizer report fails it
#
# Corpora are kept in $APU_CACHE/fuzz-corpus, so each run goes further.
set -uo pipefail
. "$(dirname "$0")/common.sh"
cd "$APU_TOP"

CALLS=${APU_DEEP_CALLS:-250000}
JOBS=${APU_DEEP_JOBS:-100000}
RACE_OPS=${APU_DEEP_RACE_OPS:-5000}
QEMU_RUNS=${APU_DEEP_QEMU_RUNS:-50000}
HAL_RUNS=${APU_DEEP_HAL_RUNS:-300000}
CP_RUNS=${APU_DEEP_CP_RUNS:-200000}
QEMU_RACE_ITERS=${APU_DEEP_QEMU_RACE_ITERS:-40}
SEED=${APU_DEEP_SEED:-$(date +%s)}
OUT="$APU_BUILD/check-deep"
CORPUS="$APU_CACHE/fuzz-corpus"
mkdir -p "$OUT" "$CORPUS"
: >"$OUT/figures.txt"
PASS=0
FAIL=0
fig() { echo "$*" | tee -a "$OUT/figures.txt"; }
step() { # name command...
	local name=$1
	shift
	echo
	echo "=== $name"
	if "$@"; then
		echo "ok     $name"
		PASS=$((PASS + 1))
	else
		echo "FAIL   $name"
		FAIL=$((FAIL + 1))
	fi
}

check_all() {
	scripts/check.sh | tee "$OUT/check.log"
	tail -n 1 "$OUT/check.log" | grep -q ' 0 failed'
}

debug_suite() {
	APU_COVERAGE_LABEL="whole suite, debug kernel" scripts/debug-guest.sh >"$OUT/debug.log" 2>&1
	local rc=$?
	# apu.ko's line coverage (informational): the figure, and the per-file and
	# per-function report kept beside the figures.
	cp "$APU_BUILD/coverage/summary.txt" "$OUT/coverage.txt" 2>/dev/null
	fig "$(head -n 1 "$OUT/coverage.txt" 2>/dev/null ||
		echo "apu.ko line coverage (whole suite, debug kernel): unavailable")"
	grep -E 'APU-GUEST: (exit|kmemleak)|allocation failures injected|vm.sh: FAIL' "$OUT/debug.log"
	grep -h 'allocation failures injected' "$OUT/debug.log" | sed 's/.*# /debug kernel: /' >>"$OUT/figures.txt"
	[ -f "$APU_BUILD/vm/check-debug.result" ] &&
		fig "debug kernel guest suite: $(tr '\n' ' ' <"$APU_BUILD/vm/check-debug.result")"
	return $rc
}

guest_fuzz() {
	APU_TESTS="fuzz_test race_fuzz_test" APU_VM_NAME=fuzz-long APU_VM_TIMEOUT=5400 \
		APU_VM_ENV="APU_FUZZ_SEED=$SEED APU_FUZZ_CALLS=$CALLS APU_FUZZ_JOBS=$JOBS APU_FUZZ_RACE_OPS=$RACE_OPS" \
		scripts/vm.sh check >"$OUT/guest-fuzz.log" 2>&1
	local rc=$?
	grep -a -E 'guest\| (ok|not ok) |calls in|mutated jobs|race fuzzer|vm.sh: FAIL' "$OUT/guest-fuzz.log"
	fig "guest fuzzers (seed $SEED): $((4 * CALLS)) ioctl calls, $JOBS mutated command buffers, exit $rc"
	grep -a -o 'race fuzzer, seed.*' "$OUT/guest-fuzz.log" | head -n 1 | sed 's/^/guest /' >>"$OUT/figures.txt"
	return $rc
}

qemu_fuzz() {
	local bin="$APU_CACHE/qemu/build-fuzz/qemu-fuzz-x86_64"
	scripts/build-qemu.sh fuzz || return 1
	mkdir -p "$CORPUS/qemu-apu"
	(cd "$OUT" && QEMU_FUZZ_ARGS="-machine q35 -nic none -vga none -device apu,threads=off" \
		QEMU_FUZZ_OBJECTS="apu*" \
		"$bin" --fuzz-target=generic-fuzz -runs="$QEMU_RUNS" -max_len=4096 \
		-timeout=30 -rss_limit_mb=4096 "$CORPUS/qemu-apu") >"$OUT/qemu-fuzz.log" 2>&1
	local rc=$?
	grep -E '^#[0-9]+ +DONE|^Done|ERROR|SUMMARY|Test unit written' "$OUT/qemu-fuzz.log" | tail -n 5
	fig "QEMU device (generic-fuzz, ASan+UBSan): $(grep -E '^Done' "$OUT/qemu-fuzz.log" | tail -n 1), exit $rc"
	return $rc
}

hal_fuzz() {
	local t rc=0 r
	make --no-print-directory -s fuzz || return 1
	for t in "$APU_BUILD"/fuzz/fuzz_*; do
		[ "${t##*/}" = fuzz_cp ] && continue	# the device's: cp_fuzz
		# Inputs that once failed (tests/fuzz/regress/<target>/) first.
		if [ -d "tests/fuzz/regress/${t##*/}" ]; then
			"$t" tests/fuzz/regress/"${t##*/}"/* >"$OUT/${t##*/}-regress.log" 2>&1 || {
				tail -n 20 "$OUT/${t##*/}-regress.log"
				rc=1
			}
		fi
		mkdir -p "$CORPUS/${t##*/}"
		local len=4096
		if [ "${t##*/}" = fuzz_tflite ]; then
			# Seeds: the generated models and the small real one.
			cp "$APU_BUILD"/tests/models/*.tflite \
				"$APU_BUILD"/models/mobilenet_v1_0.25_128_quant.tflite "$CORPUS/${t##*/}/"
			len=600000
		fi
		(cd "$OUT" && "$t" -runs="$HAL_RUNS" -max_len=$len -timeout=30 -rss_limit_mb=4096 \
			"$CORPUS/${t##*/}") \
			>"$OUT/${t##*/}.log" 2>&1
		r=$?
		grep -E '^Done|ERROR|SUMMARY' "$OUT/${t##*/}.log" | tail -n 3
		fig "HAL ${t##*/}: $(grep -E '^Done' "$OUT/${t##*/}.log" | tail -n 1), exit $r"
		[ "$r" = 0 ] || rc=1
	done
	return $rc
}

cp_fuzz() {
	local t="$APU_BUILD/fuzz/fuzz_cp" c="$CORPUS/fuzz_cp" k rc
	make --no-print-directory -s "$t" || return 1
	# Inputs that once failed first.
	"$t" tests/fuzz/regress/fuzz_cp/* >"$OUT/fuzz_cp-regress.log" 2>&1 || {
		tail -n 20 "$OUT/fuzz_cp-regress.log"
		return 1
	}
	# Seeds: one op of each kind, and four ops (bytes past the end read 0).
	mkdir -p "$c"
	for k in 0 1 2 3 4 5; do
		printf "\\x00\\x00\\x00\\x00\\x0$k" >"$c/seed-op$k"
		printf "\\x03\\x00\\x00\\x00\\x0$k" >"$c/seed-4ops-$k"
	done
	(cd "$OUT" && "$t" -runs="$CP_RUNS" -max_len=512 -timeout=30 -rss_limit_mb=4096 "$c") \
		>"$OUT/fuzz_cp.log" 2>&1
	rc=$?
	grep -E '^Done|ERROR|SUMMARY|invariant broken' "$OUT/fuzz_cp.log" | tail -n 3
	fig "device command processor fuzz_cp (ASan+UBSan): $(grep -E '^Done' "$OUT/fuzz_cp.log" | tail -n 1), exit $rc"
	fig "$(grep -E '^fuzz_cp: [0-9]+ execs' "$OUT/fuzz_cp.log" | tail -n 1)"
	fig "$(grep -E '^fuzz_cp: statuses' "$OUT/fuzz_cp.log" | tail -n 1)"
	return $rc
}

arm64_suite() {
	scripts/setup-arm64.sh && scripts/arm64-guest.sh >"$OUT/arm64.log" 2>&1
	local rc=$?
	grep -E 'APU-GUEST: exit|vm.sh: FAIL' "$OUT/arm64.log"
	[ -f "$APU_BUILD/vm/check-arm64.result" ] &&
		fig "arm64 guest suite (virt, TCG): $(tr '\n' ' ' <"$APU_BUILD/vm/check-arm64.result")"
	return $rc
}

# The device's core threads racing resets and unplug, under a sanitizer
# ($1: tsan or asan): the race qtest, long, and the qtests of jobs racing
# resets and the memory map (qos-test's apu graph tests on x86_64/pc). QEMU
# and qos-test are both instrumented; a
# report makes QEMU exit non-zero (the qtest then fails) or is counted in
# the log. TSan's runtime suppressions: qemu/tsan.supp (QEMU's own, and
# known false positives in QEMU's core, each with its reason);
# die_after_fork=0 since qos-test, instrumented too, forks QEMU and
# libqemuutil's RCU atfork handler starts a thread in the child before it
# execs.
qemu_race_san() {
	local mode=$1 name bld="$APU_CACHE/qemu/build-$1" log="$OUT/qemu-race-$1.log"
	local tests=(threads-race-resets-unplug reset-while-busy reset-long-op dma-bar-race
		all-cores-at-once)
	local t args=() rc reports ok depth prefix
	name=$([ "$mode" = tsan ] && echo TSan || echo ASan+UBSan)
	scripts/build-qemu.sh "$mode" || return 1
	prefix=$(cd "$bld" && QTEST_QEMU_BINARY=./qemu-system-x86_64 \
		tests/qtest/qos-test -l 2>/dev/null | grep -m 1 '/pci-bus/apu/apu-tests/' |
		sed 's|\(/pci-bus/apu/apu-tests\)/.*|\1|')
	[ -n "$prefix" ] || return 1
	for t in "${tests[@]}"; do
		args+=(-p "$prefix/jobs/$t")
	done
	(cd "$bld" && QTEST_QEMU_BINARY=./qemu-system-x86_64 \
		APU_QTEST_RACE_ITERS="$QEMU_RACE_ITERS" APU_QTEST_RACE_SEED="$SEED" \
		TSAN_OPTIONS="suppressions=$APU_TOP/qemu/tsan.supp history_size=7 second_deadlock_stack=1 exitcode=66 die_after_fork=0" \
		ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
		UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
		timeout 3600 tests/qtest/qos-test --tap "${args[@]}") >"$log" 2>&1
	rc=$?
	grep -E '^(ok|not ok) |^Bail out|^# (seed|iteration)|WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" |
		grep -v '^# iteration [0-9]*[1-9]:' | head -n 40
	reports=$(grep -c -E 'WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer|runtime error:' "$log")
	ok=$(grep -c '^ok ' "$log")
	# "# iteration N: A doorbells, B core resets, C device resets (D busy
	# cores reset), E bus-master flips, F mode changes; unplug with G ..."
	depth=$(awk '/^# iteration [0-9]+:/ { n++; db += $4; cr += $6; dr += $9; br += substr($12, 2);
		bm += $16; if ($0 ~ /unplug with/) up++ }
		END { printf "%d iterations: %d doorbells, %d core resets, %d device resets (%d busy cores reset), %d bus-master flips, %d hot-unplugs", n, db, cr, dr, br, bm, up }' "$log")
	fig "device model with core threads racing resets and unplug, $name (seed $SEED): $depth; $ok of ${#tests[@]} qtests ok, $reports sanitizer reports, exit $rc"
	[ "$rc" = 0 ] && [ "$reports" = 0 ]
}

chroot_install() {
	tests/packaging/chroot_test.sh >"$OUT/chroot.log" 2>&1
	local rc=$?
	tail -n 3 "$OUT/chroot.log"
	return $rc
}

step "make check" check_all
step "guest suite under the debug kernel" debug_suite
step "guest fuzzers, long run" guest_fuzz
step "QEMU device under libFuzzer" qemu_fuzz
step "HAL libFuzzer targets" hal_fuzz
step "device command processor under libFuzzer" cp_fuzz
step "Debian packages installed in a clean chroot" chroot_install
step "the guest suite on arm64 (QEMU virt)" arm64_suite
step "device model with core threads racing resets and unplug, TSan" qemu_race_san tsan
step "device model with core threads racing resets and unplug, ASan+UBSan" qemu_race_san asan

echo
echo "=== figures ($OUT/figures.txt)"
cat "$OUT/figures.txt"
echo
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
