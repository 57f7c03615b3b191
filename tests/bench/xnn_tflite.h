/* SPDX-License-Identifier: MIT */
/*
 * A TFLite int8 model (read by libapu's own flatbuffer reader, tflite.c)
 * built as an XNNPACK subgraph, run by an XNNPACK runtime on a pthreadpool:
 * the whole-model peer of `make bench` (model_xnnpack_bench) and the model
 * test of hal_xnnpack_test.
 *
 * Uses libapu internals (hal/src/tflite.h: tfl_parse() and its plain
 * description of the file), linked from libapu.a; benches and tests only.
 *
 * The ops MobileNet V2 (TF2 post-training int8) needs, in XNNPACK's 2022
 * subgraph API (Debian's libxnnpack 0.0~git20220216):
 *
 *   QUANTIZE at the input     uint8 -> int8 with the same scale and zero
 *                             point - 128 (TFLite's uint8 edge): done by
 *                             the caller (x ^ 0x80); the int8 tensor is the
 *                             subgraph's external input
 *   CONV_2D                   xnn_define_convolution_2d, qint8 activations,
 *                             qcint8 (per-channel) filter, qcint32 bias
 *   DEPTHWISE_CONV_2D         xnn_define_depthwise_convolution_2d, likewise
 *   ADD                       xnn_define_add2, qint8
 *   MEAN over H and W         xnn_define_global_average_pooling_2d, qint8
 *   RESHAPE                   no node: the same value (row-major data)
 *   SOFTMAX                   the 2022 subgraph has no quantized softmax:
 *                             xnn_define_convert (qint8 -> fp32) and an
 *                             fp32 xnn_define_softmax; the softmax's int8
 *                             input (the logits) is an external output too
 *   QUANTIZE at the output    dropped (the probabilities stay fp32)
 *
 * Fused activations become the nodes' output_min / output_max (real
 * values; XNNPACK quantizes them with the output's scale and zero point).
 * Anything else is refused (-EOPNOTSUPP, with the op's index and name).
 */
#ifndef APU_BENCH_XNN_TFLITE_H
#define APU_BENCH_XNN_TFLITE_H

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthreadpool.h>
#include <xnnpack.h>

#include <apu/apu_image.h>
#include <apu/apu_model.h>
#include "image_load.h"		/* hal/tools: stb_image */
#include "tflite.h"		/* hal/src: libapu's reader, internal */

/*
 * The whole model's logits against libapu's CPU reference (TFLite's
 * kernels). Each layer alone is within one unit of TFLite's (XNNPACK
 * requantizes in fp32 rounding half to even, TFLite with a fixed-point
 * multiplier and two roundings: at most 1.3% of a layer's outputs differ,
 * by one; hal_xnnpack_test checks every layer), but through 64 layers
 * those units are carried and amplified (a depthwise or 1x1 layer maps one
 * input unit to several output units where input scale x weight >
 * output scale): measured on MobileNet V2 int8, 73% of the logits differ,
 * by at most 7 (grace_hopper) and 4 (cat), top-1 equal. A misbuilt layer
 * (padding, bias, clamp, scale) shows in the per-layer check first (SAME
 * padding split the wrong way: five layers off by up to 255); the whole
 * model's bound is 10 (that bug: 23 on cat).
 */
#define XNN_TFL_LOGITS_TOLERANCE 10

/* External value ids. */
enum { XNN_TFL_IN = 0, XNN_TFL_OUT = 1, XNN_TFL_PROB = 2, XNN_TFL_IN2 = 3 };

struct xnn_tfl {
	xnn_subgraph_t sg;
	xnn_runtime_t rt;
	pthreadpool_t pool;
	size_t threads;
	/* TFLite tensors bound outside: input(s) and output; -1: none. */
	int in_tensor, in2_tensor, out_tensor, logits_tensor;
	size_t in_count, out_count, logits_count;
	int8_t *in, *in2, *logits;	/* logits: the output (out_count values) */
	float *prob;
	float logits_scale;
	int32_t logits_zp;
	uint32_t prob_id;
	uint32_t *vid;			/* TFLite tensor -> XNNPACK value */
	float **owned;			/* filter and bias scales */
	int nowned;
	int nodes;			/* XNNPACK nodes defined */
};

