// SPDX-License-Identifier: MIT
/*
 * TFLite models to networks (docs/models.md).
 *
 * Every TFLite tensor that carries activations becomes a network tensor
 * in the int8 domain: uint8 tensors are moved there by subtracting 128 from
 * values and zero point (value ^ 0x80), which changes no arithmetic, since
 * every kernel computes on value - zero_point. Weights move the same way;
 * their zero point becomes the device's w_zp. Ops become device ops where
 * the device computes them exactly as TFLite's integer kernels do, CPU ops
 * (the CPU reference, between device segments) where it does not, views
 * where nothing needs computing; elementwise functions of one value become
 * one 256-entry table computed here with the CPU reference of the function.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apu/apu_model.h"
#include "apu_internal.h"
#include "tflite.h"

/* Quantization of an activation tensor, in the int8 domain. */
struct qt {
	bool u8;		/* stored as uint8 in the model */
	float scale;
	int32_t zp;		/* int8 domain: the model's zero point - 128 for uint8 */
};

struct model_io {
	int tensor;		/* network tensor */
	int tfl;		/* TFLite tensor */
	struct apu_tensor_info info;
	struct qt q;
};

struct model_op {
	int code;
	enum apu_model_op_place place;
	int net_first, net_count;
	char shapes[96];
	char quant[48];
	uint64_t macs;
};

/* Most multiply-accumulates a model may need: 2^36, 200x a ResNet-50. */
#define APU_MODEL_MAX_MACS	(1ull << 36)

struct apu_model {
	struct apu_device *dev;
	struct apu_network *net;
	int nin, nout, nops;
	struct model_io *in, *out;
	struct model_op *ops;
	int *owner;		/* network op -> TFLite op */
	int nowner;
};

/* Lowering state. */
struct lower {
	struct apu_model *m;
	const struct tfl_model *tf;
	int *tmap;		/* TFLite tensor -> network tensor, or -1 */
	unsigned int (*pend_pad)[4];	/* a folded PAD's padding for its output */
	bool *has_pad;
	/* Per tensor: ops reading it (a model output counts as one more), the first. */
	int *nconsumers, *first_reader;
	bool *fused;		/* per op: a RELU* merged into the op before it */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 4, 5)))
static int op_fail(struct lower *L, int op, int ret, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	/* LLVM 14's analyzer misses the va_start above when it inlines this. */
	vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	if (L->err && L->errlen) {
		if (op >= 0)
			snprintf(L->err, L->errlen, "op %d (%s, builtin %d): %s", op,
				 tfl_op_name(L->tf->ops[op].code), L->tf->ops[op].code, msg);
		else
			snprintf(L->err, L->errlen, "%s", msg);
	}
	return ret;
}

static const char *tname(const struct lower *L, int t)
{
	return L->tf->t[t].name[0] ? L->tf->t[t].name : "(unnamed)";
}

/* The (h, w, c) of a batch-1 tensor. */
static int shape_of(const struct tfl_tensor *t, struct apu_shape *s)
{
	const int32_t *d = t->dims;

	switch (t->ndims) {
	case 0:
		*s = (struct apu_shape){ 1, 1, 1 };
		break;
	case 1:
		*s = (struct apu_shape){ 1, 1, (unsigned int)d[0] };
		break;
	case 2:
		if (d[0] != 1)
			return -1;
		*s = (struct apu_shape){ 1, 1, (unsigned int)d[1] };
		break;
	case 3:
		if (d[0] != 1)
			return -1;
		*s = (struct apu_shape){ 1, (unsigned int)d[1], (unsigned int)d[2] };
		break;
	case 4:
		if (d[0] != 1)
			return -1;
		*s = (struct apu_shape){ (unsigned int)d[1], (unsigned int)d[2], (unsigned int)d[3] };
		break;
	default:
		return -1;
	}
	if (s->h > 65535 || s->w > 65535 || s->c > 65535)
		return -1;
	return 0;
}

static void dims_text(const struct tfl_tensor *t, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (int d = 0; d < t->ndims && n < size; d++)
		n += (size_t)snprintf(buf + n, size - n, "%s%d", d ? "x" : "", t->dims[d]);
	if (!t->ndims)
		snprintf(buf, size, "scalar");
}

/* Per-tensor quantization of activation tensor @t of op @op. */
static int act_q(struct lower *L, int op, int t, struct qt *q)
{
	const struct tfl_tensor *x = &L->tf->t[t];
	int64_t zp;

	if (x->type != TFL_INT8 && x->type != TFL_UINT8)
		return op_fail(L, op, -EOPNOTSUPP, "tensor %d '%s': type %s (int8 and uint8 are supported)",
			       t, tname(L, t), tfl_type_name(x->type));
	if (x->nq != 1)
		return op_fail(L, op, -EOPNOTSUPP,
			       "tensor %d '%s': %s without per-tensor quantization (%u scales)",
			       t, tname(L, t), tfl_type_name(x->type), x->nq);
	zp = x->zp[0];
	if (!(x->scale[0] > 0) || isinf(x->scale[0]) ||
	    (x->type == TFL_INT8 ? zp < -128 || zp > 127 : zp < 0 || zp > 255))
		return op_fail(L, op, -EINVAL, "tensor %d '%s': scale %g or zero point %lld invalid",
			       t, tname(L, t), (double)x->scale[0], (long long)zp);
	q->u8 = x->type == TFL_UINT8;
	q->scale = x->scale[0];
	q->zp = (int32_t)(q->u8 ? zp - 128 : zp);
	return 0;
}

static int net_err(struct lower *L, int op, int ret)
{
	return op_fail(L, op, ret, "the network refused it: %s", apu_strerror(ret));
}

/* The network tensor of input @k of op @op (and its quantization). */
static int op_input(struct lower *L, int op, int k, int *nt, struct qt *q)
{
	const struct tfl_op *o = &L->tf->ops[op];
	int t;

	if (k >= o->nin || o->in[k] < 0)
		return op_fail(L, op, -EINVAL, "input %d missing", k);
	t = o->in[k];
	if (L->tf->t[t].data && L->tmap[t] < 0) {
		/* A constant operand (a bias to add, a scale to multiply). */
		const struct tfl_tensor *x = &L->tf->t[t];
		struct apu_shape s;
		struct qt cq = { 0 };
		int ret = act_q(L, op, t, &cq);

		if (ret)
			return ret;
		if (shape_of(x, &s) || x->data_size < x->elems)
			return op_fail(L, op, -EOPNOTSUPP, "constant input %d (tensor %d '%s'): shape or size",
				       k, t, tname(L, t));
		ret = apu_network_add_constant(L->m->net, &s, x->data, cq.u8, &L->tmap[t]);
		if (ret)
			return net_err(L, op, ret);
	}
	if (L->tmap[t] < 0)
		return op_fail(L, op, -EINVAL,
			       "input tensor %d '%s' is not computed before the op (ops out of order?)",
			       t, tname(L, t));
	*nt = L->tmap[t];
	return q ? act_q(L, op, t, q) : 0;
}

/*
 * roundf() of @x as an int32, saturated: scales far off make TFLite's own
 * conversion undefined; here they saturate (NaN gives 0).
 */
static int32_t round_sat(float x)
{
	float r = roundf(x);

	if (!(r == r))
		return 0;
	if (r >= 2147483520.0f)
		return INT32_MAX;
	if (r <= -2147483648.0f)
		return INT32_MIN;
	return (int32_t)r;
}

/* @zp + @v, saturated to int32. */
static int32_t add_sat(int32_t zp, int32_t v)
{
	int64_t r = (int64_t)zp + v;

	return (int32_t)(r > INT32_MAX ? INT32_MAX : r < INT32_MIN ? INT32_MIN : r);
}

/* TFLite's CalculateActivationRangeQuantized, in the int8 domain. */
static int act_range(struct lower *L, int op, int act, const struct qt *q, int32_t *lo,
		     int32_t *hi)
{
	float s = q->scale;
	int32_t a = -128, b = 127;

	switch (act) {
	case TFL_ACT_NONE:
		break;
	case TFL_ACT_RELU:
		a = add_sat(q->zp, round_sat(0.0f / s));
		break;
	case TFL_ACT_RELU6:
		a = add_sat(q->zp, round_sat(0.0f / s));
		b = add_sat(q->zp, round_sat(6.0f / s));
		break;
	case TFL_ACT_RELU_N1_TO_1:
		a = add_sat(q->zp, round_sat(-1.0f / s));
		b = add_sat(q->zp, round_sat(1.0f / s));
		break;
	default:
		return op_fail(L, op, -EOPNOTSUPP, "fused activation %d not supported", act);
	}
	*lo = a < -128 ? -128 : a;
	*hi = b > 127 ? 127 : b;
	if (*lo > *hi)
		*lo = *hi;
	return 0;
}

