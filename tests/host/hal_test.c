// SPDX-License-Identifier: MIT
/*
 * Host unit tests of libapu: discovery over a fake sysfs tree, argument
 * checking, error messages, and the UAPI layout rules. Built with ASan and
 * UBSan. No device needed.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include <apu/apu.h>
#include <drm/apu_accel.h>
#include <hw/apu_hw.h>
#include "apu_internal.h"

/* ---- UAPI layout: 64-bit aligned, explicit padding ------------------------ */

TEST(uapi_struct_layout)
{
	EXPECT_EQ(0u, sizeof(struct drm_apu_query) % 8);
	EXPECT_EQ(24u, sizeof(struct drm_apu_query));
	EXPECT_EQ(0u, offsetof(struct drm_apu_query, type));
	EXPECT_EQ(4u, offsetof(struct drm_apu_query, size));
	EXPECT_EQ(8u, offsetof(struct drm_apu_query, data));
	EXPECT_EQ(16u, offsetof(struct drm_apu_query, pad));
	EXPECT_EQ(0u, sizeof(struct drm_apu_query_device) % 8);
	EXPECT_EQ(0u, offsetof(struct drm_apu_query_device, hw_id));
	EXPECT_EQ(4u, offsetof(struct drm_apu_query_device, hw_version));
	EXPECT_EQ(16u, offsetof(struct drm_apu_query_device, num_cores));
	EXPECT_EQ(20u, offsetof(struct drm_apu_query_device, caps));
	EXPECT_EQ(32u, offsetof(struct drm_apu_query_device, max_bo_size));
	EXPECT_EQ(60u, offsetof(struct drm_apu_query_device, ring_entries));
	EXPECT_EQ(64u, sizeof(struct drm_apu_query_device));
	EXPECT_EQ(8u, sizeof(struct drm_apu_query_cores));
	/* Buffers and jobs: 64-bit aligned, no implicit padding. */
	EXPECT_EQ(24u, sizeof(struct drm_apu_bo_create));
	EXPECT_EQ(16u, offsetof(struct drm_apu_bo_create, device_addr));
	EXPECT_EQ(32u, sizeof(struct drm_apu_bo_info));
	EXPECT_EQ(16u, sizeof(struct drm_apu_bo_wait));
	EXPECT_EQ(8u, sizeof(struct drm_apu_job_bo));
	EXPECT_EQ(64u, sizeof(struct drm_apu_job));
	EXPECT_EQ(24u, offsetof(struct drm_apu_job, bos));
	EXPECT_EQ(40u, offsetof(struct drm_apu_job, in_syncobjs));
	EXPECT_EQ(52u, offsetof(struct drm_apu_job, core));
	EXPECT_EQ(56u, offsetof(struct drm_apu_job, job_id));
	EXPECT_EQ(24u, sizeof(struct drm_apu_submit));
	EXPECT_EQ(96u, sizeof(struct drm_apu_job_info));
	EXPECT_EQ(40u, offsetof(struct drm_apu_job_info, cycles));
	/* Grown at its end by fp16_macs_per_cycle (firmware ABI 1.6). */
	EXPECT_EQ(36u, sizeof(struct drm_apu_core_info));
	EXPECT_EQ(32u, offsetof(struct drm_apu_core_info, fp16_macs_per_cycle));
	/* The UAPI classes are the hardware's. */
	EXPECT_EQ(APU_CLASS_BIG, DRM_APU_CLASS_BIG);
	EXPECT_EQ(APU_CLASS_LITTLE, DRM_APU_CLASS_LITTLE);
	EXPECT_EQ(APU_CLASS_TINY, DRM_APU_CLASS_TINY);
	EXPECT_EQ((int)APU_CORE_TINY, DRM_APU_CLASS_TINY);
}

TEST(uapi_ioctl_numbers)
{
	/* The first driver ioctl, read-write, sized by its struct. */
	EXPECT_EQ((unsigned int)DRM_COMMAND_BASE, _IOC_NR(DRM_IOCTL_APU_QUERY));
	EXPECT_EQ((unsigned int)(_IOC_READ | _IOC_WRITE), _IOC_DIR(DRM_IOCTL_APU_QUERY));
	EXPECT_EQ(sizeof(struct drm_apu_query), _IOC_SIZE(DRM_IOCTL_APU_QUERY));
	EXPECT_EQ((unsigned int)'d', _IOC_TYPE(DRM_IOCTL_APU_QUERY));
	/* The others follow in order; none is ever renumbered. */
	EXPECT_EQ((unsigned int)DRM_COMMAND_BASE + 1, _IOC_NR(DRM_IOCTL_APU_BO_CREATE));
	EXPECT_EQ((unsigned int)DRM_COMMAND_BASE + 2, _IOC_NR(DRM_IOCTL_APU_BO_INFO));
	EXPECT_EQ((unsigned int)DRM_COMMAND_BASE + 3, _IOC_NR(DRM_IOCTL_APU_BO_WAIT));
	EXPECT_EQ((unsigned int)_IOC_WRITE, _IOC_DIR(DRM_IOCTL_APU_BO_WAIT));
	EXPECT_EQ((unsigned int)DRM_COMMAND_BASE + 4, _IOC_NR(DRM_IOCTL_APU_SUBMIT));
	EXPECT_EQ((unsigned int)DRM_COMMAND_BASE + 5, _IOC_NR(DRM_IOCTL_APU_JOB_INFO));
	EXPECT_EQ(sizeof(struct drm_apu_job_info), _IOC_SIZE(DRM_IOCTL_APU_JOB_INFO));
}

