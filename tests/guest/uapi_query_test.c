// SPDX-License-Identifier: MIT
/*
 * Guest tests of DRM_IOCTL_APU_QUERY against the real driver and the
 * emulated device, with raw ioctls (no libapu): success paths, size
 * negotiation, and every bad argument the kernel must reject.
 *
 * The node is $APU_NODE, or /dev/accel/accel0.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include <drm/apu_accel.h>
#include <hw/apu_cmd.h>
#include <hw/apu_hw.h>
#include "version.h"

static const char *node(void)
{
	const char *n = getenv("APU_NODE");

	return n ? n : "/dev/accel/accel0";
}

static int query(int fd, uint32_t type, void *data, uint32_t *size)
{
	struct drm_apu_query q = {
		.type = type,
		.size = *size,
		.data = (uintptr_t)data,
	};
	int ret = ioctl(fd, DRM_IOCTL_APU_QUERY, &q);

	*size = q.size;
	return ret ? -errno : 0;
}

FIXTURE(apu)
{
	int fd;
};

FIXTURE_SETUP(apu)
{
	self->fd = open(node(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("cannot open %s: %s", node(), strerror(errno));
}

FIXTURE_TEARDOWN(apu)
{
	close(self->fd);
}

TEST(node_is_accel_char_device)
{
	struct stat st;

	ASSERT_EQ(0, stat(node(), &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	/* The accel major is dynamic but never the DRM one (226). */
	EXPECT_NE(226u, major(st.st_rdev));
}

TEST_F(apu, drm_version_names_apu)
{
	struct drm_version v = { 0 };
	char name[32] = { 0 };

	v.name = name;
	v.name_len = sizeof(name) - 1;
	ASSERT_EQ(0, ioctl(self->fd, DRM_IOCTL_VERSION, &v));
	EXPECT_STREQ("apu", name);
}

TEST_F(apu, query_device)
{
	struct drm_apu_query_device d;
	uint32_t size = sizeof(d);

	memset(&d, 0xa5, sizeof(d));
	ASSERT_EQ(0, query(self->fd, DRM_APU_QUERY_DEVICE, &d, &size));
	EXPECT_EQ(sizeof(d), size);
	EXPECT_EQ((uint32_t)APU_ID_MAGIC, d.hw_id);
	EXPECT_EQ((uint32_t)APU_VERSION(APU_HW_VERSION_MAJOR, APU_HW_VERSION_MINOR,
					APU_HW_VERSION_PATCH), d.hw_version);
	EXPECT_EQ((uint32_t)APU_VERSION(APU_FW_STUB_VERSION_MAJOR,
					APU_FW_STUB_VERSION_MINOR,
					APU_FW_STUB_VERSION_PATCH), d.fw_version);
	EXPECT_EQ((uint32_t)APU_FW_ABI(APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR), d.fw_abi);
	EXPECT_EQ(6u, d.num_cores);
	EXPECT_EQ((uint32_t)(DRM_APU_CAP_MMU | DRM_APU_CAP_TIME_ACCURATE |
			     DRM_APU_CAP_FAULT_INJECT | DRM_APU_CAP_POWER_GATING |
			     DRM_APU_CAP_QUANT_OPS | DRM_APU_CAP_WRITE_LIST |
			     DRM_APU_CAP_INT4_WEIGHTS | DRM_APU_CAP_SPARSE_WEIGHTS |
			     DRM_APU_CAP_FP16), d.caps);
	EXPECT_EQ((1u << APU_OP_CONV2D) | (1u << APU_OP_ADD) | (1u << APU_OP_AVGPOOL) |
		  (1u << APU_OP_MAXPOOL) | (1u << APU_OP_LUT) | (1u << APU_OP_MUL), d.ops);
	EXPECT_EQ(39u, d.va_bits);
	EXPECT_EQ(1ull << 30, d.max_bo_size);
	EXPECT_EQ(16u + 1024 * 128, d.max_cmdbuf_size);
	EXPECT_EQ((uint32_t)DRM_APU_MAX_SUBMIT_JOBS, d.max_submit_jobs);
	EXPECT_EQ((uint32_t)DRM_APU_MAX_JOB_BOS, d.max_job_bos);
	EXPECT_EQ((uint32_t)DRM_APU_MAX_JOB_SYNCOBJS, d.max_job_syncobjs);
	EXPECT_EQ(255u, d.max_contexts);
	EXPECT_EQ(64u, d.ring_entries);
}

