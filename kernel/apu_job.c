// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: job submission (DRM_IOCTL_APU_SUBMIT), the scheduler callbacks and
 * job records (DRM_IOCTL_APU_JOB_INFO).
 *
 * A submit runs in two passes. The first checks every job of the call and
 * takes everything a job needs (BO and mapping references, syncobjs, the
 * hardware fence, the record, the scheduler job): a bad job fails the
 * call before anything is queued. The second queues the jobs in order:
 * dependencies (in-syncobjs, implicit fences of the BOs, which may be
 * fences of the call's earlier jobs), then drm_sched_job_arm(), after
 * which nothing allocates or fails, then the push and the fences.
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/capability.h>
#include <linux/dma-resv.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <drm/drm_drv.h>
#include <drm/drm_exec.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_print.h>
#include <drm/drm_syncobj.h>
#include <drm/drm_utils.h>
#include <drm/apu_accel.h>

#include "apu_client.h"
#include "apu_compat.h"
#include "apu_device.h"
#include "apu_gem.h"
#include "apu_job.h"
#include "apu_mmu.h"
#include "apu_pm.h"
#include "apu_trace.h"

/* Records of finished jobs kept per file. */
#define APU_MAX_RESULTS		4096

static unsigned int apu_max_file_jobs = 4096;
module_param_named(max_file_jobs, apu_max_file_jobs, uint, 0644);
MODULE_PARM_DESC(max_file_jobs, "Jobs of one file queued or running at most; more fail with -EBUSY (0: no limit; default 4096)");

/* The UAPI's device statuses are the hardware's. */
static_assert(DRM_APU_STATUS_MMU_FAULT == APU_STATUS_MMU_FAULT);
static_assert(DRM_APU_STATUS_TOO_LARGE == APU_STATUS_TOO_LARGE);

/* Drop the record's reference to its job's fence, once. */
static void apu_job_result_drop_fence(struct apu_job_result *r)
{
	dma_fence_put(unrcu_pointer(xchg(&r->fence, RCU_INITIALIZER(NULL))));
}

static void apu_job_result_release(struct kref *kref)
{
	struct apu_job_result *r = container_of(kref, struct apu_job_result, refcount);

	apu_job_result_drop_fence(r);
	kfree(r);
}

/**
 * apu_job_result_put() - drop a reference to a job record
 * @r: the record
 */
void apu_job_result_put(struct apu_job_result *r)
{
	kref_put(&r->refcount, apu_job_result_release);
}

static void apu_job_ended(struct dma_fence *fence, struct dma_fence_cb *cb);

/* Undo what apu_job_prepare() took; the scheduler job is cleaned up. */
static void apu_job_cleanup(struct apu_job *job)
{
	u32 i;

	/*
	 * The scheduler frees a job once its finished fence reads signalled,
	 * which is before the fence's callbacks have run: removing ours waits
	 * for it (callbacks run under the fence's lock), and one that never
	 * ran (the job did not end) runs here.
	 */
	if (job->done_fence &&
	    dma_fence_remove_callback(job->done_fence, &job->end_cb))
		apu_job_ended(job->done_fence, &job->end_cb);

	/*
	 * The file first: its last job may release it, which needs the
	 * device, and the BOs' references may be the last ones keeping the
	 * device alive after its removal.
	 */
	if (job->afile) {
		/* Counted out when the job ended, if it was ever pushed. */
		if (!job->done_fence)
			atomic_dec(&job->afile->jobs);
		apu_file_put(job->afile);
	}
	for (i = 0; i < job->num_bos; i++) {
		if (job->maps[i])
			apu_bo_map_put(job->maps[i]);
		if (job->bos[i])
			drm_gem_object_put(job->bos[i]);
	}
	kvfree(job->bos);
	kvfree(job->maps);
	kvfree(job->bo_write);
	kvfree(job->bo_nowait);
	kvfree(job->in_handles);
	if (job->out_syncobj)
		drm_syncobj_put(job->out_syncobj);
	dma_fence_put(job->done_fence);
	if (job->hw_fence_live)
		dma_fence_put(&job->hw_fence->base);
	else
		kfree(job->hw_fence);
	if (job->result)
		apu_job_result_put(job->result);
	if (job->vm)
		apu_vm_put(job->vm);
	if (job->core)
		atomic_dec(&job->core->queued);
	if (job->pm_ref)
		apu_pm_put(job->core->adev);
	kfree(job);
}

/**
 * apu_job_run() - the scheduler's run_job, and the re-post after a recovery
 * @sched_job: the job
 *
 * A job whose dependencies failed, of a banned process, or of a removed
 * device is not posted: it ends canceled (apu_core_run()).
 *
 * Return: the hardware fence, referenced, or an ERR_PTR.
 */
struct dma_fence *apu_job_run(struct drm_sched_job *sched_job)
{
	struct apu_job *job = to_apu_job(sched_job);
	struct apu_device *adev = job->core->adev;
	int error = sched_job->s_fence->finished.error;
	struct dma_fence *fence;
	bool entered = false;
	int idx;

	/* A ban cancels the process's queued jobs too. */
	if (!error && apu_client_banned(job->afile->client))
		error = -EIO;
	if (!error) {
		entered = drm_dev_enter(&adev->drm, &idx);
		if (!entered)
			error = -ENODEV;
	}
	fence = apu_core_run(job->core, job, error);
	if (entered)
		drm_dev_exit(idx);
	return fence;
}

static void apu_job_free(struct drm_sched_job *sched_job)
{
	struct apu_job *job = to_apu_job(sched_job);

	drm_sched_job_cleanup(sched_job);
	apu_job_cleanup(job);
}

const struct drm_sched_backend_ops apu_sched_ops = {
	.run_job = apu_job_run,
	.timedout_job = apu_job_timedout,
	.free_job = apu_job_free,
};

/* The core for @target: that core, or the least-loaded core of a class. */
static struct apu_core *apu_pick_core(struct apu_device *adev, u32 target)
{
	struct apu_core *best = NULL;
	u32 i, n = DRM_APU_TARGET_INDEX(target);

	if (target & ~0x1ffu)
		return NULL;
	if (DRM_APU_TARGET_KIND(target) == DRM_APU_TARGET_CORE(0))
		return n < adev->num_cores ? &adev->cores[n] : NULL;
	for (i = 0; i < adev->num_cores; i++) {
		struct apu_core *c = &adev->cores[i];

		if (c->core_class != n)
			continue;
		if (!best || atomic_read(&c->queued) < atomic_read(&best->queued))
			best = c;
	}
	return best;
}

/* Does an earlier job of the call signal syncobj @handle? */
static bool apu_signalled_earlier(const struct drm_apu_job *ujobs, u32 index,
				  u32 handle)
{
	u32 i;

	for (i = 0; i < index; i++)
		if (ujobs[i].out_syncobj == handle)
			return true;
	return false;
}

/*
 * Add the BO of @handle to @job's list, once: a BO named again (the
 * command buffer, a handle repeated, two handles of one object) merges
 * into its first entry, a writer if any entry writes. Each entry gets one
 * fence slot at submit and one fence, so the list must hold each object
 * once, and its implicit fence must be a write fence if the job writes it.
 */
static int apu_job_add_bo(struct drm_file *file, struct apu_job *job,
			  u32 handle, bool write, bool nowait)
{
	struct apu_bo_map *map;
	struct apu_bo *bo;
	u32 i;

	bo = apu_bo_lookup_map(file, handle, &map);
	if (!bo) {
		drm_dbg_driver(file->minor->dev, "submit: no BO of handle %u\n", handle);
		return -ENOENT;
	}
	for (i = 0; i < job->num_bos; i++) {
		if (job->bos[i] == &bo->base.base) {
			job->bo_write[i] |= write;
			/*
			 * The command buffer's own entry waits; named, its
			 * BO takes the flags of the entries that name it.
			 */
			if (i == 0 && !job->cmd_named)
				job->bo_nowait[0] = nowait;
			else
				job->bo_nowait[i] &= nowait;
			if (i == 0)
				job->cmd_named = true;
			apu_bo_map_put(map);
			drm_gem_object_put(&bo->base.base);
			return 0;
		}
	}
	job->bos[job->num_bos] = &bo->base.base;
	job->maps[job->num_bos] = map;
	job->bo_write[job->num_bos] = write;
	job->bo_nowait[job->num_bos] = nowait;
	job->num_bos++;
	return 0;
}

static int apu_job_get_bos(struct drm_file *file, struct apu_job *job,
			   const struct drm_apu_job *uj)
{
	struct drm_apu_job_bo *ubos;
	struct drm_device *drm = file->minor->dev;
	u32 n = uj->num_bos + 1, i;
	int ret;

	job->bos = kvcalloc(n, sizeof(*job->bos), GFP_KERNEL_ACCOUNT);
	job->maps = kvcalloc(n, sizeof(*job->maps), GFP_KERNEL_ACCOUNT);
	job->bo_write = kvcalloc(n, sizeof(*job->bo_write), GFP_KERNEL_ACCOUNT);
	job->bo_nowait = kvcalloc(n, sizeof(*job->bo_nowait), GFP_KERNEL_ACCOUNT);
	if (!job->bos || !job->maps || !job->bo_write || !job->bo_nowait)
		return -ENOMEM;

	/* The command buffer first: the device reads it. */
	ret = apu_job_add_bo(file, job, uj->cmdbuf_handle, false, false);
	if (ret)
		return ret;
	if ((u64)uj->cmdbuf_offset + uj->cmdbuf_size > job->bos[0]->size) {
		drm_dbg_driver(drm,
			       "submit: cmdbuf_offset %u + cmdbuf_size %u past the BO's %zu bytes\n",
			       uj->cmdbuf_offset, uj->cmdbuf_size, job->bos[0]->size);
		return -EINVAL;
	}
	job->cmdbuf_va = job->maps[0]->node.start + uj->cmdbuf_offset;
	job->cmdbuf_size = uj->cmdbuf_size;

	if (!uj->num_bos)
		return 0;
	ubos = kvmalloc_array(uj->num_bos, sizeof(*ubos), GFP_KERNEL);
	if (!ubos)
		return -ENOMEM;
	if (copy_from_user(ubos, u64_to_user_ptr(uj->bos),
			   uj->num_bos * sizeof(*ubos))) {
		drm_dbg_driver(drm, "submit: bos array unreadable\n");
		ret = -EFAULT;
		goto out;
	}
	for (i = 0; i < uj->num_bos; i++) {
		if (ubos[i].flags & ~(DRM_APU_JOB_BO_WRITE | DRM_APU_JOB_BO_NO_WAIT)) {
			drm_dbg_driver(drm, "submit: unknown flags %#x of bos[%u]\n",
				       ubos[i].flags, i);
			ret = -EINVAL;
			goto out;
		}
		ret = apu_job_add_bo(file, job, ubos[i].handle,
				     ubos[i].flags & DRM_APU_JOB_BO_WRITE,
				     ubos[i].flags & DRM_APU_JOB_BO_NO_WAIT);
		if (ret)
			goto out;
	}
	/*
	 * The device's write list holds every BO a job may write: the command
	 * buffer's BO is written only when named, so at most
	 * DRM_APU_MAX_JOB_BOS BOs are.
	 */
	BUILD_BUG_ON(DRM_APU_MAX_JOB_BOS > APU_WLIST_MAX);
out:
	kvfree(ubos);
	return ret;
}

static int apu_job_get_syncobjs(struct drm_file *file, struct apu_job *job,
				const struct drm_apu_job *ujobs, u32 index)
{
	const struct drm_apu_job *uj = &ujobs[index];
	struct drm_device *drm = file->minor->dev;
	u32 i;

	if (uj->num_in_syncobjs) {
		job->in_handles = kvmalloc_array(uj->num_in_syncobjs,
						 sizeof(u32), GFP_KERNEL_ACCOUNT);
		if (!job->in_handles)
			return -ENOMEM;
		if (copy_from_user(job->in_handles, u64_to_user_ptr(uj->in_syncobjs),
				   uj->num_in_syncobjs * sizeof(u32))) {
			drm_dbg_driver(drm, "submit: in_syncobjs array unreadable\n");
			return -EFAULT;
		}
		job->num_in = uj->num_in_syncobjs;
	}
	for (i = 0; i < job->num_in; i++) {
		struct drm_syncobj *s = drm_syncobj_find(file, job->in_handles[i]);
		struct dma_fence *f;

		if (!s) {
			drm_dbg_driver(drm, "submit: no syncobj of in handle %u\n",
				       job->in_handles[i]);
			return -ENOENT;
		}
		f = drm_syncobj_fence_get(s);
		drm_syncobj_put(s);
		/* Nothing will ever signal it: the job could never run. */
		if (!f && !apu_signalled_earlier(ujobs, index, job->in_handles[i])) {
			drm_dbg_driver(drm,
				       "submit: in syncobj %u has no fence, and no earlier job signals it\n",
				       job->in_handles[i]);
			return -EINVAL;
		}
		dma_fence_put(f);
	}
	if (uj->out_syncobj) {
		job->out_syncobj = drm_syncobj_find(file, uj->out_syncobj);
		if (!job->out_syncobj) {
			drm_dbg_driver(drm, "submit: no syncobj of out handle %u\n",
				       uj->out_syncobj);
			return -ENOENT;
		}
	}
	return 0;
}

/* Pass one: check job @index of the call and take what it needs. */
static int apu_job_prepare(struct apu_device *adev, struct drm_file *file,
			   const struct drm_apu_job *ujobs, u32 index,
			   struct apu_job **out)
{
	const struct drm_apu_job *uj = &ujobs[index];
	struct apu_file *afile = file->driver_priv;
	struct apu_core *core;
	struct apu_job *job;
	unsigned int max_jobs;
	int ret;

	if (uj->flags) {
		drm_dbg_driver(&adev->drm, "submit: job %u: unknown flags %#x\n",
			       index, uj->flags);
		return -EINVAL;
	}
	if (uj->priority >= APU_NUM_PRIOS) {
		drm_dbg_driver(&adev->drm, "submit: job %u: priority %u unknown\n",
			       index, uj->priority);
		return -EINVAL;
	}
	if (uj->num_bos > DRM_APU_MAX_JOB_BOS) {
		drm_dbg_driver(&adev->drm, "submit: job %u: num_bos %u over %u\n",
			       index, uj->num_bos, DRM_APU_MAX_JOB_BOS);
		return -EINVAL;
	}
	if (uj->num_in_syncobjs > DRM_APU_MAX_JOB_SYNCOBJS) {
		drm_dbg_driver(&adev->drm, "submit: job %u: num_in_syncobjs %u over %u\n",
			       index, uj->num_in_syncobjs, DRM_APU_MAX_JOB_SYNCOBJS);
		return -EINVAL;
	}
	if (!IS_ALIGNED(uj->cmdbuf_offset, 8)) {
		drm_dbg_driver(&adev->drm, "submit: job %u: cmdbuf_offset %u not 8-byte aligned\n",
			       index, uj->cmdbuf_offset);
		return -EINVAL;
	}
	if (uj->cmdbuf_size < sizeof(struct apu_cmd_header) ||
	    uj->cmdbuf_size > APU_CMDBUF_MAX_SIZE) {
		drm_dbg_driver(&adev->drm, "submit: job %u: cmdbuf_size %u out of [%zu, %zu]\n",
			       index, uj->cmdbuf_size, sizeof(struct apu_cmd_header),
			       APU_CMDBUF_MAX_SIZE);
		return -EINVAL;
	}
	if (uj->priority == DRM_APU_JOB_PRIORITY_HIGH && !capable(CAP_SYS_NICE)) {
		drm_dbg_driver(&adev->drm, "submit: job %u: high priority needs CAP_SYS_NICE\n",
			       index);
		return -EACCES;
	}
	core = apu_pick_core(adev, uj->target);
	if (!core) {
		drm_dbg_driver(&adev->drm, "submit: job %u: no core matches target %#x\n",
			       index, uj->target);
		return -EINVAL;
	}

	/* A bounded queue: jobs of the file not ended, this one included. */
	max_jobs = READ_ONCE(apu_max_file_jobs);
	if (atomic_inc_return(&afile->jobs) > max_jobs && max_jobs) {
		atomic_dec(&afile->jobs);
		drm_dbg_driver(&adev->drm, "submit refused: the file has %u jobs queued\n",
			       max_jobs);
		return -EBUSY;
	}
	job = kzalloc(sizeof(*job), GFP_KERNEL_ACCOUNT);
	if (!job) {
		atomic_dec(&afile->jobs);
		return -ENOMEM;
	}
	INIT_LIST_HEAD(&job->node);
	job->core = core;
	atomic_inc(&core->queued);
	kref_get(&afile->refcount);
	job->afile = afile;
	job->vm = apu_vm_get(afile->vm);

	ret = apu_job_get_bos(file, job, uj);
	if (ret)
		goto err;
	ret = apu_job_get_syncobjs(file, job, ujobs, index);
	if (ret)
		goto err;

	job->result = kzalloc(sizeof(*job->result), GFP_KERNEL_ACCOUNT);
	if (!job->result) {
		ret = -ENOMEM;
		goto err;
	}
	/* Initialized at once: apu_job_cleanup() puts it on any error below. */
	kref_init(&job->result->refcount);
	INIT_LIST_HEAD(&job->result->node);
	job->result->core = core->index;
	job->result->state = DRM_APU_JOB_QUEUED;
	job->hw_fence = kzalloc(sizeof(*job->hw_fence), GFP_KERNEL_ACCOUNT);
	if (!job->hw_fence) {
		ret = -ENOMEM;
		goto err;
	}
	job->hw_fence->core = core;
	ret = apu_pm_get(adev);
	if (ret)
		goto err;
	job->pm_ref = true;

	ret = apu_sched_job_init(&job->base,
				 &afile->entities[uj->priority][core->index],
				 1, afile, file->client_id);
	if (ret)
		goto err;
	*out = job;
	return 0;

err:
	apu_job_cleanup(job);
	return ret;
}

/* Give the job an id and a place in the file's records. */
static int apu_job_record(struct apu_file *afile, struct apu_job *job)
{
	struct apu_job_result *r = job->result, *old = NULL;
	int ret;

	mutex_lock(&afile->results_lock);
	r->id = ++afile->next_job_id;
	ret = xa_insert(&afile->results_xa, (unsigned long)r->id, r,
			GFP_KERNEL_ACCOUNT);
	if (ret) {
		mutex_unlock(&afile->results_lock);
		return ret;
	}
	kref_get(&r->refcount);
	list_add_tail(&r->node, &afile->results);
	if (++afile->num_results > APU_MAX_RESULTS) {
		old = list_first_entry(&afile->results, struct apu_job_result, node);
		list_del(&old->node);
		xa_erase(&afile->results_xa, (unsigned long)old->id);
		afile->num_results--;
	}
	mutex_unlock(&afile->results_lock);
	if (old)
		apu_job_result_put(old);
	r->queue_ns = ktime_get_ns();
	return 0;
}

/* The job ended (its finished fence signalled): it leaves the file's queue. */
static void apu_job_ended(struct dma_fence *fence, struct dma_fence_cb *cb)
{
	struct apu_job *job = container_of(cb, struct apu_job, end_cb);

	atomic_dec(&job->afile->jobs);
	/* %DRM_IOCTL_APU_JOB_WAIT no longer needs it: the record holds no fence. */
	apu_job_result_drop_fence(job->result);
}

/*
 * Pass two: dependencies, then arm and push. On error the job was not
 * armed and still belongs to the caller.
 */
static int apu_job_push(struct drm_file *file, struct apu_job *job, u64 *id)
{
	struct drm_exec exec;
	u32 i;
	int ret = 0;

	for (i = 0; i < job->num_in; i++) {
		ret = drm_sched_job_add_syncobj_dependency(&job->base, file,
							   job->in_handles[i], 0);
		if (ret)
			return ret;
	}

	/* apu_job_add_bo() left no duplicate: one fence slot per BO. */
	drm_exec_init(&exec, DRM_EXEC_INTERRUPTIBLE_WAIT, job->num_bos);
	drm_exec_until_all_locked(&exec) {
		for (i = 0; i < job->num_bos; i++) {
			ret = drm_exec_prepare_obj(&exec, job->bos[i], 1);
			drm_exec_retry_on_contention(&exec);
			/*
			 * Two imported BOs sharing one reservation: one slot
			 * would take two fences. Refused, not supported.
			 */
			if (ret == -EALREADY) {
				drm_dbg_driver(file->minor->dev,
					       "submit: two BOs of the job share one reservation\n");
				ret = -EINVAL;
			}
			if (ret)
				goto out;
		}
	}
	for (i = 0; i < job->num_bos; i++) {
		/*
		 * NO_WAIT skips the users' fences, not the kernel's (an
		 * exporter moving or clearing an imported buffer).
		 */
		if (job->bo_nowait[i])
			ret = drm_sched_job_add_resv_dependencies(&job->base,
								  job->bos[i]->resv,
								  DMA_RESV_USAGE_KERNEL);
		else
			ret = drm_sched_job_add_implicit_dependencies(&job->base,
								      job->bos[i],
								      job->bo_write[i]);
		if (ret)
			goto out;
	}
	ret = apu_job_record(job->afile, job);
	if (ret)
		goto out;
	*id = job->result->id;
	trace_apu_job_submit(job->core->index, *id, job->vm->asid, job->num_bos);

	/* No allocation and no failure from here on. */
	drm_sched_job_arm(&job->base);
	job->done_fence = dma_fence_get(&job->base.s_fence->finished);
	rcu_assign_pointer(job->result->fence, dma_fence_get(job->done_fence));
	/* Pairs with the acquire in apu_ioctl_job_wait(): pushed => fence set. */
	smp_store_release(&job->result->pushed, true);
	if (dma_fence_add_callback(job->done_fence, &job->end_cb, apu_job_ended))
		apu_job_ended(job->done_fence, &job->end_cb);
	for (i = 0; i < job->num_bos; i++)
		dma_resv_add_fence(job->bos[i]->resv, job->done_fence,
				   job->bo_write[i] ? DMA_RESV_USAGE_WRITE :
						      DMA_RESV_USAGE_READ);
	if (job->out_syncobj)
		drm_syncobj_replace_fence(job->out_syncobj, job->done_fence);
	drm_sched_entity_push_job(&job->base);
out:
	drm_exec_fini(&exec);
	return ret;
}

static void apu_job_abort(struct apu_job *job)
{
	drm_sched_job_cleanup(&job->base);
	apu_job_cleanup(job);
}

int apu_ioctl_submit(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct apu_device *adev = to_apu_device(drm);
	struct apu_file *afile = file->driver_priv;
	struct drm_apu_submit *args = data;
	struct drm_apu_job *ujobs = NULL;
	struct apu_job **jobs = NULL;
	u32 i, prepared = 0, pushed = 0;
	int ret, idx;

	if (args->flags || args->pad) {
		drm_dbg_driver(drm, "submit: unknown flags %#x or pad %#x not zero\n",
			       args->flags, args->pad);
		return -EINVAL;
	}
	if (!args->num_jobs || args->num_jobs > DRM_APU_MAX_SUBMIT_JOBS) {
		drm_dbg_driver(drm, "submit: num_jobs %u out of [1, %u]\n",
			       args->num_jobs, DRM_APU_MAX_SUBMIT_JOBS);
		return -EINVAL;
	}
	if (args->job_size < sizeof(struct drm_apu_job) ||
	    args->job_size > DRM_APU_MAX_JOB_SIZE) {
		drm_dbg_driver(drm, "submit: job_size %u out of [%zu, %u]\n",
			       args->job_size, sizeof(struct drm_apu_job),
			       DRM_APU_MAX_JOB_SIZE);
		return -EINVAL;
	}
	if (apu_client_banned(afile->client)) {
		drm_dbg_driver(drm, "submit refused: the process is banned for faults and hangs\n");
		return -EIO;
	}
	if (!drm_dev_enter(drm, &idx)) {
		drm_dbg_driver(drm, "submit: the device is gone\n");
		return -ENODEV;
	}

	ujobs = kvcalloc(args->num_jobs, sizeof(*ujobs), GFP_KERNEL);
	jobs = kvcalloc(args->num_jobs, sizeof(*jobs), GFP_KERNEL);
	if (!ujobs || !jobs) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < args->num_jobs; i++) {
		ret = copy_struct_from_user(&ujobs[i], sizeof(ujobs[i]),
					    u64_to_user_ptr(args->jobs + (u64)i * args->job_size),
					    args->job_size);
		if (ret) {
			drm_dbg_driver(drm, "submit: jobs[%u] %s\n", i,
				       ret == -E2BIG ? "has unknown fields set" : "unreadable");
			/* Non-zero bytes of a newer struct: unknown fields. */
			ret = ret == -E2BIG ? -EINVAL : ret;
			goto out;
		}
	}

	for (prepared = 0; prepared < args->num_jobs; prepared++) {
		ret = apu_job_prepare(adev, file, ujobs, prepared, &jobs[prepared]);
		if (ret)
			goto out;
	}

	for (pushed = 0; pushed < args->num_jobs; pushed++) {
		struct apu_job *job = jobs[pushed];

		ujobs[pushed].core = job->core->index;
		ret = apu_job_push(file, job, &ujobs[pushed].job_id);
		if (ret)
			break;
		/* The scheduler owns the job now: it may already be freed. */
		jobs[pushed] = NULL;
	}

	for (i = 0; i < pushed; i++) {
		u64 uptr = args->jobs + (u64)i * args->job_size;

		if (copy_to_user(u64_to_user_ptr(uptr + offsetof(struct drm_apu_job, core)),
				 &ujobs[i].core, sizeof(ujobs[i].core)) ||
		    copy_to_user(u64_to_user_ptr(uptr + offsetof(struct drm_apu_job, job_id)),
				 &ujobs[i].job_id, sizeof(ujobs[i].job_id))) {
			drm_dbg_driver(drm, "submit: jobs[%u] not writable\n", i);
			ret = -EFAULT;
			break;
		}
	}

out:
	for (i = pushed; i < prepared; i++)
		if (jobs[i])
			apu_job_abort(jobs[i]);
	kvfree(jobs);
	kvfree(ujobs);
	drm_dev_exit(idx);
	return ret;
}

