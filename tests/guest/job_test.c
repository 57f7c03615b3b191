// SPDX-License-Identifier: MIT
/*
 * Guest tests of buffers and jobs on their success paths: BO create, info,
 * mmap, wait; a convolution on every core, checked against a plain
 * reference; class targets; chains across cores through syncobjs, in one
 * submit and across submits; implicit ordering through shared BOs; a BO
 * named more than once by a job; job records; fdinfo.
 */
#include <inttypes.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "apu_guest.h"

/*
 * The device's core layout (DRM_APU_QUERY_CORES), read by each test's
 * setup: the tests run on any layout of 1 to 8 cores (scripts/check.sh
 * boots other layouts too). They name cores as on the default layout (2 big,
 * 3 little, 1 tiny), through C(): core n, or n modulo the core count.
 */
static int num_cores;
static uint32_t core_cls[8];

static uint32_t C(uint32_t n)
{
	return n % num_cores;
}

/* The last core: the tiny one of the default layout, the slowest. */
#define LAST ((uint32_t)num_cores - 1)

/* Core @n's engine name in fdinfo: its class, then its index in the class. */
static void engine_name(uint32_t n, char *name, size_t size)
{
	static const char *const prefix[] = { "big", "little", "tiny" };
	uint32_t same = 0;

	for (uint32_t i = 0; i < n; i++)
		same += core_cls[i] == core_cls[n];
	snprintf(name, size, "%s%u", prefix[core_cls[n] % 3], same);
}

/* Jobs of the submits that use every core (and more, on smaller layouts). */
#define SUBMIT_JOBS 6

FIXTURE(job)
{
	int fd;
	struct apu_buf cmd, data;
};

FIXTURE_SETUP(job)
{
	self->fd = apu_open();
	ASSERT_LE(0, self->fd) TH_LOG("cannot open %s: %s", apu_node(), strerror(errno));
	num_cores = apu_core_classes(self->fd, core_cls);
	ASSERT_LT(0, num_cores);
	ASSERT_EQ(0, apu_buf_new(self->fd, 64 * 1024, 0, &self->cmd));
	ASSERT_EQ(0, apu_buf_new(self->fd, 1024 * 1024, 0, &self->data));
}

FIXTURE_TEARDOWN(job)
{
	apu_buf_free(self->fd, &self->data);
	apu_buf_free(self->fd, &self->cmd);
	close(self->fd);
}

TEST_F(job, bo_create_info_mmap)
{
	struct drm_apu_bo_create c = { .size = 5000, .flags = DRM_APU_BO_DEVICE_READ_ONLY };
	struct drm_apu_bo_info i = { 0 };
	uint8_t *p;

	ASSERT_EQ(0, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_CREATE, &c));
	EXPECT_EQ(8192, c.size);
	EXPECT_NE(0, c.handle);
	EXPECT_NE(0, c.device_addr);
	EXPECT_EQ(0, c.device_addr & 4095);
	i.handle = c.handle;
	ASSERT_EQ(0, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_INFO, &i));
	EXPECT_EQ((uint32_t)DRM_APU_BO_DEVICE_READ_ONLY, i.flags);
	EXPECT_EQ(8192, i.size);
	EXPECT_EQ(c.device_addr, i.device_addr);
	p = mmap(NULL, i.size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, i.mmap_offset);
	ASSERT_NE(MAP_FAILED, p);
	for (int k = 0; k < 8192; k++)
		ASSERT_EQ(0, p[k]) TH_LOG("new BOs read zero");
	memset(p, 0x5a, 8192);
	munmap(p, i.size);
	/* Addresses of two live BOs do not overlap. */
	EXPECT_TRUE(self->data.va + self->data.size <= c.device_addr ||
		    c.device_addr + c.size <= self->data.va);
	EXPECT_EQ(0, apu_gem_close(self->fd, c.handle));
	EXPECT_EQ(-ENOENT, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_INFO, &i));
}

/* One convolution on @target; checks the output and the job record. */
static void run_conv(struct __test_metadata *_metadata, int fd, struct apu_buf *cmd,
		     struct apu_buf *data, uint32_t target, uint32_t *core_out)
{
	struct apu_conv c;
	struct drm_apu_job_bo bos[] = { { data->handle, DRM_APU_JOB_BO_WRITE } };
	struct drm_apu_job_info info;
	int8_t ref[8 * 8 * 24];
	uint32_t syncobj, core;
	uint64_t id;

	apu_conv_setup(&c, data, 8, 8, 16, 24, 3, 512 * 1024, target);
	memset((uint8_t *)data->cpu + 512 * 1024, 0x77, sizeof(ref));
	apu_op_conv(apu_cmd_header(cmd->cpu, 1), &c);
	ASSERT_EQ(0, drmSyncobjCreate(fd, 0, &syncobj));
	ASSERT_EQ(0, apu_submit1(fd, cmd->handle, 0, apu_cmd_size(1), target, bos, 1,
				 NULL, 0, syncobj, &id, &core));
	EXPECT_NE(0, id);
	ASSERT_EQ(0, apu_sync_wait(fd, syncobj, 20000));
	apu_ref_conv(&c.p, c.in, c.w, c.bias, c.mult, c.shift, ref);
	EXPECT_EQ(0, memcmp(ref, (uint8_t *)data->cpu + 512 * 1024, sizeof(ref)));
	ASSERT_EQ(0, apu_job_info(fd, id, &info));
	EXPECT_EQ((uint32_t)DRM_APU_JOB_DONE, info.state);
	EXPECT_EQ((uint32_t)DRM_APU_STATUS_OK, info.status);
	EXPECT_EQ(core, info.core);
	EXPECT_EQ(1, info.op_index);
	EXPECT_EQ(8ull * 8 * 24 * 3 * 3 * 16, info.macs);
	EXPECT_LT(0, info.cycles);
	EXPECT_LT(0, info.bytes_read);
	EXPECT_EQ(sizeof(ref), info.bytes_written);
	EXPECT_LE(info.queue_ns, info.start_ns);
	EXPECT_LE(info.start_ns, info.end_ns);
	drmSyncobjDestroy(fd, syncobj);
	if (core_out)
		*core_out = core;
}

