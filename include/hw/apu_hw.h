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
#define APU_RESET_CORE(n)		(0x100 << (n))	/* core n only */

/* Capabilities (RO). */
#define APU_REG_NUM_CORES		0x0010
#define APU_REG_FEATURES		0x0014	/* APU_FEATURE_* */
#define APU_FEATURE_MMU			0x1
#define APU_FEATURE_TIME_ACCURATE	0x2	/* APU_CTRL_TIME_ACCURATE works */
#define APU_FEATURE_FAULT_INJECT	0x4	/* the debug block works */
#define APU_FEATURE_POWER_GATING	0x8	/* APU_CORE_POWER works */
/* Firmware ABI 1.2 ops: w_zp, MAXPOOL, LUT, MUL, broadcasting (apu_cmd.h) */
#define APU_FEATURE_QUANT_OPS		0x10
/* Ring entries carry a job's write list (APU_RING_F_WLIST, ABI 1.3). */
#define APU_FEATURE_WRITE_LIST		0x20
/* Convolutions take int4 weights (APU_OPF_WEIGHTS_INT4, ABI 1.4). */
#define APU_FEATURE_INT4_WEIGHTS	0x40
/*
 * 1x1 convolutions and fully connected layers take block-sparse weights
 * (APU_OPF_WEIGHTS_SPARSE, ABI 1.5).
 */
#define APU_FEATURE_SPARSE_WEIGHTS	0x80
/*
 * fp16 convolution, ADD and pooling (APU_OPF_FP16, ABI 1.6); every core
 * reports its fp16 rate in APU_CORE_FP16_MACS_PER_CYCLE.
 */
#define APU_FEATURE_FP16		0x100
#define APU_REG_MAX_CONTEXTS		0x0018	/* MMU_CTX_COUNT limit */
#define APU_REG_OPS			0x001c	/* bit n: opcode n supported */

/*
 * Interrupts. Bit n of IRQ_STATUS is core n's completion (MSI-X vector n),
 * APU_IRQ_ERROR a device-level error (vector NUM_CORES). A
 * status bit is set when the event happens; an unmasked bit sends its
 * vector (MSI-X) or raises INTx while set. Writing 1 clears a bit.
 */
#define APU_REG_IRQ_STATUS		0x0020	/* RW1C */
#define APU_REG_IRQ_MASK		0x0024	/* RW: 1 = enabled */
#define APU_IRQ_CORE(n)			(0x1 << (n))
#define APU_IRQ_ERROR			0x10000
/* MSI-X: vector n for core n, vector NUM_CORES for APU_IRQ_ERROR. */

#define APU_REG_CTRL			0x0028	/* RW */
#define APU_CTRL_TIME_ACCURATE		0x1	/* complete at the modeled time */
/*
 * Time-accurate mode completes a job no earlier than TIME_SCALE times its
 * modeled duration after it started (reset value 1; 0 reads as 1), so
 * that scheduling policies show in wall time even when the emulation is
 * slower or faster than the modeled hardware.
 */
#define APU_REG_TIME_SCALE		0x002c	/* RW */

/*
 * Device MMU (format in apu_cmd.h). Address space n uses entry n of the
 * context table at MMU_CTX_BASE; MMU_CTX_COUNT entries are valid (0: the
 * MMU is off and every access faults). The device walks the tables on
 * every access and caches nothing, so updates need no invalidation.
 * The fault registers hold the last device-level fault: a ring entry or a
 * completion record the device could not access.
 */
#define APU_REG_MMU_CTX_BASE_LO		0x0200
#define APU_REG_MMU_CTX_BASE_HI		0x0204
#define APU_REG_MMU_CTX_COUNT		0x0208
#define APU_REG_MMU_FAULT_ADDR_LO	0x0210	/* RO */
#define APU_REG_MMU_FAULT_ADDR_HI	0x0214	/* RO */
#define APU_REG_MMU_FAULT_INFO		0x0218	/* RO: see below */
#define APU_MMU_FAULT_INFO(core, flags)	(((core) << 24) | (flags))
#define APU_MMU_FAULT_INFO_CORE(v)	(((v) >> 24) & 0xff)
#define APU_MMU_FAULT_INFO_FLAGS(v)	((v) & 0xffffff)

