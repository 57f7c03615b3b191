// SPDX-License-Identifier: MIT
/*
 * Networks: a sequence of int8 ops over tensors, compiled once (planned,
 * tiled, placed, command buffers built) and run many times on the device
 * (or on the CPU reference backend).
 *
 * Memory: one buffer holds every activation tensor (each at its own
 * offset, so a run has no write-after-read hazard), one read-only buffer
 * the weights and requantization parameters, one the command buffers.
 *
 * Jobs: one per layer and core that got a share of the layer; the job's
 * command buffer holds its tiles. A job waits (syncobjs) for the jobs of
 * the layers that produce its inputs, so the cores of one layer run side
 * by side and layers follow one another. Synchronisation is explicit: the
 * jobs name the buffers as read-only users, so that the kernel adds no
 * implicit ordering between them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/sync_file.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <xf86drm.h>
#include <drm/apu_accel.h>
#include <hw/apu_cmd.h>

#include "apu_internal.h"

enum op_kind {
	OP_CONV, OP_ADD, OP_POOL, OP_MAXPOOL, OP_MUL, OP_LUT,
	/* CPU ops: run by libapu between device segments. */
	OP_MEAN, OP_SOFTMAX, OP_CONCAT, OP_PAD, OP_BADD, OP_BMUL,
	/* Views: nothing runs. */
	OP_RESHAPE,
	/* A concatenation its producers wrote in place (channel slices). */
	OP_ASSEMBLE,
};

static bool kind_cpu(enum op_kind k)
{
	return k >= OP_MEAN && k <= OP_BMUL;
}

static bool kind_device(enum op_kind k)
{
	return k <= OP_LUT;
}

struct tensor {
	struct apu_shape s;
	size_t size, off;
	int producer;		/* op index, or -1 for an input */
	int view_of;		/* a view shares this tensor's storage; -1 */
	/*
	 * A channel slice of tensor @slice_of (its convolution writes there at
	 * the wider tensor's pitch, from channel @slice_c); -1.
	 */
	int slice_of;
	unsigned int slice_c;
	bool constant;		/* contents at const_off in the constants */
	size_t const_off;
};

struct op {
	enum op_kind kind;
	int in[2], out;
	bool fc;		/* fully connected: split by output channel */
	bool flat;		/* 1x1, stride 1, no padding: split by pixel */
	bool by_channel;	/* split by channel (output, and input, pitch) */
	bool dw;		/* depthwise: groups == in_c > 1 */
	/* Depthwise by channel: each tile's weights, repacked [k_h][k_w][n * m]. */
	struct dw_tile { unsigned int u0; size_t off; } *dwt;
	int ndwt;
	struct apu_ref_conv conv;
	size_t w_off, w_size, b_off, m_off, s_off;
	bool has_bias;
	struct apu_add add;
	struct apu_ref_pool pool;
	struct apu_mul mul;
	size_t period;		/* add, mul: elements of input 2 (broadcast) */
	size_t lut_off;		/* lut: the table in the constants */
	struct apu_mean mean;
	struct apu_softmax sm;
	int *cat;		/* concat: its inputs */
	int ncat;
	unsigned int pads[4];	/* pad: top, bottom, left, right */
	int8_t pad_value;
	double cpu_us;		/* CPU ops: time of the last run */
	uint64_t macs;
	struct apu_plan_layer layer;
	int nshares;
	struct apu_plan_share shares[8];
	double est_us, est_uj;
};

struct job {
	int op;
	struct apu_plan_share share;
	uint32_t cmd_off, cmd_size;
	uint32_t syncobj;
	uint32_t dep_first, ndeps;	/* in net->deps */
	uint64_t id;
	uint64_t cycles, macs;
	double start_us, end_us;
	bool sink;		/* no job waits for it: the run's out-fence does */
};

struct apu_network {
	struct apu_device *dev;
	struct tensor *t;
	int nt, cap_t;
	struct op *ops;
	int nops, cap_ops;
	uint8_t *consts;
	size_t consts_size, consts_cap;
	size_t act_size;
	uint64_t act_total;	/* tensors' sizes so far (views counted too) */

	bool compiled;
	struct apu_compile_options opts;
	struct apu_buffer *act, *cst, *cmd;
	int8_t *ref;
	int8_t *scratch;	/* the reference's place for the largest slice */
	struct job *jobs;
	int njobs;
	uint32_t *deps;		/* syncobj handles */
	uint32_t ndeps_total;
	uint32_t in_fence_syncobj;
	double modeled_us;

	bool in_flight, have_run;
	int64_t submit_ns, end_ns;
	struct apu_run_stats last;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int apu_network_create(struct apu_device *dev, struct apu_network **out)
{
	struct apu_network *net;

	if (!dev || !out)
		return -EINVAL;
	net = calloc(1, sizeof(*net));
	if (!net)
		return -ENOMEM;
	net->dev = dev;
	*out = net;
	return 0;
}

static void net_release_compiled(struct apu_network *net)
{
	int i;

	if (!net->dev->cpu)
		for (i = 0; i < net->njobs; i++)
			if (net->jobs[i].syncobj)
				drmSyncobjDestroy(net->dev->fd, net->jobs[i].syncobj);
	if (net->in_fence_syncobj)
		drmSyncobjDestroy(net->dev->fd, net->in_fence_syncobj);
	for (i = 0; i < net->nops; i++) {
		free(net->ops[i].dwt);
		net->ops[i].dwt = NULL;
		net->ops[i].ndwt = 0;
	}
	apu_buffer_free(net->act);
	apu_buffer_free(net->cst);
	apu_buffer_free(net->cmd);
	free(net->jobs);
	free(net->deps);
	free(net->ref);
	free(net->scratch);
	net->scratch = NULL;
	net->act = net->cst = net->cmd = NULL;
	net->jobs = NULL;
	net->deps = NULL;
	net->ref = NULL;
	net->njobs = 0;
	net->in_fence_syncobj = 0;
	net->compiled = false;
}

void apu_network_destroy(struct apu_network *net)
{
	if (!net)
		return;
	if (net->in_flight)
		apu_network_wait(net, -1, NULL);
	net_release_compiled(net);
	for (int i = 0; i < net->nops; i++)
		free(net->ops[i].cat);
	free(net->t);
	free(net->ops);
	free(net->consts);
	free(net);
}

/*
 * @shape may point into net->t (an op whose output has its input's shape):
 * it is copied before net->t can move.
 */
static int add_tensor(struct apu_network *net, const struct apu_shape *shape, int producer)
{
	const struct apu_shape sh = *shape, *s = &sh;

	if (!s->h || !s->w || !s->c || s->h > 65535 || s->w > 65535 || s->c > 65535)
		return -EINVAL;
	/* Every tensor has its own place in one buffer: bounded as it grows. */
	if (net->act_total + (((uint64_t)s->h * s->w * s->c + 63) & ~63ull) >
	    net->dev->max_bo_size)
		return -E2BIG;
	if (net->nt == net->cap_t) {
		int cap = net->cap_t ? net->cap_t * 2 : 16;
		struct tensor *t = realloc(net->t, sizeof(*t) * cap);

		if (!t)
			return -ENOMEM;
		net->t = t;
		net->cap_t = cap;
	}
	net->t[net->nt] = (struct tensor){
		.s = *s,
		.size = (size_t)s->h * s->w * s->c,
		.producer = producer,
		.view_of = -1,
		.slice_of = -1,
	};
	net->act_total += (net->t[net->nt].size + 63) & ~(size_t)63;
	return net->nt++;
}

static struct op *new_op(struct apu_network *net)
{
	if (net->nops == net->cap_ops) {
		int cap = net->cap_ops ? net->cap_ops * 2 : 16;
		struct op *o = realloc(net->ops, sizeof(*o) * cap);

		if (!o)
			return NULL;
		net->ops = o;
		net->cap_ops = cap;
	}
	memset(&net->ops[net->nops], 0, sizeof(struct op));
	return &net->ops[net->nops];
}

/* Copy @size bytes of constants; returns their offset (64-byte aligned). */
static int add_const(struct apu_network *net, const void *src, size_t size, size_t *off)
{
	size_t at = (net->consts_size + 63) & ~(size_t)63;

	/* Over the device's largest buffer the network could never compile. */
	if (size > net->dev->max_bo_size || at > net->dev->max_bo_size - size)
		return -E2BIG;

	if (at + size > net->consts_cap) {
		size_t cap = net->consts_cap ? net->consts_cap : 1 << 16;
		uint8_t *p;

		while (cap < at + size)
			cap *= 2;
		p = realloc(net->consts, cap);
		if (!p)
			return -ENOMEM;
		net->consts = p;
		net->consts_cap = cap;
	}
	if (src)
		memcpy(net->consts + at, src, size);
	else
		memset(net->consts + at, 0, size);
	*off = at;
	net->consts_size = at + size;
	return 0;
}

/*
 * Most multiply-accumulates (or taps) one op may take: 2^40, an hour of
 * the CPU reference, 20 minutes of the fastest core.
 */
#define APU_NET_MAX_OP_MACS	(1ull << 40)

/* Give the op being added (net->ops[net->nops]) its output tensor. */
static int finish_op(struct apu_network *net, const struct apu_shape *s, int *output)
{
	int t;

	if (net->ops[net->nops].macs > APU_NET_MAX_OP_MACS)
		return -E2BIG;
	t = add_tensor(net, s, net->nops);

	if (t < 0)
		return t;
	net->ops[net->nops].out = t;
	net->nops++;
	*output = t;
	return 0;
}

static bool valid_tensor(const struct apu_network *net, int t)
{
	return t >= 0 && t < net->nt;
}

/* An op's input: a tensor, not a slice (only its concatenation reads those). */
static bool valid_input(const struct apu_network *net, int t)
{
	return valid_tensor(net, t) && net->t[t].slice_of < 0;
}

/* Whether an op reads tensor @t. */
static bool is_read(const struct apu_network *net, int t)
{
	for (int i = 0; i < net->nops; i++) {
		const struct op *o = &net->ops[i];

		if (o->in[0] == t || o->in[1] == t)
			return true;
		for (int k = 0; k < o->ncat; k++)
			if (o->cat[k] == t)
				return true;
	}
	return false;
}

int apu_network_add_input(struct apu_network *net, const struct apu_shape *shape,
			  int *tensor)
{
	int t;

	if (!net || !shape || !tensor)
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	t = add_tensor(net, shape, -1);
	if (t < 0)
		return t;
	*tensor = t;
	return 0;
}

/* Output size and leading padding of one dimension. */
static int out_dim(unsigned int in, unsigned int k, unsigned int stride, unsigned int dil,
		   enum apu_padding pad, unsigned int pad_lo, unsigned int pad_hi,
		   unsigned int *out, unsigned int *lo)
{
	uint64_t ek64 = (uint64_t)(k - 1) * dil + 1;
	unsigned int ek;

	/* The device's fields are 16-bit; so is every extent it can cover. */
	if (!k || !dil || !stride || k > 65535 || dil > 65535 || stride > 65535 || ek64 > 65535)
		return -EINVAL;
	ek = (unsigned int)ek64;
	switch (pad) {
	case APU_PAD_VALID:
		if (in < ek)
			return -EINVAL;
		*out = (in - ek) / stride + 1;
		*lo = 0;
		return 0;
	case APU_PAD_SAME: {
		unsigned int o = (in + stride - 1) / stride;
		long total = (long)(o - 1) * stride + ek - in;

		*out = o;
		*lo = total > 0 ? (unsigned int)(total / 2) : 0;
		return 0;
	}
	case APU_PAD_EXPLICIT:
		/* Padding never covers a whole window (nor does the device's). */
		if (in + pad_lo + pad_hi < ek || pad_lo >= ek || pad_hi >= ek)
			return -EINVAL;
		*out = (in + pad_lo + pad_hi - ek) / stride + 1;
		*lo = pad_lo;
		return 0;
	}
	return -EINVAL;
}

static bool shift_ok(int32_t shift)
{
	return shift >= APU_SHIFT_MIN && shift <= APU_SHIFT_MAX;
}

static int add_conv(struct apu_network *net, int input, const struct apu_conv2d *p,
		    bool fc, unsigned int flags, int32_t w_zp, int *output)
{
	struct tensor *in;
	struct apu_shape os;
	struct op *o;
	unsigned int oh, ow, pt, pl, icg, k_in;
	size_t wn;
	int ret;

	if (!net || !p || !output || !valid_input(net, input) || !p->weights ||
	    !p->mult || !p->shift || !p->out_c)
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	in = &net->t[input];
	o = new_op(net);
	if (!o)
		return -ENOMEM;
	if (fc) {
		k_in = in->s.h * in->s.w * in->s.c;
		if (k_in > 65535)
			return -EINVAL;
		o->conv = (struct apu_ref_conv){
			.in_h = 1, .in_w = 1, .in_c = (int)k_in, .out_h = 1, .out_w = 1,
			.out_c = (int)p->out_c, .k_h = 1, .k_w = 1, .stride_h = 1,
			.stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1,
		};
		oh = ow = 1;
		wn = (size_t)p->out_c * k_in;
	} else {
		if (!p->k_h || !p->k_w || !p->stride_h || !p->stride_w || !p->dil_h ||
		    !p->dil_w || !p->groups || in->s.c % p->groups || p->out_c % p->groups)
			return -EINVAL;
		ret = out_dim(in->s.h, p->k_h, p->stride_h, p->dil_h, p->padding,
			      p->pad_top, p->pad_bottom, &oh, &pt);
		if (!ret)
			ret = out_dim(in->s.w, p->k_w, p->stride_w, p->dil_w, p->padding,
				      p->pad_left, p->pad_right, &ow, &pl);
		if (ret)
			return ret;
		icg = in->s.c / p->groups;
		o->conv = (struct apu_ref_conv){
			.in_h = (int)in->s.h, .in_w = (int)in->s.w, .in_c = (int)in->s.c,
			.out_h = (int)oh, .out_w = (int)ow, .out_c = (int)p->out_c,
			.k_h = (int)p->k_h, .k_w = (int)p->k_w,
			.stride_h = (int)p->stride_h, .stride_w = (int)p->stride_w,
			.dil_h = (int)p->dil_h, .dil_w = (int)p->dil_w,
			.pad_top = (int)pt, .pad_left = (int)pl, .groups = (int)p->groups,
		};
		wn = (size_t)p->out_c * p->k_h * p->k_w * icg;
	}
	if (p->in_zp < -128 || p->in_zp > 127 || p->out_zp < -128 || p->out_zp > 127 ||
	    p->act_min < -128 || p->act_max > 127 || p->act_min > p->act_max ||
	    w_zp < -128 || w_zp > 127)
		return -EINVAL;
	if (w_zp && !net->dev->quant_ops)
		return -EOPNOTSUPP;
	/* TFLite's range of requantization shifts (the device's check too). */
	for (unsigned int c = 0; c < p->out_c; c++)
		if (!shift_ok(p->shift[c]))
			return -EINVAL;
	o->conv.in_zp = p->in_zp;
	o->conv.out_zp = p->out_zp;
	o->conv.act_min = p->act_min;
	o->conv.act_max = p->act_max;
	o->conv.w_zp = w_zp;
	o->kind = OP_CONV;
	o->fc = fc;
	o->dw = !fc && o->conv.groups == o->conv.in_c && o->conv.groups > 1;
	o->flat = !fc && o->conv.k_h == 1 && o->conv.k_w == 1 && o->conv.stride_h == 1 &&
		  o->conv.stride_w == 1 && !o->conv.pad_top && !o->conv.pad_left &&
		  o->conv.out_h == o->conv.in_h && o->conv.out_w == o->conv.in_w &&
		  (uint64_t)o->conv.out_h * o->conv.out_w <= 65535;
	o->in[0] = input;
	o->in[1] = -1;
	o->w_size = wn;
	o->has_bias = p->bias != NULL;
	ret = add_const(net, p->weights, wn, &o->w_off);
	if (!ret && (flags & APU_CONV_WEIGHTS_U8))
		for (size_t i = 0; i < wn; i++)
			net->consts[o->w_off + i] ^= 0x80;
	if (!ret)
		ret = add_const(net, p->bias, 4 * (size_t)p->out_c, &o->b_off);
	if (!ret)
		ret = add_const(net, p->mult, 4 * (size_t)p->out_c, &o->m_off);
	if (!ret)
		ret = add_const(net, p->shift, 4 * (size_t)p->out_c, &o->s_off);
	if (ret)
		return ret;
	o->macs = (uint64_t)oh * ow * p->out_c * o->conv.k_h * o->conv.k_w *
		  (o->conv.in_c / o->conv.groups);
	os = (struct apu_shape){ oh, ow, p->out_c };
	return finish_op(net, &os, output);
}

int apu_network_add_conv2d(struct apu_network *net, int input, const struct apu_conv2d *p,
			   int *output)
{
	return add_conv(net, input, p, false, 0, 0, output);
}

int apu_network_add_fully_connected(struct apu_network *net, int input,
				    const struct apu_conv2d *p, int *output)
{
	return add_conv(net, input, p, true, 0, 0, output);
}

int apu_network_add_conv2d_ext(struct apu_network *net, int input, const struct apu_conv2d *p,
			       const struct apu_conv2d_ext *ext, int *output)
{
	/* The first version: size, flags, w_zp. */
	if (!ext || ext->size < sizeof(struct apu_conv2d_ext) ||
	    (ext->flags & ~APU_CONV_EXT_FULLY_CONNECTED))
		return -EINVAL;
	return add_conv(net, input, p, ext->flags & APU_CONV_EXT_FULLY_CONNECTED, 0, ext->w_zp,
			output);
}

int apu_network_add_conv_flags(struct apu_network *net, int input, const struct apu_conv2d *p,
			       bool fc, unsigned int flags, int32_t w_zp, int *output)
{
	return add_conv(net, input, p, fc, flags, w_zp, output);
}

int apu_network_add_constant(struct apu_network *net, const struct apu_shape *shape,
			     const void *data, bool u8, int *tensor)
{
	size_t off;
	int t, ret;

	if (!net || !shape || !data || !tensor)
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	t = add_tensor(net, shape, -1);
	if (t < 0)
		return t;
	ret = add_const(net, data, net->t[t].size, &off);
	if (ret)
		return ret;
	if (u8)
		for (size_t i = 0; i < net->t[t].size; i++)
			net->consts[off + i] ^= 0x80;
	net->t[t].constant = true;
	net->t[t].const_off = off;
	*tensor = t;
	return 0;
}

int apu_network_tensor_base(const struct apu_network *net, int t)
{
	if (!net || !valid_tensor(net, t))
		return -EINVAL;
	return net->t[t].slice_of >= 0 ? net->t[t].slice_of : t;
}

int apu_network_num_tensors(const struct apu_network *net)
{
	return net ? net->nt : -EINVAL;
}

/*
 * The shape of an elementwise op on @a and @b broadcast against each other
 * (each dimension equal, or 1 on one side); false when they do not go.
 */
static bool bcast_shape(const struct apu_shape *a, const struct apu_shape *b,
			struct apu_shape *o)
{
	const unsigned int x[3] = { a->h, a->w, a->c }, y[3] = { b->h, b->w, b->c };
	unsigned int r[3];

