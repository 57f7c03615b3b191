// SPDX-License-Identifier: MIT
/*
 * Allocation failures inside the driver (issue 7's fault campaign), run
 * under the debug kernel only (scripts/debug-guest.sh): its fault injection
 * (failslab, fail_page_alloc) with the stack-trace filter set to apu.ko's
 * code, so only allocations made on the driver's behalf fail - by the
 * driver itself or by the DRM core on its call.
 *
 * For each operation, every allocation it makes fails in turn (the task's
 * fail-nth: the n-th allocation, n = 1, 2, ... until the operation runs
 * without reaching an n-th one). Each time the operation must either work or
 * fail with an error code; the kernel must report nothing (vm.sh fails the
 * run on any WARN, KASAN, lockdep or kmemleak report); and afterwards a job
 * must still run bit-exactly, on a fresh file: checked after every
 * VERIFY_EVERY-th failure, after any unexpected result and at the end (a
 * failure that breaks the device breaks it for the jobs after it: it is
 * found within VERIFY_EVERY failures, at half the time of a check after each
 * one under the debug kernel). kmemleak scans after the suite find anything
 * a failed path leaked.
 *
 * Copyright (c) 2026 The apu authors
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "apu_guest.h"

#define FI "/sys/kernel/debug"
#define MAX_NTH 4000
#define VERIFY_EVERY 4

/* apu.ko's code: [start, end) from its sections; 0 when not found. */
static int module_text(unsigned long *start, unsigned long *end)
{
	char line[256];
	unsigned long base = 0, size = 0;
	FILE *f = fopen("/proc/modules", "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char name[64], addr[32];

		if (sscanf(line, "%63s %lu %*s %*s %*s %31s", name, &size, addr) == 3 &&
		    !strcmp(name, "apu")) {
			base = strtoul(addr, NULL, 16);
			break;
		}
	}
	fclose(f);
	if (!base)
		return -ENOENT;
	/* The text section's own address, when sysfs shows it. */
	f = fopen("/sys/module/apu/sections/.text", "r");
	if (f) {
		unsigned long t = 0;

		if (fscanf(f, "%lx", &t) == 1 && t)
			base = t;
		fclose(f);
	}
	*start = base;
	*end = base + size;
	return 0;
}

static int set_attr(const char *attr, const char *file, const char *value)
{
	char path[128];

	snprintf(path, sizeof(path), FI "/%s/%s", attr, file);
	return apu_write_file(path, value);
}

/* Fail only allocations with apu.ko on the stack; quietly. */
static int setup_injection(void)
{
	static const char *const attrs[] = { "failslab", "fail_page_alloc" };
	unsigned long start = 0, end = 0;
	char buf[32];
	int ret, i;

	ret = module_text(&start, &end);
	if (ret)
		return ret;
	for (i = 0; i < 2; i++) {
		ret = set_attr(attrs[i], "ignore-gfp-wait", "N");
		ret = ret ?: set_attr(attrs[i], "verbose", "0");
		ret = ret ?: set_attr(attrs[i], "stacktrace-depth", "32");
		snprintf(buf, sizeof(buf), "0x%lx", start);
		ret = ret ?: set_attr(attrs[i], "require-start", buf);
		snprintf(buf, sizeof(buf), "0x%lx", end);
		ret = ret ?: set_attr(attrs[i], "require-end", buf);
		if (ret)
			return ret;
	}
	return set_attr("fail_page_alloc", "ignore-gfp-highmem", "N");
}