/*
 * The layout the device was started with (scripts/check.sh's layout runs
 * say it in the guest's environment): APU_EXPECT_CORES="big,little,tiny"
 * and APU_EXPECT_SHARED_IRQ=1 for one shared interrupt (else a vector per
 * core and "apu-error"). Unset: nothing to compare.
 */
TEST_F(job, layout_is_the_expected_one)
{
	const char *want = getenv("APU_EXPECT_CORES");
	const char *shared = getenv("APU_EXPECT_SHARED_IRQ");
	unsigned int b, l, t, n[3] = { 0 };
	char line[512];
	int error_vec = 0, shared_vec = 0;
	FILE *f;

	if (want) {
		ASSERT_EQ(3, sscanf(want, "%u,%u,%u", &b, &l, &t));
		for (int i = 0; i < num_cores; i++)
			n[core_cls[i] % 3]++;
		EXPECT_EQ(b, n[0]);
		EXPECT_EQ(l, n[1]);
		EXPECT_EQ(t, n[2]);
		EXPECT_EQ(b + l + t, (unsigned int)num_cores);
	}
	if (!shared)
		return;
	f = fopen("/proc/interrupts", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\n");

		line[len] = 0;
		error_vec += len > 10 && !strcmp(line + len - 10, " apu-error");
		shared_vec += len > 4 && !strcmp(line + len - 4, " apu");
	}
	fclose(f);
	if (atoi(shared)) {
		EXPECT_EQ(0, error_vec);
		EXPECT_EQ(1, shared_vec);
	} else {
		EXPECT_EQ(1, error_vec);
		EXPECT_EQ(0, shared_vec);
	}
}

TEST_F(job, conv_on_every_core)
{
	for (uint32_t n = 0; n < (uint32_t)num_cores; n++) {
		uint32_t core;

		run_conv(_metadata, self->fd, &self->cmd, &self->data,
			 DRM_APU_TARGET_CORE(n), &core);
		EXPECT_EQ(n, core);
	}
}

TEST_F(job, class_targets)
{
	for (uint32_t cls = 0; cls < 3; cls++) {
		uint32_t core, first = 8, last = 0;

		for (uint32_t n = 0; n < (uint32_t)num_cores; n++) {
			if (core_cls[n] == cls) {
				first = first < n ? first : n;
				last = n;
			}
		}
		if (first == 8)
			continue;	/* no core of this class */

		run_conv(_metadata, self->fd, &self->cmd, &self->data,
			 DRM_APU_TARGET_CLASS(cls), &core);
		EXPECT_LE(first, core);
		EXPECT_GE(last, core);
	}
}

/*
 * Three jobs in one submit on three cores: A computes X from the input, B
 * copies X to Y with an identity 1x1 convolution, C copies Y to Z; B waits
 * for A's out-syncobj and C for B's. Z must equal the reference of A.
 */
static void identity_conv(struct apu_conv *c, const struct apu_conv *a,
			  uint64_t in_va, uint64_t out_va, int32_t *mult, int32_t *shift,
			  int8_t *w, uint64_t mult_va, uint64_t shift_va, uint64_t w_va)
{
	int ch = a->p.out_c;

	memset(c, 0, sizeof(*c));
	c->p = (ApuConvParams){
		.in_h = a->p.out_h, .in_w = a->p.out_w, .in_c = ch,
		.out_h = a->p.out_h, .out_w = a->p.out_w, .out_c = ch,
		.k_h = 1, .k_w = 1, .stride_h = 1, .stride_w = 1, .dil_h = 1,
		.dil_w = 1, .groups = ch, .act_min = -128, .act_max = 127,
	};
	for (int i = 0; i < ch; i++) {
		mult[i] = 1 << 30;	/* x * 2^30 * 2^1 / 2^31 = x */
		shift[i] = 1;
		w[i] = 1;
	}
	c->in_va = in_va;
	c->out_va = out_va;
	c->w_va = w_va;
	c->mult_va = mult_va;
	c->shift_va = shift_va;
}

