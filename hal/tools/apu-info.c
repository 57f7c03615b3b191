// SPDX-License-Identifier: MIT
/* apu-info: list the APUs of this system and what the HAL reads from them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apu/apu.h>

static int show(const struct apu_device_entry *e)
{
	struct apu_device_info info;
	struct apu_device *dev;
	unsigned int i;
	int ret;

	ret = apu_device_open(e->node, &dev);
	if (ret) {
		fprintf(stderr, "apu-info: %s: %s\n", e->node, apu_strerror(ret));
		return 1;
	}
	ret = apu_device_get_info(dev, &info, sizeof(info));
	if (ret) {
		fprintf(stderr, "apu-info: %s: %s\n", e->node, apu_strerror(ret));
		apu_device_close(dev);
		return 1;
	}
	printf("%s (bus %s)\n", info.node, e->bus_id[0] ? e->bus_id : "?");
	printf("  driver:           %s %d.%d.%d\n", info.driver_name,
	       info.driver_major, info.driver_minor, info.driver_patch);
	printf("  hardware id:      0x%08x (\"%c%c%c%c\")\n", info.hw_id,
	       info.hw_id & 0xff, (info.hw_id >> 8) & 0xff,
	       (info.hw_id >> 16) & 0xff, info.hw_id >> 24);
	printf("  hardware version: %u.%u.%u\n", info.hw_major, info.hw_minor,
	       info.hw_patch);
	printf("  firmware:         %u.%u.%u (ABI %u.%u)\n", info.fw_major,
	       info.fw_minor, info.fw_patch, info.fw_abi_major, info.fw_abi_minor);
	printf("  capabilities:     %s%s%s%s%s\n", info.caps & APU_CAP_MMU ? "mmu " : "",
	       info.caps & APU_CAP_TIME_ACCURATE ? "time-accurate " : "",
	       info.caps & APU_CAP_FAULT_INJECT ? "fault-injection " : "",
	       info.caps & APU_CAP_POWER_GATING ? "power-gating " : "",
	       info.caps & APU_CAP_FP16 ? "fp16" : "");
	printf("  limits:           buffers up to %llu MiB, %u processes, %u queued jobs per core\n",
	       (unsigned long long)(info.max_buffer_size >> 20), info.max_contexts,
	       info.ring_entries);
	printf("  cores:            %u\n", info.num_cores);
	printf("    core  class   MACs/cycle  clock MHz  SRAM KiB  fJ/MAC  idle uW  GMAC/s  fp16 MACs/cycle\n");
	for (i = 0; i < info.num_cores; i++) {
		struct apu_core_info c;

		if (apu_device_get_core(dev, i, &c, sizeof(c)))
			continue;
		printf("    %4u  %-6s  %10u  %9u  %8u  %6u  %7u  %6.1f  %15u\n", c.index,
		       apu_core_class_name(c.core_class), c.macs_per_cycle,
		       c.clock_mhz, c.sram_bytes / 1024, c.energy_fj_per_mac,
		       c.idle_power_uw, c.macs_per_cycle * (double)c.clock_mhz / 1000,
		       c.fp16_macs_per_cycle);
	}
	apu_device_close(dev);
	return 0;
}

int main(int argc, char **argv)
{
	struct apu_device_entry *entries;
	size_t count, i;
	int ret, bad = 0;

	if (argc > 1) {
		fprintf(stderr, "usage: %s\nLists the APUs of this system.\n", argv[0]);
		return strcmp(argv[1], "--help") && strcmp(argv[1], "-h") ? 2 : 0;
	}
	ret = apu_enumerate(NULL, 0, &count);
	if (ret) {
		fprintf(stderr, "apu-info: cannot list devices: %s\n", apu_strerror(ret));
		return 1;
	}
	if (count == 0) {
		fprintf(stderr, "apu-info: no APU found (is the apu module loaded?)\n");
		return 1;
	}
	entries = calloc(count, sizeof(*entries));
	if (!entries)
		return 1;
	ret = apu_enumerate(entries, count, &count);
	if (ret) {
		fprintf(stderr, "apu-info: cannot list devices: %s\n", apu_strerror(ret));
		free(entries);
		return 1;
	}
	printf("%zu APU%s found\n", count, count == 1 ? "" : "s");
	for (i = 0; i < count; i++)
		bad |= show(&entries[i]);
	free(entries);
	return bad;
}
