/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the guest driver tests: raw ioctls (no libapu), buffers,
 * command buffers, a plain reference convolution, debugfs fault injection.
 * Header-only; every function returns 0 or a negative errno.
 */
#ifndef APU_GUEST_H
#define APU_GUEST_H

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xf86drm.h>

#include <drm/apu_accel.h>
#include <hw/apu_cmd.h>
#include <hw/apu_fw.h>

static inline const char *apu_node(void)
{
	const char *n = getenv("APU_NODE");

	return n ? n : "/dev/accel/accel0";
}

static inline int apu_open(void)
{
	return open(apu_node(), O_RDWR | O_CLOEXEC);
}

static inline int apu_ioctl(int fd, unsigned long req, void *arg)
{
	return drmIoctl(fd, req, arg) ? -errno : 0;
}

/* A BO of the caller, mapped for the CPU. */
struct apu_buf {
	uint32_t handle;
	uint64_t size;
	uint64_t va;
	void *cpu;
};

static inline int apu_buf_new(int fd, uint64_t size, uint32_t flags,
			      struct apu_buf *b)
{
	struct drm_apu_bo_create c = { .size = size, .flags = flags };
	struct drm_apu_bo_info i = { 0 };
	int ret = apu_ioctl(fd, DRM_IOCTL_APU_BO_CREATE, &c);

	if (ret)
		return ret;
	i.handle = c.handle;
	ret = apu_ioctl(fd, DRM_IOCTL_APU_BO_INFO, &i);
	if (ret)
		return ret;
	b->handle = c.handle;
	b->size = c.size;
	b->va = c.device_addr;
	b->cpu = mmap(NULL, c.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		      i.mmap_offset);
	return b->cpu == MAP_FAILED ? -errno : 0;
}

static inline void apu_buf_free(int fd, struct apu_buf *b)
{
	struct drm_gem_close c = { .handle = b->handle };

	if (b->cpu && b->cpu != MAP_FAILED)
		munmap(b->cpu, b->size);
	drmIoctl(fd, DRM_IOCTL_GEM_CLOSE, &c);
	memset(b, 0, sizeof(*b));
}

static inline int apu_gem_close(int fd, uint32_t handle)
{
	struct drm_gem_close c = { .handle = handle };

	return apu_ioctl(fd, DRM_IOCTL_GEM_CLOSE, &c);
}

/* Write a command buffer header for @n ops at @p. */
static inline void *apu_cmd_header(void *p, uint16_t n)
{
	struct apu_cmd_header *h = p;

	memset(h, 0, sizeof(*h));
	h->magic = APU_CMD_MAGIC;
	h->version = APU_CMD_VERSION;
	h->num_ops = n;
	return h + 1;
}

static inline size_t apu_cmd_size(uint16_t n)
{
	return sizeof(struct apu_cmd_header) + (size_t)n * APU_OP_SIZE;
}

/*
 * A small convolution: in h x w x ic, k x k, stride 1, pad k/2 (same
 * size), oc outputs, per-channel requantization, random data.
 */
struct apu_conv {
	ApuConvParams p;
	uint64_t in_va, w_va, bias_va, mult_va, shift_va, out_va;
	int8_t *in, *w;
	int32_t *bias, *mult, *shift;
};

static inline void apu_op_conv(void *op, const struct apu_conv *c)
{
	struct apu_op_conv2d *o = op;

	memset(o, 0, APU_OP_SIZE);
	o->opcode = APU_OP_CONV2D;
	o->in_h = c->p.in_h;
	o->in_w = c->p.in_w;
	o->in_c = c->p.in_c;
	o->out_h = c->p.out_h;
	o->out_w = c->p.out_w;
	o->out_c = c->p.out_c;
	o->k_h = c->p.k_h;
	o->k_w = c->p.k_w;
	o->stride_h = c->p.stride_h;
	o->stride_w = c->p.stride_w;
	o->dil_h = c->p.dil_h;
	o->dil_w = c->p.dil_w;
	o->pad_top = c->p.pad_top;
	o->pad_left = c->p.pad_left;
	o->groups = c->p.groups;
	o->in_zp = c->p.in_zp;
	o->out_zp = c->p.out_zp;
	o->act_min = c->p.act_min;
	o->act_max = c->p.act_max;
	o->input = c->in_va;
	o->weights = c->w_va;
	o->bias = c->bias_va;
	o->mult = c->mult_va;
	o->shift = c->shift_va;
	o->output = c->out_va;
}

