// SPDX-License-Identifier: MIT
/*
 * Guest tests of faults and recovery: device MMU faults (unmapped and
 * read-only), bad command buffers, and every fault injection of the
 * device (fail_job, mmu_fault, hang, drop_irq). The guilty job fails with
 * the right status and fence error, jobs on other cores and innocent jobs
 * behind it complete, and the core works afterwards. Repeated faults ban
 * a process.
 *
 * Needs debugfs; the driver's job timeout is its default (2 s). Written for
 * the default layout (2 big, 3 little, 1 tiny cores) and run on others too:
 * core k of a test is core k modulo the device's cores (C(k)), and a test
 * that needs two cores skips on a one-core device.
 */
#include <linux/sync_file.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "apu_guest.h"

/* The device's cores, and core k of the default layout on this one. */
static int num_cores;
static uint32_t core_cls[8];
#define C(k) ((uint32_t)(k) % (uint32_t)num_cores)
#define LAST ((uint32_t)num_cores - 1)

/* Arm a fault of the device's fault_inject file on @core. */
static int inject(uint32_t core, const char *fault)
{
	char arm[32];

	snprintf(arm, sizeof(arm), "%u %s", core, fault);
	return apu_debugfs_write("fault_inject", arm);
}

FIXTURE(rec)
{
	int fd;
	struct apu_buf cmd, data;
	struct apu_conv c;
	int8_t ref[8 * 8 * 24];
};

#define OUT_OFF (512 * 1024)

FIXTURE_SETUP(rec)
{
	self->fd = apu_open();
	ASSERT_LE(0, self->fd);
	num_cores = apu_core_classes(self->fd, core_cls);
	ASSERT_LT(0, num_cores);
	ASSERT_EQ(0, apu_buf_new(self->fd, 64 * 1024, 0, &self->cmd));
	ASSERT_EQ(0, apu_buf_new(self->fd, 1024 * 1024, 0, &self->data));
	apu_conv_setup(&self->c, &self->data, 8, 8, 16, 24, 3, OUT_OFF, 1);
	apu_ref_conv(&self->c.p, self->c.in, self->c.w, self->c.bias, self->c.mult,
		     self->c.shift, self->ref);
	/* A good job at offset 0 of the command BO. */
	apu_op_conv(apu_cmd_header(self->cmd.cpu, 1), &self->c);
}

FIXTURE_TEARDOWN(rec)
{
	apu_buf_free(self->fd, &self->data);
	apu_buf_free(self->fd, &self->cmd);
	close(self->fd);
}

/* Submit the command buffer at @off on @core; returns the job id. */
static uint64_t submit(struct __test_metadata *_metadata, int fd, struct apu_buf *cmd,
		       struct apu_buf *data, uint32_t off, uint32_t core, uint32_t *syncobj)
{
	struct drm_apu_job_bo bos[] = { { data->handle, DRM_APU_JOB_BO_WRITE } };
	uint64_t id = 0;

	if (syncobj)
		EXPECT_EQ(0, drmSyncobjCreate(fd, 0, syncobj));
	EXPECT_EQ(0, apu_submit1(fd, cmd->handle, off, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(core), bos, 1, NULL, 0,
				 syncobj ? *syncobj : 0, &id, NULL));
	return id;
}

/* The error of a signalled syncobj's fence (0, or a negative errno). */
static int fence_error(int fd, uint32_t syncobj)
{
	struct sync_file_info info = { 0 };
	struct sync_fence_info fi = { 0 };
	int sync_fd, ret;

	if (drmSyncobjExportSyncFile(fd, syncobj, &sync_fd))
		return 1;
	info.num_fences = 1;
	info.sync_fence_info = (uintptr_t)&fi;
	ret = ioctl(sync_fd, SYNC_IOC_FILE_INFO, &info);
	close(sync_fd);
	if (ret)
		return 2;
	return fi.status < 0 ? fi.status : 0;
}

