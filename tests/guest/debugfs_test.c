// SPDX-License-Identifier: MIT
/*
 * Guest tests of the driver's debugfs files (/sys/kernel/debug/accel/<bus
 * id>/ on 6.12; the directory is found from /sys/class/accel/accel0):
 * firmware info, core state, fault-injection triggers and core reset, and
 * their refusal of bad input.
 */
#include "kselftest_harness.h"
#include "apu_guest.h"

/* Read debugfs @name into @buf; its length, or a negative errno. */
static int slurp(const char *name, char *buf, size_t size)
{
	int ret = apu_debugfs_read(name, buf, size);

	return ret ? ret : (int)strlen(buf);
}

/* The device's capabilities (DRM_APU_CAP_*), or a negative errno. */
static long long device_caps(int fd)
{
	struct drm_apu_query_device d;
	int ret = apu_query_device(fd, &d);

	return ret ? ret : d.caps;
}

/* Forbid ("on") or allow ("auto") runtime suspend of the device. */
static int runtime_pm_control(const char *mode)
{
	return apu_write_file("/sys/class/accel/accel0/device/power/control", mode);
}

TEST(fw_info)
{
	char buf[512];

	ASSERT_LT(0, slurp("fw_info", buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "hardware 1.0.0\n"));
	EXPECT_NE(NULL, strstr(buf, "firmware 0.1.0\n"));
	EXPECT_NE(NULL, strstr(buf, "abi 1.6\n"));
	EXPECT_NE(NULL, strstr(buf, "status 2\n"));	/* READY */
}

/* One line per core of the device (its QUERY), numbered, with its class. */
TEST(cores_lists_every_core_with_its_class)
{
	static const char *const names[] = { " big ", " little ", " tiny " };
	char buf[2048], *line, *save = NULL;
	uint32_t cls[8];
	int n = 0, cores, fd = apu_open();

	ASSERT_LE(0, fd);
	cores = apu_core_classes(fd, cls);
	close(fd);
	ASSERT_LT(0, cores);
	ASSERT_LT(0, slurp("cores", buf, sizeof(buf)));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char want[16];

		if (n++ == 0)
			continue;	/* the header */
		snprintf(want, sizeof(want), "%4d ", n - 2);
		EXPECT_EQ(0, strncmp(line, want, 5)) TH_LOG("line %d: %s", n, line);
		if (n - 2 < cores && cls[n - 2] < 3)
			EXPECT_NE(NULL, strstr(line, names[cls[n - 2]])) TH_LOG("%s", line);
	}
	EXPECT_EQ(cores + 1, n);	/* header + a line per core */
}

/*
 * A core that ran a job is powered down core_idle_ms after its ring
 * drained, and so is every other idle core: "off" on a device with power
 * gating ("idle" without). Runtime suspend, which also powers cores down,
 * is forbidden meanwhile, so that only the core-idle power-down can.
 */
TEST(cores_state_is_off_after_core_idle_ms)
{
	long long caps, idle_ms;
	const char *want;
	char state[32];
	int fd = apu_open();

	ASSERT_LE(0, fd);
	caps = device_caps(fd);
	ASSERT_LE(0, caps);
	want = caps & DRM_APU_CAP_POWER_GATING ? "off" : "idle";
	idle_ms = apu_module_param("core_idle_ms");
	ASSERT_LE(0, idle_ms);
	ASSERT_EQ(0, runtime_pm_control("on"));
	EXPECT_EQ(0, apu_run_small(fd, 2, 0, NULL));
	usleep((idle_ms + 200) * 1000);
	for (int core = 0; core < 6; core++) {
		EXPECT_EQ(0, apu_core_field(core, APU_CORES_STATE, state, sizeof(state)));
		EXPECT_STREQ(want, state) TH_LOG("core %d", core);
	}
	EXPECT_EQ(0, runtime_pm_control("auto"));
	close(fd);
}

