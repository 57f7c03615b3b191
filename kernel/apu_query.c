// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: DRM_IOCTL_APU_QUERY, size-negotiated device information.
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/stddef.h>
#include <linux/uaccess.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_print.h>
#include <drm/apu_accel.h>

#include "apu_device.h"

/* The UAPI's core classes are the hardware's: passed through unchanged. */
static_assert(DRM_APU_CLASS_BIG == APU_CLASS_BIG);
static_assert(DRM_APU_CLASS_LITTLE == APU_CLASS_LITTLE);
static_assert(DRM_APU_CLASS_TINY == APU_CLASS_TINY);
/* So are the capability bits. */
static_assert(DRM_APU_CAP_MMU == APU_FEATURE_MMU);
static_assert(DRM_APU_CAP_TIME_ACCURATE == APU_FEATURE_TIME_ACCURATE);
static_assert(DRM_APU_CAP_FAULT_INJECT == APU_FEATURE_FAULT_INJECT);
static_assert(DRM_APU_CAP_POWER_GATING == APU_FEATURE_POWER_GATING);
static_assert(DRM_APU_CAP_QUANT_OPS == APU_FEATURE_QUANT_OPS);
static_assert(DRM_APU_CAP_WRITE_LIST == APU_FEATURE_WRITE_LIST);
static_assert(DRM_APU_CAP_INT4_WEIGHTS == APU_FEATURE_INT4_WEIGHTS);
static_assert(DRM_APU_CAP_SPARSE_WEIGHTS == APU_FEATURE_SPARSE_WEIGHTS);
static_assert(DRM_APU_CAP_FP16 == APU_FEATURE_FP16);

/*
 * Copy one information block to userspace following the rules documented
 * at struct drm_apu_query: @min_size is the size of the block's first
 * version, @info_size the size this kernel knows.
 */
static int apu_query_copy(struct drm_device *drm, struct drm_apu_query *args,
			  const void *info, u32 info_size, u32 min_size)
{
	void __user *data = u64_to_user_ptr(args->data);
	u32 len;

	if (args->size == 0) {
		args->size = info_size;
		return 0;
	}
	/*
	 * Bounded: the rest of the user's size is zero-filled, and a size of
	 * 4 GiB would clear whatever the caller has mapped after @data.
	 */
	if (args->size < min_size || args->size > DRM_APU_QUERY_MAX_SIZE) {
		drm_dbg_driver(drm, "query: size %u out of [%u, %u]\n",
			       args->size, min_size, DRM_APU_QUERY_MAX_SIZE);
		return -EINVAL;
	}

	len = min(args->size, info_size);
	if (copy_to_user(data, info, len) ||
	    (args->size > len && clear_user(data + len, args->size - len))) {
		drm_dbg_driver(drm, "query: data not writable\n");
		return -EFAULT;
	}

	args->size = len;
	return 0;
}

static int apu_query_device(struct apu_device *adev, struct drm_apu_query *args)
{
	struct drm_apu_query_device info = {
		.hw_id = APU_ID_MAGIC,
		.hw_version = adev->hw_version,
		.fw_version = adev->fw_version,
		.fw_abi = adev->fw_abi,
		.num_cores = adev->num_cores,
		.va_bits = APU_MMU_VA_BITS,
		.max_bo_size = APU_BO_MAX_SIZE,
		.max_cmdbuf_size = APU_CMDBUF_MAX_SIZE,
		.max_submit_jobs = DRM_APU_MAX_SUBMIT_JOBS,
		.max_job_bos = DRM_APU_MAX_JOB_BOS,
		.max_job_syncobjs = DRM_APU_MAX_JOB_SYNCOBJS,
		.max_contexts = adev->num_ctx - 1,
		.ring_entries = APU_RING_ENTRIES,
	};
	int idx;

	/*
	 * The registers are gone with the device (an ioctl can race removal):
	 * read them inside drm_dev_enter(), and copy to userspace outside it.
	 */
	if (!drm_dev_enter(&adev->drm, &idx)) {
		drm_dbg_driver(&adev->drm, "query: the device is gone\n");
		return -ENODEV;
	}
	info.caps = apu_read(adev, APU_REG_FEATURES) &
		    (DRM_APU_CAP_MMU | DRM_APU_CAP_TIME_ACCURATE |
		     DRM_APU_CAP_FAULT_INJECT | DRM_APU_CAP_POWER_GATING |
		     DRM_APU_CAP_QUANT_OPS | DRM_APU_CAP_WRITE_LIST |
		     DRM_APU_CAP_INT4_WEIGHTS | DRM_APU_CAP_SPARSE_WEIGHTS |
		     DRM_APU_CAP_FP16);
	info.ops = apu_read(adev, APU_REG_OPS);
	drm_dev_exit(idx);

	return apu_query_copy(&adev->drm, args, &info, sizeof(info),
			      offsetofend(struct drm_apu_query_device, hw_version));
}

static int apu_query_cores(struct apu_device *adev, struct drm_apu_query *args)
{
	struct drm_apu_query_cores *h;
	struct drm_apu_core_info *e;
	size_t size = sizeof(*h) + adev->num_cores * sizeof(*e);
	u32 i;
	int ret;

	h = kzalloc(size, GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	h->num_cores = adev->num_cores;
	h->entry_size = sizeof(*e);
	e = (struct drm_apu_core_info *)(h + 1);
	for (i = 0; i < adev->num_cores; i++) {
		const struct apu_core *c = &adev->cores[i];

		e[i].core = i;
		e[i].core_class = c->core_class;
		e[i].macs_per_cycle = c->macs_per_cycle;
		e[i].clock_mhz = c->clock_mhz;
		e[i].sram_bytes = c->sram_bytes;
		e[i].energy_fj_per_mac = c->energy_fj_per_mac;
		e[i].idle_power_uw = c->idle_power_uw;
		e[i].bytes_per_cycle = c->bytes_per_cycle;
		e[i].fp16_macs_per_cycle = c->fp16_macs_per_cycle;
	}
	ret = apu_query_copy(&adev->drm, args, h, size, sizeof(*h));
	kfree(h);
	return ret;
}

int apu_ioctl_query(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct apu_device *adev = to_apu_device(drm);
	struct drm_apu_query *args = data;

	if (args->pad) {
		drm_dbg_driver(drm, "query: pad not zero\n");
		return -EINVAL;
	}

	switch (args->type) {
	case DRM_APU_QUERY_DEVICE:
		return apu_query_device(adev, args);
	case DRM_APU_QUERY_CORES:
		return apu_query_cores(adev, args);
	default:
		drm_dbg_driver(drm, "query: type %u unknown\n", args->type);
		return -EINVAL;
	}
}