int apu_ioctl_job_info(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct apu_file *afile = file->driver_priv;
	struct drm_apu_job_info *args = data;
	struct apu_job_result *r;
	u32 state;

	if (args->pad) {
		drm_dbg_driver(drm, "job_info: pad %#x not zero\n", args->pad);
		return -EINVAL;
	}
	if (!args->job_id || args->job_id > ULONG_MAX) {
		drm_dbg_driver(drm, "job_info: no job %llu\n", args->job_id);
		return -ENOENT;
	}

	mutex_lock(&afile->results_lock);
	r = xa_load(&afile->results_xa, (unsigned long)args->job_id);
	if (r)
		kref_get(&r->refcount);
	mutex_unlock(&afile->results_lock);
	if (!r) {
		drm_dbg_driver(drm, "job_info: no job %llu (never, or no longer, recorded)\n",
			       args->job_id);
		return -ENOENT;
	}

	/* Pairs with the release in apu_job_end_locked(): DONE => fields set. */
	state = smp_load_acquire(&r->state);
	memset(args, 0, sizeof(*args));
	args->job_id = r->id;
	args->state = state;
	args->core = r->core;
	args->queue_ns = r->queue_ns;
	if (state == DRM_APU_JOB_DONE) {
		args->status = r->status;
		args->op_index = r->op_index;
		args->fault_addr = r->fault_addr;
		args->fault_flags = r->fault_flags;
		args->cycles = r->cycles;
		args->macs = r->macs;
		args->bytes_read = r->bytes_read;
		args->bytes_written = r->bytes_written;
		args->start_ns = r->start_ns;
		args->end_ns = r->end_ns;
	}
	apu_job_result_put(r);
	return 0;
}