	for (int i = 0; i < 3; i++) {
		if (x[i] != y[i] && x[i] != 1 && y[i] != 1)
			return false;
		r[i] = x[i] > y[i] ? x[i] : y[i];
	}
	*o = (struct apu_shape){ r[0], r[1], r[2] };
	return true;
}

/* An elementwise op the device cannot broadcast: a CPU op. */
static int add_bcast_cpu(struct apu_network *net, enum op_kind kind, int a, int b,
			 const struct apu_add *pa, const struct apu_mul *pm, int *output)
{
	struct apu_shape os;
	struct op *o;

	if (!bcast_shape(&net->t[a].s, &net->t[b].s, &os))
		return -EINVAL;
	o = new_op(net);
	if (!o)
		return -ENOMEM;
	o->kind = kind;
	o->in[0] = a;
	o->in[1] = b;
	if (pa)
		o->add = *pa;
	if (pm)
		o->mul = *pm;
	o->macs = (uint64_t)os.h * os.w * os.c;
	return finish_op(net, &os, output);
}

/*
 * Input 2 of an elementwise op: @a's shape, or broadcast (1 x 1 x C, 1 x 1 x
 * 1). Returns its element count, or 0 when the shapes do not go together.
 */
static size_t bcast_period(const struct apu_network *net, int a, int b)
{
	const struct apu_shape *sa = &net->t[a].s, *sb = &net->t[b].s;

	if (!memcmp(sa, sb, sizeof(*sa)))
		return net->t[a].size;
	if (!net->dev->quant_ops || sb->h != 1 || sb->w != 1)
		return 0;
	if (sb->c == sa->c || sb->c == 1)
		return sb->c;
	return 0;
}

/* A device add or multiply of @a and @b (input 2 broadcast by its period). */
static struct op *new_elementwise(struct apu_network *net, enum op_kind kind, int a, int b)
{
	struct op *o = new_op(net);

	if (!o)
		return NULL;
	o->kind = kind;
	o->in[0] = a;
	o->in[1] = b;
	o->period = bcast_period(net, a, b);
	o->macs = net->t[a].size;
	return o;
}

int apu_network_add_add(struct apu_network *net, int a, int b, const struct apu_add *p,
			int *output)
{
	struct op *o;

	if (!net || !p || !output || !valid_input(net, a) || !valid_input(net, b))
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	/* Input 2 is the broadcast one; the sum does not care about the order. */
	if (net->t[b].size > net->t[a].size) {
		struct apu_add sw = *p;
		int t = a;

		a = b;
		b = t;
		sw.in1_offset = p->in2_offset;
		sw.in1_mult = p->in2_mult;
		sw.in1_shift = p->in2_shift;
		sw.in2_offset = p->in1_offset;
		sw.in2_mult = p->in1_mult;
		sw.in2_shift = p->in1_shift;
		return apu_network_add_add(net, a, b, &sw, output);
	}
	/* What the device accepts (include/hw/apu_cmd.h). */
	if (p->left_shift < 0 || p->left_shift > APU_ADD_LEFT_SHIFT_MAX ||
	    !shift_ok(p->in1_shift) || !shift_ok(p->in2_shift) || !shift_ok(p->out_shift) ||
	    p->in1_offset < APU_ADD_OFFSET_MIN || p->in1_offset > APU_ADD_OFFSET_MAX ||
	    p->in2_offset < APU_ADD_OFFSET_MIN || p->in2_offset > APU_ADD_OFFSET_MAX ||
	    p->out_zp < -128 || p->out_zp > 127 ||
	    p->act_min < -128 || p->act_max > 127 || p->act_min > p->act_max)
		return -EINVAL;
	/* Other broadcasts (or none on the device) run on the CPU. */
	if (!bcast_period(net, a, b))
		return add_bcast_cpu(net, OP_BADD, a, b, p, NULL, output);
	o = new_elementwise(net, OP_ADD, a, b);
	if (!o)
		return -ENOMEM;
	o->add = *p;
	return finish_op(net, &net->t[a].s, output);
}

int apu_network_add_mul(struct apu_network *net, int a, int b, const struct apu_mul *p,
			int *output)
{
	struct op *o;

	if (!net || !p || !output || !valid_input(net, a) || !valid_input(net, b))
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	if (net->t[b].size > net->t[a].size) {
		struct apu_mul sw = *p;

		sw.in1_offset = p->in2_offset;
		sw.in2_offset = p->in1_offset;
		return apu_network_add_mul(net, b, a, &sw, output);
	}
	if (!shift_ok(p->out_shift) ||
	    p->in1_offset < APU_ADD_OFFSET_MIN || p->in1_offset > APU_ADD_OFFSET_MAX ||
	    p->in2_offset < APU_ADD_OFFSET_MIN || p->in2_offset > APU_ADD_OFFSET_MAX ||
	    p->out_zp < -128 || p->out_zp > 127 ||
	    p->act_min < -128 || p->act_max > 127 || p->act_min > p->act_max)
		return -EINVAL;
	/* A device without MUL, or a broadcast it cannot do: the CPU. */
	if (!net->dev->quant_ops || !bcast_period(net, a, b))
		return add_bcast_cpu(net, OP_BMUL, a, b, NULL, p, output);
	o = new_elementwise(net, OP_MUL, a, b);
	if (!o)
		return -ENOMEM;
	o->mul = *p;
	return finish_op(net, &net->t[a].s, output);
}

int apu_network_add_lut(struct apu_network *net, int input, const int8_t table[256],
			int *output)
{
	struct op *o;
	int ret;

	if (!net || !table || !output || !valid_input(net, input))
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	if (!net->dev->quant_ops)
		return -EOPNOTSUPP;
	o = new_op(net);
	if (!o)
		return -ENOMEM;
	o->kind = OP_LUT;
	o->in[0] = input;
	o->in[1] = -1;
	ret = add_const(net, table, 256, &o->lut_off);
	if (ret)
		return ret;
	o->macs = net->t[input].size;
	return finish_op(net, &net->t[input].s, output);
}

/* A CPU op or a view with one input (more for concat). */
static struct op *new_cpu_op(struct apu_network *net, enum op_kind kind, int input)
{
	struct op *o = new_op(net);

