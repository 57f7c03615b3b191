// SPDX-License-Identifier: MIT
/*
 * Guest tests of buffer lifetime against jobs on the device: a BO whose
 * handle is closed while a job that names it waits stays mapped for that
 * job, and a BO of the same address space that no job names keeps its
 * pages while the address space has jobs on the device (they may reach
 * it: a job can address any buffer of its file).
 *
 * A job is kept on the device with the "hang" fault injection: the core
 * takes it and never finishes; the driver resets the core after its job
 * timeout (2 s) and runs the jobs behind it. Needs debugfs.
 */
#include "kselftest_harness.h"
#include "apu_guest.h"

#define OUT_OFF (512 * 1024)

static int job_state(int fd, uint64_t id)
{
	struct drm_apu_job_info i;

	return apu_job_info(fd, id, &i) ? -1 : (int)i.state;
}

/*
 * Job J writes BO X and is queued behind a hung job on core 1; X's
 * handle is closed (its CPU mapping kept) before J runs. J still runs
 * with X mapped: it ends OK and its output in X matches the reference.
 */
TEST(closed_bo_stays_mapped_for_the_job_that_names_it)
{
	struct apu_buf cmd, hang_data, x;
	struct apu_conv hc, c;
	struct drm_apu_job_bo hbos[] = { { 0, DRM_APU_JOB_BO_WRITE } };
	struct drm_apu_job_bo bos[] = { { 0, DRM_APU_JOB_BO_WRITE } };
	struct drm_apu_job_info info;
	int8_t ref[8 * 8 * 24];
	uint64_t hid, id;
	uint32_t s;
	int fd = apu_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, apu_buf_new(fd, 64 * 1024, 0, &cmd));
	ASSERT_EQ(0, apu_buf_new(fd, 1024 * 1024, 0, &hang_data));
	ASSERT_EQ(0, apu_buf_new(fd, 1024 * 1024, 0, &x));
	apu_conv_setup(&hc, &hang_data, 8, 8, 16, 24, 3, OUT_OFF, 1);
	apu_op_conv(apu_cmd_header(cmd.cpu, 1), &hc);
	apu_conv_setup(&c, &x, 8, 8, 16, 24, 3, OUT_OFF, 2);
	apu_ref_conv(&c.p, c.in, c.w, c.bias, c.mult, c.shift, ref);
	apu_op_conv(apu_cmd_header((uint8_t *)cmd.cpu + 4096, 1), &c);
	memset((uint8_t *)x.cpu + OUT_OFF, 0x5a, sizeof(ref));

	hbos[0].handle = hang_data.handle;
	bos[0].handle = x.handle;
	ASSERT_EQ(0, drmSyncobjCreate(fd, 0, &s));
	ASSERT_EQ(0, apu_debugfs_write("fault_inject", "1 hang"));
	ASSERT_EQ(0, apu_submit1(fd, cmd.handle, 0, apu_cmd_size(1), DRM_APU_TARGET_CORE(1),
				 hbos, 1, NULL, 0, 0, &hid, NULL));
	ASSERT_EQ(0, apu_submit1(fd, cmd.handle, 4096, apu_cmd_size(1), DRM_APU_TARGET_CORE(1),
				 bos, 1, NULL, 0, s, &id, NULL));
	/* Close the handle; the CPU mapping keeps the pages readable here. */
	ASSERT_EQ(0, apu_gem_close(fd, x.handle));
	ASSERT_NE(DRM_APU_JOB_DONE, job_state(fd, id));

	ASSERT_EQ(0, apu_sync_wait(fd, s, 30000));
	ASSERT_EQ(0, apu_job_info(fd, id, &info));
	EXPECT_EQ(DRM_APU_STATUS_OK, info.status) TH_LOG("fault at 0x%llx",
							 (unsigned long long)info.fault_addr);
	EXPECT_EQ(0, memcmp(ref, (uint8_t *)x.cpu + OUT_OFF, sizeof(ref)));
	ASSERT_EQ(0, apu_job_info(fd, hid, &info));
	EXPECT_EQ(DRM_APU_STATUS_TIMEOUT, info.status);

	munmap(x.cpu, x.size);
	drmSyncobjDestroy(fd, s);
	apu_buf_free(fd, &hang_data);
	apu_buf_free(fd, &cmd);
	close(fd);
}

#define X_SIZE (32u << 20)

/*
 * BO X (32 MiB) is named by no job; a job of the same file is on core 2
 * (hung) when X's handle and mapping are closed. X's pages stay until
 * that job has ended, then go: Shmem (which counts them) does not drop at
 * the close, and drops by X's size once the job ended.
 */
TEST(unnamed_bo_keeps_its_pages_until_the_address_spaces_jobs_end)
{
	struct apu_buf cmd, data, x;
	struct apu_conv hc;
	struct drm_apu_job_bo bos[] = { { 0, DRM_APU_JOB_BO_WRITE } };
	long base, with_x, after_close, after_job = -1;
	uint64_t id;
	uint32_t s;
	int fd = apu_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, apu_buf_new(fd, 64 * 1024, 0, &cmd));
	ASSERT_EQ(0, apu_buf_new(fd, 1024 * 1024, 0, &data));
	apu_conv_setup(&hc, &data, 8, 8, 16, 24, 3, OUT_OFF, 1);
	apu_op_conv(apu_cmd_header(cmd.cpu, 1), &hc);
	bos[0].handle = data.handle;

	base = apu_meminfo_kib("Shmem");
	ASSERT_EQ(0, apu_buf_new(fd, X_SIZE, 0, &x));
	with_x = apu_meminfo_kib("Shmem");
	ASSERT_LE(base + (long)(X_SIZE >> 10) - 1024, with_x) TH_LOG("Shmem %ld -> %ld kB", base, with_x);

	ASSERT_EQ(0, drmSyncobjCreate(fd, 0, &s));
	ASSERT_EQ(0, apu_debugfs_write("fault_inject", "2 hang"));
	ASSERT_EQ(0, apu_submit1(fd, cmd.handle, 0, apu_cmd_size(1), DRM_APU_TARGET_CORE(2),
				 bos, 1, NULL, 0, s, &id, NULL));
	/* On the device: the core took it. */
	for (int i = 0; i < 200 && job_state(fd, id) != DRM_APU_JOB_RUNNING; i++)
		usleep(5000);
	ASSERT_EQ(DRM_APU_JOB_RUNNING, job_state(fd, id));

	apu_buf_free(fd, &x);
	after_close = apu_meminfo_kib("Shmem");
	ASSERT_EQ(DRM_APU_JOB_RUNNING, job_state(fd, id));
	EXPECT_LE(with_x - 1024, after_close) TH_LOG("pages freed while a job of the file ran: Shmem %ld -> %ld kB",
						     with_x, after_close);

	ASSERT_EQ(0, apu_sync_wait(fd, s, 30000));
	/* Given back from a work item, shortly after the fence. */
	for (int i = 0; i < 100; i++) {
		after_job = apu_meminfo_kib("Shmem");
		if (after_job <= with_x - (long)(X_SIZE >> 10) + 1024)
			break;
		usleep(20000);
	}
	EXPECT_GE(with_x - (long)(X_SIZE >> 10) + 1024, after_job) TH_LOG("pages kept after the job ended: Shmem %ld -> %ld kB",
									   with_x, after_job);
	drmSyncobjDestroy(fd, s);
	apu_buf_free(fd, &data);
	apu_buf_free(fd, &cmd);
	close(fd);
}

TEST_HARNESS_MAIN
