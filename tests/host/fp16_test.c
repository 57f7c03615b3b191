// SPDX-License-Identifier: MIT
/*
 * fp16 (firmware ABI 1.6): the conversions, every one of the 65536 halves
 * and a few million floats (ties, subnormals, overflow, NaN), against an
 * oracle written here from the IEEE definition and against the F16C
 * instructions; the engine's fp16 convolution (plain, grouped, depthwise,
 * fully connected), ADD and pooling on its AVX2/F16C and portable paths,
 * bit-exact with libapu's CPU reference and within a stated tolerance of
 * a double-precision computation written here; the command processor's
 * checks of fp16 ops and their modeled cycles at the fp16 rate; fp16
 * networks through the command processor, bit-exact with the CPU
 * reference.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "test_rng.h"
#include "apu_internal.h"
#include "network.h"
#include "hw/apu_cmd.h"
#include "hw/apu_fw.h"
#include "hw/apu_le.h"
#include "../apu_bus.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

/* ---- the oracle: binary16 from its definition, in double ------------------ */

static double half_value(uint16_t h)
{
	int e = (h >> 10) & 0x1f, m = h & 0x3ff;
	double v = e == 31 ? (m ? NAN : INFINITY) : e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);

	return h & 0x8000 ? -v : v;
}

/* Round-to-nearest-even of a finite @x, by rint() on its scaled value. */
static uint16_t oracle_f2h(float f)
{
	double x = fabs((double)f), ulp, q;
	uint16_t s = signbit(f) ? 0x8000 : 0;
	int e;

	if (isnan(f))
		return 0xffff;	/* not compared this way */
	if (x >= 65520.0)
		return s | 0x7c00;
	if (x == 0)
		return s;
	e = ilogb(x);
	ulp = ldexp(1.0, (e < -14 ? -14 : e) - 10);
	q = rint(x / ulp);	/* exact division by a power of two; RNE */
	x = q * ulp;
	if (x < ldexp(1.0, -14))
		return s | (uint16_t)q;		/* subnormal: units of 2^-24 */
	e = ilogb(x);
	return s | (uint16_t)((e + 15) << 10) | (uint16_t)(ldexp(x, -e) * 1024 - 1024);
}

static bool have_f16c(void)
{
#ifdef HAVE_X86
	return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx2");
#else
	return false;
#endif
}