static void expect_ok(struct __test_metadata *_metadata, struct _test_data_rec *self,
		      uint32_t core)
{
	struct drm_apu_job_info info;
	uint32_t s;
	uint64_t id;

	memset((uint8_t *)self->data.cpu + OUT_OFF, 0, sizeof(self->ref));
	id = submit(_metadata, self->fd, &self->cmd, &self->data, 0, core, &s);
	ASSERT_EQ(0, apu_sync_wait(self->fd, s, 30000));
	ASSERT_EQ(0, apu_job_info(self->fd, id, &info));
	EXPECT_EQ(DRM_APU_STATUS_OK, info.status) TH_LOG("core %u", core);
	EXPECT_EQ(0, fence_error(self->fd, s));
	EXPECT_EQ(0, memcmp(self->ref, (uint8_t *)self->data.cpu + OUT_OFF, sizeof(self->ref)));
	drmSyncobjDestroy(self->fd, s);
}

/* Run the op at @off on @core and check how it fails. */
static void expect_fail(struct __test_metadata *_metadata, struct _test_data_rec *self,
			uint32_t off, uint32_t core, uint32_t status, int error,
			struct drm_apu_job_info *info)
{
	uint32_t s;
	uint64_t id = submit(_metadata, self->fd, &self->cmd, &self->data, off, core, &s);

	ASSERT_EQ(0, apu_sync_wait(self->fd, s, 30000));
	ASSERT_EQ(0, apu_job_info(self->fd, id, info));
	EXPECT_EQ(DRM_APU_JOB_DONE, info->state);
	EXPECT_EQ(status, info->status);
	EXPECT_EQ(error, fence_error(self->fd, s));
	drmSyncobjDestroy(self->fd, s);
}

TEST_F(rec, mmu_fault_unmapped_write)
{
	struct apu_conv bad = self->c;
	struct drm_apu_job_info info;

	/* Just past the data BO: its guard page. */
	bad.out_va = self->data.va + self->data.size;
	apu_op_conv(apu_cmd_header((uint8_t *)self->cmd.cpu + 4096, 1), &bad);
	expect_fail(_metadata, self, 4096, C(0), DRM_APU_STATUS_MMU_FAULT, -EFAULT, &info);
	EXPECT_EQ(self->data.va + self->data.size, info.fault_addr);
	EXPECT_EQ(APU_FAULT_WRITE | APU_FAULT_NOT_PRESENT, info.fault_flags);
	EXPECT_EQ(0, info.op_index);
	expect_ok(_metadata, self, C(0));
}

TEST_F(rec, mmu_fault_read_only_buffer)
{
	struct apu_buf ro;
	struct apu_conv bad = self->c;
	struct drm_apu_job_info info;

	ASSERT_EQ(0, apu_buf_new(self->fd, 64 * 1024, DRM_APU_BO_DEVICE_READ_ONLY, &ro));
	memset(ro.cpu, 0x3c, ro.size);
	bad.out_va = ro.va;
	apu_op_conv(apu_cmd_header((uint8_t *)self->cmd.cpu + 4096, 1), &bad);
	expect_fail(_metadata, self, 4096, C(2), DRM_APU_STATUS_MMU_FAULT, -EFAULT, &info);
	EXPECT_EQ(ro.va, info.fault_addr);
	EXPECT_EQ(APU_FAULT_WRITE | APU_FAULT_READ_ONLY, info.fault_flags);
	for (uint64_t i = 0; i < ro.size; i++)
		ASSERT_EQ(0x3c, ((uint8_t *)ro.cpu)[i]) TH_LOG("read-only data changed");
	/* Reading from it is fine. */
	bad = self->c;
	bad.in_va = ro.va;
	apu_op_conv(apu_cmd_header((uint8_t *)self->cmd.cpu + 8192, 1), &bad);
	expect_fail(_metadata, self, 8192, C(2), DRM_APU_STATUS_OK, 0, &info);
	apu_buf_free(self->fd, &ro);
}

/*
 * Job BO flags are enforced by the device (DRM_APU_CAP_WRITE_LIST): a
 * writable BO the job names without DRM_APU_JOB_BO_WRITE, or does not name
 * at all, cannot be written by it (an MMU fault, not listed, at the BO, its
 * data unchanged); named WRITE, the same BO is written.
 */
