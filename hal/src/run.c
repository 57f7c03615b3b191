// SPDX-License-Identifier: MIT
/*
 * Running a compiled network: tensor I/O, the CPU ops between device
 * segments, the CPU reference, submission of the jobs, waiting and the
 * run's statistics.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/sync_file.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <xf86drm.h>
#include <drm/apu_accel.h>
#include <hw/apu_cmd.h>

#include "network.h"

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int apu_network_write(struct apu_network *net, int tensor, const void *src, size_t size)
{
	if (!net || !src || !valid_tensor(net, tensor) || size != net->t[tensor].size)
		return -EINVAL;
	if (!net->compiled || net->t[tensor].producer >= 0 || net->t[tensor].constant ||
	    (net->t[tensor].view_of >= 0 && net->t[net->t[tensor].view_of].constant))
		return -EINVAL;
	if (net->in_flight)
		return -EBUSY;
	memcpy((uint8_t *)apu_buffer_cpu(net->act) + net->t[tensor].off, src, size);
	return 0;
}

/* Tensor @t out of arena @a (a slice gathered from its base). */
static void gather(const struct apu_network *net, int t, const uint8_t *a, void *dst)
{
	const struct tensor *x = &net->t[t];
	size_t pitch = t_pitch(net, t), pix = (size_t)x->s.h * x->s.w;

	if (x->slice_of < 0) {
		memcpy(dst, a + x->off, x->size);
		return;
	}
	for (size_t px = 0; px < pix; px++)
		memcpy((uint8_t *)dst + px * x->s.c, a + x->off + px * pitch, x->s.c);
}

int apu_network_read(struct apu_network *net, int tensor, void *dst, size_t size)
{
	if (!net || !dst || !valid_tensor(net, tensor) || size != net->t[tensor].size ||
	    !net->compiled)
		return -EINVAL;
	if (net->in_flight)
		return -EBUSY;
	gather(net, tensor, apu_buffer_cpu(net->act), dst);
	return 0;
}

/* ---- running -------------------------------------------------------------- */

/* The CPU ops (and views, which do nothing) on the tensors of arena @a. */
static void cpu_op(const struct apu_network *net, const struct op *o, int8_t *a)
{
	const struct tensor *ti = &net->t[o->in[0]], *to = &net->t[o->out];
	int8_t *out = a + to->off;
	const int8_t *in = a + ti->off;

	switch (o->kind) {
	case OP_MEAN:
		apu_ref_mean(&ti->s, &o->mean, in, out);
		break;
	case OP_SOFTMAX:
		apu_ref_softmax((size_t)ti->s.h * ti->s.w, ti->s.c, &o->sm, in, out);
		break;
	case OP_CONCAT: {
		size_t pix = (size_t)to->s.h * to->s.w, at = 0;

		for (int k = 0; k < o->ncat; k++) {
			const struct tensor *t = &net->t[o->cat[k]];

			for (size_t px = 0; px < pix; px++)
				memcpy(out + px * to->s.c + at, a + t->off + px * t->s.c, t->s.c);
			at += t->s.c;
		}
		break;
	}
	case OP_PAD: {
		size_t row = (size_t)ti->s.w * ti->s.c;

		memset(out, o->pad_value, to->size);
		for (unsigned int y = 0; y < ti->s.h; y++)
			memcpy(out + (((size_t)(y + o->pads[0]) * to->s.w) + o->pads[2]) * to->s.c,
			       in + y * row, row);
		break;
	}
	case OP_BADD:
	case OP_BMUL: {
		const struct tensor *tb = &net->t[o->in[1]];
		const int8_t *b = a + tb->off;

		for (unsigned int y = 0; y < to->s.h; y++)
			for (unsigned int x = 0; x < to->s.w; x++)
				for (unsigned int c = 0; c < to->s.c; c++) {
					size_t ia = ((size_t)(ti->s.h == 1 ? 0 : y) * ti->s.w +
						     (ti->s.w == 1 ? 0 : x)) * ti->s.c +
						    (ti->s.c == 1 ? 0 : c);
					size_t ib = ((size_t)(tb->s.h == 1 ? 0 : y) * tb->s.w +
						     (tb->s.w == 1 ? 0 : x)) * tb->s.c +
						    (tb->s.c == 1 ? 0 : c);
					size_t k = ((size_t)y * to->s.w + x) * to->s.c + c;

					if (o->kind == OP_BADD)
						apu_ref_add_bcast(1, 1, &o->add, in + ia, b + ib,
								  out + k);
					else
						apu_ref_mul(1, 1, &o->mul, in + ia, b + ib, out + k);
				}
		break;
	}
	default:	/* views */
		break;
	}
}

