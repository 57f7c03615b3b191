// SPDX-License-Identifier: MIT
/*
 * Race fuzzer: the driver's deep states under concurrency. Several
 * processes, each with several files of the node and several threads per
 * file, do random actions at once: create, close (sometimes while another
 * thread still uses the handle), mmap and touch BOs; PRIME-share a BO with
 * the process's other file (one BO in two address spaces); submit batches
 * of jobs that are built valid (small convolutions through the file's own
 * BOs, named with the right flags, so that most pass validation and reach
 * push, arm, implicit sync, the ring and the job records) and then
 * mutated (a BO named twice, read and written; the command buffer's BO
 * written; WRITE dropped; NO_WAIT; a stale handle; an in-syncobj of an
 * earlier job; a class target; an output at a BO's guard page; now and
 * then a heavy but legal op); wait for syncobjs, read job records; and
 * close and reopen a file while its jobs are in flight.
 *
 * Bans are off for the run (most processes would be banned quickly). The
 * figures: ioctls, submits, jobs accepted, and the jobs the driver posted
 * to the hardware rings (debugfs "cores", posted), whose share of the jobs
 * accepted says how deep the run went. The VM run fails on any kernel
 * report; the device must work afterwards.
 *
 * APU_FUZZ_SEED, APU_FUZZ_RACE_OPS (actions per thread; default 300).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "apu_guest.h"

#define PROCS		2
#define FILES		2
#define THREADS		3
#define MAX_BOS		16
#define SYNCS		8
#define PARAMS_OFF	8192	/* weights, bias, mult, shift in a command BO (64 KiB+) */

struct bo {
	uint32_t handle;
	uint64_t va, size;
	uint8_t *cpu;		/* NULL for an imported BO */
};

#define GRAVE		32	/* mappings of closed BOs, unmapped in a batch */

struct file_state {
	pthread_rwlock_t use;	/* read: using the file; write: reopening it */
	pthread_mutex_t lock;	/* the lists below */
	int fd;
	struct bo bo[MAX_BOS];
	int nbo;
	uint32_t sync[SYNCS];
	/*
	 * CPU mappings of closed BOs: other threads may still write commands
	 * through a snapshot of them, so they go only under the write lock.
	 */
	struct bo grave[GRAVE];
	int ngrave;
};

struct proc {
	struct file_state f[FILES];
	unsigned long ops;
	uint64_t seed;
};

/* Counters of one process, summed by the parent through a pipe. */
struct counts {
	unsigned long ioctls, submits, submits_ok, jobs_ok, faults_expected;
};

static _Atomic unsigned long n_ioctls, n_submits, n_submits_ok, n_jobs_ok;

static uint32_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t)((*s * 0x2545f4914f6cdd1dull) >> 32);
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	atomic_fetch_add(&n_ioctls, 1);
	return apu_ioctl(fd, req, arg);
}

/* Fill a new command BO's parameter block: valid weights and requantization. */
static void params_fill(uint8_t *p, uint64_t *s)
{
	int8_t *w = (int8_t *)(p + PARAMS_OFF);
	int32_t *bias = (int32_t *)(p + PARAMS_OFF + 32 * 9 * 32);
	int32_t *mult = bias + 32, *shift = mult + 32;

	for (int i = 0; i < 32 * 9 * 32; i++)
		w[i] = (int8_t)(rnd(s) % 255 - 127);
	for (int i = 0; i < 32; i++) {
		bias[i] = (int32_t)(rnd(s) % 2001) - 1000;
		mult[i] = (1 << 30) + (int32_t)(rnd(s) % (1 << 29));
		shift[i] = -7 - (int32_t)(rnd(s) % 3);
	}
}

static void bo_new(struct file_state *f, uint64_t *s)
{
	static const uint64_t sizes[] = { 16384, 65536, 262144, 1 << 20 };
	struct bo b;
	struct apu_buf ab;

	if (apu_buf_new(f->fd, sizes[rnd(s) % 4], 0, &ab))
		return;
	atomic_fetch_add(&n_ioctls, 2);
	b = (struct bo){ ab.handle, ab.va, ab.size, ab.cpu };
	if (b.size >= 65536)
		params_fill(b.cpu, s);
	pthread_mutex_lock(&f->lock);
	if (f->nbo < MAX_BOS) {
		f->bo[f->nbo++] = b;
		b.cpu = NULL;
		b.handle = 0;
	}
	pthread_mutex_unlock(&f->lock);
	if (b.handle) {		/* full */
		munmap(b.cpu, b.size);
		apu_gem_close(f->fd, b.handle);
	}
}

