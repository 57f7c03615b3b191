// SPDX-License-Identifier: MIT
/*
 * Guest fuzzing, CI-sized (the VM run fails on any kernel report):
 * - ioctl fuzzer: 4 processes x 6000 calls to every driver ioctl and the
 *   DRM core ioctls it serves (GEM close, PRIME, syncobjs), structure-aware
 *   (handles the process owns, other numbers, flags, sizes at the limits,
 *   user pointers valid, NULL, unmapped, kernel, misaligned) and random
 *   ioctl numbers;
 * - command-buffer fuzzer: valid command buffers with random bytes changed,
 *   submitted to every core: each job ends alone with a defined status, a
 *   victim process's buffer is never touched, the device works afterwards.
 * APU_FUZZ_SEED sets the seed, APU_FUZZ_CALLS the calls per process.
 */
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "apu_guest.h"

static uint64_t rs;

static uint32_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return (uint32_t)((rs * 0x2545f4914f6cdd1dull) >> 32);
}

static uint64_t rnd64(void)
{
	return (uint64_t)rnd() << 32 | rnd();
}

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v ? strtoul(v, NULL, 0) : def;
}

/* Interesting 32-bit values. */
static uint32_t pick32(const uint32_t *own, int nown)
{
	switch (rnd() % 8) {
	case 0: return 0;
	case 1: return 1;
	case 2: return nown ? own[rnd() % nown] : 1;
	case 3: return 0xffffffff;
	case 4: return 0x80000000u >> (rnd() % 32);
	case 5: return rnd() % 300;
	case 6: return nown ? own[rnd() % nown] + 1 : 2;
	default: return rnd();
	}
}

/* A user pointer: good memory, NULL, unmapped, kernel, misaligned or random. */
static uint64_t pick_ptr(void *good)
{
	switch (rnd() % 7) {
	case 0: return (uintptr_t)good;
	case 1: return 0;
	case 2: return 0x10000;			/* unmapped */
	case 3: return 0xffffffff81000000ull;	/* kernel */
	case 4: return (uintptr_t)good + 1 + rnd() % 7;
	case 5: return (uintptr_t)good + 4096 * 64;	/* past the end */
	default: return rnd64();
	}
}

static void fill_random(void *p, size_t n, const uint32_t *own, int nown, void *good)
{
	uint32_t *w = p;

	for (size_t i = 0; i < n / 4; i++)
		w[i] = rnd() % 3 ? pick32(own, nown) : (uint32_t)pick_ptr(good);
	/* Now and then, pointer fields point somewhere real. */
	if (n >= 16 && rnd() % 2) {
		uint64_t v = (uintptr_t)good;

		memcpy((uint8_t *)p + 8 * (rnd() % (n / 8)), &v, 8);
	}
}

