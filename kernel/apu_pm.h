/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * apu: power management (apu_pm.c).
 *
 * Copyright (c) 2026 The apu authors
 */
#ifndef __APU_PM_H__
#define __APU_PM_H__

#include <linux/pm.h>

struct apu_core;
struct apu_device;
struct device;

extern const struct dev_pm_ops apu_pm_ops;
void apu_pm_init(struct apu_device *adev, struct device *dev);
void apu_pm_fini(struct apu_device *adev, struct device *dev);
int apu_pm_get(struct apu_device *adev);
void apu_pm_put(struct apu_device *adev);
void apu_core_power_up_locked(struct apu_core *core);
void apu_core_idle_locked(struct apu_core *core);

#endif /* __APU_PM_H__ */
