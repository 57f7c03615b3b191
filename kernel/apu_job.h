/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Copyright (c) 2026 The apu authors
 */
#ifndef __APU_JOB_H__
#define __APU_JOB_H__

#include <linux/dma-fence.h>
#include <linux/kref.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <drm/gpu_scheduler.h>

struct apu_bo_map;
struct apu_core;
struct apu_file;
struct drm_syncobj;

/**
 * struct apu_job_result - what %DRM_IOCTL_APU_JOB_INFO reports of a job
 * @refcount: held by the file's record list and by the job
 * @node: in &apu_file.results
 * @id: the job id
 * @state: &enum drm_apu_job_state; written last (release) when the job
 *	   ends, so a reader that sees DONE (acquire) sees the rest
 * @status: &enum drm_apu_job_status
 * @core: the core
 * @op_index: failing op, or ops run
 * @fault_flags: APU_FAULT_* bits
 * @fault_addr: faulting device address
 * @cycles: modeled cycles
 * @macs: MACs
 * @bytes_read: bytes read
 * @bytes_written: bytes written
 * @queue_ns: submission time (CLOCK_MONOTONIC)
 * @start_ns: when the core started it
 * @end_ns: when it ended
 * @fence: the job's finished fence, referenced, from the push until it
 *	   signals (%DRM_IOCTL_APU_JOB_WAIT waits on it); RCU
 * @pushed: the job was handed to the scheduler (@fence set before)
 *
 * Written by the completion path only, before @state becomes DONE.
 */
struct apu_job_result {
	struct kref refcount;
	struct list_head node;
	u64 id;
	u32 state;
	u32 status;
	u32 core;
	u32 op_index;
	u32 fault_flags;
	u64 fault_addr;
	u64 cycles;
	u64 macs;
	u64 bytes_read;
	u64 bytes_written;
	u64 queue_ns;
	u64 start_ns;
	u64 end_ns;
	struct dma_fence __rcu *fence;
	bool pushed;
};

/**
 * struct apu_hw_fence - a job's fence on its core's timeline
 * @base: the fence; its seqno is given when the job goes to the ring
 * @core: the core
 */
struct apu_hw_fence {
	struct dma_fence base;
	struct apu_core *core;
};

/**
 * struct apu_job - a submitted job
 * @base: the scheduler job
 * @afile: the submitting file, referenced
 * @vm: its address space, referenced
 * @core: the core it runs on
 * @cmdbuf_va: command buffer address in @vm
 * @cmdbuf_size: its size
 * @num_bos: BOs it uses; [0] is the command buffer's
 * @bos: the BOs, referenced, each once (apu_job_add_bo())
 * @maps: their mappings in @vm, referenced
 * @bo_write: whether the job writes each
 * @bo_nowait: whether it skips waiting for each one's implicit fences
 * @cmd_named: the list names the command buffer's BO (which is [0])
 * @num_in: number of in-syncobjs
 * @in_handles: their handles
 * @out_syncobj: syncobj to signal, referenced, or NULL
 * @done_fence: the scheduler's finished fence, once armed
 * @end_cb: on @done_fence: the job leaves &apu_file.jobs when it ends
 * @hw_fence: the hardware fence (allocated at submit, initialised when
 *	      first posted: @hw_fence_live)
 * @hw_fence_live: @hw_fence has been dma_fence_init()ed
 * @posted: the job is in the ring (under &apu_core.lock)
 * @slot: its ring slot
 * @node: in &apu_core.inflight (under &apu_core.lock)
 * @post_time: when it was posted
 * @result: its record, referenced
 * @pm_ref: holds a runtime PM reference of the device
 */
struct apu_job {
	struct drm_sched_job base;
	struct apu_file *afile;
	struct apu_vm *vm;
	struct apu_core *core;
	u64 cmdbuf_va;
	u32 cmdbuf_size;
	u32 num_bos;
	struct drm_gem_object **bos;
	struct apu_bo_map **maps;
	bool *bo_write;
	bool *bo_nowait;
	bool cmd_named;
	u32 num_in;
	u32 *in_handles;
	struct drm_syncobj *out_syncobj;
	struct dma_fence *done_fence;
	struct dma_fence_cb end_cb;
	struct apu_hw_fence *hw_fence;
	bool hw_fence_live;
	bool posted;
	u32 slot;
	struct list_head node;
	ktime_t post_time;
	struct apu_job_result *result;
	bool pm_ref;
};

static inline struct apu_job *to_apu_job(struct drm_sched_job *job)
{
	return container_of(job, struct apu_job, base);
}

extern const struct drm_sched_backend_ops apu_sched_ops;

/* apu_ring.c */
struct dma_fence *apu_core_run(struct apu_core *core, struct apu_job *job,
			       int error);
void apu_job_end_locked(struct apu_core *core, struct apu_job *job, u32 status,
			int error, const struct apu_completion *c);
enum drm_gpu_sched_stat apu_job_timedout(struct drm_sched_job *sched_job);

/* apu_job.c */
void apu_job_result_put(struct apu_job_result *r);
struct dma_fence *apu_job_run(struct drm_sched_job *sched_job);

#endif /* __APU_JOB_H__ */
