#!/usr/bin/env bash
# scripts/vm.sh run, as another project's CI uses it (docs/ci.md); run by
# make check (guest tier). Three boots:
#   1. tests/vm/run_probe.c, built into a directory owned by uid 1000 (or by
#      the user running this), run there: its exit status, stdout and stderr
#      apart, its user and groups, its arguments and environment, the file
#      it writes, the boot-to-command time;
#   2. a command that exits 0 after a kernel report (a line written to
#      /dev/kmsg as root in the guest): the run fails with 125;
#   3. a command that exits 0 in a root-owned directory: it runs as uid
#      1000 and cannot write there (the documented behaviour), vm.sh exits 0.
# Needs what 'make qemu initramfs' builds. Prints kselftest-style lines:
# "ok N - what", "not ok N - what", then "# Totals: pass:N fail:N skip:N".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. scripts/common.sh

W=$(mktemp -d /tmp/apu-run-test.XXXXXX) || exit 1
D=$W/project
R=
cleanup() { rm -rf "$W" ${R:+"$R"}; }
trap cleanup EXIT
n=0
pass=0
fail=0
skip=0
check() { # description command...
	local d=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $d"
		pass=$((pass + 1))
	else
		echo "not ok $n - $d"
		fail=$((fail + 1))
	fi
}
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
	skip=$((skip + 1))
}
has() { grep -q -F -- "$2" "$1" || { echo "# $1 lacks: $2"; sed 's/^/#   /' "$1" | head -n 20; return 1; }; }
hasnt() { ! grep -q -F -- "$2" "$1" || { echo "# $1 has: $2"; return 1; }; }

# 1. The probe, in a directory of an ordinary user.
mkdir -p "$D"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -Iuapi $(pkg-config --cflags libdrm) tests/vm/run_probe.c \
	-o "$D/run_probe" || { echo "# cannot build tests/vm/run_probe.c"; echo "# Totals: pass:0 fail:1 skip:0"; exit 1; }
[ "$(id -u)" = 0 ] && chown -R 1000:1000 "$D"
uid=$(stat -c %u "$D")
render=$(awk -F: '$1 == "render" { print $3; exit }' /etc/group)
# shellcheck disable=SC2016
(cd "$D" && APU_RUN_TEST_MSG='hello  "world" $HOME' "$APU_TOP/scripts/vm.sh" run \
	-e APU_RUN_TEST_MSG -e APU_RUN_TEST_NOT_SET -- ./run_probe 3 'two words' "it's") \
	>"$W/1.out" 2>"$W/1.err"
rc=$?
cp "$APU_BUILD/vm/run.time" "$W/1.time" 2>/dev/null
sed 's/^/# stdout| /' "$W/1.out"
sed 's/^/# stderr| /' "$W/1.err"
check "vm.sh run exits with the command's status (3)" [ "$rc" = 3 ]
check "the command's stdout is vm.sh's stdout (DRM_IOCTL_APU_QUERY read device APU1)" \
	grep -q -E '^run_probe: device APU1, [0-9]+ cores$' "$W/1.out"
stderr_apart() { has "$W/1.err" "run_probe: this line goes to stderr" && hasnt "$W/1.out" "goes to stderr"; }
check "the command's stderr is vm.sh's stderr, not its stdout" stderr_apart
check "boot chatter stays off stdout (only the command's 6 lines)" [ "$(wc -l <"$W/1.out")" = 6 ]
# The accelerator opened (device line above) as this user, through group
# render where the host has one (else the node is 0666).
ran_as() {
	[ "$uid" != 0 ] || return 1
	if [ -n "$render" ]; then
		grep -q -E "^run_probe: uid $uid gid [0-9]+ groups( [0-9]+)* $render( |\$)" "$W/1.out"
	else
		grep -q -E "^run_probe: uid $uid " "$W/1.out"
	fi
}
check "the command ran as the directory's owner (uid $uid, not root) with group render (${render:-none})" ran_as
args_intact() {
	has "$W/1.out" "arg 1 [two words]" && has "$W/1.out" "arg 2 [it's]" &&
		has "$W/1.out" "env APU_RUN_TEST_MSG [hello  \"world\" \$HOME]"
}
check "arguments and -e variables arrive intact (spaces, quotes, \$)" args_intact
file_on_host() {
	[ "$(cat "$D/run_probe.out" 2>/dev/null)" = "written by uid $uid in the guest: device APU1" ] &&
		[ "$(stat -c %u "$D/run_probe.out")" = "$uid" ]
}
check "the file the command wrote is in the host's directory, owned by uid $uid" file_on_host
boot=$(awk '$1 == "boot_to_command_s" { print $2 }' "$W/1.time" 2>/dev/null)
echo "# boot to command: ${boot:-?} s"
time_reported() {
	[ -n "$boot" ] && has "$W/1.err" "the command started ${boot}s after vm.sh"
}
check "the boot-to-command time is reported (stderr, run.time: ${boot:-none} s)" time_reported

# 2. A kernel report fails a command that exited 0.
(cd "$D" && "$APU_TOP/scripts/vm.sh" run -u 0 -- /bin/sh -c \
	'echo "<3>BUG: tests/vm/run_test.sh: a report written to /dev/kmsg" >/dev/kmsg; echo reported') \
	>"$W/2.out" 2>"$W/2.err"
rc=$?
sed 's/^/# stderr| /' "$W/2.err"
report_fails() {
	[ "$rc" = 125 ] && has "$W/2.out" reported && has "$W/2.err" "kernel report:" &&
		has "$W/2.err" "BUG: tests/vm/run_test.sh: a report"
}
check "a kernel report fails a command that exited 0 (status 125, the report on stderr)" report_fails

# 3. A root-owned directory: the command runs as uid 1000, which cannot
#    write there; exit 0 is vm.sh's 0.
if [ "$(id -u)" = 0 ]; then
	R=$(mktemp -d "$APU_BUILD/run-test.XXXXXX")
	chmod 0755 "$R"
	# shellcheck disable=SC2016
	(cd "$R" && "$APU_TOP/scripts/vm.sh" run -- /bin/sh -c \
		'echo "uid $(id -u)"; if touch denied 2>/dev/null; then echo wrote; else echo "cannot write"; fi') \
		>"$W/3.out" 2>"$W/3.err"
	rc=$?
	sed 's/^/# stdout| /' "$W/3.out"
	root_dir() { [ "$rc" = 0 ] && has "$W/3.out" "uid 1000" && has "$W/3.out" "cannot write" && [ ! -e "$R/denied" ]; }
	check "in a root-owned directory the command runs as uid 1000, cannot write there, and exit 0 is 0" root_dir
else
	skip "in a root-owned directory the command runs as uid 1000" "needs root to make the directory"
fi

echo "# Totals: pass:$pass fail:$fail skip:$skip"
[ "$fail" = 0 ]
