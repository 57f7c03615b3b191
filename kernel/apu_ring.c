// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: the cores' rings, completion interrupts, timeouts and core reset.
 *
 * Each core has a ring of APU_RING_ENTRIES entries and as many completion
 * records, both in address space 0. The core's scheduler hands jobs over
 * in apu_core_run(); the device runs them in ring order and writes each
 * job's completion record before it raises the core's interrupt. The
 * interrupt handler retires ended jobs straight from the records and
 * signals their hardware fences: no work item between the interrupt and
 * the fence.
 *
 * Recovery (apu_job_timedout(), also run at once on a device error
 * interrupt): stop the core's scheduler; retire what ended (a lost
 * interrupt is not a hang); if the oldest job really did not end, reset
 * the core, fail that job with DRM_APU_STATUS_TIMEOUT and hand the other
 * jobs that were in the ring back to the scheduler, which posts them
 * again in order. Other cores never stop.
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/ratelimit.h>
#include <drm/drm_drv.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>
#include <drm/apu_accel.h>

#include "apu_client.h"
#include "apu_compat.h"
#include "apu_device.h"
#include "apu_gem.h"
#include "apu_job.h"
#include "apu_mmu.h"
#include "apu_pm.h"
#include "apu_ring.h"
#include "apu_trace.h"

unsigned int apu_job_timeout_ms = 2000;
module_param_named(job_timeout_ms, apu_job_timeout_ms, uint, 0444);
MODULE_PARM_DESC(job_timeout_ms, "Time a job may run before its core is reset, in ms (default 2000)");

static const char *apu_fence_driver_name(struct dma_fence *fence)
{
	return "apu";
}

static const char *apu_fence_timeline_name(struct dma_fence *fence)
{
	return container_of(fence, struct apu_hw_fence, base)->core->name;
}

static const struct dma_fence_ops apu_hw_fence_ops = {
	.get_driver_name = apu_fence_driver_name,
	.get_timeline_name = apu_fence_timeline_name,
};

/* The errno a job's fence carries for a device status (the UAPI's enum drm_apu_job_status). */
static int apu_status_errno(u32 status)
{
	switch (status) {
	case APU_STATUS_OK:
		return 0;
	case APU_STATUS_MMU_FAULT:
		return -EFAULT;
	case APU_STATUS_BAD_CMDBUF:
	case APU_STATUS_BAD_OP:
	case APU_STATUS_BAD_PARAMS:
	case APU_STATUS_BAD_CONTEXT:
		return -EINVAL;
	case APU_STATUS_TOO_LARGE:
		return -E2BIG;
	case APU_STATUS_ABORTED:
		return -ECANCELED;
	default:
		return -EIO;
	}
}

static void apu_fault_log(struct apu_device *adev, u32 core, u32 asid,
			  u32 status, u64 addr, u32 flags)
{
	unsigned long irqflags;
	u32 i;

	spin_lock_irqsave(&adev->fault_lock, irqflags);
	i = adev->fault_next++ % ARRAY_SIZE(adev->fault_log);
	adev->fault_log[i].when = ktime_get();
	adev->fault_log[i].core = core;
	adev->fault_log[i].asid = asid;
	adev->fault_log[i].status = status;
	adev->fault_log[i].addr = addr;
	adev->fault_log[i].flags = flags;
	spin_unlock_irqrestore(&adev->fault_lock, irqflags);
}

/**
 * apu_job_end_locked() - record how a job ended and signal its fence
 * @core: its core, with @core->lock held
 * @job: the job, posted (in @core->inflight)
 * @status: &enum drm_apu_job_status
 * @error: errno for the fence, or 0
 * @c: the device's completion record, or NULL when the job did not end on
 *     the device (timeout)
 *
 * The job may be freed as soon as this returns.
 */