TEST_F(job, chain_across_cores_in_one_submit)
{
	uint8_t *d = self->data.cpu;
	struct apu_conv a, b, c;
	struct drm_apu_job_bo bos[] = { { self->data.handle, DRM_APU_JOB_BO_WRITE } };
	uint32_t s[3], in_b[1], in_c[1];
	struct drm_apu_job jobs[3];
	struct drm_apu_submit sub = { .jobs = (uintptr_t)jobs, .num_jobs = 3,
				      .job_size = sizeof(jobs[0]) };
	int8_t ref[8 * 8 * 24];
	uint8_t *ops;

	apu_conv_setup(&a, &self->data, 8, 8, 16, 24, 3, 512 * 1024, 7);
	identity_conv(&b, &a, a.out_va, self->data.va + 600 * 1024,
		      (int32_t *)(d + 700 * 1024), (int32_t *)(d + 701 * 1024),
		      (int8_t *)(d + 702 * 1024), self->data.va + 700 * 1024,
		      self->data.va + 701 * 1024, self->data.va + 702 * 1024);
	identity_conv(&c, &a, b.out_va, self->data.va + 650 * 1024,
		      (int32_t *)(d + 700 * 1024), (int32_t *)(d + 701 * 1024),
		      (int8_t *)(d + 702 * 1024), self->data.va + 700 * 1024,
		      self->data.va + 701 * 1024, self->data.va + 702 * 1024);
	memset(d + 650 * 1024, 0, sizeof(ref));
	ops = self->cmd.cpu;
	apu_op_conv(apu_cmd_header(ops, 1), &a);
	apu_op_conv(apu_cmd_header(ops + 4096, 1), &b);
	apu_op_conv(apu_cmd_header(ops + 8192, 1), &c);

	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &s[i]));
	in_b[0] = s[0];
	in_c[0] = s[1];
	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i < 3; i++) {
		jobs[i].cmdbuf_handle = self->cmd.handle;
		jobs[i].cmdbuf_offset = 4096 * i;
		jobs[i].cmdbuf_size = apu_cmd_size(1);
		jobs[i].priority = DRM_APU_JOB_PRIORITY_NORMAL;
		jobs[i].bos = (uintptr_t)bos;
		jobs[i].num_bos = 1;
		jobs[i].out_syncobj = s[i];
	}
	jobs[0].target = DRM_APU_TARGET_CORE(LAST);	/* tiny: slowest first */
	jobs[1].target = DRM_APU_TARGET_CORE(C(0));
	jobs[1].in_syncobjs = (uintptr_t)in_b;
	jobs[1].num_in_syncobjs = 1;
	jobs[2].target = DRM_APU_TARGET_CORE(C(3));
	jobs[2].in_syncobjs = (uintptr_t)in_c;
	jobs[2].num_in_syncobjs = 1;
	ASSERT_EQ(0, apu_ioctl(self->fd, DRM_IOCTL_APU_SUBMIT, &sub));
	EXPECT_EQ(LAST, jobs[0].core);
	EXPECT_EQ(C(0), jobs[1].core);
	EXPECT_EQ(C(3), jobs[2].core);
	EXPECT_EQ(jobs[0].job_id + 1, jobs[1].job_id);
	EXPECT_EQ(jobs[1].job_id + 1, jobs[2].job_id);
	ASSERT_EQ(0, apu_sync_wait(self->fd, s[2], 20000));

	apu_ref_conv(&a.p, a.in, a.w, a.bias, a.mult, a.shift, ref);
	EXPECT_EQ(0, memcmp(ref, d + 650 * 1024, sizeof(ref)));
	struct drm_apu_job_info info[3];

	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, apu_job_info(self->fd, jobs[i].job_id, &info[i]));
		EXPECT_EQ((uint32_t)DRM_APU_STATUS_OK, info[i].status);
		/* Each started after the one it waits for ended. */
		if (i)
			EXPECT_LE(info[i - 1].end_ns, info[i].start_ns);
		drmSyncobjDestroy(self->fd, s[i]);
	}
}

/*
 * Implicit ordering: two submits writing the same BO from two cores, no
 * syncobjs; the second waits for the first, so the final data is the
 * second job's.
 */
TEST_F(job, implicit_write_after_write)
{
	struct apu_conv a, b;
	struct drm_apu_job_bo bos[] = { { self->data.handle, DRM_APU_JOB_BO_WRITE } };
	int8_t ref[8 * 8 * 24];
	uint32_t s;

	apu_conv_setup(&a, &self->data, 8, 8, 16, 24, 3, 512 * 1024, 11);
	apu_op_conv(apu_cmd_header(self->cmd.cpu, 1), &a);
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 0, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(LAST), bos, 1, NULL, 0, 0, NULL, NULL));
	/* Same shapes, other data in another part of the BO, same output. */
	b = a;
	b.in_va += 256 * 1024;
	memcpy((uint8_t *)self->data.cpu + 256 * 1024, a.in, 8 * 8 * 16);
	for (int i = 0; i < 8 * 8 * 16; i++)
		((int8_t *)self->data.cpu)[256 * 1024 + i] ^= 0x55;
	apu_op_conv(apu_cmd_header((uint8_t *)self->cmd.cpu + 4096, 1), &b);
	ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &s));
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 4096, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(C(0)), bos, 1, NULL, 0, s, NULL, NULL));
	ASSERT_EQ(0, apu_sync_wait(self->fd, s, 20000));
	apu_ref_conv(&b.p, (int8_t *)self->data.cpu + 256 * 1024, b.w, b.bias, b.mult,
		     b.shift, ref);
	EXPECT_EQ(0, memcmp(ref, (uint8_t *)self->data.cpu + 512 * 1024, sizeof(ref)));
	drmSyncobjDestroy(self->fd, s);
}