/* The plain reference: TFLite int8 convolution, double rounding. */
static inline void apu_ref_conv(const ApuConvParams *p, const int8_t *in,
				const int8_t *w, const int32_t *bias,
				const int32_t *mult, const int32_t *shift,
				int8_t *out)
{
	int icg = p->in_c / p->groups, ocg = p->out_c / p->groups;

	for (int oy = 0; oy < p->out_h; oy++)
		for (int ox = 0; ox < p->out_w; ox++)
			for (int oc = 0; oc < p->out_c; oc++) {
				int g = oc / ocg;
				int32_t acc = bias ? bias[oc] : 0, v;

				for (int ky = 0; ky < p->k_h; ky++)
					for (int kx = 0; kx < p->k_w; kx++)
						for (int i = 0; i < icg; i++) {
							int iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
							int ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
							int ic = g * icg + i;

							if (iy < 0 || ix < 0 || iy >= p->in_h || ix >= p->in_w)
								continue;
							acc += (in[(iy * p->in_w + ix) * p->in_c + ic] - p->in_zp) *
							       w[((oc * p->k_h + ky) * p->k_w + kx) * icg + i];
						}
				v = apu_mbqm(acc, mult[oc], shift[oc]) + p->out_zp;
				v = v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v;
				out[(oy * p->out_w + ox) * p->out_c + oc] = (int8_t)v;
			}
}

/*
 * Fill @c for a same-size k x k convolution with random data placed in
 * @b (layout: in, weights, bias, mult, shift, then the output at @out_off).
 */
static inline void apu_conv_setup(struct apu_conv *c, struct apu_buf *b,
				  int h, int w, int ic, int oc, int k,
				  uint64_t out_off, unsigned int seed)
{
	uint8_t *base = b->cpu;
	size_t in_n = (size_t)h * w * ic, w_n = (size_t)oc * k * k * ic;
	size_t off = 0;

	srand(seed);
	memset(c, 0, sizeof(*c));
	c->p = (ApuConvParams){
		.in_h = h, .in_w = w, .in_c = ic, .out_h = h, .out_w = w,
		.out_c = oc, .k_h = k, .k_w = k, .stride_h = 1, .stride_w = 1,
		.dil_h = 1, .dil_w = 1, .pad_top = k / 2, .pad_left = k / 2,
		.groups = 1, .in_zp = 3, .out_zp = -5, .act_min = -128,
		.act_max = 127,
	};
#define APU_PLACE(field, ptr, bytes) do { \
		c->field = b->va + off; ptr = (void *)(base + off); \
		off += ((bytes) + 63) & ~(size_t)63; } while (0)
	APU_PLACE(in_va, c->in, in_n);
	APU_PLACE(w_va, c->w, w_n);
	APU_PLACE(bias_va, c->bias, oc * 4);
	APU_PLACE(mult_va, c->mult, oc * 4);
	APU_PLACE(shift_va, c->shift, oc * 4);
#undef APU_PLACE
	for (size_t i = 0; i < in_n; i++)
		c->in[i] = (int8_t)(rand() & 0xff);
	for (size_t i = 0; i < w_n; i++)
		c->w[i] = (int8_t)(rand() & 0xff);
	for (int i = 0; i < oc; i++) {
		c->bias[i] = rand() % 2001 - 1000;
		c->mult[i] = (1 << 30) + rand() % (1 << 29);
		c->shift[i] = -7 - rand() % 3;
	}
	c->out_va = b->va + out_off;
}

/* Submit one job; returns its id in *id (may be NULL). */
static inline int apu_submit1(int fd, uint32_t cmd_handle, uint32_t cmd_off,
			      uint32_t cmd_size, uint32_t target,
			      const struct drm_apu_job_bo *bos, uint32_t nbos,
			      const uint32_t *in, uint32_t nin, uint32_t out,
			      uint64_t *id, uint32_t *core)
{
	struct drm_apu_job j = {
		.cmdbuf_handle = cmd_handle,
		.cmdbuf_offset = cmd_off,
		.cmdbuf_size = cmd_size,
		.target = target,
		.priority = DRM_APU_JOB_PRIORITY_NORMAL,
		.bos = (uintptr_t)bos,
		.num_bos = nbos,
		.in_syncobjs = (uintptr_t)in,
		.num_in_syncobjs = nin,
		.out_syncobj = out,
	};
	struct drm_apu_submit s = {
		.jobs = (uintptr_t)&j,
		.num_jobs = 1,
		.job_size = sizeof(j),
	};
	int ret = apu_ioctl(fd, DRM_IOCTL_APU_SUBMIT, &s);

	if (!ret && id)
		*id = j.job_id;
	if (!ret && core)
		*core = j.core;
	return ret;
}

static inline int64_t apu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wait for a syncobj, at most @ms milliseconds. */
static inline int apu_sync_wait(int fd, uint32_t syncobj, int ms)
{
	int ret = drmSyncobjWait(fd, &syncobj, 1, apu_now_ns() + (int64_t)ms * 1000000,
				 0, NULL);

	return ret ? (errno ? -errno : ret) : 0;
}