static inline int xnn_tfl_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static inline void xnn_tfl_clamp(int act, float *lo, float *hi)
{
	*lo = -INFINITY;
	*hi = INFINITY;
	if (act == TFL_ACT_RELU) {
		*lo = 0;
	} else if (act == TFL_ACT_RELU6) {
		*lo = 0;
		*hi = 6;
	} else if (act == TFL_ACT_RELU_N1_TO_1) {
		*lo = -1;
		*hi = 1;
	}
}

/*
 * The XNNPACK value of int8 activation tensor @t (defined on first use; an
 * external input or output when it is bound outside), as @ndims @dims.
 */
static inline int xnn_tfl_value(struct xnn_tfl *x, const struct tfl_model *m, int t,
				size_t ndims, const size_t *dims, char *err, size_t errlen)
{
	const struct tfl_tensor *tt = &m->t[t];
	uint32_t ext = XNN_INVALID_VALUE_ID, flags = 0;

	if (x->vid[t] != XNN_INVALID_VALUE_ID)
		return 0;
	if (tt->type != TFL_INT8 || tt->nq != 1 || tt->data)
		return xnn_tfl_fail(err, errlen, -EOPNOTSUPP,
				    "tensor %d (%s): not an int8 per-tensor activation", t, tt->name);
	if (t == x->in_tensor || t == x->in2_tensor) {
		ext = t == x->in_tensor ? XNN_TFL_IN : XNN_TFL_IN2;
		flags = XNN_VALUE_FLAG_EXTERNAL_INPUT;
	} else if (t == x->out_tensor) {
		ext = XNN_TFL_OUT;
		flags = XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
	}
	if (xnn_define_quantized_tensor_value(x->sg, xnn_datatype_qint8, (int32_t)tt->zp[0],
					      tt->scale[0], ndims, dims, NULL, ext, flags,
					      &x->vid[t]))
		return xnn_tfl_fail(err, errlen, -EINVAL, "tensor %d (%s): rejected by XNNPACK",
				    t, tt->name);
	return 0;
}

/* The same with the file's shape. */
static inline int xnn_tfl_act(struct xnn_tfl *x, const struct tfl_model *m, int t, char *err,
			      size_t errlen)
{
	size_t dims[TFL_MAX_DIMS];

	for (int d = 0; d < m->t[t].ndims; d++)
		dims[d] = (size_t)m->t[t].dims[d];
	return xnn_tfl_value(x, m, t, (size_t)m->t[t].ndims, dims, err, errlen);
}

/* The same as [@n, 1, 1, @c]. */
static inline int xnn_tfl_act4(struct xnn_tfl *x, const struct tfl_model *m, int t, int n,
			       int c, char *err, size_t errlen)
{
	const size_t dims[4] = { (size_t)n, 1, 1, (size_t)c };

	return xnn_tfl_value(x, m, t, 4, dims, err, errlen);
}

/*
 * A convolution's filter (qcint8, channel dimension @cdim) and bias
 * (qcint32, scales input scale x filter scale) from the file.
 */
