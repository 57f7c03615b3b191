// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: DRM accel driver for the APU neural processing unit.
 *
 * This file holds the bus-independent core: the DRM driver, its ioctl table,
 * the hardware identity check, probe and removal, and module registration.
 * Bus front ends (apu_pci.c, apu_platform.c) map the registers, set up DMA
 * and call apu_device_probe() with a way to get their interrupts.
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <drm/drm_accel.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_print.h>
#include <drm/apu_accel.h>

#include "apu_client.h"
#include "apu_device.h"
#include "apu_fw.h"
#include "apu_gem.h"
#include "apu_job.h"
#include "apu_mmu.h"
#include "apu_pm.h"
#include "apu_ring.h"

#define APU_DRIVER_MAJOR	0
/* 2: enforced job BO write flags, DRM_APU_JOB_BO_NO_WAIT, client limits. */
#define APU_DRIVER_MINOR	3
#define APU_DRIVER_PATCHLEVEL	0

/*
 * Flags 0, as accel drivers have them: an accel node has neither render nor
 * primary clients, so neither DRM_RENDER_ALLOW nor DRM_AUTH means anything;
 * access is the node's file mode.
 */
static const struct drm_ioctl_desc apu_ioctls[] = {
	DRM_IOCTL_DEF_DRV(APU_QUERY, apu_ioctl_query, 0),
	DRM_IOCTL_DEF_DRV(APU_BO_CREATE, apu_ioctl_bo_create, 0),
	DRM_IOCTL_DEF_DRV(APU_BO_INFO, apu_ioctl_bo_info, 0),
	DRM_IOCTL_DEF_DRV(APU_BO_WAIT, apu_ioctl_bo_wait, 0),
	DRM_IOCTL_DEF_DRV(APU_SUBMIT, apu_ioctl_submit, 0),
	DRM_IOCTL_DEF_DRV(APU_JOB_INFO, apu_ioctl_job_info, 0),
	DRM_IOCTL_DEF_DRV(APU_JOB_WAIT, apu_ioctl_job_wait, 0),
};

/**
 * apu_file_release() - free a file's state once its last job is gone
 * @kref: &apu_file.refcount
 */
void apu_file_release(struct kref *kref)
{
	struct apu_file *afile = container_of(kref, struct apu_file, refcount);
	struct apu_job_result *r, *tmp;

	list_for_each_entry_safe(r, tmp, &afile->results, node) {
		list_del(&r->node);
		apu_job_result_put(r);
	}
	xa_destroy(&afile->results_xa);
	apu_vm_put(afile->vm);
	/* The file's address space goes: it no longer counts. */
	if (afile->client)
		apu_client_close(afile->adev, afile->client);
	mutex_destroy(&afile->results_lock);
	kfree(afile);
}

static const enum drm_sched_priority apu_sched_prio[APU_NUM_PRIOS] = {
	[DRM_APU_JOB_PRIORITY_LOW] = DRM_SCHED_PRIORITY_LOW,
	[DRM_APU_JOB_PRIORITY_NORMAL] = DRM_SCHED_PRIORITY_NORMAL,
	[DRM_APU_JOB_PRIORITY_HIGH] = DRM_SCHED_PRIORITY_HIGH,
};

/* Destroy the first @count entities (in [prio][core] order) of @afile. */
static void apu_file_entities_fini(struct apu_device *adev,
				   struct apu_file *afile, u32 count)
{
	u32 i;

	for (i = 0; i < count; i++)
		if (i % APU_DRV_MAX_CORES < adev->num_cores)
			drm_sched_entity_destroy(&afile->entities[i / APU_DRV_MAX_CORES]
								 [i % APU_DRV_MAX_CORES]);
}