/*
 * Close a BO; sometimes the handle first, while others may still use it.
 * Its CPU mapping goes to the grave (unmapped later, under the write lock).
 */
static void bo_close(struct file_state *f, uint64_t *s)
{
	struct bo b = { 0 };
	bool early = rnd(s) % 2;
	int i;

	pthread_mutex_lock(&f->lock);
	if (f->nbo && f->ngrave < GRAVE) {
		i = (int)(rnd(s) % (uint32_t)f->nbo);
		b = f->bo[i];
		if (early)
			xioctl(f->fd, DRM_IOCTL_GEM_CLOSE, &(struct drm_gem_close){ .handle = b.handle });
		f->bo[i] = f->bo[--f->nbo];
		f->grave[f->ngrave++] = b;
	}
	pthread_mutex_unlock(&f->lock);
	if (b.handle && !early)
		xioctl(f->fd, DRM_IOCTL_GEM_CLOSE, &(struct drm_gem_close){ .handle = b.handle });
}

/* Unmap the grave's mappings: the caller holds the file's write lock. */
static void grave_empty(struct file_state *f)
{
	for (int i = 0; i < f->ngrave; i++)
		munmap(f->grave[i].cpu, f->grave[i].size);
	f->ngrave = 0;
}

/* A snapshot of a random BO (may be closed by the time it is used). */
static bool bo_pick(struct file_state *f, uint64_t *s, uint64_t min_size, struct bo *out)
{
	bool ok = false;

	pthread_mutex_lock(&f->lock);
	for (int tries = 0; tries < 4 && f->nbo && !ok; tries++) {
		*out = f->bo[rnd(s) % (uint32_t)f->nbo];
		ok = out->size >= min_size && out->cpu;
	}
	pthread_mutex_unlock(&f->lock);
	return ok;
}

/* One conv op in @cmd at @off: input in @in, output at @out_va. */
static void op_write(uint8_t *op, const struct bo *cmd, const struct bo *in, uint64_t out_va,
		     bool heavy, uint64_t *s)
{
	struct apu_conv c;
	int hw = heavy ? 32 : 4 + (int)(rnd(s) % 3) * 2, ch = heavy ? 32 : 8;
	int k = rnd(s) % 2 ? 3 : 1;

	memset(&c, 0, sizeof(c));
	c.p = (ApuConvParams){
		.in_h = hw, .in_w = hw, .in_c = ch, .out_h = hw, .out_w = hw, .out_c = ch,
		.k_h = k, .k_w = k, .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1,
		.pad_top = k / 2, .pad_left = k / 2, .groups = 1, .in_zp = -3, .out_zp = 2,
		.act_min = -128, .act_max = 127,
	};
	c.in_va = in->va;
	c.w_va = cmd->va + PARAMS_OFF;
	c.bias_va = c.w_va + 32 * 9 * 32;
	c.mult_va = c.bias_va + 128;
	c.shift_va = c.mult_va + 128;
	c.out_va = out_va;
	apu_op_conv(op, &c);
}