static int sole_consumer(const struct lower *L, int op, int t);

/* Same type and per-tensor quantization. */
static bool same_q(const struct tfl_tensor *a, const struct tfl_tensor *b)
{
	return a->type == b->type && a->nq == 1 && b->nq == 1 && a->scale[0] == b->scale[0] &&
	       a->zp[0] == b->zp[0];
}

/*
 * The activation op @op clamps its output with: its own, or that of a
 * RELU, RELU6 or RELU_N1_TO_1 op that is the only reader of its output and
 * keeps its quantization (a framework that splits activations off, like
 * Arm NN's parser). Such an op is then merged: clamping in place is what
 * TFLite's kernel of it computes (a requantization by exactly 1).
 */
static int op_act(struct lower *L, int op)
{
	const struct tfl_op *o = &L->tf->ops[op];
	const struct tfl_op *r;
	int c;

	if (o->act != TFL_ACT_NONE || o->nout != 1)
		return o->act;
	c = sole_consumer(L, op, o->out[0]);
	if (c < 0)
		return o->act;
	r = &L->tf->ops[c];
	if (r->nin != 1 || r->nout != 1 || r->in[0] != o->out[0] ||
	    !same_q(&L->tf->t[r->in[0]], &L->tf->t[r->out[0]]))
		return o->act;
	L->fused[c] = true;
	return r->code == TFL_RELU ? TFL_ACT_RELU : r->code == TFL_RELU6 ? TFL_ACT_RELU6 :
	       r->code == TFL_RELU_N1_TO_1 ? TFL_ACT_RELU_N1_TO_1 : (L->fused[c] = false, o->act);
}

/* Record the op's output tensor @k as network tensor @nt. */
static int set_output(struct lower *L, int op, int k, int nt, const struct apu_shape *expect)
{
	const struct tfl_op *o = &L->tf->ops[op];
	struct apu_shape got, want;
	int t;

	if (k >= o->nout)
		return op_fail(L, op, -EINVAL, "output %d missing", k);
	t = o->out[k];
	if (L->tmap[t] >= 0 || L->tf->t[t].data)
		return op_fail(L, op, -EINVAL, "output tensor %d '%s' is written twice or constant",
			       t, tname(L, t));
	if (shape_of(&L->tf->t[t], &want))
		return op_fail(L, op, -EOPNOTSUPP, "output tensor %d '%s': shape not supported",
			       t, tname(L, t));
	apu_network_shape(L->m->net, nt, &got);
	if (expect)
		got = *expect;
	if ((uint64_t)got.h * got.w * got.c != (uint64_t)want.h * want.w * want.c ||
	    (expect && memcmp(&got, &want, sizeof(got))))
		return op_fail(L, op, -EINVAL,
			       "output tensor %d '%s' is %ux%ux%u, the op computes %ux%ux%u", t,
			       tname(L, t), want.h, want.w, want.c, got.h, got.w, got.c);
	if (memcmp(&got, &want, sizeof(got))) {
		int v, ret = apu_network_add_reshape(L->m->net, nt, &want, &v);

		if (ret)
			return op_fail(L, op, ret, "reshape failed");
		nt = v;
	}
	L->tmap[t] = nt;
	return 0;
}


/* A constant INT32 tensor of @n values, copied out (the file may be unaligned). */
static int const_i32(struct lower *L, int op, int t, size_t n, int32_t *dst)
{
	const struct tfl_tensor *x = &L->tf->t[t];

	if (!x->data || x->type != TFL_INT32 || x->elems != n || x->data_size < 4 * n)
		return op_fail(L, op, -EINVAL, "tensor %d '%s': not a constant int32[%zu]", t,
			       tname(L, t), n);
	memcpy(dst, x->data, 4 * n);
	return 0;
}

/* Input 0 of op @op and its quantization, and its output's (one in, one out). */
static int unary_io(struct lower *L, int op, int *in, struct qt *qi, struct qt *qo)
{
	const struct tfl_op *o = &L->tf->ops[op];
	int ret = op_input(L, op, 0, in, qi);

	if (ret)
		return ret;
	if (o->nout < 1)
		return op_fail(L, op, -EINVAL, "no output");
	return act_q(L, op, o->out[0], qo);
}

/* ---- convolutions ---------------------------------------------------------- */

enum conv_kind { CK_CONV, CK_DW, CK_FC };