static inline int xnn_tfl_weights(struct xnn_tfl *x, const struct tfl_model *m,
				  const struct tfl_op *op, int cdim, uint32_t *fid, uint32_t *bid,
				  char *err, size_t errlen)
{
	const struct tfl_tensor *in = &m->t[op->in[0]], *w = &m->t[op->in[1]];
	const struct tfl_tensor *b = op->nin > 2 && op->in[2] >= 0 ? &m->t[op->in[2]] : NULL;
	size_t dims[TFL_MAX_DIMS], nc = (size_t)w->dims[cdim];
	float *ws, *bs;

	if (w->type != TFL_INT8 || !w->data || (w->nq != 1 && w->nq != nc))
		return xnn_tfl_fail(err, errlen, -EOPNOTSUPP, "tensor %s: not int8 constant weights",
				    w->name);
	for (unsigned int c = 0; c < w->nq; c++)
		if (w->zp[c])
			return xnn_tfl_fail(err, errlen, -EOPNOTSUPP,
					    "tensor %s: weight zero point %lld", w->name,
					    (long long)w->zp[c]);
	if (b && (b->type != TFL_INT32 || !b->data || (size_t)b->elems != nc))
		return xnn_tfl_fail(err, errlen, -EOPNOTSUPP, "tensor %s: not an int32 bias",
				    b->name);
	ws = malloc(sizeof(float) * nc);
	bs = malloc(sizeof(float) * nc);
	x->owned[x->nowned++] = ws;
	x->owned[x->nowned++] = bs;
	if (!ws || !bs)
		return -ENOMEM;
	for (size_t c = 0; c < nc; c++) {
		ws[c] = w->scale[w->nq == 1 ? 0 : c];
		bs[c] = in->scale[0] * ws[c];
	}
	for (int d = 0; d < w->ndims; d++)
		dims[d] = (size_t)w->dims[d];
	if (xnn_define_channelwise_quantized_tensor_value(x->sg, xnn_datatype_qcint8, ws,
							  (size_t)w->ndims, (size_t)cdim, dims,
							  w->data, XNN_INVALID_VALUE_ID, 0, fid))
		return xnn_tfl_fail(err, errlen, -EINVAL, "tensor %s: filter rejected", w->name);
	*bid = XNN_INVALID_VALUE_ID;
	if (b && xnn_define_channelwise_quantized_tensor_value(x->sg, xnn_datatype_qcint32, bs, 1,
								0, &nc, b->data,
								XNN_INVALID_VALUE_ID, 0, bid))
		return xnn_tfl_fail(err, errlen, -EINVAL, "tensor %s: bias rejected", b->name);
	return 0;
}

/* TFLite's SAME padding: the total split, the extra row or column last. */
static inline void xnn_tfl_same(int in, int out, int k, int stride, int dil, uint32_t *lo,
				uint32_t *hi)
{
	int total = (out - 1) * stride + (k - 1) * dil + 1 - in;

	if (total < 0)
		total = 0;
	*lo = (uint32_t)(total / 2);
	*hi = (uint32_t)(total - total / 2);
}

static inline int xnn_tfl_conv(struct xnn_tfl *x, const struct tfl_model *m,
			       const struct tfl_op *op, int dw, char *err, size_t errlen)
{
	const struct tfl_tensor *in = &m->t[op->in[0]], *w = &m->t[op->in[1]];
	const struct tfl_tensor *out = &m->t[op->out[0]];
	uint32_t fid, bid, pt = 0, pb = 0, pl = 0, pr = 0;
	int kh = w->dims[1], kw = w->dims[2], ret;
	float lo, hi;
	enum xnn_status st;

	if (in->ndims != 4 || w->ndims != 4 || out->ndims != 4)
		return xnn_tfl_fail(err, errlen, -EOPNOTSUPP, "convolution: not 4D");
	ret = xnn_tfl_act(x, m, op->in[0], err, errlen);
	if (!ret)
		ret = xnn_tfl_act(x, m, op->out[0], err, errlen);
	if (!ret)
		ret = xnn_tfl_weights(x, m, op, dw ? 3 : 0, &fid, &bid, err, errlen);
	if (ret)
		return ret;
	if (op->padding == TFL_PAD_SAME) {
		xnn_tfl_same(in->dims[1], out->dims[1], kh, op->stride_h, op->dil_h, &pt, &pb);
		xnn_tfl_same(in->dims[2], out->dims[2], kw, op->stride_w, op->dil_w, &pl, &pr);
	} else if (op->padding != TFL_PAD_VALID) {
		return xnn_tfl_fail(err, errlen, -EOPNOTSUPP, "convolution: padding kind");
	}
	xnn_tfl_clamp(op->act, &lo, &hi);
	if (dw) {
		st = xnn_define_depthwise_convolution_2d(
			x->sg, pt, pr, pb, pl, (uint32_t)kh, (uint32_t)kw, (uint32_t)op->stride_h,
			(uint32_t)op->stride_w, (uint32_t)op->dil_h, (uint32_t)op->dil_w,
			(uint32_t)(out->dims[3] / in->dims[3]), (size_t)in->dims[3], lo, hi,
			x->vid[op->in[0]], fid, bid, x->vid[op->out[0]], 0);
	} else {
		int groups = in->dims[3] / w->dims[3];

		st = xnn_define_convolution_2d(
			x->sg, pt, pr, pb, pl, (uint32_t)kh, (uint32_t)kw, (uint32_t)op->stride_h,
			(uint32_t)op->stride_w, (uint32_t)op->dil_h, (uint32_t)op->dil_w,
			(uint32_t)groups, (size_t)w->dims[3], (size_t)(w->dims[0] / groups), lo, hi,
			x->vid[op->in[0]], fid, bid, x->vid[op->out[0]], 0);
	}
	return st ? xnn_tfl_fail(err, errlen, -EINVAL, "convolution rejected (status %d)", st) : 0;
}