static void submit_batch(struct file_state *f, uint64_t *s)
{
	struct drm_apu_job jobs[4];
	struct drm_apu_job_bo bos[4][5];
	uint32_t in_sync[4];
	int n = 1 + (int)(rnd(s) % 4), made = 0;
	struct drm_apu_submit sub = { .jobs = (uintptr_t)jobs, .job_size = sizeof(jobs[0]) };

	memset(jobs, 0, sizeof(jobs));
	for (int j = 0; j < n; j++) {
		struct bo cmd, in, out;
		struct drm_apu_job *jb = &jobs[made];
		struct drm_apu_job_bo *b = bos[made];
		uint32_t off = (uint32_t)(rnd(s) % 8) * 1024, nops = 1 + rnd(s) % 3, nb = 0;
		bool heavy = rnd(s) % 64 == 0;
		uint64_t need = heavy ? 32 * 32 * 32 : 16 * 16 * 8;
		uint64_t out_off;
		uint8_t *op;

		if (!bo_pick(f, s, 65536, &cmd) || !bo_pick(f, s, need, &in) ||
		    !bo_pick(f, s, need, &out))
			continue;
		out_off = (out.size - need) & ~63ull;
		out_off = out_off ? ((uint64_t)rnd(s) % out_off) & ~63ull : 0;
		op = apu_cmd_header(cmd.cpu + off, (uint16_t)nops);
		for (uint32_t i = 0; i < nops; i++)
			op_write(op + i * APU_OP_SIZE, &cmd, &in, out.va + out_off, heavy, s);
		jb->cmdbuf_handle = cmd.handle;
		jb->cmdbuf_offset = off;
		jb->cmdbuf_size = (uint32_t)apu_cmd_size((uint16_t)nops);
		jb->target = rnd(s) % 4 ? DRM_APU_TARGET_CORE(rnd(s) % 6) :
					  DRM_APU_TARGET_CLASS(rnd(s) % 3);
		jb->priority = rnd(s) % 8 ? DRM_APU_JOB_PRIORITY_NORMAL : DRM_APU_JOB_PRIORITY_LOW;
		b[nb++] = (struct drm_apu_job_bo){ in.handle, 0 };
		b[nb++] = (struct drm_apu_job_bo){ out.handle, DRM_APU_JOB_BO_WRITE };
		/* Mutations. */
		switch (rnd(s) % 12) {
		case 0: b[nb++] = (struct drm_apu_job_bo){ out.handle, 0 }; break;
		case 1: b[nb++] = (struct drm_apu_job_bo){ cmd.handle, DRM_APU_JOB_BO_WRITE }; break;
		case 2: b[1].flags = 0; break;		/* writes a BO named read: faults */
		case 3: b[1].flags |= DRM_APU_JOB_BO_NO_WAIT; break;
		case 4: b[0].handle = 0x7fff; break;	/* a handle nobody holds */
		case 5: nb = 0; break;			/* only the command buffer */
		case 6: b[nb++] = (struct drm_apu_job_bo){ in.handle, DRM_APU_JOB_BO_WRITE }; break;
		case 7:
			/* The output at the BO's end: the guard page faults. */
			op_write(op, &cmd, &in, out.va + out.size - 64, false, s);
			break;
		default: break;
		}
		jb->bos = (uintptr_t)b;
		jb->num_bos = nb;
		if (rnd(s) % 3 == 0) {
			pthread_mutex_lock(&f->lock);
			in_sync[made] = f->sync[rnd(s) % SYNCS];
			pthread_mutex_unlock(&f->lock);
			jb->in_syncobjs = (uintptr_t)&in_sync[made];
			jb->num_in_syncobjs = 1;
		}
		jb->out_syncobj = f->sync[rnd(s) % SYNCS];
		made++;
	}
	if (!made)
		return;
	sub.num_jobs = (uint32_t)made;
	atomic_fetch_add(&n_submits, 1);
	if (xioctl(f->fd, DRM_IOCTL_APU_SUBMIT, &sub) == 0) {
		atomic_fetch_add(&n_submits_ok, 1);
		atomic_fetch_add(&n_jobs_ok, (unsigned long)made);
	}
}

static void wait_some(struct file_state *f, uint64_t *s)
{
	uint32_t h = f->sync[rnd(s) % SYNCS];
	struct drm_apu_job_info info;

	atomic_fetch_add(&n_ioctls, 2);
	drmSyncobjWait(f->fd, &h, 1, apu_now_ns() + 50 * 1000000ll, 0, NULL);
	apu_job_info(f->fd, 1 + rnd(s) % 2000, &info);
}

static void touch_bo(struct file_state *f, uint64_t *s)
{
	struct bo b;
	struct drm_apu_bo_info i = { 0 };
	uint8_t *p;

	if (!bo_pick(f, s, 0, &b))
		return;
	i.handle = b.handle;
	if (xioctl(f->fd, DRM_IOCTL_APU_BO_INFO, &i))
		return;
	p = mmap(NULL, i.size, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, i.mmap_offset);
	if (p == MAP_FAILED)
		return;
	p[rnd(s) % i.size] ^= 1;
	munmap(p, i.size);
}

