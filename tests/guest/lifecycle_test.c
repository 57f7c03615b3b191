// SPDX-License-Identifier: MIT
/*
 * Guest tests of the driver's lifetime: rmmod refuses while a file is
 * open; module unload/reload cycles with jobs in between; removing the
 * PCI device while a file is open and jobs are queued or hung (ioctls
 * then fail with -ENODEV, every fence signals, close works) and bringing
 * it back with a bus rescan.
 *
 * Leaves the driver loaded and the device present.
 */
#include <libgen.h>
#include <poll.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "apu_guest.h"

#define MODULE "/lib/modules/apu.ko"

static int sh(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int node_appears(int tenths)
{
	for (int i = 0; i < tenths; i++) {
		if (access(apu_node(), F_OK) == 0)
			return 1;
		usleep(100000);
	}
	return 0;
}

/* One good convolution on @core in a fresh file. */
static int one_job(uint32_t core)
{
	int fd = apu_open(), ret;

	if (fd < 0)
		return -errno;
	ret = apu_run_small(fd, core, 0, NULL);
	close(fd);
	return ret;
}

TEST(rmmod_refused_while_open)
{
	int fd = apu_open();

	ASSERT_LE(0, fd);
	EXPECT_NE(0, sh("rmmod apu 2>/dev/null"));
	EXPECT_EQ(0, one_job(0));
	close(fd);
}

TEST(unload_reload_cycles)
{
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, sh("rmmod apu"));
		EXPECT_NE(0, access(apu_node(), F_OK));
		ASSERT_EQ(0, sh("insmod " MODULE));
		ASSERT_TRUE(node_appears(50));
		EXPECT_EQ(0, one_job(i % 6));
	}
}

/* The PCI address of accel0. */
static int bdf(char *out, size_t size)
{
	char link[256];
	ssize_t n = readlink("/sys/class/accel/accel0/device", link, sizeof(link) - 1);

	if (n < 0)
		return -errno;
	link[n] = 0;
	snprintf(out, size, "%s", basename(link));
	return 0;
}

TEST(remove_device_with_jobs_in_flight)
{
	struct apu_buf cmd, data;
	struct apu_conv c;
	struct drm_apu_job_bo bos[1];
	struct drm_apu_bo_create bc = { .size = 4096 };
	char addr[64], cmdline[256];
	uint32_t s[8];
	int fd, sync_fd[8];

	ASSERT_EQ(0, bdf(addr, sizeof(addr)));
	fd = apu_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, apu_buf_new(fd, 4096, 0, &cmd));
	ASSERT_EQ(0, apu_buf_new(fd, 1024 * 1024, 0, &data));
	apu_conv_setup(&c, &data, 4, 4, 8, 8, 3, 512 * 1024, 1);
	apu_op_conv(apu_cmd_header(cmd.cpu, 1), &c);
	bos[0].handle = data.handle;
	bos[0].flags = 0;
	/* Core 0 hangs on its first job; seven more queue behind it. */
	ASSERT_EQ(0, apu_debugfs_write("fault_inject", "0 hang"));
	for (int i = 0; i < 8; i++) {
		ASSERT_EQ(0, drmSyncobjCreate(fd, 0, &s[i]));
		ASSERT_EQ(0, apu_submit1(fd, cmd.handle, 0, apu_cmd_size(1), DRM_APU_TARGET_CORE(0),
					 bos, 1, NULL, 0, s[i], NULL, NULL));
		/* After the removal every ioctl fails: keep the fences as sync_files. */
		ASSERT_EQ(0, drmSyncobjExportSyncFile(fd, s[i], &sync_fd[i]));
	}

	snprintf(cmdline, sizeof(cmdline), "echo 1 > /sys/bus/pci/devices/%s/remove", addr);
	ASSERT_EQ(0, sh(cmdline));
	EXPECT_NE(0, access(apu_node(), F_OK));

	/* Every fence signals; ioctls on the open file fail cleanly. */
	for (int i = 0; i < 8; i++) {
		struct pollfd p = { .fd = sync_fd[i], .events = POLLIN };

		EXPECT_EQ(1, poll(&p, 1, 10000)) TH_LOG("fence %d did not signal", i);
		close(sync_fd[i]);
	}
	EXPECT_EQ(-ENODEV, apu_sync_wait(fd, s[0], 0));
	EXPECT_EQ(-ENODEV, apu_submit1(fd, cmd.handle, 0, apu_cmd_size(1), DRM_APU_TARGET_CORE(1),
				       bos, 1, NULL, 0, 0, NULL, NULL));
	EXPECT_EQ(-ENODEV, apu_ioctl(fd, DRM_IOCTL_APU_BO_CREATE, &bc));
	/* The CPU mapping of a BO still reads (the memory is the host's). */
	EXPECT_EQ(c.in[0], ((int8_t *)data.cpu)[0]);
	apu_buf_free(fd, &cmd);
	apu_buf_free(fd, &data);
	close(fd);

	ASSERT_EQ(0, sh("echo 1 > /sys/bus/pci/rescan"));
	ASSERT_TRUE(node_appears(50));
	for (int core = 0; core < 6; core++) {
		EXPECT_EQ(0, one_job(core)) TH_LOG("core %d after the rescan", core);
	}
}

TEST_HARNESS_MAIN