/* Run op @i with the CPU reference on the tensors of arena @a. */
static void ref_op(const struct apu_network *net, int i, int8_t *a)
{
	const struct op *o = &net->ops[i];
	const uint8_t *k = apu_buffer_cpu(net->cst);
	int8_t *out = a + net->t[o->out].off;
	const int8_t *in = a + net->t[o->in[0]].off;

	if (o->fp16) {
		apu_net_ref_fp16(net, o, (uint8_t *)a);
		return;
	}
	switch (o->kind) {
	case OP_CONV: {
		const struct tensor *t = &net->t[o->out];
		/* A slice is computed in the scratch buffer compile made for it. */
		int8_t *tmp = t->slice_of >= 0 ? net->scratch : out;

		apu_ref_conv2d(&o->conv, in, o->w8 ? o->w8 : (const int8_t *)(k + o->w_off),
			       o->has_bias ? (const int32_t *)(k + o->b_off) : NULL,
			       (const int32_t *)(k + o->m_off), (const int32_t *)(k + o->s_off),
			       tmp);
		if (tmp != out) {	/* a slice: scatter at its base's pitch */
			size_t pitch = t_pitch(net, o->out), pix = (size_t)t->s.h * t->s.w;

			for (size_t px = 0; px < pix; px++)
				memcpy(out + px * pitch, tmp + px * t->s.c, t->s.c);
		}
		break;
	}
	case OP_ADD:
		apu_ref_add_bcast(net->t[o->out].size, o->period, &o->add, in,
				  a + net->t[o->in[1]].off, out);
		break;
	case OP_POOL:
		apu_ref_avgpool(&o->pool, in, out);
		break;
	case OP_MAXPOOL:
		apu_ref_maxpool(&o->pool, in, out);
		break;
	case OP_MUL:
		apu_ref_mul(net->t[o->out].size, o->period, &o->mul, in, a + net->t[o->in[1]].off,
			    out);
		break;
	case OP_LUT:
		apu_ref_lut(net->t[o->out].size, (const int8_t *)(k + o->lut_off), in, out);
		break;
	default:
		cpu_op(net, o, a);
		break;
	}
}

int apu_network_run_reference(struct apu_network *net)
{
	int i;

	if (!net || !net->compiled)
		return -EINVAL;
	if (net->in_flight)
		return -EBUSY;
	if (!net->ref) {
		net->ref = malloc(net->act_size);
		if (!net->ref)
			return -ENOMEM;
	}
	for (i = 0; i < net->nt; i++)
		if (net->t[i].producer < 0)
			memcpy(net->ref + net->t[i].off,
			       (uint8_t *)apu_buffer_cpu(net->act) + net->t[i].off, net->t[i].size);
	for (i = 0; i < net->nops; i++)
		ref_op(net, i, net->ref);
	return 0;
}

int apu_network_read_reference(struct apu_network *net, int tensor, void *dst, size_t size)
{
	if (!net || !dst || !net->ref || !valid_tensor(net, tensor) ||
	    size != net->t[tensor].size)
		return -EINVAL;
	gather(net, tensor, (const uint8_t *)net->ref, dst);
	return 0;
}

/* Wait for the syncobjs of the first @count jobs; 0, -ETIME, or an errno. */
static int wait_jobs(struct apu_network *net, int count, int64_t timeout_ns)
{
	uint32_t *objs;
	int ret;

	if (!count)
		return 0;
	objs = malloc(sizeof(*objs) * (size_t)count);
	if (!objs)
		return -ENOMEM;
	for (int i = 0; i < count; i++)
		objs[i] = net->jobs[i].syncobj;
	ret = drmSyncobjWait(net->dev->fd, objs, (uint32_t)count,
			     timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns,
			     DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, NULL);
	if (ret)
		ret = errno == ETIME ? -ETIME : -errno;
	free(objs);
	return ret;
}