#ifdef HAVE_X86
__attribute__((target("f16c"))) static uint16_t hw_f2h(float f)
{
	return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

__attribute__((target("f16c"))) static float hw_h2f(uint16_t h)
{
	return _cvtsh_ss(h);
}
#endif

static uint32_t fbits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static float bitsf(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

TEST(every_half_converts_exactly_to_float)
{
	static uint16_t h[65536];
	static float lib[65536], port[65536];

	for (uint32_t i = 0; i < 65536; i++)
		h[i] = (uint16_t)i;
	apu_f16_to_f32(h, lib, 65536);
	setenv("APU_NO_F16C", "1", 1);
	apu_f16_to_f32(h, port, 65536);
	unsetenv("APU_NO_F16C");
	for (uint32_t i = 0; i < 65536; i++) {
		float fw = apu_fw_f16_to_f32(h[i]);
		bool nan = ((i >> 10) & 0x1f) == 0x1f && (i & 0x3ff);

		if (!nan) {
			ASSERT_EQ(half_value(h[i]), (double)fw) TH_LOG("half 0x%04x", i);
			ASSERT_EQ((i & 0x8000) ? 1 : 0, signbit(fw) ? 1 : 0);
		} else {
			/* Quiet NaN, same sign, payload in the top bits. */
			ASSERT_EQ(((i & 0x8000u) << 16) | 0x7fc00000u | (i & 0x3ffu) << 13,
				  fbits(fw)) TH_LOG("half 0x%04x", i);
		}
		ASSERT_EQ(fbits(fw), fbits(lib[i])) TH_LOG("half 0x%04x", i);
		ASSERT_EQ(fbits(fw), fbits(port[i])) TH_LOG("half 0x%04x", i);
#ifdef HAVE_X86
		if (have_f16c())
			ASSERT_EQ(fbits(hw_h2f(h[i])), fbits(fw)) TH_LOG("half 0x%04x", i);
#endif
	}
}

/* One float through every converter: the same bits, the oracle's when not NaN. */
static int check_f2h(struct __test_metadata *_metadata, float f)
{
	uint16_t fw = apu_fw_f32_to_f16(f), lib, port;

	apu_f32_to_f16(&f, &lib, 1);
	setenv("APU_NO_F16C", "1", 1);
	apu_f32_to_f16(&f, &port, 1);
	unsetenv("APU_NO_F16C");
	if (!isnan(f)) {
		EXPECT_EQ(oracle_f2h(f), fw);
	} else {
		EXPECT_EQ((uint16_t)((fbits(f) >> 16 & 0x8000) | 0x7e00 | (fbits(f) >> 13 & 0x3ff)),
			  fw);
	}
	EXPECT_EQ(fw, lib);
	EXPECT_EQ(fw, port);
#ifdef HAVE_X86
	if (have_f16c())
		EXPECT_EQ(hw_f2h(f), fw);
#endif
	if ((_metadata->exit_code != KSFT_FAIL))
		return 0;
	TH_LOG("float 0x%08x (%g)", fbits(f), (double)f);
	return -1;
}

TEST(floats_round_to_nearest_even_half)
{
	/* Every half's value, the midpoints to the next (ties) and one ulp either side. */
	for (uint32_t i = 0; i < 0x7c00; i++) {
		double a = half_value((uint16_t)i), b = half_value((uint16_t)(i + 1));
		float mid = (float)((a + b) / 2);	/* exact: 12 significant bits */

		for (int s = 0; s < 2; s++) {
			float sg = s ? -1.0f : 1.0f;

			if (check_f2h(_metadata, sg * (float)a) ||
			    check_f2h(_metadata, sg * mid) ||
			    check_f2h(_metadata, sg * nextafterf(mid, 0)) ||
			    check_f2h(_metadata, sg * nextafterf(mid, INFINITY)))
				return;
		}
	}
	/* Specials: infinities, NaNs (quiet, signalling, payloads), fp32 subnormals. */
	static const uint32_t special[] = {
		0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000,
		0xffbfffff, 0x7fffffff, 0x00000001, 0x807fffff, 0x33000000, 0x33000001,
		0x477fefff, 0x477ff000, 0x477fe000, 0x38800000, 0x387fffff, 0x7f7fffff,
	};
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (check_f2h(_metadata, bitsf(special[i])))
			return;
	/* Random bit patterns, and random values in the half range. */
	rng_seed(16);
	for (int i = 0; i < 1000000; i++) {
		if (check_f2h(_metadata, bitsf(rnd())) ||
		    check_f2h(_metadata, bitsf((rnd() & 0x80ffffff) | (uint32_t)rnd_range(98, 143) << 23)))
			return;
	}
}

TEST(array_conversions_match_one_by_one)
{
	float f[37], back[37];
	uint16_t h[37];

	rng_seed(3);
	for (int i = 0; i < 37; i++)
		f[i] = bitsf((rnd() & 0x80ffffff) | (uint32_t)rnd_range(100, 142) << 23);
	apu_f32_to_f16(f, h, 37);
	apu_f16_to_f32(h, back, 37);
	for (int i = 0; i < 37; i++) {
		EXPECT_EQ(apu_fw_f32_to_f16(f[i]), h[i]);
		EXPECT_EQ(fbits(apu_fw_f16_to_f32(h[i])), fbits(back[i]));
	}
}

/* ---- engine against the CPU reference and against double ------------------ */

/* A random half of moderate size (|x| < 4), now and then 0 or a subnormal. */
static uint16_t rnd_half(void)
{
	uint32_t r = rnd();

	if (r % 61 == 0)
		return (uint16_t)(r & 0x83ff);		/* subnormal or zero */
	return (uint16_t)((r & 0x8000) | (uint32_t)rnd_range(1, 16) << 10 | (r >> 16 & 0x3ff));
}

static struct apu_ref_conv ref_of(const ApuConvParams *p)
{
	return (struct apu_ref_conv){
		.in_h = p->in_h, .in_w = p->in_w, .in_c = p->in_c, .out_h = p->out_h,
		.out_w = p->out_w, .out_c = p->out_c, .k_h = p->k_h, .k_w = p->k_w,
		.stride_h = p->stride_h, .stride_w = p->stride_w, .dil_h = p->dil_h,
		.dil_w = p->dil_w, .pad_top = p->pad_top, .pad_left = p->pad_left,
		.groups = p->groups,
	};
}

/*
 * The double computation and the tolerance: the fp32 chain of n additions
 * errs by at most n * 2^-24 * sum|terms| (each addition rounds once), the
 * final rounding by half an fp16 ulp (2^-11 relative, 2^-25 absolute for
 * subnormals), the clamp not at all.
 */
static void check_conv_vs_double(struct __test_metadata *_metadata, const ApuConvParams *p,
				 const uint16_t *in, const uint16_t *w, const float *bias,
				 float lo, float hi, const uint16_t *out)
{
	int cin_g = p->in_c / p->groups, cout_g = p->out_c / p->groups;
	bool dw = p->groups == p->in_c && p->groups > 1;

	for (int oy = 0; oy < p->out_h; oy++)
		for (int ox = 0; ox < p->out_w; ox++)
			for (int oc = 0; oc < p->out_c; oc++) {
				double s = bias ? bias[oc] : 0, mag = fabs(s), tol, got;
				int g = oc / cout_g, n = 1;

				for (int ky = 0; ky < p->k_h; ky++)
					for (int kx = 0; kx < p->k_w; kx++) {
						int iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
						int ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;

						if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w)
							continue;
						for (int i = 0; i < cin_g; i++) {
							uint16_t wv = dw ? w[(ky * p->k_w + kx) * p->out_c + oc] :
								w[((oc * p->k_h + ky) * p->k_w + kx) * cin_g + i];
							double t = half_value(wv) *
								   half_value(in[(iy * p->in_w + ix) * p->in_c + g * cin_g + i]);

							s += t;
							mag += fabs(t);
							n++;
						}
					}
				s = s < lo ? lo : s > hi ? hi : s;
				got = half_value(out[(oy * p->out_w + ox) * p->out_c + oc]);
				tol = n * ldexp(mag, -24) + fabs(s) * ldexp(1, -11) + ldexp(1, -25);
				ASSERT_LE(fabs(got - s), tol)
					TH_LOG("oc %d at %d,%d: %g, double %g", oc, oy, ox, got, s);
			}
}

static void conv_case(struct __test_metadata *_metadata, ApuConvParams p, bool with_bias,
		      float lo, float hi)
{
	uint64_t nin, nw, nout;
	uint16_t *in, *w, *ref, *vec, *port;
	float *bias = NULL;
	struct apu_ref_conv rc;

	p.out_h = (p.in_h + 2 * p.pad_top - ((p.k_h - 1) * p.dil_h + 1)) / p.stride_h + 1;
	p.out_w = (p.in_w + 2 * p.pad_left - ((p.k_w - 1) * p.dil_w + 1)) / p.stride_w + 1;
	p.act_min = -128;
	p.act_max = 127;
	ASSERT_EQ(0, (int)apu_conv_check(&p));
	nin = apu_conv_in_size(&p);
	nw = apu_conv_weights_size(&p);
	nout = apu_conv_out_size(&p);
	in = malloc(nin * 2);
	w = malloc(nw * 2);
	ref = malloc(nout * 2);
	vec = malloc(nout * 2);
	port = malloc(nout * 2);
	ASSERT_TRUE(in && w && ref && vec && port);
	for (uint64_t i = 0; i < nin; i++)
		in[i] = rnd_half();
	for (uint64_t i = 0; i < nw; i++)
		w[i] = rnd_half();
	if (with_bias) {
		bias = malloc(4 * (size_t)p.out_c);
		for (int i = 0; i < p.out_c; i++)
			bias[i] = (float)rnd_range(-3000, 3000) / 256.0f;
	}
	rc = ref_of(&p);
	apu_ref_conv2d_fp16(&rc, in, w, bias, lo, hi, ref);
	ASSERT_EQ(0, apu_conv2d_fp16(&p, in, w, bias, lo, hi, port, NULL, APU_PATH_PORTABLE));
	EXPECT_EQ(0, memcmp(ref, port, nout * 2)) TH_LOG("portable path");
	if (apu_fp16_path_available(APU_PATH_AVX2)) {
		ASSERT_EQ(0, apu_conv2d_fp16(&p, in, w, bias, lo, hi, vec, NULL, APU_PATH_AVX2));
		EXPECT_EQ(0, memcmp(ref, vec, nout * 2)) TH_LOG("AVX2/F16C path");
	}
	check_conv_vs_double(_metadata, &p, in, w, bias, lo, hi, port);
	free(in);
	free(w);
	free(ref);
	free(vec);
	free(port);
	free(bias);
}

TEST(engine_fp16_conv_bit_exact_with_reference_and_close_to_double)
{
	rng_seed(1616);
	for (int it = 0; it < 60; it++) {
		int kind = it % 4, c = rnd_range(1, 24);
		ApuConvParams p = {
			.in_h = rnd_range(1, 9), .in_w = rnd_range(1, 9), .k_h = rnd_range(1, 3),
			.k_w = rnd_range(1, 3), .stride_h = rnd_range(1, 2), .stride_w = rnd_range(1, 2),
			.dil_h = rnd_range(1, 2), .dil_w = 1,
		};

		if (kind == 0) {		/* dense */
			p.in_c = c;
			p.out_c = rnd_range(1, 21);
			p.groups = 1;
		} else if (kind == 1) {		/* depthwise, multiplier 1 or 2 */
			p.in_c = c < 2 ? 2 : c;
			p.groups = p.in_c;
			p.out_c = p.in_c * rnd_range(1, 2);
		} else if (kind == 2) {		/* grouped */
			p.groups = rnd_range(2, 3);
			p.in_c = p.groups * rnd_range(1, 4);
			p.out_c = p.groups * rnd_range(1, 4);
		} else {			/* fully connected: 1x1 of a 1x1 */
			p.in_h = p.in_w = 1;
			p.k_h = p.k_w = 1;
			p.in_c = rnd_range(1, 300);
			p.out_c = rnd_range(1, 40);
			p.groups = 1;
		}
		if ((p.k_h - 1) * p.dil_h + 1 > p.in_h)
			p.in_h = (p.k_h - 1) * p.dil_h + 1;
		if (p.k_w > p.in_w)
			p.in_w = p.k_w;
		p.pad_top = rnd_range(0, (p.k_h - 1) * p.dil_h);
		p.pad_left = rnd_range(0, p.k_w - 1);
		conv_case(_metadata, p, it % 3 != 0, it % 2 ? 0.0f : -INFINITY,
			  it % 5 == 0 ? 6.0f : INFINITY);
		if (!(_metadata->exit_code != KSFT_FAIL)) {
			TH_LOG("case %d: kind %d in %dx%dx%d out_c %d k %dx%d", it, kind, p.in_h,
			       p.in_w, p.in_c, p.out_c, p.k_h, p.k_w);
			return;
		}
	}
}

TEST(engine_fp16_add_and_pools_bit_exact_with_reference)
{
	rng_seed(77);
	for (int it = 0; it < 40; it++) {
		ApuPoolParams p = {
			.in_h = rnd_range(1, 9), .in_w = rnd_range(1, 9), .channels = rnd_range(1, 35),
			.k_h = rnd_range(1, 3), .k_w = rnd_range(1, 3), .stride_h = rnd_range(1, 2),
			.stride_w = rnd_range(1, 2), .act_min = -128, .act_max = 127,
		};
		struct apu_ref_pool rp;
		size_t nin, nout;
		uint16_t *in, *ref, *a, *b;
		float lo = it % 2 ? 0.0f : -INFINITY, hi = it % 3 ? INFINITY : 6.0f;

		if (p.k_h > p.in_h)
			p.in_h = p.k_h;
		if (p.k_w > p.in_w)
			p.in_w = p.k_w;
		p.pad_top = rnd_range(0, p.k_h - 1);
		p.pad_left = rnd_range(0, p.k_w - 1);
		p.out_h = (p.in_h + 2 * p.pad_top - p.k_h) / p.stride_h + 1;
		p.out_w = (p.in_w + 2 * p.pad_left - p.k_w) / p.stride_w + 1;
		ASSERT_EQ(0, (int)apu_pool_check(&p));
		rp = (struct apu_ref_pool){
			.in_h = p.in_h, .in_w = p.in_w, .channels = p.channels, .out_h = p.out_h,
			.out_w = p.out_w, .k_h = p.k_h, .k_w = p.k_w, .stride_h = p.stride_h,
			.stride_w = p.stride_w, .pad_top = p.pad_top, .pad_left = p.pad_left,
		};
		nin = (size_t)p.in_h * p.in_w * p.channels;
		nout = (size_t)p.out_h * p.out_w * p.channels;
		in = malloc(2 * nin);
		ref = malloc(2 * nout);
		a = malloc(2 * nout);
		b = malloc(2 * nout);
		for (size_t i = 0; i < nin; i++)
			in[i] = rnd_half();
		for (int max = 0; max < 2; max++) {
			apu_ref_pool_fp16(&rp, max, in, lo, hi, ref);
			ASSERT_EQ(0, (max ? apu_maxpool_fp16 : apu_avgpool_fp16)(
					     &p, in, lo, hi, a, NULL, APU_PATH_PORTABLE));
			EXPECT_EQ(0, memcmp(ref, a, 2 * nout)) TH_LOG("pool %d portable", max);
			if (apu_fp16_path_available(APU_PATH_AVX2)) {
				ASSERT_EQ(0, (max ? apu_maxpool_fp16 : apu_avgpool_fp16)(
						     &p, in, lo, hi, b, NULL, APU_PATH_AVX2));
				EXPECT_EQ(0, memcmp(ref, b, 2 * nout)) TH_LOG("pool %d AVX2", max);
			}
			/* The mean and the max against double: one fp16 rounding off. */
			for (size_t o = 0; o < nout; o++) {
				int c = (int)(o % p.channels), ox = (int)(o / p.channels % p.out_w);
				int oy = (int)(o / p.channels / p.out_w), n = 0;
				double s = max ? -INFINITY : 0;

				for (int ky = 0; ky < p.k_h; ky++)
					for (int kx = 0; kx < p.k_w; kx++) {
						int iy = oy * p.stride_h - p.pad_top + ky;
						int ix = ox * p.stride_w - p.pad_left + kx;
						double t;

						if (iy < 0 || iy >= p.in_h || ix < 0 || ix >= p.in_w)
							continue;
						t = half_value(in[((size_t)iy * p.in_w + ix) * p.channels + c]);
						s = max ? fmax(s, t) : s + t;
						n++;
					}
				s = max ? s : s / n;
				s = s < lo ? lo : s > hi ? hi : s;
				ASSERT_LE(fabs(half_value(a[o]) - s),
					  fabs(s) * ldexp(1, -10) + ldexp(1, -24));
			}
		}
		/* ADD: same shape, and broadcast of a channel vector. */
		{
			uint16_t *y = malloc(2 * nin), *r2 = malloc(2 * nin), *v2 = malloc(2 * nin);
			uint32_t period = it % 2 ? (uint32_t)p.channels : 0;

			for (size_t i = 0; i < nin; i++)
				y[i] = rnd_half();
			for (size_t i = 0; i < nin; i++) {
				float s = apu_fw_f16_to_f32(in[i]) +
					  apu_fw_f16_to_f32(y[period ? i % period : i]);
				double d = half_value(in[i]) + half_value(y[period ? i % period : i]);

				s = s < lo ? lo : s > hi ? hi : s;
				d = d < lo ? lo : d > hi ? hi : d;
				r2[i] = oracle_f2h(s);
				/* fp32 sum exact here (|x| < 4): one rounding from double. */
				ASSERT_EQ(oracle_f2h((float)d), r2[i]);
			}
			apu_add_fp16((uint32_t)nin, period, in, y, lo, hi, v2, APU_PATH_PORTABLE);
			EXPECT_EQ(0, memcmp(r2, v2, 2 * nin)) TH_LOG("add portable");
			apu_add_fp16((uint32_t)nin, period, in, y, lo, hi, v2, APU_PATH_AUTO);
			EXPECT_EQ(0, memcmp(r2, v2, 2 * nin)) TH_LOG("add auto");
			free(y);
			free(r2);
			free(v2);
		}
		free(in);
		free(ref);
		free(a);
		free(b);
		if (!(_metadata->exit_code != KSFT_FAIL))
			return;
	}
}

TEST(engine_clamp_keeps_nan_and_rounds_after_clamping)
{
	/* 1x1 conv of one channel: out = w * x. */
	ApuConvParams p = { .in_h = 1, .in_w = 8, .in_c = 1, .out_h = 1, .out_w = 8, .out_c = 1,
			    .k_h = 1, .k_w = 1, .stride_h = 1, .stride_w = 1, .dil_h = 1,
			    .dil_w = 1, .groups = 1, .act_min = -128, .act_max = 127 };
	/*
	 * 1, 7, -3, NaN, 65504 (max half), 6.00390625 (just above 6), 0.5, -0;
	 * the accumulator starts at +0, so -0 * 2 gives +0.
	 */
	uint16_t in[8] = { 0x3c00, 0x4700, 0xc200, 0x7e01, 0x7bff, 0x4601, 0x3800, 0x8000 };
	uint16_t w[1] = { 0x4000 };	/* 2 */
	/* clamp [0, 6]: 2, 6, 0, NaN, 6, 6, 1, +0 */
	uint16_t want[8] = { 0x4000, 0x4600, 0x0000, 0x7e01, 0x4600, 0x4600, 0x3c00, 0x0000 };
	uint16_t got[8];

	for (int path = 0; path < 2; path++) {
		if (path && !apu_fp16_path_available(APU_PATH_AVX2))
			break;
		memset(got, 0, sizeof(got));
		ASSERT_EQ(0, apu_conv2d_fp16(&p, in, w, NULL, 0.0f, 6.0f, got, NULL,
					     path ? APU_PATH_AVX2 : APU_PATH_PORTABLE));
		for (int i = 0; i < 8; i++) {
			EXPECT_EQ(want[i], got[i]) TH_LOG("path %d element %d", path, i);
		}
	}
}

/* ---- the command processor ------------------------------------------------------ */

#define BUS_SIZE (48u << 20)

struct rig {
	struct apu_bus bus;
	ApuMmu mmu;
	uint64_t root;
};

static void rig_init(struct rig *r)
{
	r->bus.mem = calloc(1, BUS_SIZE);
	r->bus.size = BUS_SIZE;
	r->bus.next = APU_MMU_PAGE_SIZE;
	r->bus.ctx_table = apu_bus_page_alloc(&r->bus);
	r->root = apu_bus_page_alloc(&r->bus);
	apu_bus_ctx_set(&r->bus, 1, r->root);
	r->mmu = (ApuMmu){ &apu_bus_ops, &r->bus, r->bus.ctx_table, 8 };
}

/* Map [va, va + len) contiguously and copy @src in (NULL: zeros). */
static void rig_map(struct rig *r, uint64_t va, const void *src, uint64_t len)
{
	uint64_t first = r->bus.next, off;

	/* The data pages first, contiguous; then the tables that map them. */
	for (off = 0; off < len; off += APU_MMU_PAGE_SIZE)
		apu_bus_page_alloc(&r->bus);
	for (off = 0; off < len; off += APU_MMU_PAGE_SIZE)
		apu_bus_map_page(&r->bus, r->root, va + off, first + off, 1);
	if (src)
		memcpy(r->bus.mem + first, src, len);
}

static void *rig_at(struct rig *r, uint64_t va)
{
	uint64_t pa = 0;
	ApuFault f;

	apu_mmu_translate(&r->mmu, 1, va, false, &pa, &f);
	return r->bus.mem + pa;
}

#define VA_CMD 0x100000ull
#define VA_IN 0x200000ull
#define VA_W 0x400000ull
#define VA_B 0x500000ull
#define VA_OUT 0x600000ull

static void put_conv(uint8_t *op, uint16_t flags, float lo, float hi)
{
	memset(op, 0, APU_OP_SIZE);
	apu_st16(op + offsetof(struct apu_op_conv2d, opcode), APU_OP_CONV2D);
	apu_st16(op + offsetof(struct apu_op_conv2d, flags), flags);
	apu_st16(op + offsetof(struct apu_op_conv2d, in_h), 4);
	apu_st16(op + offsetof(struct apu_op_conv2d, in_w), 4);
	apu_st16(op + offsetof(struct apu_op_conv2d, in_c), 8);
	apu_st16(op + offsetof(struct apu_op_conv2d, out_h), 2);
	apu_st16(op + offsetof(struct apu_op_conv2d, out_w), 2);
	apu_st16(op + offsetof(struct apu_op_conv2d, out_c), 16);
	apu_st16(op + offsetof(struct apu_op_conv2d, k_h), 3);
	apu_st16(op + offsetof(struct apu_op_conv2d, k_w), 3);
	apu_st16(op + offsetof(struct apu_op_conv2d, stride_h), 1);
	apu_st16(op + offsetof(struct apu_op_conv2d, stride_w), 1);
	apu_st16(op + offsetof(struct apu_op_conv2d, dil_h), 1);
	apu_st16(op + offsetof(struct apu_op_conv2d, dil_w), 1);
	apu_st16(op + offsetof(struct apu_op_conv2d, groups), 1);
	apu_st32(op + offsetof(struct apu_op_conv2d, act_min), fbits(lo));
	apu_st32(op + offsetof(struct apu_op_conv2d, act_max), fbits(hi));
	apu_st64(op + offsetof(struct apu_op_conv2d, input), VA_IN);
	apu_st64(op + offsetof(struct apu_op_conv2d, weights), VA_W);
	apu_st64(op + offsetof(struct apu_op_conv2d, bias), VA_B);
	apu_st64(op + offsetof(struct apu_op_conv2d, output), VA_OUT);
}

static uint32_t run_one(struct rig *r, const uint8_t *op, const ApuCoreModel *core,
			ApuJobResult *res)
{
	uint8_t cmd[sizeof(struct apu_cmd_header) + APU_OP_SIZE] = { 0 };

	apu_st32(cmd + offsetof(struct apu_cmd_header, magic), APU_CMD_MAGIC);
	apu_st16(cmd + offsetof(struct apu_cmd_header, version), APU_CMD_VERSION);
	apu_st16(cmd + offsetof(struct apu_cmd_header, num_ops), 1);
	memcpy(cmd + sizeof(struct apu_cmd_header), op, APU_OP_SIZE);
	memcpy(rig_at(r, VA_CMD), cmd, sizeof(cmd));
	memset(res, 0, sizeof(*res));
	apu_cp_run_job(&r->mmu, core, 1, VA_CMD, sizeof(cmd), NULL, NULL, res);
	return res->status;
}

TEST(cp_fp16_conv_runs_and_refuses_bad_combinations)
{
	struct rig r;
	uint16_t in[4 * 4 * 8], w[16 * 9 * 8], want[2 * 2 * 16];
	float bias[16];
	uint8_t op[APU_OP_SIZE];
	/* Compute-bound at 16 fp16 MACs a cycle (a tiny core's rate). */
	ApuCoreModel core = { 256, 32, 100, 16 };
	ApuJobResult res;
	ApuConvParams p = { .in_h = 4, .in_w = 4, .in_c = 8, .out_h = 2, .out_w = 2,
			    .out_c = 16, .k_h = 3, .k_w = 3, .stride_h = 1, .stride_w = 1,
			    .dil_h = 1, .dil_w = 1, .groups = 1 };
	struct apu_ref_conv rc = ref_of(&p);
	uint64_t macs = 2 * 2 * 16 * 9 * 8, bytes = 2 * (128 + 1152 + 64) + 64;

	rng_seed(5);
	for (size_t i = 0; i < 128; i++)
		in[i] = rnd_half();
	for (size_t i = 0; i < 1152; i++)
		w[i] = rnd_half();
	for (int i = 0; i < 16; i++)
		bias[i] = (float)rnd_range(-100, 100) / 8;
	apu_ref_conv2d_fp16(&rc, in, w, bias, -1.5f, 2.5f, want);
	rig_init(&r);
	rig_map(&r, VA_CMD, NULL, 4096);
	rig_map(&r, VA_IN, in, sizeof(in));
	rig_map(&r, VA_W, w, sizeof(w));
	rig_map(&r, VA_B, bias, sizeof(bias));
	rig_map(&r, VA_OUT, NULL, sizeof(want));

	put_conv(op, APU_OPF_FP16, -1.5f, 2.5f);
	ASSERT_EQ(APU_STATUS_OK, run_one(&r, op, &core, &res));
	EXPECT_EQ(0, memcmp(want, rig_at(&r, VA_OUT), sizeof(want)));
	EXPECT_EQ(macs, res.macs);
	/* 4608 MACs / 16 = 288 cycles over 2752 bytes / 32 = 86, plus the overhead. */
	ASSERT_GT(macs / 16, bytes / 32);
	EXPECT_EQ(macs / 16 + 100, res.cycles);
	/* Without an fp16 rate: half the int8 one (32 / 2). */
	core = (ApuCoreModel){ 32, 32, 100, 0 };
	ASSERT_EQ(APU_STATUS_OK, run_one(&r, op, &core, &res));
	EXPECT_EQ(macs / 16 + 100, res.cycles);
	core = (ApuCoreModel){ 256, 32, 100, 16 };

	/* Bad combinations: BAD_PARAMS. */
	put_conv(op, APU_OPF_FP16 | APU_OPF_WEIGHTS_INT4, -1.5f, 2.5f);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, run_one(&r, op, &core, &res));
	put_conv(op, APU_OPF_FP16 | APU_OPF_SINGLE_ROUNDING, -1.5f, 2.5f);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, run_one(&r, op, &core, &res));
	put_conv(op, APU_OPF_FP16, -1.5f, 2.5f);
	apu_st16(op + offsetof(struct apu_op_conv2d, w_zp), 3);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, run_one(&r, op, &core, &res));
	put_conv(op, APU_OPF_FP16, -1.5f, 2.5f);
	apu_st32(op + offsetof(struct apu_op_conv2d, in_zp), 1);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, run_one(&r, op, &core, &res));
	put_conv(op, APU_OPF_FP16, -1.5f, 2.5f);
	apu_st64(op + offsetof(struct apu_op_conv2d, mult), VA_B);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, run_one(&r, op, &core, &res));
	put_conv(op, APU_OPF_FP16, NAN, 2.5f);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, run_one(&r, op, &core, &res));
	put_conv(op, APU_OPF_FP16, 3.0f, 2.5f);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, run_one(&r, op, &core, &res));
	/* The weights run past the mapping when read as 2-byte elements. */
	put_conv(op, APU_OPF_FP16, -1.5f, 2.5f);
	apu_st64(op + offsetof(struct apu_op_conv2d, weights), VA_W + sizeof(w) / 2 + 4096);
	EXPECT_EQ(APU_STATUS_MMU_FAULT, run_one(&r, op, &core, &res));
	free(r.bus.mem);
}