/* The figures qtests check on the device: 2 big, 3 little, 1 tiny. */
TEST_F(apu, query_cores)
{
	static const uint32_t cls[] = { 0, 0, 1, 1, 1, 2 };
	static const uint32_t macs[] = { 1024, 256, 64 }, mhz[] = { 1000, 800, 500 };
	/* docs/hw.md: the fp16 rates (firmware ABI 1.6). */
	static const uint32_t fp16[] = { 512, 128, 16 };
	unsigned char buf[8 + 6 * sizeof(struct drm_apu_core_info) + 16];
	struct drm_apu_query_cores h;
	uint32_t size = 0, i;

	ASSERT_EQ(0, query(self->fd, DRM_APU_QUERY_CORES, buf, &size));
	ASSERT_EQ(8 + 6 * sizeof(struct drm_apu_core_info), size);
	/* Just the header: the count. */
	size = sizeof(h);
	ASSERT_EQ(0, query(self->fd, DRM_APU_QUERY_CORES, &h, &size));
	EXPECT_EQ(6u, h.num_cores);
	EXPECT_EQ(sizeof(struct drm_apu_core_info), h.entry_size);

	memset(buf, 0xa5, sizeof(buf));
	size = sizeof(buf);
	ASSERT_EQ(0, query(self->fd, DRM_APU_QUERY_CORES, buf, &size));
	EXPECT_EQ(8 + 6 * sizeof(struct drm_apu_core_info), size);
	for (i = 0; i < 6; i++) {
		struct drm_apu_core_info c;

		memcpy(&c, buf + 8 + i * sizeof(c), sizeof(c));
		EXPECT_EQ(i, c.core);
		EXPECT_EQ(cls[i], c.core_class);
		EXPECT_EQ(macs[cls[i]], c.macs_per_cycle);
		EXPECT_EQ(mhz[cls[i]], c.clock_mhz);
		EXPECT_LT(0u, c.sram_bytes);
		EXPECT_LT(0u, c.energy_fj_per_mac);
		EXPECT_LT(0u, c.bytes_per_cycle);
		EXPECT_EQ(fp16[cls[i]], c.fp16_macs_per_cycle);
	}
	/* The rest of the buffer is zeroed. */
	for (i = size; i < sizeof(buf); i++)
		ASSERT_EQ(0, buf[i]);
	/* Smaller than the header: refused. */
	size = 4;
	EXPECT_EQ(-EINVAL, query(self->fd, DRM_APU_QUERY_CORES, buf, &size));
}

/* An older userspace that knows only the first version of the block. */
TEST_F(apu, query_first_version_size)
{
	unsigned char buf[16];
	uint32_t size = 8;

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, query(self->fd, DRM_APU_QUERY_DEVICE, buf, &size));
	EXPECT_EQ(8u, size);
	EXPECT_EQ(0, memcmp(buf, &(uint32_t){ APU_ID_MAGIC }, 4));
	EXPECT_EQ(0xa5, buf[8]);
}

TEST_F(apu, query_size_zero_returns_size_only)
{
	unsigned char buf[64];
	uint32_t size = 0;
	size_t i;

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, query(self->fd, DRM_APU_QUERY_DEVICE, buf, &size));
	EXPECT_EQ(sizeof(struct drm_apu_query_device), size);
	for (i = 0; i < sizeof(buf); i++)
		ASSERT_EQ(0xa5, buf[i]);
}

/* A newer userspace with a larger struct: unknown fields read as zero. */
TEST_F(apu, query_larger_buffer_is_zero_filled)
{
	unsigned char buf[sizeof(struct drm_apu_query_device) + 40];
	struct drm_apu_query_device d;
	uint32_t size = sizeof(buf) - 8;
	size_t i;

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, query(self->fd, DRM_APU_QUERY_DEVICE, buf, &size));
	EXPECT_EQ(sizeof(d), size);
	memcpy(&d, buf, sizeof(d));
	EXPECT_EQ((uint32_t)APU_ID_MAGIC, d.hw_id);
	for (i = sizeof(d); i < sizeof(buf) - 8; i++)
		ASSERT_EQ(0, buf[i]);
	/* Past the size userspace gave, nothing is written. */
	for (; i < sizeof(buf); i++)
		ASSERT_EQ(0xa5, buf[i]);
}

TEST_F(apu, query_too_small_is_einval)
{
	uint32_t buf[4] = { 0 };
	uint32_t size = 4;

	EXPECT_EQ(-EINVAL, query(self->fd, DRM_APU_QUERY_DEVICE, buf, &size));
	size = 1;
	EXPECT_EQ(-EINVAL, query(self->fd, DRM_APU_QUERY_DEVICE, buf, &size));
}

/*
 * A size over DRM_APU_QUERY_MAX_SIZE is refused, and nothing is written:
 * the kernel zero-fills the caller's size, so 4 GiB would clear whatever
 * the caller has mapped after the buffer (the ioctl fuzzer's own libc
 * data, in a 1 000 000-call run). The largest size works.
 */