TEST(hw_version_encoding)
{
	unsigned int v = APU_VERSION(1, 2, 3);

	EXPECT_EQ(0x010203u, v);
	EXPECT_EQ(1u, APU_VERSION_MAJOR(v));
	EXPECT_EQ(2u, APU_VERSION_MINOR(v));
	EXPECT_EQ(3u, APU_VERSION_PATCH(v));
	EXPECT_EQ(0, memcmp("APU1", &(uint32_t){ APU_ID_MAGIC }, 4));
}

/* ---- discovery over a fake sysfs tree ------------------------------------ */

FIXTURE(sysfs)
{
	char root[PATH_MAX];
	char accel[PATH_MAX];
};

static void mkdirs(struct __test_metadata *_metadata, const char *fmt, ...)
{
	char path[PATH_MAX], cmd[PATH_MAX + 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	ASSERT_EQ(0, system(cmd));
}

/* accelN whose parent device at bus @bus is driven by @driver. */
static void add_node(struct __test_metadata *_metadata, const char *root,
		     const char *name, const char *bus, const char *driver)
{
	char link[PATH_MAX], target[PATH_MAX];

	mkdirs(_metadata, "%s/devices/%s/accel/%s", root, bus, name);
	mkdirs(_metadata, "%s/bus/pci/drivers/%s", root, driver);
	snprintf(link, sizeof(link), "%s/devices/%s/driver", root, bus);
	snprintf(target, sizeof(target), "../../bus/pci/drivers/%s", driver);
	unlink(link);
	ASSERT_EQ(0, symlink(target, link));
	snprintf(link, sizeof(link), "%s/devices/%s/accel/%s/device", root, bus, name);
	snprintf(target, sizeof(target), "../../../%s", bus);
	ASSERT_EQ(0, symlink(target, link));
	snprintf(link, sizeof(link), "%s/class/accel/%s", root, name);
	snprintf(target, sizeof(target), "../../devices/%s/accel/%s", bus, name);
	ASSERT_EQ(0, symlink(target, link));
}

FIXTURE_SETUP(sysfs)
{
	strcpy(self->root, "/tmp/apu-sysfs-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->root));
	snprintf(self->accel, sizeof(self->accel), "%s/class/accel", self->root);
	mkdirs(_metadata, "%s", self->accel);
}

FIXTURE_TEARDOWN(sysfs)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->root);
	EXPECT_EQ(0, system(cmd));
}

TEST_F(sysfs, empty_class_has_no_devices)
{
	struct apu_device_entry e;
	size_t n = 99;

	ASSERT_EQ(0, apu_enumerate_in(self->accel, "/dev/accel", &e, 1, &n));
	EXPECT_EQ(0u, n);
}

TEST_F(sysfs, missing_class_has_no_devices)
{
	char missing[PATH_MAX + 8];
	size_t n = 99;

	snprintf(missing, sizeof(missing), "%s/nope", self->accel);
	ASSERT_EQ(0, apu_enumerate_in(missing, "/dev/accel", NULL, 0, &n));
	EXPECT_EQ(0u, n);
}

TEST_F(sysfs, finds_only_apu_nodes_in_minor_order)
{
	struct apu_device_entry e[4];
	size_t n = 0;

	add_node(_metadata, self->root, "accel10", "0000:00:0a.0", "apu");
	add_node(_metadata, self->root, "accel2", "0000:00:04.0", "apu");
	add_node(_metadata, self->root, "accel1", "0000:00:03.0", "intel_vpu");
	add_node(_metadata, self->root, "accel3", "0000:00:05.0", "apu_other");
	mkdirs(_metadata, "%s/accelX", self->accel);	/* not a node name */
	mkdirs(_metadata, "%s/card0", self->accel);

	ASSERT_EQ(0, apu_enumerate_in(self->accel, "/dev/accel", e, 4, &n));
	ASSERT_EQ(2u, n);
	EXPECT_EQ(2u, e[0].minor);
	EXPECT_STREQ("/dev/accel/accel2", e[0].node);
	EXPECT_STREQ("0000:00:04.0", e[0].bus_id);
	EXPECT_EQ(10u, e[1].minor);
	EXPECT_STREQ("/dev/accel/accel10", e[1].node);
	EXPECT_STREQ("0000:00:0a.0", e[1].bus_id);
}