	if (!o)
		return NULL;
	o->kind = kind;
	o->in[0] = input;
	o->in[1] = -1;
	return o;
}

int apu_network_add_mean(struct apu_network *net, int input, const struct apu_mean *p,
			 int *output)
{
	struct apu_shape os;
	struct op *o;

	if (!net || !p || !output || !valid_input(net, input) || !shift_ok(p->shift) ||
	    p->in_zp < -128 || p->in_zp > 127 || p->out_zp < -128 || p->out_zp > 127)
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	if ((uint64_t)net->t[input].s.h * net->t[input].s.w > 1u << 23)
		return -EINVAL;	/* the int32 sum could overflow */
	o = new_cpu_op(net, OP_MEAN, input);
	if (!o)
		return -ENOMEM;
	o->mean = *p;
	o->macs = net->t[input].size;
	os = (struct apu_shape){ 1, 1, net->t[input].s.c };
	return finish_op(net, &os, output);
}

int apu_network_add_softmax(struct apu_network *net, int input, const struct apu_softmax *p,
			    int *output)
{
	struct op *o;

	if (!net || !p || !output || !valid_input(net, input) || !(p->out_scale > 0) ||
	    !(p->beta_scale > 0) || isinf(p->beta_scale) || p->out_zp < -128 ||
	    p->out_zp > 127)
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	o = new_cpu_op(net, OP_SOFTMAX, input);
	if (!o)
		return -ENOMEM;
	o->sm = *p;
	o->macs = net->t[input].size;
	return finish_op(net, &net->t[input].s, output);
}

int apu_network_add_concat(struct apu_network *net, const int *inputs, unsigned int n,
			   int *output)
{
	struct apu_shape os;
	struct op *o;
	int ret;

	if (!net || !inputs || !output || !n || n > 65535)
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	for (unsigned int i = 0; i < n; i++)
		if (!valid_input(net, inputs[i]))
			return -EINVAL;
	os = net->t[inputs[0]].s;
	os.c = 0;
	for (unsigned int i = 0; i < n; i++) {
		const struct apu_shape *s = &net->t[inputs[i]].s;

		if (s->h != os.h || s->w != os.w)
			return -EINVAL;
		os.c += s->c;
		if (os.c > 65535)
			return -EINVAL;
	}
	o = new_cpu_op(net, OP_CONCAT, inputs[0]);
	if (!o)
		return -ENOMEM;
	o->cat = malloc(sizeof(int) * n);
	if (!o->cat)
		return -ENOMEM;
	memcpy(o->cat, inputs, sizeof(int) * n);
	o->ncat = (int)n;
	if (n > 1)
		o->in[1] = inputs[1];
	o->macs = (uint64_t)os.h * os.w * os.c;
	ret = finish_op(net, &os, output);
	if (ret) {
		/* The op is not counted: free what it holds. */
		free(o->cat);
		o->cat = NULL;
	}
	return ret;
}

int apu_network_add_concat_in_place(struct apu_network *net, const int *inputs, unsigned int n,
				    int *output)
{
	struct apu_shape os;
	unsigned int c = 0;
	struct op *o;
	int ret;

	if (!net || !inputs || !output || !n || n > 65535)
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	if (!net->dev->out_pitch)
		return -EOPNOTSUPP;
	for (unsigned int i = 0; i < n; i++) {
		const struct tensor *t;
		int p;

		if (!valid_tensor(net, inputs[i]))
			return -EINVAL;
		t = &net->t[inputs[i]];
		p = t->producer;
		/* Written by a convolution of its own, once, nowhere else yet. */
		if (p < 0 || net->ops[p].kind != OP_CONV || net->ops[p].out != inputs[i] ||
		    t->view_of >= 0 || t->slice_of >= 0 || t->constant)
			return -EINVAL;
		for (unsigned int k = 0; k < i; k++)
			if (inputs[k] == inputs[i])
				return -EINVAL;
		if (is_read(net, inputs[i]))
			return -EINVAL;
	}
	os = net->t[inputs[0]].s;
	os.c = 0;
	for (unsigned int i = 0; i < n; i++) {
		const struct apu_shape *s = &net->t[inputs[i]].s;

		if (s->h != os.h || s->w != os.w || os.c + s->c > 65535)
			return -EINVAL;
		os.c += s->c;
	}
	o = new_cpu_op(net, OP_ASSEMBLE, inputs[0]);
	if (!o)
		return -ENOMEM;
	o->cat = malloc(sizeof(int) * n);
	if (!o->cat)
		return -ENOMEM;
	memcpy(o->cat, inputs, sizeof(int) * n);
	o->ncat = (int)n;
	if (n > 1)
		o->in[1] = inputs[1];
	ret = finish_op(net, &os, output);
	if (ret) {
		free(o->cat);
		o->cat = NULL;
		return ret;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct tensor *t = &net->t[inputs[i]];

		t->slice_of = *output;
		t->slice_c = c;
		c += t->s.c;
		/* Its bytes are the base's now. */
		net->act_total -= (t->size + 63) & ~(size_t)63;
	}
	return 0;
}

int apu_network_add_pad(struct apu_network *net, int input, const unsigned int pads[4],
			int8_t value, int *output)
{
	struct apu_shape os;
	struct op *o;

	if (!net || !pads || !output || !valid_input(net, input))
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	os = net->t[input].s;
	if (pads[0] > 65535 || pads[1] > 65535 || pads[2] > 65535 || pads[3] > 65535)
		return -EINVAL;
	os.h += pads[0] + pads[1];
	os.w += pads[2] + pads[3];
	o = new_cpu_op(net, OP_PAD, input);
	if (!o)
		return -ENOMEM;
	memcpy(o->pads, pads, sizeof(o->pads));
	o->pad_value = value;
	o->macs = (uint64_t)os.h * os.w * os.c;
	return finish_op(net, &os, output);
}

int apu_network_add_reshape(struct apu_network *net, int input, const struct apu_shape *shape,
			    int *output)
{
	struct op *o;
	int base, ret;

	if (!net || !shape || !output || !valid_input(net, input))
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	if ((uint64_t)shape->h * shape->w * shape->c != net->t[input].size)
		return -EINVAL;
	base = net->t[input].view_of >= 0 ? net->t[input].view_of : input;
	o = new_cpu_op(net, OP_RESHAPE, input);
	if (!o)
		return -ENOMEM;
	ret = finish_op(net, shape, output);
	if (ret)
		return ret;
	/* Storage and producer are the viewed tensor's. */
	net->act_total -= (net->t[*output].size + 63) & ~(size_t)63;
	net->t[*output].view_of = base;
	net->t[*output].producer = net->t[base].producer;
	return 0;
}

static int add_pool(struct apu_network *net, int input, const struct apu_avgpool *p,
		    enum op_kind kind, int *output)
{
	struct apu_shape os;
	struct tensor *in;
	unsigned int oh, ow, pt, pl;
	struct op *o;
	int ret;

	if (!net || !p || !output || !valid_input(net, input) || !p->k_h || !p->k_w ||
	    !p->stride_h || !p->stride_w || p->act_min > p->act_max ||
	    p->act_min < -128 || p->act_max > 127 ||
	    /* The device's bound: the window's sum fits in int32. */
	    (uint64_t)p->k_h * p->k_w > 1u << 23)
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	if (kind == OP_MAXPOOL && !net->dev->quant_ops)
		return -EOPNOTSUPP;
	in = &net->t[input];
	ret = out_dim(in->s.h, p->k_h, p->stride_h, 1, p->padding, p->pad_top,
		      p->pad_bottom, &oh, &pt);
	if (!ret)
		ret = out_dim(in->s.w, p->k_w, p->stride_w, 1, p->padding, p->pad_left,
			      p->pad_right, &ow, &pl);
	if (ret)
		return ret;
	o = new_op(net);
	if (!o)
		return -ENOMEM;
	o->kind = kind;
	o->in[0] = input;
	o->in[1] = -1;
	o->pool = (struct apu_ref_pool){
		.in_h = (int)in->s.h, .in_w = (int)in->s.w, .channels = (int)in->s.c,
		.out_h = (int)oh, .out_w = (int)ow, .k_h = (int)p->k_h, .k_w = (int)p->k_w,
		.stride_h = (int)p->stride_h, .stride_w = (int)p->stride_w,
		.pad_top = (int)pt, .pad_left = (int)pl,
		.act_min = p->act_min, .act_max = p->act_max,
	};
	if ((uint64_t)oh * ow * in->s.c > net->dev->max_bo_size)
		return -E2BIG;
	o->macs = (uint64_t)oh * ow * in->s.c * p->k_h * p->k_w;
	os = (struct apu_shape){ oh, ow, in->s.c };
	return finish_op(net, &os, output);
}

int apu_network_add_avgpool(struct apu_network *net, int input, const struct apu_avgpool *p,
			    int *output)
{
	return add_pool(net, input, p, OP_POOL, output);
}

int apu_network_add_maxpool(struct apu_network *net, int input, const struct apu_avgpool *p,
			    int *output)
{
	return add_pool(net, input, p, OP_MAXPOOL, output);
}

int apu_network_add_avgpool_uint8(struct apu_network *net, int input,
				  const struct apu_avgpool *p, int *output)
{
	int ret;

	if (net && !net->dev->quant_ops)
		return -EOPNOTSUPP;
	ret = add_pool(net, input, p, OP_POOL, output);
	if (!ret)
		net->ops[net->t[*output].producer].pool.round_uint8 = true;
	return ret;
}

int apu_network_shape(const struct apu_network *net, int tensor, struct apu_shape *shape)
{
	if (!net || !shape || !valid_tensor(net, tensor))
		return -EINVAL;
	*shape = net->t[tensor].s;
	return 0;
}

/* ---- planning ------------------------------------------------------------ */

/* The layer description the planner splits. */
static void describe_layer(const struct apu_network *net, struct op *o, bool by_channel,
			   struct apu_plan_layer *l)
{
	const struct tensor *in = &net->t[o->in[0]];

