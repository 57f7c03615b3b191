// SPDX-License-Identifier: MIT
/*
 * Command emission: a network's tiles as the firmware's commands (one
 * emitter per op kind), its jobs and their dependencies, and
 * apu_network_compile(), which places the tensors, plans, emits and
 * allocates the buffers.
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

/* ---- command buffers ----------------------------------------------------- */

/* Element @el of tensor @t's storage (fp16 tensors: 2 bytes an element). */
static uint64_t act_va(const struct apu_network *net, int t, size_t el)
{
	return apu_buffer_device_addr(net->act) + net->t[t].off + (net->t[t].fp16 ? 2 * el : el);
}

static uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
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
 * The weights of output channels [@u0, ...) of a fully connected layer or
 * a 1x1 convolution split by channel: at element u0 * in_c, in a repacked
 * copy when that is in the middle of an int4 byte.
 */
static uint64_t oc_weights(const struct apu_network *net, const struct op *o, unsigned int u0)
{
	uint64_t el = (uint64_t)u0 * o->conv.in_c;

	if (o->sparse)
		return cst_va(net, dw_weights(o, u0));	/* every tile its own */
	if (o->fp16)
		return cst_va(net, o->w_off) + 2 * el;
	if (!o->w4)
		return cst_va(net, o->w_off) + el;
	if (el % 2)
		return cst_va(net, dw_weights(o, u0));
	return cst_va(net, o->w_off) + el / 2;
}

/* Pack @n int8 values in [-8, 7] as TFLite's INT4 (low nibble first). */
static void pack_int4(const int8_t *v, size_t n, uint8_t *dst)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t nib = (uint8_t)v[i] & 0xf;

		dst[i / 2] = i % 2 ? (uint8_t)(dst[i / 2] | nib << 4) : nib;
	}
}

/*
 * The tiles of @o that read their own copy of the weights, and those
 * weights (int8, the tile's layout) into @dst when not NULL; @n: their
 * number of elements. Depthwise layers split by channel: every tile (the
 * weights of its channels are strided in [k_h][k_w][out_c]). Int4 weights
 * split by output channel: the tiles whose weights start at an odd element,
 * in the middle of a byte.
 */
static bool tile_weights(const struct op *o, const int8_t *w, unsigned int u, unsigned int e,
			 int8_t *dst, size_t *n)
{
	if (o->dw && o->by_channel) {
		int mlt = o->conv.out_c / o->conv.in_c, taps = o->conv.k_h * o->conv.k_w;
		size_t cn = (size_t)(e - u) * mlt;
		const int8_t *src;

		*n = cn * taps;
		if (!dst)
			return true;	/* sizing: @w may be NULL */
		src = w + (size_t)u * mlt;
		/*
		 * One channel is not depthwise for the device (groups 1):
		 * then its weights are [m][k_h][k_w][1].
		 */
		for (int t = 0; t < taps; t++)
			for (size_t j = 0; j < cn; j++)
				dst[e - u == 1 ? j * taps + t : t * cn + j] =
					src[(size_t)t * o->conv.out_c + j];
		return true;
	}
	if (o->w4 && !o->dw && (o->fc || o->by_channel) && ((size_t)u * o->conv.in_c) % 2) {
		*n = (size_t)(e - u) * o->conv.in_c;
		if (dst)
			memcpy(dst, w + (size_t)u * o->conv.in_c, *n);
		return true;
	}
	return false;
}

/*
 * Repack the weights of the tiles that need their own copy (tile_weights())
 * into the constants, before the constant buffer is made; int4 weights are
 * packed again from the network's int8 copy.
 */
/*
 * Sparse weights split by output channel (fully connected, 1x1 by channel):
 * each tile gets the encoding of its own channels, from the dense copy.
 */