/*
 * One submit of six jobs, one per core (C(i) on smaller layouts), each naming a BO X twice, written
 * then read ({X, WRITE}, {X, 0}; job 3 also names its command buffer's BO
 * again). A BO counts once per job: the job reserves one fence slot in X's
 * reservation and adds one fence. Added once per entry, a job's write and
 * read fences take two slots: X's first fence list has 5 (a 64-byte kmalloc
 * bucket), so the third job's second fence overflows it, a kernel BUG in
 * dma_resv_add_fence(). A second round starts X with a single read entry
 * (odd counts): whatever the list sizes, one of the two rounds reaches the
 * end of a list with one slot reserved and two fences to add. Every job
 * writes X, so each waits for the one before, and all end well.
 */
static void same_bo_twice_round(struct __test_metadata *_metadata, int fd,
				struct apu_buf *cmd, struct apu_buf *x, int odd)
{
	static int8_t ref[32 * 32 * 32];
	/* Names X once, read; writes its output into the command BO. */
	struct drm_apu_job_bo once[] = { { x->handle, 0 }, { cmd->handle, DRM_APU_JOB_BO_WRITE } };
	struct drm_apu_job_bo twice[] = {
		{ x->handle, DRM_APU_JOB_BO_WRITE },
		{ x->handle, 0 },
	};
	struct drm_apu_job_bo with_cmd[] = {
		{ x->handle, DRM_APU_JOB_BO_WRITE },
		{ cmd->handle, 0 },
		{ x->handle, 0 },
	};
	struct drm_apu_job jobs[SUBMIT_JOBS];
	struct drm_apu_submit sub = { .jobs = (uintptr_t)jobs, .num_jobs = SUBMIT_JOBS,
				      .job_size = sizeof(jobs[0]) };
	struct drm_apu_bo_wait w = { .handle = x->handle };
	struct drm_apu_job_info info[SUBMIT_JOBS];
	struct apu_conv a;
	uint32_t s;

	/* Jobs of some milliseconds: none ends before the submit returns. */
	apu_conv_setup(&a, x, 32, 32, 32, 32, 3, 512 * 1024, 13 + odd);
	apu_op_conv(apu_cmd_header(cmd->cpu, 1), &a);
	apu_ref_conv(&a.p, a.in, a.w, a.bias, a.mult, a.shift, ref);
	memset((uint8_t *)x->cpu + 512 * 1024, 0, sizeof(ref));
	a.out_va = cmd->va + 32 * 1024;
	apu_op_conv(apu_cmd_header((uint8_t *)cmd->cpu + 4096, 1), &a);
	ASSERT_EQ(0, drmSyncobjCreate(fd, 0, &s));
	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i < SUBMIT_JOBS; i++) {
		jobs[i].cmdbuf_handle = cmd->handle;
		jobs[i].cmdbuf_size = apu_cmd_size(1);
		jobs[i].target = DRM_APU_TARGET_CORE(C(i));
		jobs[i].priority = DRM_APU_JOB_PRIORITY_NORMAL;
		jobs[i].bos = (uintptr_t)twice;
		jobs[i].num_bos = 2;
	}
	if (odd) {
		jobs[0].cmdbuf_offset = 4096;
		jobs[0].bos = (uintptr_t)once;
		jobs[0].num_bos = 2;
	}
	jobs[3].bos = (uintptr_t)with_cmd;
	jobs[3].num_bos = 3;
	jobs[SUBMIT_JOBS - 1].out_syncobj = s;
	ASSERT_EQ(0, apu_ioctl(fd, DRM_IOCTL_APU_SUBMIT, &sub));
	ASSERT_EQ(0, apu_sync_wait(fd, s, 60000));
	for (int i = 0; i < SUBMIT_JOBS; i++) {
		ASSERT_EQ(0, apu_job_info(fd, jobs[i].job_id, &info[i]));
		EXPECT_EQ((uint32_t)DRM_APU_JOB_DONE, info[i].state) TH_LOG("job %d", i);
		EXPECT_EQ((uint32_t)DRM_APU_STATUS_OK, info[i].status) TH_LOG("job %d", i);
		EXPECT_EQ(C(i), info[i].core);
		if (i)
			EXPECT_LE(info[i - 1].end_ns, info[i].start_ns) TH_LOG("job %d", i);
	}
	EXPECT_EQ(0, memcmp(ref, (uint8_t *)x->cpu + 512 * 1024, sizeof(ref)));
	/* Every fence of X signalled: idle. */
	EXPECT_EQ(0, apu_ioctl(fd, DRM_IOCTL_APU_BO_WAIT, &w));
	drmSyncobjDestroy(fd, s);
}

TEST_F(job, same_bo_twice_in_each_job_of_a_submit)
{
	struct apu_buf x;

	same_bo_twice_round(_metadata, self->fd, &self->cmd, &self->data, 0);
	/* A fresh BO: no fence yet. */
	ASSERT_EQ(0, apu_buf_new(self->fd, 1024 * 1024, 0, &x));
	same_bo_twice_round(_metadata, self->fd, &self->cmd, &x, 1);
	apu_buf_free(self->fd, &x);
}

/*
 * A BO named read then written by one job counts as written: a later
 * reader waits for that job (read after write).
 */
