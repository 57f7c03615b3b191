/* SPDX-License-Identifier: MIT */
/*
 * apu_fw_image.h - layout of the APU firmware image, apu-fw.bin.
 *
 * Shared by the image builder (firmware-stub/mkfw.c), the device model's
 * boot handshake (firmware-stub/apu_fw_image.c, linked into QEMU) and the
 * driver's pre-checks (kernel/apu_fw.c). Documented in docs/firmware.md.
 *
 * All fields are little endian. The image is the 64-byte header followed
 * by payload_size bytes of payload. CRCs are CRC-32 (IEEE 802.3, as zlib's
 * crc32()).
 */
#ifndef APU_FW_IMAGE_H
#define APU_FW_IMAGE_H

#include <linux/types.h>

#define APU_FW_MAGIC			0x46555041	/* "APUF" in memory order */
#define APU_FW_HEADER_SIZE		64
#define APU_FW_NAME			"apu/apu-fw.bin"

/**
 * struct apu_fw_header - header of apu-fw.bin
 * @magic: APU_FW_MAGIC
 * @header_size: APU_FW_HEADER_SIZE
 * @abi_major: firmware ABI major the image implements
 * @abi_minor: firmware ABI minor the image implements
 * @fw_version: firmware version, APU_VERSION() encoding
 * @payload_size: bytes of payload after the header
 * @payload_crc32: CRC-32 of the payload
 * @header_crc32: CRC-32 of the header with this field zero
 * @flags: must be zero
 * @build_id: NUL-padded text naming the build
 */
struct apu_fw_header {
	__le32 magic;
	__le32 header_size;
	__le16 abi_major;
	__le16 abi_minor;
	__le32 fw_version;
	__le32 payload_size;
	__le32 payload_crc32;
	__le32 header_crc32;
	__le32 flags;
	char build_id[32];
};

#endif /* APU_FW_IMAGE_H */