/* Queue jobs [@i, @end); those queued earlier are waited for on failure. */
static int submit_jobs(struct apu_network *net, int i, int end, bool with_in_fence)
{
	/*
	 * The jobs write activations (the device enforces it) in parts of one
	 * buffer that their syncobjs order: no implicit wait on it, or jobs
	 * on different cores would run one after another. Drivers before 0.2
	 * know neither NO_WAIT nor enforcement: the buffer is named read
	 * there, as it always was, so that their jobs do not wait either.
	 */
	struct drm_apu_job_bo bos[3] = {
		{ net->act->handle, net->dev->bo_no_wait ?
				    DRM_APU_JOB_BO_WRITE | DRM_APU_JOB_BO_NO_WAIT : 0 },
		{ net->cst->handle, 0 }, { net->cmd->handle, 0 },
	};
	struct drm_apu_job batch[DRM_APU_MAX_SUBMIT_JOBS];

	while (i < end) {
		struct drm_apu_submit s = { .jobs = (uintptr_t)batch, .job_size = sizeof(batch[0]) };
		int n = end - i < DRM_APU_MAX_SUBMIT_JOBS ? end - i : DRM_APU_MAX_SUBMIT_JOBS;

		for (int k = 0; k < n; k++) {
			const struct job *j = &net->jobs[i + k];

			batch[k] = (struct drm_apu_job){
				.cmdbuf_handle = net->cmd->handle,
				.cmdbuf_offset = j->cmd_off,
				.cmdbuf_size = j->cmd_size,
				.target = DRM_APU_TARGET_CORE(j->share.core),
				.priority = net->opts.priority,
				.bos = (uintptr_t)bos,
				.num_bos = 3,
				.in_syncobjs = (uintptr_t)(net->deps + j->dep_first),
				.num_in_syncobjs = j->ndeps,
				.out_syncobj = j->syncobj,
			};
			if (!j->ndeps && with_in_fence) {
				batch[k].in_syncobjs = (uintptr_t)&net->in_fence_syncobj;
				batch[k].num_in_syncobjs = 1;
			}
		}
		s.num_jobs = (uint32_t)n;
		if (drmIoctl(net->dev->fd, DRM_IOCTL_APU_SUBMIT, &s)) {
			int ret = -errno;

			/*
			 * Earlier batches are queued: let them end before the
			 * buffers can be reused or freed, then report the error.
			 */
			if (i)
				wait_jobs(net, i, -1);
			return ret;
		}
		for (int k = 0; k < n; k++)
			net->jobs[i + k].id = batch[k].job_id;
		i += n;
	}
	return 0;
}

static bool has_cpu_ops(const struct apu_network *net)
{
	for (int i = 0; i < net->nops; i++)
		if (kind_cpu(net->ops[i].kind))
			return true;
	return false;
}

/*
 * A network with CPU ops runs in segments: the device jobs up to a CPU op
 * are queued and waited for, the CPU op runs on the mapped activations,
 * and so on. The whole run happens here; @out_fence is then a signalled
 * fence.
 */
static int run_segments(struct apu_network *net, int in_fence, int *out_fence)
{
	int8_t *a = apu_buffer_cpu(net->act);
	int next = 0, ret;

	if (in_fence >= 0) {
		if (drmSyncobjImportSyncFile(net->dev->fd, net->in_fence_syncobj, in_fence))
			return -errno;
		if (drmSyncobjWait(net->dev->fd, &net->in_fence_syncobj, 1, INT64_MAX, 0, NULL))
			return -errno;
	}
	for (int i = 0; i <= net->nops; i++) {
		int end = next;
		int64_t t0;

		if (i < net->nops && !kind_cpu(net->ops[i].kind))
			continue;
		/* The device ops before op @i. */
		while (end < net->njobs && net->jobs[end].op < i)
			end++;
		if (end > next) {
			ret = submit_jobs(net, next, end, false);
			if (!ret)
				ret = wait_jobs(net, end, -1);
			else if (next)
				wait_jobs(net, next, -1);
			if (ret)
				return ret;
			next = end;
		}
		if (i == net->nops)
			break;
		t0 = now_ns();
		cpu_op(net, &net->ops[i], a);
		net->ops[i].cpu_us = (double)(now_ns() - t0) / 1000.0;
	}
	net->in_flight = true;
	if (out_fence) {
		uint32_t done;

		if (drmSyncobjCreate(net->dev->fd, DRM_SYNCOBJ_CREATE_SIGNALED, &done))
			return -errno;
		ret = drmSyncobjExportSyncFile(net->dev->fd, done, out_fence) ? -errno : 0;
		drmSyncobjDestroy(net->dev->fd, done);
		return ret;
	}
	return 0;
}

