// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: DRM accel driver for the APU neural processing unit.
 *
 * This file holds the bus-independent core: the DRM driver, its ioctl table,
 * the hardware identity check and module registration. Bus front ends
 * (apu_pci.c) map the registers and call apu_device_init().
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/module.h>
#include <linux/pci.h>
#include <drm/drm_accel.h>
#include <drm/drm_drv.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_print.h>
#include <drm/apu_accel.h>

#include "apu_device.h"

#define APU_DRIVER_MAJOR	0
#define APU_DRIVER_MINOR	1
#define APU_DRIVER_PATCHLEVEL	0

static const struct drm_ioctl_desc apu_ioctls[] = {
	DRM_IOCTL_DEF_DRV(APU_QUERY, apu_ioctl_query, DRM_RENDER_ALLOW),
};

DEFINE_DRM_ACCEL_FOPS(apu_fops);

const struct drm_driver apu_drm_driver = {
	.driver_features = DRIVER_COMPUTE_ACCEL,
	.ioctls = apu_ioctls,
	.num_ioctls = ARRAY_SIZE(apu_ioctls),
	.fops = &apu_fops,
	.name = "apu",
	.desc = "APU neural processing unit",
	.major = APU_DRIVER_MAJOR,
	.minor = APU_DRIVER_MINOR,
	.patchlevel = APU_DRIVER_PATCHLEVEL,
};

/* Read the core count and each core's figures; refuse what makes no sense. */
static int apu_read_cores(struct apu_device *adev)
{
	u32 n = apu_read(adev, APU_REG_NUM_CORES), i;

	if (n < 1 || n > APU_DRV_MAX_CORES) {
		drm_err(&adev->drm, "the device reports %u cores; 1 to %u are supported\n",
			n, APU_DRV_MAX_CORES);
		return -ENODEV;
	}
	for (i = 0; i < n; i++) {
		struct apu_core *c = &adev->cores[i];
		u32 base = APU_CORE_BASE(i);

		c->core_class = apu_read(adev, base + APU_CORE_CLASS);
		c->macs_per_cycle = apu_read(adev, base + APU_CORE_MACS_PER_CYCLE);
		c->clock_mhz = apu_read(adev, base + APU_CORE_CLOCK_MHZ);
		c->sram_bytes = apu_read(adev, base + APU_CORE_SRAM_BYTES);
		c->energy_fj_per_mac = apu_read(adev, base + APU_CORE_ENERGY_FJ_PER_MAC);
		c->idle_power_uw = apu_read(adev, base + APU_CORE_IDLE_POWER_UW);
		c->bytes_per_cycle = apu_read(adev, base + APU_CORE_BYTES_PER_CYCLE);
		if (c->core_class > APU_CLASS_TINY || !c->macs_per_cycle ||
		    !c->clock_mhz || !c->bytes_per_cycle) {
			drm_err(&adev->drm, "core %u reports class %u, %u MACs/cycle, %u MHz: not usable\n",
				i, c->core_class, c->macs_per_cycle, c->clock_mhz);
			return -ENODEV;
		}
	}
	adev->num_cores = n;
	return 0;
}

/**
 * apu_device_init() - check the hardware identity and boot the firmware
 * @adev: the device, with @adev->regs mapped and DMA set up by the bus
 *	  front end
 *
 * Return: 0; -ENODEV when the registers do not belong to an APU this
 * driver supports; the error of apu_fw_boot() when the firmware does not
 * start.
 */
int apu_device_init(struct apu_device *adev)
{
	u32 id = apu_read(adev, APU_REG_ID);
	u32 ver;
	int ret;

	if (id != APU_ID_MAGIC) {
		drm_err(&adev->drm,
			"identity register reads 0x%08x, expected 0x%08x: not an APU, or the device does not respond\n",
			id, APU_ID_MAGIC);
		return -ENODEV;
	}

	ver = apu_read(adev, APU_REG_VERSION);
	if (APU_VERSION_MAJOR(ver) != APU_HW_VERSION_MAJOR) {
		drm_err(&adev->drm,
			"hardware version %u.%u.%u is not supported (this driver supports %u.x)\n",
			APU_VERSION_MAJOR(ver), APU_VERSION_MINOR(ver),
			APU_VERSION_PATCH(ver), APU_HW_VERSION_MAJOR);
		return -ENODEV;
	}
	adev->hw_version = ver;

	drm_info(&adev->drm, "APU hardware %u.%u.%u\n", APU_VERSION_MAJOR(ver),
		 APU_VERSION_MINOR(ver), APU_VERSION_PATCH(ver));

	ret = apu_read_cores(adev);
	if (ret)
		return ret;

	/* Whatever ran before (an earlier driver instance), start clean. */
	apu_write(adev, APU_REG_RESET, APU_RESET_DEVICE);

	return apu_fw_boot(adev);
}

/**
 * apu_device_fini() - quiesce the device when the driver lets it go
 * @adev: the device; its DRM device is already unplugged
 *
 * Stops the firmware, so that nothing runs or reads memory without a
 * driver.
 */
void apu_device_fini(struct apu_device *adev)
{
	apu_write(adev, APU_REG_RESET, APU_RESET_DEVICE);
}

static int __init apu_init(void)
{
	return pci_register_driver(&apu_pci_driver);
}

static void __exit apu_exit(void)
{
	pci_unregister_driver(&apu_pci_driver);
}

module_init(apu_init);
module_exit(apu_exit);

MODULE_DESCRIPTION("DRM accel driver for the APU neural processing unit");
MODULE_AUTHOR("The apu authors");
MODULE_LICENSE("GPL");
MODULE_VERSION(__stringify(APU_DRIVER_MAJOR) "." __stringify(APU_DRIVER_MINOR)
	       "." __stringify(APU_DRIVER_PATCHLEVEL));
