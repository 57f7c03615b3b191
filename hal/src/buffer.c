// SPDX-License-Identifier: MIT
/* Buffers: BOs mapped for the CPU, or host memory on the CPU backend. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xf86drm.h>
#include <drm/apu_accel.h>

#include "apu_internal.h"

static int buffer_map(struct apu_buffer *b)
{
	struct drm_apu_bo_info info = { .handle = b->handle };

	if (drmIoctl(b->dev->fd, DRM_IOCTL_APU_BO_INFO, &info))
		return -errno;
	b->size = info.size;
	b->va = info.device_addr;
	b->cpu = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED, b->dev->fd,
		      info.mmap_offset);
	if (b->cpu == MAP_FAILED) {
		b->cpu = NULL;
		return -errno;
	}
	return 0;
}

int apu_buffer_create(struct apu_device *dev, size_t size, unsigned int flags,
		     struct apu_buffer **out)
{
	struct drm_apu_bo_create c = { .size = size };
	struct apu_buffer *b;
	int ret;

	if (!dev || !out || !size || (flags & ~APU_BUFFER_DEVICE_READ_ONLY))
		return -EINVAL;
	*out = NULL;
	if (size > dev->max_bo_size)
		return -E2BIG;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->dev = apu_device_ref(dev);
	if (dev->cpu) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);

		b->size = (size + page - 1) / page * page;
		b->cpu = aligned_alloc(page, b->size);
		if (!b->cpu) {
			apu_device_close(dev);
			free(b);
			return -ENOMEM;
		}
		memset(b->cpu, 0, b->size);
		/* Distinct, well-formed device addresses, as the driver gives. */
		b->va = atomic_fetch_add_explicit(&dev->next_fake_va, 0x100000000ull,
						  memory_order_relaxed) + 0x100000000ull;
		*out = b;
		return 0;
	}
	c.flags = flags & APU_BUFFER_DEVICE_READ_ONLY ? DRM_APU_BO_DEVICE_READ_ONLY : 0;
	if (drmIoctl(dev->fd, DRM_IOCTL_APU_BO_CREATE, &c)) {
		ret = -errno;
		apu_device_close(dev);
		free(b);
		return ret;
	}
	b->handle = c.handle;
	ret = buffer_map(b);
	if (ret) {
		apu_buffer_destroy(b);
		return ret;
	}
	*out = b;
	return 0;
}

void apu_buffer_destroy(struct apu_buffer *b)
{
	if (!b)
		return;
	if (b->dev->cpu) {
		free(b->cpu);
	} else {
		struct drm_gem_close c = { .handle = b->handle };

		if (b->cpu)
			munmap(b->cpu, b->size);
		drmIoctl(b->dev->fd, DRM_IOCTL_GEM_CLOSE, &c);
	}
	apu_device_close(b->dev);
	free(b);
}

void *apu_buffer_cpu(const struct apu_buffer *b)
{
	return b ? b->cpu : NULL;
}

size_t apu_buffer_size(const struct apu_buffer *b)
{
	return b ? b->size : 0;
}

uint64_t apu_buffer_device_addr(const struct apu_buffer *b)
{
	return b ? b->va : 0;
}

int apu_buffer_wait(struct apu_buffer *b, int64_t timeout_ns)
{
	struct drm_apu_bo_wait w;
	struct timespec ts;

	if (!b)
		return -EINVAL;
	if (b->dev->cpu)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	w = (struct drm_apu_bo_wait){
		.handle = b->handle,
		.timeout_ns = timeout_ns < 0 ? INT64_MAX :
			      (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + timeout_ns,
	};
	return drmIoctl(b->dev->fd, DRM_IOCTL_APU_BO_WAIT, &w) ? -errno : 0;
}

int apu_buffer_export_dmabuf(struct apu_buffer *b, int *fd)
{
	if (!b || !fd)
		return -EINVAL;
	if (b->dev->cpu)
		return -ENOTSUP;
	return drmPrimeHandleToFD(b->dev->fd, b->handle, DRM_CLOEXEC | DRM_RDWR, fd) ?
	       -errno : 0;
}

int apu_buffer_import_dmabuf(struct apu_device *dev, int fd, struct apu_buffer **out)
{
	struct apu_buffer *b;
	int ret;

	if (!dev || !out || fd < 0)
		return -EINVAL;
	*out = NULL;
	if (dev->cpu)
		return -ENOTSUP;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->dev = apu_device_ref(dev);
	if (drmPrimeFDToHandle(dev->fd, fd, &b->handle)) {
		ret = -errno;
		apu_device_close(dev);
		free(b);
		return ret;
	}
	ret = buffer_map(b);
	if (ret) {
		apu_buffer_destroy(b);
		return ret;
	}
	*out = b;
	return 0;
}