int apu_network_submit(struct apu_network *net, int in_fence, int *out_fence)
{
	int ret, i;

	if (out_fence)
		*out_fence = -1;
	if (!net || !net->compiled)
		return -EINVAL;
	if (net->in_flight)
		return -EBUSY;
	/* The last run's unread records go with its job ids, replaced now. */
	if (net->records_pending) {
		net->records_pending = false;
		net->have_run = false;
	}
	net->submit_ns = now_ns();
	if (net->dev->cpu) {
		/* The CPU backend runs at once; its fences are already signalled. */
		for (i = 0; i < net->nops; i++) {
			int64_t t0 = now_ns();

			ref_op(net, i, apu_buffer_cpu(net->act));
			if (kind_cpu(net->ops[i].kind))
				net->ops[i].cpu_us = (double)(now_ns() - t0) / 1000.0;
		}
		net->end_ns = now_ns();
		net->in_flight = true;
		return 0;
	}
	if (has_cpu_ops(net)) {
		ret = run_segments(net, in_fence, out_fence);
		net->end_ns = now_ns();
		return ret;
	}
	if (in_fence >= 0 &&
	    drmSyncobjImportSyncFile(net->dev->fd, net->in_fence_syncobj, in_fence))
		return -errno;
	ret = submit_jobs(net, 0, net->njobs, in_fence >= 0);
	if (ret)
		return ret;
	net->in_flight = true;
	if (out_fence) {
		int merged = -1;

		/* The jobs no other job waits for, merged into one sync_file. */
		for (i = 0; i < net->njobs; i++) {
			int fd;

			if (!net->jobs[i].sink)
				continue;
			if (drmSyncobjExportSyncFile(net->dev->fd, net->jobs[i].syncobj, &fd)) {
				/* The run goes on: wait for it with apu_network_wait(). */
				ret = -errno;
				if (merged >= 0)
					close(merged);
				return ret;
			}
			if (merged < 0) {
				merged = fd;
			} else {
				struct sync_merge_data m = { .name = "apu-run", .fd2 = fd };

				ret = ioctl(merged, SYNC_IOC_MERGE, &m) ? -errno : 0;
				close(fd);
				close(merged);
				if (ret)
					return ret;
				merged = m.fence;
			}
		}
		*out_fence = merged;
	}
	return 0;
}

/* A job's status as the errno its fence carries (enum drm_apu_job_status). */
static int status_errno(uint32_t status)
{
	switch (status) {
	case DRM_APU_STATUS_OK:
		return 0;
	case DRM_APU_STATUS_MMU_FAULT:
		return -EFAULT;
	case DRM_APU_STATUS_BAD_CMDBUF:
	case DRM_APU_STATUS_BAD_OP:
	case DRM_APU_STATUS_BAD_PARAMS:
	case DRM_APU_STATUS_BAD_CONTEXT:
		return -EINVAL;	/* the device refused what libapu built */
	case DRM_APU_STATUS_TOO_LARGE:
		return -E2BIG;
	case DRM_APU_STATUS_TIMEOUT:
		return -ETIMEDOUT;
	case DRM_APU_STATUS_CANCELED:
	case DRM_APU_STATUS_ABORTED:
		return -ECANCELED;
	default:
		return -EIO;	/* INJECTED, or a status this library does not know */
	}
}

/* Modeled start and end of every job: its core's order and its dependencies. */
static void model_times(struct apu_network *net, struct apu_run_stats *st,
			struct apu_core_stats *cores)
{
	double core_free[8] = { 0 };
	const struct apu_device *dev = net->dev;
	/* Without memory, the stats ignore dependencies (they stay bounds). */
	int *prods = malloc(sizeof(int) * ((size_t)net->nt + 2));

