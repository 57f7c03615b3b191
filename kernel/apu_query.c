// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: DRM_IOCTL_APU_QUERY, size-negotiated device information.
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/minmax.h>
#include <linux/stddef.h>
#include <linux/uaccess.h>
#include <drm/drm_file.h>
#include <drm/apu_accel.h>

#include "apu_device.h"

/*
 * Copy one information block to userspace following the rules documented
 * at struct drm_apu_query: @min_size is the size of the block's first
 * version, @info_size the size this kernel knows.
 */
static int apu_query_copy(struct drm_apu_query *args, const void *info,
			  u32 info_size, u32 min_size)
{
	void __user *data = u64_to_user_ptr(args->data);
	u32 len;

	if (args->size == 0) {
		args->size = info_size;
		return 0;
	}
	if (args->size < min_size)
		return -EINVAL;

	len = min(args->size, info_size);
	if (copy_to_user(data, info, len))
		return -EFAULT;
	if (args->size > len && clear_user(data + len, args->size - len))
		return -EFAULT;

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
	};

	return apu_query_copy(args, &info, sizeof(info),
			      offsetofend(struct drm_apu_query_device, hw_version));
}

int apu_ioctl_query(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct apu_device *adev = to_apu_device(drm);
	struct drm_apu_query *args = data;

	if (args->pad)
		return -EINVAL;

	switch (args->type) {
	case DRM_APU_QUERY_DEVICE:
		return apu_query_device(adev, args);
	default:
		return -EINVAL;
	}
}
