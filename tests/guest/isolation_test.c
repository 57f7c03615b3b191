// SPDX-License-Identifier: MIT
/*
 * Guest tests of address-space isolation, sharing and stress:
 * - two processes: a job aimed at the other's device addresses faults and
 *   the other's data is unchanged;
 * - PRIME: a BO exported as a dma-buf and imported by another file has an
 *   address there, and both see the same data;
 * - many threads and processes submitting to all six cores at once;
 * - BO create/destroy cycles without memory growth.
 */
#include <pthread.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "apu_guest.h"

#define OUT_OFF (512 * 1024)

/* A job in @fd writing its output at @out_va; its status and fault address. */
static int run_at(int fd, uint64_t out_va, uint32_t core, uint32_t *status,
		  uint64_t *fault_addr)
{
	struct drm_apu_job_info info;
	int ret = apu_run_small(fd, core, out_va, &info);

	if (!ret) {
		*status = info.status;
		*fault_addr = info.fault_addr;
	}
	return ret;
}

/* The same, the output BO @handle named written. */
static int run_into(int fd, uint64_t out_va, uint32_t handle, uint32_t core,
		    uint32_t *status)
{
	struct drm_apu_job_info info;
	int ret = apu_run_small_into(fd, core, out_va, handle, &info);

	if (!ret)
		*status = info.status;
	return ret;
}

TEST(other_process_memory_is_unreachable)
{
	int to_parent[2], to_child[2], fd;
	struct apu_buf victim;
	uint64_t va;
	uint32_t status;
	uint64_t fault;
	char ok;
	pid_t pid;

	ASSERT_EQ(0, pipe(to_parent));
	ASSERT_EQ(0, pipe(to_child));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* The victim: a BO full of 0x42, its address sent to the parent. */
		int vfd = apu_open();
		struct apu_buf pad;
		int bad = 0;

		/* Above 16 MiB, where the parent maps nothing of its own. */
		if (vfd < 0 || apu_buf_new(vfd, 16 * 1024 * 1024, 0, &pad) ||
		    apu_buf_new(vfd, 1024 * 1024, 0, &victim))
			_exit(2);
		memset(victim.cpu, 0x42, victim.size);
		if (write(to_parent[1], &victim.va, sizeof(victim.va)) != sizeof(victim.va) ||
		    read(to_child[0], &ok, 1) != 1)
			_exit(3);
		for (uint64_t i = 0; i < victim.size; i++)
			bad |= ((uint8_t *)victim.cpu)[i] != 0x42;
		_exit(bad ? 1 : 0);
	}
	ASSERT_EQ(sizeof(va), read(to_parent[0], &va, sizeof(va)));
	fd = apu_open();
	ASSERT_LE(0, fd);
	ASSERT_LE(16 * 1024 * 1024, va);
	/* This process maps about 1 MiB: the victim's address is not ours. */
	EXPECT_EQ(0, run_at(fd, va, 0, &status, &fault));
	EXPECT_EQ((uint32_t)DRM_APU_STATUS_MMU_FAULT, status);
	EXPECT_EQ(va, fault);
	ok = 1;
	ASSERT_EQ(1, write(to_child[1], &ok, 1));
	int wst;

	ASSERT_EQ(pid, waitpid(pid, &wst, 0));
	EXPECT_TRUE(WIFEXITED(wst));
	EXPECT_EQ(0, WEXITSTATUS(wst)) TH_LOG("the victim's data changed");
	close(fd);
}

/* Two files of one process: each has its own address space. */
TEST(files_have_separate_address_spaces)
{
	int a = apu_open(), b = apu_open();
	struct apu_buf ba, bb;
	uint32_t status;
	uint64_t fault;

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, apu_buf_new(a, 8 * 1024 * 1024, 0, &ba));
	memset(ba.cpu, 0x11, ba.size);
	/* b has nothing at a's large BO's end. */
	ASSERT_EQ(0, apu_buf_new(b, 4096, 0, &bb));
	EXPECT_EQ(0, run_at(b, ba.va + ba.size - 64 * 1024, 2, &status, &fault));
	EXPECT_EQ((uint32_t)DRM_APU_STATUS_MMU_FAULT, status);
	for (uint64_t i = 0; i < ba.size; i++)
		ASSERT_EQ(0x11, ((uint8_t *)ba.cpu)[i]);
	apu_buf_free(a, &ba);
	apu_buf_free(b, &bb);
	close(a);
	close(b);
}