/*
 * Debug block: fault injection. Writing APU_DBG_INJECT(core, kind) arms one
 * fault on that core (for APU_INJECT_REFUSE_FW the core is ignored):
 *   HANG_CORE   the core takes its next job and never finishes it; it
 *               reads APU_CORE_HUNG until APU_RESET_CORE(n)
 *   DROP_IRQ    the core's next completion interrupt is lost (the
 *               completion itself is written)
 *   FAIL_JOB    the next job ends with APU_STATUS_INJECTED
 *   MMU_FAULT   the next job ends with APU_STATUS_MMU_FAULT and
 *               APU_FAULT_INJECTED, at its command buffer's address
 *   REFUSE_FW   the next firmware boot ends with APU_FW_ERR_INJECTED
 * DBG_PENDING reads the armed faults: bit (core * 8 + kind).
 */
#define APU_REG_DBG_INJECT		0x0300	/* WO */
#define APU_DBG_INJECT(core, kind)	(((core) << 8) | (kind))
#define APU_INJECT_HANG_CORE		1
#define APU_INJECT_DROP_IRQ		2
#define APU_INJECT_FAIL_JOB		3
#define APU_INJECT_MMU_FAULT		4
#define APU_INJECT_REFUSE_FW		5
#define APU_REG_DBG_PENDING_LO		0x0304	/* RO: cores 0-3 */
#define APU_REG_DBG_PENDING_HI		0x0308	/* RO: cores 4-7 */
#define APU_REG_DBG_FW_PENDING		0x030c	/* RO: 1 = REFUSE_FW armed */

/*
 * Cores. Core n's registers are at APU_CORE_BASE(n); APU_REG_NUM_CORES
 * says how many there are (at most APU_MAX_CORES).
 */
#define APU_MAX_CORES			8
#define APU_CORE_BASE(n)		(0x1000 + (n) * 0x100)
#define APU_CORE_CLASS			0x00	/* RO: APU_CLASS_* */
#define APU_CLASS_BIG			0
#define APU_CLASS_LITTLE		1
#define APU_CLASS_TINY			2
#define APU_CORE_MACS_PER_CYCLE		0x04	/* RO: int8 MACs per cycle */
#define APU_CORE_CLOCK_MHZ		0x08	/* RO */
#define APU_CORE_SRAM_BYTES		0x0c	/* RO: local SRAM */
#define APU_CORE_ENERGY_FJ_PER_MAC	0x10	/* RO: femtojoules per MAC */
#define APU_CORE_IDLE_POWER_UW		0x14	/* RO: microwatts when idle */
#define APU_CORE_BYTES_PER_CYCLE	0x18	/* RO: data movement rate */
#define APU_CORE_FP16_MACS_PER_CYCLE	0x1c	/* RO: fp16 MACs per cycle (1.6) */
/*
 * What each core class reports in the registers above, and its name. The
 * device model builds its cores from these figures, libapu's CPU backend
 * describes the same device with them, the driver and libapu print the
 * names.
 */
#define APU_CLASS_NAME_BIG		"big"
#define APU_BIG_MACS_PER_CYCLE		1024
#define APU_BIG_FP16_MACS_PER_CYCLE	512
#define APU_BIG_CLOCK_MHZ		1000
#define APU_BIG_SRAM_BYTES		(1024 * 1024)
#define APU_BIG_ENERGY_FJ_PER_MAC	1000
#define APU_BIG_IDLE_POWER_UW		20000
#define APU_BIG_BYTES_PER_CYCLE		64
#define APU_CLASS_NAME_LITTLE		"little"
#define APU_LITTLE_MACS_PER_CYCLE	256
#define APU_LITTLE_FP16_MACS_PER_CYCLE	128
#define APU_LITTLE_CLOCK_MHZ		800
#define APU_LITTLE_SRAM_BYTES		(256 * 1024)
#define APU_LITTLE_ENERGY_FJ_PER_MAC	600
#define APU_LITTLE_IDLE_POWER_UW	5000
#define APU_LITTLE_BYTES_PER_CYCLE	32
#define APU_CLASS_NAME_TINY		"tiny"
#define APU_TINY_MACS_PER_CYCLE		64
#define APU_TINY_FP16_MACS_PER_CYCLE	16
#define APU_TINY_CLOCK_MHZ		500
#define APU_TINY_SRAM_BYTES		(64 * 1024)
#define APU_TINY_ENERGY_FJ_PER_MAC	350
#define APU_TINY_IDLE_POWER_UW		500
#define APU_TINY_BYTES_PER_CYCLE	16
/* The default layout: cores numbered big first, then little, then tiny. */
#define APU_DEFAULT_BIG_CORES		2
#define APU_DEFAULT_LITTLE_CORES	3
#define APU_DEFAULT_TINY_CORES		1
/*
 * The ring: RING_SIZE entries (a power of two up to APU_RING_MAX, 0 = no
 * ring) of struct apu_ring_entry at VA RING_BASE in address space 0.
 * RING_HEAD and RING_TAIL are free-running 32-bit indices; entry i is at
 * slot i % RING_SIZE. Writing RING_TAIL is the doorbell: the core runs
 * entries from RING_HEAD up to RING_TAIL, in order, while CTRL.ENABLE.
 */