/* A new file: its own address space, and an entity per priority and core. */
static int apu_open(struct drm_device *drm, struct drm_file *file)
{
	struct apu_device *adev = to_apu_device(drm);
	struct apu_file *afile;
	u32 i, n = 0;
	int ret;

	afile = kzalloc(sizeof(*afile), GFP_KERNEL_ACCOUNT);
	if (!afile)
		return -ENOMEM;
	kref_init(&afile->refcount);
	afile->adev = adev;
	mutex_init(&afile->results_lock);
	INIT_LIST_HEAD(&afile->results);
	xa_init(&afile->results_xa);

	afile->client = apu_client_open(adev);
	if (IS_ERR(afile->client)) {
		ret = PTR_ERR(afile->client);
		afile->client = NULL;
		goto err;
	}

	afile->vm = apu_vm_create(adev, false);
	if (IS_ERR(afile->vm)) {
		ret = PTR_ERR(afile->vm);
		drm_dbg_driver(drm, "no address space for a new file: %d\n", ret);
		afile->vm = NULL;
		goto err;
	}

	for (i = 0; i < APU_NUM_PRIOS * APU_DRV_MAX_CORES; i++) {
		u32 prio = i / APU_DRV_MAX_CORES, c = i % APU_DRV_MAX_CORES;

		if (c >= adev->num_cores)
			continue;
		ret = drm_sched_entity_init(&afile->entities[prio][c],
					    apu_sched_prio[prio],
					    adev->cores[c].sched_list, 1, NULL);
		if (ret)
			goto err;
		n = i + 1;
	}
	file->driver_priv = afile;
	return 0;

err:
	apu_file_entities_fini(adev, afile, n);
	apu_file_put(afile);
	return ret;
}

static void apu_postclose(struct drm_device *drm, struct drm_file *file)
{
	struct apu_device *adev = to_apu_device(drm);
	struct apu_file *afile = file->driver_priv;

	/* Queued jobs still run; those that cannot are canceled. */
	apu_file_entities_fini(adev, afile, APU_NUM_PRIOS * APU_DRV_MAX_CORES);
	apu_file_put(afile);
}

/* DRM fdinfo: busy time per core, and memory. */
static void apu_show_fdinfo(struct drm_printer *p, struct drm_file *file)
{
	struct apu_device *adev = to_apu_device(file->minor->dev);
	struct apu_file *afile = file->driver_priv;
	u32 i;

	for (i = 0; i < adev->num_cores; i++)
		drm_printf(p, "drm-engine-%s:\t%llu ns\n", adev->cores[i].name,
			   (u64)atomic64_read(&afile->busy_ns[i]));
	for (i = 0; i < adev->num_cores; i++)
		drm_printf(p, "apu-jobs-%s:\t%llu\n", adev->cores[i].name,
			   (u64)atomic64_read(&afile->jobs_done[i]));
	drm_show_memory_stats(p, file);
}

static const struct file_operations apu_fops = {
	.owner = THIS_MODULE,
	DRM_ACCEL_FOPS,
	.show_fdinfo = drm_show_fdinfo,
};

const struct drm_driver apu_drm_driver = {
	.driver_features = DRIVER_GEM | DRIVER_SYNCOBJ | DRIVER_COMPUTE_ACCEL,
	.open = apu_open,
	.postclose = apu_postclose,
	.gem_create_object = apu_gem_create_object,
	.gem_prime_import_sg_table = drm_gem_shmem_prime_import_sg_table,
	.show_fdinfo = apu_show_fdinfo,
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
	bool fp16 = apu_read(adev, APU_REG_FEATURES) & APU_FEATURE_FP16;

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
		/* The register exists from firmware ABI 1.6 (APU_FEATURE_FP16). */
		c->fp16_macs_per_cycle = fp16 ?
			apu_read(adev, base + APU_CORE_FP16_MACS_PER_CYCLE) : 0;
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

	spin_lock_init(&adev->fault_lock);
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

	ret = apu_clients_init(adev);
	if (ret)
		return ret;
	ret = apu_mmu_init(adev);
	if (ret)
		return ret;
	ret = apu_cores_init(adev);
	if (ret)
		return ret;
	return apu_fw_boot(adev);
}

/**
 * apu_device_start() - let the cores take jobs
 * @adev: the device, booted, with its interrupts requested
 */
void apu_device_start(struct apu_device *adev)
{
	apu_mmu_hw_init(adev);
	apu_cores_hw_init(adev);
}

/**
 * apu_device_fini() - quiesce the device when the driver lets it go
 * @adev: the device; its DRM device is already unplugged
 *
 * Stops the firmware and the cores (the reset is synchronous), so that
 * nothing runs or reads memory without a driver, and ends the jobs that
 * were in the rings. The rest goes with the DRM device, after the last
 * file is closed.
 */
void apu_device_fini(struct apu_device *adev)
{
	apu_write(adev, APU_REG_RESET, APU_RESET_DEVICE);
	apu_cores_cancel(adev);
}

/*
 * Interrupts: one per core plus one for device errors when the bus gives
 * that many, else one line shared by everything.
 */