static int lower_conv(struct lower *L, int op, enum conv_kind kind)
{
	const struct tfl_op *o = &L->tf->ops[op];
	const struct tfl_tensor *w;
	struct apu_shape is;
	struct apu_conv2d p = { 0 };
	int32_t w_zp = 0;
	struct qt qi = { 0 }, qo = { 0 };
	int32_t *bias = NULL, *mult = NULL, *shift = NULL;
	int8_t *wt = NULL, *w8 = NULL;
	float *scales = NULL;
	unsigned int out_c, k_h = 1, k_w = 1, wic;
	unsigned int flags = 0;
	bool per_channel, float_product;
	int in, out, ret, wtensor;

	ret = op_input(L, op, 0, &in, &qi);
	if (ret)
		return ret;
	if (o->nin < 2 || o->in[1] < 0)
		return op_fail(L, op, -EINVAL, "no weights");
	ret = act_q(L, op, o->out[0], &qo);
	if (ret)
		return ret;
	if (o->nout < 1)
		return op_fail(L, op, -EINVAL, "no output");
	wtensor = o->in[1];
	w = &L->tf->t[wtensor];
	apu_network_shape(L->m->net, in, &is);
	if (!w->data)
		return op_fail(L, op, -EOPNOTSUPP, "weights (tensor %d '%s') are not constant",
			       wtensor, tname(L, wtensor));
	/* INT4 weights are packed two per byte (element 2i in the low nibble). */
	if (w->data_size < (w->type == TFL_INT4 ? (w->elems + 1) / 2 : w->elems))
		return op_fail(L, op, -EINVAL, "weights (tensor %d '%s'): buffer of %zu bytes for %llu values",
			       wtensor, tname(L, wtensor), w->data_size,
			       (unsigned long long)w->elems);
	if (kind == CK_FC) {
		if (w->ndims != 2)
			return op_fail(L, op, -EOPNOTSUPP, "weights of rank %d", w->ndims);
		out_c = (unsigned int)w->dims[0];
		wic = (unsigned int)w->dims[1];
		if ((uint64_t)is.h * is.w * is.c != wic)
			return op_fail(L, op, -EOPNOTSUPP,
				       "input of %u values for weights of %u inputs (batch > 1?)",
				       is.h * is.w * is.c, wic);
		if (o->filter_w)
			return op_fail(L, op, -EOPNOTSUPP, "weights format %d", o->filter_w);
	} else {
		if (w->ndims != 4)
			return op_fail(L, op, -EOPNOTSUPP, "weights of rank %d", w->ndims);
		k_h = (unsigned int)w->dims[1];
		k_w = (unsigned int)w->dims[2];
		if (kind == CK_DW) {
			out_c = (unsigned int)w->dims[3];
			if (w->dims[0] != 1 || out_c % is.c ||
			    (o->depth_mult > 0 && out_c != is.c * (unsigned int)o->depth_mult))
				return op_fail(L, op, -EINVAL,
					       "depthwise weights %ux%ux%ux%u for %u input channels",
					       w->dims[0], k_h, k_w, out_c, is.c);
			wic = 1;
		} else {
			out_c = (unsigned int)w->dims[0];
			wic = (unsigned int)w->dims[3];
			if (!wic || is.c % wic || out_c % (is.c / wic))
				return op_fail(L, op, -EINVAL,
					       "weights of %u input channels for an input of %u",
					       wic, is.c);
		}
	}
	/* Weight quantization: int8 per-channel or per-tensor, uint8 per-tensor. */
	if (w->type == TFL_UINT8) {
		if (w->nq != 1 || w->zp[0] < 0 || w->zp[0] > 255)
			return op_fail(L, op, -EOPNOTSUPP,
				       "uint8 weights (tensor %d '%s') without per-tensor quantization",
				       wtensor, tname(L, wtensor));
		w_zp = (int32_t)w->zp[0] - 128;
		flags = APU_CONV_WEIGHTS_U8;
	} else if (w->type == TFL_INT8 || w->type == TFL_INT4) {
		int qdim = kind == CK_DW ? 3 : 0;

		if (w->type == TFL_INT4)
			flags = APU_CONV_WEIGHTS_INT4;
		if (w->nq == 1) {
			if (w->zp[0] < -128 || w->zp[0] > 127 ||
			    (w->type == TFL_INT4 && w->zp[0]))
				return op_fail(L, op, -EINVAL, "weight zero point %lld",
					       (long long)w->zp[0]);
			w_zp = (int32_t)w->zp[0];
		} else if (w->nq == out_c && w->qdim == qdim) {
			for (unsigned int c = 0; c < out_c; c++)
				if (w->zp[c])
					return op_fail(L, op, -EOPNOTSUPP,
						       "per-channel weights (tensor %d '%s') with nonzero zero points",
						       wtensor, tname(L, wtensor));
		} else {
			return op_fail(L, op, -EOPNOTSUPP,
				       "weights (tensor %d '%s'): %u scales on dimension %d for %u channels",
				       wtensor, tname(L, wtensor), w->nq, w->qdim, out_c);
		}
	} else {
		return op_fail(L, op, -EOPNOTSUPP, "weights (tensor %d '%s') of type %s",
			       wtensor, tname(L, wtensor), tfl_type_name(w->type));
	}
	if (!out_c)
		return op_fail(L, op, -EINVAL, "no output channels");
	per_channel = w->nq > 1;
	if (!qi.u8 != (w->type == TFL_INT8 || w->type == TFL_INT4) || qi.u8 != qo.u8)
		return op_fail(L, op, -EOPNOTSUPP, "mixed uint8 and int8 tensors");
	for (unsigned int c = 0; c < w->nq; c++)
		if (!(w->scale[c] > 0) || isinf(w->scale[c]))
			return op_fail(L, op, -EINVAL, "weight scale %g", (double)w->scale[c]);

	bias = calloc(out_c, sizeof(*bias));
	mult = calloc(out_c, sizeof(*mult));
	shift = calloc(out_c, sizeof(*shift));
	scales = calloc(out_c, sizeof(*scales));
	if (!bias || !mult || !shift || !scales) {
		ret = -ENOMEM;
		goto out;
	}
	if (o->nin > 2 && o->in[2] >= 0) {
		ret = const_i32(L, op, o->in[2], out_c, bias);
		if (ret)
			goto out;
		p.bias = bias;
	}
	/*
	 * TFLite's multipliers: per channel, double(in) * double(w) / double(out);
	 * its uint8 convolutions and per-tensor fully connected layers take the
	 * product of the scales in float first.
	 */
	float_product = kind == CK_FC ? !per_channel : qi.u8;
	for (unsigned int c = 0; c < out_c; c++)
		scales[c] = float_product ? qi.scale * w->scale[0] : w->scale[per_channel ? c : 0];
	ret = apu_conv_requant(float_product ? 1.0 : (double)qi.scale, scales, (double)qo.scale,
			       out_c, mult, shift);
	if (ret) {
		ret = op_fail(L, op, -EOPNOTSUPP, "requantization scale out of the device's range");
		goto out;
	}
	p.mult = mult;
	p.shift = shift;
	p.out_c = out_c;
	p.in_zp = qi.zp;
	p.out_zp = qo.zp;
	ret = act_range(L, op, op_act(L, op), &qo, &p.act_min, &p.act_max);
	if (ret)
		goto out;
	p.weights = (const int8_t *)w->data;
	if (kind != CK_FC) {
		const int8_t *wsrc = (const int8_t *)w->data;
		int ti = o->in[0];

		p.k_h = k_h;
		p.k_w = k_w;
		p.stride_h = (unsigned int)o->stride_h;
		p.stride_w = (unsigned int)o->stride_w;
		p.dil_h = (unsigned int)o->dil_h;
		p.dil_w = (unsigned int)o->dil_w;
		if (o->stride_h <= 0 || o->stride_w <= 0 || o->dil_h <= 0 || o->dil_w <= 0 ||
		    o->stride_h > 65535 || o->stride_w > 65535 || o->dil_h > 65535 ||
		    o->dil_w > 65535) {
			ret = op_fail(L, op, -EINVAL, "strides %dx%d, dilations %dx%d", o->stride_h,
				      o->stride_w, o->dil_h, o->dil_w);
			goto out;
		}
		p.groups = kind == CK_DW ? is.c : is.c / wic;
		if (L->has_pad[ti]) {
			if (o->padding != TFL_PAD_VALID) {
				ret = op_fail(L, op, -EINVAL, "folded padding on a SAME convolution");
				goto out;
			}
			p.padding = APU_PAD_EXPLICIT;
			p.pad_top = L->pend_pad[ti][0];
			p.pad_bottom = L->pend_pad[ti][1];
			p.pad_left = L->pend_pad[ti][2];
			p.pad_right = L->pend_pad[ti][3];
		} else if (o->padding == TFL_PAD_SAME) {
			p.padding = APU_PAD_SAME;
		} else if (o->padding == TFL_PAD_VALID) {
			p.padding = APU_PAD_VALID;
		} else if (o->padding == TFL_PAD_EXPLICIT) {
			p.padding = APU_PAD_EXPLICIT;
			p.pad_top = o->pad[0];
			p.pad_bottom = o->pad[1];
			p.pad_left = o->pad[2];
			p.pad_right = o->pad[3];
		} else {
			ret = op_fail(L, op, -EINVAL, "padding %d", o->padding);
			goto out;
		}
		if ((flags & APU_CONV_WEIGHTS_INT4) &&
		    ((kind == CK_CONV && wic == 1 && p.groups > 1) ||
		     (kind == CK_DW && is.c == 1 && out_c > 1))) {
			/* Relaid out below: on the int8 values of the int4 weights. */
			w8 = malloc(w->elems);
			if (!w8) {
				ret = -ENOMEM;
				goto out;
			}
			apu_ref_int4_unpack(w->data, w->elems, w8);
			wsrc = w8;
		}
		if (kind == CK_CONV && wic == 1 && p.groups > 1) {
			/*
			 * One input channel per group is the network's depthwise
			 * case (groups == in_c): its layout is [k_h][k_w][out_c].
			 */
			size_t taps = (size_t)k_h * k_w;

			wt = malloc(taps * out_c);
			if (!wt) {
				ret = -ENOMEM;
				goto out;
			}
			for (unsigned int c = 0; c < out_c; c++)
				for (size_t t = 0; t < taps; t++)
					wt[t * out_c + c] = wsrc[c * taps + t];
			p.weights = wt;
		} else if (kind == CK_DW && is.c == 1 && out_c > 1) {
			/* One input channel: the device's plain layout [out_c][k_h][k_w]. */
			size_t taps = (size_t)k_h * k_w;

			wt = malloc(taps * out_c);
			if (!wt) {
				ret = -ENOMEM;
				goto out;
			}
			for (size_t t = 0; t < taps; t++)
				for (unsigned int c = 0; c < out_c; c++)
					wt[c * taps + t] = wsrc[t * out_c + c];
			p.weights = wt;
		}
		/* Packed again (in place: byte i / 2 is written after value i is read). */
		if (wt && (flags & APU_CONV_WEIGHTS_INT4))
			for (size_t i = 0; i < w->elems; i++) {
				uint8_t nib = (uint8_t)wt[i] & 0xf;

				((uint8_t *)wt)[i / 2] = i % 2 ? (uint8_t)(wt[i / 2] | nib << 4) : nib;
			}
	}
	ret = apu_network_add_conv_flags(L->m->net, in, &p, kind == CK_FC, flags, w_zp, &out);
	if (ret) {
		ret = ret == -EOPNOTSUPP ?
		      op_fail(L, op, ret, flags & APU_CONV_WEIGHTS_INT4 ?
			      "the device lacks int4 weights (firmware ABI 1.4)" :
			      "the device lacks weight zero points (firmware ABI 1.2)") :
		      net_err(L, op, ret);
		goto out;
	}
	ret = set_output(L, op, 0, out, NULL);
	snprintf(L->m->ops[op].quant, sizeof(L->m->ops[op].quant), "%s%s%s%s",
		 qi.u8 ? "uint8" : "int8", per_channel ? " per-channel" : " per-tensor",
		 w_zp ? " w_zp" : "", flags & APU_CONV_WEIGHTS_INT4 ? " int4" : "");
out:
	free(bias);
	free(mult);
	free(shift);
	free(scales);
	free(wt);
	free(w8);
	return ret;
}

/* ---- elementwise ----------------------------------------------------------- */

/* TFLite's PrepareInt8AddSub: the add's parameters from three scales. */
static int add_params(const struct qt *a, const struct qt *b, const struct qt *o,
		      struct apu_add *p)
{
	const int left_shift = 20;
	double twice_max = 2.0 * (a->scale > b->scale ? a->scale : b->scale);
	double ma = a->scale / twice_max, mb = b->scale / twice_max;
	double mo = twice_max / ((1 << left_shift) * (double)o->scale);
	int sa, sb, so;

	if (apu_quantize_multiplier(ma, &p->in1_mult, &sa) ||
	    apu_quantize_multiplier(mb, &p->in2_mult, &sb) ||
	    apu_quantize_multiplier(mo, &p->out_mult, &so) || sa > 0 || sb > 0 || so > 0)
		return -EOPNOTSUPP;
	p->left_shift = left_shift;
	p->in1_shift = sa;
	p->in2_shift = sb;
	p->out_shift = so;
	p->in1_offset = -a->zp;
	p->in2_offset = -b->zp;
	p->out_zp = o->zp;
	return 0;
}