/* The runtime, its pool and every buffer; @x may be partly built. */
static inline void xnn_tfl_destroy(struct xnn_tfl *x)
{
	if (x->rt)
		xnn_delete_runtime(x->rt);
	if (x->sg)
		xnn_delete_subgraph(x->sg);
	if (x->pool)
		pthreadpool_destroy(x->pool);
	for (int i = 0; i < x->nowned; i++)
		free(x->owned[i]);
	free(x->owned);
	free(x->vid);
	free(x->in);
	free(x->in2);
	free(x->logits);
	free(x->prob);
	memset(x, 0, sizeof(*x));
}

/* One op of the file as nodes; SOFTMAX is left to the caller. */
static inline int xnn_tfl_op(struct xnn_tfl *x, const struct tfl_model *m, int i, char *err,
			     size_t errlen)
{
	const struct tfl_op *op = &m->ops[i];
	float lo, hi;
	int ret = 0;

	switch (op->code) {
	case TFL_QUANTIZE: {
		const struct tfl_tensor *a = &m->t[op->in[0]], *b = &m->t[op->out[0]];

		if (op->in[0] != x->in_tensor || a->type != TFL_UINT8 || b->type != TFL_INT8 ||
		    a->nq != 1 || b->nq != 1 || a->scale[0] != b->scale[0] ||
		    b->zp[0] != a->zp[0] - 128)
			return xnn_tfl_fail(err, errlen, -EOPNOTSUPP,
					    "op %d QUANTIZE: only uint8 -> int8 at the input", i);
		x->in_tensor = op->out[0];
		return xnn_tfl_act(x, m, x->in_tensor, err, errlen);
	}
	case TFL_CONV_2D:
	case TFL_DEPTHWISE_CONV_2D:
		ret = xnn_tfl_conv(x, m, op, op->code == TFL_DEPTHWISE_CONV_2D, err, errlen);
		break;
	case TFL_ADD:
		ret = xnn_tfl_act(x, m, op->in[0], err, errlen);
		if (!ret)
			ret = xnn_tfl_act(x, m, op->in[1], err, errlen);
		if (!ret)
			ret = xnn_tfl_act(x, m, op->out[0], err, errlen);
		if (ret)
			return ret;
		xnn_tfl_clamp(op->act, &lo, &hi);
		if (xnn_define_add2(x->sg, lo, hi, x->vid[op->in[0]], x->vid[op->in[1]],
				    x->vid[op->out[0]], 0))
			return xnn_tfl_fail(err, errlen, -EINVAL, "op %d ADD rejected", i);
		break;
	case TFL_MEAN: {
		const struct tfl_tensor *in = &m->t[op->in[0]], *ax = &m->t[op->in[1]];
		const struct tfl_tensor *out = &m->t[op->out[0]];
		const int32_t *a = (const int32_t *)ax->data;

		if (in->ndims != 4 || !a || ax->elems != 2 || ax->type != TFL_INT32 ||
		    !((a[0] == 1 && a[1] == 2) || (a[0] == 2 && a[1] == 1)) ||
		    out->type != TFL_INT8 || out->nq != 1 || out->elems != (uint64_t)in->dims[3] *
		    (uint64_t)in->dims[0])
			return xnn_tfl_fail(err, errlen, -EOPNOTSUPP,
					    "op %d MEAN: only over H and W of NHWC int8", i);
		ret = xnn_tfl_act(x, m, op->in[0], err, errlen);
		/* 4D even without keep_dims: the same data, [N, 1, 1, C]. */
		if (!ret)
			ret = xnn_tfl_act4(x, m, op->out[0], in->dims[0], in->dims[3], err, errlen);
		if (ret)
			return ret;
		if (xnn_define_global_average_pooling_2d(x->sg, -INFINITY, INFINITY,
							 x->vid[op->in[0]], x->vid[op->out[0]], 0))
			return xnn_tfl_fail(err, errlen, -EINVAL, "op %d MEAN rejected", i);
		break;
	}
	case TFL_RESHAPE:
	case TFL_SQUEEZE:
		if (m->t[op->in[0]].elems != m->t[op->out[0]].elems)
			return xnn_tfl_fail(err, errlen, -EINVAL, "op %d: reshape size", i);
		ret = xnn_tfl_act(x, m, op->in[0], err, errlen);
		x->vid[op->out[0]] = x->vid[op->in[0]];
		return ret;
	default:
		return xnn_tfl_fail(err, errlen, -EOPNOTSUPP, "op %d %s: not built", i,
				    tfl_op_name(op->code));
	}
	x->nodes += !ret;
	return ret;
}