void apu_job_end_locked(struct apu_core *core, struct apu_job *job, u32 status,
			int error, const struct apu_completion *c)
{
	struct apu_job_result *r = job->result;
	struct apu_file *afile = job->afile;
	ktime_t now = ktime_get(), start;

	lockdep_assert_held(&core->lock);
	start = ktime_after(job->post_time, core->last_done) ?
		job->post_time : core->last_done;
	core->last_done = now;

	r->status = status;
	if (c) {
		r->op_index = le32_to_cpu(c->op_index);
		r->fault_addr = le64_to_cpu(c->fault_addr);
		r->fault_flags = le32_to_cpu(c->fault_flags);
		r->cycles = le64_to_cpu(c->cycles);
		r->macs = le64_to_cpu(c->macs);
		r->bytes_read = le64_to_cpu(c->bytes_read);
		r->bytes_written = le64_to_cpu(c->bytes_written);
	}
	r->start_ns = ktime_to_ns(start);
	r->end_ns = ktime_to_ns(now);
	atomic64_add(ktime_to_ns(ktime_sub(now, start)), &afile->busy_ns[core->index]);
	atomic64_inc(&afile->jobs_done[core->index]);

	if (status == APU_STATUS_MMU_FAULT || status == DRM_APU_STATUS_TIMEOUT) {
		apu_client_fault(afile->client);
		apu_fault_log(core->adev, core->index, job->vm->asid, status,
			      r->fault_addr, r->fault_flags);
	}
	if (status == APU_STATUS_MMU_FAULT) {
		trace_apu_fault(core->index, r->fault_addr, r->fault_flags);
		dev_warn_ratelimited(core->adev->drm.dev,
				     "%s: job %llu (asid %u): MMU fault at 0x%llx, flags 0x%x\n",
				     core->name, r->id, job->vm->asid,
				     r->fault_addr, r->fault_flags);
	}
	trace_apu_job_done(core->index, r->id, job->hw_fence->base.seqno, status,
			   r->cycles);
	/* The record is complete: publish it (see apu_ioctl_job_info()). */
	smp_store_release(&r->state, DRM_APU_JOB_DONE);

	list_del_init(&job->node);
	job->posted = false;
	if (error)
		dma_fence_set_error(&job->hw_fence->base, error);
	dma_fence_signal(&job->hw_fence->base);
}

/* Retire, oldest first, the jobs whose completion record is written. */
static void apu_core_retire_locked(struct apu_core *core)
{
	struct apu_job *job, *tmp;

	lockdep_assert_held(&core->lock);
	list_for_each_entry_safe(job, tmp, &core->inflight, node) {
		const struct apu_completion *c = &core->compl[job->slot];
		u32 status;

		if (le64_to_cpu(READ_ONCE(c->seqno)) != job->hw_fence->base.seqno)
			break;
		dma_rmb();
		status = le32_to_cpu(c->status);
		apu_job_end_locked(core, job, status, apu_status_errno(status), c);
	}
	apu_core_idle_locked(core);
}

/* Program the core's ring after a reset; the ring is empty. */
static void apu_core_ring_init_locked(struct apu_core *core)
{
	lockdep_assert_held(&core->lock);
	core->tail = 0;
	apu_core_write(core, APU_CORE_RING_BASE_LO, lower_32_bits(core->ring_va));
	apu_core_write(core, APU_CORE_RING_BASE_HI, upper_32_bits(core->ring_va));
	apu_core_write(core, APU_CORE_RING_SIZE, APU_RING_ENTRIES);
	apu_core_write(core, APU_CORE_RING_TAIL, 0);
	apu_core_write(core, APU_CORE_CTRL, APU_CORE_CTRL_ENABLE);
}

/*
 * The ranges @job may write, in @slot's write list: the BOs it named with
 * DRM_APU_JOB_BO_WRITE (at most APU_WLIST_MAX, checked at submit).
 */
static void apu_core_write_list_locked(struct apu_core *core, struct apu_job *job,
				       u32 slot, struct apu_ring_entry *e)
{
	struct apu_wrange *wl = core->wl + (size_t)slot * APU_WLIST_MAX;
	u32 i, n = 0;

	lockdep_assert_held(&core->lock);
	for (i = 0; i < job->num_bos && n < APU_WLIST_MAX; i++) {
		u64 start = job->maps[i]->node.start;

		if (!job->bo_write[i])
			continue;
		wl[n].start = cpu_to_le64(start);
		wl[n].end = cpu_to_le64(start + job->bos[i]->size);
		n++;
	}
	e->wlist = cpu_to_le64(core->wl_va + (u64)slot * APU_WLIST_MAX * sizeof(*wl));
	e->wlist_count = cpu_to_le32(n);
	e->flags |= cpu_to_le16(APU_RING_F_WLIST);
}

