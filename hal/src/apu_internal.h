/* SPDX-License-Identifier: MIT */
/* Internal declarations of libapu; not installed. */
#ifndef APU_INTERNAL_H
#define APU_INTERNAL_H

#include "apu/apu.h"

/* Default places of the accel class in sysfs and of the nodes in /dev. */
#define APU_SYSFS_ACCEL "/sys/class/accel"
#define APU_DEV_ACCEL   "/dev/accel"
/* Kernel driver name, as in sysfs and DRM_IOCTL_VERSION. */
#define APU_DRIVER_NAME "apu"

/*
 * apu_enumerate() with the sysfs class folder and the device folder given,
 * so that tests can run it over a fake tree. Hidden from the shared library.
 */
int apu_enumerate_in(const char *sysfs_accel, const char *dev_accel,
		     struct apu_device_entry *entries, size_t max,
		     size_t *count);

#include <stdatomic.h>
#include <stdbool.h>

/* An opened APU, or the CPU backend (fd -1). */
struct apu_device {
	/* References: the opener's, each network's and each buffer's. */
	atomic_uint refs;
	int fd;
	bool cpu;
	struct apu_device_info info;
	struct apu_core_info *cores;	/* info.num_cores of them */
	uint64_t max_bo_size;
	atomic_uint_least64_t next_fake_va;	/* CPU backend: its buffers' addresses */
	bool out_pitch;			/* firmware ABI 1.1: conv output pitch */
	bool quant_ops;			/* firmware ABI 1.2 and APU_CAP_QUANT_OPS */
	bool int4;			/* firmware ABI 1.4 and APU_CAP_INT4_WEIGHTS */
	bool sparse;			/* firmware ABI 1.5 and APU_CAP_SPARSE_WEIGHTS */
	bool fp16;			/* firmware ABI 1.6 and APU_CAP_FP16 */
	bool bo_no_wait;		/* driver 0.2: DRM_APU_JOB_BO_NO_WAIT */
	bool job_wait;			/* driver 0.3: DRM_IOCTL_APU_JOB_WAIT */
};

/* A buffer: a BO mapped for the CPU, or host memory on the CPU backend. */
struct apu_buffer {
	struct apu_device *dev;
	uint32_t handle;
	size_t size;
	uint64_t va;
	void *cpu;
};

/*
 * Job @i of a compiled network: its command buffer (CPU view), size and
 * core. -ENOENT past the last job. For tests, which run the command
 * buffers through the device's engine on the host.
 */
int apu_network_job(const struct apu_network *net, int i, const void **cmd, uint32_t *size,
		    unsigned int *core);
/* The network's buffers: 0 activations, 1 constants, 2 command buffers. */
struct apu_buffer *apu_network_buffer(const struct apu_network *net, int which);
/* Byte offset and size of tensor @t in the activation buffer. */
int apu_network_tensor_place(const struct apu_network *net, int t, size_t *off, size_t *size);

int apu_network_evaluate(struct apu_network *net, const unsigned int *masks, double *us,
			 double *uj);
int apu_network_num_ops(const struct apu_network *net);

/* ---- CPU reference (ref.c) ---- */
struct apu_ref_conv {
	int in_h, in_w, in_c, out_h, out_w, out_c;
	int k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left, groups;
	int32_t in_zp, out_zp, act_min, act_max;
	int32_t w_zp;
};

struct apu_ref_pool {
	int in_h, in_w, channels, out_h, out_w;
	int k_h, k_w, stride_h, stride_w, pad_top, pad_left;
	int32_t act_min, act_max;
	bool round_uint8;	/* average: TFLite's uint8 rounding (APU_OPF_ROUND_UINT8) */
};

int32_t apu_ref_mbqm(int32_t acc, int32_t mult, int shift);
/*
 * TFLite INT4: element i is the low nibble of byte i / 2 (even i) or the
 * high one (odd i), signed; @n elements to int8.
 */