static int apu_request_irqs(struct apu_device *adev, const int *irqs,
			    unsigned int n)
{
	struct device *dev = adev->drm.dev;
	unsigned int i;
	int ret;

	if (n >= adev->num_cores + 1) {
		for (i = 0; i < adev->num_cores; i++) {
			ret = devm_request_irq(dev, irqs[i], apu_irq_core, 0,
					       adev->cores[i].name, &adev->cores[i]);
			if (ret)
				return dev_err_probe(dev, ret,
						     "no interrupt for core %u\n", i);
		}
		ret = devm_request_irq(dev, irqs[i], apu_irq_error, 0, "apu-error",
				       adev);
		adev->num_vectors = adev->num_cores + 1;
	} else if (n >= 1) {
		ret = devm_request_irq(dev, irqs[0], apu_irq_shared, IRQF_SHARED,
				       KBUILD_MODNAME, adev);
		adev->num_vectors = 1;
	} else {
		ret = -ENODEV;
	}
	if (ret)
		return dev_err_probe(dev, ret, "cannot request interrupts\n");
	return 0;
}

/**
 * apu_device_probe() - bring up an APU found by a bus front end
 * @adev: the device: registers mapped, DMA set up, drvdata set
 * @get_irqs: the front end's interrupts: fills at most @max Linux IRQ
 *	      numbers (called once the core count is known; one per core plus
 *	      one for device errors, or a single shared one) and returns how
 *	      many, or a negative errno
 * @ctx: passed to @get_irqs
 *
 * Checks the identity, boots the firmware, requests the interrupts, starts
 * the cores and registers the accel node.
 *
 * Return: 0, or a negative errno with the device quiesced again.
 */
int apu_device_probe(struct apu_device *adev,
		     int (*get_irqs)(void *ctx, struct apu_device *adev,
				     int *irqs, unsigned int max),
		     void *ctx)
{
	int irqs[APU_DRV_MAX_CORES + 1];
	int ret, n;

	ret = apu_device_init(adev);
	if (ret)
		goto err;
	n = get_irqs(ctx, adev, irqs, adev->num_cores + 1);
	ret = n < 0 ? n : apu_request_irqs(adev, irqs, n);
	if (ret)
		goto err;
	apu_device_start(adev);

	ret = drm_dev_register(&adev->drm, 0);
	if (ret) {
		dev_err_probe(adev->drm.dev, ret, "cannot register the DRM device\n");
		goto err;
	}
	apu_debugfs_init(adev);
	apu_pm_init(adev, adev->drm.dev);
	return 0;

err:
	apu_device_fini(adev);
	return ret;
}

/*
 * The device's DMA memory at its removal. Files, their address spaces and
 * buffers can outlive the removal (until they are closed), but nothing may
 * stay mapped for a device its driver left: the page tables and the context
 * table, every buffer's pages (the pages stay, for CPU mappings), the rings
 * and completion records go now; what is torn down later skips them.
 */
static void apu_dma_release(struct apu_device *adev)
{
	apu_mmu_release(adev);
	apu_gem_dma_release(adev);
	apu_cores_dma_release(adev);
}

/**
 * apu_device_remove() - the bus device goes (unbind, unplug, rmmod)
 * @adev: the device
 *
 * Unplugs the DRM device (open files then get -ENODEV), quiesces the
 * hardware and gives back its DMA memory; the rest goes with the last file.
 */
void apu_device_remove(struct apu_device *adev)
{
	apu_pm_fini(adev, adev->drm.dev);
	drm_dev_unplug(&adev->drm);
	apu_device_fini(adev);
	apu_dma_release(adev);
}

static int __init apu_init(void)
{
	int ret;

	ret = apu_gem_init();
	if (ret)
		return ret;
	/* First: the PCI front end may create a platform device (its test). */
	ret = platform_driver_register(&apu_platform_driver);
	if (ret)
		goto err_gem;
	ret = pci_register_driver(&apu_pci_driver);
	if (ret)
		goto err_platform;
	return 0;

err_platform:
	platform_driver_unregister(&apu_platform_driver);
err_gem:
	apu_gem_exit();
	return ret;
}

static void __exit apu_exit(void)
{
	pci_unregister_driver(&apu_pci_driver);
	platform_driver_unregister(&apu_platform_driver);
	apu_gem_exit();
}

module_init(apu_init);
module_exit(apu_exit);

MODULE_DESCRIPTION("DRM accel driver for the APU neural processing unit");
MODULE_AUTHOR("The apu authors");
MODULE_LICENSE("GPL");
MODULE_VERSION(__stringify(APU_DRIVER_MAJOR) "." __stringify(APU_DRIVER_MINOR)
	       "." __stringify(APU_DRIVER_PATCHLEVEL));
