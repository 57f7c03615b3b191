// SPDX-License-Identifier: MIT
/*
 * Every refused ioctl says why under drm.debug: with DRM_UT_DRIVER (0x2)
 * in /sys/module/drm/parameters/debug, a bad call leaves a message naming
 * the field or the reason in the kernel log (read here from /dev/kmsg,
 * non-blocking, from its end at the start of each test). The debug mask is
 * restored after each test.
 */
#include "kselftest_harness.h"
#include "apu_guest.h"

#define DRM_DEBUG_PARAM "/sys/module/drm/parameters/debug"
#define DRM_UT_DRIVER 0x2

FIXTURE(dbg)
{
	int fd, kmsg;
	unsigned long old_mask;
	struct apu_buf cmd, data;
};

FIXTURE_SETUP(dbg)
{
	char buf[32];
	int pfd;
	ssize_t n;

	pfd = open(DRM_DEBUG_PARAM, O_RDONLY);
	ASSERT_LE(0, pfd) TH_LOG("%s: %s", DRM_DEBUG_PARAM, strerror(errno));
	n = read(pfd, buf, sizeof(buf) - 1);
	close(pfd);
	ASSERT_LT(0, n);
	buf[n] = 0;
	self->old_mask = strtoul(buf, NULL, 0);
	snprintf(buf, sizeof(buf), "%lu", self->old_mask | DRM_UT_DRIVER);
	ASSERT_EQ(0, apu_write_file(DRM_DEBUG_PARAM, buf));

	self->fd = apu_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, apu_buf_new(self->fd, 64 * 1024, 0, &self->cmd));
	ASSERT_EQ(0, apu_buf_new(self->fd, 64 * 1024, 0, &self->data));

	self->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, self->kmsg);
	/* Only what this test's calls log. */
	ASSERT_LE(0, lseek(self->kmsg, 0, SEEK_END));
}

FIXTURE_TEARDOWN(dbg)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", self->old_mask);
	EXPECT_EQ(0, apu_write_file(DRM_DEBUG_PARAM, buf));
	close(self->kmsg);
	apu_buf_free(self->fd, &self->data);
	apu_buf_free(self->fd, &self->cmd);
	close(self->fd);
}

/* Whether a record of the log since the fixture's start contains @what. */
static int logged(int kmsg, const char *what)
{
	char rec[2048];
	int found = 0;

	for (;;) {
		ssize_t n = read(kmsg, rec, sizeof(rec) - 1);

		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: read on */
		if (n <= 0)
			break;		/* EAGAIN: no more */
		rec[n] = 0;
		if (strstr(rec, what))
			found = 1;
	}
	return found;
}

static void expect_logged(struct __test_metadata *_metadata, int kmsg,
			  const char *what)
{
	EXPECT_TRUE(logged(kmsg, what)) TH_LOG("no \"%s\" in /dev/kmsg", what);
}

#define EXPECT_LOGGED(what) expect_logged(_metadata, self->kmsg, what)

TEST_F(dbg, bo_create_bad_flags)
{
	struct drm_apu_bo_create c = { .size = 4096, .flags = 0x80000000u };

	EXPECT_EQ(-EINVAL, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_CREATE, &c));
	EXPECT_LOGGED("bo_create: unknown flags 0x80000000");
}

TEST_F(dbg, bo_create_too_big)
{
	struct drm_apu_bo_create c = { .size = 1ull << 40 };

	EXPECT_EQ(-E2BIG, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_CREATE, &c));
	EXPECT_LOGGED("bo_create: size 1099511627776 over");
}

TEST_F(dbg, bo_wait_bad_handle)
{
	struct drm_apu_bo_wait w = { .handle = 0xdead };

	EXPECT_EQ(-ENOENT, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_WAIT, &w));
	EXPECT_LOGGED("bo_wait: no BO of handle 57005");
}

TEST_F(dbg, bo_info_bad_handle)
{
	struct drm_apu_bo_info i = { .handle = 0xbeef };

	EXPECT_EQ(-ENOENT, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_INFO, &i));
	EXPECT_LOGGED("bo_info: no BO of handle 48879");
}

TEST_F(dbg, query_bad_type)
{
	struct drm_apu_query q = { .type = 0x7777 };

	EXPECT_EQ(-EINVAL, apu_ioctl(self->fd, DRM_IOCTL_APU_QUERY, &q));
	EXPECT_LOGGED("query: type 30583 unknown");
}

TEST_F(dbg, submit_no_jobs)
{
	struct drm_apu_job job = { 0 };
	struct drm_apu_submit s = {
		.jobs = (uintptr_t)&job, .num_jobs = 0, .job_size = sizeof(job),
	};

	EXPECT_EQ(-EINVAL, apu_ioctl(self->fd, DRM_IOCTL_APU_SUBMIT, &s));
	EXPECT_LOGGED("submit: num_jobs 0 out of");
}

TEST_F(dbg, submit_too_many_bos)
{
	struct drm_apu_job job = {
		.cmdbuf_handle = self->cmd.handle,
		.cmdbuf_size = apu_cmd_size(1),
		.target = DRM_APU_TARGET_CORE(0),
		.priority = DRM_APU_JOB_PRIORITY_NORMAL,
		.num_bos = DRM_APU_MAX_JOB_BOS + 1,
	};
	struct drm_apu_submit s = {
		.jobs = (uintptr_t)&job, .num_jobs = 1, .job_size = sizeof(job),
	};

	EXPECT_EQ(-EINVAL, apu_ioctl(self->fd, DRM_IOCTL_APU_SUBMIT, &s));
	EXPECT_LOGGED("submit: job 0: num_bos 257 over 256");
}

TEST_F(dbg, submit_bad_bo)
{
	struct drm_apu_job_bo bo = { .handle = 0xf00d };
	struct drm_apu_job job = {
		.cmdbuf_handle = self->cmd.handle,
		.cmdbuf_size = apu_cmd_size(1),
		.target = DRM_APU_TARGET_CORE(0),
		.priority = DRM_APU_JOB_PRIORITY_NORMAL,
		.bos = (uintptr_t)&bo,
		.num_bos = 1,
	};
	struct drm_apu_submit s = {
		.jobs = (uintptr_t)&job, .num_jobs = 1, .job_size = sizeof(job),
	};

	EXPECT_EQ(-ENOENT, apu_ioctl(self->fd, DRM_IOCTL_APU_SUBMIT, &s));
	EXPECT_LOGGED("submit: no BO of handle 61453");

	bo.handle = self->data.handle;
	bo.flags = 0x100;
	EXPECT_EQ(-EINVAL, apu_ioctl(self->fd, DRM_IOCTL_APU_SUBMIT, &s));
	EXPECT_LOGGED("submit: unknown flags 0x100 of bos[0]");
}

TEST_F(dbg, job_info_unknown)
{
	struct drm_apu_job_info i = { .job_id = 123456 };

	EXPECT_EQ(-ENOENT, apu_ioctl(self->fd, DRM_IOCTL_APU_JOB_INFO, &i));
	EXPECT_LOGGED("job_info: no job 123456");
}

/* Off again: the same bad call logs nothing. */
TEST_F(dbg, quiet_without_debug)
{
	struct drm_apu_bo_wait w = { .handle = 0xdead };
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", self->old_mask & ~DRM_UT_DRIVER);
	ASSERT_EQ(0, apu_write_file(DRM_DEBUG_PARAM, buf));
	EXPECT_EQ(-ENOENT, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_WAIT, &w));
	EXPECT_FALSE(logged(self->kmsg, "bo_wait: no BO of handle"));
}

TEST_HARNESS_MAIN
