/* SPDX-License-Identifier: MIT */
/*
 * apu_hw.h - the APU hardware interface: PCI identity and BAR0 register map.
 *
 * This header is the single source of truth for everything the device model
 * (qemu/), the firmware (firmware-stub/) and the driver (kernel/) must agree
 * on. It holds only constants (and, later, fixed-layout little-endian
 * structures), so it builds in the kernel, in QEMU and in plain userspace.
 *
 * Documented in docs/hw.md. Registers are 32 bits wide, little endian, and
 * must be accessed with naturally aligned 32-bit loads and stores.
 */
#ifndef APU_HW_H
#define APU_HW_H

/* PCI identity. 0x1234 is the vendor ID QEMU uses for its emulated devices. */
#define APU_PCI_VENDOR_ID		0x1234
#define APU_PCI_DEVICE_ID		0xa9e1
#define APU_PCI_REVISION		0x01
#define APU_PCI_CLASS_ACCEL		0x1200	/* processing accelerator */

/* BAR0: memory-mapped registers. */
#define APU_BAR0_SIZE			0x10000

/*
 * Identity block (0x0000-0x00ff).
 * APU_REG_ID reads APU_ID_MAGIC on every APU: a driver checks it before
 * trusting any other register.
 */
#define APU_REG_ID			0x0000	/* RO */
#define APU_ID_MAGIC			0x31555041	/* "APU1" in memory order */
#define APU_REG_VERSION			0x0004	/* RO: hardware version */
#define APU_REG_SCRATCH			0x0008	/* RW: bus test, reset to 0 */
#define APU_REG_RESET			0x000c	/* WO: APU_RESET_* */
#define APU_RESET_DEVICE		0x1	/* whole device to its reset state */

/* APU_REG_VERSION layout: major [23:16], minor [15:8], patch [7:0]. */
#define APU_VERSION(maj, min, pat)	(((maj) << 16) | ((min) << 8) | (pat))
#define APU_VERSION_MAJOR(v)		(((v) >> 16) & 0xff)
#define APU_VERSION_MINOR(v)		(((v) >> 8) & 0xff)
#define APU_VERSION_PATCH(v)		((v) & 0xff)

/* The hardware version this tree's device model implements. */
#define APU_HW_VERSION_MAJOR		1
#define APU_HW_VERSION_MINOR		0
#define APU_HW_VERSION_PATCH		0

/*
 * Firmware boot block (0x0100-0x01ff), see docs/firmware.md.
 *
 * The driver places the firmware image (include/hw/apu_fw_image.h) in
 * memory the device can read, writes its bus address and size, and writes
 * APU_FW_CTRL_BOOT. FW_STATUS reads BOOTING until the device has copied and
 * checked the image, then READY, or ERROR with the reason in FW_ERROR.
 * The device keeps its own copy: the driver may free the buffer once
 * FW_STATUS has left BOOTING.
 */
#define APU_REG_FW_ADDR_LO		0x0100	/* RW: image bus address [31:0] */
#define APU_REG_FW_ADDR_HI		0x0104	/* RW: image bus address [63:32] */
#define APU_REG_FW_SIZE			0x0108	/* RW: image size in bytes */
#define APU_REG_FW_CTRL			0x010c	/* WO: APU_FW_CTRL_* */
#define APU_FW_CTRL_BOOT		0x1	/* start the handshake */
#define APU_REG_FW_STATUS		0x0110	/* RO: APU_FW_STATUS_* */
#define APU_FW_STATUS_OFF		0	/* no firmware (after reset) */
#define APU_FW_STATUS_BOOTING		1	/* handshake in progress */
#define APU_FW_STATUS_READY		2	/* firmware running */
#define APU_FW_STATUS_ERROR		3	/* refused, see FW_ERROR */
#define APU_REG_FW_ERROR		0x0114	/* RO: APU_FW_ERR_* of the last boot */
#define APU_REG_FW_VERSION		0x0118	/* RO: running firmware's version */
#define APU_REG_FW_ABI			0x011c	/* RO: firmware ABI of the device */

/* Reasons the device refuses a firmware image (APU_REG_FW_ERROR). */
#define APU_FW_ERR_NONE			0
#define APU_FW_ERR_BAD_MAGIC		1	/* not an APU firmware image */
#define APU_FW_ERR_BAD_HEADER		2	/* header size or header CRC wrong */
#define APU_FW_ERR_TRUNCATED		3	/* shorter than its header says */
#define APU_FW_ERR_BAD_CRC		4	/* payload CRC mismatch */
#define APU_FW_ERR_ABI			5	/* ABI major differs, or minor too new */
#define APU_FW_ERR_TOO_LARGE		6	/* larger than APU_FW_MAX_SIZE */
#define APU_FW_ERR_DMA			7	/* the device could not read the image */
#define APU_FW_ERR_BUSY			8	/* boot requested while booting/ready */

/* Largest image the device accepts, in bytes. */
#define APU_FW_MAX_SIZE			(1024 * 1024)

/*
 * Firmware ABI of this device: the layout of rings, descriptors and command
 * buffers. An image must have the same major and a minor no newer than this.
 * APU_REG_FW_ABI reads APU_FW_ABI(major, minor).
 */
#define APU_FW_ABI_MAJOR		1
#define APU_FW_ABI_MINOR		0
#define APU_FW_ABI(maj, min)		(((maj) << 16) | (min))
#define APU_FW_ABI_GET_MAJOR(v)		(((v) >> 16) & 0xffff)
#define APU_FW_ABI_GET_MINOR(v)		((v) & 0xffff)

#endif /* APU_HW_H */
