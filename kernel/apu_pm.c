// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: power management.
 *
 * Two levels:
 * - Core power gating: a core is powered up (APU_CORE_POWER) when a job
 *   is posted to it, and powered down core_idle_ms after its ring drained.
 * - Runtime PM of the device, with autosuspend: every job holds a runtime
 *   PM reference from submission (taken before drm_sched_job_arm()) to its
 *   end; runtime suspend powers every core down.
 * - System sleep: suspend stops the schedulers, waits for the rings to
 *   drain (refuses with -EBUSY otherwise) and resets the device; resume
 *   boots the firmware again and reprograms the MMU and the rings.
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/pm_runtime.h>
#include <drm/drm_drv.h>
#include <drm/drm_print.h>
#include <drm/gpu_scheduler.h>

#include "apu_device.h"
#include "apu_fw.h"
#include "apu_pm.h"

static unsigned int apu_autosuspend_ms = 100;
module_param_named(autosuspend_ms, apu_autosuspend_ms, uint, 0444);
MODULE_PARM_DESC(autosuspend_ms, "Idle time before the device runtime-suspends, in ms (default 100)");

static unsigned int apu_core_idle_ms = 10;
module_param_named(core_idle_ms, apu_core_idle_ms, uint, 0444);
MODULE_PARM_DESC(core_idle_ms, "Idle time before a core is powered down, in ms (default 10)");

static void apu_core_set_power_locked(struct apu_core *core, bool on)
{
	lockdep_assert_held(&core->lock);
	if (core->powered == on)
		return;
	apu_core_write(core, APU_CORE_POWER, on ? APU_CORE_POWER_ON : 0);
	core->powered = on;
}

/**
 * apu_core_power_up_locked() - power a core up before posting a job
 * @core: the core, with @core->lock held, inside drm_dev_enter()
 */
void apu_core_power_up_locked(struct apu_core *core)
{
	if (core->adev->power_gating)
		apu_core_set_power_locked(core, true);
}

/**
 * apu_core_idle_locked() - a core's ring drained: power it down later
 * @core: the core, with @core->lock held
 */
void apu_core_idle_locked(struct apu_core *core)
{
	lockdep_assert_held(&core->lock);
	if (core->adev->power_gating && list_empty(&core->inflight))
		mod_delayed_work(system_wq, &core->idle_work,
				 msecs_to_jiffies(apu_core_idle_ms));
}

static void apu_core_idle_work(struct work_struct *work)
{
	struct apu_core *core = container_of(to_delayed_work(work),
					     struct apu_core, idle_work);
	unsigned long flags;
	int idx;

	if (!drm_dev_enter(&core->adev->drm, &idx))
		return;
	spin_lock_irqsave(&core->lock, flags);
	if (list_empty(&core->inflight))
		apu_core_set_power_locked(core, false);
	spin_unlock_irqrestore(&core->lock, flags);
	drm_dev_exit(idx);
}

/* Power every idle core down, or every core up (after a device reset). */
static void apu_cores_set_power(struct apu_device *adev, bool on)
{
	unsigned long flags;
	u32 i;

	for (i = 0; i < adev->num_cores; i++) {
		struct apu_core *core = &adev->cores[i];

		spin_lock_irqsave(&core->lock, flags);
		if (on || list_empty(&core->inflight))
			apu_core_set_power_locked(core, on);
		spin_unlock_irqrestore(&core->lock, flags);
	}
}

/**
 * apu_pm_init() - start power management of a probed device
 * @adev: the device, started
 * @dev: the bus device whose runtime PM state is the device's
 */
void apu_pm_init(struct apu_device *adev, struct device *dev)
{
	u32 i;

	adev->power_gating = apu_read(adev, APU_REG_FEATURES) & APU_FEATURE_POWER_GATING;
	for (i = 0; i < adev->num_cores; i++) {
		INIT_DELAYED_WORK(&adev->cores[i].idle_work, apu_core_idle_work);
		adev->cores[i].powered = true;	/* the reset state */
	}
	if (adev->power_gating)
		apu_cores_set_power(adev, false);

	pm_runtime_set_autosuspend_delay(dev, apu_autosuspend_ms);
	pm_runtime_use_autosuspend(dev);
	pm_runtime_mark_last_busy(dev);
	pm_runtime_allow(dev);
	/* The bus held a reference over the probe. */
	pm_runtime_put_autosuspend(dev);
}

/**
 * apu_pm_fini() - stop power management before the device goes
 * @adev: the device
 * @dev: the bus device
 */
void apu_pm_fini(struct apu_device *adev, struct device *dev)
{
	u32 i;

	pm_runtime_get_sync(dev);
	pm_runtime_forbid(dev);
	pm_runtime_dont_use_autosuspend(dev);
	for (i = 0; i < adev->num_cores; i++)
		cancel_delayed_work_sync(&adev->cores[i].idle_work);
}

/**
 * apu_pm_get() - a runtime PM reference for a job
 * @adev: the device
 *
 * Return: 0 or a negative errno.
 */
