#!/usr/bin/env bash
# Boot Debian's kernel with the emulated APU and run the guest side.
#
#   scripts/vm.sh check   run the guest tests; exit 0 only if all passed
#   scripts/vm.sh demo    load the driver and run apu-info
#   scripts/vm.sh shell   interactive shell in the guest (Ctrl-A X quits)
#   scripts/vm.sh run [-e NAME[=VALUE]]... [-u UID[:GID]] [--] CMD [ARG]...
#                         run a command of the host in the guest, with the
#                         driver loaded: see "run mode" below and docs/ci.md
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

# Seconds since the epoch, to the microsecond (bash 5).
t_start=$EPOCHREALTIME
mode=${1:-check}
case "$mode" in check | demo | shell | bench | run) ;; *) apu_die "usage: $0 check|demo|shell|bench|run" ;; esac

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
# APU_QEMU: another QEMU binary with the APU (one built in another cache).
QEMU=${APU_QEMU:-$QEMU}
INITRD=${APU_INITRD:-$APU_BUILD/vm/initramfs.cpio.gz}
# Run mode boots the smaller initramfs made for it (scripts/mkinitramfs.sh).
[ "$mode" = run ] && INITRD=${APU_INITRD:-$APU_BUILD/vm/initramfs-run.cpio.gz}
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
# Run mode skips the kernel's self-tests of its crypto algorithms (about 1 s
# of the boot under TCG; nothing here depends on them).
if [ "$mode" = run ]; then
	CMDLINE="$CMDLINE cryptomgr.notests"
fi
# APU_VM_ENV="NAME=VALUE ...": environment of the guest's tests (e.g. the
# fuzzers' APU_FUZZ_CALLS), passed on the kernel command line.
if [ -n "${APU_VM_ENV:-}" ]; then
	CMDLINE="$CMDLINE $APU_VM_ENV"
fi
# APU_DEVICE_OPTS=",prop=value,...": options of the APU device (-device
# apu$APU_DEVICE_OPTS), e.g. a core layout: ",big-cores=3,little-cores=3,
# tiny-cores=2" or ",shared-irq=on" (docs/hw.md, Device properties).
DEVOPTS=${APU_DEVICE_OPTS:-}
case "$DEVOPTS" in "" | ,*) ;; *) apu_die "APU_DEVICE_OPTS must start with a comma" ;; esac
[[ "$DEVOPTS" != *[[:space:]]* ]] || apu_die "APU_DEVICE_OPTS may not contain spaces"
# APU_TESTS="a_test b_test" runs only those guest tests (while developing).
if [ -n "${APU_TESTS:-}" ]; then
	CMDLINE="$CMDLINE APU_TESTS=$(echo "$APU_TESTS" | tr ' ' ',')"
fi

