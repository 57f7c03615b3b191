# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Shared by the Arm NN comparisons (tests/oracle/armnn_compare.sh,
# tests/frameworks/armnn_test.sh); sourced. Needs B (the build folder) and
# PY (python3 with numpy and pyarmnn).

# compare NAME A.bin B.bin DTYPE MAX_STEPS: A is ours, B Arm NN's reference.
# MAX_STEPS -1: the same top-1 class (or, where A's top scores tie, B's class
# among the tied ones); else at most MAX_STEPS quantized steps apart. Prints
# "ok" or "FAIL" with the largest difference and the share of differing values.
compare() { # name apu.bin armnn.bin dtype max_steps(-1: top-1 only)
	"$PY" - "$@" <<'EOF'
import sys
import numpy as np
name, a, b, dt, lim = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
t = np.uint8 if dt == "uint8" else np.int8
x = np.fromfile(a, dtype=t).astype(np.int32)
y = np.fromfile(b, dtype=t).astype(np.int32)
if x.size != y.size or x.size == 0:
    print("FAIL   %s: output sizes %d and %d" % (name, x.size, y.size)); sys.exit(1)
d = np.abs(x - y)
ndiff = int((d > 0).sum())
msg = "%s: largest difference %d steps, %d of %d values differ (%.1f%%)" % (
    name, int(d.max()), ndiff, x.size, 100.0 * ndiff / x.size)
if lim < 0:
    top_apu = set(np.flatnonzero(x == x.max()).tolist())
    top_arm = int(np.argmax(y))
    msg += "; top-1 libapu %s (%d), Arm NN %d (%d)" % (
        "/".join(map(str, sorted(top_apu))), int(x.max()), top_arm, int(y.max()))
    ok = top_arm in top_apu
else:
    ok = int(d.max()) <= lim
print(("ok     " if ok else "FAIL   ") + msg)
sys.exit(0 if ok else 1)
EOF
}

# armnn_ref MODEL IN.bin OUT.bin: Arm NN's reference backend (CpuRef) on the
# input, cached in $B/armnn-ref by the contents of the model and the input
# (a MobileNet V2 takes it about 7 s).
armnn_ref() {
	local key dir="$B/armnn-ref"
	key=$(cat "$1" "$2" | sha256sum | cut -c1-24)
	if [ ! -s "$dir/$key.bin" ]; then
		mkdir -p "$dir"
		"$PY" "$(dirname "${BASH_SOURCE[0]}")/armnn_run.py" "$1" "$2" "$dir/$key.tmp" || return 1
		mv "$dir/$key.tmp" "$dir/$key.bin"
	fi
	cp "$dir/$key.bin" "$3"
}
