// SPDX-License-Identifier: MIT
/*
 * Kernel memory (make bench, in the VM): unreclaimable slab and page
 * tables the driver keeps per open file (address space, scheduler
 * entities, job records) and per buffer (GEM object, mapping, device page
 * tables), from /proc/meminfo before and after opening FILES files (under
 * the driver's max_files_per_process, 64 by default) and creating 2000
 * small buffers. Buffer data pages (shmem) are reported
 * apart. Prints "APU-BENCH {json}".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <drm/apu_accel.h>

#define FILES 60

static long meminfo(const char *key)
{
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = atol(line + n + 1);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

static long kernel_kb(void)
{
	return meminfo("SUnreclaim") + meminfo("SReclaimable") + meminfo("PageTables") +
	       meminfo("KernelStack");
}

int main(void)
{
	static int fds[FILES];
	long k0, k1, k2, s1, s2;
	int fd;

	sync();
	k0 = kernel_kb();
	for (int i = 0; i < FILES; i++) {
		fds[i] = open("/dev/accel/accel0", O_RDWR);
		if (fds[i] < 0)
			return 1;
	}
	k1 = kernel_kb();
	fd = fds[0];
	s1 = meminfo("Shmem");
	for (int i = 0; i < 2000; i++) {
		struct drm_apu_bo_create c = { .size = 4096 };

		if (ioctl(fd, DRM_IOCTL_APU_BO_CREATE, &c))
			return 1;
	}
	k2 = kernel_kb();
	s2 = meminfo("Shmem");
	printf("APU-BENCH {\"bench\": \"kernel_memory\", \"per_file_kib\": %.2f, "
	       "\"per_buffer_kib\": %.3f, \"per_buffer_data_kib\": %.3f}\n",
	       (k1 - k0) / (double)FILES, (k2 - k1) / 2000.0, (s2 - s1) / 2000.0);
	for (int i = 0; i < FILES; i++)
		close(fds[i]);
	return 0;
}