/* Share a BO of @f with @g through PRIME: one BO, two address spaces. */
static void share_bo(struct file_state *f, struct file_state *g, uint64_t *s)
{
	struct bo b;
	int dmabuf;
	uint32_t h;

	if (!bo_pick(f, s, 0, &b) || drmPrimeHandleToFD(f->fd, b.handle, DRM_CLOEXEC | DRM_RDWR,
							 &dmabuf))
		return;
	if (!drmPrimeFDToHandle(g->fd, dmabuf, &h)) {
		struct drm_apu_bo_info i = { .handle = h };

		pthread_mutex_lock(&g->lock);
		if (g->nbo < MAX_BOS && !apu_ioctl(g->fd, DRM_IOCTL_APU_BO_INFO, &i)) {
			/* Mapped in g for its CPU too, so that it can hold commands. */
			uint8_t *p = mmap(NULL, i.size, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd,
					  i.mmap_offset);

			if (p != MAP_FAILED)
				g->bo[g->nbo++] = (struct bo){ h, i.device_addr, i.size, p };
		}
		pthread_mutex_unlock(&g->lock);
	}
	atomic_fetch_add(&n_ioctls, 3);
	close(dmabuf);
}

static int file_open(struct file_state *f)
{
	f->fd = apu_open();
	f->nbo = 0;
	if (f->fd < 0)
		return -1;
	for (int i = 0; i < SYNCS; i++)
		if (drmSyncobjCreate(f->fd, DRM_SYNCOBJ_CREATE_SIGNALED, &f->sync[i]))
			return -1;
	return 0;
}

static void file_close(struct file_state *f)
{
	for (int i = 0; i < f->nbo; i++)
		munmap(f->bo[i].cpu, f->bo[i].size);
	f->nbo = 0;
	grave_empty(f);
	close(f->fd);	/* with jobs in flight */
	f->fd = -1;
}

struct thread_arg {
	struct proc *p;
	int file, index;
};

static void *worker(void *arg)
{
	struct thread_arg *a = arg;
	struct proc *p = a->p;
	struct file_state *f = &p->f[a->file], *g = &p->f[(a->file + 1) % FILES];
	uint64_t s = p->seed * 131 + (uint64_t)a->file * 17 + (uint64_t)a->index + 1;

	for (unsigned long i = 0; i < p->ops; i++) {
		uint32_t what = rnd(&s) % 100;

		if (what < 2 && a->index == 0) {
			pthread_rwlock_wrlock(&f->use);
			file_close(f);
			if (file_open(f))
				_exit(3);
			pthread_rwlock_unlock(&f->use);
			continue;
		}
		if (what < 4 && a->index == 0) {
			pthread_rwlock_wrlock(&f->use);
			grave_empty(f);
			pthread_rwlock_unlock(&f->use);
			continue;
		}
		pthread_rwlock_rdlock(&f->use);
		if (what < 14)
			bo_new(f, &s);
		else if (what < 22)
			bo_close(f, &s);
		else if (what < 27)
			touch_bo(f, &s);
		else if (what < 32 && pthread_rwlock_tryrdlock(&g->use) == 0) {
			share_bo(f, g, &s);
			pthread_rwlock_unlock(&g->use);
		} else if (what < 85)
			submit_batch(f, &s);
		else
			wait_some(f, &s);
		pthread_rwlock_unlock(&f->use);
	}
	return NULL;
}