TEST(cp_fp16_add_and_pool_check_their_fields)
{
	struct rig r;
	uint8_t op[APU_OP_SIZE];
	ApuCoreModel core = { 256, 32, 100, 128 };
	ApuJobResult res;
	uint16_t a[64], b[8], out[64], want[64];

	rng_seed(9);
	for (int i = 0; i < 64; i++)
		a[i] = rnd_half();
	for (int i = 0; i < 8; i++)
		b[i] = rnd_half();
	for (int i = 0; i < 64; i++)
		want[i] = oracle_f2h(fmaxf(0.0f, apu_fw_f16_to_f32(a[i]) +
						 apu_fw_f16_to_f32(b[i % 8])));
	rig_init(&r);
	rig_map(&r, VA_CMD, NULL, 4096);
	rig_map(&r, VA_IN, a, sizeof(a));
	rig_map(&r, VA_W, b, sizeof(b));
	rig_map(&r, VA_OUT, NULL, sizeof(out));

	memset(op, 0, sizeof(op));
	apu_st16(op + offsetof(struct apu_op_add, opcode), APU_OP_ADD);
	apu_st16(op + offsetof(struct apu_op_add, flags), APU_OPF_FP16);
	apu_st32(op + offsetof(struct apu_op_add, count), 64);
	apu_st32(op + offsetof(struct apu_op_add, in2_period), 8);
	apu_st32(op + offsetof(struct apu_op_add, act_min), fbits(0.0f));
	apu_st32(op + offsetof(struct apu_op_add, act_max), fbits(INFINITY));
	apu_st64(op + offsetof(struct apu_op_add, input1), VA_IN);
	apu_st64(op + offsetof(struct apu_op_add, input2), VA_W);
	apu_st64(op + offsetof(struct apu_op_add, output), VA_OUT);
	ASSERT_EQ(APU_STATUS_OK, run_one(&r, op, &core, &res));
	EXPECT_EQ(0, memcmp(want, rig_at(&r, VA_OUT), sizeof(want)));
	EXPECT_EQ(2 * 64 + 2 * 8, (int)(res.bytes_read - sizeof(struct apu_cmd_header) -
						 APU_OP_SIZE));
	EXPECT_EQ(128u, res.bytes_written);
	/* Any quantization field: BAD_PARAMS. */
	apu_st32(op + offsetof(struct apu_op_add, out_zp), 1);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, run_one(&r, op, &core, &res));
	apu_st32(op + offsetof(struct apu_op_add, out_zp), 0);
	apu_st32(op + offsetof(struct apu_op_add, left_shift), 20);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, run_one(&r, op, &core, &res));
	apu_st32(op + offsetof(struct apu_op_add, left_shift), 0);
	apu_st32(op + offsetof(struct apu_op_add, in2_period), 7);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, run_one(&r, op, &core, &res));

	/* Max pooling 8x8x1 in 2x2 windows; ROUND_UINT8 with fp16 refused. */
	memset(op, 0, sizeof(op));
	apu_st16(op + offsetof(struct apu_op_avgpool, opcode), APU_OP_MAXPOOL);
	apu_st16(op + offsetof(struct apu_op_avgpool, flags), APU_OPF_FP16);
	apu_st16(op + offsetof(struct apu_op_avgpool, in_h), 8);
	apu_st16(op + offsetof(struct apu_op_avgpool, in_w), 8);
	apu_st16(op + offsetof(struct apu_op_avgpool, channels), 1);
	apu_st16(op + offsetof(struct apu_op_avgpool, out_h), 4);
	apu_st16(op + offsetof(struct apu_op_avgpool, out_w), 4);
	apu_st16(op + offsetof(struct apu_op_avgpool, k_h), 2);
	apu_st16(op + offsetof(struct apu_op_avgpool, k_w), 2);
	apu_st16(op + offsetof(struct apu_op_avgpool, stride_h), 2);
	apu_st16(op + offsetof(struct apu_op_avgpool, stride_w), 2);
	apu_st32(op + offsetof(struct apu_op_avgpool, act_min), fbits(-INFINITY));
	apu_st32(op + offsetof(struct apu_op_avgpool, act_max), fbits(INFINITY));
	apu_st64(op + offsetof(struct apu_op_avgpool, input), VA_IN);
	apu_st64(op + offsetof(struct apu_op_avgpool, output), VA_OUT);
	ASSERT_EQ(APU_STATUS_OK, run_one(&r, op, &core, &res));
	memcpy(out, rig_at(&r, VA_OUT), 32);
	for (int oy = 0; oy < 4; oy++)
		for (int ox = 0; ox < 4; ox++) {
			double m = -INFINITY;

			for (int k = 0; k < 4; k++)
				m = fmax(m, half_value(a[(2 * oy + k / 2) * 8 + 2 * ox + k % 2]));
			EXPECT_EQ(m, half_value(out[oy * 4 + ox]));
		}
	apu_st16(op + offsetof(struct apu_op_avgpool, opcode), APU_OP_AVGPOOL);
	apu_st16(op + offsetof(struct apu_op_avgpool, flags), APU_OPF_FP16 | APU_OPF_ROUND_UINT8);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, run_one(&r, op, &core, &res));
	free(r.bus.mem);
}