static int lower_binary(struct lower *L, int op)
{
	const struct tfl_op *o = &L->tf->ops[op];
	struct qt qa = { 0 }, qb = { 0 }, qo = { 0 };
	int a = -1, b = -1, out = -1, ret;

	if (o->nin != 2)
		return op_fail(L, op, -EINVAL, "%d inputs", o->nin);
	ret = op_input(L, op, 0, &a, &qa);
	if (!ret)
		ret = op_input(L, op, 1, &b, &qb);
	if (!ret && o->nout >= 1)
		ret = act_q(L, op, o->out[0], &qo);
	if (ret)
		return ret;
	if (qa.u8 != qb.u8 || qa.u8 != qo.u8)
		return op_fail(L, op, -EOPNOTSUPP, "mixed uint8 and int8 tensors");
	if (o->code == TFL_ADD) {
		struct apu_add p = { 0 };

		if (add_params(&qa, &qb, &qo, &p))
			return op_fail(L, op, -EOPNOTSUPP, "scales out of the device's range");
		ret = act_range(L, op, op_act(L, op), &qo, &p.act_min, &p.act_max);
		if (!ret)
			ret = apu_network_add_add(L->m->net, a, b, &p, &out);
	} else {
		struct apu_mul p = { .in1_offset = -qa.zp, .in2_offset = -qb.zp, .out_zp = qo.zp };
		int s;

		if (apu_quantize_multiplier((double)qa.scale * (double)qb.scale / (double)qo.scale,
					    &p.out_mult, &s))
			return op_fail(L, op, -EOPNOTSUPP, "scales out of the device's range");
		p.out_shift = s;
		ret = act_range(L, op, op_act(L, op), &qo, &p.act_min, &p.act_max);
		if (!ret)
			ret = apu_network_add_mul(L->m->net, a, b, &p, &out);
	}
	if (ret == -EINVAL)
		return op_fail(L, op, -EINVAL, "input shapes that do not broadcast");
	if (ret)
		return net_err(L, op, ret);
	return set_output(L, op, 0, out, NULL);
}

/* Clamp to int8 and store. */
static int8_t sat8(int64_t v)
{
	return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
}

/*
 * A table op for an elementwise function of one value, or a view when the
 * table is the identity.
 */
static int add_table(struct lower *L, int op, int in, const int8_t *table)
{
	int out, ret, i;

	for (i = 0; i < 256 && table[i] == (int8_t)(i - 128); i++)
		;
	if (i == 256) {
		struct apu_shape s;

		apu_network_shape(L->m->net, in, &s);
		ret = apu_network_add_reshape(L->m->net, in, &s, &out);
		L->m->ops[op].place = APU_MODEL_OP_VIEW;
	} else {
		ret = apu_network_add_lut(L->m->net, in, table, &out);
	}
	if (ret)
		return ret == -EOPNOTSUPP ?
		       op_fail(L, op, ret, "the device lacks table ops (firmware ABI 1.2)") :
		       net_err(L, op, ret);
	return set_output(L, op, 0, out, NULL);
}

/*
 * Requantization as a table: out = out_zp + MBQM(x - in_zp) with the
 * multiplier of @ratio (TFLite's Requantize and ReluX); -EOPNOTSUPP when
 * the ratio is outside what QuantizeMultiplier represents.
 */
static int requant_table(double ratio, const struct qt *qi, const struct qt *qo, int8_t *table)
{
	int32_t m;
	int s;

	if (apu_quantize_multiplier(ratio, &m, &s))
		return -EOPNOTSUPP;
	for (int x = -128; x < 128; x++)
		table[x + 128] = sat8((int64_t)apu_ref_mbqm(x - qi->zp, m, s) + qo->zp);
	return 0;
}

/*
 * TFLite's QuantizedReluX: requantize (its multiplier from the scales'
 * quotient in float), then clamp to the activation's range.
 */
static int relu_table(const struct qt *qi, const struct qt *qo, float lo, float hi,
		      int8_t *table)
{
	int32_t a = add_sat(qo->zp, round_sat(lo / qo->scale));
	int32_t b = isinf(hi) ? 127 : add_sat(qo->zp, round_sat(hi / qo->scale));
	int ret = requant_table((double)(qi->scale / qo->scale), qi, qo, table);

	if (ret)
		return ret;
	a = a < -128 ? -128 : a;
	b = b > 127 ? 127 : b;
	for (int i = 0; i < 256; i++)
		table[i] = (int8_t)(table[i] < a ? a : table[i] > b ? b : table[i]);
	return 0;
}

/*
 * TFLite's PopulateLookupTable for LOGISTIC, TANH and HARD_SWISH: the
 * function in float on the dequantized value, rounded, in the model's
 * domain (uint8 or int8), then moved to the int8 domain.
 */
static void float_table(const struct qt *qi, const struct qt *qo, int code, int8_t *table)
{
	const float inverse_scale = 1 / qo->scale;
	int lo = qi->u8 ? 0 : -128, off = qi->u8 ? 128 : 0;
	int zpi = qi->zp + off, zpo = qo->zp + (qo->u8 ? 128 : 0);

	for (int val = lo; val <= lo + 255; val++) {
		const float x = qi->scale * (float)(val - zpi);
		float y;
		int32_t q;

		if (code == TFL_LOGISTIC)
			y = 1.0f / (1.0f + expf(-x));
		else if (code == TFL_TANH)
			y = tanhf(x);
		else	/* HARD_SWISH */
			y = x * fminf(6.0f, fmaxf(0.0f, x + 3.0f)) / 6.0f;
		q = add_sat(round_sat(y * inverse_scale), zpo);
		q = q < (qo->u8 ? 0 : -128) ? (qo->u8 ? 0 : -128) : q;
		q = q > (qo->u8 ? 255 : 127) ? (qo->u8 ? 255 : 127) : q;
		table[(val - off) + 128] = (int8_t)(q - (qo->u8 ? 128 : 0));
	}
}

static int lower_unary(struct lower *L, int op)
{
	const struct tfl_op *o = &L->tf->ops[op];
	struct qt qi = { 0 }, qo = { 0 };
	int8_t table[256];
	int in = -1, ret;

	if (L->fused[op]) {
		/* Its clamp was done by the op that wrote its input. */
		L->tmap[o->out[0]] = L->tmap[o->in[0]];
		L->m->ops[op].place = APU_MODEL_OP_FOLDED;
		return 0;
	}
	ret = unary_io(L, op, &in, &qi, &qo);
	if (ret)
		return ret;
	switch (o->code) {
	case TFL_QUANTIZE:
		ret = requant_table((double)qi.scale / (double)qo.scale, &qi, &qo, table);
		break;
	case TFL_RELU:
		ret = relu_table(&qi, &qo, 0.0f, INFINITY, table);
		break;
	case TFL_RELU6:
		ret = relu_table(&qi, &qo, 0.0f, 6.0f, table);
		break;
	case TFL_RELU_N1_TO_1:
		ret = relu_table(&qi, &qo, -1.0f, 1.0f, table);
		break;
	default:
		float_table(&qi, &qo, o->code, table);
		break;
	}
	if (ret)
		return op_fail(L, op, ret, "scales out of range (input %g, output %g)",
			       (double)qi.scale, (double)qo.scale);
	return add_table(L, op, in, table);
}

/* ---- the rest ---------------------------------------------------------------- */

/* Whether padding @before, @after along a dimension is TFLite SAME's. */
static bool same_pads(unsigned int in, unsigned int k, unsigned int stride, unsigned int before,
		      unsigned int after)
{
	uint64_t out = ((uint64_t)in + stride - 1) / stride;
	int64_t total = (int64_t)((out - 1) * stride + k) - (int64_t)in;

	if (total < 0)
		total = 0;
	return before == (uint64_t)total / 2 && after == (uint64_t)total - (uint64_t)total / 2;
}