	memset(l, 0, sizeof(*l));
	if (o->kind == OP_CONV && o->dw && by_channel) {
		const struct apu_ref_conv *c = &o->conv;
		uint64_t m = (uint64_t)(c->out_c / c->in_c);
		uint64_t opix = (uint64_t)c->out_h * c->out_w;

		/* Input channel columns, each with its m output channels. */
		l->units = (unsigned int)c->in_c;
		l->unit_macs = opix * m * c->k_h * c->k_w;
		l->unit_bytes = (uint64_t)c->in_h * c->in_w + opix * m +
				(uint64_t)c->k_h * c->k_w * m + 12 * m;
		l->unit_sram = l->unit_bytes;
		return;
	}
	if (o->kind == OP_CONV && o->flat && by_channel) {
		const struct apu_ref_conv *c = &o->conv;
		uint64_t pix = (uint64_t)c->out_h * c->out_w;

		/*
		 * Every tile reads the whole input and writes a slice of the
		 * output channels (at the output pitch): each unit brings its
		 * weights, parameters and one output column.
		 */
		l->units = (unsigned int)c->out_c;
		l->unit_macs = pix * c->in_c;
		l->unit_bytes = (uint64_t)c->in_c + pix + 12;
		l->fixed_bytes = pix * c->in_c;
		l->unit_sram = l->unit_bytes;
		l->fixed_sram = l->fixed_bytes;
		return;
	}
	if (o->kind == OP_CONV && o->fc) {
		uint64_t k = (uint64_t)o->conv.in_c;

		l->units = (unsigned int)o->conv.out_c;
		l->unit_macs = k;
		l->unit_bytes = k + 1 + 12;
		l->fixed_bytes = k;
		/* Each unit brings its own row of weights. */
		l->unit_sram = l->unit_bytes;
		l->fixed_sram = l->fixed_bytes;
		return;
	} else if (o->kind == OP_CONV && o->flat) {
		const struct apu_ref_conv *c = &o->conv;

		/* Pixels are independent: the image is one long row. */
		l->units = (unsigned int)(c->out_h * c->out_w);
		l->unit_macs = (uint64_t)c->out_c * (c->in_c / c->groups);
		l->unit_bytes = (uint64_t)c->out_c + c->in_c;
		l->fixed_bytes = o->w_size + 12ull * c->out_c;
		l->unit_sram = l->unit_bytes;
		l->fixed_sram = 12ull * c->out_c;
		l->weight_sram = o->w_size;
		return;
	} else if (o->kind == OP_CONV) {
		const struct apu_ref_conv *c = &o->conv;
		uint64_t row_in = (uint64_t)c->in_w * c->in_c;
		long halo = (long)(c->k_h - 1) * c->dil_h + 1 - c->stride_h;

		l->units = (unsigned int)c->out_h;
		l->unit_macs = (uint64_t)c->out_w * c->out_c * c->k_h * c->k_w *
			       (c->in_c / c->groups);
		l->unit_bytes = (uint64_t)c->out_w * c->out_c + row_in * c->stride_h;
		l->fixed_bytes = o->w_size + 12ull * c->out_c +
				 (halo > 0 ? (uint64_t)halo * row_in : 0);
		l->unit_sram = l->unit_bytes;
		l->fixed_sram = l->fixed_bytes - o->w_size;
		l->weight_sram = o->w_size;
		return;
	} else if (o->kind == OP_ADD || o->kind == OP_MUL || o->kind == OP_LUT) {
		/* Elementwise: split by pixel. */
		l->units = in->s.h * in->s.w;
		l->unit_macs = in->s.c;
		l->unit_bytes = (o->kind == OP_LUT ? 2ull : 3ull) * in->s.c;
		if (o->kind == OP_LUT)
			l->fixed_bytes = 256;
	} else {
		const struct apu_ref_pool *p = &o->pool;
		uint64_t row_in = (uint64_t)p->in_w * p->channels;
		long halo = (long)p->k_h - p->stride_h;

		l->units = (unsigned int)p->out_h;
		l->unit_macs = (uint64_t)p->out_w * p->channels * p->k_h * p->k_w;
		l->unit_bytes = (uint64_t)p->out_w * p->channels + row_in * p->stride_h;
		l->fixed_bytes = halo > 0 ? (uint64_t)halo * row_in : 0;
	}
	l->unit_sram = l->unit_bytes;
	l->fixed_sram = l->fixed_bytes;
}

/*
 * A weight zero point costs the device the window sums of the input (docs/hw.md:
 * out pixels x k_h x k_w x in_c per op, in cycles and MACs): per unit where a
 * unit is a row, a pixel or a depthwise channel; spread over the units where
 * every tile reads the whole input (channel splits of 1x1 and fully connected).
 */
static void add_wzp_cost(const struct op *o, bool by_channel, struct apu_plan_layer *l)
{
	const struct apu_ref_conv *c = &o->conv;
	uint64_t taps = (uint64_t)c->k_h * c->k_w;

	if (o->kind != OP_CONV || !c->w_zp || !l->units)
		return;
	if (o->dw && by_channel)
		l->unit_macs += (uint64_t)c->out_h * c->out_w * taps;
	else if (o->fc || (o->flat && by_channel))
		l->unit_macs += ((uint64_t)c->out_h * c->out_w * taps * c->in_c + l->units - 1) /
				l->units;
	else if (o->flat)
		l->unit_macs += taps * c->in_c;
	else
		l->unit_macs += (uint64_t)c->out_w * taps * c->in_c;
}

/* Core sets a policy chooses from: a mask per set. */
static unsigned int class_mask(const struct apu_device *dev, int cls)
{
	unsigned int m = 0, i;

	for (i = 0; i < dev->info.num_cores; i++)
		if (cls < 0 || (int)dev->cores[i].core_class == cls)
			m |= 1u << i;
	return m;
}

struct choice {
	unsigned int mask;
	bool by_channel;
	struct apu_plan_layer layer;
	double us, uj;
	int nshares;
	struct apu_plan_share shares[8];
};

static int plan_op(struct apu_network *net, struct op *o, enum apu_policy policy,
		   struct choice *all, int *nall)
{
	const struct apu_device *dev = net->dev;
	unsigned int masks[6], nm = 0, i;
	int best = -1, n = 0;

	masks[nm++] = class_mask(dev, -1);
	masks[nm++] = class_mask(dev, APU_CORE_BIG);
	masks[nm++] = class_mask(dev, APU_CORE_LITTLE);
	masks[nm++] = class_mask(dev, APU_CORE_TINY);
	masks[nm++] = class_mask(dev, APU_CORE_BIG) | class_mask(dev, APU_CORE_LITTLE);
	masks[nm++] = class_mask(dev, APU_CORE_LITTLE) | class_mask(dev, APU_CORE_TINY);
	if (net->opts.core_mask)
		for (i = 0; i < nm; i++)
			masks[i] &= net->opts.core_mask;

	/* APU_PLAN_SPLIT=rows|channels: one way only, where a layer allows it (tests). */
	const char *force = getenv("APU_PLAN_SPLIT");
	bool can_channel = o->kind == OP_CONV && dev->out_pitch &&
			   ((o->flat && o->conv.groups == 1) || o->dw);

	for (int v = 0; v < 2; v++) {
		/* Variant 1: split by channel (1x1 or depthwise convolutions). */
		if (v && !can_channel)
			break;
		if (force && can_channel && (!strcmp(force, "channels") ? !v : !strcmp(force, "rows") && v))
			continue;
		for (i = 0; i < nm; i++) {
			struct choice *c = &all[n];
			int k;

			if (!masks[i])
				continue;
			describe_layer(net, o, v, &c->layer);
			add_wzp_cost(o, v, &c->layer);
			k = apu_plan_split(dev->cores, dev->info.num_cores, masks[i], &c->layer,
					   c->shares, &c->us, &c->uj);
			if (k <= 0)
				continue;
			c->mask = masks[i];
			c->by_channel = v;
			c->nshares = k;
			n++;
		}
	}
	if (!n)
		return -E2BIG;
	for (i = 0; i < (unsigned int)n; i++) {
		double score, bscore = 0;

		switch (policy) {
		case APU_POLICY_PERFORMANCE:
			score = all[i].us + all[i].uj * 1e-9;	/* ties: less energy */
			break;
		case APU_POLICY_BALANCED:
			score = all[i].us * all[i].uj;
			break;
		default:	/* low power; deadline starts from it */
			score = all[i].uj + all[i].us * 1e-9;
			break;
		}
		if (best >= 0) {
			const struct choice *b = &all[best];

			bscore = policy == APU_POLICY_PERFORMANCE ? b->us + b->uj * 1e-9 :
				 policy == APU_POLICY_BALANCED ? b->us * b->uj :
				 b->uj + b->us * 1e-9;
		}
		if (best < 0 || score < bscore)
			best = (int)i;
	}
	*nall = n;
	return best;
}

static void take_choice(struct op *o, const struct choice *c)
{
	o->layer = c->layer;
	o->by_channel = c->by_channel;
	o->nshares = c->nshares;
	memcpy(o->shares, c->shares, sizeof(c->shares[0]) * c->nshares);
	o->est_us = c->us;
	o->est_uj = c->uj;
}

static int plan(struct apu_network *net)
{
	struct choice (*choices)[12];
	int *nchoices, *pick, i, ret = 0;
	double total = 0;

	choices = calloc((size_t)net->nops, sizeof(*choices));
	nchoices = calloc((size_t)net->nops, sizeof(int));
	pick = calloc((size_t)net->nops, sizeof(int));
	if (!choices || !nchoices || !pick) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < net->nops; i++) {
		if (!kind_device(net->ops[i].kind)) {
			pick[i] = -1;
			continue;
		}
		pick[i] = plan_op(net, &net->ops[i], net->opts.policy, choices[i], &nchoices[i]);
		if (pick[i] < 0) {
			ret = pick[i];
			goto out;
		}
		total += choices[i][pick[i]].us;
	}
	if (net->opts.policy == APU_POLICY_DEADLINE) {
		double fastest = 0;

		for (i = 0; i < net->nops; i++) {
			double f;

			if (pick[i] < 0)
				continue;
			f = choices[i][0].us;

			for (int k = 1; k < nchoices[i]; k++)
				if (choices[i][k].us < f)
					f = choices[i][k].us;
			fastest += f;
		}
		if (fastest > net->opts.deadline_us) {
			ret = -ETIME;
			goto out;
		}
		/* Speed up the layers that buy the most time per energy. */
		while (total > net->opts.deadline_us) {
			double best_ratio = 0;
			int bi = -1, bk = -1;

			for (i = 0; i < net->nops; i++) {
				const struct choice *cur = &choices[i][pick[i] < 0 ? 0 : pick[i]];

				for (int k = 0; k < nchoices[i] && pick[i] >= 0; k++) {
					const struct choice *c = &choices[i][k];
					double dt = cur->us - c->us, de = c->uj - cur->uj, r;

					if (dt <= 0)
						continue;
					r = de <= 0 ? 1e300 : dt / de;
					if (bi < 0 || r > best_ratio) {
						best_ratio = r;
						bi = i;
						bk = k;
					}
				}
			}
			if (bi < 0) {
				ret = -ETIME;
				goto out;
			}
			total -= choices[bi][pick[bi]].us - choices[bi][bk].us;
			pick[bi] = bk;
		}
	}
	net->modeled_us = 0;
	for (i = 0; i < net->nops; i++) {
		if (pick[i] < 0)
			continue;
		take_choice(&net->ops[i], &choices[i][pick[i]]);
		net->modeled_us += net->ops[i].est_us;
	}
	if (getenv("APU_PLAN_DEBUG"))
		for (i = 0; i < net->nops; i++) {
			const struct op *o = &net->ops[i];

			fprintf(stderr, "op %2d kind %d%s units %5u macs/u %8" PRIu64 " bytes/u %7" PRIu64
				" fixed %7" PRIu64 " est %8.2f us:", i, o->kind,
				o->by_channel ? "c" : o->flat ? "p" : " ", o->layer.units,
				o->layer.unit_macs, o->layer.unit_bytes, o->layer.fixed_bytes, o->est_us);
			for (int k = 0; k < o->nshares; k++)
				fprintf(stderr, " c%u:%u/%ut/%.2f", o->shares[k].core, o->shares[k].count,
					o->shares[k].tiles, o->shares[k].us);
			fprintf(stderr, "\n");
		}
out:
	free(choices);
	free(nchoices);
	free(pick);
	return ret;
}

/* ---- command buffers ----------------------------------------------------- */

static uint64_t act_va(const struct apu_network *net, int t, size_t byte)
{
	return apu_buffer_device_addr(net->act) + net->t[t].off + byte;
}

/* Bytes between the pixels of tensor @t's storage (a slice's: its base's). */
static unsigned int t_pitch(const struct apu_network *net, int t)
{
	const struct tensor *x = &net->t[t];

	return x->slice_of >= 0 ? net->t[x->slice_of].s.c : x->s.c;
}

/* Device address of channel @ch of pixel @pixel of tensor @t. */
static uint64_t act_px(const struct apu_network *net, int t, size_t pixel, size_t ch)
{
	return act_va(net, t, pixel * t_pitch(net, t) + ch);
}

