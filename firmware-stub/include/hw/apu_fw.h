/*
 * Device-side firmware logic: image checks (apu_fw_image.c).
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef APU_FW_H
#define APU_FW_H

#include <stddef.h>
#include <stdint.h>

#include "hw/apu_fw_image.h"

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()): pass 0 to start. */
uint32_t apu_fw_crc32(uint32_t crc, const void *buf, size_t len);

/*
 * Check an image as the device does at boot. @dev_abi is the device's
 * APU_FW_ABI(). Returns APU_FW_ERR_NONE or the APU_FW_ERR_* reason; on
 * success *@version is the image's firmware version.
 */
uint32_t apu_fw_image_check(const void *image, size_t size, uint32_t dev_abi,
                            uint32_t *version);

#endif /* APU_FW_H */
