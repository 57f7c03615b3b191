/* SPDX-License-Identifier: (GPL-2.0-only WITH Linux-syscall-note) OR MIT */
/*
 * Copyright (c) 2026 The apu authors
 */
#ifndef __UAPI_APU_ACCEL_H__
#define __UAPI_APU_ACCEL_H__

#include "drm.h"

#if defined(__cplusplus)
extern "C" {
#endif

/**
 * DOC: apu accel UAPI
 *
 * The apu driver exposes one DRM accel node (``/dev/accel/accelN``) per
 * device. Conventions for every ioctl of this file:
 *
 * - Every struct is 64-bit aligned and has explicit padding. Padding and
 *   reserved fields must be zero; the kernel rejects non-zero values with
 *   -EINVAL, so they can be given a meaning later.
 * - New ioctls are only ever appended; existing ones never change number.
 * - New fields are only ever appended to a struct. The DRM core zero-fills
 *   what an older userspace does not pass.
 */

#define DRM_APU_QUERY			0x00

#define DRM_IOCTL_APU_QUERY \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_APU_QUERY, struct drm_apu_query)

/**
 * enum drm_apu_query_type - what &struct drm_apu_query reads
 */
enum drm_apu_query_type {
	/**
	 * @DRM_APU_QUERY_DEVICE: device identity and versions, returned as
	 * &struct drm_apu_query_device.
	 */
	DRM_APU_QUERY_DEVICE = 0,

	/**
	 * @DRM_APU_QUERY_CORES: the cores and their figures, returned as
	 * &struct drm_apu_query_cores.
	 */
	DRM_APU_QUERY_CORES = 1,
};

/**
 * enum drm_apu_core_class - kinds of core
 * @DRM_APU_CLASS_BIG: fastest, most energy per MAC
 * @DRM_APU_CLASS_LITTLE: slower, less energy per MAC
 * @DRM_APU_CLASS_TINY: slowest, least energy, lowest idle power
 */
enum drm_apu_core_class {
	DRM_APU_CLASS_BIG = 0,
	DRM_APU_CLASS_LITTLE = 1,
	DRM_APU_CLASS_TINY = 2,
};

/**
 * struct drm_apu_core_info - one core, as the device reports it
 */
struct drm_apu_core_info {
	/** @core: index of the core, 0 to &drm_apu_query_cores.num_cores - 1. */
	__u32 core;
	/** @core_class: one of &enum drm_apu_core_class. */
	__u32 core_class;
	/** @macs_per_cycle: int8 multiply-accumulates per cycle. */
	__u32 macs_per_cycle;
	/** @clock_mhz: core clock. */
	__u32 clock_mhz;
	/** @sram_bytes: local SRAM. */
	__u32 sram_bytes;
	/** @energy_fj_per_mac: energy per MAC in femtojoules. */
	__u32 energy_fj_per_mac;
	/** @idle_power_uw: power when idle, in microwatts. */
	__u32 idle_power_uw;
	/** @bytes_per_cycle: data the core moves per cycle. */
	__u32 bytes_per_cycle;
};

/**
 * struct drm_apu_query_cores - the cores of the device
 *
 * Returned by %DRM_APU_QUERY_CORES: this header, then @num_cores entries of
 * @entry_size bytes each (a &struct drm_apu_core_info, which may grow in
 * later kernels: step through the entries by @entry_size). A query with a
 * @size of just this header tells how many cores there are.
 */
struct drm_apu_query_cores {
	/** @num_cores: number of cores. */
	__u32 num_cores;
	/** @entry_size: bytes of each entry that follows. */
	__u32 entry_size;
};

/**
 * struct drm_apu_query_device - identity of the device
 *
 * Returned by %DRM_APU_QUERY_DEVICE. Fields are only ever appended.
 */
struct drm_apu_query_device {
	/**
	 * @hw_id: the device's identity register; identifies the register
	 * interface ("APU1" in memory order for every device this UAPI covers).
	 */
	__u32 hw_id;

	/**
	 * @hw_version: the device's hardware version: major in bits 23:16,
	 * minor in bits 15:8, patch in bits 7:0.
	 */
	__u32 hw_version;

	/**
	 * @fw_version: version of the running firmware, encoded as
	 * @hw_version.
	 */
	__u32 fw_version;

	/**
	 * @fw_abi: firmware ABI of the device: major in bits 31:16, minor in
	 * bits 15:0.
	 */
	__u32 fw_abi;

	/** @num_cores: number of cores (see %DRM_APU_QUERY_CORES). */
	__u32 num_cores;

	/** @pad: zero. */
	__u32 pad;
};

/**
 * struct drm_apu_query - argument of %DRM_IOCTL_APU_QUERY
 *
 * Reads a block of information about the device into a user buffer.
 * The size is negotiated so that the returned structs can grow:
 *
 * - With @size 0 the kernel only sets @size to the size of the complete
 *   block, and writes nothing to @data.
 * - Otherwise @size must be at least the size of the first version of the
 *   block (else -EINVAL). The kernel writes min(@size, its own size) bytes
 *   to @data, zero-fills the rest of the user's @size bytes (fields the
 *   kernel does not know of read as zero) and sets @size to the number of
 *   bytes of information it wrote.
 *
 * Errors: -EINVAL for an unknown @type, a non-zero @pad or a too small
 * @size; -EFAULT when @data cannot be written.
 */
struct drm_apu_query {
	/** @type: one of &enum drm_apu_query_type. */
	__u32 type;

	/** @size: in: bytes available at @data; out: bytes of information. */
	__u32 size;

	/** @data: user pointer to the output buffer. */
	__u64 data;

	/** @pad: must be zero. */
	__u64 pad;
};

#if defined(__cplusplus)
}
#endif

#endif /* __UAPI_APU_ACCEL_H__ */
