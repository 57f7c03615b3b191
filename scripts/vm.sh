#!/usr/bin/env bash
# Boot Debian's kernel with the emulated APU and run the guest side.
#
#   scripts/vm.sh check   run the guest tests; exit 0 only if all passed
#   scripts/vm.sh demo    load the driver and run apu-info
#   scripts/vm.sh shell   interactive shell in the guest (Ctrl-A X quits)
#
# The serial console is streamed to stdout and saved in $APU_BUILD/vm/<mode>.log.
# The run fails on any kernel WARNING, BUG, Oops, panic, KFENCE or slab-debug
# report, on a guest that does not finish within APU_VM_TIMEOUT seconds (default
# 300), and on any failed test. In check mode the tallies are written to
# $APU_BUILD/vm/check.result as "pass N" / "fail N" lines.
#
# APU_TESTS: see CMDLINE below.
# APU_ACCEL=kvm|tcg|auto (default auto: KVM only when a probe boot works).
set -uo pipefail
. "$(dirname "$0")/common.sh"

mode=${1:-check}
case "$mode" in check | demo | shell | bench) ;; *) apu_die "usage: $0 check|demo|shell|bench" ;; esac

# APU_KERNEL, APU_INITRD, APU_VM_NAME: another kernel (the debug kernel of
# scripts/check-debug.sh) with its initramfs; logs and results then carry
# APU_VM_NAME. APU_VM_DEBUG=1 adds that kernel's checkers to the verdict
# (kmemleak, read by the guest; KASAN, lockdep and DMA-API reports).
KVER=${KVER:-$(apu_kver)}
KERNEL=${APU_KERNEL:-/boot/vmlinuz-$KVER}
# APU_VM_ARCH=arm64: QEMU's virt machine (GICv3, PCIe) with the APU on PCIe.
VMARCH=${APU_VM_ARCH:-x86_64}
QEMU="$APU_CACHE/qemu/build/qemu-system-x86_64"
[ "$VMARCH" = arm64 ] && QEMU="$APU_CACHE/qemu/build-aarch64/qemu-system-aarch64"
INITRD=${APU_INITRD:-$APU_BUILD/vm/initramfs.cpio.gz}
TIMEOUT=${APU_VM_TIMEOUT:-300}
VMNAME=${APU_VM_NAME:-}
LOG="$APU_BUILD/vm/$mode${VMNAME:+-$VMNAME}.log"
RESULT="$APU_BUILD/vm/check${VMNAME:+-$VMNAME}.result"

[ -r "$KERNEL" ] || apu_die "cannot read $KERNEL; run scripts/setup.sh (as root)"
[ -x "$QEMU" ] || apu_die "$QEMU is not built; run 'make qemu'"
[ -f "$INITRD" ] || apu_die "$INITRD is not built; run 'make initramfs'"

# Debug options: KFENCE sampling and SLUB checks on; any WARN, oops or soft
# lockup panics the guest, and a panic powers it off at once (-no-reboot).
CONSOLE=ttyS0
[ "$VMARCH" = arm64 ] && CONSOLE=ttyAMA0
CMDLINE="console=$CONSOLE loglevel=4 panic=-1 panic_on_warn=1 oops=panic
softlockup_panic=1 kfence.sample_interval=100 slub_debug=FZPU"
# The debug kernel: kmemleak on; the guest scans after the tests.
if [ "${APU_VM_DEBUG:-0}" = 1 ]; then
	CMDLINE="$CMDLINE kmemleak=on APU_KMEMLEAK=1"
fi
# Benchmarks measure the plain kernel, without the debug options.
if [ "$mode" = bench ]; then
	CMDLINE="console=ttyS0 loglevel=4 panic=-1"
fi
# APU_VM_ENV="NAME=VALUE ...": environment of the guest's tests (e.g. the
# fuzzers' APU_FUZZ_CALLS), passed on the kernel command line.
if [ -n "${APU_VM_ENV:-}" ]; then
	CMDLINE="$CMDLINE $APU_VM_ENV"
fi
# APU_TESTS="a_test b_test" runs only those guest tests (while developing).
if [ -n "${APU_TESTS:-}" ]; then
	CMDLINE="$CMDLINE APU_TESTS=$(echo "$APU_TESTS" | tr ' ' ',')"
fi

qemu_cmd() {
	local accel=$1 cpu=max
	# qboot: a minimal firmware that boots -kernel in milliseconds, where
	# SeaBIOS takes about 30 s under TCG.
	if [ "$VMARCH" = arm64 ]; then
		echo "$QEMU" -machine virt,gic-version=3 -accel tcg -cpu max -m 1024 -smp 2 \
			-nographic -no-reboot -nic none -device apu \
			-kernel "$KERNEL" -initrd "$INITRD" -name "apu-vm-$$"
		return
	fi
	echo "$QEMU" -machine q35 -bios qboot.rom -accel "$accel" -cpu "$cpu" -m 1024 -smp 2 \
		-nographic -no-reboot -nic none -vga none -device apu \
		-kernel "$KERNEL" -initrd "$INITRD" -name "apu-vm-$$"
	# The benchmark's peer: NVMe on a null backend (reads return zeroes).
	if [ "$mode" = bench ]; then
		echo -blockdev driver=null-co,node-name=nvm0,size=1073741824,read-zeroes=on \
			-device nvme,serial=apubench,drive=nvm0
	fi
}