/* Creates the runtime on @threads threads and binds the buffers. */
static inline int xnn_tfl_runtime(struct xnn_tfl *x, size_t threads, char *err, size_t errlen)
{
	struct xnn_external_value ext[4];
	size_t n = 0;

	x->threads = 1;
	if (threads != 1) {
		x->pool = pthreadpool_create(threads);
		if (!x->pool)
			return -ENOMEM;
		x->threads = pthreadpool_get_threads_count(x->pool);
	}
	if (xnn_create_runtime_v2(x->sg, x->pool, 0, &x->rt))
		return xnn_tfl_fail(err, errlen, -EINVAL, "xnn_create_runtime_v2 failed");
	ext[n++] = (struct xnn_external_value){ XNN_TFL_IN, x->in };
	ext[n++] = (struct xnn_external_value){ XNN_TFL_OUT, x->logits };
	if (x->prob)
		ext[n++] = (struct xnn_external_value){ XNN_TFL_PROB, x->prob };
	if (x->in2)
		ext[n++] = (struct xnn_external_value){ XNN_TFL_IN2, x->in2 };
	if (xnn_setup_runtime(x->rt, n, ext))
		return xnn_tfl_fail(err, errlen, -EINVAL, "xnn_setup_runtime failed");
	return 0;
}

static inline int xnn_tfl_start(struct xnn_tfl *x, const struct tfl_model *m, char *err,
				size_t errlen)
{
	memset(x, 0, sizeof(*x));
	x->in_tensor = x->in2_tensor = x->out_tensor = -1;
	if (xnn_initialize(NULL) != xnn_status_success)
		return xnn_tfl_fail(err, errlen, -ENODEV, "xnn_initialize failed");
	x->vid = malloc(sizeof(*x->vid) * (size_t)m->ntensors);
	x->owned = calloc(2 * (size_t)m->nops + 2, sizeof(*x->owned));
	if (!x->vid || !x->owned)
		return -ENOMEM;
	for (int t = 0; t < m->ntensors; t++)
		x->vid[t] = XNN_INVALID_VALUE_ID;
	if (xnn_create_subgraph(4, 0, &x->sg))
		return xnn_tfl_fail(err, errlen, -ENOMEM, "xnn_create_subgraph failed");
	return 0;
}

/*
 * Builds the whole of @m (which must stay valid: XNNPACK reads the weights
 * from it when the runtime is created) and a runtime on @threads threads
 * (0: one per host core, pthreadpool's default; 1: the caller's thread).
 * The input and outputs are bound once: x->in (the int8 input), x->logits
 * (SOFTMAX's int8 input), x->prob (its fp32 output).
 */