static int lower_pool(struct lower *L, int op)
{
	const struct tfl_op *o = &L->tf->ops[op];
	struct apu_avgpool p = { 0 };
	struct qt qi = { 0 }, qo = { 0 };
	int in = -1, out = -1, ret;

	ret = unary_io(L, op, &in, &qi, &qo);
	if (ret)
		return ret;
	if (qi.scale != qo.scale || qi.zp != qo.zp || qi.u8 != qo.u8)
		return op_fail(L, op, -EOPNOTSUPP,
			       "input and output quantizations differ (TFLite requires them equal)");
	if (o->filter_h <= 0 || o->filter_w <= 0 || o->stride_h <= 0 || o->stride_w <= 0 ||
	    o->filter_h > 65535 || o->filter_w > 65535 || o->stride_h > 65535 ||
	    o->stride_w > 65535 || (o->padding != TFL_PAD_SAME && o->padding != TFL_PAD_VALID &&
				    o->padding != TFL_PAD_EXPLICIT))
		return op_fail(L, op, -EINVAL, "filter %dx%d, strides %dx%d, padding %d",
			       o->filter_h, o->filter_w, o->stride_h, o->stride_w, o->padding);
	p.k_h = (unsigned int)o->filter_h;
	p.k_w = (unsigned int)o->filter_w;
	p.stride_h = (unsigned int)o->stride_h;
	p.stride_w = (unsigned int)o->stride_w;
	p.padding = o->padding == TFL_PAD_SAME ? APU_PAD_SAME : APU_PAD_VALID;
	if (o->padding == TFL_PAD_EXPLICIT) {
		/*
		 * Pools average over the taps inside the input only (TFLite's
		 * SAME): explicit padding runs when it is SAME's or none.
		 */
		struct apu_shape is;

		apu_network_shape(L->m->net, in, &is);
		if (!o->pad[0] && !o->pad[1] && !o->pad[2] && !o->pad[3])
			p.padding = APU_PAD_VALID;
		else if (same_pads(is.h, p.k_h, p.stride_h, o->pad[0], o->pad[1]) &&
			 same_pads(is.w, p.k_w, p.stride_w, o->pad[2], o->pad[3]))
			p.padding = APU_PAD_SAME;
		else
			return op_fail(L, op, -EOPNOTSUPP,
				       "pool padding %u,%u,%u,%u (only SAME's or none)", o->pad[0],
				       o->pad[1], o->pad[2], o->pad[3]);
	}
	ret = act_range(L, op, op_act(L, op), &qo, &p.act_min, &p.act_max);
	if (ret)
		return ret;
	if (o->code == TFL_MAX_POOL_2D)
		ret = apu_network_add_maxpool(L->m->net, in, &p, &out);
	else if (qi.u8)	/* TFLite's uint8 kernel rounds half up */
		ret = apu_network_add_avgpool_uint8(L->m->net, in, &p, &out);
	else
		ret = apu_network_add_avgpool(L->m->net, in, &p, &out);
	if (ret)
		return ret == -EOPNOTSUPP ?
		       op_fail(L, op, ret, "the device lacks max pooling (firmware ABI 1.2)") :
		       net_err(L, op, ret);
	return set_output(L, op, 0, out, NULL);
}

static int lower_mean(struct lower *L, int op)
{
	const struct tfl_op *o = &L->tf->ops[op];
	const struct tfl_tensor *ax;
	struct apu_mean p = { 0 };
	struct qt qi = { 0 }, qo = { 0 };
	int32_t axes[2] = { 0 };
	int in = -1, out = -1, ret, s;

	ret = unary_io(L, op, &in, &qi, &qo);
	if (ret)
		return ret;
	if (o->nin < 2 || o->in[1] < 0)
		return op_fail(L, op, -EINVAL, "no axes");
	ax = &L->tf->t[o->in[1]];
	if (L->tf->t[o->in[0]].ndims != 4 || ax->elems != 2 ||
	    const_i32(L, op, o->in[1], 2, axes) ||
	    !((axes[0] == 1 && axes[1] == 2) || (axes[0] == 2 && axes[1] == 1)))
		return op_fail(L, op, -EOPNOTSUPP, "only the mean over height and width (axes 1, 2 of a 4-D tensor)");
	if (qi.u8 != qo.u8)
		return op_fail(L, op, -EOPNOTSUPP, "mixed uint8 and int8 tensors");
	if (apu_quantize_multiplier((double)qi.scale / (double)qo.scale, &p.mult, &s))
		return op_fail(L, op, -EOPNOTSUPP, "scales out of range");
	p.shift = s;
	p.in_zp = qi.zp;
	p.out_zp = qo.zp;
	ret = apu_network_add_mean(L->m->net, in, &p, &out);
	if (ret)
		return net_err(L, op, ret);
	return set_output(L, op, 0, out, NULL);
}

static int lower_softmax(struct lower *L, int op)
{
	const struct tfl_op *o = &L->tf->ops[op];
	struct apu_softmax p;
	struct qt qi = { 0 }, qo = { 0 };
	int in = -1, out = -1, ret;

	ret = unary_io(L, op, &in, &qi, &qo);
	if (ret)
		return ret;
	if (!(o->beta > 0) || isinf(o->beta))
		return op_fail(L, op, -EINVAL, "beta %g", (double)o->beta);
	p.beta_scale = (double)o->beta * (double)qi.scale;
	p.out_scale = qo.scale;
	p.out_zp = qo.zp;
	ret = apu_network_add_softmax(L->m->net, in, &p, &out);
	if (ret)
		return net_err(L, op, ret);
	return set_output(L, op, 0, out, NULL);
}

static int lower_view(struct lower *L, int op)
{
	const struct tfl_op *o = &L->tf->ops[op];
	struct apu_shape s;
	struct qt qi = { 0 }, qo = { 0 };
	int in = -1, out = -1, ret;

	ret = unary_io(L, op, &in, &qi, &qo);
	if (ret)
		return ret;
	if (qi.scale != qo.scale || qi.zp != qo.zp || qi.u8 != qo.u8)
		return op_fail(L, op, -EOPNOTSUPP, "a reshape that changes the quantization");
	if (shape_of(&L->tf->t[o->out[0]], &s))
		return op_fail(L, op, -EOPNOTSUPP, "output shape not supported (batch 1, rank <= 4)");
	ret = apu_network_add_reshape(L->m->net, in, &s, &out);
	if (ret)
		return op_fail(L, op, -EINVAL, "element counts differ");
	return set_output(L, op, 0, out, NULL);
}

/* TFLite's ConcatenationWithScaling for one input, as a table. */
static void concat_table(const struct qt *qi, const struct qt *qo, int8_t *table)
{
	const float inverse_output_scale = 1.f / qo->scale;
	const float scale = qi->scale * inverse_output_scale;
	int zpi = qi->zp + (qi->u8 ? 128 : 0), zpo = qo->zp + (qo->u8 ? 128 : 0);
	const float bias = (float)-zpi * scale;
	int lo = qi->u8 ? 0 : -128;

	for (int v = lo; v <= lo + 255; v++) {
		int32_t q = add_sat(round_sat((float)v * scale + bias), zpo);
		int32_t qmin = qo->u8 ? 0 : -128;

		q = q < qmin ? qmin : q > qmin + 255 ? qmin + 255 : q;
		table[v - lo] = (int8_t)(q - (qo->u8 ? 128 : 0));
	}
}

static int lower_concat(struct lower *L, int op)
{
	const struct tfl_op *o = &L->tf->ops[op];
	int *ins, out, ret = 0, rank;
	bool *requant;
	struct qt qo = { 0 };

	if (o->nin < 1 || o->nout < 1)
		return op_fail(L, op, -EINVAL, "no inputs");
	rank = L->tf->t[o->out[0]].ndims;
	if (!(o->axis == rank - 1 || o->axis == -1))
		return op_fail(L, op, -EOPNOTSUPP, "axis %d (only the last, channels)", o->axis);
	if (o->act != TFL_ACT_NONE)
		return op_fail(L, op, -EOPNOTSUPP, "fused activation %d", o->act);
	ret = act_q(L, op, o->out[0], &qo);
	if (ret)
		return ret;
	ins = calloc((size_t)o->nin, sizeof(int));
	requant = calloc((size_t)o->nin, sizeof(bool));
	if (!ins || !requant) {
		free(ins);
		free(requant);
		return -ENOMEM;
	}
	for (int k = 0; k < o->nin && !ret; k++) {
		struct qt qi = { 0 };

		ret = op_input(L, op, k, &ins[k], &qi);
		if (ret)
			break;
		if (qi.u8 != qo.u8) {
			ret = op_fail(L, op, -EOPNOTSUPP, "mixed uint8 and int8 tensors");
		} else if (qi.scale != qo.scale || qi.zp != qo.zp) {
			int8_t table[256];

			concat_table(&qi, &qo, table);
			requant[k] = true;
			ret = apu_network_add_lut(L->m->net, ins[k], table, &ins[k]);
			if (ret)
				ret = net_err(L, op, ret);
		}
	}
	if (!ret) {
		bool in_place = true;

		/*
		 * Convolutions that only this op reads write their outputs in
		 * place, at the output's pitch; anything else is copied on the
		 * CPU.
		 */
		for (int k = 0; k < o->nin; k++)
			in_place &= L->nconsumers[o->in[k]] == 1 && !requant[k];
		ret = in_place ? apu_network_add_concat_in_place(L->m->net, ins, (unsigned int)o->nin,
								 &out) : -EINVAL;
		if (ret == -EINVAL || ret == -EOPNOTSUPP)
			ret = apu_network_add_concat(L->m->net, ins, (unsigned int)o->nin, &out);
		ret = ret ? net_err(L, op, ret) : set_output(L, op, 0, out, NULL);
	}
	free(ins);
	free(requant);
	return ret;
}

