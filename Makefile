# apu: the one entry point.
#
#   make          set up (installs packages when missing) and build everything
#   make check    set up, build, run every test tier; ends with "N passed, N failed"
#   make demo     boot the emulated APU, load the driver, show what the HAL reads
#   make bench    measure (not test) speed: see docs/performance.md
#   make clean    remove build outputs in the tree (not the QEMU cache)
#
# Variables: KDIR (kernel build tree for apu.ko; default: Debian's
# $(KERNEL_SERIES) headers), APU_CACHE (downloads and the QEMU build; default
# ~/.cache/apu), APU_ACCEL (auto|kvm|tcg), V=1 (verbose).

include scripts/versions.env

APU_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/apu
export APU_CACHE
BUILD := $(CURDIR)/build
export APU_BUILD := $(BUILD)

CC ?= gcc
CFLAGS ?= -O2 -g
HARNESS_DIR := $(APU_CACHE)/linux-extract/tools/testing/selftests
KVER = $(shell ls -1 /boot/vmlinuz-$(KERNEL_SERIES).*-amd64 2>/dev/null | sort -V | tail -n 1 | sed 's|/boot/vmlinuz-||')
KDIR ?= /lib/modules/$(KVER)/build

DRM_CFLAGS = $(shell pkg-config --cflags libdrm)
DRM_LIBS = $(shell pkg-config --libs libdrm)
WARN := -Wall -Wextra -Werror
HAL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) -Ihal/include -Ihal/src -Iuapi -Iinclude $(DRM_CFLAGS)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

