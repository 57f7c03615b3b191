// SPDX-License-Identifier: MIT
/* Opening an APU and reading its identity. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xf86drm.h>
#include <drm/apu_accel.h>

#include "apu_internal.h"
#include "hw/apu_hw.h"

/* Size-negotiated DRM_IOCTL_APU_QUERY into a zeroed @buf of @size bytes. */
static int apu_query(int fd, uint32_t type, void *buf, uint32_t size)
{
	struct drm_apu_query q = {
		.type = type,
		.size = size,
		.data = (uintptr_t)buf,
	};

	memset(buf, 0, size);
	if (drmIoctl(fd, DRM_IOCTL_APU_QUERY, &q))
		return -errno;
	if (q.size == 0 || q.size > size)
		return -EPROTO;
	return 0;
}

/* The cores, read with DRM_APU_QUERY_CORES (size first, then the block). */
static int read_cores(struct apu_device *dev)
{
	struct drm_apu_query q = { .type = DRM_APU_QUERY_CORES };
	struct drm_apu_query_cores *h;
	uint32_t size, i;
	uint8_t *buf;
	int ret = 0;

	if (drmIoctl(dev->fd, DRM_IOCTL_APU_QUERY, &q))
		return -errno;
	size = q.size;
	if (size < sizeof(*h) || size > 1u << 20)
		return -EPROTO;
	buf = calloc(1, size);
	if (!buf)
		return -ENOMEM;
	ret = apu_query(dev->fd, DRM_APU_QUERY_CORES, buf, size);
	if (ret)
		goto out;
	h = (struct drm_apu_query_cores *)buf;
	/* Entries of older kernels end before fp16_macs_per_cycle. */
	if (h->num_cores == 0 ||
	    h->entry_size < offsetof(struct drm_apu_core_info, fp16_macs_per_cycle) ||
	    (uint64_t)h->entry_size * h->num_cores > size - sizeof(*h)) {
		ret = -EPROTO;
		goto out;
	}
	dev->cores = calloc(h->num_cores, sizeof(*dev->cores));
	if (!dev->cores) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < h->num_cores; i++) {
		struct drm_apu_core_info e;

		memset(&e, 0, sizeof(e));
		memcpy(&e, buf + sizeof(*h) + (size_t)i * h->entry_size,
		       h->entry_size < sizeof(e) ? h->entry_size : sizeof(e));
		dev->cores[i] = (struct apu_core_info){
			.index = e.core,
			.core_class = (enum apu_core_class)e.core_class,
			.macs_per_cycle = e.macs_per_cycle,
			.clock_mhz = e.clock_mhz,
			.sram_bytes = e.sram_bytes,
			.energy_fj_per_mac = e.energy_fj_per_mac,
			.idle_power_uw = e.idle_power_uw,
			.bytes_per_cycle = e.bytes_per_cycle,
			.fp16_macs_per_cycle = e.fp16_macs_per_cycle,
		};
	}
	dev->info.num_cores = h->num_cores;
out:
	free(buf);
	return ret;
}