	memset(st, 0, sizeof(*st));
	memset(cores, 0, sizeof(*cores) * 8);
	st->num_cores = dev->info.num_cores;
	st->jobs = (unsigned int)net->njobs;
	for (int i = 0; i < net->njobs; i++) {
		struct job *j = &net->jobs[i];
		const struct apu_core_info *c = &dev->cores[j->share.core];
		struct apu_core_stats *cs = &cores[j->share.core];
		double start = core_free[j->share.core];

		/* It starts when its core is free and its producers' jobs ended. */
		for (int k = prods ? apu_net_input_producers(net, &net->ops[j->op], prods) - 1 : -1; k >= 0; k--)
			for (int q = 0; q < i; q++)
				if (net->jobs[q].op == prods[k] && net->jobs[q].end_us > start)
					start = net->jobs[q].end_us;
		j->start_us = start;
		j->end_us = start + (double)j->cycles / c->clock_mhz;
		core_free[j->share.core] = j->end_us;
		cs->jobs++;
		cs->cycles += j->cycles;
		cs->macs += j->macs;
		cs->busy_us += j->end_us - j->start_us;
		cs->energy_uj += (double)j->macs * c->energy_fj_per_mac * 1e-9;
		if (j->end_us > st->makespan_us)
			st->makespan_us = j->end_us;
	}
	for (unsigned int c = 0; c < st->num_cores; c++)
		st->energy_uj += cores[c].energy_uj;
	/*
	 * Static energy, as the planner counts it: a core that works on a
	 * layer is powered from the layer's first start to its last end
	 * (power gating turns the others off).
	 */
	for (int o = 0; o < net->nops; o++) {
		double t0 = 0, t1 = 0;
		unsigned int used = 0;
		bool any = false;

		for (int i = 0; i < net->njobs; i++) {
			const struct job *j = &net->jobs[i];

			if (j->op != o)
				continue;
			if (!any || j->start_us < t0)
				t0 = j->start_us;
			if (!any || j->end_us > t1)
				t1 = j->end_us;
			any = true;
			used |= 1u << j->share.core;
		}
		for (unsigned int c = 0; c < st->num_cores; c++)
			if (used & (1u << c))
				st->energy_uj += dev->cores[c].idle_power_uw * (t1 - t0) * 1e-6;
	}
	free(prods);
}

/*
 * The last run's statistics from its job records (one JOB_INFO each), or
 * the planner's figures for a job whose record cannot be read; 0, or the
 * errno of the first job that did not end OK (or of the first unreadable
 * record).
 */
static int read_records(struct apu_network *net)
{
	int64_t first_start = INT64_MAX;
	int ret = 0;

	net->records_pending = false;
	for (int i = 0; i < net->njobs; i++) {
		struct drm_apu_job_info info = { .job_id = net->jobs[i].id };
		struct job *j = &net->jobs[i];
		int e;

		if (drmIoctl(net->dev->fd, DRM_IOCTL_APU_JOB_INFO, &info)) {
			ret = ret ? ret : -errno;
			j->cycles = j->share.cycles;
			j->macs = net->ops[j->op].layer.unit_macs * j->share.count;
			continue;
		}
		e = status_errno(info.status);
		if (e && !ret)
			ret = e;
		j->cycles = info.cycles;
		j->macs = info.macs;
		if (info.start_ns && (int64_t)info.start_ns < first_start)
			first_start = (int64_t)info.start_ns;
	}
	model_times(net, &net->last, net->last_cores);
	net->last.wall_us = (double)(net->end_ns - net->submit_ns) / 1000.0;
	net->last.queue_us = first_start == INT64_MAX ? 0 :
			     (double)(first_start - net->submit_ns) / 1000.0;
	if (net->last.queue_us < 0)
		net->last.queue_us = 0;
	return ret;
}

void apu_net_records(struct apu_network *net)
{
	if (net->records_pending)
		read_records(net);	/* the run ended OK: errors only lose figures */
}

/*
 * Wait for every job of the run with DRM_IOCTL_APU_JOB_WAIT (driver 0.3),
 * DRM_APU_MAX_WAIT_JOBS at a time: 0 when all ended OK, else the first
 * failure's status (enum drm_apu_job_status, positive) in *@status and 1;
 * or a negative errno (-ETIME: not all ended in time, wait again).
 */