static int sparse_tiles(struct apu_network *net, struct op *o, int ntiles)
{
	int k = 0;

	if (!o->fc && !o->by_channel)
		return 0;	/* by pixel or row: the whole op's encoding */
	o->dwt = calloc((size_t)ntiles, sizeof(*o->dwt));
	if (!o->dwt)
		return -ENOMEM;
	for (int sh = 0; sh < o->nshares; sh++) {
		const struct apu_plan_share *p = &o->shares[sh];
		unsigned int end = p->first + p->count;

		for (unsigned int u = p->first; u < end; u += p->tile_units) {
			unsigned int e = u + p->tile_units < end ? u + p->tile_units : end;
			const int8_t *w = o->w8 + (size_t)u * o->conv.in_c;
			size_t sz = 0, off;
			int ret;

			ret = apu_sparse_encode(w, e - u, (unsigned int)o->conv.in_c, o->sparse,
						NULL, &sz);
			if (!ret)
				ret = apu_net_add_const(net, NULL, sz, &off);
			if (!ret)
				ret = apu_sparse_encode(w, e - u, (unsigned int)o->conv.in_c,
							o->sparse, net->consts + off, &sz);
			if (ret)
				return ret;
			o->dwt[k++] = (struct dw_tile){ u, off };
		}
	}
	o->ndwt = k;
	return 0;
}

static int repack_tiles(struct apu_network *net)
{
	for (int i = 0; i < net->nops; i++) {
		struct op *o = &net->ops[i];
		int k = 0, ntiles = 0;

		if (o->kind != OP_CONV)
			continue;
		for (int sh = 0; sh < o->nshares; sh++)
			ntiles += (int)o->shares[sh].tiles;
		if (!ntiles)
			continue;
		if (o->sparse) {
			int ret = sparse_tiles(net, o, ntiles);

			if (ret)
				return ret;
			continue;
		}
		for (int sh = 0; sh < o->nshares && !o->dwt; sh++) {
			const struct apu_plan_share *p = &o->shares[sh];
			unsigned int end = p->first + p->count;

			for (unsigned int u = p->first; u < end && !o->dwt; u += p->tile_units) {
				unsigned int e = u + p->tile_units < end ? u + p->tile_units : end;
				size_t n;

				if (tile_weights(o, NULL, u, e, NULL, &n)) {
					o->dwt = calloc((size_t)ntiles, sizeof(*o->dwt));
					if (!o->dwt)
						return -ENOMEM;
				}
			}
		}
		if (!o->dwt)
			continue;
		for (int sh = 0; sh < o->nshares; sh++) {
			const struct apu_plan_share *p = &o->shares[sh];
			unsigned int end = p->first + p->count;

			for (unsigned int u = p->first; u < end; u += p->tile_units) {
				unsigned int e = u + p->tile_units < end ? u + p->tile_units : end;
				const int8_t *w = o->w4 ? o->w8 :
					(const int8_t *)(net->consts + o->w_off);
				size_t n, off;
				int8_t *tmp;
				int ret;

				if (!tile_weights(o, w, u, e, NULL, &n))
					continue;
				ret = apu_net_add_const(net, NULL, o->w4 ? (n + 1) / 2 : n, &off);
				if (ret)
					return ret;
				/* net->consts may have moved: @w again. */
				w = o->w4 ? o->w8 : (const int8_t *)(net->consts + o->w_off);
				if (!o->w4) {
					tile_weights(o, w, u, e, (int8_t *)(net->consts + off), &n);
				} else {
					tmp = calloc(n, 1);
					if (!tmp)
						return -ENOMEM;
					tile_weights(o, w, u, e, tmp, &n);
					pack_int4(tmp, n, net->consts + off);
					free(tmp);
				}
				o->dwt[k++] = (struct dw_tile){ u, off };
			}
		}
		o->ndwt = k;
	}
	return 0;
}