TEST_F(apu, query_huge_size_is_einval_and_writes_nothing)
{
	size_t n = DRM_APU_QUERY_MAX_SIZE + 4096;
	uint8_t *buf = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t size;

	ASSERT_NE(MAP_FAILED, buf);
	memset(buf, 0xa5, n);
	size = 0xffffffff;
	EXPECT_EQ(-EINVAL, query(self->fd, DRM_APU_QUERY_DEVICE, buf, &size));
	size = DRM_APU_QUERY_MAX_SIZE + 1;
	EXPECT_EQ(-EINVAL, query(self->fd, DRM_APU_QUERY_DEVICE, buf, &size));
	for (size_t i = 0; i < n; i++)
		ASSERT_EQ(0xa5, buf[i]);
	size = DRM_APU_QUERY_MAX_SIZE;
	EXPECT_EQ(0, query(self->fd, DRM_APU_QUERY_DEVICE, buf, &size));
	EXPECT_EQ(sizeof(struct drm_apu_query_device), size);
	for (size_t i = sizeof(struct drm_apu_query_device); i < DRM_APU_QUERY_MAX_SIZE; i++)
		ASSERT_EQ(0, buf[i]);
	EXPECT_EQ(0xa5, buf[DRM_APU_QUERY_MAX_SIZE]);
	munmap(buf, n);
}

TEST_F(apu, query_unknown_type_is_einval)
{
	struct drm_apu_query_device d;
	uint32_t types[] = { 2, 3, 0x7fffffff, 0xffffffff };
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint32_t size = sizeof(d);

		EXPECT_EQ(-EINVAL, query(self->fd, types[i], &d, &size));
	}
}

TEST_F(apu, query_nonzero_pad_is_einval)
{
	struct drm_apu_query_device d;
	struct drm_apu_query q = {
		.type = DRM_APU_QUERY_DEVICE,
		.size = sizeof(d),
		.data = (uintptr_t)&d,
		.pad = 1,
	};

	EXPECT_EQ(-1, ioctl(self->fd, DRM_IOCTL_APU_QUERY, &q));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(apu, query_bad_pointers_are_efault)
{
	const uintptr_t bad[] = {
		0,			/* NULL */
		1,			/* unmapped, unaligned */
		0xffff800000000000ull,	/* kernel address */
		(uintptr_t)-8,
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t size = sizeof(struct drm_apu_query_device);

		EXPECT_EQ(-EFAULT, query(self->fd, DRM_APU_QUERY_DEVICE,
					 (void *)bad[i], &size));
	}
}

/* A buffer whose tail runs into an unmapped page. */
TEST_F(apu, query_partly_unmapped_buffer_is_efault)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t size = sizeof(struct drm_apu_query_device) + 64;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + page, page));
	EXPECT_EQ(-EFAULT, query(self->fd, DRM_APU_QUERY_DEVICE,
				 p + page - 4, &size));
	munmap(p, page);
}

TEST_F(apu, read_only_buffer_is_efault)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t size = sizeof(struct drm_apu_query_device);

	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-EFAULT, query(self->fd, DRM_APU_QUERY_DEVICE, p, &size));
	munmap(p, page);
}

TEST_F(apu, unknown_driver_ioctl_is_rejected)
{
	struct drm_apu_query q = { 0 };
	unsigned long bad = DRM_IOWR(DRM_COMMAND_BASE + 0x3f, struct drm_apu_query);

	EXPECT_EQ(-1, ioctl(self->fd, bad, &q));
	EXPECT_EQ(EINVAL, errno);
}

/* Many files at once, and from several processes at once. */
TEST(many_files_many_processes)
{
	enum { FILES = 64, PROCS = 8, ROUNDS = 200 };
	int fds[FILES], i, status;
	pid_t pids[PROCS];

	for (i = 0; i < FILES; i++) {
		fds[i] = open(node(), O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fds[i]);
	}
	for (i = 0; i < PROCS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			int r, bad = 0;

			for (r = 0; r < ROUNDS; r++) {
				struct drm_apu_query_device d;
				uint32_t size = sizeof(d);

				if (query(fds[(i * ROUNDS + r) % FILES],
					  DRM_APU_QUERY_DEVICE, &d, &size) ||
				    d.hw_id != APU_ID_MAGIC)
					bad++;
			}
			_exit(bad ? 1 : 0);
		}
	}
	for (i = 0; i < PROCS; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (i = 0; i < FILES; i++)
		close(fds[i]);
}

TEST_HARNESS_MAIN
