// SPDX-License-Identifier: MIT
/*
 * fp16 in libapu (APU_CAP_FP16, firmware ABI 1.6): float <-> binary16
 * conversions (F16C when the CPU has it, plain C otherwise: the same
 * bits), the fp16 builders of networks and the CPU reference of the fp16
 * ops.
 *
 * The reference follows docs/hw.md's order of arithmetic ("fp16 ops")
 * one output element at a time, naively: fp32 accumulator starting at the
 * bias (or +0), the taps inside the input in (ky, kx) order, then the
 * input channels of the group in order, each product (exact in fp32)
 * added in fp32; clamp in fp32; round to nearest even. Written apart from
 * the engine (firmware-stub/apu_fp16.c), which must give the same bits.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "network.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define APU_HAVE_F16C 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* ---- conversions ---------------------------------------------------------- */

static uint32_t bits_of(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static float float_of(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

/* IEEE 754 binary16 to binary32: exact; a NaN made quiet, payload kept. */
static float h2f(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;

	if (exp == 0x1f)
		return float_of(sign | 0x7f800000 | man << 13 | (man ? 1u << 22 : 0));
	if (exp)
		return float_of(sign | (exp - 15 + 127) << 23 | man << 13);
	/* Zero or subnormal: man * 2^-24, exact in binary32. */
	return float_of(sign | bits_of((float)man * 0x1p-24f));
}

/* Binary32 to binary16, round to nearest even, by integer arithmetic. */
static uint16_t f2h(float f)
{
	uint32_t x = bits_of(f), sign = (x >> 16) & 0x8000, a = x & 0x7fffffff;
	int e = (int)(a >> 23) - 127;
	uint32_t man, q, rest, halfway;
	int shift;

	if (a > 0x7f800000)	/* NaN: quiet, top payload bits */
		return (uint16_t)(sign | 0x7e00 | (a >> 13 & 0x3ff));
	if (a == 0x7f800000 || e > 15)
		return (uint16_t)(sign | 0x7c00);
	if (e < -25)		/* below half the smallest subnormal */
		return (uint16_t)sign;
	man = (a & 0x7fffff) | (a >= 0x800000 ? 0x800000 : 0);
	/*
	 * The result in units of its last place: normal e >= -14 keeps 10
	 * fraction bits (shift 13), a subnormal fewer.
	 */
	shift = e >= -14 ? 13 : 13 + (-14 - e);
	q = man >> shift;
	rest = man & ((1u << shift) - 1);
	halfway = 1u << (shift - 1);
	if (rest > halfway || (rest == halfway && (q & 1)))
		q++;
	if (e >= -14) {
		/* q has the implicit bit: exponent field e + 15, carry allowed. */
		uint32_t v = ((uint32_t)(e + 15) << 10) + (q - 0x400);

		return (uint16_t)(sign | (v >= 0x7c00 ? 0x7c00 : v));
	}
	return (uint16_t)(sign | q);
}

#ifdef APU_HAVE_F16C
__attribute__((target("avx,f16c")))
static void f32_to_f16_f16c(const float *src, uint16_t *dst, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *)(dst + i),
				 _mm256_cvtps_ph(_mm256_loadu_ps(src + i),
						 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	for (; i < n; i++)
		dst[i] = f2h(src[i]);
}

__attribute__((target("avx,f16c")))
static void f16_to_f32_f16c(const uint16_t *src, float *dst, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dst + i,
				 _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
	for (; i < n; i++)
		dst[i] = h2f(src[i]);
}

static bool have_f16c(void)
{
	/* APU_NO_F16C=1: the portable conversions (tests compare the two). */
	const char *no = getenv("APU_NO_F16C");

	unsigned int a, b, c, d;

	/* CPUID for F16C: clang's __builtin_cpu_supports() does not know it. */
	return __builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) &&
	       (c & bit_F16C) && !(no && !strcmp(no, "1"));
}
#endif

void apu_f32_to_f16(const float *src, uint16_t *dst, size_t n)
{
	if (!src || !dst)
		return;
#ifdef APU_HAVE_F16C
	if (have_f16c()) {
		f32_to_f16_f16c(src, dst, n);
		return;
	}
#endif
	for (size_t i = 0; i < n; i++)
		dst[i] = f2h(src[i]);
}

void apu_f16_to_f32(const uint16_t *src, float *dst, size_t n)
{
	if (!src || !dst)
		return;
#ifdef APU_HAVE_F16C
	if (have_f16c()) {
		f16_to_f32_f16c(src, dst, n);
		return;
	}
#endif
	for (size_t i = 0; i < n; i++)
		dst[i] = h2f(src[i]);
}

/* ---- CPU reference ----------------------------------------------------------- */

static uint16_t clamp_round(float v, float lo, float hi)
{
	if (v < lo)
		v = lo;
	if (v > hi)
		v = hi;
	return f2h(v);
}

void apu_ref_conv2d_fp16(const struct apu_ref_conv *c, const uint16_t *in, const uint16_t *w,
			 const float *bias, float lo, float hi, uint16_t *out)
{
	int cin_g = c->in_c / c->groups, cout_g = c->out_c / c->groups;
	bool dw = c->groups == c->in_c && c->groups > 1;

	for (int oy = 0; oy < c->out_h; oy++)
		for (int ox = 0; ox < c->out_w; ox++)
			for (int oc = 0; oc < c->out_c; oc++) {
				int g = oc / cout_g;
				float acc = bias ? bias[oc] : 0.0f;

				for (int ky = 0; ky < c->k_h; ky++) {
					int iy = oy * c->stride_h - c->pad_top + ky * c->dil_h;

					if (iy < 0 || iy >= c->in_h)
						continue;
					for (int kx = 0; kx < c->k_w; kx++) {
						int ix = ox * c->stride_w - c->pad_left + kx * c->dil_w;
						size_t px = ((size_t)iy * c->in_w + ix) * c->in_c;

						if (ix < 0 || ix >= c->in_w)
							continue;
						for (int i = 0; i < cin_g; i++) {
							size_t wi = dw ?
								((size_t)ky * c->k_w + kx) * c->out_c + oc :
								(((size_t)oc * c->k_h + ky) * c->k_w + kx) *
								cin_g + i;
							float prod = h2f(w[wi]) *
								     h2f(in[px + (size_t)g * cin_g + i]);

							acc = acc + prod;
						}
					}
				}
				out[((size_t)oy * c->out_w + ox) * c->out_c + oc] =
					clamp_round(acc, lo, hi);
			}
}

void apu_ref_pool_fp16(const struct apu_ref_pool *p, bool max, const uint16_t *in, float lo,
		       float hi, uint16_t *out)
{
	for (int oy = 0; oy < p->out_h; oy++)
		for (int ox = 0; ox < p->out_w; ox++)
			for (int ch = 0; ch < p->channels; ch++) {
				float s = max ? -INFINITY : 0.0f;
				int n = 0;

				for (int ky = 0; ky < p->k_h; ky++) {
					int iy = oy * p->stride_h - p->pad_top + ky;

					if (iy < 0 || iy >= p->in_h)
						continue;
					for (int kx = 0; kx < p->k_w; kx++) {
						int ix = ox * p->stride_w - p->pad_left + kx;
						float t;

						if (ix < 0 || ix >= p->in_w)
							continue;
						t = h2f(in[((size_t)iy * p->in_w + ix) * p->channels + ch]);
						if (max)
							s = t > s ? t : s;
						else
							s = s + t;
						n++;
					}
				}
				if (!max)
					s = s / (float)n;
				out[((size_t)oy * p->out_w + ox) * p->channels + ch] =
					clamp_round(s, lo, hi);
			}
}

void apu_net_ref_fp16(const struct apu_network *net, const struct op *o, uint8_t *a)
{
	const uint8_t *k = apu_buffer_cpu(net->cst);
	const uint16_t *in = (const uint16_t *)(a + net->t[o->in[0]].off);
	uint16_t *out = (uint16_t *)(a + net->t[o->out].off);

	switch (o->kind) {
	case OP_CONV: {
		/*
		 * The bias is the caller's fp32 array, copied into the
		 * constants at a 64-byte aligned offset (apu_net_add_const()).
		 */
		/* cppcheck-suppress invalidPointerCast */
		const float *bias = o->has_bias ? (const float *)(k + o->b_off) : NULL;

		apu_ref_conv2d_fp16(&o->conv, in, (const uint16_t *)(k + o->w_off), bias, o->lo,
				    o->hi, out);
		break;
	}
	case OP_ADD: {
		const uint16_t *b = (const uint16_t *)(a + net->t[o->in[1]].off);
		size_t n = net->t[o->out].size / 2;

		for (size_t i = 0; i < n; i++)
			out[i] = clamp_round(h2f(in[i]) + h2f(b[i % o->period]), o->lo, o->hi);
		break;
	}
	case OP_POOL:
	case OP_MAXPOOL:
		apu_ref_pool_fp16(&o->pool, o->kind == OP_MAXPOOL, in, o->lo, o->hi, out);
		break;
	default:
		break;
	}
}

/* ---- builders ----------------------------------------------------------------- */

static bool fp16_input(const struct apu_network *net, int t)
{
	return valid_tensor(net, t) && net->t[t].slice_of < 0 && net->t[t].fp16;
}

/* Clamps the device takes: not NaN, lo <= hi. */
static bool act_ok(float lo, float hi)
{
	return lo <= hi;
}

int apu_network_add_input_fp16(struct apu_network *net, const struct apu_shape *shape,
			       int *tensor)
{
	int t;

	if (!net || !shape || !tensor)
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	if (!net->dev->fp16)
		return -EOPNOTSUPP;
	t = apu_net_add_tensor(net, shape, -1);
	if (t < 0)
		return t;
	apu_net_make_fp16(net, t);
	*tensor = t;
	return 0;
}

int apu_network_tensor_fp16(const struct apu_network *net, int tensor)
{
	if (!net || !valid_tensor(net, tensor))
		return -EINVAL;
	return net->t[tensor].fp16;
}

/* Give the op being added its fp16 output. */
static int finish_fp16(struct apu_network *net, const struct apu_shape *s, int *output)
{
	int ret = apu_net_finish_op(net, s, output);

	if (!ret)
		apu_net_make_fp16(net, *output);
	return ret;
}

static int add_conv_fp16(struct apu_network *net, int input, const struct apu_conv2d_fp16 *p,
			 bool fc, int *output)
{
	const struct tensor *in;
	struct op *o;
	unsigned int oh = 1, ow = 1, pt = 0, pl = 0;
	size_t wn;
	int ret;

	if (!net || !p || !output || !fp16_input(net, input) || !p->weights || !p->out_c ||
	    p->out_c > 65535 || !act_ok(p->act_min, p->act_max))
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	if (!net->dev->fp16)
		return -EOPNOTSUPP;
	in = &net->t[input];
	o = apu_net_new_op(net);
	if (!o)
		return -ENOMEM;
	if (fc) {
		uint64_t k_in = (uint64_t)in->s.h * in->s.w * in->s.c;

		if (k_in > 65535)
			return -EINVAL;
		o->conv = (struct apu_ref_conv){
			.in_h = 1, .in_w = 1, .in_c = (int)k_in, .out_h = 1, .out_w = 1,
			.out_c = (int)p->out_c, .k_h = 1, .k_w = 1, .stride_h = 1,
			.stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1,
		};
		wn = (size_t)p->out_c * k_in;
	} else {
		if (!p->k_h || !p->k_w || !p->stride_h || !p->stride_w || !p->dil_h ||
		    !p->dil_w || !p->groups || in->s.c % p->groups || p->out_c % p->groups)
			return -EINVAL;
		ret = apu_net_out_dim(in->s.h, p->k_h, p->stride_h, p->dil_h, p->padding,
				      p->pad_top, p->pad_bottom, &oh, &pt);
		if (!ret)
			ret = apu_net_out_dim(in->s.w, p->k_w, p->stride_w, p->dil_w,
					      p->padding, p->pad_left, p->pad_right, &ow, &pl);
		if (ret)
			return ret;
		o->conv = (struct apu_ref_conv){
			.in_h = (int)in->s.h, .in_w = (int)in->s.w, .in_c = (int)in->s.c,
			.out_h = (int)oh, .out_w = (int)ow, .out_c = (int)p->out_c,
			.k_h = (int)p->k_h, .k_w = (int)p->k_w,
			.stride_h = (int)p->stride_h, .stride_w = (int)p->stride_w,
			.dil_h = (int)p->dil_h, .dil_w = (int)p->dil_w,
			.pad_top = (int)pt, .pad_left = (int)pl, .groups = (int)p->groups,
		};
		wn = (size_t)p->out_c * p->k_h * p->k_w * (in->s.c / p->groups);
	}
	o->kind = OP_CONV;
	o->fp16 = true;
	o->lo = p->act_min;
	o->hi = p->act_max;
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
	ret = apu_net_add_const(net, p->weights, 2 * wn, &o->w_off);
	if (!ret && p->bias)
		ret = apu_net_add_const(net, p->bias, 4 * (size_t)p->out_c, &o->b_off);
	if (ret)
		return ret;
	o->macs = (uint64_t)oh * ow * p->out_c * o->conv.k_h * o->conv.k_w *
		  (o->conv.in_c / o->conv.groups);
	return finish_fp16(net, &(struct apu_shape){ oh, ow, p->out_c }, output);
}

int apu_network_add_conv2d_fp16(struct apu_network *net, int input,
				const struct apu_conv2d_fp16 *p, int *output)
{
	return add_conv_fp16(net, input, p, false, output);
}

int apu_network_add_fully_connected_fp16(struct apu_network *net, int input,
					 const struct apu_conv2d_fp16 *p, int *output)
{
	return add_conv_fp16(net, input, p, true, output);
}

int apu_network_add_add_fp16(struct apu_network *net, int a, int b, float act_min,
			     float act_max, int *output)
{
	const struct apu_shape *sa, *sb;
	struct op *o;
	size_t period;

	if (!net || !output || !fp16_input(net, a) || !fp16_input(net, b) ||
	    !act_ok(act_min, act_max))
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	if (!net->dev->fp16)
		return -EOPNOTSUPP;
	/* Input 2 is the broadcast one; the sum does not care about the order. */
	if (net->t[b].size > net->t[a].size) {
		int t = a;

		a = b;
		b = t;
	}
	sa = &net->t[a].s;
	sb = &net->t[b].s;
	if (!memcmp(sa, sb, sizeof(*sa)))
		period = net->t[a].size / 2;
	else if (sb->h == 1 && sb->w == 1 && (sb->c == sa->c || sb->c == 1))
		period = sb->c;
	else
		return -EINVAL;
	o = apu_net_new_op(net);
	if (!o)
		return -ENOMEM;
	o->kind = OP_ADD;
	o->fp16 = true;
	o->lo = act_min;
	o->hi = act_max;
	o->in[0] = a;
	o->in[1] = b;
	o->period = period;
	o->macs = net->t[a].size / 2;
	return finish_fp16(net, sa, output);
}

static int add_pool_fp16(struct apu_network *net, int input, const struct apu_avgpool *p,
			 enum op_kind kind, float lo, float hi, int *output)
{
	const struct tensor *in;
	unsigned int oh, ow, pt, pl;
	struct op *o;
	int ret;

	if (!net || !p || !output || !fp16_input(net, input) || !p->k_h || !p->k_w ||
	    !p->stride_h || !p->stride_w || !act_ok(lo, hi) ||
	    (uint64_t)p->k_h * p->k_w > 1u << 23)
		return -EINVAL;
	if (net->compiled)
		return -EBUSY;
	if (!net->dev->fp16)
		return -EOPNOTSUPP;
	in = &net->t[input];
	ret = apu_net_out_dim(in->s.h, p->k_h, p->stride_h, 1, p->padding, p->pad_top,
			      p->pad_bottom, &oh, &pt);
	if (!ret)
		ret = apu_net_out_dim(in->s.w, p->k_w, p->stride_w, 1, p->padding, p->pad_left,
				      p->pad_right, &ow, &pl);
	if (ret)
		return ret;
	o = apu_net_new_op(net);
	if (!o)
		return -ENOMEM;
	o->kind = kind;
	o->fp16 = true;
	o->lo = lo;
	o->hi = hi;
	o->in[0] = input;
	o->in[1] = -1;
	o->pool = (struct apu_ref_pool){
		.in_h = (int)in->s.h, .in_w = (int)in->s.w, .channels = (int)in->s.c,
		.out_h = (int)oh, .out_w = (int)ow, .k_h = (int)p->k_h, .k_w = (int)p->k_w,
		.stride_h = (int)p->stride_h, .stride_w = (int)p->stride_w,
		.pad_top = (int)pt, .pad_left = (int)pl, .act_min = -128, .act_max = 127,
	};
	o->macs = (uint64_t)oh * ow * in->s.c * p->k_h * p->k_w;
	return finish_fp16(net, &(struct apu_shape){ oh, ow, in->s.c }, output);
}

int apu_network_add_avgpool_fp16(struct apu_network *net, int input, const struct apu_avgpool *p,
				 float act_min, float act_max, int *output)
{
	return add_pool_fp16(net, input, p, OP_POOL, act_min, act_max, output);
}

int apu_network_add_maxpool_fp16(struct apu_network *net, int input, const struct apu_avgpool *p,
				 float act_min, float act_max, int *output)
{
	return add_pool_fp16(net, input, p, OP_MAXPOOL, act_min, act_max, output);
}