void apu_ref_int4_unpack(const uint8_t *packed, size_t n, int8_t *out);
void apu_ref_conv2d(const struct apu_ref_conv *p, const int8_t *in, const int8_t *w,
		    const int32_t *bias, const int32_t *mult, const int32_t *shift,
		    int8_t *out);
void apu_ref_add(size_t count, const struct apu_add *p, const int8_t *a,
		 const int8_t *b, int8_t *out);
void apu_ref_avgpool(const struct apu_ref_pool *p, const int8_t *in, int8_t *out);
/*
 * fp16 (fp16.c): docs/hw.md's order of arithmetic, naively; tensors
 * binary16, @bias fp32 (may be NULL), clamps in fp32. The conv's and
 * pool's int8 fields (zero points, clamps) are not used.
 */
void apu_ref_conv2d_fp16(const struct apu_ref_conv *c, const uint16_t *in, const uint16_t *w,
			 const float *bias, float lo, float hi, uint16_t *out);
void apu_ref_pool_fp16(const struct apu_ref_pool *p, bool max, const uint16_t *in, float lo,
		       float hi, uint16_t *out);
void apu_ref_maxpool(const struct apu_ref_pool *p, const int8_t *in, int8_t *out);
/* Elementwise with input2 broadcast: element i takes b[i % period]. */
void apu_ref_add_bcast(size_t count, size_t period, const struct apu_add *p, const int8_t *a,
		       const int8_t *b, int8_t *out);
void apu_ref_mul(size_t count, size_t period, const struct apu_mul *p, const int8_t *a,
		 const int8_t *b, int8_t *out);
void apu_ref_lut(size_t count, const int8_t *table, const int8_t *in, int8_t *out);
void apu_ref_mean(const struct apu_shape *in_shape, const struct apu_mean *p, const int8_t *in,
		  int8_t *out);
void apu_ref_softmax(size_t pixels, size_t channels, const struct apu_softmax *p,
		     const int8_t *in, int8_t *out);

/*
 * Flags of apu_network_add_conv_flags(): the weights are uint8 to be moved
 * to int8 (each byte XOR 0x80, i.e. minus 128) while they are copied in.
 */
#define APU_CONV_WEIGHTS_U8	0x1
/* The weights are int4, packed two per byte (APU_CONV_EXT_WEIGHTS_INT4). */
#define APU_CONV_WEIGHTS_INT4	0x2
/*
 * Block-sparse weights of @b (1, 2, 4) output channels per block
 * (APU_CONV_EXT_WEIGHTS_SPARSE): the weights given are dense int8.
 */
#define APU_CONV_WEIGHTS_SPARSE(b)	((unsigned int)(b) << 4)
#define APU_CONV_WEIGHTS_SPARSE_BLOCK(f)	(((f) >> 4) & 7)
int apu_network_add_conv_flags(struct apu_network *net, int input, const struct apu_conv2d *p,
			       bool fc, unsigned int flags, int32_t w_zp, int *output);
/*
 * A constant tensor (the importer's constant operands): its contents are
 * copied into the constants and, at compile time, into the activations;
 * @u8: uint8 values, moved to int8 (XOR 0x80).
 */
int apu_network_add_constant(struct apu_network *net, const struct apu_shape *shape,
			     const void *data, bool u8, int *tensor);
/*
 * A concatenation along channels that costs nothing: each input, the whole
 * output of a convolution read by nothing else, becomes a channel slice of
 * the output, which the convolution writes in place at the output's pitch
 * (firmware ABI 1.1). -EINVAL when an input is not such a tensor.
 */
int apu_network_add_concat_in_place(struct apu_network *net, const int *inputs, unsigned int n,
				    int *output);
/* Average pooling rounded as TFLite's uint8 kernel (firmware ABI 1.2). */
int apu_network_add_avgpool_uint8(struct apu_network *net, int input,
				  const struct apu_avgpool *p, int *output);
/* The tensor whose storage @t is (a slice's base; else @t). */
int apu_network_tensor_base(const struct apu_network *net, int t);
/* The tensor count of a network, for the importer. */
int apu_network_num_tensors(const struct apu_network *net);