/* Write @job at the ring's tail and ring the doorbell. */
static void apu_core_post_locked(struct apu_core *core, struct apu_job *job)
{
	u32 slot = core->tail % APU_RING_ENTRIES;
	struct apu_ring_entry *e = &core->ring[slot];

	lockdep_assert_held(&core->lock);
	/* A record left from an earlier use of the slot must never match. */
	WRITE_ONCE(core->compl[slot].seqno, 0);
	memset(e, 0, sizeof(*e));
	e->cmdbuf = cpu_to_le64(job->cmdbuf_va);
	e->cmdbuf_size = cpu_to_le32(job->cmdbuf_size);
	e->asid = cpu_to_le16(job->vm->asid);
	e->flags = cpu_to_le16(APU_RING_F_IRQ);
	e->seqno = cpu_to_le64(job->hw_fence->base.seqno);
	e->completion = cpu_to_le64(core->compl_va + slot * sizeof(struct apu_completion));
	if (core->adev->write_list)
		apu_core_write_list_locked(core, job, slot, e);

	job->slot = slot;
	job->posted = true;
	job->post_time = ktime_get();
	list_add_tail(&job->node, &core->inflight);
	core->tail++;
	core->posted++;
	/* writel() orders the entry before the doorbell. */
	apu_core_write(core, APU_CORE_RING_TAIL, core->tail);
	trace_apu_job_run(core->index, job->result->id, job->hw_fence->base.seqno,
			  job->vm->asid);
}

/**
 * apu_core_run() - the scheduler's run_job for @core
 * @core: the core
 * @job: the job
 * @error: when non-zero, do not run the job: it ends as canceled with
 *	   this error (a dependency failed, or the device is gone)
 *
 * Also called again after a recovery (apu_core_repost()): a job still in
 * the ring, or already ended, is not posted again.
 *
 * Return: the hardware fence, referenced, or ERR_PTR(@error).
 */
struct dma_fence *apu_core_run(struct apu_core *core, struct apu_job *job,
			       int error)
{
	struct dma_fence *fence;
	unsigned long flags;

	spin_lock_irqsave(&core->lock, flags);
	if (job->hw_fence_live &&
	    (job->posted || dma_fence_is_signaled(&job->hw_fence->base))) {
		fence = dma_fence_get(&job->hw_fence->base);
	} else if (error) {
		job->result->status = DRM_APU_STATUS_CANCELED;
		/* Publish the status (see apu_ioctl_job_info()). */
		smp_store_release(&job->result->state, DRM_APU_JOB_DONE);
		/*
		 * Posted before a recovery and not posted again (the device
		 * went away meanwhile): its hardware fence must still signal,
		 * for those who wait on it (apu_bo_hold_pages()).
		 */
		if (job->hw_fence_live) {
			dma_fence_set_error(&job->hw_fence->base, error);
			dma_fence_signal(&job->hw_fence->base);
		}
		fence = ERR_PTR(error);
	} else {
		if (!job->hw_fence_live) {
			dma_fence_init(&job->hw_fence->base, &apu_hw_fence_ops,
				       &core->fence_lock, core->fence_context,
				       ++core->seqno);
			job->hw_fence_live = true;
		}
		WRITE_ONCE(job->result->state, DRM_APU_JOB_RUNNING);
		apu_core_power_up_locked(core);
		apu_core_post_locked(core, job);
		fence = dma_fence_get(&job->hw_fence->base);
	}
	spin_unlock_irqrestore(&core->lock, flags);
	return fence;
}

/*
 * After drm_sched_stop(), every job the scheduler still holds has lost its
 * hardware fence (its parent): give each one back, in the order they ran,
 * posting again those that did not end (the innocent jobs of a reset
 * ring). A job that already ended keeps its signalled fence; one that
 * cannot run any more (banned, device gone) ends with its error, through
 * its signalled fence when it had one. drm_sched_start() then waits on
 * those fences. The driver's own version of drm_sched_resubmit_jobs()
 * (deprecated upstream), without its karma rules, which the driver does
 * not use (bans are per process: apu_client.c).
 */