static int job_wait(struct apu_network *net, int64_t timeout_ns, uint32_t *status)
{
	uint64_t stack_ids[16], *ids = stack_ids;
	int64_t deadline = timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns;
	int ret = 0, done = 0;

	if (net->njobs > (int)(sizeof(stack_ids) / sizeof(stack_ids[0]))) {
		ids = malloc(sizeof(*ids) * (size_t)net->njobs);
		if (!ids)
			return -ENOMEM;
	}
	for (int i = 0; i < net->njobs; i++)
		ids[i] = net->jobs[i].id;
	while (!ret && done < net->njobs) {
		int n = net->njobs - done;
		struct drm_apu_job_wait w = {
			.job_ids = (uintptr_t)(ids + done),
			.num_jobs = (uint32_t)(n < DRM_APU_MAX_WAIT_JOBS ? n : DRM_APU_MAX_WAIT_JOBS),
			.timeout_ns = deadline,
		};

		if (drmIoctl(net->dev->fd, DRM_IOCTL_APU_JOB_WAIT, &w)) {
			ret = errno == ETIME ? -ETIME : -errno;
		} else if (w.failed) {
			*status = w.status;
			ret = 1;
		}
		done += (int)w.num_jobs;
	}
	if (ids != stack_ids)
		free(ids);
	return ret;
}

/*
 * The job records are read (one JOB_INFO per job) only when the caller asks
 * for the run's statistics, when a job failed, or on drivers before 0.3;
 * otherwise later, if apu_network_get_core_stats() or
 * apu_network_write_trace() need them.
 */
int apu_network_wait(struct apu_network *net, int64_t timeout_ns, struct apu_run_stats *stats)
{
	int ret = 0, i;

	if (!net || !net->compiled)
		return -EINVAL;
	if (!net->in_flight)
		return -EINVAL;
	if (net->dev->cpu) {
		/* The planner's figures: the same timing model as the device. */
		for (i = 0; i < net->njobs; i++) {
			struct job *j = &net->jobs[i];

			j->cycles = j->share.cycles;
			j->macs = net->ops[j->op].layer.unit_macs * j->share.count;
		}
		model_times(net, &net->last, net->last_cores);
		net->last.wall_us = (double)(net->end_ns - net->submit_ns) / 1000.0;
		net->last.queue_us = 0;
	} else {
		uint32_t status = DRM_APU_STATUS_OK;
		bool failed = true;

		ret = -ENOSYS;
		if (net->dev->job_wait && net->njobs)
			ret = job_wait(net, timeout_ns, &status);
		if (ret == -ETIME || ret == -EINTR)
			return ret;	/* the run goes on: wait again */
		if (ret >= 0) {
			failed = ret;
			ret = 0;
		} else {
			/*
			 * Older drivers, and records the kernel forgot (4096
			 * jobs of other networks of the same file since):
			 * the syncobjs, then every record.
			 */
			ret = wait_jobs(net, net->njobs, timeout_ns);
			if (ret)
				return ret;
		}
		net->end_ns = now_ns();
		net->records_pending = true;
		if (failed || stats)
			ret = read_records(net);
		/* A job JOB_WAIT saw fail (ended unrun: no status in its record). */
		if (!ret && status != DRM_APU_STATUS_OK)
			ret = status_errno(status);
	}
	net->in_flight = false;
	net->have_run = true;
	if (stats)
		*stats = net->last;
	return ret;
}

int apu_network_get_core_stats(const struct apu_network *net, unsigned int core,
			       struct apu_core_stats *stats, size_t size)
{
	if (!net || !net->have_run)
		return -EINVAL;
	/* The figures are read on first use: a cache, not a change of the network. */
	apu_net_records((struct apu_network *)net);
	if (core >= net->last.num_cores)
		return -EINVAL;
	return apu_copy_sized(stats, size, &net->last_cores[core], sizeof(net->last_cores[core]),
			      APU_CORE_STATS_SIZE_1_0);
}

int apu_network_run(struct apu_network *net, struct apu_run_stats *stats)
{
	int ret = apu_network_submit(net, -1, NULL);

	return ret ? ret : apu_network_wait(net, -1, stats);
}