/* The paddings of a PAD op: [4][2] int32 (or int64), batch and channels 0. */
static int pad_amounts(struct lower *L, int op, unsigned int pads[4])
{
	const struct tfl_op *o = &L->tf->ops[op];
	const struct tfl_tensor *t;
	int64_t v[8];

	if (o->nin < 2 || o->in[1] < 0)
		return op_fail(L, op, -EINVAL, "no paddings");
	t = &L->tf->t[o->in[1]];
	if (!t->data || t->elems != 8 || L->tf->t[o->in[0]].ndims != 4 ||
	    (t->type != TFL_INT32 && t->type != TFL_INT64) ||
	    t->data_size < (t->type == TFL_INT32 ? 32u : 64u))
		return op_fail(L, op, -EOPNOTSUPP, "paddings must be a constant [4][2] of a 4-D tensor");
	for (int i = 0; i < 8; i++) {
		if (t->type == TFL_INT32) {
			int32_t x;

			memcpy(&x, t->data + 4 * i, 4);
			v[i] = x;
		} else {
			memcpy(&v[i], t->data + 8 * i, 8);
		}
		if (v[i] < 0 || v[i] > 65535)
			return op_fail(L, op, -EINVAL, "padding %lld", (long long)v[i]);
	}
	if (v[0] || v[1] || v[6] || v[7])
		return op_fail(L, op, -EOPNOTSUPP, "padding of batch or channels");
	pads[0] = (unsigned int)v[2];
	pads[1] = (unsigned int)v[3];
	pads[2] = (unsigned int)v[4];
	pads[3] = (unsigned int)v[5];
	return 0;
}

/*
 * The op after op @op that reads tensor @t, when it is the only reader and
 * @t is no model output; else -1. From the counts build() makes once.
 */
static int sole_consumer(const struct lower *L, int op, int t)
{
	if (L->nconsumers[t] != 1 || L->first_reader[t] <= op)
		return -1;
	return L->first_reader[t];
}

static int lower_pad(struct lower *L, int op)
{
	const struct tfl_op *o = &L->tf->ops[op];
	unsigned int pads[4] = { 0 };
	struct qt qi = { 0 }, qo = { 0 };
	int in = -1, out = -1, ret, c;

	ret = unary_io(L, op, &in, &qi, &qo);
	if (!ret)
		ret = pad_amounts(L, op, pads);
	if (ret)
		return ret;
	if (qi.scale != qo.scale || qi.zp != qo.zp || qi.u8 != qo.u8)
		return op_fail(L, op, -EOPNOTSUPP, "input and output quantizations differ");
	/*
	 * Folded into the next convolution when that is its only reader, pads
	 * with its input's zero point (taps there add nothing) and takes
	 * padding of this size (less than the kernel's extent).
	 */
	c = sole_consumer(L, op, o->out[0]);
	if (c >= 0 && (L->tf->ops[c].code == TFL_CONV_2D ||
		       L->tf->ops[c].code == TFL_DEPTHWISE_CONV_2D) &&
	    L->tf->ops[c].in[0] == o->out[0] && L->tf->ops[c].padding == TFL_PAD_VALID &&
	    L->tf->ops[c].nin >= 2 && L->tf->ops[c].in[1] >= 0 &&
	    L->tf->t[L->tf->ops[c].in[1]].ndims == 4) {
		const struct tfl_op *co = &L->tf->ops[c];
		const struct tfl_tensor *w = &L->tf->t[co->in[1]];
		long ekh = (long)(w->dims[1] - 1) * co->dil_h + 1;
		long ekw = (long)(w->dims[2] - 1) * co->dil_w + 1;

		if (pads[0] < ekh && pads[1] < ekh && pads[2] < ekw && pads[3] < ekw) {
			L->tmap[o->out[0]] = in;
			memcpy(L->pend_pad[o->out[0]], pads, sizeof(pads));
			L->has_pad[o->out[0]] = true;
			L->m->ops[op].place = APU_MODEL_OP_FOLDED;
			return 0;
		}
	}
	ret = apu_network_add_pad(L->m->net, in, pads, (int8_t)qi.zp, &out);
	if (ret)
		return net_err(L, op, ret);
	return set_output(L, op, 0, out, NULL);
}

/* ---- the model ------------------------------------------------------------- */

static enum apu_dtype dtype_of(int type)
{
	return type == TFL_UINT8 ? APU_DTYPE_UINT8 : type == TFL_INT8 ? APU_DTYPE_INT8 :
	       APU_DTYPE_FLOAT32;
}

static void io_info(const struct tfl_tensor *t, const struct qt *q, struct apu_tensor_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", t->name);
	info->dtype = dtype_of(t->type);
	info->ndims = (unsigned int)t->ndims;
	for (int d = 0; d < t->ndims; d++)
		info->dims[d] = t->dims[d];
	info->count = (size_t)t->elems;
	info->bytes = info->count * (info->dtype == APU_DTYPE_FLOAT32 ? 4 : 1);
	info->scale = q->scale;
	info->quant_dtype = q->u8 ? APU_DTYPE_UINT8 : APU_DTYPE_INT8;
	info->zero_point = q->zp + (q->u8 ? 128 : 0);
}

/* The first op that reads tensor @t, or -1. */
static int first_consumer(const struct lower *L, int t)
{
	return L->first_reader[t];
}

/* The model's inputs: network inputs, or QUANTIZE ops at a float edge. */
static int lower_inputs(struct lower *L)
{
	const struct tfl_model *tf = L->tf;
	struct apu_model *m = L->m;

	m->in = calloc((size_t)(tf->nin ? tf->nin : 1), sizeof(*m->in));
	if (!m->in)
		return -ENOMEM;
	for (int i = 0; i < tf->nin; i++) {
		int t = tf->inputs[i], qt_t = t, ret;
		const struct tfl_tensor *x = &tf->t[t];
		struct model_io *io = &m->in[i];
		struct apu_shape s;

		if (x->type == TFL_FLOAT32) {
			int c = sole_consumer(L, -1, t);

			if (c < 0 || tf->ops[c].code != TFL_QUANTIZE)
				return op_fail(L, -1, -EOPNOTSUPP,
					       "float input %d (tensor %d '%s') is not read by one QUANTIZE op",
					       i, t, tname(L, t));
			qt_t = tf->ops[c].nout ? tf->ops[c].out[0] : -1;
			if (qt_t < 0)
				return op_fail(L, c, -EINVAL, "no output");
			m->ops[c].place = APU_MODEL_OP_EDGE;
		}
		/* Errors name the op that reads the input. */
		ret = act_q(L, first_consumer(L, qt_t), qt_t, &io->q);
		if (ret)
			return ret;
		if (shape_of(&tf->t[qt_t], &s))
			return op_fail(L, -1, -EOPNOTSUPP,
				       "input %d (tensor %d '%s'): shape not supported (batch 1, rank <= 4)",
				       i, t, tname(L, t));
		ret = apu_network_add_input(m->net, &s, &io->tensor);
		if (ret)
			return ret;
		if (L->tmap[qt_t] >= 0)
			return op_fail(L, -1, -EINVAL, "input tensor %d listed twice", qt_t);
		L->tmap[qt_t] = io->tensor;
		io->tfl = t;
		io_info(x, &io->q, &io->info);
		m->nin++;
	}
	return 0;
}

static int lower_outputs(struct lower *L)
{
	const struct tfl_model *tf = L->tf;
	struct apu_model *m = L->m;

	m->out = calloc((size_t)(tf->nout ? tf->nout : 1), sizeof(*m->out));
	if (!m->out)
		return -ENOMEM;
	for (int i = 0; i < tf->nout; i++) {
		int t = tf->outputs[i], qt_t = t, ret;
		struct model_io *io = &m->out[i];

		if (tf->t[t].type == TFL_FLOAT32) {
			int p = -1;

			for (int k = 0; k < tf->nops; k++)
				if (tf->ops[k].nout && tf->ops[k].out[0] == t)
					p = k;
			if (p < 0 || tf->ops[p].code != TFL_DEQUANTIZE || tf->ops[p].nin < 1 ||
			    tf->ops[p].in[0] < 0)
				return op_fail(L, -1, -EOPNOTSUPP,
					       "float output %d (tensor %d '%s') is not made by a DEQUANTIZE op",
					       i, t, tname(L, t));
			qt_t = tf->ops[p].in[0];
		}
		ret = act_q(L, -1, qt_t, &io->q);
		if (ret)
			return ret;
		if (L->tmap[qt_t] < 0)
			return op_fail(L, -1, -EINVAL, "output %d (tensor %d '%s') is never computed",
				       i, t, tname(L, t));
		io->tensor = L->tmap[qt_t];
		io->tfl = t;
		io_info(&tf->t[t], &io->q, &io->info);
		m->nout++;
	}
	return 0;
}