int apu_device_open(const char *node, struct apu_device **out)
{
	struct drm_apu_query_device qd;
	struct apu_device *dev;
	drmVersionPtr ver;
	int ret;

	if (!node || !out)
		return -EINVAL;
	*out = NULL;
	if (strlen(node) >= APU_PATH_MAX)
		return -ENAMETOOLONG;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	atomic_init(&dev->refs, 1);
	dev->fd = open(node, O_RDWR | O_CLOEXEC);
	if (dev->fd < 0) {
		ret = -errno;
		goto err_free;
	}

	ver = drmGetVersion(dev->fd);
	if (!ver) {
		ret = -ENODEV;
		goto err_close;
	}
	if (!ver->name || strcmp(ver->name, APU_DRIVER_NAME) != 0) {
		drmFreeVersion(ver);
		ret = -ENODEV;
		goto err_close;
	}
	strcpy(dev->info.driver_name, APU_DRIVER_NAME);
	dev->info.driver_major = ver->version_major;
	dev->info.driver_minor = ver->version_minor;
	dev->info.driver_patch = ver->version_patchlevel;
	dev->bo_no_wait = ver->version_major > 0 || ver->version_minor >= 2;
	/* APU_JOB_WAIT=0: wait as with drivers before 0.3 (tests that path). */
	dev->job_wait = (ver->version_major > 0 || ver->version_minor >= 3) &&
			!(getenv("APU_JOB_WAIT") && !strcmp(getenv("APU_JOB_WAIT"), "0"));
	drmFreeVersion(ver);

	ret = apu_query(dev->fd, DRM_APU_QUERY_DEVICE, &qd, sizeof(qd));
	if (ret)
		goto err_close;
	dev->info.hw_id = qd.hw_id;
	dev->info.hw_major = (qd.hw_version >> 16) & 0xff;
	dev->info.hw_minor = (qd.hw_version >> 8) & 0xff;
	dev->info.hw_patch = qd.hw_version & 0xff;
	dev->info.fw_major = (qd.fw_version >> 16) & 0xff;
	dev->info.fw_minor = (qd.fw_version >> 8) & 0xff;
	dev->info.fw_patch = qd.fw_version & 0xff;
	dev->info.fw_abi_major = qd.fw_abi >> 16;
	dev->info.fw_abi_minor = qd.fw_abi & 0xffff;
	dev->max_bo_size = qd.max_bo_size ? qd.max_bo_size : (1ull << 30);
	/* APU_CAP_* are the UAPI's bits. */
	_Static_assert(APU_CAP_QUANT_OPS == DRM_APU_CAP_QUANT_OPS, "caps");
	_Static_assert(APU_CAP_WRITE_LIST == DRM_APU_CAP_WRITE_LIST, "caps");
	_Static_assert(APU_CAP_INT4_WEIGHTS == DRM_APU_CAP_INT4_WEIGHTS, "caps");
	_Static_assert(APU_CAP_SPARSE_WEIGHTS == DRM_APU_CAP_SPARSE_WEIGHTS, "caps");
	_Static_assert(APU_CAP_FP16 == DRM_APU_CAP_FP16, "caps");
	dev->info.caps = qd.caps;
	dev->out_pitch = dev->info.fw_abi_major == 1 && dev->info.fw_abi_minor >= 1;
	dev->quant_ops = dev->info.fw_abi_major == 1 && dev->info.fw_abi_minor >= 2 &&
			 (dev->info.caps & APU_CAP_QUANT_OPS);
	dev->int4 = dev->info.fw_abi_major == 1 && dev->info.fw_abi_minor >= 4 &&
		    (dev->info.caps & APU_CAP_INT4_WEIGHTS);
	dev->sparse = dev->info.fw_abi_major == 1 && dev->info.fw_abi_minor >= 5 &&
		      (dev->info.caps & APU_CAP_SPARSE_WEIGHTS);
	dev->fp16 = dev->info.fw_abi_major == 1 && dev->info.fw_abi_minor >= 6 &&
		    (dev->info.caps & APU_CAP_FP16);
	dev->info.max_buffer_size = dev->max_bo_size;
	dev->info.max_contexts = qd.max_contexts;
	dev->info.ring_entries = qd.ring_entries;
	memcpy(dev->info.node, node, strlen(node) + 1);	/* length checked above */

	ret = read_cores(dev);
	if (ret)
		goto err_close;

	*out = dev;
	return 0;

err_close:
	close(dev->fd);
err_free:
	free(dev->cores);
	free(dev);
	return ret;
}