int apu_pm_get(struct apu_device *adev)
{
	return pm_runtime_resume_and_get(adev->drm.dev);
}

/**
 * apu_pm_put() - drop a job's runtime PM reference
 * @adev: the device
 */
void apu_pm_put(struct apu_device *adev)
{
	pm_runtime_mark_last_busy(adev->drm.dev);
	pm_runtime_put_autosuspend(adev->drm.dev);
}

static int apu_runtime_suspend(struct device *dev)
{
	struct apu_device *adev = dev_get_drvdata(dev);
	int idx;

	/* A bus device that handed the APU on (platform_test) has no state. */
	if (!adev || adev->drm.dev != dev)
		return 0;
	if (!drm_dev_enter(&adev->drm, &idx))
		return 0;
	if (adev->power_gating)
		apu_cores_set_power(adev, false);
	drm_dev_exit(idx);
	return 0;
}

static int apu_runtime_resume(struct device *dev)
{
	return 0;	/* cores are powered up on demand */
}

/*
 * Stop or start every core's scheduler queue for a system sleep. Under the
 * core's reset_lock, with its @sleeping flag: a recovery restarts the
 * queue (drm_sched_start()), and stops it again while the flag is set.
 */
static void apu_sched_wqueues(struct apu_device *adev, bool run)
{
	u32 i;

	for (i = 0; i < adev->num_cores; i++) {
		struct apu_core *core = &adev->cores[i];

		mutex_lock(&core->reset_lock);
		core->sleeping = !run;
		if (run)
			drm_sched_wqueue_start(&core->sched);
		else
			drm_sched_wqueue_stop(&core->sched);
		mutex_unlock(&core->reset_lock);
	}
}

static bool apu_cores_idle(struct apu_device *adev)
{
	unsigned long flags;
	bool idle = true;
	u32 i;

	for (i = 0; i < adev->num_cores && idle; i++) {
		struct apu_core *core = &adev->cores[i];

		spin_lock_irqsave(&core->lock, flags);
		idle = list_empty(&core->inflight);
		spin_unlock_irqrestore(&core->lock, flags);
	}
	return idle;
}

/*
 * System sleep: the schedulers stop taking jobs (queued ones wait for the
 * resume), the jobs in the rings end, then the device is reset (the
 * firmware stops). Refused with -EBUSY, as ivpu does, when the rings do
 * not drain within job_timeout_ms.
 */
static int apu_pm_suspend(struct device *dev)
{
	struct apu_device *adev = dev_get_drvdata(dev);
	unsigned long end;
	int idx, ret = 0;
	u32 i;

	if (!adev || adev->drm.dev != dev)
		return 0;
	if (!drm_dev_enter(&adev->drm, &idx))
		return 0;
	apu_sched_wqueues(adev, false);
	end = jiffies + msecs_to_jiffies(apu_job_timeout_ms);
	while (!apu_cores_idle(adev)) {
		if (time_after(jiffies, end)) {
			drm_warn(&adev->drm, "jobs still running: system suspend refused\n");
			apu_sched_wqueues(adev, true);
			ret = -EBUSY;
			goto out;
		}
		usleep_range(1000, 2000);
	}
	for (i = 0; i < adev->num_cores; i++)
		cancel_delayed_work_sync(&adev->cores[i].idle_work);
	apu_write(adev, APU_REG_IRQ_MASK, 0);
	/* Synchronous: the device touches no memory after this. */
	apu_write(adev, APU_REG_RESET, APU_RESET_DEVICE);
out:
	drm_dev_exit(idx);
	return ret;
}

/*
 * The device may have lost power: boot the firmware again, point the MMU
 * at the context table, program the rings, and let the schedulers run.
 */
static int apu_pm_resume(struct device *dev)
{
	struct apu_device *adev = dev_get_drvdata(dev);
	unsigned long flags;
	int idx, ret;
	u32 i;

	if (!adev || adev->drm.dev != dev)
		return 0;
	if (!drm_dev_enter(&adev->drm, &idx))
		return 0;
	apu_write(adev, APU_REG_RESET, APU_RESET_DEVICE);
	ret = apu_fw_boot(adev);
	for (i = 0; i < adev->num_cores; i++) {
		struct apu_core *core = &adev->cores[i];

		spin_lock_irqsave(&core->lock, flags);
		core->powered = true;	/* the reset state */
		spin_unlock_irqrestore(&core->lock, flags);
	}
	apu_device_start(adev);
	if (adev->power_gating)
		apu_cores_set_power(adev, false);
	/* Without firmware the jobs fail at their timeout, as after a hang. */
	apu_sched_wqueues(adev, true);
	drm_dev_exit(idx);
	return ret;
}

const struct dev_pm_ops apu_pm_ops = {
	SYSTEM_SLEEP_PM_OPS(apu_pm_suspend, apu_pm_resume)
	RUNTIME_PM_OPS(apu_runtime_suspend, apu_runtime_resume, NULL)
};