/* The task's fail-nth: write @n; read back 0 once the fault was injected. */
static int fail_nth_set(int n)
{
	char buf[16];
	int fd = open("/proc/thread-self/fail-nth", O_RDWR), ret;

	if (fd < 0)
		return -errno;
	snprintf(buf, sizeof(buf), "%d", n);
	ret = write(fd, buf, strlen(buf)) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

static int fail_nth_get(void)
{
	char buf[16] = "";
	int fd = open("/proc/thread-self/fail-nth", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -EIO;
}

/* The errors an allocation failure may surface as. */
static int clean_error(int ret)
{
	return ret == -ENOMEM || ret == -ENOSPC || ret == -EAGAIN || ret == -EINTR ||
	       ret == -ENODEV || ret == -EIO;
}

typedef int (*op_fn)(int fd);

/* A file, one small job on @core 0, its record; all undone. */
static int op_run(int fd)
{
	struct drm_apu_job_info info;
	int ret;

	memset(&info, 0, sizeof(info));
	ret = apu_run_small(fd, 0, 0, &info);
	/*
	 * -EIO is a clean failure when the job failed; a job the device ended
	 * OK whose output differs from the reference is silent corruption.
	 */
	if (ret == -EIO && info.state == DRM_APU_JOB_DONE && info.status == DRM_APU_STATUS_OK)
		return -EBADMSG;
	return ret;
}

/* Buffers: create, info, close, a PRIME export and import. */
static int op_buffers(int fd)
{
	struct apu_buf b;
	struct drm_prime_handle ph = { .flags = DRM_CLOEXEC };
	int ret = apu_buf_new(fd, 3 * 4096, 0, &b);

	if (ret)
		return ret;
	ph.handle = b.handle;
	ret = apu_ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph);
	if (!ret) {
		int fd2 = apu_open(), r2 = fd2 < 0 ? -errno : 0;
		struct drm_prime_handle im = { .fd = ph.fd };

		if (!r2)
			r2 = apu_ioctl(fd2, DRM_IOCTL_PRIME_FD_TO_HANDLE, &im);
		if (fd2 >= 0)
			close(fd2);
		close(ph.fd);
		ret = r2;
	}
	apu_buf_free(fd, &b);
	return ret;
}

/*
 * Run @op with its n-th driver allocation failing, for every n. The file is
 * opened under injection too (the open path allocates the address space).
 * Returns the number of faults injected, or -1 after a failure.
 */
static int campaign(struct __test_metadata *_metadata, const char *name, op_fn op)
{
	int n, injected = 0, fd_last;

	for (n = 1; n <= MAX_NTH; n++) {
		int fd, ret, left;

		ASSERT_EQ(0, fail_nth_set(n));
		fd = apu_open();
		ret = fd < 0 ? -errno : op(fd);
		left = fail_nth_get();
		fail_nth_set(0);
		if (fd >= 0)
			close(fd);
		ASSERT_GE(left, 0);
		if (left > 0) {
			/* Fewer than n allocations: it ran through untouched. */
			EXPECT_EQ(0, ret) TH_LOG("%s without injection: %d", name, ret);
			break;
		}
		injected++;
		EXPECT_TRUE(ret == 0 || clean_error(ret))
			TH_LOG("%s, allocation %d failing: unexpected result %d", name, n, ret);
		if (injected % VERIFY_EVERY && (ret == 0 || clean_error(ret)))
			continue;
		/* The device still works for a new client. */
		fd = apu_open();
		ASSERT_GE(fd, 0);
		ASSERT_EQ(0, apu_run_small(fd, (unsigned int)(injected / VERIFY_EVERY) % 6, 0, NULL))
			TH_LOG("%s: no working job after allocation %d failed (or one of the %d before)",
			       name, n, VERIFY_EVERY - 1);
		close(fd);
	}
	/* And after the last one. */
	fd_last = apu_open();
	ASSERT_GE(fd_last, 0);
	ASSERT_EQ(0, apu_run_small(fd_last, 0, 0, NULL))
		TH_LOG("%s: no working job after the campaign", name);
	close(fd_last);
	EXPECT_LT(n, MAX_NTH) TH_LOG("%s: still injecting after %d allocations", name, n);
	EXPECT_GT(injected, 0) TH_LOG("%s: no allocation of the driver was reached", name);
	printf("# %s: %d allocation failures injected, each one failed cleanly\n",
	       name, injected);
	return injected;
}

FIXTURE(faultinj) {
	int dummy;
};

FIXTURE_SETUP(faultinj)
{
	ASSERT_EQ(0, access("/proc/thread-self/fail-nth", F_OK))
		TH_LOG("this kernel has no fault injection; run it under the debug kernel");
	ASSERT_EQ(0, setup_injection());
}

FIXTURE_TEARDOWN(faultinj)
{
	fail_nth_set(0);
}

TEST_F(faultinj, open_and_run_a_job)
{
	campaign(_metadata, "open + job", op_run);
}

TEST_F(faultinj, buffers_and_prime)
{
	campaign(_metadata, "buffers + PRIME", op_buffers);
}

TEST_HARNESS_MAIN
