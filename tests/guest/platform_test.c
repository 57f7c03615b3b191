// SPDX-License-Identifier: MIT
/*
 * The platform front end (kernel/apu_platform.c), on the emulated PCI APU:
 * apu.ko loaded with platform_test=1 hands BAR0 and the MSI-X vectors to a
 * platform device, which the platform driver probes as it would a device
 * tree node (register block, interrupts by index, optional clock and reset
 * absent). The accel node must then belong to that device, every core must
 * run a job with its own interrupt, a job that hangs must be recovered,
 * and unloading must leave the PCI path working again.
 *
 * Leaves the driver loaded the usual way.
 */
#include <libgen.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "apu_guest.h"

#define MODULE "/lib/modules/apu.ko"

/* The basename of accel0's device link ("") or of one of its links ("driver"). */
static int device_link(const char *what, char *out, size_t size)
{
	char path[128], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/class/accel/accel0/device%s%s", *what ? "/" : "",
		 what);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = 0;
	snprintf(out, size, "%s", basename(link));
	return 0;
}

FIXTURE(plat) {
	int fd;
};

FIXTURE_SETUP(plat)
{
	ASSERT_EQ(0, apu_sh("rmmod apu"));
	ASSERT_EQ(0, apu_sh("insmod " MODULE " platform_test=1"));
	ASSERT_TRUE(apu_node_appears(50));
	self->fd = apu_open();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(plat)
{
	close(self->fd);
	EXPECT_EQ(0, apu_sh("rmmod apu"));
	EXPECT_EQ(0, apu_sh("insmod " MODULE));
	EXPECT_TRUE(apu_node_appears(50));
}

TEST_F(plat, node_belongs_to_the_platform_device)
{
	char name[128], driver[64], bus[64];

	ASSERT_EQ(0, device_link("", name, sizeof(name)));
	EXPECT_EQ(0, strncmp(name, "apu-platform.", 13)) TH_LOG("device %s", name);
	ASSERT_EQ(0, device_link("driver", driver, sizeof(driver)));
	EXPECT_STREQ("apu-platform", driver);
	ASSERT_EQ(0, device_link("subsystem", bus, sizeof(bus)));
	EXPECT_STREQ("platform", bus);
}

TEST_F(plat, every_core_runs_with_its_interrupt)
{
	char buf[4096];

	for (int core = 0; core < 6; core++) {
		EXPECT_EQ(0, apu_run_small(self->fd, core, 0, NULL)) TH_LOG("core %d", core);
	}
	/* One vector per core plus the error vector, as on PCI. */
	ASSERT_EQ(0, apu_debugfs_read("cores", buf, sizeof(buf)));
	EXPECT_EQ(0, apu_sh("grep -c 'big\\|little\\|tiny' /proc/interrupts | grep -qx 6"))
		TH_LOG("per-core interrupts: %s", buf);
}

TEST_F(plat, hang_is_recovered)
{
	struct drm_apu_job_info info;

	memset(&info, 0, sizeof(info));
	ASSERT_EQ(0, apu_debugfs_write("fault_inject", "4 hang"));
	EXPECT_NE(0, apu_run_small(self->fd, 4, 0, &info));
	EXPECT_EQ(DRM_APU_STATUS_TIMEOUT, info.status);
	EXPECT_EQ(0, apu_run_small(self->fd, 4, 0, NULL));
}

TEST_HARNESS_MAIN