static void apu_core_repost(struct apu_core *core)
{
	struct drm_sched_job *s_job;

	/* The scheduler is stopped: nothing else walks its pending list. */
	list_for_each_entry(s_job, &core->sched.pending_list, list) {
		struct apu_job *job = to_apu_job(s_job);
		struct dma_fence *fence;

		if (s_job->s_fence->parent)
			continue;
		fence = apu_job_run(s_job);
		if (IS_ERR(fence)) {
			dma_fence_set_error(&s_job->s_fence->finished,
					    PTR_ERR(fence));
			/* Posted once: its hardware fence signalled with the error. */
			fence = job->hw_fence_live ?
				dma_fence_get(&job->hw_fence->base) : NULL;
		}
		s_job->s_fence->parent = fence;
	}
}

/*
 * Stop @core's scheduler, retire what ended, and when @bad (the oldest job)
 * did not end, or @force, reset the core: @bad fails with TIMEOUT, the
 * other jobs of the ring are posted again in order (apu_core_repost())
 * before the scheduler restarts. Serialised by @core->reset_lock.
 */
static void apu_core_recover(struct apu_core *core, struct apu_job *bad,
			     bool force)
{
	struct apu_device *adev = core->adev;
	struct apu_job *j, *tmp;
	unsigned long flags;
	bool reset;
	int idx;

	mutex_lock(&core->reset_lock);
	drm_sched_stop(&core->sched, bad ? &bad->base : NULL);

	spin_lock_irqsave(&core->lock, flags);
	apu_core_retire_locked(core);
	reset = force || (bad && bad->posted);
	spin_unlock_irqrestore(&core->lock, flags);

	if (reset && drm_dev_enter(&adev->drm, &idx)) {
		u32 state = apu_core_read(core, APU_CORE_STATUS);

		if (bad && bad->posted)
			drm_warn(&adev->drm, "%s: job %llu (asid %u) did not end in %u ms (core state %u): resetting the core\n",
				 core->name, bad->result->id, bad->vm->asid,
				 apu_job_timeout_ms, state);
		else
			drm_info(&adev->drm, "%s: resetting the core (state %u)\n",
				 core->name, state);
		/* Synchronous: the core touches no memory after this. */
		apu_write(adev, APU_REG_RESET, APU_RESET_CORE(core->index));
		atomic_inc(&core->resets);
		trace_apu_core_reset(core->index, bad ? bad->result->id : 0);

		spin_lock_irqsave(&core->lock, flags);
		core->powered = true;	/* the reset state */
		apu_core_retire_locked(core);
		if (bad && bad->posted)
			apu_job_end_locked(core, bad, DRM_APU_STATUS_TIMEOUT,
					   -ETIMEDOUT, NULL);
		/* The others did not end: apu_core_repost() posts them again. */
		list_for_each_entry_safe(j, tmp, &core->inflight, node) {
			list_del_init(&j->node);
			j->posted = false;
		}
		apu_core_ring_init_locked(core);
		spin_unlock_irqrestore(&core->lock, flags);
		drm_dev_exit(idx);
	}

	apu_core_repost(core);
	apu_sched_start(&core->sched);
	/* A system suspend stopped the queue: it stays so until the resume. */
	if (core->sleeping)
		drm_sched_wqueue_stop(&core->sched);
	mutex_unlock(&core->reset_lock);
}

/**
 * apu_job_timedout() - the scheduler's timedout_job: recover the core
 * @sched_job: the oldest job of the core
 *
 * A job that did end (its interrupt was lost) is retired; one that did
 * not is failed and its core reset.
 *
 * Return: the "reset, carry on" status (APU_SCHED_STAT_RESET).
 */
enum drm_gpu_sched_stat apu_job_timedout(struct drm_sched_job *sched_job)
{
	struct apu_job *job = to_apu_job(sched_job);

	apu_core_recover(job->core, job, false);
	return APU_SCHED_STAT_RESET;
}