TEST_F(job, same_bo_read_and_written_counts_as_written)
{
	struct drm_apu_job_bo rw[] = {
		{ self->data.handle, 0 },
		{ self->data.handle, DRM_APU_JOB_BO_WRITE },
	};
	struct apu_buf y;
	struct drm_apu_job_bo r[] = { { self->data.handle, 0 }, { 0, DRM_APU_JOB_BO_WRITE } };
	struct drm_apu_job_info ia, ib;
	struct apu_conv a, b;
	uint64_t ida, idb;
	uint32_t s;

	/* B reads the BO A writes, and writes only its own BO Y. */
	ASSERT_EQ(0, apu_buf_new(self->fd, 64 * 1024, 0, &y));
	r[1].handle = y.handle;

	/* A: a long job on the tiny core; B: a short one on a big core. */
	apu_conv_setup(&a, &self->data, 32, 32, 32, 32, 3, 512 * 1024, 17);
	apu_op_conv(apu_cmd_header(self->cmd.cpu, 1), &a);
	b = a;
	b.p.in_h = b.p.in_w = b.p.out_h = b.p.out_w = 2;
	b.out_va = y.va;
	apu_op_conv(apu_cmd_header((uint8_t *)self->cmd.cpu + 4096, 1), &b);
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 0, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(LAST), rw, 2, NULL, 0, 0, &ida, NULL));
	ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &s));
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 4096, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(C(0)), r, 2, NULL, 0, s, &idb, NULL));
	ASSERT_EQ(0, apu_sync_wait(self->fd, s, 60000));
	ASSERT_EQ(0, apu_job_info(self->fd, ida, &ia));
	ASSERT_EQ(0, apu_job_info(self->fd, idb, &ib));
	EXPECT_EQ((uint32_t)DRM_APU_STATUS_OK, ia.status);
	EXPECT_EQ((uint32_t)DRM_APU_STATUS_OK, ib.status);
	EXPECT_LE(ia.end_ns, ib.start_ns);
	drmSyncobjDestroy(self->fd, s);
	apu_buf_free(self->fd, &y);
}

TEST_F(job, bo_wait)
{
	struct apu_conv a;
	struct drm_apu_job_bo bos[] = { { self->data.handle, DRM_APU_JOB_BO_WRITE } };
	struct drm_apu_bo_wait w = { .handle = self->data.handle };
	int8_t ref[8 * 8 * 24];

	apu_conv_setup(&a, &self->data, 8, 8, 16, 24, 3, 512 * 1024, 5);
	apu_op_conv(apu_cmd_header(self->cmd.cpu, 1), &a);
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 0, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(C(2)), bos, 1, NULL, 0, 0, NULL, NULL));
	w.timeout_ns = apu_now_ns() + 20000000000ll;
	ASSERT_EQ(0, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_WAIT, &w));
	apu_ref_conv(&a.p, a.in, a.w, a.bias, a.mult, a.shift, ref);
	EXPECT_EQ(0, memcmp(ref, (uint8_t *)self->data.cpu + 512 * 1024, sizeof(ref)));
	/* Idle BO: a poll succeeds at once. */
	w.timeout_ns = 0;
	EXPECT_EQ(0, apu_ioctl(self->fd, DRM_IOCTL_APU_BO_WAIT, &w));
}

TEST_F(job, sync_file_export_and_import)
{
	struct apu_conv a;
	struct drm_apu_job_bo bos[] = { { self->data.handle, DRM_APU_JOB_BO_WRITE } };
	uint32_t s, s2;
	int sync_fd = -1;

	apu_conv_setup(&a, &self->data, 8, 8, 16, 24, 3, 512 * 1024, 9);
	apu_op_conv(apu_cmd_header(self->cmd.cpu, 1), &a);
	ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &s));
	ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &s2));
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 0, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(C(1)), bos, 1, NULL, 0, s, NULL, NULL));
	ASSERT_EQ(0, drmSyncobjExportSyncFile(self->fd, s, &sync_fd));
	ASSERT_LE(0, sync_fd);
	/* Another process imports it into its own file and waits for it. */
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = apu_open();
		uint32_t t;

		if (fd < 0 || drmSyncobjCreate(fd, 0, &t) ||
		    drmSyncobjImportSyncFile(fd, t, sync_fd) ||
		    apu_sync_wait(fd, t, 20000))
			_exit(1);
		_exit(0);
	}
	int status;

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* And the importing side of this process works too. */
	ASSERT_EQ(0, drmSyncobjImportSyncFile(self->fd, s2, sync_fd));
	ASSERT_EQ(0, apu_sync_wait(self->fd, s2, 20000));
	close(sync_fd);
	drmSyncobjDestroy(self->fd, s);
	drmSyncobjDestroy(self->fd, s2);
}

/*
 * fdinfo: the file's jobs on core 4 (little2 by default), its busy time
 * there, its memory.
 * Busy time is measured with the kernel's clock, which may tick coarsely
 * (a slow debug kernel's clocksource): jobs run until it moved, at most 50.
 */