# QEMU's memory while the guest runs (bench): its resident size when the
# guest says it is idle, and its peak.
sample_rss() {
	local pid="" idle="" hwm="" i
	for i in $(seq 1 100); do
		for p in $(pgrep -f "apu-vm-$$"); do
			case "$(cat "/proc/$p/comm" 2>/dev/null)" in qemu-system*) pid=$p ;; esac
		done
		[ -n "$pid" ] && break
		sleep 0.1
	done
	[ -n "$pid" ] || return 0
	while kill -0 "$pid" 2>/dev/null; do
		if [ -z "$idle" ] && grep -q '^APU-BENCH: idle' "$LOG" 2>/dev/null; then
			idle=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
		fi
		hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo "$hwm")
		echo "${idle:-0} ${hwm:-0}" >"$APU_BUILD/vm/qemu-rss"
		sleep 0.2
	done
}

probe_kvm() {
	local out
	[ -w /dev/kvm ] || return 1
	# shellcheck disable=SC2046
	out=$(timeout 60 $(qemu_cmd kvm) -append "console=ttyS0 quiet panic=-1 APU_MODE=probe" \
		</dev/null 2>&1) || return 1
	grep -q 'APU-GUEST: probe ok' <<<"$out"
}

accel=${APU_ACCEL:-auto}
[ "$VMARCH" = arm64 ] && accel=tcg
if [ "$accel" = auto ]; then
	if probe_kvm; then accel=kvm; else accel=tcg; fi
fi
apu_log "booting $KVER under $accel ($mode; console log: $LOG)"

mkdir -p "$(dirname "$LOG")"
start=$(date +%s)
if [ "$mode" = shell ]; then
	# shellcheck disable=SC2046
	exec $(qemu_cmd "$accel") -append "$(echo $CMDLINE) APU_MODE=shell"
fi
rm -f "$APU_BUILD/vm/qemu-rss"
[ "$mode" = bench ] && sample_rss &
# shellcheck disable=SC2046
timeout -k 10 "$TIMEOUT" $(qemu_cmd "$accel") -append "$(echo $CMDLINE) APU_MODE=$mode" \
	</dev/null 2>&1 | sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tee "$LOG" | sed -u 's/^/  guest| /'
rc=${PIPESTATUS[0]}
elapsed=$(( $(date +%s) - start ))

fail=0
pass=0
problems=()

if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	problems+=("the guest did not finish within ${TIMEOUT}s (hung?); raise APU_VM_TIMEOUT or read $LOG")
elif [ "$rc" != 0 ]; then
	problems+=("QEMU exited with status $rc")
fi
grep -q '^APU-GUEST: done' "$LOG" ||
	problems+=("the guest stopped before reporting 'done' (panic, crash or hang; see $LOG)")

# Kernel reports.
reports=$(grep -E 'WARNING:|BUG:|BUG [^ ]+ \(|Oops|Kernel panic|KFENCE:|KASAN:|general protection fault|INFO: task .* blocked|Call Trace:|possible (circular|recursive) locking|inconsistent lock state|DMA-API:|unreferenced object' "$LOG" |
	grep -v '^APU-GUEST:' | sort -u)
if [ -n "$reports" ]; then
	while IFS= read -r r; do problems+=("kernel report: $r"); done <<<"$reports"
fi

# Guest verdicts.
while IFS= read -r r; do problems+=("guest: ${r#APU-GUEST: }"); done < <(grep '^APU-GUEST: .*FAIL' "$LOG")

if [ "$mode" = bench ]; then
	wait
	{
		sed -n 's/^APU-BENCH \({.*}\)$/\1/p' "$LOG"
		if [ -f "$APU_BUILD/vm/qemu-rss" ]; then
			read -r idle hwm <"$APU_BUILD/vm/qemu-rss"
			printf '{"bench": "qemu_memory", "idle_rss_kib": %s, "peak_rss_kib": %s}\n' "$idle" "$hwm"
		fi
	} >"$APU_BUILD/vm/bench.jsonl"
	grep -q '"apu_qd32_all6"' "$APU_BUILD/vm/bench.jsonl" ||
		problems+=("the guest benchmarks did not all report; see $LOG")
fi

if [ "$mode" = check ]; then
	# One section per test binary, from "run NAME" to "exit NAME CODE":
	# its kselftest totals, and its exit status checked against them.
	skip=0
	ran=0
	while read -r name code p f s; do
		ran=$((ran + 1))
		if [ "$p" = - ]; then
			problems+=("guest test $name ended without a kselftest summary (exit ${code}; crashed?)")
			continue
		fi
		pass=$((pass + p))
		fail=$((fail + f))
		skip=$((skip + s))
		case "$code" in
		0 | 4) ;;
		-) problems+=("guest test $name never finished") ;;
		*) [ "$f" -gt 0 ] || problems+=("guest test $name exited with status $code but reported no failure") ;;
		esac
	done < <(awk '
		/^APU-GUEST: run / { if (name != "") print name, "-", p, f, s; name = $3; p = "-"; f = 0; s = 0; next }
		/^# Totals: / && name != "" {
			for (i = 3; i <= NF; i++) { split($i, kv, ":"); t[kv[1]] = kv[2] }
			p = t["pass"]; f = t["fail"] + t["error"]; s = t["skip"]; next }
		/^APU-GUEST: exit / && $3 == name { print name, $4, p, f, s; name = "" }
		END { if (name != "") print name, "-", p, f, s }' "$LOG")
	[ "$ran" -gt 0 ] || problems+=("no guest test binary ran")
	fail=$((fail + ${#problems[@]}))
	printf 'pass %d\nfail %d\nskip %d\n' "$pass" "$fail" "$skip" >"$RESULT"
fi

for p in "${problems[@]}"; do
	echo "vm.sh: FAIL: $p" >&2
done
apu_log "guest ran for ${elapsed}s under $accel"
[ ${#problems[@]} = 0 ] && [ "$fail" = 0 ]
