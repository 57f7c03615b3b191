// SPDX-License-Identifier: MIT
/*
 * Guest tests of power management: idle cores are powered down through
 * the device's APU_CORE_POWER, a job powers its core up again (the
 * device's power-on count rises) and runs correctly; the idle device
 * runtime-suspends (autosuspend) and a job resumes it.
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "apu_guest.h"

/* Field @col (0-based) of core @core's line in debugfs "cores". */
static int core_field(int core, int col, char *out, size_t size)
{
	char buf[4096], *line, *save = NULL;
	int n = 0, ret = apu_debugfs_read("cores", buf, sizeof(buf));

	if (ret)
		return ret;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tok, *s2 = NULL;
		int c = 0;

		if (n++ != core + 1)
			continue;
		for (tok = strtok_r(line, " ", &s2); tok; tok = strtok_r(NULL, " ", &s2), c++)
			if (c == col) {
				snprintf(out, size, "%s", tok);
				return 0;
			}
	}
	return -ENOENT;
}

static int runtime_status(char *out, size_t size)
{
	char link[256], path[400];
	ssize_t n = readlink("/sys/class/accel/accel0/device", link, sizeof(link) - 1);
	FILE *f;

	if (n < 0)
		return -errno;
	link[n] = 0;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/power/runtime_status",
		 basename(link));
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(out, size, f))
		out[0] = 0;
	fclose(f);
	out[strcspn(out, "\n")] = 0;
	return 0;
}

static int run_job(int fd, uint32_t core)
{
	return apu_run_small(fd, core, 0, NULL);
}

TEST(idle_cores_power_down_and_up)
{
	char state[32], ons[32];
	int fd = apu_open();
	long before;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, run_job(fd, 2));
	usleep(300 * 1000);
	for (int core = 0; core < 6; core++) {
		ASSERT_EQ(0, core_field(core, 2, state, sizeof(state)));
		EXPECT_STREQ("off", state) TH_LOG("core %d", core);
	}
	ASSERT_EQ(0, core_field(2, 12, ons, sizeof(ons)));
	before = atol(ons);
	ASSERT_EQ(0, run_job(fd, 2));
	ASSERT_EQ(0, core_field(2, 12, ons, sizeof(ons)));
	EXPECT_EQ(before + 1, atol(ons));
	/* Only the core that ran was powered up. */
	ASSERT_EQ(0, core_field(3, 2, state, sizeof(state)));
	EXPECT_STREQ("off", state);
	close(fd);
}

TEST(runtime_suspend_and_resume)
{
	char st[32];
	int fd = apu_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, run_job(fd, 0));
	usleep(500 * 1000);
	ASSERT_EQ(0, runtime_status(st, sizeof(st)));
	EXPECT_STREQ("suspended", st);
	/* A job resumes the device and runs. */
	ASSERT_EQ(0, run_job(fd, 5));
	usleep(500 * 1000);
	ASSERT_EQ(0, runtime_status(st, sizeof(st)));
	EXPECT_STREQ("suspended", st);
	close(fd);
}

TEST_HARNESS_MAIN