TEST_F(job, fdinfo_busy_time_and_memory)
{
	char path[64], buf[4096], eng[16], busy_fmt[64], jobs_fmt[64];
	uint64_t busy = 0, mem = 0, jobs = 0;
	int runs = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", self->fd);
	engine_name(C(4), eng, sizeof(eng));
	snprintf(busy_fmt, sizeof(busy_fmt), "drm-engine-%s: %%" SCNu64, eng);
	snprintf(jobs_fmt, sizeof(jobs_fmt), "apu-jobs-%s: %%" SCNu64, eng);
	do {
		run_conv(_metadata, self->fd, &self->cmd, &self->data, DRM_APU_TARGET_CORE(C(4)), NULL);
		runs++;
		f = fopen(path, "r");
		ASSERT_NE(NULL, f);
		while (fgets(buf, sizeof(buf), f)) {
			sscanf(buf, busy_fmt, &busy);
			sscanf(buf, jobs_fmt, &jobs);
			sscanf(buf, "drm-total-memory: %" SCNu64, &mem);
		}
		fclose(f);
	} while (!busy && runs < 50);
	EXPECT_EQ((uint64_t)runs, jobs);
	EXPECT_LT(0, busy) TH_LOG("no busy time after %d jobs", runs);
	EXPECT_LT(0, mem);
}

/*
 * DRM_APU_JOB_BO_NO_WAIT: B writes part of X (named WRITE | NO_WAIT) while
 * A, a long job on another core, writes another part: B does not wait for
 * A. C names X WRITE and waits for both; X's reservation holds B's fence
 * too (BO_WAIT after B alone would wait). All outputs match the reference.
 */
TEST_F(job, no_wait_bo_skips_implicit_waits_but_fences_it)
{
	struct drm_apu_job_bo wr[] = { { self->data.handle, DRM_APU_JOB_BO_WRITE } };
	struct drm_apu_job_bo nw[] = {
		{ self->data.handle, DRM_APU_JOB_BO_WRITE | DRM_APU_JOB_BO_NO_WAIT }
	};
	static int8_t ref_a[32 * 32 * 32];
	int8_t ref_b[4 * 4 * 32];
	struct drm_apu_job_info ia, ib, ic;
	struct apu_conv a, b;
	uint64_t ida, idb, idc;
	uint32_t sb, sc;
	uint8_t *op;

	if (num_cores < 2)
		SKIP(return, "A and B need two cores");
	/* A: the same long convolution 24 times over. */
	apu_conv_setup(&a, &self->data, 32, 32, 32, 32, 3, 512 * 1024, 21);
	apu_ref_conv(&a.p, a.in, a.w, a.bias, a.mult, a.shift, ref_a);
	op = apu_cmd_header(self->cmd.cpu, 24);
	for (int i = 0; i < 24; i++)
		apu_op_conv(op + i * APU_OP_SIZE, &a);
	b = a;
	b.p.in_h = b.p.in_w = b.p.out_h = b.p.out_w = 4;
	b.out_va = self->data.va + 768 * 1024;
	apu_ref_conv(&b.p, b.in, b.w, b.bias, b.mult, b.shift, ref_b);
	apu_op_conv(apu_cmd_header((uint8_t *)self->cmd.cpu + 8192, 1), &b);

	ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &sb));
	ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &sc));
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 0, apu_cmd_size(24),
				 DRM_APU_TARGET_CORE(LAST), wr, 1, NULL, 0, 0, &ida, NULL));
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 8192, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(C(0)), nw, 1, NULL, 0, sb, &idb, NULL));
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 8192, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(C(1)), wr, 1, NULL, 0, sc, &idc, NULL));
	ASSERT_EQ(0, apu_sync_wait(self->fd, sb, 60000));
	ASSERT_EQ(0, apu_job_info(self->fd, ida, &ia));
	ASSERT_EQ(0, apu_job_info(self->fd, idb, &ib));
	EXPECT_EQ((uint32_t)DRM_APU_STATUS_OK, ib.status);
	/* B did not wait for A. */
	EXPECT_NE((uint32_t)DRM_APU_JOB_DONE, ia.state);
	ASSERT_EQ(0, apu_sync_wait(self->fd, sc, 60000));
	ASSERT_EQ(0, apu_job_info(self->fd, ida, &ia));
	ASSERT_EQ(0, apu_job_info(self->fd, idc, &ic));
	EXPECT_EQ((uint32_t)DRM_APU_STATUS_OK, ia.status);
	EXPECT_EQ((uint32_t)DRM_APU_STATUS_OK, ic.status);
	EXPECT_LE(ia.end_ns, ic.start_ns);
	EXPECT_LE(ib.end_ns, ic.start_ns);
	EXPECT_EQ(0, memcmp(ref_a, (uint8_t *)self->data.cpu + 512 * 1024, sizeof(ref_a)));
	EXPECT_EQ(0, memcmp(ref_b, (uint8_t *)self->data.cpu + 768 * 1024, sizeof(ref_b)));
	drmSyncobjDestroy(self->fd, sb);
	drmSyncobjDestroy(self->fd, sc);
}