/* A core that took a job and hangs reads "hung" until it is reset. */
TEST(cores_state_is_hung_while_the_core_hangs)
{
	struct drm_apu_job_bo bos[1];
	struct drm_apu_job_info info;
	struct apu_buf cmd, data;
	struct apu_conv c;
	char state[32] = "";
	int8_t ref[4 * 4 * 8];
	uint32_t s;
	uint64_t id;
	int fd = apu_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, apu_small_job(fd, &cmd, &data, &c, &bos[0], ref, 4));
	ASSERT_EQ(0, drmSyncobjCreate(fd, 0, &s));

	ASSERT_EQ(0, apu_debugfs_write("fault_inject", "4 hang"));
	ASSERT_EQ(0, apu_submit1(fd, cmd.handle, 0, apu_cmd_size(1), DRM_APU_TARGET_CORE(4),
				 bos, 1, NULL, 0, s, &id, NULL));
	/* Well inside the driver's job timeout. */
	for (int i = 0; i < 50 && strcmp(state, "hung"); i++) {
		usleep(10000);
		ASSERT_EQ(0, apu_core_field(4, APU_CORES_STATE, state, sizeof(state)));
	}
	EXPECT_STREQ("hung", state);
	/* The reset runs the job again: it ends OK, the core idle or off. */
	ASSERT_EQ(0, apu_debugfs_write("reset_core", "4"));
	ASSERT_EQ(0, apu_sync_wait(fd, s, 30000));
	ASSERT_EQ(0, apu_job_info(fd, id, &info));
	EXPECT_EQ(DRM_APU_STATUS_OK, info.status);
	EXPECT_EQ(0, memcmp(ref, (uint8_t *)data.cpu + APU_SMALL_OUT_OFF, sizeof(ref)));
	ASSERT_EQ(0, apu_core_field(4, APU_CORES_STATE, state, sizeof(state)));
	EXPECT_TRUE(!strcmp(state, "idle") || !strcmp(state, "off")) TH_LOG("%s", state);

	drmSyncobjDestroy(fd, s);
	apu_buf_free(fd, &cmd);
	apu_buf_free(fd, &data);
	close(fd);
}

TEST(fault_inject_arm_and_reset_core)
{
	char buf[512];

	ASSERT_EQ(0, apu_debugfs_write("fault_inject", "2 fail_job\n"));
	ASSERT_EQ(0, apu_debugfs_write("fault_inject", "5 hang"));
	ASSERT_LT(0, slurp("fault_inject", buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "2 fail_job\n"));
	EXPECT_NE(NULL, strstr(buf, "5 hang\n"));
	/* A core reset disarms that core's faults only. */
	ASSERT_EQ(0, apu_debugfs_write("reset_core", "2"));
	ASSERT_LT(0, slurp("fault_inject", buf, sizeof(buf)));
	EXPECT_EQ(NULL, strstr(buf, "2 fail_job"));
	EXPECT_NE(NULL, strstr(buf, "5 hang\n"));
	ASSERT_EQ(0, apu_debugfs_write("reset_core", "5\n"));
	ASSERT_EQ(0, slurp("fault_inject", buf, sizeof(buf)));
	EXPECT_STREQ("", buf);
}

TEST(bad_input_is_einval)
{
	char arm[32];
	int fd = apu_open(), cores;

	ASSERT_LE(0, fd);
	cores = apu_core_classes(fd, NULL);
	close(fd);
	ASSERT_LT(0, cores);
	/* Core numbers past the device's last core. */
	snprintf(arm, sizeof(arm), "%d fail_job", cores);
	EXPECT_EQ(-EINVAL, apu_debugfs_write("fault_inject", arm));
	snprintf(arm, sizeof(arm), "%d", cores);
	EXPECT_EQ(-EINVAL, apu_debugfs_write("reset_core", arm));
	EXPECT_EQ(-EINVAL, apu_debugfs_write("fault_inject", "1 explode"));
	EXPECT_EQ(-EINVAL, apu_debugfs_write("fault_inject", "fail_job"));
	EXPECT_EQ(-EINVAL, apu_debugfs_write("fault_inject", "1 fail_job now"));
	EXPECT_EQ(-EINVAL, apu_debugfs_write("fault_inject", "1 fail_jobs"));
	EXPECT_EQ(-EINVAL, apu_debugfs_write("fault_inject", "refuse_fw 1"));
	EXPECT_EQ(-EINVAL, apu_debugfs_write("fault_inject", "\n"));
	EXPECT_EQ(-EINVAL, apu_debugfs_write("fault_inject",
					     "1 fail_job                                        "));
	EXPECT_EQ(-EINVAL, apu_debugfs_write("reset_core", "-1"));
	EXPECT_EQ(-EINVAL, apu_debugfs_write("reset_core", "two"));
	/* A read-only file has no write method (root passes the mode check). */
	EXPECT_EQ(-EINVAL, apu_debugfs_write("cores", "1"));
}

TEST_HARNESS_MAIN
