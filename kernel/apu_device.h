/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Copyright (c) 2026 The apu authors
 */
#ifndef __APU_DEVICE_H__
#define __APU_DEVICE_H__

#include <linux/io.h>
#include <linux/types.h>
#include <drm/drm_device.h>

#include <hw/apu_hw.h>

#define APU_DRV_MAX_CORES APU_MAX_CORES

/**
 * struct apu_core - one core's figures, read at probe
 */
struct apu_core {
	u32 core_class;
	u32 macs_per_cycle;
	u32 clock_mhz;
	u32 sram_bytes;
	u32 energy_fj_per_mac;
	u32 idle_power_uw;
	u32 bytes_per_cycle;
};

/**
 * struct apu_device - one APU
 * @drm: the DRM device; its lifetime is the lifetime of this struct
 * @regs: BAR0 register block
 * @hw_version: APU_REG_VERSION, read once at probe
 * @fw_version: version of the running firmware (APU_REG_FW_VERSION)
 * @fw_abi: firmware ABI of the device (APU_REG_FW_ABI)
 * @num_cores: number of cores (APU_REG_NUM_CORES)
 * @cores: their figures
 *
 * Locking: every field is written once during probe, before the DRM device
 * is registered, and only read afterwards, so none needs a lock.
 */
struct apu_device {
	struct drm_device drm;
	void __iomem *regs;
	u32 hw_version;
	u32 fw_version;
	u32 fw_abi;
	u32 num_cores;
	struct apu_core cores[APU_DRV_MAX_CORES];
};

static inline struct apu_device *to_apu_device(struct drm_device *drm)
{
	return container_of(drm, struct apu_device, drm);
}

static inline u32 apu_read(struct apu_device *adev, u32 reg)
{
	return readl(adev->regs + reg);
}

static inline void apu_write(struct apu_device *adev, u32 reg, u32 val)
{
	writel(val, adev->regs + reg);
}

extern const struct drm_driver apu_drm_driver;
extern struct pci_driver apu_pci_driver;

int apu_device_init(struct apu_device *adev);
void apu_device_fini(struct apu_device *adev);
int apu_fw_boot(struct apu_device *adev);
void apu_debugfs_init(struct apu_device *adev);

int apu_ioctl_query(struct drm_device *drm, void *data, struct drm_file *file);

#endif /* __APU_DEVICE_H__ */