/* ---- networks through the command processor ---------------------------------- */

/*
 * Run every job of compiled @net through apu_cp_run_job(), in order, on a
 * bus holding copies of the network's buffers; copy the activations back.
 */
static int run_through_cp(struct apu_network *net, uint64_t *cycles)
{
	struct rig r;
	const void *cmd;
	uint32_t size;
	unsigned int core;
	int ret = 0;
	static const ApuCoreModel cls[] = {
		{ APU_BIG_MACS_PER_CYCLE, APU_BIG_BYTES_PER_CYCLE, 200, APU_BIG_FP16_MACS_PER_CYCLE },
		{ APU_LITTLE_MACS_PER_CYCLE, APU_LITTLE_BYTES_PER_CYCLE, 200,
		  APU_LITTLE_FP16_MACS_PER_CYCLE },
		{ APU_TINY_MACS_PER_CYCLE, APU_TINY_BYTES_PER_CYCLE, 200, APU_TINY_FP16_MACS_PER_CYCLE },
	};
	struct apu_buffer *act = apu_network_buffer(net, 0);
	uint8_t *base = apu_buffer_cpu(act);

	rig_init(&r);
	for (int i = 0; i < 3; i++) {
		struct apu_buffer *b = apu_network_buffer(net, i);

		rig_map(&r, apu_buffer_device_addr(b), apu_buffer_cpu(b), apu_buffer_size(b));
	}
	*cycles = 0;
	for (int i = 0; !apu_network_job(net, i, &cmd, &size, &core); i++) {
		ApuJobResult res = { 0 };
		uint64_t va = apu_buffer_device_addr(apu_network_buffer(net, 2)) +
			      (uint64_t)((const uint8_t *)cmd -
					 (const uint8_t *)apu_buffer_cpu(apu_network_buffer(net, 2)));
		unsigned int c = core < APU_DEFAULT_BIG_CORES ? 0 :
				 core < APU_DEFAULT_BIG_CORES + APU_DEFAULT_LITTLE_CORES ? 1 : 2;

		apu_cp_run_job(&r.mmu, &cls[c], 1, va, size, NULL, NULL, &res);
		if (res.status) {
			fprintf(stderr, "job %d: status %u op %u fault %llx flags %x\n", i, res.status,
				res.op_index, (unsigned long long)res.fault_addr, res.fault_flags);
			ret = -1;
			break;
		}
		*cycles += res.cycles;
	}
	/* The activations back, page by page (contiguous in the rig). */
	memcpy(base, rig_at(&r, apu_buffer_device_addr(act)), apu_buffer_size(act));
	free(r.bus.mem);
	return ret;
}

