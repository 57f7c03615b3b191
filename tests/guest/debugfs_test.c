// SPDX-License-Identifier: MIT
/*
 * Guest tests of the driver's debugfs files (/sys/kernel/debug/accel/<bus
 * id>/ on 6.12; the directory is found from /sys/class/accel/accel0):
 * firmware info, core state, fault-injection triggers and core reset, and
 * their refusal of bad input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"

/* The debugfs directory of accel0, with a trailing slash. */
static const char *dir(void)
{
	static char path[320];
	char link[256];
	ssize_t n;
	char *base;

	if (path[0])
		return path;
	n = readlink("/sys/class/accel/accel0/device", link, sizeof(link) - 1);
	if (n < 0)
		return "/nonexistent/";
	link[n] = '\0';
	base = strrchr(link, '/');
	snprintf(path, sizeof(path), "/sys/kernel/debug/accel/%s/", base ? base + 1 : link);
	return path;
}

static const char *file(const char *name)
{
	static char path[2][384];
	static int k;

	k ^= 1;
	snprintf(path[k], sizeof(path[k]), "%s%s", dir(), name);
	return path[k];
}


static int slurp(const char *name, char *buf, size_t size)
{
	int fd = open(name, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

/* Write @s to @name; 0 or -errno. */
static int put(const char *name, const char *s)
{
	int fd = open(name, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

TEST(fw_info)
{
	char buf[512];

	ASSERT_LT(0, slurp(file("fw_info"), buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "hardware 1.0.0\n"));
	EXPECT_NE(NULL, strstr(buf, "firmware 0.1.0\n"));
	EXPECT_NE(NULL, strstr(buf, "abi 1.3\n"));
	EXPECT_NE(NULL, strstr(buf, "status 2\n"));	/* READY */
}

TEST(cores)
{
	char buf[2048], *line, *save = NULL;
	int n = 0, big = 0, little = 0, tiny = 0;

	ASSERT_LT(0, slurp(file("cores"), buf, sizeof(buf)));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		n++;
		big += strstr(line, " big ") != NULL;
		little += strstr(line, " little ") != NULL;
		tiny += strstr(line, " tiny ") != NULL;
		/* Idle cores are powered down (after core_idle_ms). */
		if (n > 1)
			EXPECT_TRUE(strstr(line, " idle ") || strstr(line, " off ")) TH_LOG("%s", line);
	}
	EXPECT_EQ(7, n);	/* header + 6 cores */
	EXPECT_EQ(2, big);
	EXPECT_EQ(3, little);
	EXPECT_EQ(1, tiny);
}

TEST(fault_inject_arm_and_reset_core)
{
	char buf[512];

	ASSERT_EQ(0, put(file("fault_inject"), "2 fail_job\n"));
	ASSERT_EQ(0, put(file("fault_inject"), "5 hang"));
	ASSERT_LT(0, slurp(file("fault_inject"), buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "2 fail_job\n"));
	EXPECT_NE(NULL, strstr(buf, "5 hang\n"));
	/* A core reset disarms that core's faults only. */
	ASSERT_EQ(0, put(file("reset_core"), "2"));
	ASSERT_LT(0, slurp(file("fault_inject"), buf, sizeof(buf)));
	EXPECT_EQ(NULL, strstr(buf, "2 fail_job"));
	EXPECT_NE(NULL, strstr(buf, "5 hang\n"));
	ASSERT_EQ(0, put(file("reset_core"), "5\n"));
	ASSERT_GE(0, slurp(file("fault_inject"), buf, sizeof(buf)));
	EXPECT_STREQ("", buf);
}

TEST(bad_input_is_einval)
{
	EXPECT_EQ(-EINVAL, put(file("fault_inject"), "6 fail_job"));
	EXPECT_EQ(-EINVAL, put(file("fault_inject"), "1 explode"));
	EXPECT_EQ(-EINVAL, put(file("fault_inject"), "fail_job"));
	EXPECT_EQ(-EINVAL, put(file("fault_inject"), "1 fail_job now"));
	EXPECT_EQ(-EINVAL, put(file("fault_inject"), "1 fail_jobs"));
	EXPECT_EQ(-EINVAL, put(file("fault_inject"), "refuse_fw 1"));
	EXPECT_EQ(-EINVAL, put(file("fault_inject"), "\n"));
	EXPECT_EQ(-EINVAL, put(file("fault_inject"),
			       "1 fail_job                                        "));
	EXPECT_EQ(-EINVAL, put(file("reset_core"), "6"));
	EXPECT_EQ(-EINVAL, put(file("reset_core"), "-1"));
	EXPECT_EQ(-EINVAL, put(file("reset_core"), "two"));
	/* A read-only file has no write method (root passes the mode check). */
	EXPECT_EQ(-EINVAL, put(file("cores"), "1"));
}

TEST_HARNESS_MAIN