TEST(prime_export_import)
{
	int a = apu_open(), b = apu_open(), dmabuf = -1;
	struct apu_buf ba;
	struct drm_apu_bo_info info = { 0 };
	uint32_t hb, status;
	uint64_t fault;
	uint8_t *p;

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, apu_buf_new(a, 64 * 1024, 0, &ba));
	memset(ba.cpu, 0, ba.size);
	ASSERT_EQ(0, drmPrimeHandleToFD(a, ba.handle, DRM_CLOEXEC | DRM_RDWR, &dmabuf));
	ASSERT_EQ(0, drmPrimeFDToHandle(b, dmabuf, &hb));
	info.handle = hb;
	ASSERT_EQ(0, apu_ioctl(b, DRM_IOCTL_APU_BO_INFO, &info));
	EXPECT_EQ(ba.size, info.size);
	EXPECT_NE(0, info.device_addr);
	/* b's job writes the shared BO at b's address; a sees the data. */
	EXPECT_EQ(0, run_into(b, info.device_addr, hb, 3, &status));
	EXPECT_EQ((uint32_t)DRM_APU_STATUS_OK, status);
	int nonzero = 0;

	for (int i = 0; i < 4 * 4 * 8; i++)
		nonzero += ((uint8_t *)ba.cpu)[i] != 0;
	EXPECT_LT(60, nonzero);
	/* And b's CPU mapping of it shows the same bytes. */
	p = mmap(NULL, info.size, PROT_READ, MAP_SHARED, b, info.mmap_offset);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, memcmp(p, ba.cpu, 4 * 4 * 8));
	munmap(p, info.size);
	/* Closing a's handle keeps b's mapping. */
	apu_buf_free(a, &ba);
	EXPECT_EQ(0, run_into(b, info.device_addr, hb, 3, &status));
	EXPECT_EQ((uint32_t)DRM_APU_STATUS_OK, status);
	/* Not named written, the shared BO is read-only to b's job. */
	EXPECT_EQ(0, run_at(b, info.device_addr, 3, &status, &fault));
	EXPECT_EQ((uint32_t)DRM_APU_STATUS_MMU_FAULT, status);
	EXPECT_EQ(info.device_addr, fault);
	apu_gem_close(b, hb);
	close(dmabuf);
	close(a);
	close(b);
}

struct worker {
	int fd;
	int index;
	int jobs;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct apu_buf cmd, data;
	struct apu_conv c;
	struct drm_apu_job_bo bos[1];
	int8_t ref[4 * 4 * 8];
	uint32_t s;

	if (apu_buf_new(w->fd, 4096, 0, &cmd) || apu_buf_new(w->fd, 1024 * 1024, 0, &data) ||
	    drmSyncobjCreate(w->fd, 0, &s)) {
		w->failures++;
		return NULL;
	}
	apu_conv_setup(&c, &data, 4, 4, 8, 8, 3, OUT_OFF, 100 + w->index);
	apu_ref_conv(&c.p, c.in, c.w, c.bias, c.mult, c.shift, ref);
	apu_op_conv(apu_cmd_header(cmd.cpu, 1), &c);
	bos[0].handle = data.handle;
	bos[0].flags = DRM_APU_JOB_BO_WRITE;
	for (int i = 0; i < w->jobs; i++) {
		uint32_t target = (i + w->index) % 3 == 0 ?
				  DRM_APU_TARGET_CLASS((i / 3) % 3) :
				  DRM_APU_TARGET_CORE((i + w->index) % 6);

		if (apu_submit1(w->fd, cmd.handle, 0, apu_cmd_size(1), target, bos, 1,
				NULL, 0, s, NULL, NULL))
			w->failures++;
	}
	if (apu_sync_wait(w->fd, s, 120000) ||
	    memcmp(ref, (uint8_t *)data.cpu + OUT_OFF, sizeof(ref)))
		w->failures++;
	drmSyncobjDestroy(w->fd, s);
	apu_buf_free(w->fd, &cmd);
	apu_buf_free(w->fd, &data);
	return NULL;
}

/* 4 processes x 4 threads (two files per process), all cores. */
TEST(stress_threads_and_processes)
{
	pid_t pids[4];

	for (int p = 0; p < 4; p++) {
		pids[p] = fork();
		ASSERT_LE(0, pids[p]);
		if (pids[p] == 0) {
			int fds[2] = { apu_open(), apu_open() }, fail = 0;
			pthread_t t[4];
			struct worker w[4];

			for (int i = 0; i < 4; i++) {
				w[i] = (struct worker){ .fd = fds[i % 2], .index = p * 4 + i,
							.jobs = 60 };
				pthread_create(&t[i], NULL, worker_main, &w[i]);
			}
			for (int i = 0; i < 4; i++) {
				pthread_join(t[i], NULL);
				fail += w[i].failures;
			}
			_exit(fail ? 1 : 0);
		}
	}
	for (int p = 0; p < 4; p++) {
		int st;

		ASSERT_EQ(pids[p], waitpid(pids[p], &st, 0));
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("process %d failed", p);
	}
}

/* 2000 create/map/destroy cycles of 256 KiB BOs: no memory kept. */
TEST(bo_cycles_do_not_leak)
{
	int fd = apu_open();
	long before, after;

	ASSERT_LE(0, fd);
	for (int i = 0; i < 50; i++) {	/* warm the caches */
		struct apu_buf b;

		ASSERT_EQ(0, apu_buf_new(fd, 256 * 1024, 0, &b));
		apu_buf_free(fd, &b);
	}
	before = apu_meminfo_kib("MemAvailable");
	for (int i = 0; i < 2000; i++) {
		struct apu_buf b;

		ASSERT_EQ(0, apu_buf_new(fd, 256 * 1024, i & 1 ? DRM_APU_BO_DEVICE_READ_ONLY : 0, &b));
		((uint8_t *)b.cpu)[i % b.size] = 1;
		apu_buf_free(fd, &b);
	}
	after = apu_meminfo_kib("MemAvailable");
	/* 2000 x 256 KiB is 500 MiB; allow 8 MiB of noise. */
	EXPECT_GT(8 * 1024, before - after) TH_LOG("before %ld kB, after %ld kB", before, after);
	close(fd);
}

/* Opening and closing many files recycles address-space ids. */
TEST(many_files)
{
	for (int i = 0; i < 600; i++) {
		int fd = apu_open();
		struct apu_buf b;

		ASSERT_LE(0, fd) TH_LOG("open %d: %s", i, strerror(errno));
		ASSERT_EQ(0, apu_buf_new(fd, 4096, 0, &b));
		apu_buf_free(fd, &b);
		close(fd);
	}
}

TEST_HARNESS_MAIN
