// SPDX-License-Identifier: MIT
/*
 * HAL overhead (make bench, under callgrind): the userspace instructions of
 * one run of the smallest network (one job) through libapu's device path,
 * with the kernel replaced by a stand-in: this file defines the libdrm
 * calls libapu makes (drmIoctl, drmSyncobj*, ...) and answers them as the
 * driver would, so that callgrind counts libapu's own work, deterministically.
 * The node is /dev/zero, so that libapu's mmap() of buffers works.
 *
 *   valgrind --tool=callgrind --collect-atstart=no \
 *            --toggle-collect=apu_network_run hal_overhead RUNS
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xf86drm.h>

#include <apu/apu.h>
#include <drm/apu_accel.h>

#include "bench_net.h"

static uint32_t next_handle = 1;
static uint64_t next_job = 1;

int drmIoctl(int fd, unsigned long request, void *arg)
{
	(void)fd;
	switch (request) {
	case DRM_IOCTL_APU_QUERY: {
		struct drm_apu_query *q = arg;

		if (q->type == DRM_APU_QUERY_DEVICE) {
			struct drm_apu_query_device d = { .hw_id = 0x31555041, .hw_version = 0x10000,
							  .fw_abi = 0x10001, .num_cores = 6,
							  .max_bo_size = 1 << 30 };
			if (q->size)
				memcpy((void *)(uintptr_t)q->data, &d, q->size < sizeof(d) ? q->size : sizeof(d));
			q->size = sizeof(d);
		} else {
			static const uint32_t cls[6] = { 0, 0, 1, 1, 1, 2 };
			uint8_t buf[8 + 6 * sizeof(struct drm_apu_core_info)];
			struct drm_apu_query_cores *h = (void *)buf;
			struct drm_apu_core_info *e = (void *)(buf + 8);

			h->num_cores = 6;
			h->entry_size = sizeof(*e);
			for (int i = 0; i < 6; i++)
				e[i] = (struct drm_apu_core_info){ i, cls[i], 256, 800, 1 << 18, 600, 5000, 32 };
			if (q->size)
				memcpy((void *)(uintptr_t)q->data, buf, q->size < sizeof(buf) ? q->size : sizeof(buf));
			q->size = sizeof(buf);
		}
		return 0;
	}
	case DRM_IOCTL_APU_BO_CREATE: {
		struct drm_apu_bo_create *c = arg;

		c->handle = next_handle++;
		c->size = (c->size + 4095) & ~4095ull;
		c->device_addr = 0x100000ull * c->handle;
		return 0;
	}
	case DRM_IOCTL_APU_BO_INFO: {
		struct drm_apu_bo_info *i = arg;

		i->size = 1 << 20;
		i->device_addr = 0x100000ull * i->handle;
		i->mmap_offset = 0;
		return 0;
	}
	case DRM_IOCTL_APU_SUBMIT: {
		struct drm_apu_submit *s = arg;

		for (uint32_t k = 0; k < s->num_jobs; k++) {
			struct drm_apu_job *j = (void *)(uintptr_t)(s->jobs + (uint64_t)k * s->job_size);

			j->job_id = next_job++;
			j->core = j->target & 0xff;
		}
		return 0;
	}
	case DRM_IOCTL_APU_JOB_INFO: {
		struct drm_apu_job_info *i = arg;
		uint64_t id = i->job_id;

		memset(i, 0, sizeof(*i));
		i->job_id = id;
		i->state = DRM_APU_JOB_DONE;
		i->cycles = 300;
		i->macs = 64;
		return 0;
	}
	default:
		return 0;	/* GEM_CLOSE, JOB_WAIT (no job failed) and the like */
	}
}

drmVersionPtr drmGetVersion(int fd)
{
	static char name[] = "apu";
	drmVersionPtr v = calloc(1, sizeof(*v));

	(void)fd;
	if (v) {
		v->name = name;
		v->name_len = 3;
		v->version_minor = 3;	/* driver 0.3: JOB_WAIT (answered by the default case) */
	}
	return v;
}

void drmFreeVersion(drmVersionPtr v)
{
	free(v);
}

int drmSyncobjCreate(int fd, uint32_t flags, uint32_t *handle)
{
	(void)fd;
	(void)flags;
	*handle = next_handle++;
	return 0;
}

int drmSyncobjDestroy(int fd, uint32_t handle)
{
	(void)fd;
	(void)handle;
	return 0;
}

int drmSyncobjWait(int fd, uint32_t *handles, unsigned num, int64_t timeout, unsigned flags,
		   uint32_t *first)
{
	(void)fd; (void)handles; (void)num; (void)timeout; (void)flags; (void)first;
	return 0;
}

int drmSyncobjImportSyncFile(int fd, uint32_t handle, int sync_fd)
{
	(void)fd; (void)handle; (void)sync_fd;
	return 0;
}

int drmSyncobjExportSyncFile(int fd, uint32_t handle, int *sync_fd)
{
	(void)fd; (void)handle;
	*sync_fd = -1;
	return -ENOTSUP;
}

int drmPrimeHandleToFD(int fd, uint32_t handle, uint32_t flags, int *prime_fd)
{
	(void)fd; (void)handle; (void)flags; (void)prime_fd;
	return -ENOTSUP;
}

int drmPrimeFDToHandle(int fd, int prime_fd, uint32_t *handle)
{
	(void)fd; (void)prime_fd; (void)handle;
	return -ENOTSUP;
}

int main(int argc, char **argv)
{
	struct apu_compile_options o = { .priority = 1, .core_mask = 1 };
	int runs = argc > 1 ? atoi(argv[1]) : 1000;
	struct apu_device *dev;
	struct apu_network *net = NULL;

	if (apu_device_open("/dev/zero", &dev) || !(net = bench_tiny_net(dev, &o))) {
		fprintf(stderr, "hal_overhead: set-up failed\n");
		return 1;
	}
	for (int i = 0; i < runs; i++)
		if (apu_network_run(net, NULL))
			return 1;
	printf("%d runs\n", runs);
	apu_network_destroy(net);
	apu_device_close(dev);
	return 0;
}
