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

. "$(dirname "$0")/armnn_lib.sh"

for m in tf2_mobilenet_v2_1.0_224_ptq mobilenet_v2_1.0_224_quant mobilenet_v1_0.25_128_quant; do
	for img in cat grace_hopper; do
		n="$m/$img"
		if ! "$RUN" --cpu --model "$B/models/$m.tflite" --image "$B/models/$img.bmp" \
			--save-input "$T/in.bin" --save-output "$T/apu.bin" >"$T/apu.log" 2>&1; then
			echo "FAIL   $n: apu-run"; cat "$T/apu.log"; fail=1; continue
		fi
		if ! armnn_ref "$B/models/$m.tflite" "$T/in.bin" "$T/arm.bin" 2>"$T/arm.log"; then
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