/* Units [u0, u1) of a convolution (rows, pixels, or channels: o->fc, flat, by_channel). */
static void emit_conv(const struct apu_network *net, const struct op *o, unsigned int u0,
		      unsigned int u1, uint8_t *p)
{
	const struct apu_ref_conv *c = &o->conv;
	int base = 0, rows = 1, tpad = 0, out_h = 1, out_c = c->out_c;
	uint64_t in = act_va(net, o->in[0], 0), out, w = cst_va(net, o->w_off);
	uint64_t b = cst_va(net, o->b_off), m = cst_va(net, o->m_off);
	uint64_t s = cst_va(net, o->s_off);
	unsigned int es = o->fp16 ? 2 : 1;	/* bytes an element */

	int in_w = c->in_w, out_w = c->out_w, pad_left = c->pad_left;
	int in_c = c->in_c, groups = c->groups;
	/* A slice of a concatenation: written at its base's pitch. */
	unsigned int opitch = t_pitch(net, o->out);
	unsigned int pitch = opitch != (unsigned int)c->out_c ? opitch : 0, in_pitch = 0;

	if (o->fc) {
		out_c = (int)(u1 - u0);
		w = oc_weights(net, o, u0);
		b += 4ull * u0;
		m += 4ull * u0;
		s += 4ull * u0;
		out = act_px(net, o->out, 0, u0);
	} else if (o->by_channel && o->dw) {
		/* Channels [u0, u1) of every pixel, at the input and output pitch. */
		int mlt = c->out_c / c->in_c, n = (int)(u1 - u0);

		in += (uint64_t)es * u0;
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
		w = oc_weights(net, o, u0);
		b += 4ull * u0;
		m += 4ull * u0;
		s += 4ull * u0;
		out = act_px(net, o->out, 0, u0);
	} else if (o->flat) {
		/* Pixels [u0, u1) as a 1 x n image. */
		in += (uint64_t)es * u0 * c->in_c;
		in_w = out_w = (int)(u1 - u0);
		pad_left = 0;
		out = act_px(net, o->out, u0, 0);
	} else {
		tile_rows((int)u0, (int)u1, c->stride_h, c->pad_top,
			  (c->k_h - 1) * c->dil_h + 1, c->in_h, &base, &rows, &tpad);
		in += (uint64_t)es * base * c->in_w * c->in_c;
		out_h = (int)(u1 - u0);
		out = act_px(net, o->out, (size_t)u0 * c->out_w, 0);
	}
	put16(p, F(apu_op_conv2d, opcode), APU_OP_CONV2D);
	put16(p, F(apu_op_conv2d, flags), (o->w4 ? APU_OPF_WEIGHTS_INT4 : 0) |
					  (o->sparse ? APU_OPF_WEIGHTS_SPARSE : 0));
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
	if (o->fp16) {
		/* fp32 clamps, fp32 bias, no requantization (apu_cmd.h). */
		put16(p, F(apu_op_conv2d, flags), APU_OPF_FP16);
		put32(p, F(apu_op_conv2d, act_min), f32_bits(o->lo));
		put32(p, F(apu_op_conv2d, act_max), f32_bits(o->hi));
		put64(p, F(apu_op_conv2d, mult), 0);
		put64(p, F(apu_op_conv2d, shift), 0);
	}
}

