#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The ApuNpu Arm NN backend (frameworks/armnn), through Arm NN's own TFLite
# parser, from C++ and from Python (the examples of docs/frameworks.md):
#
#   tests/frameworks/armnn_test.sh host  BUILD   libapu's CPU backend as the device;
#                                                prepares BUILD/armnn-test for the guest
#   tests/frameworks/armnn_test.sh guest BUILD   the APU (run in the VM by scripts/vm.sh run)
#
# Each check prints "ok     NAME: ..." or "FAIL   NAME: ...". For every model:
#   - [ApuNpu, CpuRef] puts every convolution, depthwise, fully connected,
#     add, pool and activation layer on the APU (100% of the MACs);
#   - its output is bit for bit libapu's own import of the same file
#     (apu-run, CPU reference; the NPU matches that reference bit for bit);
#   - against [CpuRef] alone (Arm NN's float requantization, +-1 step per
#     layer) the same top-1 class, the largest difference and the share of
#     differing values reported;
#   - the Python example's output is the C++ example's.
# A model with a layer libapu does not run (fallback_sub: SUB) runs with that
# layer on CpuRef between APU parts; backend options change the plan, not
# the numbers. On the host only: every generated model (each op kind's
# translation), and a bad option or a missing device making the backend
# step aside.
set -uo pipefail
mode=${1:-host}
B=$(cd "${2:-build}" && pwd)
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
. "$TOP/tests/oracle/armnn_lib.sh"
D="$B/armnn-test"	# inputs, references, libapu's outputs (written by host mode)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
CPP="$B/bin/armnn_classify"
PYEX="$TOP/frameworks/armnn/examples/armnn_classify.py"
export LD_LIBRARY_PATH="$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Arm NN loads every backend of one folder: ours beside its CpuRef.
export ARMNN_BACKEND_PATH="$T/backends"
mkdir -p "$ARMNN_BACKEND_PATH"
ln -s "$B/armnn/Apu_ApuNpu_backend.so" "$ARMNN_BACKEND_PATH/"
for f in /usr/lib/*-linux-gnu/armnn22/*_backend.so; do ln -s "$f" "$ARMNN_BACKEND_PATH/"; done
if [ "$mode" = host ]; then
	export APU_ARMNN_DEVICE=cpu
	DEV="the CPU backend"
else
	export APU_ARMNN_DEVICE=0
	DEV="the APU"
fi
fail=0
ok() { echo "ok     $*"; }
bad() { echo "FAIL   $*"; fail=1; }

SHIPPED="tf2_mobilenet_v2_1.0_224_ptq mobilenet_v2_1.0_224_quant mobilenet_v1_0.25_128_quant"
# Generated models Arm NN's parser reads as TFLite means them (armnn_compare.sh).
GENERATED="conv_int8_pc conv_uint8 dw_int8_mult dw_one_channel fc_uint8 add_broadcast broadcast_cpu
mul pools mean concat concat_branches reshape_squeeze"

# prepare NAME MODEL [IMAGE]: input bytes, libapu's output, CpuRef's output.
prepare() {
	local n=$1 model=$2 img=${3:-} src
	src=(--model "$model" --seed 3)
	[ -n "$img" ] && src=(--model "$model" --image "$img")
	"$B/bin/apu-run" --cpu "${src[@]}" --save-input "$D/$n.in" --save-output "$D/$n.apu" \
		>"$T/prep.log" 2>&1 || { cat "$T/prep.log"; return 1; }
	armnn_ref "$model" "$D/$n.in" "$D/$n.ref" 2>"$T/prep.log" || { cat "$T/prep.log"; return 1; }
}

# The placement line of a run: what is left on CpuRef must not be compute.
placed_ok() { # log allowed-regex
	local line left
	line=$(grep '^layers:' "$1")
	left=$(grep -o '\[CpuRef [A-Za-z0-9]*' <<<"$line" | sed 's/\[CpuRef //' | grep -Ev "^(${2:-none})$")
	grep -q 'ApuNpu PreCompiled' <<<"$line" && [ -z "$left" ]
}

# check NAME MODEL DTYPE TOP1: the four checks of one model and input.
check() {
	local n=$1 model=$2 dt=$3 top1=$4 macs
	if ! "$CPP" "$model" "$D/$n.in" --save-output "$T/cpp.bin" >"$T/cpp.log" 2>&1; then
		bad "$n: C++ example on $DEV"; sed 's/^/       /' "$T/cpp.log" | tail -n 5; return
	fi
	macs=$(sed -n 's/^macs: .*(\(.*\))$/\1/p' "$T/cpp.log")
	grep -q '^macs: 0 ' "$T/cpp.log" && macs="100%"	# no convolution at all
	if placed_ok "$T/cpp.log" && [ "$macs" = "100%" ]; then
		ok "$n: every compute layer on ApuNpu ($(grep '^layers:' "$T/cpp.log" | cut -c9-); MACs on the APU: $macs)"
	else
		bad "$n: layers left off the APU: $(grep -E '^(layers|macs|not on)' "$T/cpp.log" | tr '\n' ' ')"
	fi
	if cmp -s "$T/cpp.bin" "$D/$n.apu"; then
		ok "$n: output bit for bit libapu's import of the file (on $DEV)"
	else
		bad "$n: output differs from libapu's import of the file ($(cmp -l "$T/cpp.bin" "$D/$n.apu" | wc -l) bytes)"
	fi
	if [ "$top1" = 1 ]; then
		compare "$n: against Arm NN CpuRef" "$T/cpp.bin" "$D/$n.ref" "$dt" -1 || fail=1
	else
		compare "$n: against Arm NN CpuRef" "$T/cpp.bin" "$D/$n.ref" "$dt" 3 || fail=1
	fi
	if ! "$PY" "$PYEX" "$model" "$D/$n.in" --save-output "$T/py.bin" >"$T/py.log" 2>&1; then
		bad "$n: Python example on $DEV"; sed 's/^/       /' "$T/py.log" | tail -n 5; return
	fi
	if cmp -s "$T/py.bin" "$T/cpp.bin" && [ "$(grep '^layers:' "$T/py.log")" = "$(grep '^layers:' "$T/cpp.log")" ]; then
		ok "$n: Python (pyarmnn) gives the C++ example's placement and output"
	else
		bad "$n: Python differs from C++: $(grep '^layers:' "$T/py.log")"
	fi
}

# The output's type (uint8 or int8), as Arm NN's parser reads the model.
dtype_of() {
	"$PY" - "$1" 2>/dev/null <<'EOF'
import logging, sys
logging.getLogger("pyarmnn").setLevel(logging.ERROR)
import pyarmnn as ann
p = ann.ITfLiteParser()
p.CreateNetworkFromBinaryFile(sys.argv[1])
b = p.GetNetworkOutputBindingInfo(0, p.GetSubgraphOutputTensorNames(0)[0])
print("uint8" if b[1].GetDataType() == ann.DataType_QAsymmU8 else "int8")
EOF
}

if [ "$mode" = host ]; then
	rm -rf "$D"
	mkdir -p "$D"
	for m in $SHIPPED; do
		for img in cat grace_hopper; do
			prepare "$m.$img" "$B/models/$m.tflite" "$B/models/$img.bmp" || bad "$m.$img: preparing"
		done
	done
	for m in $GENERATED; do
		prepare "$m" "$B/tests/models/$m.tflite" || bad "$m: preparing"
		dtype_of "$B/tests/models/$m.tflite" >"$D/$m.dtype"
	done
	# libapu refuses the file (SUB): random input, CpuRef's output only.
	"$PY" -c 'import sys, numpy as np; np.random.default_rng(3).integers(-128, 128, 1152, dtype=np.int8).tofile(sys.argv[1])' \
		"$D/fallback_sub.in"
	armnn_ref "$B/tests/models/fallback_sub.tflite" "$D/fallback_sub.in" "$D/fallback_sub.ref" 2>/dev/null ||
		bad "fallback_sub: preparing"
fi
[ -d "$D" ] || { bad "no $D: run the host mode first"; exit 1; }

for m in $SHIPPED; do
	for img in cat grace_hopper; do
		check "$m.$img" "$B/models/$m.tflite" uint8 1
	done
done
# The translation of each op kind (host); the guest runs the real models
# and the fallback on the device (its ops are the device tests' business).
if [ "$mode" = host ]; then
	for m in $GENERATED; do
		check "$m" "$B/tests/models/$m.tflite" "$(cat "$D/$m.dtype")" 0
	done
fi

# A layer libapu does not run falls back; the APU takes the rest.
f="$B/tests/models/fallback_sub.tflite"
if "$CPP" "$f" "$D/fallback_sub.in" --save-output "$T/fb.bin" >"$T/fb.log" 2>&1 &&
	placed_ok "$T/fb.log" Subtraction && grep -q 'CpuRef Subtraction x1' "$T/fb.log" &&
	grep -q '^macs: .*(100%)$' "$T/fb.log"; then
	ok "fallback_sub: SUB falls back to CpuRef, the convolutions run on the APU ($(grep '^layers:' "$T/fb.log" | cut -c9-))"
	compare "fallback_sub: against Arm NN CpuRef" "$T/fb.bin" "$D/fallback_sub.ref" int8 3 || fail=1
else
	bad "fallback_sub: $(tr '\n' ' ' <"$T/fb.log" | cut -c1-400)"
fi

# Backend options: another policy and one core change the plan, not the output.
m=mobilenet_v1_0.25_128_quant
n=$m.cat
if "$CPP" "$B/models/$m.tflite" "$D/$n.in" --option Policy=low-power --option CoreMask=0x20 \
	--save-output "$T/opt.bin" >"$T/opt.log" 2>&1 && cmp -s "$T/opt.bin" "$D/$n.apu"; then
	ok "$n: backend options Policy=low-power CoreMask=0x20 (the tiny core alone): same output"
else
	bad "$n: backend options: $(tail -n 3 "$T/opt.log" | tr '\n' ' ')"
fi
[ "$mode" = host ] || exit $fail
# Bad options: reported, naming them, and the backend steps aside.
for bad in "Policy=fastest|unknown policy 'fastest'" "DeadlineUs=soon|DeadlineUs: 'soon' is not" \
	"CoreMask=0x1ffffffff|CoreMask: '0x1ffffffff' is not" "Colour=blue|unknown backend option 'Colour'"; do
	opt=${bad%%|*}
	if "$CPP" "$B/models/$m.tflite" "$D/$n.in" --option "$opt" --save-output "$T/opt.bin" \
		>"$T/opt.log" 2>&1 && grep -qF "${bad#*|}" "$T/opt.log" &&
		cmp -s "$T/opt.bin" "$D/$n.ref" && ! grep -q 'ApuNpu' <(grep '^layers:' "$T/opt.log"); then
		ok "$n: option $opt is reported, naming it, and the backend steps aside (CpuRef runs all)"
	else
		bad "$n: option $opt: $(tail -n 3 "$T/opt.log" | tr '\n' ' ')"
	fi
done
# No such device: the runtime goes on without the backend (CpuRef runs all).
if "$CPP" "$B/models/$m.tflite" "$D/$n.in" --option Device=/dev/accel/nonexistent \
	--save-output "$T/none.bin" >"$T/none.log" 2>&1 && cmp -s "$T/none.bin" "$D/$n.ref" &&
	! grep -q 'ApuNpu' <(grep '^layers:' "$T/none.log"); then
	ok "$n: without its device the backend steps aside and CpuRef runs the network"
else
	bad "$n: without a device: $(tr '\n' ' ' <"$T/none.log" | cut -c1-300)"
fi
exit $fail
