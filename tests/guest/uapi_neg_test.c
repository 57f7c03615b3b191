// SPDX-License-Identifier: MIT
/*
 * Negative tests of the buffer and job ioctls, in the style of Intel's
 * kmd-test: invalid and foreign handles, non-zero padding, unknown flags,
 * misaligned and out-of-range offsets, sizes that overflow, too many jobs,
 * BOs or syncobjs, bad user pointers. Each call returns the documented
 * errno and changes nothing: no job is queued (the next job id follows
 * the last good one) and the BOs keep their contents. Threads of one file
 * closing the handles another thread is creating (they are predictable).
 */
#include <pthread.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "apu_guest.h"

FIXTURE(neg)
{
	int fd;
	struct apu_buf cmd, data;
	struct drm_apu_job_bo bos[1];
	struct drm_apu_job job;
	struct drm_apu_submit sub;
	uint64_t last_id;
};

/* Submit a good job and remember its id. */
static void good_job(struct __test_metadata *_metadata, FIXTURE_DATA(neg) *self)
{
	uint32_t s;
	uint64_t id;

	ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &s));
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 0, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(0), self->bos, 1, NULL, 0, s, &id, NULL));
	if (self->last_id)
		EXPECT_EQ(self->last_id + 1, id) TH_LOG("a failed call queued a job");
	self->last_id = id;
	ASSERT_EQ(0, apu_sync_wait(self->fd, s, 30000));
	drmSyncobjDestroy(self->fd, s);
}

FIXTURE_SETUP(neg)
{
	struct apu_conv c;

	self->fd = apu_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, apu_buf_new(self->fd, 64 * 1024, 0, &self->cmd));
	ASSERT_EQ(0, apu_buf_new(self->fd, 1024 * 1024, 0, &self->data));
	apu_conv_setup(&c, &self->data, 4, 4, 8, 8, 1, 512 * 1024, 1);
	apu_op_conv(apu_cmd_header(self->cmd.cpu, 1), &c);
	self->bos[0].handle = self->data.handle;
	self->bos[0].flags = DRM_APU_JOB_BO_WRITE;
	self->job = (struct drm_apu_job){
		.cmdbuf_handle = self->cmd.handle,
		.cmdbuf_size = apu_cmd_size(1),
		.target = DRM_APU_TARGET_CORE(0),
		.priority = DRM_APU_JOB_PRIORITY_NORMAL,
		.bos = (uintptr_t)self->bos,
		.num_bos = 1,
	};
	self->sub = (struct drm_apu_submit){
		.jobs = (uintptr_t)&self->job,
		.num_jobs = 1,
		.job_size = sizeof(self->job),
	};
	self->last_id = 0;
	good_job(_metadata, self);
}

FIXTURE_TEARDOWN(neg)
{
	/* Whatever failed, the file still works and queued nothing. */
	good_job(_metadata, self);
	apu_buf_free(self->fd, &self->data);
	apu_buf_free(self->fd, &self->cmd);
	close(self->fd);
}

static int submit(FIXTURE_DATA(neg) *self)
{
	return apu_ioctl(self->fd, DRM_IOCTL_APU_SUBMIT, &self->sub);
}

TEST_F(neg, bo_create)
{
	struct drm_apu_bo_create c = { 0 };

	EXPECT_EQ(-EINVAL, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_CREATE, &c));
	c.size = 4096;
	c.flags = 0x2;
	EXPECT_EQ(-EINVAL, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_CREATE, &c));
	c.flags = 0x80000000;
	EXPECT_EQ(-EINVAL, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_CREATE, &c));
	c.flags = 0;
	c.size = (1ull << 30) + 1;
	EXPECT_EQ(-E2BIG, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_CREATE, &c));
	c.size = ~0ull;		/* would overflow when rounded up */
	EXPECT_EQ(-E2BIG, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_CREATE, &c));
	c.size = ~0ull - 4095;
	EXPECT_EQ(-E2BIG, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_CREATE, &c));
	/* Bad argument pointer. */
	EXPECT_EQ(-EFAULT, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_CREATE, (void *)8));
}

TEST_F(neg, bo_info_and_wait)
{
	struct drm_apu_bo_info i = { .handle = 0 };
	struct drm_apu_bo_wait w = { .handle = 12345 };

	EXPECT_EQ(-ENOENT, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_INFO, &i));
	i.handle = 0xffffffff;
	EXPECT_EQ(-ENOENT, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_INFO, &i));
	EXPECT_EQ(-ENOENT, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_WAIT, &w));
	w.handle = self->data.handle;
	w.flags = 1;
	EXPECT_EQ(-EINVAL, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_WAIT, &w));
	EXPECT_EQ(-EINVAL, apu_gem_close(self->fd, 0x7777));	/* the DRM core's errno */
}

