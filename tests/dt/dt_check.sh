#!/usr/bin/env bash
# The device-tree binding (docs/devicetree/npu/apu-npu.yaml), checked with
# dt-schema as the kernel's dt_binding_check would: the schema is valid, a
# board node like its example validates, and nodes that break it are refused.
set -euo pipefail
cd "$(dirname "$0")/../.."
T=$(mktemp -d /tmp/apu-dt.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "dt_check: $*" >&2; exit 1; }

dt-doc-validate -u docs/devicetree docs/devicetree/npu/apu-npu.yaml || fail "the schema is not valid"
dt-mk-schema -j docs/devicetree/ >"$T/schema.json" 2>"$T/mk.log" || fail "dt-mk-schema: $(cat "$T/mk.log")"

# A board with the node: $1 is the node's body.
board() {
	cat <<DTS
/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	model = "apu test board";
	compatible = "apu,test-board";
	interrupt-parent = <&gic>;
	gic: interrupt-controller@8000000 {
		reg = <0x0 0x8000000 0x0 0x10000>;
		interrupt-controller;
		#interrupt-cells = <3>;
	};
	apu_clk: clock {
		#clock-cells = <0>;
	};
	apu_rst: reset-controller {
		#reset-cells = <0>;
	};
	npu@19000000 {
		compatible = "apu,npu";
		reg = <0x0 0x19000000 0x0 0x10000>;
$1
	};
};
DTS
}

check() { # name expect(pass|fail) body
	board "$3" >"$T/$1.dts"
	dtc -q -I dts -O dtb -o "$T/$1.dtb" "$T/$1.dts" || fail "$1: dtc failed"
	if dt-validate -s "$T/schema.json" "$T/$1.dtb" >"$T/$1.log" 2>&1 &&
		! grep -q 'apu,npu\|npu@' "$T/$1.log"; then
		[ "$2" = pass ] || fail "$1: accepted, but the binding forbids it"
	else
		[ "$2" = fail ] || fail "$1: refused: $(cat "$T/$1.log")"
	fi
}

check per-core pass '		interrupts = <0 100 4>, <0 101 4>, <0 102 4>, <0 103 4>, <0 104 4>, <0 105 4>, <0 106 4>;
		interrupt-names = "big0", "big1", "little0", "little1", "little2", "tiny0", "error";
		clocks = <&apu_clk>;
		resets = <&apu_rst>;
		dma-coherent;'
check shared pass '		interrupts = <0 100 4>;'
check no-interrupts fail ''
check three-interrupts fail '		interrupts = <0 100 4>, <0 101 4>, <0 102 4>;'
check bad-names fail '		interrupts = <0 100 4>;
		interrupt-names = "core0";'
check unknown-property fail '		interrupts = <0 100 4>;
		apu,turbo;'
echo "dt_check: ok (schema valid; 2 good nodes accepted, 4 bad ones refused)"
