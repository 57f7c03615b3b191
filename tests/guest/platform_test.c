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

/*
 * Interrupts counted for the handler named @name in /proc/interrupts (all
 * CPUs), or -1 when it has no line.
 */
static long irq_count(const char *name)
{
	char line[512];
	long total = -1;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *tok, *save = NULL, *last = NULL;
		long sum = 0;

		line[strcspn(line, "\n")] = 0;
		for (tok = strtok_r(line, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
			char *end;
			long v = strtol(tok, &end, 10);

			if (*end == 0 && tok[strlen(tok) - 1] != ':')
				sum += v;
			last = tok;
		}
		if (last && !strcmp(last, name)) {
			total = sum;
			break;
		}
	}
	fclose(f);
	return total;
}

TEST_F(plat, every_core_runs_with_its_interrupt)
{
	static const char *const names[6] = { "big0", "big1", "little0", "little1",
					      "little2", "tiny0" };

	for (int core = 0; core < 6; core++) {
		long before = irq_count(names[core]);

		/* One vector per core, as on PCI, named after it. */
		ASSERT_LE(0, before) TH_LOG("no interrupt line for %s", names[core]);
		EXPECT_EQ(0, apu_run_small(self->fd, core, 0, NULL)) TH_LOG("core %d", core);
		EXPECT_LT(before, irq_count(names[core])) TH_LOG("%s did not interrupt", names[core]);
	}
	EXPECT_LE(0, irq_count("apu-error"));
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