HAL_VERSION := 0.3.0
# libapu's own version: its major is the SONAME's, bumped when the ABI breaks.
HAL_LIB_VERSION := 1.0.0
HAL_SONAME := libapu.so.1
HAL_SRCS := $(wildcard hal/src/*.c)
# Extra link flags of programs only (the arm64 guest build links them static).
EXE_LDFLAGS ?=
# The tools find libapu next to them (build/bin -> build/lib, or bin -> lib
# of an install); packages set it empty.
TOOLS_RPATH ?= -Wl,-rpath,'$$ORIGIN/../lib'
HAL_HDRS := $(wildcard hal/include/apu/*.h hal/src/*.h) uapi/drm/apu_accel.h
TOOLS := $(patsubst hal/tools/%.c,$(BUILD)/bin/%,$(wildcard hal/tools/*.c))
# The example of docs/hal.md builds with the tools (it uses only the public API).
TOOLS += $(patsubst hal/examples/%.c,$(BUILD)/bin/%,$(wildcard hal/examples/*.c))
HOST_TESTS := $(patsubst tests/host/%.c,$(BUILD)/tests/host/%,$(wildcard tests/host/*.c)) \
	$(BUILD)/tests/host/engine_portable_test
GUEST_TESTS := $(patsubst tests/guest/%.c,$(BUILD)/tests/guest/%,$(wildcard tests/guest/*.c))
# Guest tests that need the debug kernel (scripts/debug-guest.sh).
GUEST_DEBUG_TESTS := $(patsubst tests/guest-debug/%.c,$(BUILD)/tests/guest-debug/%,$(wildcard tests/guest-debug/*.c))

ifneq ($(V),1)
Q := @
endif

.PHONY: all build setup check demo bench hal tools firmware module qemu sources \
	host-tests guest-tests guest-debug-tests initramfs clean
.DEFAULT_GOAL := all

# Targets a newcomer runs: each does its own set-up first, then continues in
# a sub-make so that variables read from installed packages are right.
all: setup
	$(Q)$(MAKE) --no-print-directory build
check: setup
	$(Q)scripts/check.sh
demo: setup
	$(Q)$(MAKE) --no-print-directory build
	$(Q)scripts/vm.sh demo

bench: setup
	$(Q)$(MAKE) --no-print-directory bench-run

setup:
	$(Q)scripts/setup.sh

build: models hal tools firmware module qemu host-tests guest-tests initramfs armnn-backend

sources:
	$(Q)scripts/fetch-sources.sh

# --- libapu -------------------------------------------------------------
hal: $(BUILD)/lib/libapu.so $(BUILD)/lib/libapu.a $(BUILD)/lib/pkgconfig/libapu.pc

$(BUILD)/hal/%.o: hal/src/%.c $(HAL_HDRS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HAL_CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(BUILD)/hal-san/%.o: hal/src/%.c $(HAL_HDRS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HAL_CFLAGS) $(SAN) -c $< -o $@

HAL_OBJS := $(patsubst hal/src/%.c,$(BUILD)/hal/%.o,$(HAL_SRCS))
HAL_SAN_OBJS := $(patsubst hal/src/%.c,$(BUILD)/hal-san/%.o,$(HAL_SRCS))

$(BUILD)/lib/libapu.so.$(HAL_LIB_VERSION): $(HAL_OBJS)
	@mkdir -p $(@D)
	$(Q)$(CC) -shared -Wl,-soname,$(HAL_SONAME) -Wl,--no-undefined $(LDFLAGS) -o $@ $^ $(DRM_LIBS) -lm

$(BUILD)/lib/libapu.so: $(BUILD)/lib/libapu.so.$(HAL_LIB_VERSION)
	$(Q)ln -sf libapu.so.$(HAL_LIB_VERSION) $(BUILD)/lib/$(HAL_SONAME)
	$(Q)ln -sf $(HAL_SONAME) $@

$(BUILD)/lib/libapu.a: $(HAL_OBJS)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/lib/libapu-san.a: $(HAL_SAN_OBJS)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/lib/pkgconfig/libapu.pc: hal/libapu.pc.in Makefile
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(HAL_VERSION)|' $< >$@

tools: $(TOOLS)
$(BUILD)/bin/%: hal/tools/%.c $(BUILD)/lib/libapu.so
	@mkdir -p $(@D)
	$(Q)$(CC) $(HAL_CFLAGS) $< -o $@ -L$(BUILD)/lib -lapu $(TOOLS_RPATH) $(LDFLAGS) $(TOOL_LIBS) $(EXE_LDFLAGS)

$(BUILD)/bin/%: hal/examples/%.c $(BUILD)/lib/libapu.so
	@mkdir -p $(@D)
	$(Q)$(CC) $(HAL_CFLAGS) $< -o $@ -L$(BUILD)/lib -lapu $(TOOLS_RPATH) $(LDFLAGS) $(EXE_LDFLAGS)

# Tools that read pictures (hal/tools/image_load.h) link stb_image from
# libstb-dev (TOOL_LIBS: a tool's own libraries, before EXE_LDFLAGS's static
# -lm); --as-needed: no dependency until the tool calls it.
STB_LIBS = -Wl,--as-needed $(shell pkg-config --libs stb 2>/dev/null) -Wl,--no-as-needed
$(BUILD)/bin/apu-run: hal/tools/image_load.h
$(BUILD)/bin/apu-run: TOOL_LIBS = $(STB_LIBS) -lm

# --- model data -------------------------------------------------------------
# tests/data/models (the large models split in parts) assembled and checked
# against SHA256SUMS into build/models/.
.PHONY: models
models:
	$(Q)scripts/models.sh $(BUILD)/models
	$(Q)/usr/bin/python3 tests/models/make_models.py $(BUILD)/tests/models

# --- firmware -------------------------------------------------------------
# The device-side firmware code is QEMU-style C, built here for the host
# tools and tests; QEMU builds its own copy into the device.
FW_CFLAGS = -std=c11 $(WARN) $(CFLAGS) -Iinclude -Ifirmware-stub/include -Ifirmware-stub
FW_SRCS := $(wildcard firmware-stub/apu_*.c)
FW_HDRS := $(wildcard include/hw/*.h firmware-stub/include/hw/*.h firmware-stub/*.h)

firmware: $(BUILD)/firmware/apu/apu-fw.bin

$(BUILD)/firmware-tools/mkfw: firmware-stub/mkfw.c $(FW_SRCS) $(FW_HDRS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(FW_CFLAGS) firmware-stub/mkfw.c $(FW_SRCS) -o $@ -lm

$(BUILD)/firmware/apu/apu-fw.bin: $(BUILD)/firmware-tools/mkfw
	@mkdir -p $(@D)
	$(Q)$< $@.tmp && mv $@.tmp $@

$(BUILD)/lib/libapu-fw-san.a: $(FW_SRCS) $(FW_HDRS)
	@mkdir -p $(BUILD)/fw-san
	$(Q)for f in $(FW_SRCS); do $(CC) $(FW_CFLAGS) $(SAN) -c $$f -o $(BUILD)/fw-san/$$(basename $$f .c).o || exit 1; done
	$(Q)rm -f $@ && ar rcs $@ $(patsubst firmware-stub/%.c,$(BUILD)/fw-san/%.o,$(FW_SRCS))

# --- kernel module --------------------------------------------------------
module:
	@test -d "$(KDIR)" || { echo "module: no kernel build tree at KDIR=$(KDIR); run 'make setup' or pass KDIR=" >&2; exit 1; }
	$(Q)$(MAKE) --no-print-directory -C kernel KDIR=$(KDIR) $(if $(Q),-s) modules

# --- QEMU with the APU ----------------------------------------------------
qemu:
	$(Q)scripts/build-qemu.sh

# --- Arm NN backend (frameworks/armnn, docs/frameworks.md) -----------------
# A dynamic backend: Arm NN loads <vendor>_<name>_backend.so from its
# backends folder. Its internal backend headers come from Debian's source
# package of the installed Arm NN (scripts/fetch-sources.sh armnn).
ARMNN_SRC := $(APU_CACHE)/armnn-src
ARMNN_BACKEND := $(BUILD)/armnn/Apu_ApuNpu_backend.so
ARMNN_CXXFLAGS = -std=c++14 -fPIC $(WARN) -Wno-unused-parameter -Wno-deprecated-declarations $(CFLAGS) \
	-fvisibility=hidden -Ihal/include -isystem $(ARMNN_SRC)/include -isystem $(ARMNN_SRC)/src/armnn \
	-isystem $(ARMNN_SRC)/src/armnnUtils -isystem $(ARMNN_SRC)/src/backends \
	-isystem $(ARMNN_SRC)/src/profiling -isystem $(ARMNN_SRC)/profiling/common/include \
	-isystem $(ARMNN_SRC)/profiling -isystem $(ARMNN_SRC)/third-party
ARMNN_OBJS := $(patsubst frameworks/armnn/%.cpp,$(BUILD)/armnn/%.o,$(wildcard frameworks/armnn/*.cpp))
ARMNN_RPATH ?= -Wl,-rpath,'$$ORIGIN/../lib'
.PHONY: armnn-backend
armnn-backend: $(ARMNN_BACKEND)
$(ARMNN_SRC)/.apu-source-version:
	$(Q)scripts/fetch-sources.sh armnn
$(BUILD)/armnn/%.o: frameworks/armnn/%.cpp $(wildcard frameworks/armnn/*.hpp) hal/include/apu/apu_graph.h \
		$(ARMNN_SRC)/.apu-source-version
	@mkdir -p $(dir $@)
	$(Q)$(CXX) $(ARMNN_CXXFLAGS) -c $< -o $@
# Only the three entry points are exported (the rest is hidden). The build
# tree's copy finds libapu beside it; the installed one, where it is installed.
$(ARMNN_BACKEND) $(BUILD)/armnn/install/Apu_ApuNpu_backend.so: $(ARMNN_OBJS) $(BUILD)/lib/libapu.so
	@mkdir -p $(dir $@)
	$(Q)$(CXX) -shared -o $@ $(ARMNN_OBJS) -Wl,--no-undefined -L$(BUILD)/lib -lapu -larmnn \
		-Wl,--version-script=frameworks/armnn/exports.map \
		$(if $(findstring /install/,$@),,$(ARMNN_RPATH)) $(LDFLAGS)

# The example of docs/frameworks.md (public Arm NN API only; the tests run it).
ARMNN_EXAMPLE := $(BUILD)/bin/armnn_classify
$(ARMNN_EXAMPLE): frameworks/armnn/examples/armnn_classify.cpp
	@mkdir -p $(dir $@)
	$(Q)$(CXX) -std=c++14 $(WARN) -Wno-unused-parameter $(CFLAGS) $< -o $@ -larmnn -larmnnTfLiteParser $(LDFLAGS)
armnn-backend: $(ARMNN_EXAMPLE)

# --- tests ----------------------------------------------------------------
$(HARNESS_DIR)/kselftest_harness.h:
	$(Q)scripts/fetch-sources.sh linux

# The harness compares literals with unsigned fields everywhere: its
# EXPECT_EQ(0, x) would need a cast each time, as upstream selftests do not.
# The kselftest harness itself trips -Wunused-parameter and -Wclobbered.
TEST_CFLAGS = -std=gnu11 $(WARN) -Wno-unused-parameter -Wno-clobbered -Wno-sign-compare $(CFLAGS) -I$(HARNESS_DIR) -Ihal/include -Ihal/src -Iuapi -Iinclude -Ifirmware-stub/include -Ifirmware-stub $(DRM_CFLAGS)

host-tests: $(HOST_TESTS) $(BUILD)/firmware-tools/mkfw models
# An independent oracle for the requantization arithmetic: gemmlowp (C++).
$(BUILD)/tests/host/oracle.o: tests/host/oracle/gemmlowp_oracle.cc
	@mkdir -p $(@D)
	$(Q)$(CXX) -std=c++14 $(WARN) $(CFLAGS) $(SAN) -c $< -o $@

$(BUILD)/tests/host/%: tests/host/%.c $(BUILD)/lib/libapu-san.a $(BUILD)/lib/libapu-fw-san.a $(BUILD)/tests/host/oracle.o $(HARNESS_DIR)/kselftest_harness.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) $(SAN) $< -o $@ $(BUILD)/lib/libapu-san.a $(BUILD)/lib/libapu-fw-san.a $(BUILD)/tests/host/oracle.o $(DRM_LIBS) \
		-lXNNPACK -lpthreadpool -lcpuinfo -lm -lstdc++ -lpthread

# The XNNPACK subgraph of `make bench` (tests/bench/xnn_tflite.h) against the
# reference on the real model and photos: stb_image for the photos.
$(BUILD)/tests/host/hal_xnnpack_test: tests/host/hal_xnnpack_test.c tests/bench/xnn_tflite.h hal/tools/image_load.h $(BUILD)/lib/libapu-san.a $(BUILD)/lib/libapu-fw-san.a $(BUILD)/tests/host/oracle.o $(HARNESS_DIR)/kselftest_harness.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) -Itests/bench -Ihal/tools $(SAN) $< -o $@ $(BUILD)/lib/libapu-san.a $(BUILD)/lib/libapu-fw-san.a $(BUILD)/tests/host/oracle.o $(DRM_LIBS) \
		$(STB_LIBS) -lXNNPACK -lpthreadpool -lcpuinfo -lm -lstdc++ -lpthread

# libapu's image resizing against Pillow and numpy (the test runs
# tests/host/oracle/image_oracle.py) and the tools' picture loader (stb_image).
$(BUILD)/tests/host/image_test: tests/host/image_test.c hal/tools/image_load.h $(BUILD)/lib/libapu-san.a $(HARNESS_DIR)/kselftest_harness.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) $(SAN) $< -o $@ $(BUILD)/lib/libapu-san.a $(STB_LIBS) -lm -lpthread

# The engine's portable C (what hosts without AVX2 run), tested here too.
$(BUILD)/tests/host/engine_portable_test: tests/host/engine_test.c $(FW_SRCS) $(FW_HDRS) $(BUILD)/tests/host/oracle.o $(BUILD)/lib/libapu-san.a $(HARNESS_DIR)/kselftest_harness.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) $(SAN) -DAPU_ENGINE_PORTABLE $< $(FW_SRCS) -o $@ \
		$(BUILD)/tests/host/oracle.o $(BUILD)/lib/libapu-san.a $(DRM_LIBS) -lm -lstdc++

guest-tests: $(GUEST_TESTS)
guest-debug-tests: $(GUEST_DEBUG_TESTS)
$(BUILD)/tests/guest-debug/%: tests/guest-debug/%.c $(BUILD)/lib/libapu.so $(FW_SRCS) $(FW_HDRS) $(HARNESS_DIR)/kselftest_harness.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) -Itests/guest $< $(FW_SRCS) -o $@ -L$(BUILD)/lib -lapu $(DRM_LIBS) -pthread -lm $(LDFLAGS) $(EXE_LDFLAGS)
$(BUILD)/tests/guest/%: tests/guest/%.c $(BUILD)/lib/libapu.so $(FW_SRCS) $(FW_HDRS) $(HARNESS_DIR)/kselftest_harness.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) $< $(FW_SRCS) -o $@ -L$(BUILD)/lib -lapu $(DRM_LIBS) -pthread -lm $(LDFLAGS) $(EXE_LDFLAGS)

initramfs: hal tools firmware module guest-tests guest-bench models
	$(Q)KVER=$(KVER) scripts/mkinitramfs.sh

# --- benchmarks (timings are never tests) ---------------------------------
$(BUILD)/bench/engine_bench: tests/bench/engine_bench.c $(FW_SRCS) $(FW_HDRS) $(BUILD)/lib/libapu.a
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 $(WARN) -O2 -g $(FW_CFLAGS) -Ihal/include $< $(FW_SRCS) -o $@ \
		$(BUILD)/lib/libapu.a $(DRM_LIBS) -lXNNPACK -lpthreadpool -lcpuinfo -lm -lpthread

# Int4 weights against int8: the timing model's cycles, the engine's time.
$(BUILD)/bench/int4_bench: tests/bench/int4_bench.c tests/apu_bus.h tests/bench/bench_util.h $(FW_SRCS) $(FW_HDRS) $(BUILD)/lib/libapu.a
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 $(WARN) -O2 -g $(FW_CFLAGS) -Ihal/include $< $(FW_SRCS) -o $@ \
		$(BUILD)/lib/libapu.a $(DRM_LIBS) -lm

# A whole model on XNNPACK's subgraph runtime, the peer of the NPU's inference
# in the VM (links libapu's internal TFLite reader: hal/src/tflite.h).
$(BUILD)/bench/model_xnnpack_bench: tests/bench/model_xnnpack_bench.c tests/bench/xnn_tflite.h tests/host/exec_cmds.h hal/tools/image_load.h $(FW_SRCS) $(FW_HDRS) $(BUILD)/lib/libapu.a
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 $(WARN) -O2 -g $(FW_CFLAGS) -Ihal/include -Ihal/src -Ihal/tools -Itests/host -Iuapi $< $(FW_SRCS) -o $@ \
		$(BUILD)/lib/libapu.a $(DRM_LIBS) $(STB_LIBS) -lXNNPACK -lpthreadpool -lcpuinfo -lm -lpthread

# Block-sparse 1x1 layers against the dense path: engine time, modeled cycles.
$(BUILD)/bench/sparse_bench: tests/bench/sparse_bench.c tests/apu_bus.h tests/bench/bench_util.h $(FW_SRCS) $(FW_HDRS) $(BUILD)/lib/libapu.a
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 $(WARN) -O2 -g $(FW_CFLAGS) -Ihal/include $< $(FW_SRCS) -o $@ \
		$(BUILD)/lib/libapu.a $(DRM_LIBS) -lm

# fp16 against int8: the timing model's cycles, the engine's paths.
$(BUILD)/bench/fp16_bench: tests/bench/fp16_bench.c tests/apu_bus.h tests/bench/bench_util.h $(FW_SRCS) $(FW_HDRS) $(BUILD)/lib/libapu.a
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 $(WARN) -O2 -g $(FW_CFLAGS) -Ihal/include $< $(FW_SRCS) -o $@ \
		$(BUILD)/lib/libapu.a $(DRM_LIBS) -lm

# The planner's figures (host, CPU backend: the device's timing model).
$(BUILD)/bench/sched_bench: tests/bench/sched_bench.c $(BUILD)/lib/libapu.a
	@mkdir -p $(@D)
	$(Q)$(CC) $(HAL_CFLAGS) -O2 $< -o $@ $(BUILD)/lib/libapu.a $(DRM_LIBS) -lm

# libapu's own instructions per run, with the kernel stood in (callgrind).
$(BUILD)/bench/hal_overhead: tests/bench/hal_overhead.c tests/bench/bench_net.h $(BUILD)/lib/libapu.a
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 $(WARN) -O2 -g -Ihal/include -Iuapi $(DRM_CFLAGS) $< -o $@ $(BUILD)/lib/libapu.a -lm

# Programs the VM runs in bench mode (copied to /bench of the initramfs).
GUEST_BENCH := $(patsubst tests/bench/guest/%.c,$(BUILD)/bench/guest/%,$(wildcard tests/bench/guest/*.c))
guest-bench: $(GUEST_BENCH)
$(BUILD)/bench/guest/%: tests/bench/guest/%.c tests/bench/bench_net.h tests/bench/guest/sysstat.h $(BUILD)/lib/libapu.so
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 $(WARN) -O2 -Ihal/include -Iuapi $(DRM_CFLAGS) $< -o $@ -L$(BUILD)/lib -lapu

.PHONY: bench-run guest-bench
bench-run: $(BUILD)/bench/engine_bench $(BUILD)/bench/int4_bench $(BUILD)/bench/sparse_bench $(BUILD)/bench/fp16_bench $(BUILD)/bench/sched_bench $(BUILD)/bench/hal_overhead $(BUILD)/bench/model_xnnpack_bench tools qemu initramfs
	@echo "== compute engine vs XNNPACK (one thread, MobileNet V2 convolutions)"
	$(Q)$(BUILD)/bench/engine_bench --json $(BUILD)/bench/engine.json | tee $(BUILD)/bench/engine.txt
	@echo "== whole model: MobileNet V2 on XNNPACK's subgraph runtime (host cores threads), the engine alone"
	$(Q)$(BUILD)/bench/model_xnnpack_bench --json $(BUILD)/bench/model_xnnpack.json \
		$(BUILD)/models/tf2_mobilenet_v2_1.0_224_ptq.tflite $(BUILD)/models/grace_hopper.bmp \
		| tee $(BUILD)/bench/model_xnnpack.txt
	$(Q)$(BUILD)/bench/int4_bench --json $(BUILD)/bench/int4.json | tee $(BUILD)/bench/int4.txt
	$(Q)$(BUILD)/bench/sparse_bench --json $(BUILD)/bench/sparse.json | tee $(BUILD)/bench/sparse.txt
	$(Q)$(BUILD)/bench/fp16_bench --json $(BUILD)/bench/fp16.json | tee $(BUILD)/bench/fp16.txt
	@echo "== scheduling: MobileNet V1/V2 per policy, against the bound and baselines"
	$(Q)$(BUILD)/bench/sched_bench --json $(BUILD)/bench/sched.json | tee $(BUILD)/bench/sched.txt
	$(Q)APU_BACKEND=cpu $(BUILD)/bin/apu-run --cpu --model v2 --trace $(BUILD)/bench/v2-trace.json >/dev/null
	@echo "== trained models on the host (CPU backend): load + compile, memory against the file"
	$(Q)LD_LIBRARY_PATH=$(BUILD)/lib $(BUILD)/bench/guest/model_bench --cpu --repeat 7 \
		$(BUILD)/models/*.tflite >$(BUILD)/bench/model-host.txt
	$(Q)sed -n 's/^APU-BENCH //p' $(BUILD)/bench/model-host.txt | tee $(BUILD)/bench/model-host.jsonl
	@echo "== libapu instructions per run of a one-job network (callgrind)"
	$(Q)valgrind --tool=callgrind --callgrind-out-file=$(BUILD)/bench/callgrind.out \
		--collect-atstart=no --toggle-collect=apu_network_run \
		$(BUILD)/bench/hal_overhead 1000 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/{"bench": "hal_overhead", "runs": 1000, "instructions": \1}/p' \
		| tee $(BUILD)/bench/hal_overhead.json
	@echo "== submission path, NVMe peer and memory, in the VM"
	$(Q)APU_VM_TIMEOUT=600 scripts/vm.sh bench >$(BUILD)/bench/vm.txt 2>&1 || { tail -n 30 $(BUILD)/bench/vm.txt; exit 1; }
	$(Q)cat $(BUILD)/vm/bench.jsonl
	$(Q)python3 scripts/bench-report.py $(BUILD)

# --- install: make install [DESTDIR=...] [PREFIX=/usr/local] ----------------
# The library, headers, pkg-config file and tools under PREFIX; the module
# for KVER (depmod runs when DESTDIR is empty), the firmware, and a udev rule
# giving the accel node to ACCEL_GROUP. install-dkms: the driver's sources and
# dkms.conf in /usr/src/apu-VERSION, for "dkms install apu/VERSION".
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
FIRMWAREDIR ?= /lib/firmware
UDEVRULESDIR ?= /lib/udev/rules.d
MODULEDIR ?= /lib/modules/$(KVER)/updates
DKMSDIR ?= /usr/src/apu-$(HAL_VERSION)
ACCEL_GROUP ?= render
INSTALL ?= install
# Where Debian's Arm NN 20.08 looks for dynamic backends (and installs CpuRef).
ARMNN_BACKENDDIR ?= /usr/lib/$(shell gcc -print-multiarch)/armnn22
INSTALLED_TOOLS := $(filter-out $(BUILD)/bin/apu-example,$(TOOLS))

.PHONY: install install-lib install-tools install-firmware install-udev install-module \
	install-dkms install-armnn uninstall
install: install-lib install-tools install-firmware install-udev install-module install-armnn

install-lib: hal
	$(Q)$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(INCLUDEDIR)/apu $(DESTDIR)$(INCLUDEDIR)/drm
	$(Q)$(INSTALL) -m 0644 $(BUILD)/lib/libapu.so.$(HAL_LIB_VERSION) $(BUILD)/lib/libapu.a \
		$(DESTDIR)$(LIBDIR)/
	$(Q)ln -sf libapu.so.$(HAL_LIB_VERSION) $(DESTDIR)$(LIBDIR)/$(HAL_SONAME)
	$(Q)ln -sf $(HAL_SONAME) $(DESTDIR)$(LIBDIR)/libapu.so
	$(Q)$(INSTALL) -m 0644 hal/include/apu/apu.h hal/include/apu/apu_model.h \
		hal/include/apu/apu_image.h hal/include/apu/apu_graph.h $(DESTDIR)$(INCLUDEDIR)/apu/
	$(Q)$(INSTALL) -m 0644 uapi/drm/apu_accel.h $(DESTDIR)$(INCLUDEDIR)/drm/
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(HAL_VERSION)|' \
		hal/libapu.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/libapu.pc

install-tools: tools
	$(Q)$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	$(Q)$(INSTALL) -m 0755 $(INSTALLED_TOOLS) $(DESTDIR)$(BINDIR)/
	$(Q)$(INSTALL) -m 0644 hal/man/*.1 $(DESTDIR)$(MANDIR)/man1/

install-firmware: firmware
	$(Q)$(INSTALL) -d $(DESTDIR)$(FIRMWAREDIR)/apu
	$(Q)$(INSTALL) -m 0644 $(BUILD)/firmware/apu/apu-fw.bin $(DESTDIR)$(FIRMWAREDIR)/apu/

# The Arm NN backend where Arm NN finds it, linked against the installed
# libapu (no rpath), and its example in BINDIR.
install-armnn: $(BUILD)/armnn/install/Apu_ApuNpu_backend.so $(ARMNN_EXAMPLE)
	$(Q)$(INSTALL) -d $(DESTDIR)$(ARMNN_BACKENDDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	$(Q)$(INSTALL) -m 0644 $< $(DESTDIR)$(ARMNN_BACKENDDIR)/
	$(Q)$(INSTALL) -m 0755 $(ARMNN_EXAMPLE) $(DESTDIR)$(BINDIR)/
	$(Q)$(INSTALL) -m 0644 frameworks/armnn/armnn_classify.1 $(DESTDIR)$(MANDIR)/man1/

install-udev:
	$(Q)$(INSTALL) -d $(DESTDIR)$(UDEVRULESDIR)
	$(Q)sed 's|@GROUP@|$(ACCEL_GROUP)|' packaging/udev/70-apu.rules.in \
		>$(DESTDIR)$(UDEVRULESDIR)/70-apu.rules

install-module: module
	$(Q)$(INSTALL) -d $(DESTDIR)$(MODULEDIR)
	$(Q)$(INSTALL) -m 0644 kernel/apu.ko $(DESTDIR)$(MODULEDIR)/
	$(Q)if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi

install-dkms:
	$(Q)$(INSTALL) -d $(DESTDIR)$(DKMSDIR)/kernel $(DESTDIR)$(DKMSDIR)/include/hw \
		$(DESTDIR)$(DKMSDIR)/uapi/drm
	$(Q)$(INSTALL) -m 0644 $(filter-out %.mod.c,$(wildcard kernel/*.[ch])) kernel/Kbuild \
		kernel/Makefile $(DESTDIR)$(DKMSDIR)/kernel/
	$(Q)$(INSTALL) -m 0644 include/hw/*.h $(DESTDIR)$(DKMSDIR)/include/hw/
	$(Q)$(INSTALL) -m 0644 uapi/drm/apu_accel.h $(DESTDIR)$(DKMSDIR)/uapi/drm/
	$(Q)sed 's|@VERSION@|$(HAL_VERSION)|' packaging/dkms.conf.in >$(DESTDIR)$(DKMSDIR)/dkms.conf

uninstall:
	$(Q)rm -f $(DESTDIR)$(LIBDIR)/libapu.so.$(HAL_LIB_VERSION) $(DESTDIR)$(LIBDIR)/$(HAL_SONAME) \
		$(DESTDIR)$(LIBDIR)/libapu.so $(DESTDIR)$(LIBDIR)/libapu.a \
		$(DESTDIR)$(PKGCONFIGDIR)/libapu.pc $(DESTDIR)$(INCLUDEDIR)/apu/apu.h \
		$(DESTDIR)$(INCLUDEDIR)/apu/apu_model.h $(DESTDIR)$(INCLUDEDIR)/apu/apu_image.h \
		$(DESTDIR)$(INCLUDEDIR)/apu/apu_graph.h $(DESTDIR)$(INCLUDEDIR)/drm/apu_accel.h \
		$(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(INSTALLED_TOOLS))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(wildcard hal/man/*.1))) \
		$(DESTDIR)$(FIRMWAREDIR)/apu/apu-fw.bin $(DESTDIR)$(UDEVRULESDIR)/70-apu.rules \
		$(DESTDIR)$(MODULEDIR)/apu.ko $(DESTDIR)$(ARMNN_BACKENDDIR)/Apu_ApuNpu_backend.so \
		$(DESTDIR)$(BINDIR)/armnn_classify $(DESTDIR)$(MANDIR)/man1/armnn_classify.1
	$(Q)rm -rf $(DESTDIR)$(DKMSDIR)
	$(Q)-rmdir $(DESTDIR)$(INCLUDEDIR)/apu $(DESTDIR)$(FIRMWAREDIR)/apu 2>/dev/null
	$(Q)if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi

# --- fuzzing: libFuzzer targets on the HAL's outside input (clang) ---------
# make fuzz builds them; make check-deep runs them (scripts/check-deep.sh).
FUZZ_CC ?= clang
FUZZ_CFLAGS = -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Ihal/include -Ihal/src -Iuapi -Iinclude $(DRM_CFLAGS)
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
.PHONY: fuzz check-deep
fuzz: $(FUZZ_TARGETS)
$(BUILD)/fuzz/fuzz_network $(BUILD)/fuzz/fuzz_tflite: $(BUILD)/fuzz/%: tests/fuzz/%.c $(HAL_SRCS) $(HAL_HDRS)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(HAL_SRCS) -o $@ $(DRM_LIBS) -lm -lpthread
# The device's command processor and engine (the firmware) over a simulated
# bus; a structure-aware target (docs/reliability.md).
FUZZ_CP_SRCS := firmware-stub/apu_cp.c firmware-stub/apu_ops.c firmware-stub/apu_sparse.c \
	firmware-stub/apu_fp16.c firmware-stub/apu_quant.c
$(BUILD)/fuzz/fuzz_cp: tests/fuzz/fuzz_cp.c tests/apu_bus.h $(FUZZ_CP_SRCS) $(FW_HDRS)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-unknown-attributes -Ifirmware-stub/include -Ifirmware-stub $< $(FUZZ_CP_SRCS) -o $@ -lm
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c hal/tools/apu-run.c hal/tools/apu-top.c $(BUILD)/lib/libapu.a
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $< -o $@ $(BUILD)/lib/libapu.a $(DRM_LIBS) $(STB_LIBS) -lm -lpthread

check-deep: setup
	$(Q)scripts/check-deep.sh

# The guest suite on arm64 (QEMU virt, cross-built kernel, module and
# programs); first run about 25 minutes (two builds), then about 4.
.PHONY: check-arm64
check-arm64: setup
	$(Q)scripts/setup-arm64.sh
	$(Q)scripts/arm64-guest.sh | grep -E 'guest\| (ok|not ok) |guest\| APU-GUEST:|vm.sh: FAIL'; \
	r=$(BUILD)/vm/check-arm64.result; \
	p=$$(awk '$$1 == "pass" { print $$2 }' $$r 2>/dev/null); \
	f=$$(awk '$$1 == "fail" { print $$2 }' $$r 2>/dev/null); \
	echo "$${p:-0} passed, $${f:-1} failed"; [ "$${f:-1}" = 0 ] && [ "$${p:-0}" -gt 0 ]

clean:
	rm -rf $(BUILD)
	$(MAKE) -C kernel KDIR=$(KDIR) clean >/dev/null 2>&1 || true
