// SPDX-License-Identifier: MIT
/*
 * Guest tests of libapu on the real driver and the emulated device:
 * discovery through sysfs, opening, and the identity read through
 * HAL -> ioctl -> driver -> device.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <xf86drm.h>

#include "kselftest_harness.h"
#include <apu/apu.h>
#include <hw/apu_hw.h>
#include "version.h"

/* The major number of the accel class's character devices (/proc/devices). */
static int accel_major(void)
{
	char line[128], name[64];
	int major = -1, m;
	FILE *f = fopen("/proc/devices", "r");

	if (!f)
		return -1;
	/* "Character devices:" comes first; stop at "Block devices:". */
	while (fgets(line, sizeof(line), f) && strncmp(line, "Block", 5))
		if (sscanf(line, "%d %63s", &m, name) == 2 && !strcmp(name, "accel"))
			major = m;
	fclose(f);
	return major;
}

/*
 * @fd is an open file of the accel node @node (N of accelN = @minor): a
 * character device of the accel major with that node's device number,
 * open read-write and close-on-exec, driven by "apu".
 */
static void expect_accel_fd(struct __test_metadata *_metadata, int fd, const char *node,
			    unsigned int minor)
{
	struct stat st, node_st;
	drmVersionPtr v;
	int fl;

	ASSERT_EQ(0, fstat(fd, &st)) TH_LOG("fd %d: %s", fd, strerror(errno));
	ASSERT_EQ(0, stat(node, &node_st));
	EXPECT_TRUE(S_ISCHR(st.st_mode)) TH_LOG("fd %d: mode 0%o", fd, st.st_mode);
	EXPECT_EQ(accel_major(), (int)major(st.st_rdev))
		TH_LOG("fd %d: device %u:%u", fd, major(st.st_rdev), minor(st.st_rdev));
	EXPECT_EQ(minor, minor(st.st_rdev));
	EXPECT_EQ(node_st.st_rdev, st.st_rdev);
	fl = fcntl(fd, F_GETFL);
	EXPECT_EQ(O_RDWR, fl & O_ACCMODE);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	v = drmGetVersion(fd);
	ASSERT_NE(NULL, v);
	EXPECT_STREQ("apu", v->name);
	drmFreeVersion(v);
}

TEST(enumerate_finds_the_device)
{
	struct apu_device_entry e[4];
	char path[128], buf[32] = { 0 };
	size_t n = 0;
	FILE *f;

	ASSERT_EQ(0, apu_enumerate(e, 4, &n));
	ASSERT_EQ(1u, n);
	EXPECT_STREQ("/dev/accel/accel0", e[0].node);
	EXPECT_EQ(0u, e[0].minor);
	EXPECT_EQ(0, strncmp(e[0].bus_id, "0000:", 5));

	/* The bus device really is the APU. */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e[0].bus_id);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(buf, sizeof(buf), f));
	fclose(f);
	EXPECT_EQ(APU_PCI_VENDOR_ID, (int)strtol(buf, NULL, 16));
}

TEST(open_index_reads_identity)
{
	struct apu_device_info info;
	struct apu_device *dev;

	ASSERT_EQ(0, apu_device_open_index(0, &dev));
	ASSERT_EQ(0, apu_device_get_info(dev, &info, sizeof(info)));
	EXPECT_STREQ("/dev/accel/accel0", info.node);
	EXPECT_STREQ("apu", info.driver_name);
	EXPECT_EQ((uint32_t)APU_ID_MAGIC, info.hw_id);
	EXPECT_EQ(APU_HW_VERSION_MAJOR, (int)info.hw_major);
	EXPECT_EQ(APU_HW_VERSION_MINOR, (int)info.hw_minor);
	EXPECT_EQ(APU_HW_VERSION_PATCH, (int)info.hw_patch);
	EXPECT_EQ(APU_FW_STUB_VERSION_MAJOR, (int)info.fw_major);
	EXPECT_EQ(APU_FW_STUB_VERSION_MINOR, (int)info.fw_minor);
	EXPECT_EQ(APU_FW_STUB_VERSION_PATCH, (int)info.fw_patch);
	EXPECT_EQ(APU_FW_ABI_MAJOR, (int)info.fw_abi_major);
	EXPECT_EQ(APU_FW_ABI_MINOR, (int)info.fw_abi_minor);
	apu_device_close(dev);
}

/*
 * apu_device_fd() is the handle's file of the accel node, owned by the
 * handle: closed with it.
 */