TEST_F(neg, submit_header)
{
	self->sub.flags = 1;
	EXPECT_EQ(-EINVAL, submit(self));
	self->sub.flags = 0;
	self->sub.pad = 1;
	EXPECT_EQ(-EINVAL, submit(self));
	self->sub.pad = 0;
	self->sub.num_jobs = 0;
	EXPECT_EQ(-EINVAL, submit(self));
	self->sub.num_jobs = DRM_APU_MAX_SUBMIT_JOBS + 1;
	EXPECT_EQ(-EINVAL, submit(self));
	self->sub.num_jobs = 0xffffffff;
	EXPECT_EQ(-EINVAL, submit(self));
	self->sub.num_jobs = 1;
	self->sub.job_size = sizeof(self->job) - 8;
	EXPECT_EQ(-EINVAL, submit(self));
	self->sub.job_size = 0;
	EXPECT_EQ(-EINVAL, submit(self));
	self->sub.job_size = DRM_APU_MAX_JOB_SIZE + 8;
	EXPECT_EQ(-EINVAL, submit(self));
	self->sub.job_size = 0xfffffff8;
	EXPECT_EQ(-EINVAL, submit(self));
	self->sub.job_size = sizeof(self->job);
	self->sub.jobs = 0;
	EXPECT_EQ(-EFAULT, submit(self));
	self->sub.jobs = (uintptr_t)&self->job;
}

TEST_F(neg, submit_newer_job_struct)
{
	struct {
		struct drm_apu_job job;
		uint64_t ext;
	} big = { .job = self->job };

	self->sub.jobs = (uintptr_t)&big;
	self->sub.job_size = sizeof(big);
	big.ext = 1;		/* a field this kernel does not know */
	EXPECT_EQ(-EINVAL, submit(self));
	big.ext = 0;		/* zero: accepted */
	EXPECT_EQ(0, submit(self));
	EXPECT_EQ(self->last_id + 1, big.job.job_id);
	self->last_id = big.job.job_id;
	self->sub.jobs = (uintptr_t)&self->job;
	self->sub.job_size = sizeof(self->job);
}

TEST_F(neg, submit_job_fields)
{
	struct drm_apu_job good = self->job;

	self->job.flags = 1;
	EXPECT_EQ(-EINVAL, submit(self));
	self->job = good;
	self->job.priority = 3;
	EXPECT_EQ(-EINVAL, submit(self));
	self->job = good;
	self->job.target = DRM_APU_TARGET_CORE(6);
	EXPECT_EQ(-EINVAL, submit(self));
	self->job.target = DRM_APU_TARGET_CLASS(3);
	EXPECT_EQ(-EINVAL, submit(self));
	self->job.target = 0x200;
	EXPECT_EQ(-EINVAL, submit(self));
	self->job.target = 0xffffffff;
	EXPECT_EQ(-EINVAL, submit(self));
	self->job = good;
	self->job.num_bos = DRM_APU_MAX_JOB_BOS + 1;
	EXPECT_EQ(-EINVAL, submit(self));
	self->job = good;
	self->job.num_in_syncobjs = DRM_APU_MAX_JOB_SYNCOBJS + 1;
	EXPECT_EQ(-EINVAL, submit(self));
	self->job = good;
}

TEST_F(neg, submit_command_buffer_range)
{
	struct drm_apu_job good = self->job;

	self->job.cmdbuf_offset = 4;		/* misaligned */
	EXPECT_EQ(-EINVAL, submit(self));
	self->job.cmdbuf_offset = 64 * 1024;	/* past the end */
	EXPECT_EQ(-EINVAL, submit(self));
	self->job.cmdbuf_offset = 64 * 1024 - 8;	/* runs past the end */
	EXPECT_EQ(-EINVAL, submit(self));
	self->job.cmdbuf_offset = 0xfffffff8;	/* offset + size overflows 32 bits */
	EXPECT_EQ(-EINVAL, submit(self));
	self->job = good;
	self->job.cmdbuf_size = 8;		/* smaller than a header */
	EXPECT_EQ(-EINVAL, submit(self));
	self->job.cmdbuf_size = 0xffffffff;
	EXPECT_EQ(-EINVAL, submit(self));
	self->job = good;
	self->job.cmdbuf_handle = 0;
	EXPECT_EQ(-ENOENT, submit(self));
	self->job.cmdbuf_handle = 999999;
	EXPECT_EQ(-ENOENT, submit(self));
	self->job = good;
}