/* Rows [u0, u1) of an elementwise add (input 2 broadcast: o->period). */
static void emit_add(const struct apu_network *net, const struct op *o, unsigned int u0,
		     unsigned int u1, uint8_t *p)
{
	const struct apu_shape *sh = &net->t[o->in[0]].s;
	size_t first = (size_t)u0 * sh->c;
	size_t n1 = net->t[o->in[0]].size / (net->t[o->in[0]].fp16 ? 2 : 1);
	bool bcast = o->period != n1;
	uint64_t in2 = act_va(net, o->in[1], bcast ? 0 : first);
	const struct apu_add *a = &o->add;

	if (o->fp16) {
		put16(p, F(apu_op_add, opcode), APU_OP_ADD);
		put16(p, F(apu_op_add, flags), APU_OPF_FP16);
		put32(p, F(apu_op_add, count), (uint32_t)((u1 - u0) * sh->c));
		put32(p, F(apu_op_add, act_min), f32_bits(o->lo));
		put32(p, F(apu_op_add, act_max), f32_bits(o->hi));
		put64(p, F(apu_op_add, input1), act_va(net, o->in[0], first));
		put64(p, F(apu_op_add, input2), in2);
		put64(p, F(apu_op_add, output), act_va(net, o->out, first));
		put32(p, F(apu_op_add, in2_period), bcast ? (uint32_t)o->period : 0);
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
}

/* Rows [u0, u1) of an elementwise multiply (input 2 broadcast: o->period). */
static void emit_mul(const struct apu_network *net, const struct op *o, unsigned int u0,
		     unsigned int u1, uint8_t *p)
{
	const struct apu_shape *sh = &net->t[o->in[0]].s;
	size_t first = (size_t)u0 * sh->c;
	bool bcast = o->period != net->t[o->in[0]].size;
	uint64_t in2 = act_va(net, o->in[1], bcast ? 0 : first);
	const struct apu_mul *m = &o->mul;

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
}

/* Rows [u0, u1) of a table lookup. */
static void emit_lut(const struct apu_network *net, const struct op *o, unsigned int u0,
		     unsigned int u1, uint8_t *p)
{
	size_t first = (size_t)u0 * net->t[o->in[0]].s.c;

	put16(p, F(apu_op_lut, opcode), APU_OP_LUT);
	put32(p, F(apu_op_lut, count), (uint32_t)((u1 - u0) * net->t[o->in[0]].s.c));
	put64(p, F(apu_op_lut, input), act_va(net, o->in[0], first));
	put64(p, F(apu_op_lut, output), act_va(net, o->out, first));
	put64(p, F(apu_op_lut, table), cst_va(net, o->lut_off));
}

/* Output rows [u0, u1) of an average or max pooling. */
static void emit_pool(const struct apu_network *net, const struct op *o, unsigned int u0,
		      unsigned int u1, uint8_t *p)
{
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
	put32(p, F(apu_op_avgpool, act_min), o->fp16 ? f32_bits(o->lo) : (uint32_t)q->act_min);
	put32(p, F(apu_op_avgpool, act_max), o->fp16 ? f32_bits(o->hi) : (uint32_t)q->act_max);
	if (o->fp16)
		put16(p, F(apu_op_avgpool, flags), APU_OPF_FP16);
	put64(p, F(apu_op_avgpool, input),
	      act_va(net, o->in[0], (size_t)base * q->in_w * q->channels));
	put64(p, F(apu_op_avgpool, output),
	      act_va(net, o->out, (size_t)u0 * q->out_w * q->channels));
}

/* Write the op for units [u0, u1) of @o at @p (APU_OP_SIZE bytes). */
static void emit_tile(const struct apu_network *net, const struct op *o, unsigned int u0,
		      unsigned int u1, uint8_t *p)
{
	memset(p, 0, APU_OP_SIZE);
	switch (o->kind) {
	case OP_CONV:
		emit_conv(net, o, u0, u1, p);
		break;
	case OP_ADD:
		emit_add(net, o, u0, u1, p);
		break;
	case OP_MUL:
		emit_mul(net, o, u0, u1, p);
		break;
	case OP_LUT:
		emit_lut(net, o, u0, u1, p);
		break;
	default:	/* OP_POOL, OP_MAXPOOL */
		emit_pool(net, o, u0, u1, p);
		break;
	}
}

/*
 * The ops that produce the inputs of op @o (an in-place concatenation
 * stands for the convolutions that wrote its slices), into @prods (NULL:
 * count only). Returns their number.
 */
int apu_net_input_producers(const struct apu_network *net, const struct op *o, int *prods)
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
			k = apu_net_input_producers(net, o, prods);
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

		for (int k = apu_net_input_producers(net, o, prods) - 1; k >= 0; k--)
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

int apu_network_compile(struct apu_network *net, const struct apu_compile_options *options,
			size_t size)
{
	struct apu_compile_options def = { .policy = APU_POLICY_PERFORMANCE, .priority = 1 };
	const struct apu_compile_options *opts = &def;
	size_t cmd_bytes = 0, scratch = 0;
	int i, ret;

	if (!net || !net->nops)
		return -EINVAL;
	if (net->compiled || net->in_flight)
		return -EBUSY;
	if (options) {
		ret = apu_copy_sized_in(&def, sizeof(def), options, size,
					APU_COMPILE_OPTIONS_SIZE_1_0);
		if (ret)
			return ret;
	}
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
	ret = apu_net_plan(net);
	if (!ret)
		ret = repack_tiles(net);
	if (!ret)
		ret = build_jobs(net, &cmd_bytes);
	if (!ret)
		ret = apu_buffer_create(net->dev, net->act_size, 0, &net->act);
	if (!ret)
		ret = apu_buffer_create(net->dev, net->consts_size ? net->consts_size : 64,
				       APU_BUFFER_DEVICE_READ_ONLY, &net->cst);
	if (!ret)
		ret = apu_buffer_create(net->dev, cmd_bytes ? cmd_bytes : 64,
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
	apu_net_release_compiled(net);
	return ret;
}

double apu_network_modeled_us(const struct apu_network *net)
{
	return net && net->compiled ? net->modeled_us : 0;
}