static void fill_halves(uint16_t *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h[i] = rnd_half();
}

TEST(fp16_network_through_cp_bit_exact_with_reference)
{
	struct apu_device *dev;
	struct apu_network *net;
	struct apu_shape s = { 12, 10, 8 };
	uint16_t w1[16 * 9 * 8], wd[9 * 16], wp[24 * 16], wf[10 * 48], x[12 * 10 * 8];
	float b1[16], bf[10];
	struct apu_conv2d_fp16 c1 = { .out_c = 16, .k_h = 3, .k_w = 3, .stride_h = 1,
				      .stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1,
				      .padding = APU_PAD_SAME, .act_min = 0, .act_max = 6,
				      .weights = w1, .bias = b1 };
	struct apu_conv2d_fp16 dw = { .out_c = 16, .k_h = 3, .k_w = 3, .stride_h = 2,
				      .stride_w = 2, .dil_h = 1, .dil_w = 1, .groups = 16,
				      .padding = APU_PAD_SAME, .act_min = -INFINITY,
				      .act_max = INFINITY, .weights = wd };
	struct apu_conv2d_fp16 pw = { .out_c = 24, .k_h = 1, .k_w = 1, .stride_h = 1,
				      .stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1,
				      .padding = APU_PAD_VALID, .act_min = 0, .act_max = INFINITY,
				      .weights = wp };
	struct apu_conv2d_fp16 fc = { .out_c = 10, .act_min = -INFINITY, .act_max = INFINITY,
				      .weights = wf, .bias = bf };
	struct apu_avgpool pool = { .k_h = 2, .k_w = 2, .stride_h = 2, .stride_w = 2,
				    .padding = APU_PAD_VALID };
	struct apu_avgpool gap = { .k_h = 3, .k_w = 3, .stride_h = 3, .stride_w = 3,
				   .padding = APU_PAD_VALID };
	int in, t1, t2, t3, t4, t5, t6, t7, out;
	static const char *const splits[] = { NULL, "rows" };

	rng_seed(2026);
	fill_halves(w1, sizeof(w1) / 2);
	fill_halves(wd, sizeof(wd) / 2);
	fill_halves(wp, sizeof(wp) / 2);
	fill_halves(wf, sizeof(wf) / 2);
	fill_halves(x, sizeof(x) / 2);
	for (int i = 0; i < 16; i++)
		b1[i] = (float)rnd_range(-50, 50) / 16;
	for (int i = 0; i < 10; i++)
		bf[i] = (float)rnd_range(-50, 50) / 16;

	for (int sp = 0; sp < 2; sp++) {
		for (int policy = 0; policy < 3; policy++) {
			struct apu_compile_options o = { .policy = (enum apu_policy)policy,
							 .priority = 1 };
			uint16_t got[10], ref[10], mid[6 * 5 * 16], midref[6 * 5 * 16];
			uint64_t cycles;

			if (splits[sp])
				setenv("APU_PLAN_SPLIT", splits[sp], 1);
			ASSERT_EQ(0, apu_device_open_cpu(&dev));
			ASSERT_EQ(0, apu_network_create(dev, &net));
			ASSERT_EQ(0, apu_network_add_input_fp16(net, &s, &in));
			EXPECT_EQ(1, apu_network_tensor_fp16(net, in));
			ASSERT_EQ(0, apu_network_add_conv2d_fp16(net, in, &c1, &t1));
			ASSERT_EQ(0, apu_network_add_conv2d_fp16(net, t1, &dw, &t2));
			ASSERT_EQ(0, apu_network_add_maxpool_fp16(net, t1, &pool, -INFINITY,
								  INFINITY, &t3));
			ASSERT_EQ(0, apu_network_add_add_fp16(net, t2, t3, 0, 6, &t4));
			ASSERT_EQ(0, apu_network_add_conv2d_fp16(net, t4, &pw, &t5));
			ASSERT_EQ(0, apu_network_add_avgpool_fp16(net, t5, &gap, -INFINITY,
								  INFINITY, &t6));
			ASSERT_EQ(0, apu_network_add_reshape(net, t6,
							     &(struct apu_shape){ 1, 1, 2 * 1 * 24 },
							     &t7));
			ASSERT_EQ(0, apu_network_add_fully_connected_fp16(net, t7, &fc, &out));
			ASSERT_EQ(0, apu_network_compile(net, &o, sizeof(o)));
			ASSERT_EQ(0, apu_network_write(net, in, x, sizeof(x)));
			ASSERT_EQ(0, run_through_cp(net, &cycles));
			EXPECT_GT(cycles, 0);
			ASSERT_EQ(0, apu_network_run_reference(net));
			ASSERT_EQ(0, apu_network_read(net, out, got, sizeof(got)));
			ASSERT_EQ(0, apu_network_read_reference(net, out, ref, sizeof(ref)));
			EXPECT_EQ(0, memcmp(got, ref, sizeof(got)));
			ASSERT_EQ(0, apu_network_read(net, t4, mid, sizeof(mid)));
			ASSERT_EQ(0, apu_network_read_reference(net, t4, midref, sizeof(midref)));
			EXPECT_EQ(0, memcmp(mid, midref, sizeof(mid)));
			/* Not all zero or saturated: the network computed something. */
			EXPECT_NE(0, memcmp(got, (uint16_t[10]){ 0 }, sizeof(got)));
			apu_network_destroy(net);
			apu_device_close(dev);
			unsetenv("APU_PLAN_SPLIT");
			if (!(_metadata->exit_code != KSFT_FAIL)) {
				TH_LOG("split %s policy %d", splits[sp] ? splits[sp] : "auto",
				       policy);
				return;
			}
		}
	}
}

