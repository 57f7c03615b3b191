// SPDX-License-Identifier: MIT
/*
 * Device discovery. libdrm cannot list /dev/accel nodes, so we read sysfs:
 * /sys/class/accel/accelN/device/driver links to the driver that owns the
 * parent device, and accelN is the node /dev/accel/accelN.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apu_internal.h"

/* "accel12" -> 12; anything else -> -1. */
static long parse_minor(const char *name)
{
	const char *p = name + strlen("accel");
	char *end;
	long v;

	if (strncmp(name, "accel", 5) != 0 || *p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtol(p, &end, 10);
	if (errno || *end != '\0' || v > INT_MAX)
		return -1;
	return v;
}

/* Basename of the target of a symlink, into @buf. */
static int link_basename(const char *path, char *buf, size_t size)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *base;

	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= size)
		return -ENAMETOOLONG;
	memcpy(buf, base, strlen(base) + 1);
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct apu_device_entry *x = a, *y = b;

	return (x->minor > y->minor) - (x->minor < y->minor);
}

int apu_enumerate_in(const char *sysfs_accel, const char *dev_accel,
		     struct apu_device_entry *entries, size_t max,
		     size_t *count)
{
	struct apu_device_entry *found = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir;
	int ret = 0;

	if (!sysfs_accel || !dev_accel || !count || (max && !entries))
		return -EINVAL;
	*count = 0;

	dir = opendir(sysfs_accel);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;

	while ((de = readdir(dir))) {
		struct apu_device_entry e;
		char path[PATH_MAX], drv[64];
		long minor = parse_minor(de->d_name);

		if (minor < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/device/driver",
			 sysfs_accel, de->d_name);
		if (link_basename(path, drv, sizeof(drv)) ||
		    strcmp(drv, APU_DRIVER_NAME) != 0)
			continue;

		memset(&e, 0, sizeof(e));
		e.minor = (unsigned int)minor;
		if (snprintf(e.node, sizeof(e.node), "%s/%s", dev_accel,
			     de->d_name) >= (int)sizeof(e.node)) {
			ret = -ENAMETOOLONG;
			break;
		}
		snprintf(path, sizeof(path), "%s/%s/device", sysfs_accel,
			 de->d_name);
		if (link_basename(path, e.bus_id, sizeof(e.bus_id)))
			e.bus_id[0] = '\0';

		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			void *p = realloc(found, ncap * sizeof(*found));

			if (!p) {
				ret = -ENOMEM;
				break;
			}
			found = p;
			cap = ncap;
		}
		found[n++] = e;
	}
	closedir(dir);

	if (!ret) {
		if (n)
			qsort(found, n, sizeof(*found), cmp_entry);
		if (n && max)
			memcpy(entries, found, (n < max ? n : max) * sizeof(*found));
		*count = n;
	}
	free(found);
	return ret;
}

int apu_enumerate(struct apu_device_entry *entries, size_t max, size_t *count)
{
	return apu_enumerate_in(APU_SYSFS_ACCEL, APU_DEV_ACCEL, entries, max,
				count);
}