TEST_F(job, many_jobs_all_cores)
{
	struct apu_conv a;
	/* The same output everywhere, NO_WAIT: the jobs do not wait for one another. */
	struct drm_apu_job_bo bos[] = {
		{ self->data.handle, 0 },
		{ self->cmd.handle, DRM_APU_JOB_BO_WRITE | DRM_APU_JOB_BO_NO_WAIT },
	};
	uint32_t s[8];
	uint64_t first = 0, last = 0, id;

	apu_conv_setup(&a, &self->data, 4, 4, 8, 8, 1, 512 * 1024, 3);
	a.out_va = self->cmd.va + 32 * 1024;
	apu_op_conv(apu_cmd_header(self->cmd.cpu, 1), &a);
	/* One syncobj per core: it ends up with the core's last job's fence. */
	for (int c = 0; c < num_cores; c++)
		ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &s[c]));
	for (int i = 0; i < 600; i++) {
		ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 0, apu_cmd_size(1),
					 DRM_APU_TARGET_CORE(i % num_cores), bos, 2,
					 NULL, 0, s[i % num_cores], &id, NULL));
		if (!first)
			first = id;
		last = id;
	}
	EXPECT_EQ(first + 599, last);
	/* A core ends its jobs in order: its last job's end is its queue's. */
	for (int c = 0; c < num_cores; c++)
		ASSERT_EQ(0, apu_sync_wait(self->fd, s[c], 60000));
	for (id = first; id <= last; id++) {
		struct drm_apu_job_info info;

		ASSERT_EQ(0, apu_job_info(self->fd, id, &info));
		ASSERT_EQ((uint32_t)DRM_APU_JOB_DONE, info.state)
			TH_LOG("job %llu", (unsigned long long)id);
		ASSERT_EQ((uint32_t)DRM_APU_STATUS_OK, info.status);
	}
	for (int c = 0; c < num_cores; c++)
		drmSyncobjDestroy(self->fd, s[c]);
}

/* Write @text to tracefs file @name. */
static int tracefs_write(const char *name, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/%s", name);
	return apu_write_file(path, text);
}

TEST_F(job, tracepoints)
{
	static char trace[1 << 16];
	char want[7][64], core_text[8];
	struct apu_conv bad;
	int k;
	struct drm_apu_job_bo bos[] = { { self->data.handle, DRM_APU_JOB_BO_WRITE } };
	uint32_t s;
	ssize_t n;
	int fd;

	ASSERT_EQ(0, tracefs_write("trace", ""));
	ASSERT_EQ(0, tracefs_write("events/apu/enable", "1"));
	run_conv(_metadata, self->fd, &self->cmd, &self->data, DRM_APU_TARGET_CORE(C(3)), NULL);
	/* A faulting job, and a core reset. */
	apu_conv_setup(&bad, &self->data, 4, 4, 8, 8, 1, 0, 1);
	bad.out_va = 0x10000000ull;
	apu_op_conv(apu_cmd_header(self->cmd.cpu, 1), &bad);
	ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &s));
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 0, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(C(4)), bos, 1, NULL, 0, s, NULL, NULL));
	ASSERT_EQ(0, apu_sync_wait(self->fd, s, 20000));
	drmSyncobjDestroy(self->fd, s);
	snprintf(core_text, sizeof(core_text), "%u", C(4));
	ASSERT_EQ(0, apu_debugfs_write("reset_core", core_text));
	ASSERT_EQ(0, tracefs_write("events/apu/enable", "0"));

	fd = open("/sys/kernel/debug/tracing/trace", O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, trace, sizeof(trace) - 1);
	close(fd);
	ASSERT_LT(0, n);
	trace[n] = 0;
	snprintf(want[0], sizeof(want[0]), "apu_job_submit: core=%u", C(3));
	snprintf(want[1], sizeof(want[1]), "apu_job_run: core=%u", C(3));
	snprintf(want[2], sizeof(want[2]), "apu_job_done: core=%u", C(3));
	snprintf(want[3], sizeof(want[3]), "status=0");
	snprintf(want[4], sizeof(want[4]), "apu_fault: core=%u addr=0x10000000", C(4));
	snprintf(want[5], sizeof(want[5]), "status=4");
	snprintf(want[6], sizeof(want[6]), "apu_core_reset: core=%u guilty_job=0", C(4));
	for (k = 0; k < 7; k++) {
		EXPECT_NE(NULL, strstr(trace, want[k])) TH_LOG("no \"%s\" in %s", want[k], trace);
	}
}

/* A wait with a timeout on a job that does not end in time: -ETIME. */
TEST_F(job, syncobj_wait_times_out)
{
	struct apu_conv a;
	struct drm_apu_job_bo bos[] = { { self->data.handle, DRM_APU_JOB_BO_WRITE } };
	char inject[16];
	uint32_t s;

	apu_conv_setup(&a, &self->data, 4, 4, 8, 8, 1, 512 * 1024, 2);
	apu_op_conv(apu_cmd_header(self->cmd.cpu, 1), &a);
	snprintf(inject, sizeof(inject), "%u hang", LAST);
	ASSERT_EQ(0, apu_debugfs_write("fault_inject", inject));
	ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &s));
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 0, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(LAST), bos, 1, NULL, 0, s, NULL, NULL));
	EXPECT_EQ(-ETIME, apu_sync_wait(self->fd, s, 200));
	/* The driver's timeout ends it. */
	EXPECT_EQ(0, apu_sync_wait(self->fd, s, 30000));
	drmSyncobjDestroy(self->fd, s);
}

static int job_wait(int fd, const uint64_t *ids, uint32_t n, int64_t timeout_ns,
		    struct drm_apu_job_wait *w)
{
	memset(w, 0, sizeof(*w));
	w->job_ids = (uintptr_t)ids;
	w->num_jobs = n;
	w->timeout_ns = timeout_ns;
	return apu_ioctl(fd, DRM_IOCTL_APU_JOB_WAIT, w);
}

