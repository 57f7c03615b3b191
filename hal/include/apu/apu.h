/* SPDX-License-Identifier: MIT */
/*
 * libapu - userspace HAL for the APU neural processing unit.
 *
 * Conventions (see docs/hal.md):
 * - Handles are opaque; every object is created and destroyed by libapu.
 * - Functions that can fail return 0 or a negative errno value; turn one into
 *   text with apu_strerror(). Functions never print.
 * - The library keeps no global state. A struct apu_device may be used from
 *   several threads at once: everything reachable from it is read-only after
 *   apu_device_open() returns. Closing it while another thread uses it is
 *   the caller's error.
 */
#ifndef APU_APU_H
#define APU_APU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define APU_API __attribute__((visibility("default")))
#else
#define APU_API
#endif

/** Version of this header; bumped when the API grows. */
#define APU_HAL_VERSION_MAJOR 0
#define APU_HAL_VERSION_MINOR 1

/** Longest path libapu returns, including the terminating NUL. */
#define APU_PATH_MAX 64

/** One APU found by apu_enumerate(). */
struct apu_device_entry {
	/** Device node, e.g. "/dev/accel/accel0". */
	char node[APU_PATH_MAX];
	/** Name of the parent bus device, e.g. "0000:00:04.0". */
	char bus_id[APU_PATH_MAX];
	/** Minor number of the accel node (N of accelN). */
	unsigned int minor;
};

/**
 * apu_enumerate() - list the APUs of this system, ordered by minor number
 * @entries: array of @max entries to fill; may be NULL when @max is 0
 * @max:     size of @entries
 * @count:   set to the number of APUs found, which may exceed @max (then only
 *           the first @max are written)
 *
 * Looks at /sys/class/accel for nodes driven by the "apu" kernel driver.
 * A system without the accel class has zero APUs, which is not an error.
 *
 * Return: 0, -EINVAL for bad arguments, or another negative errno when
 * sysfs cannot be read.
 */
APU_API int apu_enumerate(struct apu_device_entry *entries, size_t max,
			  size_t *count);

struct apu_device;

/**
 * apu_device_open() - open an APU by its device node
 * @node: path such as "/dev/accel/accel0"
 * @out:  set to the new handle on success
 *
 * Return: 0; -EINVAL for NULL arguments; -ENOENT, -EACCES (...) when the node
 * cannot be opened; -ENODEV when the node does not belong to the apu driver;
 * -EPROTO when the driver's answers do not make sense to this library.
 */
APU_API int apu_device_open(const char *node, struct apu_device **out);

/**
 * apu_device_open_index() - open the @index-th APU of apu_enumerate()
 *
 * Return: as apu_device_open(); -ENODEV when there are not that many APUs.
 */
APU_API int apu_device_open_index(unsigned int index, struct apu_device **out);

/** apu_device_close() - close a handle; NULL is ignored. */
APU_API void apu_device_close(struct apu_device *dev);

/** apu_device_fd() - the DRM file descriptor (owned by the handle). */
APU_API int apu_device_fd(const struct apu_device *dev);

/** Identity of an opened APU. */
struct apu_device_info {
	/** Device node the handle was opened from. */
	char node[APU_PATH_MAX];
	/** Kernel driver name ("apu") and version. */
	char driver_name[32];
	int driver_major, driver_minor, driver_patch;
	/** Identity register of the hardware. */
	uint32_t hw_id;
	/** Hardware version. */
	unsigned int hw_major, hw_minor, hw_patch;
	/** Version of the firmware the device runs. */
	unsigned int fw_major, fw_minor, fw_patch;
	/** Firmware ABI (command formats) of the device. */
	unsigned int fw_abi_major, fw_abi_minor;
	/** Number of cores; see apu_device_get_core(). */
	unsigned int num_cores;
};

/** Kinds of core. */
enum apu_core_class {
	APU_CORE_BIG = 0,	/**< fastest, most energy per MAC */
	APU_CORE_LITTLE = 1,	/**< slower, less energy per MAC */
	APU_CORE_TINY = 2,	/**< slowest, least energy, lowest idle power */
};

/** One core, as the device reports it. */
struct apu_core_info {
	unsigned int index;
	enum apu_core_class core_class;
	unsigned int macs_per_cycle;	/**< int8 multiply-accumulates per cycle */
	unsigned int clock_mhz;
	unsigned int sram_bytes;
	unsigned int energy_fj_per_mac;	/**< femtojoules per MAC */
	unsigned int idle_power_uw;	/**< microwatts when idle */
	unsigned int bytes_per_cycle;	/**< data movement rate */
};

/**
 * apu_device_get_core() - figures of core @index of an opened APU
 *
 * Return: 0; -EINVAL for NULL arguments or @index >= num_cores.
 */
APU_API int apu_device_get_core(const struct apu_device *dev, unsigned int index,
				struct apu_core_info *info);

/** apu_core_class_name() - "big", "little", "tiny" or "unknown". */
APU_API const char *apu_core_class_name(enum apu_core_class core_class);

/**
 * apu_device_get_info() - identity and versions of an opened APU
 *
 * Return: 0, or -EINVAL for NULL arguments.
 */
APU_API int apu_device_get_info(const struct apu_device *dev,
				struct apu_device_info *info);

/**
 * apu_strerror() - a message for a libapu return value
 * @err: a negative errno value returned by libapu (positive values are
 *       accepted too)
 *
 * Return: a static, constant string; never NULL. Thread-safe.
 */
APU_API const char *apu_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* APU_APU_H */