TEST_F(rec, job_writes_only_bos_named_written)
{
	struct drm_apu_job_bo named_read[] = { { self->data.handle, DRM_APU_JOB_BO_WRITE },
					       { 0, 0 } };
	struct drm_apu_job_bo named_write[] = { { self->data.handle, DRM_APU_JOB_BO_WRITE },
						{ 0, DRM_APU_JOB_BO_WRITE } };
	struct drm_apu_query_device d;
	struct drm_apu_job_info info;
	struct apu_conv out = self->c;
	struct apu_buf y;
	uint64_t id;
	uint32_t s;

	ASSERT_EQ(0, apu_query_device(self->fd, &d));
	ASSERT_TRUE(d.caps & DRM_APU_CAP_WRITE_LIST);
	ASSERT_EQ(0, apu_buf_new(self->fd, 64 * 1024, 0, &y));
	memset(y.cpu, 0x3c, y.size);
	out.out_va = y.va + 4096;
	apu_op_conv(apu_cmd_header((uint8_t *)self->cmd.cpu + 4096, 1), &out);
	named_read[1].handle = y.handle;
	named_write[1].handle = y.handle;
	ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &s));

	for (int named = 0; named < 2; named++) {
		ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 4096, apu_cmd_size(1),
					 DRM_APU_TARGET_CORE(C(3)), named_read, 1 + named, NULL, 0, s,
					 &id, NULL));
		ASSERT_EQ(0, apu_sync_wait(self->fd, s, 30000));
		ASSERT_EQ(0, apu_job_info(self->fd, id, &info));
		EXPECT_EQ(DRM_APU_STATUS_MMU_FAULT, info.status);
		EXPECT_EQ(y.va + 4096, info.fault_addr);
		EXPECT_EQ(APU_FAULT_WRITE | APU_FAULT_NOT_LISTED, info.fault_flags);
		EXPECT_EQ(-EFAULT, fence_error(self->fd, s));
		for (uint64_t i = 0; i < y.size; i++)
			ASSERT_EQ(0x3c, ((uint8_t *)y.cpu)[i]);
	}
	ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 4096, apu_cmd_size(1),
				 DRM_APU_TARGET_CORE(C(3)), named_write, 2, NULL, 0, s, &id, NULL));
	ASSERT_EQ(0, apu_sync_wait(self->fd, s, 30000));
	ASSERT_EQ(0, apu_job_info(self->fd, id, &info));
	EXPECT_EQ(DRM_APU_STATUS_OK, info.status);
	EXPECT_EQ(0, memcmp(self->ref, (uint8_t *)y.cpu + 4096, sizeof(self->ref)));
	drmSyncobjDestroy(self->fd, s);
	apu_buf_free(self->fd, &y);
}

TEST_F(rec, bad_command_buffers)
{
	uint8_t *p = (uint8_t *)self->cmd.cpu + 4096;
	struct drm_apu_job_info info;
	struct apu_conv bad = self->c;

	/* Bad magic. */
	apu_op_conv(apu_cmd_header(p, 1), &self->c);
	((struct apu_cmd_header *)p)->magic = 0x12345678;
	expect_fail(_metadata, self, 4096, C(1), DRM_APU_STATUS_BAD_CMDBUF, -EINVAL, &info);
	/* Unknown opcode. */
	apu_op_conv(apu_cmd_header(p, 1), &self->c);
	((struct apu_op_conv2d *)(p + sizeof(struct apu_cmd_header)))->opcode = 99;
	expect_fail(_metadata, self, 4096, C(1), DRM_APU_STATUS_BAD_OP, -EINVAL, &info);
	/* Impossible shape. */
	bad.p.groups = 5;	/* 16 input channels do not split in 5 */
	apu_op_conv(apu_cmd_header(p, 1), &bad);
	expect_fail(_metadata, self, 4096, C(1), DRM_APU_STATUS_BAD_PARAMS, -EINVAL, &info);
	/* More ops than the buffer holds. */
	apu_op_conv(apu_cmd_header(p, 1), &self->c);
	((struct apu_cmd_header *)p)->num_ops = 2;
	expect_fail(_metadata, self, 4096, C(1), DRM_APU_STATUS_BAD_CMDBUF, -EINVAL, &info);
	expect_ok(_metadata, self, C(1));
}