static uint64_t cst_va(const struct apu_network *net, size_t off)
{
	return apu_buffer_device_addr(net->cst) + off;
}

/* Rows [r0, r1) of a row-tiled conv or pool: input base row, rows, pad. */
static void tile_rows(int r0, int r1, int stride, int pad, int ek, int in_h,
		      int *base, int *rows, int *tpad)
{
	int start = r0 * stride - pad, end = (r1 - 1) * stride - pad + ek;
	int b = start > 0 ? start : 0, e = end < in_h ? end : in_h;

	if (b > in_h - 1)
		b = in_h - 1;
	if (e <= b)
		e = b + 1;
	*base = b;
	*rows = e - b;
	*tpad = b - start;
}

static void put16(uint8_t *p, size_t off, unsigned int v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

#define F(type, field) offsetof(struct type, field)

/* The constants offset of the repacked weights of @o's tile starting at @u0. */
static size_t dw_weights(const struct op *o, unsigned int u0)
{
	for (int i = 0; i < o->ndwt; i++)
		if (o->dwt[i].u0 == u0)
			return o->dwt[i].off;
	return o->w_off;	/* not reached */
}

/*
 * Depthwise layers split by channel: each tile reads the weights of its
 * channels, which are strided in [k_h][k_w][out_c]: repack a contiguous
 * copy per tile into the constants, before the constant buffer is made.
 */
static int repack_dw(struct apu_network *net)
{
	for (int i = 0; i < net->nops; i++) {
		struct op *o = &net->ops[i];
		int k = 0, ntiles = 0, mlt, taps;

		if (!(o->kind == OP_CONV && o->dw && o->by_channel))
			continue;
		mlt = o->conv.out_c / o->conv.in_c;
		taps = o->conv.k_h * o->conv.k_w;
		for (int sh = 0; sh < o->nshares; sh++)
			ntiles += (int)o->shares[sh].tiles;
		if (!ntiles)
			continue;
		o->dwt = calloc((size_t)ntiles, sizeof(*o->dwt));
		if (!o->dwt)
			return -ENOMEM;
		for (int sh = 0; sh < o->nshares; sh++) {
			const struct apu_plan_share *p = &o->shares[sh];
			unsigned int end = p->first + p->count;

			for (unsigned int u = p->first; u < end; u += p->tile_units, k++) {
				unsigned int e = u + p->tile_units < end ? u + p->tile_units : end;
				size_t n = (size_t)(e - u) * mlt, off;
				int ret = add_const(net, NULL, n * taps, &off);

				if (ret)
					return ret;
				const uint8_t *src = net->consts + o->w_off + (size_t)u * mlt;

				/*
				 * One channel is not depthwise for the device (groups 1):
				 * then its weights are [m][k_h][k_w][1].
				 */
				for (int t = 0; t < taps; t++)
					for (size_t j = 0; j < n; j++)
						net->consts[off + (e - u == 1 ? j * taps + t : t * n + j)] =
							src[(size_t)t * o->conv.out_c + j];
				o->dwt[k] = (struct dw_tile){ u, off };
			}
		}
		o->ndwt = k;
	}
	return 0;
}

/* Write the op for units [u0, u1) of @o at @p (APU_OP_SIZE bytes). */
static void emit_tile(const struct apu_network *net, const struct op *o, unsigned int u0,
		      unsigned int u1, uint8_t *p)
{
	memset(p, 0, APU_OP_SIZE);
	if (o->kind == OP_CONV) {
		const struct apu_ref_conv *c = &o->conv;
		int base = 0, rows = 1, tpad = 0, out_h = 1, out_c = c->out_c;
		uint64_t in = act_va(net, o->in[0], 0), out, w = cst_va(net, o->w_off);
		uint64_t b = cst_va(net, o->b_off), m = cst_va(net, o->m_off);
		uint64_t s = cst_va(net, o->s_off);

		int in_w = c->in_w, out_w = c->out_w, pad_left = c->pad_left;
		int in_c = c->in_c, groups = c->groups;
		/* A slice of a concatenation: written at its base's pitch. */
		unsigned int opitch = t_pitch(net, o->out);
		unsigned int pitch = opitch != (unsigned int)c->out_c ? opitch : 0, in_pitch = 0;

		if (o->fc) {
			out_c = (int)(u1 - u0);
			w += (uint64_t)u0 * c->in_c;
			b += 4ull * u0;
			m += 4ull * u0;
			s += 4ull * u0;
			out = act_px(net, o->out, 0, u0);
		} else if (o->by_channel && o->dw) {
			/* Channels [u0, u1) of every pixel, at the input and output pitch. */
			int mlt = c->out_c / c->in_c, n = (int)(u1 - u0);

			in += u0;
			in_c = n;
			groups = n;
			out_c = n * mlt;
			in_pitch = (unsigned int)c->in_c;
			pitch = opitch;
			w = cst_va(net, dw_weights(o, u0));
			b += 4ull * u0 * mlt;
			m += 4ull * u0 * mlt;
			s += 4ull * u0 * mlt;
			out = act_px(net, o->out, 0, (size_t)u0 * mlt);
			tile_rows(0, c->out_h, c->stride_h, c->pad_top,
				  (c->k_h - 1) * c->dil_h + 1, c->in_h, &base, &rows, &tpad);
			out_h = c->out_h;
		} else if (o->by_channel) {
			/* Output channels [u0, u1) of every pixel, at the output pitch. */
			in_w = out_w = c->out_h * c->out_w;
			pad_left = 0;
			out_c = (int)(u1 - u0);
			pitch = opitch;
			w += (uint64_t)u0 * c->in_c;
			b += 4ull * u0;
			m += 4ull * u0;
			s += 4ull * u0;
			out = act_px(net, o->out, 0, u0);
		} else if (o->flat) {
			/* Pixels [u0, u1) as a 1 x n image. */
			in += (uint64_t)u0 * c->in_c;
			in_w = out_w = (int)(u1 - u0);
			pad_left = 0;
			out = act_px(net, o->out, u0, 0);
		} else {
			tile_rows((int)u0, (int)u1, c->stride_h, c->pad_top,
				  (c->k_h - 1) * c->dil_h + 1, c->in_h, &base, &rows, &tpad);
			in += (uint64_t)base * c->in_w * c->in_c;
			out_h = (int)(u1 - u0);
			out = act_px(net, o->out, (size_t)u0 * c->out_w, 0);
		}
		put16(p, F(apu_op_conv2d, opcode), APU_OP_CONV2D);
		put16(p, F(apu_op_conv2d, in_h), (unsigned int)rows);
		put16(p, F(apu_op_conv2d, in_w), (unsigned int)in_w);
		put16(p, F(apu_op_conv2d, in_c), (unsigned int)in_c);
		put16(p, F(apu_op_conv2d, out_h), (unsigned int)out_h);
		put16(p, F(apu_op_conv2d, out_w), (unsigned int)out_w);
		put16(p, F(apu_op_conv2d, out_c), (unsigned int)out_c);
		put16(p, F(apu_op_conv2d, k_h), (unsigned int)c->k_h);
		put16(p, F(apu_op_conv2d, k_w), (unsigned int)c->k_w);
		put16(p, F(apu_op_conv2d, stride_h), (unsigned int)c->stride_h);
		put16(p, F(apu_op_conv2d, stride_w), (unsigned int)c->stride_w);
		put16(p, F(apu_op_conv2d, dil_h), (unsigned int)c->dil_h);
		put16(p, F(apu_op_conv2d, dil_w), (unsigned int)c->dil_w);
		put16(p, F(apu_op_conv2d, pad_top), (unsigned int)tpad);
		put16(p, F(apu_op_conv2d, pad_left), (unsigned int)pad_left);
		put16(p, F(apu_op_conv2d, groups), (unsigned int)groups);
		put16(p, F(apu_op_conv2d, out_pitch), pitch);
		put16(p, F(apu_op_conv2d, in_pitch), in_pitch);
		put16(p, F(apu_op_conv2d, w_zp), (unsigned int)(uint16_t)c->w_zp);
		put32(p, F(apu_op_conv2d, in_zp), (uint32_t)c->in_zp);
		put32(p, F(apu_op_conv2d, out_zp), (uint32_t)c->out_zp);
		put32(p, F(apu_op_conv2d, act_min), (uint32_t)c->act_min);
		put32(p, F(apu_op_conv2d, act_max), (uint32_t)c->act_max);
		put64(p, F(apu_op_conv2d, input), in);
		put64(p, F(apu_op_conv2d, weights), w);
		put64(p, F(apu_op_conv2d, bias), o->has_bias ? b : 0);
		put64(p, F(apu_op_conv2d, mult), m);
		put64(p, F(apu_op_conv2d, shift), s);
		put64(p, F(apu_op_conv2d, output), out);
	} else if (o->kind == OP_ADD || o->kind == OP_MUL) {
		const struct apu_shape *sh = &net->t[o->in[0]].s;
		size_t first = (size_t)u0 * sh->c;
		bool bcast = o->period != net->t[o->in[0]].size;
		uint64_t in2 = act_va(net, o->in[1], bcast ? 0 : first);
		const struct apu_add *a = &o->add;
		const struct apu_mul *m = &o->mul;

		if (o->kind == OP_MUL) {
			put16(p, F(apu_op_mul, opcode), APU_OP_MUL);
			put32(p, F(apu_op_mul, count), (uint32_t)((u1 - u0) * sh->c));
			put32(p, F(apu_op_mul, in1_offset), (uint32_t)m->in1_offset);
			put32(p, F(apu_op_mul, in2_offset), (uint32_t)m->in2_offset);
			put32(p, F(apu_op_mul, out_mult), (uint32_t)m->out_mult);
			put32(p, F(apu_op_mul, out_shift), (uint32_t)m->out_shift);
			put32(p, F(apu_op_mul, out_zp), (uint32_t)m->out_zp);
			put32(p, F(apu_op_mul, act_min), (uint32_t)m->act_min);
			put32(p, F(apu_op_mul, act_max), (uint32_t)m->act_max);
			put32(p, F(apu_op_mul, in2_period), bcast ? (uint32_t)o->period : 0);
			put64(p, F(apu_op_mul, input1), act_va(net, o->in[0], first));
			put64(p, F(apu_op_mul, input2), in2);
			put64(p, F(apu_op_mul, output), act_va(net, o->out, first));
			return;
		}

		put16(p, F(apu_op_add, opcode), APU_OP_ADD);
		put32(p, F(apu_op_add, count), (uint32_t)((u1 - u0) * sh->c));
		put32(p, F(apu_op_add, left_shift), (uint32_t)a->left_shift);
		put32(p, F(apu_op_add, in1_offset), (uint32_t)a->in1_offset);
		put32(p, F(apu_op_add, in1_mult), (uint32_t)a->in1_mult);
		put32(p, F(apu_op_add, in1_shift), (uint32_t)a->in1_shift);
		put32(p, F(apu_op_add, in2_offset), (uint32_t)a->in2_offset);
		put32(p, F(apu_op_add, in2_mult), (uint32_t)a->in2_mult);
		put32(p, F(apu_op_add, in2_shift), (uint32_t)a->in2_shift);
		put32(p, F(apu_op_add, out_mult), (uint32_t)a->out_mult);
		put32(p, F(apu_op_add, out_shift), (uint32_t)a->out_shift);
		put32(p, F(apu_op_add, out_zp), (uint32_t)a->out_zp);
		put32(p, F(apu_op_add, act_min), (uint32_t)a->act_min);
		put32(p, F(apu_op_add, act_max), (uint32_t)a->act_max);
		put64(p, F(apu_op_add, input1), act_va(net, o->in[0], first));
		put64(p, F(apu_op_add, input2), in2);
		put64(p, F(apu_op_add, output), act_va(net, o->out, first));
		put32(p, F(apu_op_add, in2_period), bcast ? (uint32_t)o->period : 0);
	} else if (o->kind == OP_LUT) {
		size_t first = (size_t)u0 * net->t[o->in[0]].s.c;

		put16(p, F(apu_op_lut, opcode), APU_OP_LUT);
		put32(p, F(apu_op_lut, count), (uint32_t)((u1 - u0) * net->t[o->in[0]].s.c));
		put64(p, F(apu_op_lut, input), act_va(net, o->in[0], first));
		put64(p, F(apu_op_lut, output), act_va(net, o->out, first));
		put64(p, F(apu_op_lut, table), cst_va(net, o->lut_off));
	} else {
		const struct apu_ref_pool *q = &o->pool;
		int base, rows, tpad;

		tile_rows((int)u0, (int)u1, q->stride_h, q->pad_top, q->k_h, q->in_h,
			  &base, &rows, &tpad);
		put16(p, F(apu_op_avgpool, opcode),
		      o->kind == OP_MAXPOOL ? APU_OP_MAXPOOL : APU_OP_AVGPOOL);
		if (q->round_uint8)
			put16(p, F(apu_op_avgpool, flags), APU_OPF_ROUND_UINT8);
		put16(p, F(apu_op_avgpool, in_h), (unsigned int)rows);
		put16(p, F(apu_op_avgpool, in_w), (unsigned int)q->in_w);
		put16(p, F(apu_op_avgpool, channels), (unsigned int)q->channels);
		put16(p, F(apu_op_avgpool, out_h), u1 - u0);
		put16(p, F(apu_op_avgpool, out_w), (unsigned int)q->out_w);
		put16(p, F(apu_op_avgpool, k_h), (unsigned int)q->k_h);
		put16(p, F(apu_op_avgpool, k_w), (unsigned int)q->k_w);
		put16(p, F(apu_op_avgpool, stride_h), (unsigned int)q->stride_h);
		put16(p, F(apu_op_avgpool, stride_w), (unsigned int)q->stride_w);
		put16(p, F(apu_op_avgpool, pad_top), (unsigned int)tpad);
		put16(p, F(apu_op_avgpool, pad_left), (unsigned int)q->pad_left);
		put32(p, F(apu_op_avgpool, act_min), (uint32_t)q->act_min);
		put32(p, F(apu_op_avgpool, act_max), (uint32_t)q->act_max);
		put64(p, F(apu_op_avgpool, input),
		      act_va(net, o->in[0], (size_t)base * q->in_w * q->channels));
		put64(p, F(apu_op_avgpool, output),
		      act_va(net, o->out, (size_t)u0 * q->out_w * q->channels));
	}
}

/*
 * The ops that produce the inputs of op @o (an in-place concatenation
 * stands for the convolutions that wrote its slices), into @prods (NULL:
 * count only). Returns their number.
 */
static int input_producers(const struct apu_network *net, const struct op *o, int *prods)
{
	int n = 0;

	for (int k = 0; k < 2; k++) {
		int p = o->in[k] >= 0 ? net->t[o->in[k]].producer : -1;

		if (p < 0)
			continue;
		if (net->ops[p].kind == OP_ASSEMBLE) {
			for (int i = 0; i < net->ops[p].ncat; i++) {
				int q = net->t[net->ops[p].cat[i]].producer;

				if (q >= 0) {
					if (prods)
						prods[n] = q;
					n++;
				}
			}
			continue;
		}
		if (prods)
			prods[n] = p;
		n++;
	}
	return n;
}

/* Jobs, their dependencies, and their command buffers' places. */
static int build_jobs(struct apu_network *net, size_t *cmd_bytes)
{
	int i, s, n = 0;
	uint32_t nd = 0;
	size_t off = 0;
	int *first = calloc((size_t)(net->nops > 0 ? net->nops : 1), sizeof(int));
	/* An op's producers: two, or the inputs of an in-place concatenation. */
	int *prods = malloc(sizeof(int) * ((size_t)net->nt + 2));

	if (!first || !prods) {
		free(first);
		free(prods);
		return -ENOMEM;
	}
	for (i = 0; i < net->nops; i++)
		n += net->ops[i].nshares;
	net->jobs = calloc((size_t)(n > 0 ? n : 1), sizeof(*net->jobs));
	if (!net->jobs) {
		free(first);
		free(prods);
		return -ENOMEM;
	}
	n = 0;
	for (i = 0; i < net->nops; i++) {
		const struct op *o = &net->ops[i];

		first[i] = n;
		for (s = 0; s < o->nshares; s++) {
			struct job *j = &net->jobs[n++];
			int k;

			j->op = i;
			j->share = o->shares[s];
			if (j->share.tiles > APU_CMD_MAX_OPS) {
				free(first);
				free(prods);
				return -E2BIG;
			}
			j->cmd_off = (uint32_t)off;
			j->cmd_size = (uint32_t)(sizeof(struct apu_cmd_header) +
						 (size_t)j->share.tiles * APU_OP_SIZE);
			off = (off + j->cmd_size + 63) & ~(size_t)63;
			j->dep_first = nd;
			k = input_producers(net, o, prods);
			while (k--)
				j->ndeps += net->ops[prods[k]].nshares;
			nd += j->ndeps;
		}
	}
	net->njobs = n;
	net->ndeps_total = nd;
	net->deps = calloc(nd ? nd : 1, sizeof(uint32_t));
	if (!net->deps) {
		free(first);
		free(prods);
		return -ENOMEM;
	}
	/* Dependencies as job indices for now; syncobj handles after creation. */
	for (i = 0; i < n; i++) {
		struct job *j = &net->jobs[i];
		const struct op *o = &net->ops[j->op];
		uint32_t d = j->dep_first;

		for (int k = input_producers(net, o, prods) - 1; k >= 0; k--)
			for (s = 0; s < net->ops[prods[k]].nshares; s++)
				net->deps[d++] = (uint32_t)(first[prods[k]] + s);
	}
	for (i = 0; i < n; i++)
		net->jobs[i].sink = true;
	for (uint32_t k = 0; k < nd; k++)
		net->jobs[net->deps[k]].sink = false;
	free(first);
	free(prods);
	*cmd_bytes = off;
	return 0;
}

static void write_cmdbufs(struct apu_network *net)
{
	uint8_t *base = apu_buffer_cpu(net->cmd);

	for (int i = 0; i < net->njobs; i++) {
		const struct job *j = &net->jobs[i];
		const struct op *o = &net->ops[j->op];
		uint8_t *p = base + j->cmd_off;
		unsigned int u = j->share.first, end = j->share.first + j->share.count;
		uint32_t t = 0;

		memset(p, 0, sizeof(struct apu_cmd_header));
		put32(p, F(apu_cmd_header, magic), APU_CMD_MAGIC);
		put16(p, F(apu_cmd_header, version), APU_CMD_VERSION);
		put16(p, F(apu_cmd_header, num_ops), j->share.tiles);
		for (; u < end; u += j->share.tile_units, t++) {
			unsigned int e = u + j->share.tile_units < end ? u + j->share.tile_units : end;

			emit_tile(net, o, u, e, p + sizeof(struct apu_cmd_header) + t * APU_OP_SIZE);
		}
	}
}

int apu_network_compile(struct apu_network *net, const struct apu_compile_options *opts)
{
	struct apu_compile_options def = { .policy = APU_POLICY_PERFORMANCE, .priority = 1 };
	size_t cmd_bytes = 0, scratch = 0;
	int i, ret;

	if (!net || !net->nops)
		return -EINVAL;
	if (net->compiled || net->in_flight)
		return -EBUSY;
	if (!opts)
		opts = &def;
	if (opts->policy > APU_POLICY_DEADLINE || opts->priority > 2 ||
	    (opts->core_mask & ~((1u << net->dev->info.num_cores) - 1)) ||
	    (opts->policy == APU_POLICY_DEADLINE && !(opts->deadline_us > 0)))
		return -EINVAL;
	net->opts = *opts;

	net->act_size = 0;
	for (i = 0; i < net->nt; i++) {
		if (net->t[i].view_of >= 0 || net->t[i].slice_of >= 0)
			continue;	/* placed below, from their base */
		net->t[i].off = net->act_size;
		net->act_size += (net->t[i].size + 63) & ~(size_t)63;
	}
	for (i = 0; i < net->nt; i++) {
		struct tensor *t = &net->t[i];

		if (t->slice_of >= 0) {	/* the first pixel's first channel */
			t->off = net->t[t->slice_of].off + t->slice_c;
			scratch = t->size > scratch ? t->size : scratch;
		} else if (t->view_of >= 0) {
			t->off = net->t[t->view_of].off;
		}
	}
	if (scratch) {
		net->scratch = malloc(scratch);
		if (!net->scratch)
			return -ENOMEM;
	}
	ret = plan(net);
	if (!ret)
		ret = repack_dw(net);
	if (!ret)
		ret = build_jobs(net, &cmd_bytes);
	if (!ret)
		ret = apu_buffer_alloc(net->dev, net->act_size, 0, &net->act);
	if (!ret)
		ret = apu_buffer_alloc(net->dev, net->consts_size ? net->consts_size : 64,
				       APU_BUFFER_DEVICE_READ_ONLY, &net->cst);
	if (!ret)
		ret = apu_buffer_alloc(net->dev, cmd_bytes ? cmd_bytes : 64,
				       APU_BUFFER_DEVICE_READ_ONLY, &net->cmd);
	if (ret)
		goto err;
	if (net->consts_size)
		memcpy(apu_buffer_cpu(net->cst), net->consts, net->consts_size);
	for (i = 0; i < net->nt; i++)
		if (net->t[i].constant)
			memcpy((uint8_t *)apu_buffer_cpu(net->act) + net->t[i].off,
			       net->consts + net->t[i].const_off, net->t[i].size);
	write_cmdbufs(net);

	if (!net->dev->cpu) {
		for (i = 0; i < net->njobs; i++)
			if (drmSyncobjCreate(net->dev->fd, 0, &net->jobs[i].syncobj)) {
				ret = -errno;
				goto err;
			}
		for (uint32_t d = 0; d < net->ndeps_total; d++)
			net->deps[d] = net->jobs[net->deps[d]].syncobj;
		if (drmSyncobjCreate(net->dev->fd, 0, &net->in_fence_syncobj)) {
			ret = -errno;
			goto err;
		}
	}
	net->compiled = true;
	/*
	 * The constants now live in their buffer (the CPU reference reads its
	 * mapping): one copy of the weights, not two.
	 */
	free(net->consts);
	net->consts = NULL;
	net->consts_cap = 0;
	return 0;
err:
	net_release_compiled(net);
	return ret;
}

double apu_network_modeled_us(const struct apu_network *net)
{
	return net && net->compiled ? net->modeled_us : 0;
}

int apu_network_write(struct apu_network *net, int tensor, const void *src, size_t size)
{
	if (!net || !src || !valid_tensor(net, tensor) || size != net->t[tensor].size)
		return -EINVAL;
	if (!net->compiled || net->t[tensor].producer >= 0 || net->t[tensor].constant ||
	    (net->t[tensor].view_of >= 0 && net->t[net->t[tensor].view_of].constant))
		return -EINVAL;
	if (net->in_flight)
		return -EBUSY;
	memcpy((uint8_t *)apu_buffer_cpu(net->act) + net->t[tensor].off, src, size);
	return 0;
}

/* Tensor @t out of arena @a (a slice gathered from its base). */
static void gather(const struct apu_network *net, int t, const uint8_t *a, void *dst)
{
	const struct tensor *x = &net->t[t];
	size_t pitch = t_pitch(net, t), pix = (size_t)x->s.h * x->s.w;

	if (x->slice_of < 0) {
		memcpy(dst, a + x->off, x->size);
		return;
	}
	for (size_t px = 0; px < pix; px++)
		memcpy((uint8_t *)dst + px * x->s.c, a + x->off + px * pitch, x->s.c);
}

int apu_network_read(struct apu_network *net, int tensor, void *dst, size_t size)
{
	if (!net || !dst || !valid_tensor(net, tensor) || size != net->t[tensor].size ||
	    !net->compiled)
		return -EINVAL;
	if (net->in_flight)
		return -EBUSY;
	gather(net, tensor, apu_buffer_cpu(net->act), dst);
	return 0;
}

/* ---- running -------------------------------------------------------------- */

/* The CPU ops (and views, which do nothing) on the tensors of arena @a. */
static void cpu_op(const struct apu_network *net, const struct op *o, int8_t *a)
{
	const struct tensor *ti = &net->t[o->in[0]], *to = &net->t[o->out];
	int8_t *out = a + to->off;
	const int8_t *in = a + ti->off;

	switch (o->kind) {
	case OP_MEAN:
		apu_ref_mean(&ti->s, &o->mean, in, out);
		break;
	case OP_SOFTMAX:
		apu_ref_softmax((size_t)ti->s.h * ti->s.w, ti->s.c, &o->sm, in, out);
		break;
	case OP_CONCAT: {
		size_t pix = (size_t)to->s.h * to->s.w, at = 0;

		for (int k = 0; k < o->ncat; k++) {
			const struct tensor *t = &net->t[o->cat[k]];

			for (size_t px = 0; px < pix; px++)
				memcpy(out + px * to->s.c + at, a + t->off + px * t->s.c, t->s.c);
			at += t->s.c;
		}
		break;
	}
	case OP_PAD: {
		size_t row = (size_t)ti->s.w * ti->s.c;

		memset(out, o->pad_value, to->size);
		for (unsigned int y = 0; y < ti->s.h; y++)
			memcpy(out + (((size_t)(y + o->pads[0]) * to->s.w) + o->pads[2]) * to->s.c,
			       in + y * row, row);
		break;
	}
	case OP_BADD:
	case OP_BMUL: {
		const struct tensor *tb = &net->t[o->in[1]];
		const int8_t *b = a + tb->off;

		for (unsigned int y = 0; y < to->s.h; y++)
			for (unsigned int x = 0; x < to->s.w; x++)
				for (unsigned int c = 0; c < to->s.c; c++) {
					size_t ia = ((size_t)(ti->s.h == 1 ? 0 : y) * ti->s.w +
						     (ti->s.w == 1 ? 0 : x)) * ti->s.c +
						    (ti->s.c == 1 ? 0 : c);
					size_t ib = ((size_t)(tb->s.h == 1 ? 0 : y) * tb->s.w +
						     (tb->s.w == 1 ? 0 : x)) * tb->s.c +
						    (tb->s.c == 1 ? 0 : c);
					size_t k = ((size_t)y * to->s.w + x) * to->s.c + c;

					if (o->kind == OP_BADD)
						apu_ref_add_bcast(1, 1, &o->add, in + ia, b + ib,
								  out + k);
					else
						apu_ref_mul(1, 1, &o->mul, in + ia, b + ib, out + k);
				}
		break;
	}
	default:	/* views */
		break;
	}
}

/* Run op @i with the CPU reference on the tensors of arena @a. */
static void ref_op(const struct apu_network *net, int i, int8_t *a)
{
	const struct op *o = &net->ops[i];
	const uint8_t *k = apu_buffer_cpu(net->cst);
	int8_t *out = a + net->t[o->out].off;
	const int8_t *in = a + net->t[o->in[0]].off;

	switch (o->kind) {
	case OP_CONV: {
		const struct tensor *t = &net->t[o->out];
		/* A slice is computed in the scratch buffer compile made for it. */
		int8_t *tmp = t->slice_of >= 0 ? net->scratch : out;

		apu_ref_conv2d(&o->conv, in, (const int8_t *)(k + o->w_off),
			       o->has_bias ? (const int32_t *)(k + o->b_off) : NULL,
			       (const int32_t *)(k + o->m_off), (const int32_t *)(k + o->s_off),
			       tmp);
		if (tmp != out) {	/* a slice: scatter at its base's pitch */
			size_t pitch = t_pitch(net, o->out), pix = (size_t)t->s.h * t->s.w;

			for (size_t px = 0; px < pix; px++)
				memcpy(out + px * pitch, tmp + px * t->s.c, t->s.c);
		}
		break;
	}
	case OP_ADD:
		apu_ref_add_bcast(net->t[o->out].size, o->period, &o->add, in,
				  a + net->t[o->in[1]].off, out);
		break;
	case OP_POOL:
		apu_ref_avgpool(&o->pool, in, out);
		break;
	case OP_MAXPOOL:
		apu_ref_maxpool(&o->pool, in, out);
		break;
	case OP_MUL:
		apu_ref_mul(net->t[o->out].size, o->period, &o->mul, in, a + net->t[o->in[1]].off,
			    out);
		break;
	case OP_LUT:
		apu_ref_lut(net->t[o->out].size, (const int8_t *)(k + o->lut_off), in, out);
		break;
	default:
		cpu_op(net, o, a);
		break;
	}
}

int apu_network_run_reference(struct apu_network *net)
{
	int i;

	if (!net || !net->compiled)
		return -EINVAL;
	if (net->in_flight)
		return -EBUSY;
	if (!net->ref) {
		net->ref = malloc(net->act_size);
		if (!net->ref)
			return -ENOMEM;
	}
	for (i = 0; i < net->nt; i++)
		if (net->t[i].producer < 0)
			memcpy(net->ref + net->t[i].off,
			       (uint8_t *)apu_buffer_cpu(net->act) + net->t[i].off, net->t[i].size);
	for (i = 0; i < net->nops; i++)
		ref_op(net, i, net->ref);
	return 0;
}

int apu_network_read_reference(struct apu_network *net, int tensor, void *dst, size_t size)
{
	if (!net || !dst || !net->ref || !valid_tensor(net, tensor) ||
	    size != net->t[tensor].size)
		return -EINVAL;
	gather(net, tensor, (const uint8_t *)net->ref, dst);
	return 0;
}

/* Wait for the syncobjs of the first @count jobs; 0, -ETIME, or an errno. */
static int wait_jobs(struct apu_network *net, int count, int64_t timeout_ns)
{
	uint32_t *objs;
	int ret;

	if (!count)
		return 0;
	objs = malloc(sizeof(*objs) * (size_t)count);
	if (!objs)
		return -ENOMEM;
	for (int i = 0; i < count; i++)
		objs[i] = net->jobs[i].syncobj;
	ret = drmSyncobjWait(net->dev->fd, objs, (uint32_t)count,
			     timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns,
			     DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, NULL);
	if (ret)
		ret = errno == ETIME ? -ETIME : -errno;
	free(objs);
	return ret;
}

/* Queue jobs [@i, @end); those queued earlier are waited for on failure. */
static int submit_jobs(struct apu_network *net, int i, int end, bool with_in_fence)
{
	/*
	 * The jobs write activations (the device enforces it) in parts of one
	 * buffer that their syncobjs order: no implicit wait on it, or jobs
	 * on different cores would run one after another. Drivers before 0.2
	 * know neither NO_WAIT nor enforcement: the buffer is named read
	 * there, as it always was, so that their jobs do not wait either.
	 */
	struct drm_apu_job_bo bos[3] = {
		{ net->act->handle, net->dev->bo_no_wait ?
				    DRM_APU_JOB_BO_WRITE | DRM_APU_JOB_BO_NO_WAIT : 0 },
		{ net->cst->handle, 0 }, { net->cmd->handle, 0 },
	};
	struct drm_apu_job batch[DRM_APU_MAX_SUBMIT_JOBS];

	while (i < end) {
		struct drm_apu_submit s = { .jobs = (uintptr_t)batch, .job_size = sizeof(batch[0]) };
		int n = end - i < DRM_APU_MAX_SUBMIT_JOBS ? end - i : DRM_APU_MAX_SUBMIT_JOBS;

		for (int k = 0; k < n; k++) {
			const struct job *j = &net->jobs[i + k];

			batch[k] = (struct drm_apu_job){
				.cmdbuf_handle = net->cmd->handle,
				.cmdbuf_offset = j->cmd_off,
				.cmdbuf_size = j->cmd_size,
				.target = DRM_APU_TARGET_CORE(j->share.core),
				.priority = net->opts.priority,
				.bos = (uintptr_t)bos,
				.num_bos = 3,
				.in_syncobjs = (uintptr_t)(net->deps + j->dep_first),
				.num_in_syncobjs = j->ndeps,
				.out_syncobj = j->syncobj,
			};
			if (!j->ndeps && with_in_fence) {
				batch[k].in_syncobjs = (uintptr_t)&net->in_fence_syncobj;
				batch[k].num_in_syncobjs = 1;
			}
		}
		s.num_jobs = (uint32_t)n;
		if (drmIoctl(net->dev->fd, DRM_IOCTL_APU_SUBMIT, &s)) {
			int ret = -errno;

			/*
			 * Earlier batches are queued: let them end before the
			 * buffers can be reused or freed, then report the error.
			 */
			if (i)
				wait_jobs(net, i, -1);
			return ret;
		}
		for (int k = 0; k < n; k++)
			net->jobs[i + k].id = batch[k].job_id;
		i += n;
	}
	return 0;
}

static bool has_cpu_ops(const struct apu_network *net)
{
	for (int i = 0; i < net->nops; i++)
		if (kind_cpu(net->ops[i].kind))
			return true;
	return false;
}

/*
 * A network with CPU ops runs in segments: the device jobs up to a CPU op
 * are queued and waited for, the CPU op runs on the mapped activations,
 * and so on. The whole run happens here; @out_fence is then a signalled
 * fence.
 */
static int run_segments(struct apu_network *net, int in_fence, int *out_fence)
{
	int8_t *a = apu_buffer_cpu(net->act);
	int next = 0, ret;

	if (in_fence >= 0) {
		if (drmSyncobjImportSyncFile(net->dev->fd, net->in_fence_syncobj, in_fence))
			return -errno;
		if (drmSyncobjWait(net->dev->fd, &net->in_fence_syncobj, 1, INT64_MAX, 0, NULL))
			return -errno;
	}
	for (int i = 0; i <= net->nops; i++) {
		int end = next;
		int64_t t0;

		if (i < net->nops && !kind_cpu(net->ops[i].kind))
			continue;
		/* The device ops before op @i. */
		while (end < net->njobs && net->jobs[end].op < i)
			end++;
		if (end > next) {
			ret = submit_jobs(net, next, end, false);
			if (!ret)
				ret = wait_jobs(net, end, -1);
			else if (next)
				wait_jobs(net, next, -1);
			if (ret)
				return ret;
			next = end;
		}
		if (i == net->nops)
			break;
		t0 = now_ns();
		cpu_op(net, &net->ops[i], a);
		net->ops[i].cpu_us = (double)(now_ns() - t0) / 1000.0;
	}
	net->in_flight = true;
	if (out_fence) {
		uint32_t done;

		if (drmSyncobjCreate(net->dev->fd, DRM_SYNCOBJ_CREATE_SIGNALED, &done))
			return -errno;
		ret = drmSyncobjExportSyncFile(net->dev->fd, done, out_fence) ? -errno : 0;
		drmSyncobjDestroy(net->dev->fd, done);
		return ret;
	}
	return 0;
}

int apu_network_submit(struct apu_network *net, int in_fence, int *out_fence)
{
	int ret, i;

	if (out_fence)
		*out_fence = -1;
	if (!net || !net->compiled)
		return -EINVAL;
	if (net->in_flight)
		return -EBUSY;
	net->submit_ns = now_ns();
	if (net->dev->cpu) {
		/* The CPU backend runs at once; its fences are already signalled. */
		for (i = 0; i < net->nops; i++) {
			int64_t t0 = now_ns();

			ref_op(net, i, apu_buffer_cpu(net->act));
			if (kind_cpu(net->ops[i].kind))
				net->ops[i].cpu_us = (double)(now_ns() - t0) / 1000.0;
		}
		net->end_ns = now_ns();
		net->in_flight = true;
		return 0;
	}
	if (has_cpu_ops(net)) {
		ret = run_segments(net, in_fence, out_fence);
		net->end_ns = now_ns();
		return ret;
	}
	if (in_fence >= 0 &&
	    drmSyncobjImportSyncFile(net->dev->fd, net->in_fence_syncobj, in_fence))
		return -errno;
	ret = submit_jobs(net, 0, net->njobs, in_fence >= 0);
	if (ret)
		return ret;
	net->in_flight = true;
	if (out_fence) {
		int merged = -1;

		/* The jobs no other job waits for, merged into one sync_file. */
		for (i = 0; i < net->njobs; i++) {
			int fd;

			if (!net->jobs[i].sink)
				continue;
			if (drmSyncobjExportSyncFile(net->dev->fd, net->jobs[i].syncobj, &fd)) {
				/* The run goes on: wait for it with apu_network_wait(). */
				ret = -errno;
				if (merged >= 0)
					close(merged);
				return ret;
			}
			if (merged < 0) {
				merged = fd;
			} else {
				struct sync_merge_data m = { .name = "apu-run", .fd2 = fd };

				ret = ioctl(merged, SYNC_IOC_MERGE, &m) ? -errno : 0;
				close(fd);
				close(merged);
				if (ret)
					return ret;
				merged = m.fence;
			}
		}
		*out_fence = merged;
	}
	return 0;
}

static int status_errno(uint32_t status)
{
	switch (status) {
	case DRM_APU_STATUS_OK:
		return 0;
	case DRM_APU_STATUS_MMU_FAULT:
		return -EFAULT;
	case DRM_APU_STATUS_TIMEOUT:
		return -ETIMEDOUT;
	case DRM_APU_STATUS_CANCELED:
	case DRM_APU_STATUS_ABORTED:
		return -ECANCELED;
	case DRM_APU_STATUS_INJECTED:
		return -EIO;
	default:
		return -EPROTO;	/* the device refused what libapu built */
	}
}

/* Modeled start and end of every job: its core's order and its dependencies. */
static void model_times(struct apu_network *net, struct apu_run_stats *st)
{
	double core_free[8] = { 0 };
	const struct apu_device *dev = net->dev;
	/* Without memory, the stats ignore dependencies (they stay bounds). */
	int *prods = malloc(sizeof(int) * ((size_t)net->nt + 2));

	memset(st, 0, sizeof(*st));
	st->num_cores = dev->info.num_cores;
	st->jobs = (unsigned int)net->njobs;
	for (int i = 0; i < net->njobs; i++) {
		struct job *j = &net->jobs[i];
		const struct apu_core_info *c = &dev->cores[j->share.core];
		struct apu_core_stats *cs = &st->cores[j->share.core];
		double start = core_free[j->share.core];

		/* It starts when its core is free and its producers' jobs ended. */
		for (int k = prods ? input_producers(net, &net->ops[j->op], prods) - 1 : -1; k >= 0; k--)
			for (int q = 0; q < i; q++)
				if (net->jobs[q].op == prods[k] && net->jobs[q].end_us > start)
					start = net->jobs[q].end_us;
		j->start_us = start;
		j->end_us = start + (double)j->cycles / c->clock_mhz;
		core_free[j->share.core] = j->end_us;
		cs->jobs++;
		cs->cycles += j->cycles;
		cs->macs += j->macs;
		cs->busy_us += j->end_us - j->start_us;
		cs->energy_uj += (double)j->macs * c->energy_fj_per_mac * 1e-9;
		if (j->end_us > st->makespan_us)
			st->makespan_us = j->end_us;
	}
	for (unsigned int c = 0; c < st->num_cores; c++)
		st->energy_uj += st->cores[c].energy_uj;
	/*
	 * Static energy, as the planner counts it: a core that works on a
	 * layer is powered from the layer's first start to its last end
	 * (power gating turns the others off).
	 */
	for (int o = 0; o < net->nops; o++) {
		double t0 = 0, t1 = 0;
		unsigned int used = 0;
		bool any = false;

		for (int i = 0; i < net->njobs; i++) {
			const struct job *j = &net->jobs[i];

			if (j->op != o)
				continue;
			if (!any || j->start_us < t0)
				t0 = j->start_us;
			if (!any || j->end_us > t1)
				t1 = j->end_us;
			any = true;
			used |= 1u << j->share.core;
		}
		for (unsigned int c = 0; c < st->num_cores; c++)
			if (used & (1u << c))
				st->energy_uj += dev->cores[c].idle_power_uw * (t1 - t0) * 1e-6;
	}
	free(prods);
}

int apu_network_wait(struct apu_network *net, int64_t timeout_ns, struct apu_run_stats *stats)
{
	int64_t first_start = INT64_MAX;
	int ret = 0, i;

	if (!net || !net->compiled)
		return -EINVAL;
	if (!net->in_flight)
		return -EINVAL;
	if (net->dev->cpu) {
		/* The planner's figures: the same timing model as the device. */
		for (i = 0; i < net->njobs; i++) {
			struct job *j = &net->jobs[i];

			j->cycles = j->share.cycles;
			j->macs = net->ops[j->op].layer.unit_macs * j->share.count;
		}
		first_start = net->submit_ns;
	} else {
		ret = wait_jobs(net, net->njobs, timeout_ns);
		if (ret)
			return ret;
		net->end_ns = now_ns();
		for (i = 0; i < net->njobs; i++) {
			struct drm_apu_job_info info = { .job_id = net->jobs[i].id };
			int e;

			if (drmIoctl(net->dev->fd, DRM_IOCTL_APU_JOB_INFO, &info)) {
				ret = ret ? ret : -errno;
				continue;
			}
			e = status_errno(info.status);
			if (e && !ret)
				ret = e;
			net->jobs[i].cycles = info.cycles;
			net->jobs[i].macs = info.macs;
			if (info.start_ns && (int64_t)info.start_ns < first_start)
				first_start = (int64_t)info.start_ns;
		}
	}
	net->in_flight = false;
	model_times(net, &net->last);
	net->last.wall_us = (double)(net->end_ns - net->submit_ns) / 1000.0;
	net->last.queue_us = first_start == INT64_MAX ? 0 :
			     (double)(first_start - net->submit_ns) / 1000.0;
	if (net->last.queue_us < 0)
		net->last.queue_us = 0;
	net->have_run = true;
	if (stats)
		*stats = net->last;
	return ret;
}

int apu_network_run(struct apu_network *net, struct apu_run_stats *stats)
{
	int ret = apu_network_submit(net, -1, NULL);

	return ret ? ret : apu_network_wait(net, -1, stats);
}

static const char *op_kind_name(const struct op *o)
{
	static const char *const kind[] = {
		"conv", "add", "avgpool", "maxpool", "mul", "lut", "mean", "softmax",
		"concat", "pad", "add-broadcast", "mul-broadcast", "reshape", "concat",
	};

	if (o->kind == OP_CONV)
		return o->fc ? "fc" : o->dw ? "dwconv" : "conv";
	return kind[o->kind];
}

int apu_network_op_count(const struct apu_network *net)
{
	return net ? net->nops : -EINVAL;
}

int apu_network_op_info(const struct apu_network *net, int index, struct apu_op_info *info)
{
	const struct op *o;

	if (!net || !info || index < 0 || index >= net->nops)
		return -EINVAL;
	o = &net->ops[index];
	memset(info, 0, sizeof(*info));
	info->kind = op_kind_name(o);
	info->place = kind_device(o->kind) ? APU_PLACE_DEVICE :
		      kind_cpu(o->kind) ? APU_PLACE_CPU : APU_PLACE_VIEW;
	for (int k = 0; k < o->nshares; k++)
		info->core_mask |= 1u << o->shares[k].core;
	info->inputs[0] = o->in[0];
	info->inputs[1] = o->in[1];
	info->output = o->out;
	info->macs = o->macs;
	info->modeled_us = o->est_us;
	info->cpu_us = o->cpu_us;
	return 0;
}

int apu_network_write_trace(const struct apu_network *net, const char *path)
{
	FILE *f;
	int i;

	if (!net || !path || !net->have_run)
		return -EINVAL;
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "{\"traceEvents\":[\n");
	for (unsigned int c = 0; c < net->dev->info.num_cores; c++)
		fprintf(f, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":%u,"
			"\"args\":{\"name\":\"core %u (%s)\"}},\n", c, c,
			apu_core_class_name(net->dev->cores[c].core_class));
	for (i = 0; i < net->njobs; i++) {
		const struct job *j = &net->jobs[i];
		const struct op *o = &net->ops[j->op];

		fprintf(f, "{\"ph\":\"X\",\"name\":\"%d %s\",\"pid\":1,\"tid\":%u,"
			"\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"cycles\":%" PRIu64
			",\"macs\":%" PRIu64 ",\"units\":%u,\"tiles\":%u}}%s\n",
			j->op, op_kind_name(o), j->share.core, j->start_us,
			j->end_us - j->start_us, j->cycles, j->macs, j->share.count,
			j->share.tiles, i + 1 < net->njobs ? "," : "");
	}
	fprintf(f, "],\"displayTimeUnit\":\"ns\"}\n");
	if (fclose(f))
		return -errno;
	return 0;
}