static inline int xnn_tfl_build(struct xnn_tfl *x, const struct tfl_model *m, size_t threads,
				char *err, size_t errlen)
{
	int ret, softmax = -1;
	size_t n;
	uint32_t fid;

	ret = xnn_tfl_start(x, m, err, errlen);
	if (ret)
		return ret;
	/* The logits: SOFTMAX's input, back through reshapes to its producer. */
	for (int i = 0; i < m->nops && softmax < 0; i++)
		if (m->ops[i].code == TFL_SOFTMAX)
			softmax = i;
	if (softmax < 0 || m->nin != 1)
		return xnn_tfl_fail(err, errlen, -EOPNOTSUPP, "not one input and a SOFTMAX");
	x->logits_tensor = x->out_tensor = m->ops[softmax].in[0];
	for (int i = softmax - 1; i >= 0; i--)
		if ((m->ops[i].code == TFL_RESHAPE || m->ops[i].code == TFL_SQUEEZE) &&
		    m->ops[i].out[0] == x->out_tensor)
			x->out_tensor = m->ops[i].in[0];
	x->in_tensor = m->inputs[0];
	for (int i = 0; i < softmax && !ret; i++) {
		if (i == 0 && m->ops[0].code != TFL_QUANTIZE)
			ret = xnn_tfl_act(x, m, x->in_tensor, err, errlen);
		if (!ret)
			ret = xnn_tfl_op(x, m, i, err, errlen);
	}
	if (ret)
		return ret;
	/* The softmax in fp32 (no quantized softmax in this subgraph API). */
	n = (size_t)m->t[x->logits_tensor].elems;
	if (x->vid[x->logits_tensor] != XNN_TFL_OUT ||
	    xnn_define_tensor_value(x->sg, xnn_datatype_fp32, 1, &n, NULL, XNN_INVALID_VALUE_ID,
				    0, &fid) ||
	    xnn_define_tensor_value(x->sg, xnn_datatype_fp32, 1, &n, NULL, XNN_TFL_PROB,
				    XNN_VALUE_FLAG_EXTERNAL_OUTPUT, &x->prob_id) ||
	    xnn_define_convert(x->sg, x->vid[x->logits_tensor], fid, 0) ||
	    xnn_define_softmax(x->sg, fid, x->prob_id, 0))
		return xnn_tfl_fail(err, errlen, -EINVAL, "SOFTMAX (fp32) rejected");
	x->nodes += 2;
	if (x->vid[x->in_tensor] != XNN_TFL_IN)
		return xnn_tfl_fail(err, errlen, -EINVAL, "the input is not used");
	x->in_count = (size_t)m->t[x->in_tensor].elems;
	x->out_count = x->logits_count = n;
	x->logits_scale = m->t[x->logits_tensor].scale[0];
	x->logits_zp = (int32_t)m->t[x->logits_tensor].zp[0];
	x->in = calloc(x->in_count, 1);
	x->logits = calloc(n, 1);
	x->prob = calloc(n, sizeof(float));
	if (!x->in || !x->logits || !x->prob)
		return -ENOMEM;
	return xnn_tfl_runtime(x, threads, err, errlen);
}

/*
 * Builds op @i of @m alone (one thread): its activation inputs are external
 * inputs, x->in (and x->in2: ADD's second), its output x->logits
 * (x->out_count values) - to check each layer on the same inputs.
 */
static inline int xnn_tfl_build_op(struct xnn_tfl *x, const struct tfl_model *m, int i,
				   char *err, size_t errlen)
{
	const struct tfl_op *op = &m->ops[i];
	int ret = xnn_tfl_start(x, m, err, errlen);

	if (ret)
		return ret;
	x->in_tensor = op->in[0];
	x->out_tensor = op->out[0];
	if (op->code == TFL_ADD)
		x->in2_tensor = op->in[1];
	if (op->code == TFL_RESHAPE || op->code == TFL_SQUEEZE || op->code == TFL_QUANTIZE)
		return xnn_tfl_fail(err, errlen, -EOPNOTSUPP, "op %d: no node", i);
	ret = xnn_tfl_op(x, m, i, err, errlen);
	if (ret)
		return ret;
	x->in_count = (size_t)m->t[x->in_tensor].elems;
	x->out_count = (size_t)m->t[x->out_tensor].elems;
	x->in = calloc(x->in_count, 1);
	x->in2 = x->in2_tensor >= 0 ? calloc((size_t)m->t[x->in2_tensor].elems, 1) : NULL;
	x->logits = calloc(x->out_count, 1);
	if (!x->in || !x->logits || (x->in2_tensor >= 0 && !x->in2))
		return -ENOMEM;
	return xnn_tfl_runtime(x, 1, err, errlen);
}