/**
 * apu_core_reset() - reset a core on request (debugfs)
 * @core: the core
 *
 * The jobs in its ring are posted again; none fails.
 */
void apu_core_reset(struct apu_core *core)
{
	apu_core_recover(core, NULL, true);
}

static void apu_core_irq(struct apu_core *core)
{
	spin_lock(&core->lock);
	apu_core_retire_locked(core);
	spin_unlock(&core->lock);
}

/* A device-level error: a ring entry or completion record unreachable. */
static void apu_device_error(struct apu_device *adev)
{
	u64 addr = apu_read(adev, APU_REG_MMU_FAULT_ADDR_LO) |
		   (u64)apu_read(adev, APU_REG_MMU_FAULT_ADDR_HI) << 32;
	u32 info = apu_read(adev, APU_REG_MMU_FAULT_INFO);
	u32 n = APU_MMU_FAULT_INFO_CORE(info);

	dev_err_ratelimited(adev->drm.dev,
			    "device error on core %u: address 0x%llx, fault flags 0x%x\n",
			    n, addr, APU_MMU_FAULT_INFO_FLAGS(info));
	apu_fault_log(adev, n, 0, APU_STATUS_MMU_FAULT, addr,
		      APU_MMU_FAULT_INFO_FLAGS(info));
	trace_apu_fault(n, addr, APU_MMU_FAULT_INFO_FLAGS(info));
	/* The core stopped: recover it now rather than at the timeout. */
	if (n < adev->num_cores)
		drm_sched_fault(&adev->cores[n].sched);
}

/**
 * apu_irq_core() - MSI-X vector of one core
 * @irq: the interrupt
 * @arg: the &struct apu_core
 *
 * Return: IRQ_HANDLED.
 */
irqreturn_t apu_irq_core(int irq, void *arg)
{
	struct apu_core *core = arg;

	/* Acknowledge first: a completion after this raises the vector again. */
	apu_write(core->adev, APU_REG_IRQ_STATUS, APU_IRQ_CORE(core->index));
	apu_core_irq(core);
	return IRQ_HANDLED;
}

/**
 * apu_irq_error() - MSI-X vector of device errors
 * @irq: the interrupt
 * @arg: the &struct apu_device
 *
 * Return: IRQ_HANDLED.
 */
irqreturn_t apu_irq_error(int irq, void *arg)
{
	struct apu_device *adev = arg;

	apu_write(adev, APU_REG_IRQ_STATUS, APU_IRQ_ERROR);
	apu_device_error(adev);
	return IRQ_HANDLED;
}

/**
 * apu_irq_shared() - the one vector of MSI or INTx
 * @irq: the interrupt
 * @arg: the &struct apu_device
 *
 * Return: IRQ_NONE when the device raised nothing (a shared line).
 */
irqreturn_t apu_irq_shared(int irq, void *arg)
{
	struct apu_device *adev = arg;
	u32 status = apu_read(adev, APU_REG_IRQ_STATUS);
	u32 i;

	if (!status || status == ~0u)
		return IRQ_NONE;
	apu_write(adev, APU_REG_IRQ_STATUS, status);
	for (i = 0; i < adev->num_cores; i++)
		if (status & APU_IRQ_CORE(i))
			apu_core_irq(&adev->cores[i]);
	if (status & APU_IRQ_ERROR)
		apu_device_error(adev);
	return IRQ_HANDLED;
}

/**
 * apu_cores_hw_init() - program the rings and unmask interrupts
 * @adev: the device, after a device reset
 */
void apu_cores_hw_init(struct apu_device *adev)
{
	unsigned long flags;
	u32 i, mask = APU_IRQ_ERROR;

	for (i = 0; i < adev->num_cores; i++) {
		struct apu_core *core = &adev->cores[i];

		spin_lock_irqsave(&core->lock, flags);
		apu_core_ring_init_locked(core);
		spin_unlock_irqrestore(&core->lock, flags);
		mask |= APU_IRQ_CORE(i);
	}
	apu_write(adev, APU_REG_IRQ_MASK, mask);
}