/* ---- planning (plan.c) ---- */

/* The cost of a piece of work on a core, as the device's timing model. */
struct apu_plan_work {
	uint64_t macs;
	uint64_t bytes;
};

/* Modeled cycles of one op: max(MACs / rate, bytes / bandwidth) + overhead. */
uint64_t apu_plan_op_cycles(const struct apu_core_info *c, uint64_t macs, uint64_t bytes);

/*
 * A layer to split: @units units of work (output rows, or output channels
 * of a fully connected layer); each unit costs @unit_macs MACs and moves
 * @unit_bytes bytes; a tile of n units also needs @fixed_bytes (weights,
 * parameters, input rows shared by neighbours) once; @unit_sram bytes of
 * SRAM per unit, @fixed_sram once, and the weights (@weight_sram).
 */
struct apu_plan_layer {
	unsigned int units;
	uint64_t unit_macs, unit_bytes, fixed_bytes;
	uint64_t unit_sram, fixed_sram;
	/* Weights: held in SRAM when they fit in half of it, else streamed
	 * through a block of half the SRAM. */
	uint64_t weight_sram;
	/* Units handed out in groups of this many (0 or 1: one by one), a
	 * partial group last; tiles hold whole groups where they can. */
	unsigned int unit_align;
};

/* One core's share of a layer: units [first, first + count), in tiles of
 * at most tile_units. */
struct apu_plan_share {
	unsigned int core;
	unsigned int first, count, tile_units, tiles;
	uint64_t cycles;
	double us;
};

/*
 * Split @l over the cores of @mask (bit n: core n) so that they finish
 * together. Returns the number of shares written to @out (cores that got
 * work), or -E2BIG when no core of the mask fits one unit in its SRAM.
 */
int apu_plan_split(const struct apu_core_info *cores, unsigned int num_cores,
		   unsigned int mask, const struct apu_plan_layer *l,
		   struct apu_plan_share *out, double *time_us, double *energy_uj);

/* The largest tile (in units) of @l that fits core @c's SRAM; 0 if none. */
unsigned int apu_plan_max_tile(const struct apu_core_info *c, const struct apu_plan_layer *l);

/*
 * Size-versioned output structs: the caller's struct (@dsize bytes) gets
 * the first min(@dsize, @ssize) bytes of libapu's (@src) and zeroes after
 * them. -EINVAL when @dst is NULL or @dsize is below @min (libapu 1.0's
 * size of the struct: fields are only ever added at the end).
 */
int apu_copy_sized(void *dst, size_t dsize, const void *src, size_t ssize, size_t min);
/*
 * The other way, for structs callers pass in: @src of the caller's @ssize
 * (at least @min) over @dst (@dsize, holding the defaults of the fields an
 * older caller does not know); -EINVAL when @ssize is under @min, -E2BIG
 * when a newer caller set a field this libapu does not know (non-zero
 * bytes past @dsize).
 */
int apu_copy_sized_in(void *dst, size_t dsize, const void *src, size_t ssize, size_t min);

/* libapu 1.0's sizes of the size-versioned structs. */
#define APU_OFFSETOF_END(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define APU_DEVICE_INFO_SIZE_1_0 APU_OFFSETOF_END(struct apu_device_info, ring_entries)
#define APU_CORE_INFO_SIZE_1_0 APU_OFFSETOF_END(struct apu_core_info, bytes_per_cycle)
#define APU_CORE_STATS_SIZE_1_0 APU_OFFSETOF_END(struct apu_core_stats, energy_uj)
#define APU_COMPILE_OPTIONS_SIZE_1_0 APU_OFFSETOF_END(struct apu_compile_options, core_mask)
#define APU_OP_INFO_SIZE_1_0 APU_OFFSETOF_END(struct apu_op_info, cpu_us)
#define APU_MODEL_OP_INFO_SIZE_1_0 APU_OFFSETOF_END(struct apu_model_op_info, macs)

#endif /* APU_INTERNAL_H */
