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

/* Read the attribute @attr of the APU's PCI device's power/ directory. */
static int power_attr(const char *attr, char *out, size_t size)
{
	char link[256], path[400];
	ssize_t n = readlink("/sys/class/accel/accel0/device", link, sizeof(link) - 1);
	FILE *f;

	if (n < 0)
		return -errno;
	link[n] = 0;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/power/%s", basename(link), attr);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(out, size, f))
		out[0] = 0;
	fclose(f);
	out[strcspn(out, "\n")] = 0;
	return 0;
}

static int runtime_status(char *out, size_t size)
{
	return power_attr("runtime_status", out, size);
}

/* runtime_active_time or runtime_suspended_time, in ms; -1 on error. */
static long long runtime_ms(const char *attr)
{
	char v[32];

	return power_attr(attr, v, sizeof(v)) ? -1 : atoll(v);
}

/* Wait up to @ms for runtime_status @want; 1 once there. */
static int wait_runtime_status(const char *want, int ms)
{
	char st[32];

	for (int64_t end = apu_now_ns() + (int64_t)ms * 1000000; apu_now_ns() < end;
	     usleep(10000))
		if (!runtime_status(st, sizeof(st)) && !strcmp(st, want))
			return 1;
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
		ASSERT_EQ(0, apu_core_field(core, APU_CORES_STATE, state, sizeof(state)));
		EXPECT_STREQ("off", state) TH_LOG("core %d", core);
	}
	ASSERT_EQ(0, apu_core_field(2, APU_CORES_POWER_ONS, ons, sizeof(ons)));
	before = atol(ons);
	ASSERT_EQ(0, run_job(fd, 2));
	ASSERT_EQ(0, apu_core_field(2, APU_CORES_POWER_ONS, ons, sizeof(ons)));
	EXPECT_EQ(before + 1, atol(ons));
	/* Only the core that ran was powered up. */
	ASSERT_EQ(0, apu_core_field(3, APU_CORES_STATE, state, sizeof(state)));
	EXPECT_STREQ("off", state);
	close(fd);
}

/*
 * The idle device runtime-suspends after autosuspend_ms and stays
 * suspended (runtime_suspended_time grows, runtime_active_time does not);
 * submitting a job resumes it (runtime_status "active" as soon as the
 * submission returns), the job runs correctly, the device stays active
 * at least autosuspend_ms after it, then suspends again.
 */
TEST(runtime_suspend_then_a_job_resumes_the_device)
{
	struct drm_apu_job_bo bos[1];
	struct drm_apu_job_info info;
	struct apu_buf cmd, data;
	long long autosuspend_ms, act0, act1, act2, susp0, susp1;
	struct apu_conv c;
	int8_t ref[4 * 4 * 8];
	char st[32];
	uint32_t s;
	uint64_t id;
	int fd = apu_open();

	ASSERT_LE(0, fd);
	autosuspend_ms = apu_module_param("autosuspend_ms");
	ASSERT_LT(0, autosuspend_ms);
	/* The job's buffers, made before the device suspends. */
	ASSERT_EQ(0, apu_small_job(fd, &cmd, &data, &c, &bos[0], ref, 5));
	ASSERT_EQ(0, drmSyncobjCreate(fd, 0, &s));
	ASSERT_EQ(0, run_job(fd, 0));

	/* Suspended, and staying so. */
	ASSERT_TRUE(wait_runtime_status("suspended", autosuspend_ms + 3000));
	act0 = runtime_ms("runtime_active_time");
	susp0 = runtime_ms("runtime_suspended_time");
	ASSERT_LE(0, act0);
	ASSERT_LE(0, susp0);
	usleep(300 * 1000);
	ASSERT_EQ(0, runtime_status(st, sizeof(st)));
	EXPECT_STREQ("suspended", st);
	EXPECT_EQ(act0, runtime_ms("runtime_active_time"));
	EXPECT_LE(susp0 + 250, runtime_ms("runtime_suspended_time"));

	/* A job resumes it: active as soon as the submission returns. */
	memset((uint8_t *)data.cpu + APU_SMALL_OUT_OFF, 0, sizeof(ref));
	ASSERT_EQ(0, apu_submit1(fd, cmd.handle, 0, apu_cmd_size(1), DRM_APU_TARGET_CORE(5),
				 bos, 1, NULL, 0, s, &id, NULL));
	ASSERT_EQ(0, runtime_status(st, sizeof(st)));
	EXPECT_STREQ("active", st) TH_LOG("not resumed by the submission");
	ASSERT_EQ(0, apu_sync_wait(fd, s, 30000));
	ASSERT_EQ(0, apu_job_info(fd, id, &info));
	EXPECT_EQ(DRM_APU_STATUS_OK, info.status);
	EXPECT_EQ(0, memcmp(ref, (uint8_t *)data.cpu + APU_SMALL_OUT_OFF, sizeof(ref)));
	susp1 = runtime_ms("runtime_suspended_time");

	/* Suspends again, having been active at least autosuspend_ms. */
	ASSERT_TRUE(wait_runtime_status("suspended", autosuspend_ms + 3000));
	act1 = runtime_ms("runtime_active_time");
	EXPECT_LE(act0 + autosuspend_ms - 5, act1)
		TH_LOG("active %lld ms for the job", act1 - act0);
	usleep(200 * 1000);
	act2 = runtime_ms("runtime_active_time");
	EXPECT_EQ(act1, act2);
	EXPECT_LE(susp1 + 150, runtime_ms("runtime_suspended_time"));

	drmSyncobjDestroy(fd, s);
	apu_buf_free(fd, &cmd);
	apu_buf_free(fd, &data);
	close(fd);
}

/*
 * System sleep (s2idle with pm_test "devices": the devices suspend and
 * resume, the platform does not sleep): the driver resets the device and
 * boots its firmware again; a job of a file opened before runs correctly
 * after, on two cores.
 */
TEST(system_sleep_then_a_job_runs)
{
	int fd = apu_open(), ret, kmsg, booted = 0;

	ASSERT_LE(0, fd);
	if (access("/sys/power/pm_test", W_OK))
		SKIP(close(fd); return, "no /sys/power/pm_test (CONFIG_PM_DEBUG)");
	ASSERT_EQ(0, run_job(fd, 0));
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, kmsg);
	ASSERT_LE(0, lseek(kmsg, 0, SEEK_END));
	apu_write_file("/sys/module/suspend/parameters/pm_test_delay", "0");
	ASSERT_EQ(0, apu_write_file("/sys/power/pm_test", "devices"));
	ret = apu_write_file("/sys/power/state", "freeze");
	EXPECT_EQ(0, apu_write_file("/sys/power/pm_test", "none"));
	ASSERT_EQ(0, ret) TH_LOG("suspend: %s", strerror(-ret));
	/* The resume booted the firmware again. */
	for (;;) {
		char rec[1024];
		ssize_t n = read(kmsg, rec, sizeof(rec) - 1);

		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		if (strstr(rec, "apu") && strstr(rec, "firmware") && strstr(rec, "running"))
			booted = 1;
	}
	close(kmsg);
	EXPECT_TRUE(booted) TH_LOG("no firmware boot in /dev/kmsg after the resume");
	EXPECT_EQ(0, run_job(fd, 0));
	EXPECT_EQ(0, run_job(fd, 3));
	close(fd);
}

TEST_HARNESS_MAIN
