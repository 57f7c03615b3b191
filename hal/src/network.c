// SPDX-License-Identifier: MIT
/*
 * Networks: a sequence of int8 ops over tensors, compiled once (planned,
 * tiled, placed, command buffers built) and run many times on the device
 * (or on the CPU reference backend).
 *
 * This part: the network's life (create, destroy) and its builder (the
 * apu_network_add_*() ops, tensors and constants), and what a caller asks
 * of a built network (op info, trace). The planner is plan.c, command
 * emission and compilation emit.c, running run.c; network.h is their
 * shared object.
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

#include "network.h"


int apu_network_create(struct apu_device *dev, struct apu_network **out)
{
	struct apu_network *net;

	if (!dev || !out)
		return -EINVAL;
	net = calloc(1, sizeof(*net));
	if (!net)
		return -ENOMEM;
	net->dev = apu_device_ref(dev);
	*out = net;
	return 0;
}

void apu_net_release_compiled(struct apu_network *net)
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
	apu_buffer_destroy(net->act);
	apu_buffer_destroy(net->cst);
	apu_buffer_destroy(net->cmd);
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
	apu_net_release_compiled(net);
	for (int i = 0; i < net->nops; i++) {
		free(net->ops[i].cat);
		free(net->ops[i].w8);
	}
	free(net->t);
	free(net->ops);
	free(net->consts);
	apu_device_close(net->dev);
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
int apu_net_add_const(struct apu_network *net, const void *src, size_t size, size_t *off)
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

/*
 * An int8 op's input: an int8 tensor, not a slice (only its concatenation
 * reads those).
 */
static bool valid_input(const struct apu_network *net, int t)
{
	return valid_tensor(net, t) && net->t[t].slice_of < 0 && !net->t[t].fp16;
}

struct op *apu_net_new_op(struct apu_network *net)
{
	return new_op(net);
}

int apu_net_finish_op(struct apu_network *net, const struct apu_shape *s, int *output)
{
	return finish_op(net, s, output);
}

int apu_net_add_tensor(struct apu_network *net, const struct apu_shape *shape, int producer)
{
	return add_tensor(net, shape, producer);
}