/**
 * apu_cores_cancel() - end every job in the rings; the device is stopped
 * @adev: the device, being removed
 *
 * The scheduler cancels the jobs that are not in a ring yet (run_job sees
 * the device gone).
 */
void apu_cores_cancel(struct apu_device *adev)
{
	struct apu_job *job, *tmp;
	unsigned long flags;
	u32 i;

	for (i = 0; i < adev->num_cores; i++) {
		struct apu_core *core = &adev->cores[i];

		spin_lock_irqsave(&core->lock, flags);
		apu_core_retire_locked(core);
		list_for_each_entry_safe(job, tmp, &core->inflight, node)
			apu_job_end_locked(core, job, DRM_APU_STATUS_CANCELED,
					   -ENODEV, NULL);
		spin_unlock_irqrestore(&core->lock, flags);
	}
}

/**
 * apu_vm_posted_fences() - fences that signal when the jobs of an address
 * space that are in the rings now have ended
 * @vm: the address space
 * @fences: receives up to one fence per core, referenced
 *
 * A job in a ring may be running, and may have translated addresses of
 * @vm that are being unmapped. A core ends its ring's jobs in order (a
 * recovery fails the oldest and runs the others again, in order), so the
 * newest such job of each core stands for all of that core's.
 *
 * Return: how many fences were stored, at most &apu_device.num_cores.
 */
unsigned int apu_vm_posted_fences(struct apu_vm *vm,
				  struct dma_fence *fences[APU_DRV_MAX_CORES])
{
	struct apu_device *adev = vm->adev;
	unsigned int n = 0;
	unsigned long flags;
	struct apu_job *job;
	u32 i;

	for (i = 0; i < adev->num_cores; i++) {
		struct apu_core *core = &adev->cores[i];
		struct apu_job *newest = NULL;

		spin_lock_irqsave(&core->lock, flags);
		list_for_each_entry(job, &core->inflight, node)
			if (job->vm == vm)
				newest = job;
		if (newest)
			fences[n++] = dma_fence_get(&newest->hw_fence->base);
		spin_unlock_irqrestore(&core->lock, flags);
	}
	return n;
}

/**
 * apu_cores_dma_release() - free the rings and completion records at removal
 * @adev: the device, reset, with every job cancelled (apu_cores_cancel())
 *
 * Nothing is posted after the unplug and nothing is in flight, so neither
 * the submit path nor the interrupt handlers read them any more; they are
 * cleared under the core's lock all the same. Part of the removal (apu_device_remove()).
 */
void apu_cores_dma_release(struct apu_device *adev)
{
	unsigned long flags;
	u32 i;

	for (i = 0; i < adev->num_cores; i++) {
		struct apu_core *core = &adev->cores[i];
		struct apu_ring_entry *ring;
		struct apu_completion *compl;
		struct apu_wrange *wl;

		spin_lock_irqsave(&core->lock, flags);
		drm_WARN_ON(&adev->drm, !list_empty(&core->inflight));
		ring = core->ring;
		compl = core->compl;
		wl = core->wl;
		core->ring = NULL;
		core->compl = NULL;
		core->wl = NULL;
		spin_unlock_irqrestore(&core->lock, flags);
		if (wl)
			dma_free_coherent(adev->drm.dev, APU_WL_BYTES, wl, core->wl_dma);
		if (ring)
			dma_free_coherent(adev->drm.dev, APU_MMU_PAGE_SIZE, ring,
					  core->ring_dma);
		if (compl)
			dma_free_coherent(adev->drm.dev, APU_MMU_PAGE_SIZE, compl,
					  core->compl_dma);
	}
}