TEST_F(neg, submit_bo_list)
{
	struct drm_apu_job_bo bad[2] = { { self->data.handle, 0 }, { 424242, 0 } };
	struct drm_apu_job good = self->job;

	self->job.bos = (uintptr_t)bad;
	self->job.num_bos = 2;
	EXPECT_EQ(-ENOENT, submit(self));
	bad[1].handle = self->data.handle;
	bad[1].flags = 4;
	EXPECT_EQ(-EINVAL, submit(self));
	bad[1].flags = 0;
	self->job.bos = 16;			/* unmapped user address */
	EXPECT_EQ(-EFAULT, submit(self));
	self->job.bos = (uintptr_t)bad + 4096 * 1024 * 1024ull;
	EXPECT_EQ(-EFAULT, submit(self));
	self->job = good;
}

TEST_F(neg, submit_syncobjs)
{
	struct drm_apu_job good = self->job;
	uint32_t s, in[2];

	ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &s));
	self->job.out_syncobj = 31337;
	EXPECT_EQ(-ENOENT, submit(self));
	self->job = good;
	in[0] = 31337;
	self->job.in_syncobjs = (uintptr_t)in;
	self->job.num_in_syncobjs = 1;
	EXPECT_EQ(-ENOENT, submit(self));
	/* A syncobj with no fence that nothing in the call signals. */
	in[0] = s;
	EXPECT_EQ(-EINVAL, submit(self));
	self->job.in_syncobjs = 8;
	EXPECT_EQ(-EFAULT, submit(self));
	self->job = good;
	drmSyncobjDestroy(self->fd, s);
}

/* The second job of a call is bad: the first is not queued either. */
TEST_F(neg, submit_all_or_nothing)
{
	struct drm_apu_job jobs[2] = { self->job, self->job };

	jobs[1].cmdbuf_handle = 5555;
	self->sub.jobs = (uintptr_t)jobs;
	self->sub.num_jobs = 2;
	EXPECT_EQ(-ENOENT, submit(self));
	EXPECT_EQ(0, jobs[0].job_id);
	self->sub.jobs = (uintptr_t)&self->job;
	self->sub.num_jobs = 1;
}

TEST_F(neg, job_info)
{
	struct drm_apu_job_info i = { .job_id = self->last_id };

	i.pad = 1;
	EXPECT_EQ(-EINVAL, apu_ioctl(self->fd, DRM_IOCTL_APU_JOB_INFO, &i));
	i.pad = 0;
	EXPECT_EQ(0, apu_ioctl(self->fd, DRM_IOCTL_APU_JOB_INFO, &i));
	i.job_id = 0;
	EXPECT_EQ(-ENOENT, apu_ioctl(self->fd, DRM_IOCTL_APU_JOB_INFO, &i));
	i.job_id = self->last_id + 1000;
	EXPECT_EQ(-ENOENT, apu_ioctl(self->fd, DRM_IOCTL_APU_JOB_INFO, &i));
	i.job_id = ~0ull;
	EXPECT_EQ(-ENOENT, apu_ioctl(self->fd, DRM_IOCTL_APU_JOB_INFO, &i));
}

/* Handles and job ids of another file mean nothing here. */
TEST_F(neg, foreign_handles_and_jobs)
{
	int fd2 = apu_open();
	struct apu_buf other;
	struct drm_apu_job_info i = { .job_id = self->last_id };
	struct drm_apu_bo_info bi = { 0 };

	ASSERT_LE(0, fd2);
	/* Many BOs so the other file's handle numbers go past ours. */
	for (int k = 0; k < 4; k++)
		ASSERT_EQ(0, apu_buf_new(fd2, 4096, 0, &other));
	bi.handle = other.handle;
	EXPECT_EQ(-ENOENT, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_INFO, &bi));
	self->job.cmdbuf_handle = other.handle;
	EXPECT_EQ(-ENOENT, submit(self));
	self->job.cmdbuf_handle = self->cmd.handle;
	self->bos[0].handle = other.handle;
	EXPECT_EQ(-ENOENT, submit(self));
	self->bos[0].handle = self->data.handle;
	EXPECT_EQ(-ENOENT, apu_ioctl(fd2, DRM_IOCTL_APU_JOB_INFO, &i));
	close(fd2);
}