/*
 * DRM_IOCTL_APU_JOB_WAIT: one call waits for several jobs and names the
 * first that failed, with the status JOB_INFO reports for it (a job failed
 * by fault injection: DRM_APU_STATUS_INJECTED, the UAPI's value 6).
 */
TEST_F(job, job_wait_reports_the_first_failure)
{
	struct drm_apu_job_bo bos[] = { { self->data.handle, DRM_APU_JOB_BO_WRITE } };
	struct drm_apu_job_info info;
	struct drm_apu_job_wait w;
	struct apu_conv a;
	char inject[16];
	uint64_t ids[3];

	apu_conv_setup(&a, &self->data, 4, 4, 8, 8, 1, 512 * 1024, 2);
	apu_op_conv(apu_cmd_header(self->cmd.cpu, 1), &a);
	/* ids[1] fails (the next job of core LAST); ids[0] and ids[2] do not. */
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 0, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(0), bos, 1, NULL, 0, 0, &ids[0], NULL));
	ASSERT_EQ(0, job_wait(self->fd, ids, 1, apu_now_ns() + 20000000000ll, &w));
	EXPECT_EQ(0u, w.failed);
	EXPECT_EQ((uint32_t)DRM_APU_STATUS_OK, w.status);
	snprintf(inject, sizeof(inject), "%u fail_job", LAST);
	ASSERT_EQ(0, apu_debugfs_write("fault_inject", inject));
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 0, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(LAST), bos, 1, NULL, 0, 0, &ids[1], NULL));
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 0, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(0), bos, 1, NULL, 0, 0, &ids[2], NULL));
	ASSERT_EQ(0, job_wait(self->fd, ids, 3, apu_now_ns() + 20000000000ll, &w));
	EXPECT_EQ(1u, w.failed);
	EXPECT_EQ(1u, w.first_failed);
	EXPECT_EQ(6u, w.status);
	/* Every job has ended: their records say the same. */
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, apu_job_info(self->fd, ids[i], &info));
		EXPECT_EQ((uint32_t)DRM_APU_JOB_DONE, info.state);
		EXPECT_EQ(i == 1 ? 6u : 0u, info.status);
	}
	/* Waiting again for ended jobs answers at once, even with no time left. */
	ASSERT_EQ(0, job_wait(self->fd, ids + 1, 2, 0, &w));
	EXPECT_EQ(1u, w.failed);
	EXPECT_EQ(0u, w.first_failed);
}

/* A job that does not end: -ETIME; after the driver's timeout, TIMEOUT. */
TEST_F(job, job_wait_times_out_then_reports_the_timeout)
{
	struct drm_apu_job_bo bos[] = { { self->data.handle, DRM_APU_JOB_BO_WRITE } };
	struct drm_apu_job_wait w;
	struct apu_conv a;
	char inject[16];
	uint64_t id;

	apu_conv_setup(&a, &self->data, 4, 4, 8, 8, 1, 512 * 1024, 2);
	apu_op_conv(apu_cmd_header(self->cmd.cpu, 1), &a);
	snprintf(inject, sizeof(inject), "%u hang", LAST);
	ASSERT_EQ(0, apu_debugfs_write("fault_inject", inject));
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 0, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(LAST), bos, 1, NULL, 0, 0, &id, NULL));
	EXPECT_EQ(-ETIME, job_wait(self->fd, &id, 1, 0, &w));
	EXPECT_EQ(-ETIME, job_wait(self->fd, &id, 1, apu_now_ns() + 200000000, &w));
	ASSERT_EQ(0, job_wait(self->fd, &id, 1, apu_now_ns() + 30000000000ll, &w));
	EXPECT_EQ(1u, w.failed);
	EXPECT_EQ((uint32_t)DRM_APU_STATUS_TIMEOUT, w.status);
}

/* JOB_WAIT's refusals, as the UAPI documents them. */
TEST_F(job, job_wait_refuses_bad_arguments)
{
	struct drm_apu_job_wait w;
	uint64_t ids[2] = { 0, 1ull << 40 };

	EXPECT_EQ(-ENOENT, job_wait(self->fd, ids, 1, 0, &w));	/* id 0 */
	EXPECT_EQ(-ENOENT, job_wait(self->fd, ids + 1, 1, 0, &w));	/* never submitted */
	EXPECT_EQ(-EINVAL, job_wait(self->fd, ids, 0, 0, &w));
	EXPECT_EQ(-EINVAL, job_wait(self->fd, ids, DRM_APU_MAX_WAIT_JOBS + 1, 0, &w));
	EXPECT_EQ(-EFAULT, job_wait(self->fd, (const uint64_t *)8, 1, 0, &w));
	memset(&w, 0, sizeof(w));
	w.job_ids = (uintptr_t)ids;
	w.num_jobs = 1;
	w.flags = 1;
	EXPECT_EQ(-EINVAL, apu_ioctl(self->fd, DRM_IOCTL_APU_JOB_WAIT, &w));
	w.flags = 0;
	w.pad = 1;
	EXPECT_EQ(-EINVAL, apu_ioctl(self->fd, DRM_IOCTL_APU_JOB_WAIT, &w));
}

TEST_HARNESS_MAIN