static void apu_cores_fini(struct drm_device *drm, void *arg)
{
	struct apu_device *adev = arg;
	u32 i;

	for (i = 0; i < adev->num_cores; i++) {
		struct apu_core *core = &adev->cores[i];

		/* Retiring after the removal may have armed it again. */
		if (core->idle_work.work.func)
			cancel_delayed_work_sync(&core->idle_work);
		if (core->sched.ops)
			drm_sched_fini(&core->sched);
		if (drm_mm_node_allocated(&core->ring_node))
			apu_vm_unmap(adev->kvm, &core->ring_node);
		if (drm_mm_node_allocated(&core->compl_node))
			apu_vm_unmap(adev->kvm, &core->compl_node);
		if (drm_mm_node_allocated(&core->wl_node))
			apu_vm_unmap(adev->kvm, &core->wl_node);
		if (core->wl)
			dma_free_coherent(drm->dev, APU_WL_BYTES, core->wl, core->wl_dma);
		if (core->ring)
			dma_free_coherent(drm->dev, APU_MMU_PAGE_SIZE, core->ring,
					  core->ring_dma);
		if (core->compl)
			dma_free_coherent(drm->dev, APU_MMU_PAGE_SIZE, core->compl,
					  core->compl_dma);
	}
}

static int apu_core_init(struct apu_device *adev, struct apu_core *core, u32 i)
{
	u32 same = 0, j;
	int ret;

	for (j = 0; j < i; j++)
		same += adev->cores[j].core_class == core->core_class;
	core->index = i;
	core->adev = adev;
	snprintf(core->name, sizeof(core->name), "%s%u",
		 apu_class_name(core->core_class), same);
	spin_lock_init(&core->lock);
	spin_lock_init(&core->fence_lock);
	mutex_init(&core->reset_lock);
	INIT_LIST_HEAD(&core->inflight);
	core->fence_context = dma_fence_context_alloc(1);
	core->sched_list[0] = &core->sched;

	BUILD_BUG_ON(APU_RING_ENTRIES * sizeof(struct apu_ring_entry) != APU_MMU_PAGE_SIZE);
	BUILD_BUG_ON(APU_RING_ENTRIES * sizeof(struct apu_completion) != APU_MMU_PAGE_SIZE);
	core->ring = dma_alloc_coherent(adev->drm.dev, APU_MMU_PAGE_SIZE,
					&core->ring_dma, GFP_KERNEL);
	core->compl = dma_alloc_coherent(adev->drm.dev, APU_MMU_PAGE_SIZE,
					 &core->compl_dma, GFP_KERNEL);
	if (!core->ring || !core->compl)
		return -ENOMEM;
	ret = apu_vm_map_dma(adev->kvm, &core->ring_node, core->ring_dma,
			     APU_MMU_PAGE_SIZE, false);
	if (ret)
		return ret;
	core->ring_va = core->ring_node.start;
	ret = apu_vm_map_dma(adev->kvm, &core->compl_node, core->compl_dma,
			     APU_MMU_PAGE_SIZE, true);
	if (ret)
		return ret;
	core->compl_va = core->compl_node.start;
	if (adev->write_list) {
		core->wl = dma_alloc_coherent(adev->drm.dev, APU_WL_BYTES,
					      &core->wl_dma, GFP_KERNEL);
		if (!core->wl)
			return -ENOMEM;
		ret = apu_vm_map_dma(adev->kvm, &core->wl_node, core->wl_dma,
				     APU_WL_BYTES, false);
		if (ret)
			return ret;
		core->wl_va = core->wl_node.start;
	}

	ret = apu_sched_init(&core->sched, &apu_sched_ops, APU_RING_ENTRIES,
			     msecs_to_jiffies(apu_job_timeout_ms), core->name,
			     adev->drm.dev);
	if (ret) {
		core->sched.ops = NULL;
		drm_err(&adev->drm, "%s: cannot create its scheduler: %d\n",
			core->name, ret);
	}
	return ret;
}

/**
 * apu_cores_init() - rings, completion records and schedulers of the cores
 * @adev: the device, with its MMU set up
 *
 * Everything lives as long as the DRM device, since open files can outlive
 * the device's removal.
 *
 * Return: 0 or a negative errno.
 */
int apu_cores_init(struct apu_device *adev)
{
	u32 i;
	int ret;

	ret = drmm_add_action(&adev->drm, apu_cores_fini, adev);
	if (ret)
		return ret;
	adev->write_list = apu_read(adev, APU_REG_FEATURES) & APU_FEATURE_WRITE_LIST;
	for (i = 0; i < adev->num_cores; i++) {
		ret = apu_core_init(adev, &adev->cores[i], i);
		if (ret)
			return ret;
	}
	return 0;
}