/*
 * A closed handle is gone. (That a BO closed while a job uses it stays
 * mapped for that job is bo_lifetime_test's.)
 */
TEST_F(neg, closed_handles)
{
	struct apu_buf tmp;
	struct drm_apu_job_bo bos[] = { { 0, 0 } };
	uint32_t h;

	ASSERT_EQ(0, apu_buf_new(self->fd, 4096, 0, &tmp));
	h = tmp.handle;
	apu_buf_free(self->fd, &tmp);
	bos[0].handle = h;
	self->job.bos = (uintptr_t)bos;
	EXPECT_EQ(-ENOENT, submit(self));
	self->job.bos = (uintptr_t)self->bos;
}

/*
 * BO_CREATE racing GEM_CLOSE of the handle it is about to return: handles
 * are the lowest free numbers, so threads closing 1..16 in a loop close
 * new BOs while their BO_CREATE still runs. Each BO_CREATE either returns
 * the BO (and its true size and address) or -ENOENT, never freed memory
 * (slub_debug poisoning, KFENCE and KASAN report it; the creator's
 * reference must outlive its last use of the BO).
 */
#define RACE_HANDLES	16
#define RACE_THREADS	3
/*
 * Creators of 1 MiB BOs (256 pages) spend a good part of each BO_CREATE
 * writing page table entries, just before it returns: one preempted there
 * (at the next might_sleep(), its first look at the BO after publishing the
 * handle) leaves the closers time to close and free the BO. A creator of
 * 4 KiB BOs makes many more calls where they are slow (debug kernels).
 */
static const uint64_t race_bo_size[RACE_THREADS] = { 4096, 1 << 20, 1 << 20 };

struct race {
	int fd;
	volatile int stop;
	int created, closed_early, bad;
	uint64_t bad_ret, bad_size, bad_addr;
	pthread_mutex_t lock;
};

struct race_creator_arg {
	struct race *r;
	uint64_t size;
};

static void *race_creator(void *arg)
{
	const struct race_creator_arg *a = arg;
	struct race *r = a->r;
	int created = 0, closed_early = 0;

	while (!r->stop) {
		struct drm_apu_bo_create c = { .size = a->size };
		int ret = apu_ioctl(r->fd, DRM_IOCTL_APU_BO_CREATE, &c);

		if (ret == 0 && c.size == a->size && c.device_addr && c.handle) {
			created++;
			continue;
		}
		if (ret == -ENOENT) {
			closed_early++;
			continue;
		}
		pthread_mutex_lock(&r->lock);
		if (!r->bad++) {
			r->bad_ret = (uint64_t)ret;
			r->bad_size = c.size;
			r->bad_addr = c.device_addr;
		}
		pthread_mutex_unlock(&r->lock);
	}
	pthread_mutex_lock(&r->lock);
	r->created += created;
	r->closed_early += closed_early;
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void *race_closer(void *arg)
{
	struct race *r = arg;

	while (!r->stop)
		for (uint32_t h = 1; h <= RACE_HANDLES; h++)
			apu_gem_close(r->fd, h);
	return NULL;
}

TEST_F(neg, bo_create_races_handle_close)
{
	struct race r = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct race_creator_arg a[RACE_THREADS];
	pthread_t t[2 * RACE_THREADS];
	int64_t end = apu_now_ns() + 4000000000ll;

	/* A file of its own: the closers must not close the fixture's BOs. */
	r.fd = apu_open();
	ASSERT_LE(0, r.fd);
	for (int i = 0; i < RACE_THREADS; i++) {
		a[i] = (struct race_creator_arg){ .r = &r, .size = race_bo_size[i] };
		ASSERT_EQ(0, pthread_create(&t[2 * i], NULL, race_creator, &a[i]));
		ASSERT_EQ(0, pthread_create(&t[2 * i + 1], NULL, race_closer, &r));
	}
	while (apu_now_ns() < end)
		usleep(100000);
	r.stop = 1;
	for (int i = 0; i < 2 * RACE_THREADS; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%d BOs created, %d closed before BO_CREATE returned",
	       r.created, r.closed_early);
	EXPECT_EQ(0, r.bad) TH_LOG("%d bad BO_CREATE results, first: ret %d size 0x%llx addr 0x%llx",
				   r.bad, (int)r.bad_ret, (unsigned long long)r.bad_size,
				   (unsigned long long)r.bad_addr);
	EXPECT_LT(0, r.created);
	/* Closing the file frees what the closers left. */
	close(r.fd);
}

TEST_HARNESS_MAIN
