// SPDX-License-Identifier: MIT
/*
 * The program tests/vm/run_test.sh runs with "scripts/vm.sh run": what a
 * framework's test binary does, in small. It prints its user and groups and
 * its arguments, opens /dev/accel/accel0 and reads the device's identity
 * with DRM_IOCTL_APU_QUERY, writes a line to stderr and the file
 * run_probe.out into its working directory, then exits with the status
 * given as its first argument.
 *
 *   run_probe STATUS [ARG]...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "drm/apu_accel.h"

int main(int argc, char **argv)
{
	struct drm_apu_query_device dev;
	struct drm_apu_query q;
	gid_t groups[64];
	int fd, n, i, status;
	char id[5];
	FILE *f;

	if (argc < 2) {
		fprintf(stderr, "usage: %s STATUS [ARG]...\n", argv[0]);
		return 2;
	}
	status = atoi(argv[1]);

	printf("run_probe: uid %u gid %u groups", (unsigned int)getuid(), (unsigned int)getgid());
	n = getgroups(64, groups);
	for (i = 0; i < n; i++)
		printf(" %u", (unsigned int)groups[i]);
	printf("\n");
	for (i = 2; i < argc; i++)
		printf("run_probe: arg %d [%s]\n", i - 1, argv[i]);
	printf("run_probe: env APU_RUN_TEST_MSG [%s]\n",
	       getenv("APU_RUN_TEST_MSG") ? getenv("APU_RUN_TEST_MSG") : "(unset)");

	fd = open("/dev/accel/accel0", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("run_probe: open /dev/accel/accel0: %s\n", strerror(errno));
		return 1;
	}
	memset(&dev, 0, sizeof(dev));
	memset(&q, 0, sizeof(q));
	q.type = DRM_APU_QUERY_DEVICE;
	q.size = sizeof(dev);
	q.data = (uintptr_t)&dev;
	if (ioctl(fd, DRM_IOCTL_APU_QUERY, &q) < 0) {
		printf("run_probe: DRM_IOCTL_APU_QUERY: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	memcpy(id, &dev.hw_id, 4);
	id[4] = '\0';
	printf("run_probe: device %s, %u cores\n", id, dev.num_cores);
	fflush(stdout);
	fprintf(stderr, "run_probe: this line goes to stderr\n");

	f = fopen("run_probe.out", "w");
	if (!f) {
		printf("run_probe: cannot create run_probe.out: %s\n", strerror(errno));
		return 1;
	}
	fprintf(f, "written by uid %u in the guest: device %s\n", (unsigned int)getuid(), id);
	if (fclose(f) != 0) {
		printf("run_probe: writing run_probe.out: %s\n", strerror(errno));
		return 1;
	}
	printf("run_probe: exit %d\n", status);
	return status;
}