TEST_F(rec, injected_job_failure)
{
	struct drm_apu_job_info info;

	ASSERT_EQ(0, inject(C(3), "fail_job"));
	expect_fail(_metadata, self, 0, C(3), DRM_APU_STATUS_INJECTED, -EIO, &info);
	expect_ok(_metadata, self, C(3));
}

TEST_F(rec, injected_mmu_fault)
{
	struct drm_apu_job_info info;

	ASSERT_EQ(0, inject(C(4), "mmu_fault"));
	expect_fail(_metadata, self, 0, C(4), DRM_APU_STATUS_MMU_FAULT, -EFAULT, &info);
	EXPECT_TRUE(info.fault_flags & APU_FAULT_INJECTED);
	EXPECT_EQ(self->cmd.va, info.fault_addr);
	expect_ok(_metadata, self, C(4));
}

/*
 * A hung core: its job fails with TIMEOUT after the driver's timeout; a
 * job queued behind it on the same core, and a job on another core
 * submitted later, complete correctly; the core works afterwards.
 */
TEST_F(rec, hang_reset_and_recovery)
{
	struct drm_apu_job_info hung, behind, other;
	uint32_t s_hung, s_behind, s_other;
	uint64_t id_hung, id_behind, id_other;
	struct apu_buf data2, data3;
	struct apu_conv c2, c3;
	int8_t ref2[sizeof(self->ref)], ref3[sizeof(self->ref)];
	char buf[4096], core1[8];

	if (num_cores < 2)
		SKIP(return, "a job on another core needs two cores");
	/* The innocent jobs write their own BOs: no implicit wait on the hung one. */
	ASSERT_EQ(0, apu_buf_new(self->fd, 1024 * 1024, 0, &data2));
	ASSERT_EQ(0, apu_buf_new(self->fd, 1024 * 1024, 0, &data3));
	apu_conv_setup(&c2, &data2, 8, 8, 16, 24, 3, OUT_OFF, 2);
	apu_ref_conv(&c2.p, c2.in, c2.w, c2.bias, c2.mult, c2.shift, ref2);
	apu_op_conv(apu_cmd_header((uint8_t *)self->cmd.cpu + 4096, 1), &c2);
	apu_conv_setup(&c3, &data3, 8, 8, 16, 24, 3, OUT_OFF, 3);
	apu_ref_conv(&c3.p, c3.in, c3.w, c3.bias, c3.mult, c3.shift, ref3);
	apu_op_conv(apu_cmd_header((uint8_t *)self->cmd.cpu + 8192, 1), &c3);

	ASSERT_EQ(0, inject(1, "hang"));
	id_hung = submit(_metadata, self->fd, &self->cmd, &self->data, 0, 1, &s_hung);
	id_behind = submit(_metadata, self->fd, &self->cmd, &data2, 4096, 1, &s_behind);
	id_other = submit(_metadata, self->fd, &self->cmd, &data3, 8192, 0, &s_other);

	ASSERT_EQ(0, apu_sync_wait(self->fd, s_other, 30000));
	ASSERT_EQ(0, apu_job_info(self->fd, id_hung, &hung));
	/* The other core did not wait for the hung one. */
	EXPECT_NE(DRM_APU_JOB_DONE, hung.state);

	ASSERT_EQ(0, apu_sync_wait(self->fd, s_behind, 30000));
	ASSERT_EQ(0, apu_job_info(self->fd, id_hung, &hung));
	ASSERT_EQ(0, apu_job_info(self->fd, id_behind, &behind));
	ASSERT_EQ(0, apu_job_info(self->fd, id_other, &other));
	EXPECT_EQ(DRM_APU_STATUS_TIMEOUT, hung.status);
	EXPECT_EQ(-ETIMEDOUT, fence_error(self->fd, s_hung));
	EXPECT_EQ(DRM_APU_STATUS_OK, behind.status);
	EXPECT_EQ(0, fence_error(self->fd, s_behind));
	EXPECT_EQ(DRM_APU_STATUS_OK, other.status);
	EXPECT_LT(other.end_ns, hung.end_ns);
	EXPECT_LE(1500000000ull, hung.end_ns - hung.start_ns);
	EXPECT_EQ(0, memcmp(ref2, (uint8_t *)data2.cpu + OUT_OFF, sizeof(ref2)));
	EXPECT_EQ(0, memcmp(ref3, (uint8_t *)data3.cpu + OUT_OFF, sizeof(ref3)));

	/* Reported in the fault log and the core's reset count. */
	ASSERT_EQ(0, apu_debugfs_read("faults", buf, sizeof(buf)));
	snprintf(core1, sizeof(core1), " %u ", 1u);
	EXPECT_NE(NULL, strstr(buf, core1)) TH_LOG("%s", buf);
	expect_ok(_metadata, self, 1);
	drmSyncobjDestroy(self->fd, s_hung);
	drmSyncobjDestroy(self->fd, s_behind);
	drmSyncobjDestroy(self->fd, s_other);
	apu_buf_free(self->fd, &data2);
	apu_buf_free(self->fd, &data3);
}