/*
 * Wait for the job of record @r, at most *@timeout jiffies, which is left
 * with what remains of it (0 stays 0: polling), and read its status into
 * *@status; 0 or a negative errno.
 */
static int apu_job_wait_one(struct apu_job_result *r, unsigned long *timeout,
			    u32 *status)
{
	struct dma_fence *f;
	long ret;

	rcu_read_lock();
	f = dma_fence_get_rcu_safe(&r->fence);
	rcu_read_unlock();
	if (f) {
		ret = dma_fence_wait_timeout(f, true, *timeout);
		dma_fence_put(f);
		if (ret == 0)
			return -ETIME;
		if (ret < 0)
			return ret;
		if (*timeout)
			*timeout = ret;
	}
	/* Pairs with apu_job_ended()'s xchg: the record after the fence pointer. */
	smp_rmb();
	/* Ended: DONE with its status, or dropped from the queue unrun. */
	if (smp_load_acquire(&r->state) != DRM_APU_JOB_DONE)
		*status = DRM_APU_STATUS_CANCELED;
	else
		*status = r->status;
	return 0;
}

/*
 * The records of @n job ids of @afile, referenced, looked up together so
 * that none is forgotten while the others are waited for; -ENOENT (and no
 * reference) when one is not a pushed job of the file.
 */
