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

/* APU_REG_VERSION layout: major [23:16], minor [15:8], patch [7:0]. */
#define APU_VERSION(maj, min, pat)	(((maj) << 16) | ((min) << 8) | (pat))
#define APU_VERSION_MAJOR(v)		(((v) >> 16) & 0xff)
#define APU_VERSION_MINOR(v)		(((v) >> 8) & 0xff)
#define APU_VERSION_PATCH(v)		((v) & 0xff)

/* The hardware version this tree's device model implements. */
#define APU_HW_VERSION_MAJOR		1
#define APU_HW_VERSION_MINOR		0
#define APU_HW_VERSION_PATCH		0

#endif /* APU_HW_H */