/*
 * A hung core of each class (the first of each: big 0, little 2, tiny 5
 * by default): the same recovery; the reset core and one of another
 * class (or the same, on a one-core device) work afterwards.
 */
TEST_F(rec, hang_each_class)
{
	struct drm_apu_job_info info;
	uint32_t cores[3], n = 0;

	for (uint32_t cls = 0; cls < 3; cls++)
		for (uint32_t i = 0; i < (uint32_t)num_cores; i++)
			if (core_cls[i] == cls) {
				cores[n++] = i;
				break;
			}
	ASSERT_LT(0u, n);
	for (uint32_t i = 0; i < n; i++) {
		ASSERT_EQ(0, inject(cores[i], "hang"));
		expect_fail(_metadata, self, 0, cores[i], DRM_APU_STATUS_TIMEOUT, -ETIMEDOUT, &info);
		expect_ok(_metadata, self, cores[i]);
		expect_ok(_metadata, self, cores[(i + 1) % n]);
	}
}

/*
 * A lost interrupt is not a hang. The device completes the job but its
 * interrupt is dropped: the device's job count rises and the fault is
 * consumed while the driver still holds the job in flight, not done. The
 * driver finds it at its job timeout (job_timeout_ms), not earlier and
 * without a second timeout: the job ends OK (fence without error, its op
 * run, the output right), at or after the timeout after it started, and
 * the core is not reset.
 */
