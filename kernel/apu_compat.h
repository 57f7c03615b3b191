/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel API differences this driver meets between the releases it
 * builds for (Debian's 6.12 and Linux 7.3), in one place. Everything else
 * uses one API only. The APU_HAVE_* macros come from kernel/Kbuild, which
 * looks for each API in the headers of the kernel being built against.
 *
 * Copyright (c) 2026 The apu authors
 */
#ifndef APU_COMPAT_H
#define APU_COMPAT_H

#include <drm/gpu_scheduler.h>

/*
 * 6.15 passes the scheduler's parameters in struct drm_sched_init_args;
 * 6.17 renamed the timedout_job status for "reset, carry on" to
 * DRM_GPU_SCHED_STAT_RESET and gave drm_sched_job_init() the client id
 * (shown in the scheduler's tracepoints); 6.13 gave drm_sched_start() an
 * error code for the fences of jobs it drops.
 */
static inline int apu_sched_init(struct drm_gpu_scheduler *sched,
				 const struct drm_sched_backend_ops *ops,
				 u32 credit_limit, long timeout,
				 const char *name, struct device *dev)
{
#ifdef APU_HAVE_SCHED_INIT_ARGS
	const struct drm_sched_init_args args = {
		.ops = ops,
		.num_rqs = DRM_SCHED_PRIORITY_COUNT,
		.credit_limit = credit_limit,
		.timeout = timeout,
		.name = name,
		.dev = dev,
	};

	return drm_sched_init(sched, &args);
#else
	return drm_sched_init(sched, ops, NULL, DRM_SCHED_PRIORITY_COUNT,
			      credit_limit, 0, timeout, NULL, NULL, name, dev);
#endif
}

static inline int apu_sched_job_init(struct drm_sched_job *job,
				     struct drm_sched_entity *entity,
				     u32 credits, void *owner, u64 client_id)
{
#ifdef APU_HAVE_SCHED_CLIENT_ID
	return drm_sched_job_init(job, entity, credits, owner, client_id);
#else
	return drm_sched_job_init(job, entity, credits, owner);
#endif
}

static inline void apu_sched_start(struct drm_gpu_scheduler *sched)
{
#ifdef APU_HAVE_SCHED_START_ERRNO
	drm_sched_start(sched, 0);
#else
	drm_sched_start(sched);
#endif
}

#ifdef APU_HAVE_SCHED_STAT_RESET
#define APU_SCHED_STAT_RESET DRM_GPU_SCHED_STAT_RESET
#else
#define APU_SCHED_STAT_RESET DRM_GPU_SCHED_STAT_NOMINAL
#endif

#endif /* APU_COMPAT_H */