static int lower_op(struct lower *L, int op)
{
	const struct tfl_op *o = &L->tf->ops[op];

	if (o->nout < 1)
		return op_fail(L, op, -EINVAL, "no output");
	switch (o->code) {
	case TFL_CONV_2D:
		return lower_conv(L, op, CK_CONV);
	case TFL_DEPTHWISE_CONV_2D:
		return lower_conv(L, op, CK_DW);
	case TFL_FULLY_CONNECTED:
		return lower_conv(L, op, CK_FC);
	case TFL_ADD:
	case TFL_MUL:
		return lower_binary(L, op);
	case TFL_AVERAGE_POOL_2D:
	case TFL_MAX_POOL_2D:
		return lower_pool(L, op);
	case TFL_MEAN:
		return lower_mean(L, op);
	case TFL_SOFTMAX:
		return lower_softmax(L, op);
	case TFL_RESHAPE:
	case TFL_SQUEEZE:
		return lower_view(L, op);
	case TFL_CONCATENATION:
		return lower_concat(L, op);
	case TFL_PAD:
		return lower_pad(L, op);
	case TFL_QUANTIZE:
	case TFL_LOGISTIC:
	case TFL_TANH:
	case TFL_HARD_SWISH:
	case TFL_RELU:
	case TFL_RELU6:
	case TFL_RELU_N1_TO_1:
		return lower_unary(L, op);
	case TFL_DEQUANTIZE:
		return op_fail(L, op, -EOPNOTSUPP,
			       "DEQUANTIZE inside the model (float ops are not supported)");
	default:
		return op_fail(L, op, -EOPNOTSUPP, "operator not supported by libapu");
	}
}

static int describe(struct lower *L, int op)
{
	const struct tfl_op *o = &L->tf->ops[op];
	struct model_op *mo = &L->m->ops[op];
	char a[40] = "", b[40] = "";

	for (int k = 0; k < o->nin; k++)
		if (o->in[k] >= 0 && !L->tf->t[o->in[k]].data) {
			dims_text(&L->tf->t[o->in[k]], a, sizeof(a));
			break;
		}
	if (o->nout)
		dims_text(&L->tf->t[o->out[0]], b, sizeof(b));
	snprintf(mo->shapes, sizeof(mo->shapes), "%s -> %s", a, b);
	if (!mo->quant[0] && o->nout) {
		const struct tfl_tensor *t = &L->tf->t[o->out[0]];

		snprintf(mo->quant, sizeof(mo->quant), "%s", t->type == TFL_UINT8 ? "uint8" :
			 t->type == TFL_INT8 ? "int8" : tfl_type_name(t->type));
	}
	return 0;
}

void apu_model_destroy(struct apu_model *m)
{
	if (!m)
		return;
	apu_network_destroy(m->net);
	free(m->in);
	free(m->out);
	free(m->ops);
	free(m->owner);
	free(m);
}

static int build(struct apu_model *m, const struct tfl_model *tf, char *err, size_t errlen)
{
	struct lower L = { .m = m, .tf = tf, .err = err, .errlen = errlen };
	int ret = -ENOMEM;

	L.tmap = malloc(sizeof(int) * (size_t)(tf->ntensors ? tf->ntensors : 1));
	L.pend_pad = calloc((size_t)(tf->ntensors ? tf->ntensors : 1), sizeof(*L.pend_pad));
	L.has_pad = calloc((size_t)(tf->ntensors ? tf->ntensors : 1), sizeof(bool));
	L.nconsumers = calloc((size_t)(tf->ntensors ? tf->ntensors : 1), sizeof(int));
	L.first_reader = malloc(sizeof(int) * (size_t)(tf->ntensors ? tf->ntensors : 1));
	L.fused = calloc((size_t)(tf->nops ? tf->nops : 1), sizeof(bool));
	m->ops = calloc((size_t)(tf->nops ? tf->nops : 1), sizeof(*m->ops));
	if (!L.tmap || !L.pend_pad || !L.has_pad || !L.nconsumers || !L.first_reader || !L.fused ||
	    !m->ops)
		goto out;
	for (int i = 0; i < tf->ntensors; i++) {
		L.tmap[i] = -1;
		L.first_reader[i] = -1;
	}
	for (int i = 0; i < tf->nops; i++)
		for (int k = 0; k < tf->ops[i].nin; k++) {
			int t = tf->ops[i].in[k];
			bool again = false;

			if (t < 0)
				continue;
			/* An op reading a tensor twice is one reader. */
			for (int j = 0; j < k; j++)
				again |= tf->ops[i].in[j] == t;
			if (again)
				continue;
			L.nconsumers[t]++;
			if (L.first_reader[t] < 0)
				L.first_reader[t] = i;
		}
	for (int i = 0; i < tf->nout; i++)
		L.nconsumers[tf->outputs[i]]++;
	if (!tf->nin || !tf->nout) {
		ret = op_fail(&L, -1, -EINVAL, "the model has %d inputs and %d outputs", tf->nin,
			      tf->nout);
		goto out;
	}
	m->nops = tf->nops;
	for (int i = 0; i < tf->nops; i++) {
		m->ops[i].code = tf->ops[i].code;
		m->ops[i].net_first = -1;
	}
	/* DEQUANTIZE ops at a float output are done by apu_model_get_output(). */
	for (int i = 0; i < tf->nout; i++)
		for (int k = 0; k < tf->nops; k++)
			if (tf->ops[k].code == TFL_DEQUANTIZE && tf->ops[k].nout &&
			    tf->ops[k].out[0] == tf->outputs[i])
				m->ops[k].place = APU_MODEL_OP_EDGE;
	ret = lower_inputs(&L);
	for (int i = 0; i < tf->nops && !ret; i++) {
		int before = apu_network_op_count(m->net);

		if (m->ops[i].place == APU_MODEL_OP_EDGE)
			continue;
		/* Placement default: from what the op became. */
		ret = lower_op(&L, i);
		if (ret)
			break;
		m->ops[i].net_first = before;
		m->ops[i].net_count = apu_network_op_count(m->net) - before;
		if (m->ops[i].place == APU_MODEL_OP_DEVICE) {
			/* CPU if any of its network ops is, else device, else a view. */
			bool cpu = false, device = false;

			for (int k = before; k < before + m->ops[i].net_count; k++) {
				struct apu_op_info oi;

				apu_network_op_info(m->net, k, &oi, sizeof(oi));
				cpu |= oi.place == APU_PLACE_CPU;
				device |= oi.place == APU_PLACE_DEVICE;
				m->ops[i].macs += oi.macs;
			}
			m->ops[i].place = cpu ? APU_MODEL_OP_CPU : device ? APU_MODEL_OP_DEVICE :
					  tf->ops[i].code == TFL_CONCATENATION ? APU_MODEL_OP_IN_PLACE :
					  APU_MODEL_OP_VIEW;
		}
		describe(&L, i);
	}
	if (!ret)
		ret = lower_outputs(&L);
	if (!ret) {
		m->nowner = apu_network_op_count(m->net);
		m->owner = calloc((size_t)(m->nowner ? m->nowner : 1), sizeof(int));
		if (!m->owner) {
			ret = -ENOMEM;
			goto out;
		}
		for (int i = 0; i < m->nops; i++)
			for (int k = 0; k < m->ops[i].net_count; k++)
				m->owner[m->ops[i].net_first + k] = i;
	}
	if (!ret) {
		/* What a small file may ask of the CPU reference and the device. */
		uint64_t macs = 0;

		for (int i = 0; i < m->nops; i++)
			macs += m->ops[i].macs;
		if (macs > APU_MODEL_MAX_MACS)
			ret = op_fail(&L, -1, -E2BIG,
				      "the model needs %llu multiply-accumulates (at most %llu)",
				      (unsigned long long)macs,
				      (unsigned long long)APU_MODEL_MAX_MACS);
	}
out:
	free(L.tmap);
	free(L.pend_pad);
	free(L.has_pad);
	free(L.nconsumers);
	free(L.first_reader);
	free(L.fused);
	return ret;
}

int apu_model_build(struct apu_device *dev, const struct tfl_model *tf, struct apu_model **out,
		    char *err, size_t errlen)
{
	struct apu_model *m = calloc(1, sizeof(*m));
	int ret;

	if (!m)
		return -ENOMEM;
	m->dev = dev;
	ret = apu_network_create(dev, &m->net);
	if (!ret)
		ret = build(m, tf, err, errlen);
	if (ret) {
		if (ret == -ENOMEM && err && errlen && !err[0])
			snprintf(err, errlen, "out of memory");
		apu_model_destroy(m);
		return ret;
	}
	*out = m;
	return 0;
}