TEST_F(rec, lost_interrupt_job_ends_ok_at_the_timeout)
{
	/* The timeout's delayed work may fire up to a jiffy (HZ >= 100) early. */
	const int64_t jiffy_ns = 10000000;
	struct drm_apu_job_info info;
	long long timeout_ms, jobs, resets;
	int64_t t0, timeout_ns;
	char buf[512], armed[32];
	uint32_t s;
	uint64_t id;

	timeout_ms = apu_module_param("job_timeout_ms");
	ASSERT_LT(0, timeout_ms);
	timeout_ns = timeout_ms * 1000000;
	jobs = apu_core_counter(LAST, APU_CORES_JOBS);
	resets = apu_core_counter(LAST, APU_CORES_RESETS);
	ASSERT_LE(0, jobs);
	ASSERT_LE(0, resets);

	ASSERT_EQ(0, inject(LAST, "drop_irq"));
	ASSERT_EQ(0, apu_debugfs_read("fault_inject", buf, sizeof(buf)));
	snprintf(armed, sizeof(armed), "%u drop_irq\n", LAST);
	ASSERT_NE(NULL, strstr(buf, armed)) TH_LOG("armed: %s", buf);

	memset((uint8_t *)self->data.cpu + OUT_OFF, 0, sizeof(self->ref));
	t0 = apu_now_ns();
	id = submit(_metadata, self->fd, &self->cmd, &self->data, 0, LAST, &s);

	/* The device completes the job: its job count rises. */
	while (apu_core_counter(LAST, APU_CORES_JOBS) == jobs &&
	       apu_now_ns() - t0 < timeout_ns / 2)
		usleep(5000);
	ASSERT_EQ(jobs + 1, apu_core_counter(LAST, APU_CORES_JOBS))
		TH_LOG("the device did not complete the job in %lld ms", timeout_ms / 2);
	/* Its interrupt was dropped: the driver has not seen the end. */
	ASSERT_EQ(0, apu_job_info(self->fd, id, &info));
	EXPECT_NE(DRM_APU_JOB_DONE, info.state) TH_LOG("the job ended without its interrupt");
	EXPECT_EQ(1, apu_core_counter(LAST, APU_CORES_INFLIGHT));
	EXPECT_EQ(-ETIME, apu_sync_wait(self->fd, s, 0));
	ASSERT_EQ(0, apu_debugfs_read("fault_inject", buf, sizeof(buf)));
	EXPECT_EQ(NULL, strstr(buf, armed)) TH_LOG("not consumed: %s", buf);
	/* All of that before the timeout could have ended the job. */
	ASSERT_GT(timeout_ns - jiffy_ns, apu_now_ns() - t0);

	ASSERT_EQ(0, apu_sync_wait(self->fd, s, 30000));
	ASSERT_EQ(0, apu_job_info(self->fd, id, &info));
	EXPECT_EQ(DRM_APU_JOB_DONE, info.state);
	EXPECT_EQ(DRM_APU_STATUS_OK, info.status);
	EXPECT_EQ(0, fence_error(self->fd, s));
	EXPECT_EQ(1u, info.op_index);	/* the device's completion record */
	EXPECT_LT(0u, info.cycles);
	EXPECT_EQ(0, memcmp(self->ref, (uint8_t *)self->data.cpu + OUT_OFF, sizeof(self->ref)));
	EXPECT_LE((uint64_t)t0, info.queue_ns);
	EXPECT_LE(info.queue_ns, info.start_ns);
	EXPECT_LE(timeout_ns - jiffy_ns, (int64_t)(info.end_ns - info.start_ns))
		TH_LOG("ended %lld ms after it started, before the %lld ms timeout",
		       (long long)(info.end_ns - info.start_ns) / 1000000, timeout_ms);
	EXPECT_GT(2 * timeout_ns, (int64_t)(info.end_ns - info.start_ns))
		TH_LOG("ended %lld ms after it started, not at the first timeout",
		       (long long)(info.end_ns - info.start_ns) / 1000000);
	/* Retired, not reset as a hung core. */
	EXPECT_EQ(resets, apu_core_counter(LAST, APU_CORES_RESETS));
	EXPECT_EQ(0, apu_core_counter(LAST, APU_CORES_INFLIGHT));
	drmSyncobjDestroy(self->fd, s);
	expect_ok(_metadata, self, LAST);
}

/* A core reset from debugfs while jobs queue: nothing is lost. */
TEST_F(rec, reset_core_under_load)
{
	/* Outputs in the command BO, the same each time: no waits. */
	struct drm_apu_job_bo bos[] = {
		{ self->data.handle, 0 },
		{ self->cmd.handle, DRM_APU_JOB_BO_WRITE | DRM_APU_JOB_BO_NO_WAIT },
	};
	uint64_t first = 0, id = 0;
	uint32_t s;

	apu_conv_setup(&self->c, &self->data, 4, 4, 8, 8, 1, 0, 3);
	self->c.out_va = self->cmd.va + 32 * 1024;
	apu_op_conv(apu_cmd_header((uint8_t *)self->cmd.cpu + 4096, 1), &self->c);
	ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &s));
	for (int i = 0; i < 100; i++) {
		ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 4096, apu_cmd_size(1),
					 DRM_APU_TARGET_CORE(C(2)), bos, 2, NULL, 0, s, &id, NULL));
		if (!first)
			first = id;
		if (i == 50) {
			char core[8];

			snprintf(core, sizeof(core), "%u", C(2));
			ASSERT_EQ(0, apu_debugfs_write("reset_core", core));
		}
	}
	ASSERT_EQ(0, apu_sync_wait(self->fd, s, 30000));
	for (uint64_t j = first; j <= id; j++) {
		struct drm_apu_job_info info;

		ASSERT_EQ(0, apu_job_info(self->fd, j, &info));
		ASSERT_EQ(DRM_APU_STATUS_OK, info.status) TH_LOG("job %llu", (unsigned long long)j);
	}
	drmSyncobjDestroy(self->fd, s);
}

