#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# libapu's imported models against an independent framework: Debian's Arm
# NN 20.08 (CpuRef backend, its own TFLite parser; tests/oracle/armnn_run.py)
# on the same input bytes. libapu runs on its CPU backend, which the NPU
# matches bit for bit (tests/host/model_test.c, tests/guest/model_test.c).
#
#   tests/oracle/armnn_compare.sh BUILD_DIR
#
# Real models and photos: the same top-1 class (or, where libapu's top
# scores tie, Arm NN's class among the tied ones); the largest difference
# in quantized steps and the share of differing values are reported. Arm NN
# requantizes in float (+-1 step per layer from TFLite's integer kernels).
# Generated small models (random input): at most 3 steps apart, except
# where Arm NN 20.08 is known to differ (tests/models/README.md).
set -uo pipefail
B=${1:-build}
PY=/usr/bin/python3
RUN="$B/bin/apu-run"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0

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

for m in tf2_mobilenet_v2_1.0_224_ptq mobilenet_v2_1.0_224_quant mobilenet_v1_0.25_128_quant; do
	for img in cat grace_hopper; do
		n="$m/$img"
		if ! "$RUN" --cpu --model "$B/models/$m.tflite" --image "$B/models/$img.bmp" \
			--save-input "$T/in.bin" --save-output "$T/apu.bin" >"$T/apu.log" 2>&1; then
			echo "FAIL   $n: apu-run"; cat "$T/apu.log"; fail=1; continue
		fi
		if ! "$PY" tests/oracle/armnn_run.py "$B/models/$m.tflite" "$T/in.bin" "$T/arm.bin" \
			2>"$T/arm.log"; then
			echo "FAIL   $n: Arm NN"; cat "$T/arm.log"; fail=1; continue
		fi
		compare "$n" "$T/apu.bin" "$T/arm.bin" uint8 -1 || fail=1
	done
done

# Generated models Arm NN 20.08 runs right (README: pad_conv pads with 0 in
# Arm NN, activations and float_io are outside armnn_run.py or its parser).
for m in conv_int8_pc conv_uint8 dw_int8_mult dw_one_channel fc_uint8 add_broadcast broadcast_cpu mul \
	pools mean concat concat_branches reshape_squeeze; do
	f="$B/tests/models/$m.tflite"
	if ! "$RUN" --cpu --model "$f" --seed 3 --save-input "$T/in.bin" \
		--save-output "$T/apu.bin" >"$T/apu.log" 2>&1; then
		echo "FAIL   $m: apu-run"; cat "$T/apu.log"; fail=1; continue
	fi
	if ! "$PY" tests/oracle/armnn_run.py "$f" "$T/in.bin" "$T/arm.bin" 2>"$T/arm.log"; then
		echo "FAIL   $m: Arm NN"; cat "$T/arm.log"; fail=1; continue
	fi
	dt=$(sed -n 's/^output: \([a-z0-9]*\).*/\1/p' "$T/arm.log" | head -n 1)
	compare "$m" "$T/apu.bin" "$T/arm.bin" "${dt:-int8}" 3 || fail=1
done
exit $fail
