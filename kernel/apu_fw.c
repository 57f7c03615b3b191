// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: firmware loading and the boot handshake.
 *
 * The image (include/hw/apu_fw_image.h) comes from request_firmware(). The
 * driver checks what it must to give a clear message (header, sizes, ABI
 * against the device's APU_REG_FW_ABI); the device checks everything again,
 * CRCs included, and is the authority: its refusal reason is reported.
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/dma-mapping.h>
#include <linux/firmware.h>
#include <linux/iopoll.h>
#include <linux/module.h>
#include <drm/drm_print.h>

#include <hw/apu_fw_image.h>

#include "apu_device.h"
#include "apu_fw.h"

static unsigned int fw_boot_timeout_ms = 2000;
module_param(fw_boot_timeout_ms, uint, 0444);
MODULE_PARM_DESC(fw_boot_timeout_ms, "Firmware boot handshake timeout in ms (default 2000)");

MODULE_FIRMWARE(APU_FW_NAME);

/* What the driver checks before handing the image to the device. */
static int apu_fw_check(struct apu_device *adev, const struct firmware *fw)
{
	const struct apu_fw_header *h = (const void *)fw->data;
	u32 dev_abi = apu_read(adev, APU_REG_FW_ABI);
	u16 major, minor;

	if (fw->size < sizeof(*h) || le32_to_cpu(h->magic) != APU_FW_MAGIC) {
		drm_err(&adev->drm, "%s is not an APU firmware image (%zu bytes)\n",
			APU_FW_NAME, fw->size);
		return -EINVAL;
	}
	if (fw->size > APU_FW_MAX_SIZE ||
	    le32_to_cpu(h->payload_size) > fw->size - sizeof(*h)) {
		drm_err(&adev->drm, "%s: %zu bytes, header says %u of payload: truncated or too large\n",
			APU_FW_NAME, fw->size, le32_to_cpu(h->payload_size));
		return -EINVAL;
	}
	major = le16_to_cpu(h->abi_major);
	minor = le16_to_cpu(h->abi_minor);
	if (major != APU_FW_ABI_GET_MAJOR(dev_abi) ||
	    minor > APU_FW_ABI_GET_MINOR(dev_abi) ||
	    major != APU_FW_ABI_MAJOR) {
		drm_err(&adev->drm, "%s has firmware ABI %u.%u; the device supports %u.%u and this driver %u.x\n",
			APU_FW_NAME, major, minor, APU_FW_ABI_GET_MAJOR(dev_abi),
			APU_FW_ABI_GET_MINOR(dev_abi), APU_FW_ABI_MAJOR);
		return -EINVAL;
	}
	return 0;
}

/**
 * apu_fw_boot() - load the firmware and run the boot handshake
 * @adev: the device, registers mapped and bus mastering enabled
 *
 * Return: 0 when the firmware runs; a negative errno, after a dev_err()
 * saying why, otherwise. Nothing stays allocated on any path.
 */
int apu_fw_boot(struct apu_device *adev)
{
	struct device *dev = adev->drm.dev;
	const struct firmware *fw;
	dma_addr_t dma;
	u32 status, err;
	void *buf;
	int ret;

	ret = request_firmware(&fw, APU_FW_NAME, dev);
	if (ret) {
		drm_err(&adev->drm, "cannot load firmware %s: %d\n", APU_FW_NAME, ret);
		return ret;
	}
	ret = apu_fw_check(adev, fw);
	if (ret)
		goto out_release;

	buf = dma_alloc_coherent(dev, fw->size, &dma, GFP_KERNEL);
	if (!buf) {
		ret = -ENOMEM;
		goto out_release;
	}
	memcpy(buf, fw->data, fw->size);

	apu_write(adev, APU_REG_FW_ADDR_LO, lower_32_bits(dma));
	apu_write(adev, APU_REG_FW_ADDR_HI, upper_32_bits(dma));
	apu_write(adev, APU_REG_FW_SIZE, fw->size);
	apu_write(adev, APU_REG_FW_CTRL, APU_FW_CTRL_BOOT);

	ret = readl_poll_timeout(adev->regs + APU_REG_FW_STATUS, status,
				 status != APU_FW_STATUS_BOOTING, 100,
				 fw_boot_timeout_ms * USEC_PER_MSEC);
	if (ret) {
		drm_err(&adev->drm, "firmware boot timed out after %u ms\n",
			fw_boot_timeout_ms);
		/* Stop the device before its buffer goes away. */
		apu_write(adev, APU_REG_RESET, APU_RESET_DEVICE);
	}
	/* The device keeps its own copy once it has left BOOTING. */
	dma_free_coherent(dev, fw->size, buf, dma);
	if (ret)
		goto out_release;

	switch (status) {
	case APU_FW_STATUS_READY:
		adev->fw_version = apu_read(adev, APU_REG_FW_VERSION);
		adev->fw_abi = apu_read(adev, APU_REG_FW_ABI);
		drm_info(&adev->drm, "firmware %u.%u.%u running (ABI %u.%u)\n",
			 APU_VERSION_MAJOR(adev->fw_version),
			 APU_VERSION_MINOR(adev->fw_version),
			 APU_VERSION_PATCH(adev->fw_version),
			 APU_FW_ABI_GET_MAJOR(adev->fw_abi),
			 APU_FW_ABI_GET_MINOR(adev->fw_abi));
		ret = 0;
		break;
	case APU_FW_STATUS_ERROR:
		err = apu_read(adev, APU_REG_FW_ERROR);
		drm_err(&adev->drm, "the device refused firmware %s: %s (%u)\n",
			APU_FW_NAME, apu_fw_err_text(err), err);
		ret = -EINVAL;
		break;
	default:
		drm_err(&adev->drm, "unexpected firmware status %u after boot\n", status);
		ret = -EIO;
		break;
	}

out_release:
	release_firmware(fw);
	return ret;
}