static void fuzz_ioctls(unsigned long seed, unsigned long calls)
{
	static const unsigned long reqs[] = {
		DRM_IOCTL_APU_QUERY, DRM_IOCTL_APU_BO_CREATE, DRM_IOCTL_APU_BO_INFO,
		DRM_IOCTL_APU_BO_WAIT, DRM_IOCTL_APU_SUBMIT, DRM_IOCTL_APU_JOB_INFO,
		DRM_IOCTL_GEM_CLOSE, DRM_IOCTL_PRIME_HANDLE_TO_FD, DRM_IOCTL_PRIME_FD_TO_HANDLE,
		DRM_IOCTL_SYNCOBJ_CREATE, DRM_IOCTL_SYNCOBJ_DESTROY, DRM_IOCTL_SYNCOBJ_WAIT,
		DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, DRM_IOCTL_SYNCOBJ_RESET, DRM_IOCTL_SYNCOBJ_SIGNAL,
	};
	uint32_t own[64];
	int nown = 0, fd = apu_open();
	uint8_t *good = mmap(NULL, 4096 * 64, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (fd < 0 || good == MAP_FAILED)
		_exit(2);
	rs = seed;
	for (unsigned long i = 0; i < calls; i++) {
		uint8_t arg[256];
		unsigned long req;
		int k = rnd() % (sizeof(reqs) / sizeof(reqs[0]) + 1);

		fill_random(good, 4096, own, nown, good + 8192);
		fill_random(arg, sizeof(arg), own, nown, good);
		if (k == sizeof(reqs) / sizeof(reqs[0])) {
			/* Any number in the driver's range, any direction and size. */
			req = _IOC(rnd() % 4, 'd', DRM_COMMAND_BASE + rnd() % 32, rnd() % 200);
		} else {
			req = reqs[k];
		}
		/* Structure-aware touches for the common cases. */
		if (req == DRM_IOCTL_APU_BO_CREATE) {
			struct drm_apu_bo_create *c = (void *)arg;

			c->size = rnd() % 4 ? rnd() % (1 << 20) : rnd64();
			if (c->size > (1 << 20) && c->size <= (1ull << 30))
				c->size = 1 << 20;	/* no memory exhaustion */
		} else if (req == DRM_IOCTL_APU_SUBMIT) {
			struct drm_apu_submit *s = (void *)arg;

			if (rnd() % 2) {
				s->jobs = (uintptr_t)good;
				s->num_jobs = 1 + rnd() % 4;
				s->job_size = sizeof(struct drm_apu_job);
				s->flags = rnd() % 8 ? 0 : rnd();
				s->pad = 0;
			}
		} else if (req == DRM_IOCTL_APU_BO_WAIT || req == DRM_IOCTL_SYNCOBJ_WAIT) {
			/* Bounded waits only. */
			memset(arg + 8, 0, 8);
		}
		/*
		 * Linux 6.12's DRM core allocates syncobj handle arrays with
		 * kmalloc_array() without __GFP_NOWARN, so a count above
		 * KMALLOC_MAX_SIZE / 4 WARNs (outside this driver): keep the
		 * counts of the core's syncobj array ioctls bounded.
		 */
		if (req == DRM_IOCTL_SYNCOBJ_WAIT)
			((struct drm_syncobj_wait *)arg)->count_handles %= 65;
		else if (req == DRM_IOCTL_SYNCOBJ_RESET || req == DRM_IOCTL_SYNCOBJ_SIGNAL)
			((struct drm_syncobj_array *)arg)->count_handles %= 65;
		bool core_array = req == DRM_IOCTL_SYNCOBJ_WAIT || req == DRM_IOCTL_SYNCOBJ_RESET ||
				  req == DRM_IOCTL_SYNCOBJ_SIGNAL;

		if (ioctl(fd, req, (core_array || rnd() % 16) ? (void *)arg :
				   (void *)(uintptr_t)pick_ptr(good)) == 0) {
			if (req == DRM_IOCTL_APU_BO_CREATE && nown < 64)
				own[nown++] = ((struct drm_apu_bo_create *)arg)->handle;
			else if (req == DRM_IOCTL_APU_BO_CREATE)	/* keep memory bounded */
				apu_gem_close(fd, ((struct drm_apu_bo_create *)arg)->handle);
			else if (req == DRM_IOCTL_SYNCOBJ_CREATE && nown < 64)
				own[nown++] = ((struct drm_syncobj_create *)arg)->handle;
			else if (req == DRM_IOCTL_PRIME_HANDLE_TO_FD)
				close(((struct drm_prime_handle *)arg)->fd);
			else if (req == DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD)
				close(((struct drm_syncobj_handle *)arg)->fd);
		}
		if (nown == 64 && rnd() % 100 == 0) {
			for (int h = 0; h < nown; h++)
				apu_gem_close(fd, own[h]);
			nown = 0;
		}
	}
	close(fd);
	_exit(0);
}

/* Long runs (make check-deep) take minutes: not the harness's 30 s. */
FIXTURE(fuzz) {};
FIXTURE_SETUP(fuzz) {}
FIXTURE_TEARDOWN(fuzz) {}

TEST_F_TIMEOUT(fuzz, ioctl_fuzzer, 7200)
{
	unsigned long seed = env_ul("APU_FUZZ_SEED", 1), calls = env_ul("APU_FUZZ_CALLS", 6000);
	pid_t pid[4];
	int fd;

	for (int p = 0; p < 4; p++) {
		pid[p] = fork();
		ASSERT_LE(0, pid[p]);
		if (!pid[p])
			fuzz_ioctls(seed * 4 + p, calls);
	}
	for (int p = 0; p < 4; p++) {
		int st;

		ASSERT_EQ(pid[p], waitpid(pid[p], &st, 0));
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("process %d: %x", p, st);
	}
	TH_LOG("%lu calls in 4 processes, seed %lu", 4 * calls, seed);
	/* The device still works. */
	fd = apu_open();
	ASSERT_LE(0, fd);
	for (uint32_t c = 0; c < 6; c++)
		EXPECT_EQ(0, apu_run_small(fd, c, 0, NULL));
	close(fd);
}

TEST_F_TIMEOUT(fuzz, command_buffer_fuzzer, 7200)
{
	unsigned long seed = env_ul("APU_FUZZ_SEED", 1), jobs = env_ul("APU_FUZZ_JOBS", 600);
	int to_parent[2], to_child[2], fd;
	struct apu_buf cmd, data, victim;
	struct apu_conv c;
	struct drm_apu_job_bo bos[1];
	unsigned int seen[DRM_APU_STATUS_CANCELED + 1] = { 0 };
	uint64_t victim_va;
	const char *ban = "/sys/module/apu/parameters/ban_limit";
	char old_ban[32] = "8";
	int pfd;
	int st;
	pid_t pid;
	char ok = 1;

	/*
	 * Most mutated jobs fault: without bans for the run (the process
	 * would be banned after 8), restored at the end.
	 */
	pfd = open(ban, O_RDONLY);
	ASSERT_LE(0, pfd);
	ASSERT_LT(0, read(pfd, old_ban, sizeof(old_ban) - 1));
	close(pfd);
	ASSERT_EQ(0, apu_write_file(ban, "0"));

	/* A victim process with a buffer of 0x42 at a known address. */
	ASSERT_EQ(0, pipe(to_parent));
	ASSERT_EQ(0, pipe(to_child));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int vfd = apu_open(), bad = 0;

		if (vfd < 0 || apu_buf_new(vfd, 1024 * 1024, 0, &victim))
			_exit(2);
		memset(victim.cpu, 0x42, victim.size);
		if (write(to_parent[1], &victim.va, 8) != 8 || read(to_child[0], &ok, 1) != 1)
			_exit(3);
		for (uint64_t i = 0; i < victim.size; i++)
			bad |= ((uint8_t *)victim.cpu)[i] != 0x42;
		_exit(bad);
	}
	ASSERT_EQ(8, read(to_parent[0], &victim_va, 8));

	fd = apu_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, apu_buf_new(fd, 64 * 1024, 0, &cmd));
	ASSERT_EQ(0, apu_buf_new(fd, 1024 * 1024, 0, &data));
	bos[0].handle = data.handle;
	bos[0].flags = DRM_APU_JOB_BO_WRITE;
	rs = seed * 77 + 5;
	for (unsigned long i = 0; i < jobs; i++) {
		uint8_t *p = (uint8_t *)cmd.cpu + (i % 8) * 4096;
		struct drm_apu_job_info info;
		uint32_t s, n = 1 + rnd() % 3;
		uint64_t id;
		int ret;

		apu_conv_setup(&c, &data, 4 + rnd() % 8, 4 + rnd() % 8, 8, 8, 1 + 2 * (rnd() % 2),
			       512 * 1024, (unsigned int)i);
		apu_cmd_header(p, (uint16_t)n);
		for (uint32_t k = 0; k < n; k++)
			apu_op_conv(p + sizeof(struct apu_cmd_header) + k * APU_OP_SIZE, &c);
		/* Mutate: bytes, 16-bit fields, or a pointer aimed at the victim. */
		for (uint32_t m = 1 + rnd() % 6; m; m--) {
			size_t at = rnd() % apu_cmd_size((uint16_t)n);

			switch (rnd() % 4) {
			case 0: p[at] = (uint8_t)rnd(); break;
			case 1: p[at & ~1u] = (uint8_t)rnd(); p[(at & ~1u) + 1] = (uint8_t)(rnd() % 4); break;
			case 2: memcpy(p + (at & ~7u), &victim_va, 8); break;
			default: p[at] ^= 1u << (rnd() % 8); break;
			}
		}
		ASSERT_EQ(0, drmSyncobjCreate(fd, 0, &s));
		ret = apu_submit1(fd, cmd.handle, (uint32_t)(i % 8) * 4096, apu_cmd_size((uint16_t)n),
				  DRM_APU_TARGET_CORE(i % 6), bos, 1, NULL, 0, s, &id, NULL);
		ASSERT_EQ(0, ret);
		ASSERT_EQ(0, apu_sync_wait(fd, s, 60000));
		ASSERT_EQ(0, apu_job_info(fd, id, &info));
		ASSERT_EQ((uint32_t)DRM_APU_JOB_DONE, info.state);
		/* A heavy mutated op may also run past the timeout: it fails alone. */
		ASSERT_TRUE(info.status <= DRM_APU_STATUS_TOO_LARGE ||
			    info.status == DRM_APU_STATUS_TIMEOUT) TH_LOG("status %u", info.status);
		seen[info.status]++;
		drmSyncobjDestroy(fd, s);
	}
	TH_LOG("%lu mutated jobs: ok %u, bad cmdbuf %u, bad op %u, bad params %u, mmu fault %u, too large %u, timeout %u",
	       jobs, seen[0], seen[1], seen[2], seen[3], seen[4], seen[8], seen[DRM_APU_STATUS_TIMEOUT]);
	EXPECT_LT(0, seen[0]);
	EXPECT_LT(0, seen[DRM_APU_STATUS_BAD_PARAMS] + seen[DRM_APU_STATUS_BAD_OP] +
		     seen[DRM_APU_STATUS_BAD_CMDBUF]);
	ASSERT_EQ(1, write(to_child[1], &ok, 1));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("victim's data changed");
	for (uint32_t core = 0; core < 6; core++)
		EXPECT_EQ(0, apu_run_small(fd, core, 0, NULL));
	apu_buf_free(fd, &cmd);
	apu_buf_free(fd, &data);
	close(fd);
	EXPECT_EQ(0, apu_write_file(ban, old_ban));
}

TEST_HARNESS_MAIN