/* A child process: can it run a small job on a file of its own? 0 if so. */
static int child_runs_job(void)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = apu_open();

		_exit(fd < 0 ? 10 : apu_run_small(fd, 0, 0, NULL) ? 11 : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/*
 * After ban_limit (8) faults the process may not submit, on any of its
 * files, old or new (reopening does not lift a ban); other processes may;
 * the ban ends after ban_ms (lowered to 3 s here).
 */
TEST_F(rec, ban_covers_every_file_of_the_process)
{
	struct apu_conv bad = self->c;
	struct drm_apu_job_bo bos[] = { { self->data.handle, DRM_APU_JOB_BO_WRITE } };
	const char *ban_ms = "/sys/module/apu/parameters/ban_ms";
	char old_ms[32] = "60000";
	struct apu_buf c2, d2;
	struct apu_conv conv;
	uint32_t s;
	int fd2, pfd;

	pfd = open(ban_ms, O_RDONLY);
	ASSERT_LE(0, pfd);
	ASSERT_LT(0, read(pfd, old_ms, sizeof(old_ms) - 1));
	close(pfd);
	ASSERT_EQ(0, apu_write_file(ban_ms, "3000"));

	/* A second file, opened before the faults. */
	fd2 = apu_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, apu_buf_new(fd2, 64 * 1024, 0, &c2));
	ASSERT_EQ(0, apu_buf_new(fd2, 1024 * 1024, 0, &d2));
	apu_conv_setup(&conv, &d2, 8, 8, 16, 24, 3, OUT_OFF, 1);
	apu_op_conv(apu_cmd_header(c2.cpu, 1), &conv);

	bad.out_va = 0x4000000000ull - 4096;	/* nothing mapped there */
	apu_op_conv(apu_cmd_header((uint8_t *)self->cmd.cpu + 4096, 1), &bad);
	ASSERT_EQ(0, drmSyncobjCreate(self->fd, 0, &s));
	for (int i = 0; i < 8; i++) {
		ASSERT_EQ(0, apu_submit1(self->fd, self->cmd.handle, 4096, apu_cmd_size(1),
					 DRM_APU_TARGET_CORE(i % num_cores), bos, 1, NULL, 0, s,
					 NULL, NULL));
		ASSERT_EQ(0, apu_sync_wait(self->fd, s, 30000));
	}
	EXPECT_EQ(-EIO, apu_submit1(self->fd, self->cmd.handle, 0, apu_cmd_size(1),
				    DRM_APU_TARGET_CORE(C(0)), bos, 1, NULL, 0, 0, NULL, NULL));
	drmSyncobjDestroy(self->fd, s);

	/* The process's other file, and a file it opens now: banned too. */
	bos[0].handle = d2.handle;
	EXPECT_EQ(-EIO, apu_submit1(fd2, c2.handle, 0, apu_cmd_size(1), DRM_APU_TARGET_CORE(C(0)),
				    bos, 1, NULL, 0, 0, NULL, NULL));
	{
		int fd3 = apu_open();

		ASSERT_LE(0, fd3);
		EXPECT_EQ(-EIO, apu_run_small(fd3, 0, 0, NULL));
		close(fd3);
	}
	/* Another process works. */
	EXPECT_EQ(0, child_runs_job());

	/* The ban ends. */
	usleep(3200 * 1000);
	ASSERT_EQ(0, drmSyncobjCreate(fd2, 0, &s));
	ASSERT_EQ(0, apu_submit1(fd2, c2.handle, 0, apu_cmd_size(1), DRM_APU_TARGET_CORE(C(0)),
				 bos, 1, NULL, 0, s, NULL, NULL));
	ASSERT_EQ(0, apu_sync_wait(fd2, s, 30000));
	EXPECT_EQ(0, fence_error(fd2, s));
	EXPECT_EQ(0, memcmp(self->ref, (uint8_t *)d2.cpu + OUT_OFF, sizeof(self->ref)));
	drmSyncobjDestroy(fd2, s);
	apu_buf_free(fd2, &c2);
	apu_buf_free(fd2, &d2);
	close(fd2);
	EXPECT_EQ(0, apu_write_file(ban_ms, old_ms));
}

TEST_HARNESS_MAIN