void apu_net_make_fp16(struct apu_network *net, int t)
{
	net->act_total += ((2 * net->t[t].size + 63) & ~(size_t)63) -
			  ((net->t[t].size + 63) & ~(size_t)63);
	net->t[t].size *= 2;
	net->t[t].fp16 = true;
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

static int out_dim(unsigned int in, unsigned int k, unsigned int stride, unsigned int dil,
		   enum apu_padding pad, unsigned int pad_lo, unsigned int pad_hi,
		   unsigned int *out, unsigned int *lo);

int apu_net_out_dim(unsigned int in, unsigned int k, unsigned int stride, unsigned int dil,
		    enum apu_padding pad, unsigned int pad_lo, unsigned int pad_hi,
		    unsigned int *out, unsigned int *lo)
{
	return out_dim(in, k, stride, dil, pad, pad_lo, pad_hi, out, lo);
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
	unsigned int oh, ow, pt, pl, icg, k_in, sparse;
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
	/* Int4 weights are symmetric; uint8 ones are bytes. */
	if ((flags & APU_CONV_WEIGHTS_INT4) && (w_zp || (flags & APU_CONV_WEIGHTS_U8)))
		return -EINVAL;
	if (w_zp && !net->dev->quant_ops)
		return -EOPNOTSUPP;
	if ((flags & APU_CONV_WEIGHTS_INT4) && !net->dev->int4)
		return -EOPNOTSUPP;
	sparse = APU_CONV_WEIGHTS_SPARSE_BLOCK(flags);
	if (sparse && ((sparse != 1 && sparse != 2 && sparse != 4) || w_zp ||
		       (flags & (APU_CONV_WEIGHTS_INT4 | APU_CONV_WEIGHTS_U8)) ||
		       o->conv.k_h != 1 || o->conv.k_w != 1 || o->conv.groups != 1 ||
		       o->conv.in_c > 65535 || p->out_c > 65535))
		return -EINVAL;
	if (sparse && !net->dev->sparse)
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
	if (flags & APU_CONV_WEIGHTS_INT4) {
		o->w4 = true;
		o->w_size = (wn + 1) / 2;
		o->w8 = malloc(wn);
		if (!o->w8)
			return -ENOMEM;
		apu_ref_int4_unpack((const uint8_t *)p->weights, wn, o->w8);
	}
	if (sparse) {
		size_t sz = 0;

		o->sparse = sparse;
		o->w8 = malloc(wn);
		if (!o->w8)
			return -ENOMEM;
		memcpy(o->w8, p->weights, wn);
		ret = apu_sparse_encode(o->w8, p->out_c, (unsigned int)o->conv.in_c, sparse, NULL,
					&sz);
		if (!ret)
			ret = apu_net_add_const(net, NULL, sz, &o->w_off);
		if (!ret)
			ret = apu_sparse_encode(o->w8, p->out_c, (unsigned int)o->conv.in_c, sparse,
						net->consts + o->w_off, &sz);
		o->w_size = sz;
		if (!ret) {
			const uint8_t *h = net->consts + o->w_off + 4;

			o->nz = ((uint64_t)h[0] | (uint64_t)h[1] << 8 | (uint64_t)h[2] << 16 |
				 (uint64_t)h[3] << 24) * sparse;
		}
	} else {
		ret = apu_net_add_const(net, p->weights, o->w_size, &o->w_off);
	}
	if (!ret && (flags & APU_CONV_WEIGHTS_U8))
		for (size_t i = 0; i < wn; i++)
			net->consts[o->w_off + i] ^= 0x80;
	if (!ret)
		ret = apu_net_add_const(net, p->bias, 4 * (size_t)p->out_c, &o->b_off);
	if (!ret)
		ret = apu_net_add_const(net, p->mult, 4 * (size_t)p->out_c, &o->m_off);
	if (!ret)
		ret = apu_net_add_const(net, p->shift, 4 * (size_t)p->out_c, &o->s_off);
	if (!ret) {
		o->macs = (uint64_t)oh * ow * p->out_c * o->conv.k_h * o->conv.k_w *
			  (o->conv.in_c / o->conv.groups);
		if (sparse)
			o->macs = (uint64_t)oh * ow * o->nz;	/* the stored blocks' */
		os = (struct apu_shape){ oh, ow, p->out_c };
		ret = finish_op(net, &os, output);
	}
	if (ret) {
		/* Not added: the next op reuses the slot. */
		free(o->w8);
		o->w8 = NULL;
		o->sparse = 0;
	}
	return ret;
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
	unsigned int flags;

	/* The first version: size, flags, w_zp; the second adds sparse_block. */
	if (!ext || ext->size < APU_CONV2D_EXT_SIZE_V1 ||
	    (ext->flags & ~(APU_CONV_EXT_FULLY_CONNECTED | APU_CONV_EXT_WEIGHTS_INT4 |
			    APU_CONV_EXT_WEIGHTS_SPARSE)))
		return -EINVAL;
	flags = ext->flags & APU_CONV_EXT_WEIGHTS_INT4 ? APU_CONV_WEIGHTS_INT4 : 0;
	if (ext->flags & APU_CONV_EXT_WEIGHTS_SPARSE) {
		if (ext->size < sizeof(struct apu_conv2d_ext) ||
		    (ext->sparse_block != 1 && ext->sparse_block != 2 && ext->sparse_block != 4))
			return -EINVAL;
		flags |= APU_CONV_WEIGHTS_SPARSE(ext->sparse_block);
	}
	return add_conv(net, input, p, ext->flags & APU_CONV_EXT_FULLY_CONNECTED, flags,
			ext->w_zp, output);
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
	ret = apu_net_add_const(net, data, net->t[t].size, &off);
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
	ret = apu_net_add_const(net, table, 256, &o->lut_off);
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
	bool fp16;

	/* Any input, int8 or fp16, but a slice. */
	if (!net || !shape || !output || !valid_tensor(net, input) ||
	    net->t[input].slice_of >= 0)
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	fp16 = net->t[input].fp16;
	if ((uint64_t)shape->h * shape->w * shape->c * (fp16 ? 2 : 1) != net->t[input].size)
		return -EINVAL;
	base = net->t[input].view_of >= 0 ? net->t[input].view_of : input;
	o = new_cpu_op(net, OP_RESHAPE, input);
	if (!o)
		return -ENOMEM;
	ret = finish_op(net, shape, output);
	if (ret)
		return ret;
	if (fp16)
		apu_net_make_fp16(net, *output);
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

int apu_network_op_info(const struct apu_network *net, int index, struct apu_op_info *out,
			size_t size)
{
	struct apu_op_info oi = { 0 }, *info = &oi;
	const struct op *o;

	if (!net || index < 0 || index >= net->nops)
		return -EINVAL;
	o = &net->ops[index];
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
	return apu_copy_sized(out, size, info, sizeof(*info), APU_OP_INFO_SIZE_1_0);
}

int apu_network_write_trace(const struct apu_network *net, const char *path)
{
	FILE *f;
	int i;

	if (!net || !path || !net->have_run)
		return -EINVAL;
	/* The figures are read on first use: a cache, not a change of the network. */
	apu_net_records((struct apu_network *)net);
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


int apu_network_num_ops(const struct apu_network *net)
{
	return net ? net->nops : -EINVAL;
}