int apu_network_job(const struct apu_network *net, int i, const void **cmd, uint32_t *size,
		    unsigned int *core)
{
	if (!net || !net->compiled || i < 0)
		return -EINVAL;
	if (i >= net->njobs)
		return -ENOENT;
	*cmd = (const uint8_t *)apu_buffer_cpu(net->cmd) + net->jobs[i].cmd_off;
	*size = net->jobs[i].cmd_size;
	*core = net->jobs[i].share.core;
	return 0;
}

struct apu_buffer *apu_network_buffer(const struct apu_network *net, int which)
{
	if (!net || !net->compiled)
		return NULL;
	return which == 0 ? net->act : which == 1 ? net->cst : which == 2 ? net->cmd : NULL;
}

int apu_network_tensor_place(const struct apu_network *net, int t, size_t *off, size_t *size)
{
	/* A slice is not one range: its base's place tells. */
	if (!net || !net->compiled || !valid_tensor(net, t) || net->t[t].slice_of >= 0)
		return -EINVAL;
	*off = net->t[t].off;
	*size = net->t[t].size;
	return 0;
}

/*
 * For make bench: the modeled time (@us) and energy (@uj) of the network
 * with op i placed on masks[i] (split to end together, as the planner
 * does); or, with masks NULL, the lower bound: every op's MACs and bytes
 * spread over all cores at once, max(MACs / total MAC rate, bytes / total
 * byte rate), summed along the chain of ops (@us), and the same plus one
 * op's fixed cost per layer (@uj, a time then).
 */