static void run_process(uint64_t seed, unsigned long ops, int out_fd)
{
	struct proc p = { .ops = ops, .seed = seed };
	struct thread_arg args[FILES][THREADS];
	pthread_t t[FILES][THREADS];
	struct counts c;

	for (int i = 0; i < FILES; i++) {
		pthread_rwlock_init(&p.f[i].use, NULL);
		pthread_mutex_init(&p.f[i].lock, NULL);
		if (file_open(&p.f[i]))
			_exit(2);
	}
	for (int i = 0; i < FILES; i++)
		for (int j = 0; j < THREADS; j++) {
			args[i][j] = (struct thread_arg){ &p, i, j };
			if (pthread_create(&t[i][j], NULL, worker, &args[i][j]))
				_exit(2);
		}
	for (int i = 0; i < FILES; i++)
		for (int j = 0; j < THREADS; j++)
			pthread_join(t[i][j], NULL);
	for (int i = 0; i < FILES; i++)
		file_close(&p.f[i]);
	c = (struct counts){ n_ioctls, n_submits, n_submits_ok, n_jobs_ok, 0 };
	_exit(write(out_fd, &c, sizeof(c)) == sizeof(c) ? 0 : 4);
}

static long long posted_total(void)
{
	long long sum = 0;

	for (int c = 0; c < 6; c++) {
		long long v = apu_core_counter(c, APU_CORES_POSTED);

		if (v < 0)
			return v;
		sum += v;
	}
	return sum;
}

/* Long runs (make check-deep) take minutes: not the harness's 30 s. */
FIXTURE(race) {};
FIXTURE_SETUP(race) {}
FIXTURE_TEARDOWN(race) {}

TEST_F_TIMEOUT(race, fuzzer_reaches_the_rings, 7200)
{
	const char *v = getenv("APU_FUZZ_SEED"), *o = getenv("APU_FUZZ_RACE_OPS");
	uint64_t seed = v ? strtoull(v, NULL, 0) : 1;
	unsigned long ops = o ? strtoul(o, NULL, 0) : 300;
	long long old_ban = apu_module_param("ban_limit"), posted0, posted1;
	struct counts sum = { 0 };
	char ban[32];
	int pipefd[2];
	pid_t pid[PROCS];
	bool failed = false;
	int fd;

	ASSERT_LE(0, old_ban);
	ASSERT_EQ(0, apu_write_file("/sys/module/apu/parameters/ban_limit", "0"));
	posted0 = posted_total();
	ASSERT_LE(0, posted0);
	ASSERT_EQ(0, pipe(pipefd));
	for (int i = 0; i < PROCS; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (!pid[i])
			run_process(seed * PROCS + (uint64_t)i, ops, pipefd[1]);
	}
	/* Every child waited for, even when one failed: none outlives the test. */
	for (int i = 0; i < PROCS; i++) {
		int st = 0;

		EXPECT_EQ(pid[i], waitpid(pid[i], &st, 0));
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("process %d: status %x", i, st);
		failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	close(pipefd[1]);
	for (int i = 0; i < PROCS && !failed; i++) {
		struct counts c;

		ASSERT_EQ(sizeof(c), read(pipefd[0], &c, sizeof(c)));
		sum.ioctls += c.ioctls;
		sum.submits += c.submits;
		sum.submits_ok += c.submits_ok;
		sum.jobs_ok += c.jobs_ok;
	}
	ASSERT_FALSE(failed);
	/* The last jobs of closed files still run: let the rings drain. */
	fd = apu_open();
	ASSERT_LE(0, fd);
	for (uint32_t c = 0; c < 6; c++)
		EXPECT_EQ(0, apu_run_small(fd, c, 0, NULL));
	posted1 = posted_total() - 6;
	TH_LOG("race fuzzer, seed %llu: %lu ioctls, %lu submits, %lu accepted with %lu jobs; %lld jobs posted to the rings (%.0f%% of the jobs accepted)",
	       (unsigned long long)seed, sum.ioctls, sum.submits, sum.submits_ok, sum.jobs_ok,
	       posted1 - posted0, sum.jobs_ok ? 100.0 * (double)(posted1 - posted0) / (double)sum.jobs_ok : 0.0);
	/* Deep, not shallow: most accepted jobs went to a ring. */
	EXPECT_LT(sum.submits / 2, sum.submits_ok);
	EXPECT_LT((long long)sum.jobs_ok / 2, posted1 - posted0);
	close(fd);
	snprintf(ban, sizeof(ban), "%lld", old_ban);
	EXPECT_EQ(0, apu_write_file("/sys/module/apu/parameters/ban_limit", ban));
}

TEST_HARNESS_MAIN