TEST(device_fd_is_the_accel_node_and_closes_with_the_handle)
{
	struct apu_device *dev;
	int fd;

	ASSERT_LT(0, accel_major()) TH_LOG("no accel major in /proc/devices");
	ASSERT_EQ(0, apu_device_open_index(0, &dev));
	fd = apu_device_fd(dev);
	expect_accel_fd(_metadata, fd, "/dev/accel/accel0", 0);
	EXPECT_EQ(fd, apu_device_fd(dev));	/* the same file each time */
	EXPECT_EQ(-EINVAL, apu_device_fd(NULL));
	apu_device_close(dev);
	/* Single-threaded here: nothing can have reused the number. */
	EXPECT_EQ(-1, fcntl(fd, F_GETFD));
	EXPECT_EQ(EBADF, errno);
}

TEST(cores_big_little_tiny)
{
	struct apu_device_info info;
	struct apu_core_info c;
	struct apu_device *dev;
	int counts[3] = { 0 };
	unsigned int i;

	ASSERT_EQ(0, apu_device_open_index(0, &dev));
	ASSERT_EQ(0, apu_device_get_info(dev, &info, sizeof(info)));
	ASSERT_EQ(6u, info.num_cores);
	for (i = 0; i < info.num_cores; i++) {
		ASSERT_EQ(0, apu_device_get_core(dev, i, &c, sizeof(c)));
		EXPECT_EQ(i, c.index);
		ASSERT_LE((int)c.core_class, 2);
		counts[c.core_class]++;
	}
	EXPECT_EQ(2, counts[APU_CORE_BIG]);
	EXPECT_EQ(3, counts[APU_CORE_LITTLE]);
	EXPECT_EQ(1, counts[APU_CORE_TINY]);
	ASSERT_EQ(0, apu_device_get_core(dev, 0, &c, sizeof(c)));
	EXPECT_STREQ("big", apu_core_class_name(c.core_class));
	ASSERT_EQ(0, apu_device_get_core(dev, 5, &c, sizeof(c)));
	EXPECT_STREQ("tiny", apu_core_class_name(c.core_class));
	EXPECT_EQ(64u, c.macs_per_cycle);
	EXPECT_EQ(-EINVAL, apu_device_get_core(dev, 6, &c, sizeof(c)));
	EXPECT_EQ(-EINVAL, apu_device_get_core(dev, 0, NULL, sizeof(c)));
	apu_device_close(dev);
}

TEST(open_index_past_the_end_is_enodev)
{
	struct apu_device *dev;

	EXPECT_EQ(-ENODEV, apu_device_open_index(1, &dev));
	EXPECT_EQ(NULL, dev);
	EXPECT_EQ(-ENODEV, apu_device_open_index(~0u, &dev));
}

TEST(open_by_path)
{
	struct apu_device *dev;

	ASSERT_EQ(0, apu_device_open("/dev/accel/accel0", &dev));
	expect_accel_fd(_metadata, apu_device_fd(dev), "/dev/accel/accel0", 0);
	apu_device_close(dev);
	EXPECT_EQ(-ENOENT, apu_device_open("/dev/accel/accel7", &dev));
	/* A character device that is not a DRM device. */
	EXPECT_EQ(-ENODEV, apu_device_open("/dev/null", &dev));
}

static void *open_close_loop(void *arg)
{
	long bad = 0;
	int i;

	(void)arg;
	for (i = 0; i < 100; i++) {
		struct apu_device_info info;
		struct apu_device *dev;

		if (apu_device_open_index(0, &dev)) {
			bad++;
			continue;
		}
		if (apu_device_get_info(dev, &info, sizeof(info)) || info.hw_id != APU_ID_MAGIC)
			bad++;
		apu_device_close(dev);
	}
	return (void *)bad;
}

TEST(threads_open_and_query)
{
	pthread_t t[8];
	void *bad;
	int i;

	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, open_close_loop, NULL));
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &bad));
		EXPECT_EQ(NULL, bad);
	}
}

/* One handle shared by threads: documented as safe. */
static void *shared_info(void *arg)
{
	struct apu_device *dev = arg;
	long bad = 0;
	int i;

	for (i = 0; i < 1000; i++) {
		struct apu_device_info info;

		if (apu_device_get_info(dev, &info, sizeof(info)) || info.hw_id != APU_ID_MAGIC)
			bad++;
	}
	return (void *)bad;
}

TEST(shared_handle_across_threads)
{
	struct apu_device *dev;
	pthread_t t[4];
	void *bad;
	int i;

	ASSERT_EQ(0, apu_device_open_index(0, &dev));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, shared_info, dev));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &bad));
		EXPECT_EQ(NULL, bad);
	}
	apu_device_close(dev);
}

TEST_HARNESS_MAIN