static int apu_job_results_get(struct drm_device *drm, struct apu_file *afile,
			       const u64 *ids, u32 n, struct apu_job_result **rs)
{
	int ret = 0;
	u32 i;

	mutex_lock(&afile->results_lock);
	for (i = 0; i < n; i++) {
		struct apu_job_result *r = NULL;

		if (ids[i] && ids[i] <= ULONG_MAX)
			r = xa_load(&afile->results_xa, (unsigned long)ids[i]);
		/* A job not pushed yet has no id its caller knows of. */
		if (!r || !smp_load_acquire(&r->pushed)) {
			drm_dbg_driver(drm, "job_wait: no job %llu\n", ids[i]);
			ret = -ENOENT;
			break;
		}
		kref_get(&r->refcount);
		rs[i] = r;
	}
	mutex_unlock(&afile->results_lock);
	if (ret)
		while (i--)
			apu_job_result_put(rs[i]);
	return ret;
}

int apu_ioctl_job_wait(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct apu_file *afile = file->driver_priv;
	struct drm_apu_job_wait *args = data;
	unsigned long timeout = drm_timeout_abs_to_jiffies(args->timeout_ns);
	u32 i, failed = 0, first = 0, first_status = DRM_APU_STATUS_OK;
	struct apu_job_result **rs;
	u64 *ids;
	int ret;

	if (args->flags || args->pad) {
		drm_dbg_driver(drm, "job_wait: flags %#x or pad %#x not zero\n",
			       args->flags, args->pad);
		return -EINVAL;
	}
	if (!args->num_jobs || args->num_jobs > DRM_APU_MAX_WAIT_JOBS) {
		drm_dbg_driver(drm, "job_wait: num_jobs %u out of [1, %u]\n",
			       args->num_jobs, DRM_APU_MAX_WAIT_JOBS);
		return -EINVAL;
	}
	ids = kvmalloc_array(args->num_jobs, sizeof(*ids), GFP_KERNEL_ACCOUNT);
	rs = kvmalloc_array(args->num_jobs, sizeof(*rs), GFP_KERNEL_ACCOUNT);
	if (!ids || !rs) {
		ret = -ENOMEM;
		goto out;
	}
	if (copy_from_user(ids, u64_to_user_ptr(args->job_ids),
			   args->num_jobs * sizeof(*ids))) {
		drm_dbg_driver(drm, "job_wait: job_ids unreadable\n");
		ret = -EFAULT;
		goto out;
	}
	ret = apu_job_results_get(drm, afile, ids, args->num_jobs, rs);
	if (ret)
		goto out;
	for (i = 0; i < args->num_jobs; i++) {
		u32 status;

		ret = apu_job_wait_one(rs[i], &timeout, &status);
		if (ret)
			break;
		if (status != DRM_APU_STATUS_OK && !failed++) {
			first = i;
			first_status = status;
		}
	}
	for (i = 0; i < args->num_jobs; i++)
		apu_job_result_put(rs[i]);
	if (!ret) {
		args->failed = failed;
		args->first_failed = first;
		args->status = first_status;
	}
out:
	kvfree(rs);
	kvfree(ids);
	return ret;
}