int apu_device_open_index(unsigned int index, struct apu_device **out)
{
	struct apu_device_entry *entries;
	size_t count;
	int ret;

	const char *backend = getenv("APU_BACKEND");

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (backend && strcmp(backend, "cpu") == 0)
		return index == 0 ? apu_device_open_cpu(out) : -ENODEV;
	ret = apu_enumerate(NULL, 0, &count);
	if (ret)
		return ret;
	if (index >= count)
		return -ENODEV;
	entries = calloc(count, sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	ret = apu_enumerate(entries, count, &count);
	if (!ret)
		ret = index < count ? apu_device_open(entries[index].node, out) : -ENODEV;
	free(entries);
	return ret;
}

_Static_assert(APU_CORE_BIG == APU_CLASS_BIG && APU_CORE_LITTLE == APU_CLASS_LITTLE &&
	       APU_CORE_TINY == APU_CLASS_TINY, "libapu's core classes are the device's");

/* The emulated APU's default layout (include/hw/apu_hw.h, docs/hw.md). */
#define CLASS_FIGURES(C)                                                          \
	[APU_CLASS_##C] = { 0, (enum apu_core_class)APU_CLASS_##C,                 \
			    APU_##C##_MACS_PER_CYCLE, APU_##C##_CLOCK_MHZ,         \
			    APU_##C##_SRAM_BYTES, APU_##C##_ENERGY_FJ_PER_MAC,     \
			    APU_##C##_IDLE_POWER_UW, APU_##C##_BYTES_PER_CYCLE,     \
			    APU_##C##_FP16_MACS_PER_CYCLE }
static const struct apu_core_info cpu_classes[] = {
	CLASS_FIGURES(BIG),
	CLASS_FIGURES(LITTLE),
	CLASS_FIGURES(TINY),
};
#undef CLASS_FIGURES

#define CPU_CORES (APU_DEFAULT_BIG_CORES + APU_DEFAULT_LITTLE_CORES + APU_DEFAULT_TINY_CORES)

static void cpu_core_info(unsigned int i, struct apu_core_info *c)
{
	unsigned int cls = i < APU_DEFAULT_BIG_CORES ? APU_CLASS_BIG :
			   i < APU_DEFAULT_BIG_CORES + APU_DEFAULT_LITTLE_CORES ?
			   APU_CLASS_LITTLE : APU_CLASS_TINY;

	*c = cpu_classes[cls];
	c->index = i;
}

int apu_device_open_cpu(struct apu_device **out)
{
	struct apu_device *dev;

	if (!out)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	atomic_init(&dev->refs, 1);
	dev->cores = calloc(CPU_CORES, sizeof(*dev->cores));
	if (!dev->cores) {
		free(dev);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < CPU_CORES; i++)
		cpu_core_info(i, &dev->cores[i]);
	dev->fd = -1;
	dev->cpu = true;
	dev->max_bo_size = 1ull << 30;
	dev->out_pitch = true;
	dev->quant_ops = true;
	dev->int4 = true;
	dev->sparse = true;
	dev->fp16 = true;
	dev->info.caps = APU_CAP_QUANT_OPS | APU_CAP_INT4_WEIGHTS | APU_CAP_SPARSE_WEIGHTS |
			 APU_CAP_FP16;
	strcpy(dev->info.node, "cpu");
	strcpy(dev->info.driver_name, "cpu-reference");
	dev->info.hw_id = 0x31555041;
	dev->info.hw_major = 1;
	dev->info.num_cores = CPU_CORES;
	dev->info.max_buffer_size = dev->max_bo_size;
	*out = dev;
	return 0;
}

int apu_device_is_cpu(const struct apu_device *dev)
{
	return dev && dev->cpu;
}

struct apu_device *apu_device_ref(struct apu_device *dev)
{
	if (dev)
		atomic_fetch_add_explicit(&dev->refs, 1, memory_order_relaxed);
	return dev;
}

void apu_device_close(struct apu_device *dev)
{
	if (!dev || atomic_fetch_sub_explicit(&dev->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (dev->fd >= 0)
		close(dev->fd);
	free(dev->cores);
	free(dev);
}

int apu_device_fd(const struct apu_device *dev)
{
	return dev ? dev->fd : -EINVAL;
}

int apu_copy_sized(void *dst, size_t dsize, const void *src, size_t ssize, size_t min)
{
	if (!dst || dsize < min)
		return -EINVAL;
	memcpy(dst, src, dsize < ssize ? dsize : ssize);
	if (dsize > ssize)
		memset((char *)dst + ssize, 0, dsize - ssize);
	return 0;
}

int apu_copy_sized_in(void *dst, size_t dsize, const void *src, size_t ssize, size_t min)
{
	if (!src || ssize < min)
		return -EINVAL;
	if (ssize > 4096)
		return -E2BIG;	/* no struct of libapu is near that size */
	for (size_t i = dsize; i < ssize; i++)
		if (((const unsigned char *)src)[i])
			return -E2BIG;	/* a field this libapu does not know */
	memcpy(dst, src, ssize < dsize ? ssize : dsize);
	return 0;
}

int apu_device_get_core(const struct apu_device *dev, unsigned int index,
			struct apu_core_info *info, size_t size)
{
	if (!dev || index >= dev->info.num_cores)
		return -EINVAL;
	return apu_copy_sized(info, size, &dev->cores[index], sizeof(dev->cores[index]),
			      APU_CORE_INFO_SIZE_1_0);
}

const char *apu_core_class_name(enum apu_core_class core_class)
{
	static const char *const names[] = {
		[APU_CLASS_BIG] = APU_CLASS_NAME_BIG,
		[APU_CLASS_LITTLE] = APU_CLASS_NAME_LITTLE,
		[APU_CLASS_TINY] = APU_CLASS_NAME_TINY,
	};

	if ((unsigned int)core_class >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[core_class];
}

int apu_device_get_info(const struct apu_device *dev,
			struct apu_device_info *info, size_t size)
{
	if (!dev)
		return -EINVAL;
	return apu_copy_sized(info, size, &dev->info, sizeof(dev->info),
			      APU_DEVICE_INFO_SIZE_1_0);
}