TEST(fp16_api_misuse)
{
	struct apu_device *dev;
	struct apu_network *net;
	struct apu_shape s = { 4, 4, 4 };
	uint16_t w[4 * 4] = { 0 };
	int8_t w8[16] = { 0 };
	int32_t m[4] = { 1 << 30, 1 << 30, 1 << 30, 1 << 30 }, sh[4] = { 0 };
	struct apu_conv2d_fp16 c = { .out_c = 4, .k_h = 1, .k_w = 1, .stride_h = 1, .stride_w = 1,
				     .dil_h = 1, .dil_w = 1, .groups = 1, .act_min = 1,
				     .act_max = 0, .weights = w };
	struct apu_conv2d c8 = { .out_c = 4, .k_h = 1, .k_w = 1, .stride_h = 1, .stride_w = 1,
				 .dil_h = 1, .dil_w = 1, .groups = 1, .act_min = -128,
				 .act_max = 127, .weights = w8, .mult = m, .shift = sh };
	struct apu_core_info ci;
	int in, in8, t;

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_device_get_core(dev, 0, &ci, sizeof(ci)));
	EXPECT_EQ(APU_BIG_FP16_MACS_PER_CYCLE, (int)ci.fp16_macs_per_cycle);
	ASSERT_EQ(0, apu_network_create(dev, &net));
	ASSERT_EQ(0, apu_network_add_input_fp16(net, &s, &in));
	ASSERT_EQ(0, apu_network_add_input(net, &s, &in8));
	EXPECT_EQ(0, apu_network_tensor_fp16(net, in8));
	/* Clamps lo > hi, NaN. */
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d_fp16(net, in, &c, &t));
	c.act_min = NAN;
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d_fp16(net, in, &c, &t));
	c.act_min = 0;
	/* fp16 ops take fp16 tensors; int8 ops int8 ones. */
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d_fp16(net, in8, &c, &t));
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d(net, in, &c8, &t));
	EXPECT_EQ(-EINVAL, apu_network_add_add_fp16(net, in, in8, 0, 1, &t));
	ASSERT_EQ(0, apu_network_add_conv2d_fp16(net, in, &c, &t));
	EXPECT_EQ(1, apu_network_tensor_fp16(net, t));
	/* A reshape counts elements, not bytes. */
	EXPECT_EQ(-EINVAL, apu_network_add_reshape(net, t, &(struct apu_shape){ 1, 1, 128 }, &t));
	ASSERT_EQ(0, apu_network_add_reshape(net, t, &(struct apu_shape){ 1, 1, 64 }, &t));
	EXPECT_EQ(1, apu_network_tensor_fp16(net, t));
	ASSERT_EQ(0, apu_network_compile(net, NULL, 0));
	/* Writes and reads take 2 bytes an element. */
	EXPECT_EQ(-EINVAL, apu_network_write(net, in, w, 64));
	EXPECT_EQ(0, apu_network_write(net, in, (uint16_t[64]){ 0 }, 128));
	apu_network_destroy(net);
	apu_device_close(dev);
}

TEST_HARNESS_MAIN