/* DRM_APU_QUERY_DEVICE into *@d (zeroed first): 0 or a negative errno. */
static inline int apu_query_device(int fd, struct drm_apu_query_device *d)
{
	struct drm_apu_query q = {
		.type = DRM_APU_QUERY_DEVICE,
		.size = sizeof(*d),
		.data = (uintptr_t)d,
	};

	memset(d, 0, sizeof(*d));
	return apu_ioctl(fd, DRM_IOCTL_APU_QUERY, &q);
}

/*
 * The device's core layout, from DRM_APU_QUERY_CORES: the number of cores
 * (1 to 8), or a negative errno; each core's class in @cls when not NULL.
 */
static inline int apu_core_classes(int fd, uint32_t cls[8])
{
	unsigned char buf[8 + 8 * 64];
	struct drm_apu_query_cores h;
	struct drm_apu_query q = {
		.type = DRM_APU_QUERY_CORES,
		.size = sizeof(buf),
		.data = (uintptr_t)buf,
	};
	int ret = apu_ioctl(fd, DRM_IOCTL_APU_QUERY, &q);

	if (ret)
		return ret;
	memcpy(&h, buf, sizeof(h));
	if (h.num_cores < 1 || h.num_cores > 8 ||
	    h.entry_size < sizeof(struct drm_apu_core_info) || h.entry_size > 64)
		return -EPROTO;
	for (uint32_t i = 0; cls && i < h.num_cores; i++) {
		struct drm_apu_core_info c;

		memcpy(&c, buf + sizeof(h) + i * h.entry_size, sizeof(c));
		cls[i] = c.core_class;
	}
	return (int)h.num_cores;
}

static inline int apu_job_info(int fd, uint64_t id, struct drm_apu_job_info *i)
{
	memset(i, 0, sizeof(*i));
	i->job_id = id;
	return apu_ioctl(fd, DRM_IOCTL_APU_JOB_INFO, i);
}

/*
 * The small jobs below: a 4x4x8 convolution whose data (input, weights,
 * quantization, under 1 KiB) and output (at APU_SMALL_OUT_OFF) fit in a
 * two-page data BO. Two pages, not one: a BO's page allocation that fails
 * after a first page succeeded is reached too (the fault campaign), and
 * every page costs time under the debug kernel.
 */
#define APU_SMALL_DATA_BYTES	(2 * 4096)
#define APU_SMALL_OUT_OFF	4096

/*
 * One small convolution in @fd on @core, in fresh BOs freed afterwards:
 * output at @out_va (0: its place in the data BO, checked against the
 * reference, -EIO when it differs), in the BO @out_handle names written
 * (0: none); the job's record in *@info (may be NULL).
 */
static inline int apu_run_small_into(int fd, uint32_t core, uint64_t out_va,
				     uint32_t out_handle, struct drm_apu_job_info *info)
{
	struct apu_buf cmd, data;
	struct apu_conv c;
	struct drm_apu_job_bo bos[2];
	int8_t ref[4 * 4 * 8];
	uint32_t s = 0;
	uint64_t id = 0;
	int ret;

	ret = apu_buf_new(fd, 4096, 0, &cmd);
	if (ret)
		return ret;
	ret = apu_buf_new(fd, APU_SMALL_DATA_BYTES, 0, &data);
	if (ret) {
		apu_buf_free(fd, &cmd);
		return ret;
	}
	apu_conv_setup(&c, &data, 4, 4, 8, 8, 3, APU_SMALL_OUT_OFF, core);
	apu_ref_conv(&c.p, c.in, c.w, c.bias, c.mult, c.shift, ref);
	if (out_va)
		c.out_va = out_va;
	apu_op_conv(apu_cmd_header(cmd.cpu, 1), &c);
	bos[0].handle = data.handle;
	bos[0].flags = DRM_APU_JOB_BO_WRITE;
	bos[1].handle = out_handle;
	bos[1].flags = DRM_APU_JOB_BO_WRITE;
	ret = drmSyncobjCreate(fd, 0, &s) ? -errno : 0;
	if (!ret)
		ret = apu_submit1(fd, cmd.handle, 0, apu_cmd_size(1), DRM_APU_TARGET_CORE(core),
				  bos, out_handle ? 2 : 1, NULL, 0, s, &id, NULL);
	if (!ret)
		ret = apu_sync_wait(fd, s, 30000);
	if (!ret && info)
		ret = apu_job_info(fd, id, info);
	if (!ret && !out_va && memcmp(ref, (uint8_t *)data.cpu + APU_SMALL_OUT_OFF, sizeof(ref)))
		ret = -EIO;
	if (s)
		drmSyncobjDestroy(fd, s);
	/* CPU mappings hold the file (and the module) too: unmap. */
	apu_buf_free(fd, &cmd);
	apu_buf_free(fd, &data);
	return ret;
}