# The command line on one line.
APPEND=${CMDLINE//$'\n'/ }

# Kernel reports on the console: any of these fails the run.
REPORTS='WARNING:|BUG:|BUG [^ ]+ \(|Oops|Kernel panic|KFENCE:|KASAN:|general protection fault|INFO: task .* blocked|Call Trace:|possible (circular|recursive) locking|inconsistent lock state|DMA-API:|unreferenced object'

# ---------------------------------------------------------------- run mode
# scripts/vm.sh run [-e NAME[=VALUE]]... [-u UID[:GID]] [--] CMD [ARG]...
# Runs CMD in the guest with the driver loaded, chrooted into the host's root
# (shared read-only over virtio-9p), in the current directory (shared
# read-write at the same path), as an ordinary user:
#   user         the owner of the current directory, or uid/gid 1000 when
#                that is root; -u UID[:GID] chooses (-u 0: root). Group
#                render (the host's) is added: /dev/accel/accel* are
#                root:render 0660, as udev makes them.
#   environment  HOME=/tmp/home, PATH=the system directories,
#                LD_LIBRARY_PATH when set here, each -e NAME=VALUE (-e NAME:
#                its value here); nothing else
#   I/O          stdin is /dev/null; CMD's stdout and stderr are this
#                script's (virtio-serial ports, apart from the console)
# Exit status: CMD's; 125 when the run failed around it: a kernel report, a
# guest that did not finish within APU_VM_TIMEOUT or did not report CMD's
# status, or a run that could not be set up (said on stderr). The console log
# ($LOG) is not shown (APU_VM_VERBOSE=1 shows it on stderr), except kernel
# reports. The seconds from this script's start to CMD's start are reported
# on stderr and in $APU_BUILD/vm/run.time ("boot_to_command_s 4.71").
RUN_QEMU=()
if [ "$mode" = run ]; then
	usage="usage: $0 run [-e NAME[=VALUE]]... [-u UID[:GID]] [--] CMD [ARG]..."
	shift
	run_env=()
	run_user=
	while [ $# -gt 0 ]; do
		case "$1" in
		-e | -u) [ $# -ge 2 ] || apu_die "$1 needs a value; $usage" ;;&
		-e) run_env+=("$2"); shift 2 ;;
		-u) run_user=$2; shift 2 ;;
		--) shift; break ;;
		-*) apu_die "unknown option $1; $usage" ;;
		*) break ;;
		esac
	done
	[ $# -gt 0 ] || apu_die "$usage"
	[ "$VMARCH" = x86_64 ] || apu_die "run mode boots the x86_64 guest only"
	cwd=$(pwd -P)
	case "$cwd" in
	/ | /proc | /proc/* | /sys | /sys/* | /dev | /dev/*)
		apu_die "run from a project directory, not $cwd (it is shared with the guest)" ;;
	esac
	if [ -n "$run_user" ]; then
		[[ $run_user =~ ^[0-9]+(:[0-9]+)?$ ]] || apu_die "-u takes UID or UID:GID (numbers), not $run_user"
		uid=${run_user%%:*}
		gid=${run_user#*:}
	else
		read -r uid gid < <(stat -c '%u %g' .)
		if [ "$uid" = 0 ]; then
			uid=1000
			gid=1000
		fi
	fi
	render=$(awk -F: '$1 == "render" { print $3; exit }' /etc/group)
	# sh quoting: 'it'\''s'
	shq() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
	RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/apu-run.XXXXXX") || apu_die "cannot make a temporary directory"
	trap 'rm -rf "$RUNDIR"' EXIT
	mkdir -m 0755 "$RUNDIR/share"
	printf 'RUN_CWD=%s\nRUN_UID=%s\nRUN_GID=%s\nRUN_RENDER_GID=%s\n' \
		"$(shq "$cwd")" "$uid" "$gid" "$render" >"$RUNDIR/share/run.conf"
	{
		echo "# scripts/vm.sh run: the command, run by the host's /bin/sh in the guest"
		echo "export HOME=/tmp/home"
		echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		[ -n "${LD_LIBRARY_PATH:-}" ] && echo "export LD_LIBRARY_PATH=$(shq "$LD_LIBRARY_PATH")"
		for e in ${run_env[@]+"${run_env[@]}"}; do
			name=${e%%=*}
			[[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || apu_die "-e takes NAME or NAME=VALUE, not $e"
			if [ "$name" != "$e" ]; then
				echo "export $name=$(shq "${e#*=}")"
			elif [ -n "${!name+set}" ]; then
				echo "export $name=$(shq "${!name}")"
			fi
		done
		echo "cd $(shq "$cwd") || { echo \"vm.sh run: uid $uid cannot enter $(shq "$cwd")\" >&2; exit 125; }"
		printf 'exec'
		for a in "$@"; do printf ' %s' "$(shq "$a")"; done
		echo
	} >"$RUNDIR/share/cmd.sh"
	chmod 0644 "$RUNDIR/share/run.conf" "$RUNDIR/share/cmd.sh"
	# The guest writes CMD's stdout and stderr to these (read as they come).
	mkfifo "$RUNDIR/stdout" "$RUNDIR/stderr"
	# QEMU's option syntax doubles commas in values.
	# shellcheck disable=SC2054
	RUN_QEMU=(
		-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
		-fsdev "local,id=work,path=${cwd//,/,,},security_model=none,multidevs=remap"
		-device virtio-9p-pci,fsdev=work,mount_tag=work
		-fsdev "local,id=apurun,path=${RUNDIR//,/,,}/share,security_model=none,readonly=on"
		-device virtio-9p-pci,fsdev=apurun,mount_tag=apurun
		-device virtio-serial-pci
		-chardev "file,id=apuout,path=${RUNDIR//,/,,}/stdout"
		-device virtserialport,chardev=apuout,name=apu.stdout
		-chardev "file,id=apuerr,path=${RUNDIR//,/,,}/stderr"
		-device virtserialport,chardev=apuerr,name=apu.stderr
	)
fi
verbose=1
[ "$mode" = run ] && [ "${APU_VM_VERBOSE:-0}" != 1 ] && verbose=0

# Run mode boots Debian's kernel uncompressed, through its PVH entry (QEMU's
# pvh.bin): decompressing the bzImage takes about 1.5 s of each boot under
# TCG. The ELF image is cut out of the bzImage once (zstd, Debian's
# compression for x86) into $APU_BUILD/vm; without zstd or PVH support, or
# with APU_KERNEL set, the bzImage boots.
pvh_kernel() {
	local out="$APU_BUILD/vm/vmlinux-$KVER" off
	grep -q '^CONFIG_PVH=y' "/boot/config-$KVER" 2>/dev/null || return 1
	if [ ! -s "$out" ] || [ "$out" -ot "$KERNEL" ]; then
		command -v zstd >/dev/null || return 1
		mkdir -p "$APU_BUILD/vm"
		rm -f "$out"
		while read -r off; do
			# The frame is followed by more of the bzImage: zstd complains.
			tail -c +$((off + 1)) "$KERNEL" | zstd -dcq 2>/dev/null >"$out.$$"
			if [ "$(head -c 4 "$out.$$")" = $'\x7fELF' ]; then
				mv "$out.$$" "$out"
				break
			fi
		done < <(LC_ALL=C grep -obUaP '\x28\xb5\x2f\xfd' "$KERNEL" | cut -d: -f1)
		rm -f "$out.$$"
	fi
	[ -s "$out" ] && echo "$out"
}
if [ "$mode" = run ] && [ -z "${APU_KERNEL:-}" ] && [ "$VMARCH" = x86_64 ]; then
	KERNEL=$(pvh_kernel) || KERNEL=/boot/vmlinuz-$KVER
fi

qemu_cmd() {
	local accel=$1 cpu=max
	# qboot: a minimal firmware that boots -kernel in milliseconds, where
	# SeaBIOS takes about 30 s under TCG.
	if [ "$VMARCH" = arm64 ]; then
		echo "$QEMU" -machine virt,gic-version=3 -accel tcg -cpu max -m 1024 -smp 2 \
			-nographic -no-reboot -nic none -device "apu$DEVOPTS" \
			-kernel "$KERNEL" -initrd "$INITRD" -name "apu-vm-$$"
		return
	fi
	echo "$QEMU" -machine q35 -bios qboot.rom -accel "$accel" -cpu "$cpu" -m 1024 -smp 2 \
		-nographic -no-reboot -nic none -vga none -device "apu$DEVOPTS" \
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
	local pid="" idle="" hwm=""
	for _ in $(seq 1 100); do
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
[ "$verbose" = 1 ] && apu_log "booting $KVER under $accel ($mode; console log: $LOG)"

mkdir -p "$(dirname "$LOG")"
start=$(date +%s)
if [ "$mode" = shell ]; then
	# shellcheck disable=SC2046
	exec $(qemu_cmd "$accel") -append "$APPEND APU_MODE=shell"
fi
rm -f "$APU_BUILD/vm/qemu-rss"
[ "$mode" = bench ] && sample_rss &

# Run mode: the console goes to stderr only when verbose, kernel reports
# always; the host times of the command's start and end are noted.
run_console() {
	local line
	while IFS= read -r line; do
		case "$line" in
		"APU-GUEST: run-start") echo "$EPOCHREALTIME" >"$RUNDIR/started" ;;
		"APU-GUEST: run-exit "*) echo "$EPOCHREALTIME" >"$RUNDIR/ended" ;;
		esac
		if [ "$verbose" = 1 ]; then
			printf '  guest| %s\n' "$line" >&2
		elif [[ $line =~ $REPORTS || $line =~ ^APU-GUEST:.*FAIL ]]; then
			printf '  guest| %s\n' "$line" >&2
		fi
	done
}
if [ "$mode" = run ]; then
	# Output that nobody reads any more (stdout closed: "| head") ends the
	# run, as SIGPIPE would end the command on the host.
	{
		cat "$RUNDIR/stdout" ||
			{ touch "$RUNDIR/epipe"; kill "$(cat "$RUNDIR/qemu.pid" 2>/dev/null)" 2>/dev/null; }
	} &
	out_pid=$!
	cat "$RUNDIR/stderr" >&2 &
	err_pid=$!
	# shellcheck disable=SC2046
	timeout -k 10 "$TIMEOUT" $(qemu_cmd "$accel") "${RUN_QEMU[@]}" -pidfile "$RUNDIR/qemu.pid" \
		-append "$APPEND APU_MODE=run" </dev/null 2>&1 |
		sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tee "$LOG" | run_console
	rc=${PIPESTATUS[0]}
	# A reader whose FIFO QEMU never opened (QEMU failed) waits for a writer:
	# open and close each as one, so that every reader ends.
	for f in stdout stderr; do
		exec {fd}<>"$RUNDIR/$f"
		exec {fd}>&-
	done
	wait "$out_pid" "$err_pid"
else
	# shellcheck disable=SC2046
	timeout -k 10 "$TIMEOUT" $(qemu_cmd "$accel") -append "$APPEND APU_MODE=$mode" \
		</dev/null 2>&1 | sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tee "$LOG" | sed -u 's/^/  guest| /'
	rc=${PIPESTATUS[0]}
fi
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
reports=$(grep -E "$REPORTS" "$LOG" | grep -v '^APU-GUEST:' | sort -u)
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

if [ "$mode" = run ] && [ -f "$RUNDIR/epipe" ]; then
	apu_log "stdout was closed before the command finished: the guest was stopped (exit status 141, as for SIGPIPE)"
	exit 141
fi
if [ "$mode" = run ]; then
	status=$(sed -n 's/^APU-GUEST: run-exit \([0-9]*\)$/\1/p' "$LOG" | tail -n 1)
	[ -n "$status" ] || problems+=("the guest did not report the command's exit status (see $LOG)")
	secs() { awk -v a="$2" -v b="$1" 'BEGIN { printf "%.2f", a - b }'; }
	t_end=$EPOCHREALTIME
	{
		if [ -f "$RUNDIR/started" ]; then
			boot=$(secs "$t_start" "$(cat "$RUNDIR/started")")
			echo "boot_to_command_s $boot"
			[ -f "$RUNDIR/ended" ] &&
				echo "command_s $(secs "$(cat "$RUNDIR/started")" "$(cat "$RUNDIR/ended")")"
		fi
		echo "total_s $(secs "$t_start" "$t_end")"
		echo "accel $accel"
		echo "status ${status:--}"
		if [ ${#problems[@]} = 0 ]; then echo "exit $status"; else echo "exit 125"; fi
	} >"$APU_BUILD/vm/run.time"
	if [ ${#problems[@]} -gt 0 ] && [ "$verbose" = 0 ]; then
		echo "vm.sh: the end of the console log ($LOG):" >&2
		tail -n 15 "$LOG" | sed 's/^/  guest| /' >&2
	fi
	for p in "${problems[@]}"; do
		echo "vm.sh: FAIL: $p" >&2
	done
	if [ -n "${boot:-}" ]; then
		apu_log "the command started ${boot}s after vm.sh (boot under $accel) and exited with status ${status:--}; total $(secs "$t_start" "$t_end")s"
	else
		apu_log "the command never started (total $(secs "$t_start" "$t_end")s)"
	fi
	if [ ${#problems[@]} -gt 0 ]; then
		apu_log "exit status 125: the run failed (above)"
		exit 125
	fi
	exit "$status"
fi

for p in "${problems[@]}"; do
	echo "vm.sh: FAIL: $p" >&2
done
apu_log "guest ran for ${elapsed}s under $accel"
[ ${#problems[@]} = 0 ] && [ "$fail" = 0 ]