TEST_F(sysfs, count_only_and_short_array)
{
	struct apu_device_entry e[2];
	size_t n = 0;

	add_node(_metadata, self->root, "accel0", "0000:00:04.0", "apu");
	add_node(_metadata, self->root, "accel1", "0000:00:05.0", "apu");
	add_node(_metadata, self->root, "accel2", "0000:00:06.0", "apu");

	ASSERT_EQ(0, apu_enumerate_in(self->accel, "/dev/accel", NULL, 0, &n));
	EXPECT_EQ(3u, n);

	memset(e, 0x5a, sizeof(e));
	ASSERT_EQ(0, apu_enumerate_in(self->accel, "/dev/accel", e, 1, &n));
	EXPECT_EQ(3u, n);
	EXPECT_STREQ("/dev/accel/accel0", e[0].node);
	/* Nothing is written past @max entries. */
	EXPECT_EQ(0x5a, ((unsigned char *)&e[1])[0]);
}

TEST_F(sysfs, node_without_driver_is_skipped)
{
	size_t n = 99;

	mkdirs(_metadata, "%s/devices/unbound/accel/accel0", self->root);
	ASSERT_EQ(0, symlink("../../devices/unbound/accel/accel0",
			     strcat(strcpy((char[PATH_MAX]){ 0 }, self->accel), "/accel0")));
	ASSERT_EQ(0, apu_enumerate_in(self->accel, "/dev/accel", NULL, 0, &n));
	EXPECT_EQ(0u, n);
}

TEST_F(sysfs, overlong_dev_path_is_an_error)
{
	char longdir[APU_PATH_MAX + 8];
	size_t n;

	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[sizeof(longdir) - 1] = '\0';
	add_node(_metadata, self->root, "accel0", "0000:00:04.0", "apu");
	EXPECT_EQ(-ENAMETOOLONG,
		  apu_enumerate_in(self->accel, longdir, NULL, 0, &n));
}

/* ---- API misuse returns errors ------------------------------------------- */

TEST(enumerate_bad_arguments)
{
	struct apu_device_entry e;
	size_t n;

	EXPECT_EQ(-EINVAL, apu_enumerate(NULL, 1, &n));
	EXPECT_EQ(-EINVAL, apu_enumerate(&e, 1, NULL));
	EXPECT_EQ(-EINVAL, apu_enumerate_in(NULL, "/dev/accel", &e, 1, &n));
}

TEST(open_bad_arguments)
{
	struct apu_device *dev = (void *)1;
	char longpath[APU_PATH_MAX + 1];

	EXPECT_EQ(-EINVAL, apu_device_open(NULL, &dev));
	EXPECT_EQ(-EINVAL, apu_device_open("/dev/accel/accel0", NULL));
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	EXPECT_EQ(-ENAMETOOLONG, apu_device_open(longpath, &dev));
	EXPECT_EQ(NULL, dev);
	EXPECT_EQ(-EINVAL, apu_device_open_index(0, NULL));
	EXPECT_EQ(-EINVAL, apu_device_get_info(NULL, &(struct apu_device_info){ 0 }, sizeof(struct apu_device_info)));
	EXPECT_EQ(-EINVAL, apu_device_fd(NULL));
	EXPECT_EQ(-EINVAL, apu_device_get_core(NULL, 0, &(struct apu_core_info){ 0 }, sizeof(struct apu_core_info)));
	EXPECT_STREQ("unknown", apu_core_class_name((enum apu_core_class)9));
	apu_device_close(NULL);
}

TEST(open_missing_node)
{
	struct apu_device *dev;

	EXPECT_EQ(-ENOENT, apu_device_open("/nonexistent/accel0", &dev));
	EXPECT_EQ(NULL, dev);
}

/* A node that is not a DRM device at all, and a directory. */
TEST(open_non_apu_node)
{
	struct apu_device *dev;

	EXPECT_EQ(-ENODEV, apu_device_open("/dev/null", &dev));
	EXPECT_EQ(NULL, dev);
	EXPECT_EQ(-EISDIR, apu_device_open("/tmp", &dev));
}

/* Open file descriptors do not leak on the error paths. */
TEST(open_failure_leaks_no_fd)
{
	struct apu_device *dev;
	int before, after, i;

	before = dup(0);
	close(before);
	for (i = 0; i < 64; i++)
		EXPECT_EQ(-ENODEV, apu_device_open("/dev/null", &dev));
	after = dup(0);
	close(after);
	EXPECT_EQ(before, after);
}

TEST(strerror_messages)
{
	const int codes[] = { 0, ENODEV, EPROTO, ENOENT, EACCES, EINVAL,
			      ENOMEM, ETIMEDOUT, EIO, 999999 };
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *neg = apu_strerror(-codes[i]);

		ASSERT_NE(NULL, neg);
		EXPECT_NE(0u, strlen(neg));
		EXPECT_STREQ(neg, apu_strerror(codes[i]));
	}
	EXPECT_NE(NULL, strstr(apu_strerror(-ENODEV), "apu"));
	EXPECT_STREQ("unknown error", apu_strerror(-999999));
}

TEST_HARNESS_MAIN