static inline int apu_run_small(int fd, uint32_t core, uint64_t out_va,
				struct drm_apu_job_info *info)
{
	return apu_run_small_into(fd, core, out_va, 0, info);
}

/* Field @name of /proc/meminfo ("MemAvailable", "Shmem"), in KiB; -1 if none. */
static inline long apu_meminfo_kib(const char *name)
{
	char line[256], fmt[64];
	long kib = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	snprintf(fmt, sizeof(fmt), "%s: %%ld kB", name);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/*
 * A small job in fresh BOs of @fd: a 4x4x8 convolution (seed @seed) in
 * @cmd, its data and output (at APU_SMALL_OUT_OFF) in @data named written in @bo,
 * its reference output in @ref (4 * 4 * 8 bytes). 0 or a negative errno.
 */
static inline int apu_small_job(int fd, struct apu_buf *cmd, struct apu_buf *data,
				struct apu_conv *c, struct drm_apu_job_bo *bo,
				int8_t *ref, unsigned int seed)
{
	int ret = apu_buf_new(fd, 4096, 0, cmd);

	if (!ret)
		ret = apu_buf_new(fd, APU_SMALL_DATA_BYTES, 0, data);
	if (ret)
		return ret;
	apu_conv_setup(c, data, 4, 4, 8, 8, 3, APU_SMALL_OUT_OFF, seed);
	apu_ref_conv(&c->p, c->in, c->w, c->bias, c->mult, c->shift, ref);
	apu_op_conv(apu_cmd_header(cmd->cpu, 1), c);
	bo->handle = data->handle;
	bo->flags = DRM_APU_JOB_BO_WRITE;
	return 0;
}

/* Run a shell command; its exit status, or -1. */
static inline int apu_sh(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Wait up to @tenths tenths of a second for the accel node; 1 once there. */
static inline int apu_node_appears(int tenths)
{
	for (int i = 0; i < tenths; i++) {
		if (access(apu_node(), F_OK) == 0)
			return 1;
		usleep(100000);
	}
	return 0;
}

/* Write @text to the file @path. */
static inline int apu_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The debugfs directory of accel0, with a trailing slash. */
static inline const char *apu_debugfs_dir(void)
{
	static char path[512];
	char link[256];
	ssize_t n = readlink("/sys/class/accel/accel0/device", link, sizeof(link) - 1);

	if (n < 0)
		return NULL;
	link[n] = 0;
	snprintf(path, sizeof(path), "/sys/kernel/debug/accel/%s/", basename(link));
	return path;
}

static inline int apu_debugfs_write(const char *file, const char *text)
{
	char path[600];
	const char *dir = apu_debugfs_dir();

	if (!dir)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s%s", dir, file);
	return apu_write_file(path, text);
}

/* Read @file of debugfs into @buf (NUL-terminated). */
static inline int apu_debugfs_read(const char *file, char *buf, size_t size)
{
	char path[600];
	const char *dir = apu_debugfs_dir();
	ssize_t n;
	int fd;

	if (!dir)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s%s", dir, file);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

/* Columns of debugfs "cores" (after the header line, one line a core). */
enum {
	APU_CORES_STATE = 2,
	APU_CORES_HEAD = 4,
	APU_CORES_TAIL = 5,
	APU_CORES_JOBS = 7,
	APU_CORES_INFLIGHT = 10,
	APU_CORES_RESETS = 11,
	APU_CORES_POWER_ONS = 12,
	APU_CORES_POSTED = 13,
};

/* Field @col (0-based, APU_CORES_*) of core @core's line in debugfs "cores". */
static inline int apu_core_field(int core, int col, char *out, size_t size)
{
	char buf[4096], *line, *save = NULL;
	int n = 0, ret = apu_debugfs_read("cores", buf, sizeof(buf));

	if (ret)
		return ret;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tok, *s2 = NULL;
		int c = 0;

		if (n++ != core + 1)
			continue;
		for (tok = strtok_r(line, " ", &s2); tok; tok = strtok_r(NULL, " ", &s2), c++)
			if (c == col) {
				snprintf(out, size, "%s", tok);
				return 0;
			}
	}
	return -ENOENT;
}

/* A numeric field of debugfs "cores" (APU_CORES_*), or a negative errno. */
static inline long long apu_core_counter(int core, int col)
{
	char v[32];
	int ret = apu_core_field(core, col, v, sizeof(v));

	return ret ? ret : strtoll(v, NULL, 10);
}

/* The value of the driver's module parameter @name, or a negative errno. */
static inline long long apu_module_param(const char *name)
{
	char path[256], v[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/module/apu/parameters/%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, v, sizeof(v) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	v[n] = 0;
	return strtoll(v, NULL, 10);
}

#endif /* APU_GUEST_H */