/* One inference: x->in to x->logits and x->prob. */
static inline int xnn_tfl_run(struct xnn_tfl *x)
{
	return xnn_invoke_runtime(x->rt) == xnn_status_success ? 0 : -EIO;
}

/* The whole file at @path in memory (free() it), or NULL. */
static inline void *xnn_tfl_slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	void *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET)) {
		p = malloc((size_t)n);
		if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		*size = (size_t)n;
	}
	fclose(f);
	return p;
}

/*
 * The model's uint8 input from a photo as apu-run makes it by default
 * (Pillow's NEAREST resize to the input's size; the bytes as they are, the
 * model's input quantization being pycoral's identity): @count bytes
 * (1 x @h x @w x 3) in *@out (free() it).
 */
static inline int xnn_tfl_photo(const char *path, unsigned int h, unsigned int w,
				uint8_t **out, char *err, size_t errlen)
{
	uint8_t *rgb = NULL;
	unsigned int iw, ih;
	int ret = tool_image_load(path, &rgb, &iw, &ih, err, errlen);

	if (ret)
		return ret;
	*out = malloc((size_t)h * w * 3);
	ret = *out ? apu_image_resize(rgb, iw, ih, 3, *out, w, h, APU_RESIZE_NEAREST) : -ENOMEM;
	tool_image_free(rgb);
	return ret;
}

/*
 * libapu's CPU reference (the CPU backend: TFLite's integer kernels, bit
 * exact) on @file with the uint8 input @input: the int8 logits (SOFTMAX's
 * input) in @logits (@n values) and the model's input size in *@in_n.
 */
static inline int xnn_tfl_reference(const void *file, size_t size, const uint8_t *input,
				    size_t in_n, int8_t *logits, size_t n, char *err,
				    size_t errlen)
{
	struct apu_device *dev;
	struct apu_model *m = NULL;
	struct apu_model_op_info oi;
	struct apu_op_info ni;
	int ret, ops, t = -1;

	ret = apu_device_open_cpu(&dev);
	if (ret)
		return xnn_tfl_fail(err, errlen, ret, "no CPU backend");
	ret = apu_model_load_tflite_buffer(dev, file, size, &m, err, errlen);
	if (!ret)
		ret = apu_model_compile(m, NULL, 0);
	if (!ret)
		ret = apu_model_set_input(m, 0, input, in_n);
	if (!ret)
		ret = apu_model_run(m, NULL);
	ops = ret ? ret : apu_model_op_count(m);
	for (int i = 0; i < ops && t < 0; i++)
		if (!apu_model_op_info(m, i, &oi, sizeof(oi)) && !strcmp(oi.name, "SOFTMAX") &&
		    oi.network_op >= 0 &&
		    !apu_network_op_info(apu_model_network(m), oi.network_op, &ni, sizeof(ni)))
			t = ni.inputs[0];
	if (!ret && t < 0)
		ret = xnn_tfl_fail(err, errlen, -EINVAL, "no SOFTMAX in the reference's network");
	if (!ret)
		ret = apu_network_read(apu_model_network(m), t, logits, n);
	apu_model_destroy(m);
	apu_device_close(dev);
	return ret;
}

/* The first index of the largest of @n values. */
static inline size_t xnn_tfl_argmax(const int8_t *v, size_t n)
{
	size_t best = 0;

	for (size_t i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

/* The largest |a - b| of @n values; *@differing: how many differ. */
static inline int xnn_tfl_maxdiff(const int8_t *a, const int8_t *b, size_t n, size_t *differing)
{
	int worst = 0;

	*differing = 0;
	for (size_t i = 0; i < n; i++) {
		int d = abs(a[i] - b[i]);

		*differing += d != 0;
		if (d > worst)
			worst = d;
	}
	return worst;
}

#endif /* APU_BENCH_XNN_TFLITE_H */
