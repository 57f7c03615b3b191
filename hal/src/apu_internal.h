/* SPDX-License-Identifier: MIT */
/* Internal declarations of libapu; not installed. */
#ifndef APU_INTERNAL_H
#define APU_INTERNAL_H

#include "apu/apu.h"

/* Default places of the accel class in sysfs and of the nodes in /dev. */
#define APU_SYSFS_ACCEL "/sys/class/accel"
#define APU_DEV_ACCEL   "/dev/accel"
/* Kernel driver name, as in sysfs and DRM_IOCTL_VERSION. */
#define APU_DRIVER_NAME "apu"

/*
 * apu_enumerate() with the sysfs class folder and the device folder given,
 * so that tests can run it over a fake tree. Hidden from the shared library.
 */
int apu_enumerate_in(const char *sysfs_accel, const char *dev_accel,
		     struct apu_device_entry *entries, size_t max,
		     size_t *count);

#endif /* APU_INTERNAL_H */