int apu_model_load_tflite_buffer(struct apu_device *dev, const void *data, size_t size,
				 struct apu_model **out, char *err, size_t errlen)
{
	struct tfl_model tf;
	int ret;

	if (err && errlen)
		err[0] = 0;
	if (!dev || !data || !out)
		return -EINVAL;
	ret = tfl_parse(data, size, &tf, err, errlen);
	if (ret)
		return ret;	/* with its message */
	ret = apu_model_build(dev, &tf, out, err, errlen);
	tfl_free(&tf);
	return ret;
}

int apu_model_load_tflite(struct apu_device *dev, const char *path, struct apu_model **out,
			  char *err, size_t errlen)
{
	struct stat st;
	void *p;
	int fd, ret;

	if (err && errlen)
		err[0] = 0;
	if (!dev || !path || !out)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
		close(fd);
		if (err && errlen)
			snprintf(err, errlen, "%s: not a regular, non-empty file", path);
		return -EINVAL;
	}
	/* Mapped, not read: the weights are copied once, into the network. */
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = apu_model_load_tflite_buffer(dev, p, (size_t)st.st_size, out, err, errlen);
	munmap(p, (size_t)st.st_size);
	return ret;
}

int apu_model_compile(struct apu_model *m, const struct apu_compile_options *opts, size_t size)
{
	return m ? apu_network_compile(m->net, opts, size) : -EINVAL;
}

int apu_model_num_inputs(const struct apu_model *m)
{
	return m ? m->nin : -EINVAL;
}

int apu_model_num_outputs(const struct apu_model *m)
{
	return m ? m->nout : -EINVAL;
}

int apu_model_input_info(const struct apu_model *m, int i, struct apu_tensor_info *info)
{
	if (!m || !info || i < 0 || i >= m->nin)
		return -EINVAL;
	*info = m->in[i].info;
	return 0;
}

int apu_model_output_info(const struct apu_model *m, int i, struct apu_tensor_info *info)
{
	if (!m || !info || i < 0 || i >= m->nout)
		return -EINVAL;
	*info = m->out[i].info;
	return 0;
}

int apu_model_set_input(struct apu_model *m, int i, const void *data, size_t size)
{
	const struct model_io *io;
	int8_t *q;
	int ret;

	if (!m || !data || i < 0 || i >= m->nin)
		return -EINVAL;
	io = &m->in[i];
	if (size != io->info.bytes)
		return -EINVAL;
	q = malloc(io->info.count ? io->info.count : 1);
	if (!q)
		return -ENOMEM;
	for (size_t k = 0; k < io->info.count; k++) {
		if (io->info.dtype == APU_DTYPE_FLOAT32) {
			/* TFLite's AffineQuantize, in the model's quantized type. */
			float x;
			int32_t v, lo = io->q.u8 ? 0 : -128;

			memcpy(&x, (const uint8_t *)data + 4 * k, 4);
			v = add_sat(round_sat(x / io->q.scale), io->info.zero_point);
			v = v < lo ? lo : v > lo + 255 ? lo + 255 : v;
			q[k] = (int8_t)(io->q.u8 ? v - 128 : v);
		} else {
			uint8_t b = ((const uint8_t *)data)[k];

			q[k] = (int8_t)(io->q.u8 ? b ^ 0x80 : b);
		}
	}
	ret = apu_network_write(m->net, io->tensor, q, io->info.count);
	free(q);
	return ret;
}

int apu_model_run(struct apu_model *m, struct apu_run_stats *stats)
{
	return m ? apu_network_run(m->net, stats) : -EINVAL;
}

static int read_output(struct apu_model *m, int i, int8_t **q)
{
	const struct model_io *io = &m->out[i];
	int ret;

	*q = malloc(io->info.count ? io->info.count : 1);
	if (!*q)
		return -ENOMEM;
	ret = apu_network_read(m->net, io->tensor, *q, io->info.count);
	if (ret) {
		free(*q);
		*q = NULL;
	}
	return ret;
}

int apu_model_get_output(struct apu_model *m, int i, void *data, size_t size)
{
	const struct model_io *io;
	int8_t *q;
	int ret;

	if (!m || !data || i < 0 || i >= m->nout || size != m->out[i].info.bytes)
		return -EINVAL;
	io = &m->out[i];
	ret = read_output(m, i, &q);
	if (ret)
		return ret;
	for (size_t k = 0; k < io->info.count; k++) {
		int32_t v = q[k] - io->q.zp;

		if (io->info.dtype == APU_DTYPE_FLOAT32) {
			/* TFLite's Dequantize: double scale, then float. */
			float f = (float)((double)io->q.scale * v);

			memcpy((uint8_t *)data + 4 * k, &f, 4);
		} else {
			((uint8_t *)data)[k] = (uint8_t)(io->q.u8 ? (uint8_t)q[k] ^ 0x80 :
							 (uint8_t)q[k]);
		}
	}
	free(q);
	return 0;
}

int apu_model_get_output_float(struct apu_model *m, int i, float *data, size_t count)
{
	int8_t *q;
	int ret;

	if (!m || !data || i < 0 || i >= m->nout || count != m->out[i].info.count)
		return -EINVAL;
	ret = read_output(m, i, &q);
	if (ret)
		return ret;
	for (size_t k = 0; k < count; k++)
		data[k] = (float)((double)m->out[i].q.scale * (q[k] - m->out[i].q.zp));
	free(q);
	return 0;
}

int apu_model_compare_reference(struct apu_model *m, struct apu_model_compare *r)
{
	int8_t *a = NULL, *b = NULL;
	int nt, ret;

	if (!m || !r)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->first_differing_op = -1;
	ret = apu_network_run_reference(m->net);
	if (ret)
		return ret;
	nt = apu_network_num_tensors(m->net);
	for (int oi = 0; oi < apu_network_op_count(m->net); oi++) {
		struct apu_op_info info;
		struct apu_shape shape;
		size_t size;

		apu_network_op_info(m->net, oi, &info, sizeof(info));
		if (info.place == APU_PLACE_VIEW || info.output < 0 || info.output >= nt)
			continue;
		ret = apu_network_shape(m->net, info.output, &shape);
		if (ret)
			break;
		size = (size_t)shape.h * shape.w * shape.c;
		{
			int8_t *na = realloc(a, size ? size : 1), *nb;

			if (na)
				a = na;
			nb = na ? realloc(b, size ? size : 1) : NULL;
			if (nb)
				b = nb;
			if (!na || !nb) {
				ret = -ENOMEM;
				break;
			}
		}
		ret = apu_network_read(m->net, info.output, a, size);
		if (!ret)
			ret = apu_network_read_reference(m->net, info.output, b, size);
		if (ret)
			break;
		r->tensors++;
		r->values += size;
		{
			uint64_t diff = 0;

			for (size_t k = 0; k < size; k++) {
				unsigned int d = (unsigned int)abs(a[k] - b[k]);

				if (d) {
					diff++;
					if (d > r->max_abs_diff)
						r->max_abs_diff = d;
				}
			}
			if (diff) {
				r->tensors_differing++;
				r->values_differing += diff;
				if (r->first_differing_op < 0 && oi < m->nowner)
					r->first_differing_op = m->owner[oi];
			}
		}
	}
	free(a);
	free(b);
	return ret;
}

int apu_model_op_count(const struct apu_model *m)
{
	return m ? m->nops : -EINVAL;
}

int apu_model_op_info(const struct apu_model *m, int i, struct apu_model_op_info *out,
		      size_t size)
{
	static const char *const places[] = {
		"device", "cpu", "view", "folded", "edge", "in-place",
	};
	struct apu_model_op_info mi = { 0 }, *info = &mi;
	const struct model_op *o;

	if (!m || i < 0 || i >= m->nops)
		return -EINVAL;
	o = &m->ops[i];
	info->builtin_code = o->code;
	info->name = tfl_op_name(o->code);
	info->place = o->place;
	info->place_name = places[o->place];
	info->network_op = o->net_first;
	info->network_ops = o->net_count;
	info->macs = o->macs;
	snprintf(info->shapes, sizeof(info->shapes), "%s", o->shapes);
	snprintf(info->quant, sizeof(info->quant), "%s", o->quant);
	for (int k = 0; k < o->net_count; k++) {
		struct apu_op_info oi;

		if (!apu_network_op_info(m->net, o->net_first + k, &oi, sizeof(oi)))
			info->core_mask |= oi.core_mask;
	}
	return apu_copy_sized(out, size, info, sizeof(*info), APU_MODEL_OP_INFO_SIZE_1_0);
}

struct apu_network *apu_model_network(struct apu_model *m)
{
	return m ? m->net : NULL;
}
