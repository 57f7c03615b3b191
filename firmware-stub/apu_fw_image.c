/*
 * APU firmware image checks: what the device does with an image at boot.
 *
 * Plain C with no QEMU dependency: linked into the QEMU device model and
 * into the host unit tests. Image layout: include/hw/apu_fw_image.h.
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdint.h>
#include <string.h>

#include "hw/apu_hw.h"
#include "hw/apu_fw.h"
#include "hw/apu_le.h"

_Static_assert(sizeof(struct apu_fw_header) == APU_FW_HEADER_SIZE,
               "apu_fw_header must be 64 bytes");

uint32_t apu_fw_crc32(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    int k;

    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
        }
    }
    return ~crc;
}

uint32_t apu_fw_image_check(const void *image, size_t size, uint32_t dev_abi,
                            uint32_t *version)
{
    const struct apu_fw_header *h = image;
    struct apu_fw_header copy;
    uint32_t payload_size, abi_major, abi_minor;

    if (size > APU_FW_MAX_SIZE) {
        return APU_FW_ERR_TOO_LARGE;
    }
    if (size < 4 || apu_ld32(&h->magic) != APU_FW_MAGIC) {
        return APU_FW_ERR_BAD_MAGIC;
    }
    if (size < APU_FW_HEADER_SIZE) {
        return APU_FW_ERR_TRUNCATED;
    }
    if (apu_ld32(&h->header_size) != APU_FW_HEADER_SIZE ||
        apu_ld32(&h->flags) != 0) {
        return APU_FW_ERR_BAD_HEADER;
    }
    memcpy(&copy, h, sizeof(copy));
    memset(&copy.header_crc32, 0, sizeof(copy.header_crc32));
    if (apu_fw_crc32(0, &copy, sizeof(copy)) != apu_ld32(&h->header_crc32)) {
        return APU_FW_ERR_BAD_HEADER;
    }
    payload_size = apu_ld32(&h->payload_size);
    if (payload_size > size - APU_FW_HEADER_SIZE) {
        return APU_FW_ERR_TRUNCATED;
    }
    if (apu_fw_crc32(0, (const uint8_t *)image + APU_FW_HEADER_SIZE,
                     payload_size) != apu_ld32(&h->payload_crc32)) {
        return APU_FW_ERR_BAD_CRC;
    }
    abi_major = apu_ld16(&h->abi_major);
    abi_minor = apu_ld16(&h->abi_minor);
    if (abi_major != APU_FW_ABI_GET_MAJOR(dev_abi) ||
        abi_minor > APU_FW_ABI_GET_MINOR(dev_abi)) {
        return APU_FW_ERR_ABI;
    }
    if (version) {
        *version = apu_ld32(&h->fw_version);
    }
    return APU_FW_ERR_NONE;
}

void apu_fw_header_seal(struct apu_fw_header *h)
{
    memset(&h->header_crc32, 0, sizeof(h->header_crc32));
    apu_st32(&h->header_crc32, apu_fw_crc32(0, h, sizeof(*h)));
}
