/* SPDX-License-Identifier: (GPL-2.0-only WITH Linux-syscall-note) OR MIT */
/*
 * Copyright (c) 2026 The apu authors
 */
#ifndef __UAPI_APU_ACCEL_H__
#define __UAPI_APU_ACCEL_H__

#include "drm.h"

#if defined(__cplusplus)
extern "C" {
#endif

/**
 * DOC: apu accel UAPI
 *
 * The apu driver exposes one DRM accel node (``/dev/accel/accelN``) per
 * device. Conventions for every ioctl of this file:
 *
 * - Every struct is 64-bit aligned and has explicit padding. Padding and
 *   reserved fields must be zero; the kernel rejects non-zero values with
 *   -EINVAL, so they can be given a meaning later.
 * - New ioctls are only ever appended; existing ones never change number.
 * - New fields are only ever appended to a struct. The DRM core zero-fills
 *   what an older userspace does not pass.
 *
 * Each open file of the node has its own device address space, and the
 * device has a limited number of them (&drm_apu_query_device.max_contexts).
 * open() fails with -EMFILE when the calling process, or its user, already
 * holds as many files of the node as the driver allows (its
 * max_files_per_process and max_files_per_user parameters: 64, and three
 * quarters of the address spaces, by default), and with -ENOSPC when every
 * address space is taken.
 */

#define DRM_APU_QUERY			0x00
#define DRM_APU_BO_CREATE		0x01
#define DRM_APU_BO_INFO			0x02
#define DRM_APU_BO_WAIT			0x03
#define DRM_APU_SUBMIT			0x04
#define DRM_APU_JOB_INFO		0x05
#define DRM_APU_JOB_WAIT		0x06

#define DRM_IOCTL_APU_QUERY \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_APU_QUERY, struct drm_apu_query)
#define DRM_IOCTL_APU_BO_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_APU_BO_CREATE, struct drm_apu_bo_create)
#define DRM_IOCTL_APU_BO_INFO \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_APU_BO_INFO, struct drm_apu_bo_info)
#define DRM_IOCTL_APU_BO_WAIT \
	DRM_IOW(DRM_COMMAND_BASE + DRM_APU_BO_WAIT, struct drm_apu_bo_wait)
#define DRM_IOCTL_APU_SUBMIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_APU_SUBMIT, struct drm_apu_submit)
#define DRM_IOCTL_APU_JOB_INFO \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_APU_JOB_INFO, struct drm_apu_job_info)
#define DRM_IOCTL_APU_JOB_WAIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_APU_JOB_WAIT, struct drm_apu_job_wait)

/**
 * enum drm_apu_query_type - what &struct drm_apu_query reads
 */
enum drm_apu_query_type {
	/**
	 * @DRM_APU_QUERY_DEVICE: device identity and versions, returned as
	 * &struct drm_apu_query_device.
	 */
	DRM_APU_QUERY_DEVICE = 0,

	/**
	 * @DRM_APU_QUERY_CORES: the cores and their figures, returned as
	 * &struct drm_apu_query_cores.
	 */
	DRM_APU_QUERY_CORES = 1,
};

/**
 * enum drm_apu_core_class - kinds of core
 * @DRM_APU_CLASS_BIG: fastest, most energy per MAC
 * @DRM_APU_CLASS_LITTLE: slower, less energy per MAC
 * @DRM_APU_CLASS_TINY: slowest, least energy, lowest idle power
 */
enum drm_apu_core_class {
	DRM_APU_CLASS_BIG = 0,
	DRM_APU_CLASS_LITTLE = 1,
	DRM_APU_CLASS_TINY = 2,
};

/**
 * struct drm_apu_core_info - one core, as the device reports it
 */
struct drm_apu_core_info {
	/** @core: index of the core, 0 to &drm_apu_query_cores.num_cores - 1. */
	__u32 core;
	/** @core_class: one of &enum drm_apu_core_class. */
	__u32 core_class;
	/** @macs_per_cycle: int8 multiply-accumulates per cycle. */
	__u32 macs_per_cycle;
	/** @clock_mhz: core clock. */
	__u32 clock_mhz;
	/** @sram_bytes: local SRAM. */
	__u32 sram_bytes;
	/** @energy_fj_per_mac: energy per MAC in femtojoules. */
	__u32 energy_fj_per_mac;
	/** @idle_power_uw: power when idle, in microwatts. */
	__u32 idle_power_uw;
	/** @bytes_per_cycle: data the core moves per cycle. */
	__u32 bytes_per_cycle;
	/**
	 * @fp16_macs_per_cycle: fp16 multiply-accumulates per cycle (firmware
	 * ABI 1.6, %DRM_APU_CAP_FP16); 0 when the device has no fp16 ops.
	 * Added after the first version: older kernels' entries end before it
	 * (&drm_apu_query_cores.entry_size).
	 */
	__u32 fp16_macs_per_cycle;
};

/**
 * struct drm_apu_query_cores - the cores of the device
 *
 * Returned by %DRM_APU_QUERY_CORES: this header, then @num_cores entries of
 * @entry_size bytes each (a &struct drm_apu_core_info, which may grow in
 * later kernels: step through the entries by @entry_size). A query with a
 * @size of just this header tells how many cores there are.
 */
struct drm_apu_query_cores {
	/** @num_cores: number of cores. */
	__u32 num_cores;
	/** @entry_size: bytes of each entry that follows. */
	__u32 entry_size;
};

/**
 * struct drm_apu_query_device - identity of the device
 *
 * Returned by %DRM_APU_QUERY_DEVICE. Fields are only ever appended; the
 * first version ended at @hw_version.
 */
struct drm_apu_query_device {
	/**
	 * @hw_id: the device's identity register; identifies the register
	 * interface ("APU1" in memory order for every device this UAPI covers).
	 */
	__u32 hw_id;

	/**
	 * @hw_version: the device's hardware version: major in bits 23:16,
	 * minor in bits 15:8, patch in bits 7:0.
	 */
	__u32 hw_version;

	/**
	 * @fw_version: version of the running firmware, encoded as
	 * @hw_version.
	 */
	__u32 fw_version;

	/**
	 * @fw_abi: firmware ABI of the device: major in bits 31:16, minor in
	 * bits 15:0.
	 */
	__u32 fw_abi;

	/** @num_cores: number of cores (see %DRM_APU_QUERY_CORES). */
	__u32 num_cores;

	/** @caps: DRM_APU_CAP_* bits: what the device and driver can do. */
	__u32 caps;

	/** @ops: bit n set: opcode n of the command buffer ABI is supported. */
	__u32 ops;

	/** @va_bits: width of a device address. */
	__u32 va_bits;

	/** @max_bo_size: largest BO %DRM_IOCTL_APU_BO_CREATE makes. */
	__u64 max_bo_size;

	/** @max_cmdbuf_size: largest command buffer of a job, in bytes. */
	__u32 max_cmdbuf_size;

	/** @max_submit_jobs: most jobs per %DRM_IOCTL_APU_SUBMIT. */
	__u32 max_submit_jobs;

	/** @max_job_bos: most BOs per job. */
	__u32 max_job_bos;

	/** @max_job_syncobjs: most in-syncobjs per job. */
	__u32 max_job_syncobjs;

	/** @max_contexts: open files (address spaces) the device can hold. */
	__u32 max_contexts;

	/** @ring_entries: jobs each core queues in hardware. */
	__u32 ring_entries;
};

/* Capability bits of &drm_apu_query_device.caps. */
/** DRM_APU_CAP_MMU - per-file device address spaces. */
#define DRM_APU_CAP_MMU			0x1
/** DRM_APU_CAP_TIME_ACCURATE - the device can complete jobs at their modeled time. */
#define DRM_APU_CAP_TIME_ACCURATE	0x2
/** DRM_APU_CAP_FAULT_INJECT - the device's fault injection works (debugfs). */
#define DRM_APU_CAP_FAULT_INJECT	0x4
/** DRM_APU_CAP_POWER_GATING - idle cores are powered down. */
#define DRM_APU_CAP_POWER_GATING	0x8
/**
 * DRM_APU_CAP_QUANT_OPS - the device runs the ops of firmware ABI 1.2:
 * weight zero points, max pooling, lookup tables, multiply, broadcasting.
 */
#define DRM_APU_CAP_QUANT_OPS		0x10
/**
 * DRM_APU_CAP_WRITE_LIST - the device enforces jobs' BO access: a job
 * writes only the BOs it names with %DRM_APU_JOB_BO_WRITE (firmware ABI
 * 1.3); other writes fault. Without it the flags only order jobs.
 */
#define DRM_APU_CAP_WRITE_LIST		0x20
/**
 * DRM_APU_CAP_INT4_WEIGHTS - convolutions take int4 weights packed two per
 * byte (firmware ABI 1.4, APU_OPF_WEIGHTS_INT4).
 */
#define DRM_APU_CAP_INT4_WEIGHTS	0x40
/**
 * DRM_APU_CAP_SPARSE_WEIGHTS - 1x1 convolutions and fully connected layers
 * take block-sparse weights (firmware ABI 1.5, APU_OPF_WEIGHTS_SPARSE).
 */
#define DRM_APU_CAP_SPARSE_WEIGHTS	0x80
/**
 * DRM_APU_CAP_FP16 - convolutions, depthwise and fully connected layers,
 * ADD and pooling on fp16 tensors (firmware ABI 1.6), and each core's fp16
 * rate in &drm_apu_core_info.fp16_macs_per_cycle.
 */
#define DRM_APU_CAP_FP16		0x100

/**
 * DRM_APU_QUERY_MAX_SIZE - largest &drm_apu_query.size: the zero-filled
 * room a caller may offer for blocks to grow into
 */
#define DRM_APU_QUERY_MAX_SIZE		65536

/**
 * struct drm_apu_query - argument of %DRM_IOCTL_APU_QUERY
 *
 * Reads a block of information about the device into a user buffer.
 * The size is negotiated so that the returned structs can grow:
 *
 * - With @size 0 the kernel only sets @size to the size of the complete
 *   block, and writes nothing to @data.
 * - Otherwise @size must be at least the size of the first version of the
 *   block and at most %DRM_APU_QUERY_MAX_SIZE (else -EINVAL). The kernel
 *   writes min(@size, its own size) bytes to @data, zero-fills the rest of
 *   the user's @size bytes (fields the kernel does not know of read as
 *   zero) and sets @size to the number of bytes of information it wrote.
 *
 * Errors: -EINVAL for an unknown @type, a non-zero @pad or a too small or
 * too large @size; -EFAULT when @data cannot be written; -ENODEV after the
 * device was removed.
 */
struct drm_apu_query {
	/** @type: one of &enum drm_apu_query_type. */
	__u32 type;

	/** @size: in: bytes available at @data; out: bytes of information. */
	__u32 size;

	/** @data: user pointer to the output buffer. */
	__u64 data;

	/** @pad: must be zero. */
	__u64 pad;
};

/**
 * DOC: buffer objects
 *
 * A buffer object (BO) is memory that both the CPU (through mmap() of the
 * accel node at &drm_apu_bo_info.mmap_offset) and the device (at
 * &drm_apu_bo_create.device_addr) can reach. Each open file of the node has
 * its own device address space: a BO gets an address in every file that
 * holds a handle to it (the creator, and files that import it through
 * PRIME), and the device can reach, on behalf of a file's jobs, only the
 * BOs that file holds. Handles are closed with %DRM_IOCTL_GEM_CLOSE; a BO
 * stays mapped while a job that names it runs.
 */

/* Flags of &struct drm_apu_bo_create. */
/** DRM_APU_BO_DEVICE_READ_ONLY - the device may read the BO, not write it. */
#define DRM_APU_BO_DEVICE_READ_ONLY	0x1
#define DRM_APU_BO_FLAGS		DRM_APU_BO_DEVICE_READ_ONLY

/**
 * struct drm_apu_bo_create - argument of %DRM_IOCTL_APU_BO_CREATE
 *
 * Creates a BO, zero-filled, and maps it in the caller's device address
 * space.
 *
 * Errors: -EINVAL for a zero @size, unknown @flags or non-zero @pad;
 * -E2BIG for a @size over the driver's limit (1 GiB); -ENOMEM, -ENOSPC
 * when memory or device address space runs out; -ENOENT when another
 * thread closed the new handle before the call returned; -ENODEV after the
 * device was removed.
 */
struct drm_apu_bo_create {
	/** @size: in: bytes wanted; out: bytes allocated (whole pages). */
	__u64 size;
	/** @flags: DRM_APU_BO_* flags. */
	__u32 flags;
	/** @handle: out: GEM handle of the new BO. */
	__u32 handle;
	/** @device_addr: out: address of the BO in the caller's device address space. */
	__u64 device_addr;
};

/**
 * struct drm_apu_bo_info - argument of %DRM_IOCTL_APU_BO_INFO
 *
 * Errors: -ENOENT for a handle the caller does not hold.
 */
struct drm_apu_bo_info {
	/** @handle: in: GEM handle. */
	__u32 handle;
	/** @flags: out: the BO's DRM_APU_BO_* flags. */
	__u32 flags;
	/** @size: out: bytes. */
	__u64 size;
	/** @device_addr: out: address in the caller's device address space. */
	__u64 device_addr;
	/** @mmap_offset: out: offset to pass to mmap() on the accel node. */
	__u64 mmap_offset;
};

/**
 * struct drm_apu_bo_wait - argument of %DRM_IOCTL_APU_BO_WAIT
 *
 * Waits until no job that uses the BO is queued or running.
 *
 * Errors: -ENOENT for an unknown handle; -EINVAL for non-zero @flags;
 * -ETIME when @timeout_ns passed first; -ERESTARTSYS on a signal.
 */
struct drm_apu_bo_wait {
	/** @handle: GEM handle. */
	__u32 handle;
	/** @flags: must be zero. */
	__u32 flags;
	/**
	 * @timeout_ns: absolute CLOCK_MONOTONIC time to give up at; a time
	 * in the past (0) only polls.
	 */
	__s64 timeout_ns;
};

/**
 * DOC: jobs
 *
 * A job runs one command buffer (a &struct apu_cmd_header and its ops, see
 * docs/hw.md) from a BO of the caller on one core. The job names the BOs
 * its ops use: they stay mapped until the job ends, and the job waits for
 * earlier jobs that write what it reads, or read or write what it writes
 * (implicit synchronisation through the BOs' reservation objects). Explicit
 * synchronisation uses &drm_syncobj: a job waits for every in-syncobj and
 * replaces the fence of its out-syncobj with its own completion fence, so
 * sync_file export and import work through %DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD.
 * Jobs of one %DRM_IOCTL_APU_SUBMIT are queued in order, so a job may wait
 * for the out-syncobj of an earlier job of the same call.
 *
 * A job's fence signals when the job ends, with an error when it failed:
 * -EFAULT (device MMU fault), -EINVAL (bad command buffer), -ETIMEDOUT (the
 * core hung and was reset), -EIO (device error), -ECANCELED (not run).
 * %DRM_IOCTL_APU_JOB_INFO then reads its status and counters;
 * %DRM_IOCTL_APU_JOB_WAIT (driver 0.3) waits for several jobs and tells
 * which failed, in one call.
 */

/* Targets of &struct drm_apu_job. */
/** DRM_APU_TARGET_CORE - run on core @n only. */
#define DRM_APU_TARGET_CORE(n)		(0x000 | (n))
/** DRM_APU_TARGET_CLASS - run on the least-loaded core of class @c. */
#define DRM_APU_TARGET_CLASS(c)		(0x100 | (c))
#define DRM_APU_TARGET_KIND(t)		((t) & 0xff00)
#define DRM_APU_TARGET_INDEX(t)		((t) & 0xff)

/**
 * enum drm_apu_job_priority - scheduling priority of a job
 * @DRM_APU_JOB_PRIORITY_LOW: runs when nothing else waits
 * @DRM_APU_JOB_PRIORITY_NORMAL: the default
 * @DRM_APU_JOB_PRIORITY_HIGH: runs first; needs CAP_SYS_NICE
 */
enum drm_apu_job_priority {
	DRM_APU_JOB_PRIORITY_LOW = 0,
	DRM_APU_JOB_PRIORITY_NORMAL = 1,
	DRM_APU_JOB_PRIORITY_HIGH = 2,
};

/* Flags of &struct drm_apu_job_bo. */
/**
 * DRM_APU_JOB_BO_WRITE - the job writes the BO. On a device with
 * %DRM_APU_CAP_WRITE_LIST a job may write only the BOs it names with this
 * flag (and that were not created device read-only): any other write
 * faults (%DRM_APU_STATUS_MMU_FAULT; fault flags APU_FAULT_WRITE and
 * APU_FAULT_NOT_LISTED, or the page-table fault when the address is not
 * mapped at all).
 */
#define DRM_APU_JOB_BO_WRITE		0x1
/**
 * DRM_APU_JOB_BO_NO_WAIT - the job does not wait for the BO's implicit
 * fences (other than the kernel's own, such as an exporter moving an
 * imported buffer): the caller orders its jobs with syncobjs (several jobs writing
 * disjoint parts of one BO on several cores). The job's fence is still
 * added to the BO's reservation (a write fence with
 * %DRM_APU_JOB_BO_WRITE), so other users of the BO wait for it. A BO
 * named more than once waits unless every entry has this flag; the
 * command buffer's BO waits for writers unless named with it.
 */
#define DRM_APU_JOB_BO_NO_WAIT		0x2

/**
 * struct drm_apu_job_bo - a BO a job uses
 */
struct drm_apu_job_bo {
	/** @handle: GEM handle. */
	__u32 handle;
	/** @flags: DRM_APU_JOB_BO_* flags. */
	__u32 flags;
};

/** DRM_APU_MAX_JOB_BOS - most BOs one job may name. */
#define DRM_APU_MAX_JOB_BOS		256
/** DRM_APU_MAX_JOB_SYNCOBJS - most in-syncobjs of one job. */
#define DRM_APU_MAX_JOB_SYNCOBJS	64
/** DRM_APU_MAX_SUBMIT_JOBS - most jobs of one %DRM_IOCTL_APU_SUBMIT. */
#define DRM_APU_MAX_SUBMIT_JOBS		64
/** DRM_APU_MAX_JOB_SIZE - largest &drm_apu_submit.job_size (room to grow). */
#define DRM_APU_MAX_JOB_SIZE		4096

/**
 * struct drm_apu_job - one job of &struct drm_apu_submit
 */
struct drm_apu_job {
	/** @cmdbuf_handle: BO holding the command buffer. */
	__u32 cmdbuf_handle;
	/** @cmdbuf_offset: its offset in the BO; a multiple of 8. */
	__u32 cmdbuf_offset;
	/** @cmdbuf_size: its size in bytes, header included. */
	__u32 cmdbuf_size;
	/** @target: DRM_APU_TARGET_CORE() or DRM_APU_TARGET_CLASS(). */
	__u32 target;
	/** @priority: one of &enum drm_apu_job_priority. */
	__u32 priority;
	/** @flags: must be zero. */
	__u32 flags;
	/**
	 * @bos: user pointer to @num_bos &struct drm_apu_job_bo. A BO named
	 * more than once (or the command buffer's BO named again) counts
	 * once, as written if any of its entries has %DRM_APU_JOB_BO_WRITE.
	 * The command buffer's BO is read, and written only if named with
	 * %DRM_APU_JOB_BO_WRITE.
	 */
	__u64 bos;
	/** @num_bos: number of BOs, at most %DRM_APU_MAX_JOB_BOS. */
	__u32 num_bos;
	/** @num_in_syncobjs: number of in-syncobjs, at most %DRM_APU_MAX_JOB_SYNCOBJS. */
	__u32 num_in_syncobjs;
	/** @in_syncobjs: user pointer to @num_in_syncobjs __u32 syncobj handles. */
	__u64 in_syncobjs;
	/** @out_syncobj: syncobj to signal when the job ends, or 0. */
	__u32 out_syncobj;
	/** @core: out: the core the job was queued on. */
	__u32 core;
	/** @job_id: out: the job's id, for %DRM_IOCTL_APU_JOB_INFO. */
	__u64 job_id;
};

/**
 * struct drm_apu_submit - argument of %DRM_IOCTL_APU_SUBMIT
 *
 * Queues @num_jobs jobs, in order. Every job is checked before any is
 * queued: a bad handle, flag, target, size or pointer fails the whole call
 * and queues nothing. The kernel writes each job's @core and @job_id back.
 *
 * Errors: -EINVAL for bad fields (non-zero @pad or flags, a @job_size
 * under the first version of &struct drm_apu_job or over
 * %DRM_APU_MAX_JOB_SIZE, @num_jobs 0 or over
 * %DRM_APU_MAX_SUBMIT_JOBS, a misaligned or out-of-range command buffer,
 * an unknown target or priority, too many BOs or syncobjs); -ENOENT for a
 * handle or syncobj the caller does not hold; -EFAULT for a bad pointer;
 * -EACCES for high priority without CAP_SYS_NICE; -EBUSY when the file
 * has as many jobs queued or running as the driver allows (its
 * max_file_jobs parameter, 4096 by default; wait for some to end);
 * -EIO while the process that opened the file is banned for faulting or
 * hanging the device (the driver's ban_limit and ban_ms parameters;
 * reopening the node does not lift it); -ENODEV after the device was
 * removed. A failure after the checks (out of memory, a signal while
 * locking) can leave the earlier jobs of the call queued: their @job_id is
 * non-zero.
 */
struct drm_apu_submit {
	/** @jobs: user pointer to @num_jobs jobs, @job_size bytes apart. */
	__u64 jobs;
	/** @num_jobs: number of jobs. */
	__u32 num_jobs;
	/** @job_size: sizeof(struct drm_apu_job) as userspace knows it. */
	__u32 job_size;
	/** @flags: must be zero. */
	__u32 flags;
	/** @pad: must be zero. */
	__u32 pad;
};

/**
 * enum drm_apu_job_state - where a job is
 * @DRM_APU_JOB_QUEUED: waiting for dependencies or for its core
 * @DRM_APU_JOB_RUNNING: handed to the core
 * @DRM_APU_JOB_DONE: ended; the status and counters are valid
 */
enum drm_apu_job_state {
	DRM_APU_JOB_QUEUED = 0,
	DRM_APU_JOB_RUNNING = 1,
	DRM_APU_JOB_DONE = 2,
};

/**
 * enum drm_apu_job_status - how a job ended
 * @DRM_APU_STATUS_OK: ran to the end
 * @DRM_APU_STATUS_BAD_CMDBUF: command buffer header, size or op count wrong
 * @DRM_APU_STATUS_BAD_OP: unknown opcode or op flags
 * @DRM_APU_STATUS_BAD_PARAMS: an op's shape or parameters are invalid
 * @DRM_APU_STATUS_MMU_FAULT: an access hit no mapping or a read-only one;
 *	see &drm_apu_job_info.fault_addr and fault_flags
 * @DRM_APU_STATUS_BAD_CONTEXT: the device found no address space for it
 * @DRM_APU_STATUS_INJECTED: failed by fault injection
 * @DRM_APU_STATUS_ABORTED: the core was reset while it ran
 * @DRM_APU_STATUS_TOO_LARGE: over the device's limits
 * @DRM_APU_STATUS_TIMEOUT: the core did not finish in time and was reset
 * @DRM_APU_STATUS_CANCELED: never ran (a dependency failed, or the file
 *	was closed or the device removed first)
 *
 * Values below 256 are the device's own status codes (docs/hw.md).
 *
 * A job that did not end OK signals its fence (the SUBMIT out-syncobj, the
 * implicit fences of its BOs, a sync_file) with an error, which libapu
 * also returns for the job: -%EFAULT for MMU_FAULT; -%EINVAL for
 * BAD_CMDBUF, BAD_OP, BAD_PARAMS and BAD_CONTEXT; -%E2BIG for TOO_LARGE;
 * -%ECANCELED for ABORTED; -%EIO for INJECTED (and any status unknown to
 * the reader); -%ETIMEDOUT for TIMEOUT; for CANCELED the fence carries the
 * reason: -%ECANCELED (a dependency failed or the file closed), -%EIO (the
 * process is banned) or -%ENODEV (the device is gone); libapu, which reads
 * only the status, reports -%ECANCELED.
 */
enum drm_apu_job_status {
	DRM_APU_STATUS_OK = 0,
	DRM_APU_STATUS_BAD_CMDBUF = 1,
	DRM_APU_STATUS_BAD_OP = 2,
	DRM_APU_STATUS_BAD_PARAMS = 3,
	DRM_APU_STATUS_MMU_FAULT = 4,
	DRM_APU_STATUS_BAD_CONTEXT = 5,
	DRM_APU_STATUS_INJECTED = 6,
	DRM_APU_STATUS_ABORTED = 7,
	DRM_APU_STATUS_TOO_LARGE = 8,
	DRM_APU_STATUS_TIMEOUT = 256,
	DRM_APU_STATUS_CANCELED = 257,
};

/**
 * struct drm_apu_job_info - argument of %DRM_IOCTL_APU_JOB_INFO
 *
 * Reads the state, status and device counters of one of the caller's
 * jobs. The kernel keeps the records of a file's last 4096 jobs.
 *
 * Errors: -ENOENT for an unknown or forgotten @job_id; -EINVAL for non-zero
 * @pad.
 */
struct drm_apu_job_info {
	/** @job_id: in: from &drm_apu_job.job_id. */
	__u64 job_id;
	/** @state: out: one of &enum drm_apu_job_state. */
	__u32 state;
	/** @status: out: one of &enum drm_apu_job_status (when done). */
	__u32 status;
	/** @core: out: the core. */
	__u32 core;
	/** @op_index: out: the op that failed, or the number of ops run. */
	__u32 op_index;
	/** @fault_addr: out: faulting device address (MMU faults). */
	__u64 fault_addr;
	/** @fault_flags: out: fault kind bits, as in docs/hw.md. */
	__u32 fault_flags;
	/** @pad: in: must be zero. */
	__u32 pad;
	/** @cycles: out: modeled core cycles. */
	__u64 cycles;
	/** @macs: out: multiply-accumulates. */
	__u64 macs;
	/** @bytes_read: out: bytes the job read. */
	__u64 bytes_read;
	/** @bytes_written: out: bytes the job wrote. */
	__u64 bytes_written;
	/** @queue_ns: out: CLOCK_MONOTONIC time of the submission. */
	__u64 queue_ns;
	/** @start_ns: out: when the core started it (0 if it never ran). */
	__u64 start_ns;
	/** @end_ns: out: when it ended (0 until done). */
	__u64 end_ns;
};

/** DRM_APU_MAX_WAIT_JOBS - most jobs of one %DRM_IOCTL_APU_JOB_WAIT. */
#define DRM_APU_MAX_WAIT_JOBS		4096

/**
 * struct drm_apu_job_wait - argument of %DRM_IOCTL_APU_JOB_WAIT
 *
 * Waits until every job of @job_ids has ended (driver 0.3 and later), then
 * tells how many did not end %DRM_APU_STATUS_OK and which was the first of
 * them: the wait and the statuses of a whole run in one call, where a
 * syncobj wait and one %DRM_IOCTL_APU_JOB_INFO per job would take several.
 * %DRM_IOCTL_APU_JOB_INFO still reads each job's counters and fault.
 *
 * A job that ends in its file's queue without reaching a core (the file
 * closing, the device removed) counts as %DRM_APU_STATUS_CANCELED. An id
 * given twice is waited for and counted twice. Every id is looked up when
 * the call starts, before any wait.
 *
 * Errors: -EINVAL for non-zero @flags or @pad, @num_jobs 0 or over
 * %DRM_APU_MAX_WAIT_JOBS; -EFAULT for a bad @job_ids; -ENOMEM; -ENOENT
 * for an id that is not one of the caller's submitted jobs or whose record
 * is forgotten (the kernel keeps the last 4096 per file), before waiting; -ETIME when
 * @timeout_ns passed first (the out fields are then not set);
 * -ERESTARTSYS on a signal.
 */
struct drm_apu_job_wait {
	/** @job_ids: user pointer to @num_jobs __u64 ids (&drm_apu_job.job_id). */
	__u64 job_ids;
	/** @num_jobs: number of ids. */
	__u32 num_jobs;
	/** @flags: must be zero. */
	__u32 flags;
	/**
	 * @timeout_ns: absolute CLOCK_MONOTONIC time to give up at; a time
	 * in the past (0) only polls.
	 */
	__s64 timeout_ns;
	/** @failed: out: how many of the jobs did not end OK. */
	__u32 failed;
	/** @first_failed: out: index in @job_ids of the first that did not. */
	__u32 first_failed;
	/** @status: out: its &enum drm_apu_job_status (%DRM_APU_STATUS_OK if none). */
	__u32 status;
	/** @pad: must be zero. */
	__u32 pad;
};

#if defined(__cplusplus)
}
#endif

#endif /* __UAPI_APU_ACCEL_H__ */