int apu_network_evaluate(struct apu_network *net, const unsigned int *masks, double *us,
			 double *uj)
{
	const struct apu_device *dev;
	double t = 0, e = 0, mac_rate = 0, byte_rate = 0, max_mhz = 0;
	int i;

	if (!net || !net->compiled || !us)
		return -EINVAL;
	dev = net->dev;
	for (unsigned int c = 0; c < dev->info.num_cores; c++) {
		mac_rate += (double)dev->cores[c].macs_per_cycle * dev->cores[c].clock_mhz;
		byte_rate += (double)dev->cores[c].bytes_per_cycle * dev->cores[c].clock_mhz;
		if (dev->cores[c].clock_mhz > max_mhz)
			max_mhz = dev->cores[c].clock_mhz;
	}
	for (i = 0; i < net->nops; i++) {
		struct apu_plan_layer lb, *l = &lb;
		struct apu_plan_share sh[8];
		double lt, le;
		int n;

		if (!kind_device(net->ops[i].kind))
			continue;
		/* The plan-independent description: rows, pixels or FC channels. */
		describe_layer(net, &net->ops[i], false, l);
		add_wzp_cost(&net->ops[i], false, l);
		if (!masks) {
			double m = (double)l->unit_macs * l->units / mac_rate;
			double b = ((double)l->unit_bytes * l->units + l->fixed_bytes) / byte_rate;

			t += m > b ? m : b;
			/*
			 * Every layer ends with at least one op, and every op
			 * costs the timing model's fixed 200 cycles on its core:
			 * at least 200 cycles at the fastest clock per layer.
			 */
			e += 200.0 / max_mhz;
			continue;
		}
		n = apu_plan_split(dev->cores, dev->info.num_cores, masks[i], l, sh, &lt, &le);
		if (n < 0)
			return n;
		t += lt;
		e += le;
	}
	/* The bound: @us without the fixed op costs, @uj (time) with them. */
	*us = t;
	if (uj)
		*uj = masks ? e : t + e;
	return 0;
}

int apu_network_num_ops(const struct apu_network *net)
{
	return net ? net->nops : -EINVAL;
}