#define APU_CORE_RING_BASE_LO		0x20	/* RW */
#define APU_CORE_RING_BASE_HI		0x24	/* RW */
#define APU_CORE_RING_SIZE		0x28	/* RW */
#define APU_CORE_RING_HEAD		0x2c	/* RO: next entry the core takes */
#define APU_CORE_RING_TAIL		0x30	/* RW: doorbell */
#define APU_CORE_STATUS			0x34	/* RO: APU_CORE_* */
#define APU_CORE_IDLE			0
#define APU_CORE_BUSY			1
#define APU_CORE_HUNG			2
#define APU_CORE_ERROR			3	/* ring or completion faulted */
#define APU_CORE_OFF			4	/* powered down (APU_CORE_POWER) */
#define APU_CORE_CTRL			0x38	/* RW */
#define APU_CORE_CTRL_ENABLE		0x1
#define APU_CORE_COMPLETED_SEQ_LO	0x3c	/* RO: seqno of the last job */
#define APU_CORE_COMPLETED_SEQ_HI	0x40	/* RO */
#define APU_CORE_BUSY_CYCLES_LO		0x44	/* RO: modeled cycles, total */
#define APU_CORE_BUSY_CYCLES_HI		0x48	/* RO */
#define APU_CORE_JOBS_DONE		0x4c	/* RO: jobs completed */
/*
 * Power gating. A core whose POWER reads 0 takes no job from its ring (a
 * job it is running finishes first) and reads APU_CORE_OFF once idle; its
 * registers and ring keep their values. Writing APU_CORE_POWER_ON powers
 * it up and it resumes at RING_HEAD. Reset value: on. POWER_ONS counts the
 * off-to-on transitions since reset.
 */
#define APU_CORE_POWER			0x50	/* RW */
#define APU_CORE_POWER_ON		0x1
#define APU_CORE_POWER_ONS		0x54	/* RO */
#define APU_RING_MAX			4096

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
/* 8 is reserved (a boot request while booting or running is ignored). */
#define APU_FW_ERR_INJECTED		9	/* refused by fault injection */

/* The text of a refusal reason, for every layer that reports one. */
static inline const char *apu_fw_err_text(unsigned int err)
{
	switch (err) {
	case APU_FW_ERR_NONE:
		return "no error";
	case APU_FW_ERR_BAD_MAGIC:
		return "bad magic: not an APU firmware image";
	case APU_FW_ERR_BAD_HEADER:
		return "bad header (size, flags or header CRC)";
	case APU_FW_ERR_TRUNCATED:
		return "image truncated";
	case APU_FW_ERR_BAD_CRC:
		return "payload CRC mismatch";
	case APU_FW_ERR_ABI:
		return "unsupported firmware ABI";
	case APU_FW_ERR_TOO_LARGE:
		return "image too large";
	case APU_FW_ERR_DMA:
		return "the device could not read the image (DMA error)";
	case APU_FW_ERR_INJECTED:
		return "refused by fault injection";
	default:
		return "unknown reason";
	}
}

/* Largest image the device accepts, in bytes. */
#define APU_FW_MAX_SIZE			(1024 * 1024)

/*
 * Firmware ABI of this device: the layout of rings, descriptors and command
 * buffers. An image must have the same major and a minor no newer than this.
 * APU_REG_FW_ABI reads APU_FW_ABI(major, minor). Minor versions only add:
 * 1.1 the convolution's output and input pitch; 1.2 the weight zero point,
 * MAXPOOL, LUT, MUL and broadcasting (APU_FEATURE_QUANT_OPS); 1.3 a job's
 * write list in its ring entry (APU_FEATURE_WRITE_LIST); 1.4 int4 weights
 * for convolutions (APU_FEATURE_INT4_WEIGHTS); 1.5 block-sparse weights for
 * 1x1 convolutions (APU_FEATURE_SPARSE_WEIGHTS); 1.6 fp16 convolution, ADD
 * and pooling (APU_FEATURE_FP16) and the cores' fp16 rate.
 */
#define APU_FW_ABI_MAJOR		1
#define APU_FW_ABI_MINOR		6
#define APU_FW_ABI(maj, min)		(((maj) << 16) | (min))
#define APU_FW_ABI_GET_MAJOR(v)		(((v) >> 16) & 0xffff)
#define APU_FW_ABI_GET_MINOR(v)		((v) & 0xffff)

#endif /* APU_HW_H */
