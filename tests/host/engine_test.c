// SPDX-License-Identifier: MIT
/*
 * Host tests of the firmware's compute engine (firmware-stub/apu_quant.c,
 * apu_ops.c): the requantization arithmetic against gemmlowp, and every op
 * bit-exact against naive reference loops written here, on hundreds of
 * seeded random shapes and quantization parameters plus edge cases.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "test_rng.h"
#include <apu/apu.h>
#include "hw/apu_fw.h"

int32_t oracle_srdhm(int32_t a, int32_t b);
int32_t oracle_rdbpot(int32_t x, int exponent);
int32_t oracle_mbqm(int32_t x, int32_t mult, int shift);

/* xorshift64*: reproducible on every machine. */

/* ---- requantization ------------------------------------------------------ */

TEST(srdhm_and_rdbpot_match_gemmlowp)
{
	static const int32_t edge[] = {
		0, 1, -1, 2, -2, 3, -3, 127, -128, 255, -256, 1 << 15,
		-(1 << 15), (1 << 30) - 1, 1 << 30, -(1 << 30), INT32_MAX,
		INT32_MIN, INT32_MAX - 1, INT32_MIN + 1, 0x55555555, -0x55555555,
	};
	size_t i, k;
	int e, n;

	for (i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		for (k = 0; k < sizeof(edge) / sizeof(edge[0]); k++)
			ASSERT_EQ(oracle_srdhm(edge[i], edge[k]),
				  apu_srdhm(edge[i], edge[k]));
	for (i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		for (e = 0; e <= 31; e++)
			ASSERT_EQ(oracle_rdbpot(edge[i], e), apu_rdbpot(edge[i], e));

	rng_seed(1);
	for (n = 0; n < 200000; n++) {
		int32_t a = (int32_t)rnd(), b = (int32_t)rnd();

		e = rnd_range(0, 31);
		ASSERT_EQ(oracle_srdhm(a, b), apu_srdhm(a, b));
		ASSERT_EQ(oracle_rdbpot(a, e), apu_rdbpot(a, e));
	}
}

TEST(mbqm_matches_tflite_via_gemmlowp)
{
	int n;

	rng_seed(2);
	for (n = 0; n < 200000; n++) {
		int32_t acc = (int32_t)rnd() >> rnd_range(0, 16);
		int32_t mult = (int32_t)(rnd() >> 1);
		int shift = rnd_range(-31, 30);

		if (n % 4 == 0)
			mult |= 1 << 30;	/* as QuantizeMultiplier makes them */
		ASSERT_EQ(oracle_mbqm(acc, mult, shift), apu_mbqm(acc, mult, shift));
	}
	/* RDBPOT: ties round away from zero. */
	EXPECT_EQ(1, apu_rdbpot(1, 1));
	EXPECT_EQ(-1, apu_rdbpot(-1, 1));
	EXPECT_EQ(2, apu_rdbpot(3, 1));
	EXPECT_EQ(-2, apu_rdbpot(-3, 1));
	EXPECT_EQ(0, apu_rdbpot(-1, 2));	/* -0.25 */
	/* SRDHM: (a * b + 2^30) / 2^31, a negative product nudged down. */
	EXPECT_EQ(1, apu_srdhm(1, 1 << 30));	/* 0.5 -> 1 */
	EXPECT_EQ(0, apu_srdhm(-1, 1 << 30));	/* -0.5 -> 0 */
	EXPECT_EQ(INT32_MAX, apu_srdhm(INT32_MIN, INT32_MIN));
	/* MBQM with a left shift: 3 * 2^2 * 0.5 = 6. */
	EXPECT_EQ(6, apu_mbqm(3, 1 << 30, 2));
}

/* The vectorized requantization equals apu_mbqm() + clamp, lane by lane. */
TEST(requant_row_matches_mbqm)
{
	enum { N = 67 };
	uint32_t acc[N];
	int32_t mult[N], shift[N];
	int8_t out[N];
	int n, i;

	rng_seed(7);
	for (n = 0; n < 3000; n++) {
		int zp = rnd_range(-128, 127), lo = rnd_range(-128, 0), hi = rnd_range(0, 127);

		for (i = 0; i < N; i++) {
			acc[i] = rnd() >> rnd_range(0, 20);
			mult[i] = (int32_t)rnd();
			shift[i] = rnd_range(-31, 30);
		}
		if (n == 0) {
			acc[0] = (uint32_t)INT32_MIN;
			mult[0] = INT32_MIN;
			shift[0] = 0;
			acc[1] = (uint32_t)INT32_MIN;
			mult[1] = INT32_MIN;
			shift[1] = -5;
		}
		apu_requant_row(acc, mult, shift, zp, lo, hi, N, out);
		for (i = 0; i < N; i++) {
			int32_t v = (int32_t)((uint32_t)apu_mbqm((int32_t)acc[i], mult[i],
								 shift[i]) + (uint32_t)zp);

			v = v < lo ? lo : v > hi ? hi : v;
			ASSERT_EQ(v, out[i]) TH_LOG("round %d lane %d", n, i);
		}
	}
}

TEST(single_rounding)
{
	/* (acc * M + 2^(t-1)) >> t with t = 31 - shift. */
	EXPECT_EQ(1, apu_mbqm_single(1, 1 << 30, 0));	/* 0.5 -> 1 */
	EXPECT_EQ(0, apu_mbqm_single(-1, 1 << 30, 0));	/* -0.5 -> 0 */
	EXPECT_EQ(0, apu_mbqm_single(1, 1 << 30, -1));	/* 0.25 -> 0 */
	EXPECT_EQ(50, apu_mbqm_single(100, 1 << 30, 0));
	EXPECT_EQ(200, apu_mbqm_single(100, 1 << 30, 2));
	EXPECT_EQ(-50, apu_mbqm_single(-100, 1 << 30, 0));
}

/* ---- naive reference ops ------------------------------------------------- */

static int8_t ref_requant(int32_t acc, int32_t mult, int shift, int zp,
			  int lo, int hi, bool single)
{
	int64_t v;

	if (single) {
		int t = 31 - shift;

		v = ((int64_t)acc * mult + (1ll << (t - 1))) >> t;
	} else {
		v = oracle_mbqm(acc, mult, shift);
	}
	v = (int32_t)((uint32_t)v + (uint32_t)zp);	/* int32, wrapping */
	return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

static void ref_conv(const ApuConvParams *p, const int8_t *in, const int8_t *w,
		     const int32_t *bias, const int32_t *mult,
		     const int32_t *shift, int8_t *out)
{
	int cin_g = p->in_c / p->groups, cout_g = p->out_c / p->groups;
	int dw = p->groups == p->in_c && p->groups > 1;

	for (int oy = 0; oy < p->out_h; oy++)
	for (int ox = 0; ox < p->out_w; ox++)
	for (int oc = 0; oc < p->out_c; oc++) {
		int g = oc / cout_g;
		int64_t acc = bias ? bias[oc] : 0;

		for (int ky = 0; ky < p->k_h; ky++)
		for (int kx = 0; kx < p->k_w; kx++)
		for (int i = 0; i < cin_g; i++) {
			int iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
			int ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
			int ic = g * cin_g + i;
			int wv;

			if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w)
				continue;
			wv = dw ? w[(ky * p->k_w + kx) * p->out_c + oc]
				: w[((oc * p->k_h + ky) * p->k_w + kx) * cin_g + i];
			/* ABI 1.2: the weight zero point (0 for int8 weights). */
			acc += (in[(iy * p->in_w + ix) * p->in_c + ic] - p->in_zp) *
			       (wv - p->w_zp);
		}
		out[(oy * p->out_w + ox) * p->out_c + oc] =
			ref_requant((int32_t)acc, mult[oc], shift[oc], p->out_zp,
				    p->act_min, p->act_max, p->single_rounding);
	}
}

static int same_out(int in, int k, int s, int d, int *pad_before)
{
	int eff = (k - 1) * d + 1, out = (in + s - 1) / s;
	int total = (out - 1) * s + eff - in;

	*pad_before = total > 0 ? total / 2 : 0;
	return out;
}

static void fill(int8_t *p, size_t n, int lo, int hi)
{
	while (n--)
		*p++ = (int8_t)rnd_range(lo, hi);
}

/*
 * One randomized convolution: engine against the reference. With a weight
 * zero point the weights are asymmetric (TFLite's uint8 weights, moved to
 * int8), so they take -128 too; @extreme (1: inputs and weights at the ends
 * of int8, as far as possible from the zero points) makes every product as
 * large as it gets.
 */
static int conv_case_x(ApuConvParams *p, int bias_big, int extreme)
{
	size_t nin = apu_conv_in_size(p), nw = apu_conv_weights_size(p);
	size_t nout = apu_conv_out_size(p);
	int8_t *in = malloc(nin), *w = malloc(nw);
	int8_t *o1 = malloc(nout), *o2 = malloc(nout);
	int32_t *bias = malloc(4 * p->out_c), *mult = malloc(4 * p->out_c);
	int32_t *shift = malloc(4 * p->out_c);
	int ok;

	fill(in, nin, -128, 127);
	fill(w, nw, p->w_zp ? -128 : -127, 127);
	for (size_t i = 0; extreme && i < nin; i++)
		in[i] = p->in_zp >= 0 ? -128 : 127;
	for (size_t i = 0; extreme && i < nw; i++)
		w[i] = rnd() % 2 ? -128 : 127;
	for (int c = 0; c < p->out_c; c++) {
		double scale = (0.5 + rnd() / 4294967296.0) * pow(2, -rnd_range(4, 12));
		int s;

		apu_quantize_multiplier(scale, &mult[c], &s);
		shift[c] = s;
		bias[c] = bias_big ? (int32_t)rnd() >> 4 : rnd_range(-5000, 5000);
	}
	/* One case in five without bias: the reference then sees none. */
	if (rnd() % 5 == 0) {
		free(bias);
		bias = NULL;
	}
	ref_conv(p, in, w, bias, mult, shift, o2);
	ok = apu_conv2d(p, in, w, bias, mult, shift, o1) == 0 &&
	     !memcmp(o1, o2, nout);
	/* Every path this CPU runs, on the same case. */
	for (int path = APU_PATH_PORTABLE; ok && path < APU_PATH_NPATHS; path++) {
		if (!apu_engine_path_available(path))
			continue;
		memset(o1, 0x5a, nout);
		ok = apu_conv2d_path(p, in, w, bias, mult, shift, o1, NULL, path) == 0 &&
		     !memcmp(o1, o2, nout);
		if (!ok)
			fprintf(stderr, "# path %s differs from the reference\n",
				apu_engine_path_name(path));
	}
	free(in); free(w); free(o1); free(o2);
	free(bias); free(mult); free(shift);
	return ok;
}

static int conv_case(ApuConvParams *p, int bias_big)
{
	return conv_case_x(p, bias_big, 0);
}

static void random_conv(ApuConvParams *p)
{
	static const int ks[] = { 1, 1, 3, 3, 3, 5, 7 };
	int kind = rnd_range(0, 3);

	memset(p, 0, sizeof(*p));
	p->in_h = rnd_range(1, 17);
	p->in_w = rnd_range(1, 17);
	p->k_h = ks[rnd_range(0, 6)];
	p->k_w = rnd() % 4 ? p->k_h : ks[rnd_range(0, 6)];
	p->stride_h = rnd_range(1, 3);
	p->stride_w = rnd() % 4 ? p->stride_h : rnd_range(1, 3);
	p->dil_h = rnd() % 4 ? 1 : rnd_range(2, 3);
	p->dil_w = rnd() % 4 ? p->dil_h : rnd_range(1, 3);
	switch (kind) {
	case 0:	/* plain */
		p->in_c = rnd_range(1, 37);
		p->out_c = rnd_range(1, 37);
		p->groups = 1;
		break;
	case 1:	/* depthwise, multiplier 1..3 */
		p->in_c = rnd_range(2, 37);
		p->groups = p->in_c;
		p->out_c = p->in_c * rnd_range(1, 3);
		break;
	case 2:	/* grouped */
		p->groups = rnd_range(2, 4);
		p->in_c = p->groups * rnd_range(1, 9);
		p->out_c = p->groups * rnd_range(1, 9);
		break;
	default:	/* fully connected */
		p->in_h = p->in_w = p->k_h = p->k_w = 1;
		p->stride_h = p->stride_w = p->dil_h = p->dil_w = 1;
		p->in_c = rnd_range(1, 300);
		p->out_c = rnd_range(1, 64);
		p->groups = 1;
		break;
	}
	if (rnd() % 2) {	/* SAME */
		p->out_h = same_out(p->in_h, p->k_h, p->stride_h, p->dil_h, &p->pad_top);
		p->out_w = same_out(p->in_w, p->k_w, p->stride_w, p->dil_w, &p->pad_left);
	} else {		/* VALID, where the kernel fits */
		int eh = (p->k_h - 1) * p->dil_h + 1, ew = (p->k_w - 1) * p->dil_w + 1;

		if (p->in_h < eh)
			p->in_h = eh;
		if (p->in_w < ew)
			p->in_w = ew;
		p->out_h = (p->in_h - eh) / p->stride_h + 1;
		p->out_w = (p->in_w - ew) / p->stride_w + 1;
	}
	p->in_zp = rnd_range(-128, 127);
	p->out_zp = rnd_range(-128, 127);
	p->act_min = -128;
	p->act_max = 127;
	if (rnd() % 3 == 0) {		/* ReLU6-like clamp */
		p->act_min = p->out_zp;
		p->act_max = p->out_zp + rnd_range(0, 127 - p->out_zp);
	}
	p->single_rounding = rnd() % 5 == 0;
}

TEST(conv2d_randomized_bit_exact)
{
	ApuConvParams p;
	int n;

	rng_seed(3);
	for (n = 0; n < 600; n++) {
		random_conv(&p);
		ASSERT_EQ(APU_STATUS_OK, (int)apu_conv_check(&p));
		ASSERT_TRUE(conv_case(&p, n % 7 == 0))
			TH_LOG("case %d: in %dx%dx%d out %dx%dx%d k %dx%d s %d,%d d %d,%d pad %d,%d groups %d",
			       n, p.in_h, p.in_w, p.in_c, p.out_h, p.out_w, p.out_c,
			       p.k_h, p.k_w, p.stride_h, p.stride_w, p.dil_h, p.dil_w,
			       p.pad_top, p.pad_left, p.groups);
	}
}

TEST(conv2d_edge_shapes)
{
	/* MobileNet-like and awkward shapes, fixed. */
	static const ApuConvParams cases[] = {
		/* 224x224x3 3x3 s2 SAME -> 112x112x32: pad top/left 0. */
		{ 32, 32, 3, 16, 16, 8, 3, 3, 2, 2, 1, 1, 0, 0, 1, 0, -5, -128, 127, false, 0 },
		/* 7x7 s2 (ResNet stem shape, small). */
		{ 23, 23, 3, 12, 12, 16, 7, 7, 2, 2, 1, 1, 3, 3, 1, -3, 4, -128, 127, false, 0 },
		/* depthwise 3x3 s2, 13 channels. */
		{ 9, 9, 13, 5, 5, 13, 3, 3, 2, 2, 1, 1, 1, 1, 13, 7, 0, -128, 127, false, 0 },
		/* depthwise with multiplier 2, dilation 2. */
		{ 11, 11, 5, 11, 11, 10, 3, 3, 1, 1, 2, 2, 2, 2, 5, 0, 0, -128, 127, false, 0 },
		/* 1x1 output from a 1x1 input with 1x1 kernel, 1 channel. */
		{ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, -128, 127, -128, 127, false, 0 },
		/* single rounding. */
		{ 6, 6, 17, 6, 6, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 12, -7, -128, 127, true, 0 },
		/* depthwise 48 channels: a block of 32 and one of 16 (VNNI). */
		{ 10, 10, 48, 10, 10, 48, 3, 3, 1, 1, 1, 1, 1, 1, 48, -9, 3, -128, 127, false, 0 },
		/* depthwise 85 channels s2: 32 + 32 + 16 and a tail of 5. */
		{ 9, 9, 85, 5, 5, 85, 3, 3, 2, 2, 1, 1, 1, 1, 85, 100, -20, -128, 127, false, 0 },
		/* depthwise 5x5, 64 channels: 25 taps, 7 quads. */
		{ 9, 9, 64, 9, 9, 64, 5, 5, 1, 1, 1, 1, 2, 2, 64, -128, 0, -128, 127, false, 0 },
		/* pointwise k 72 (two 32-tap blocks and a tail), 40 out (32 + 16 padded). */
		{ 5, 7, 72, 5, 7, 40, 1, 1, 1, 1, 1, 1, 0, 0, 1, 127, 5, -128, 127, false, 0 },
		/* 3x3, 13 channels in (k 117, not a multiple of 4), 33 out. */
		{ 8, 8, 13, 8, 8, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1, 33, -1, -128, 127, false, 0 },
		/* pointwise 320 -> 1280 on 2x2 (MobileNet V2's last). */
		{ 2, 2, 320, 2, 2, 1280, 1, 1, 1, 1, 1, 1, 0, 0, 1, -128, -128, -128, 127, false, 0 },
	};
	size_t i;

	rng_seed(4);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ApuConvParams p = cases[i];

		ASSERT_EQ(APU_STATUS_OK, (int)apu_conv_check(&p)) TH_LOG("case %zu", i);
		ASSERT_TRUE(conv_case(&p, 0)) TH_LOG("case %zu", i);
		ASSERT_TRUE(conv_case(&p, 1)) TH_LOG("case %zu, saturating", i);
		ASSERT_TRUE(conv_case_x(&p, 0, 1)) TH_LOG("case %zu, extreme", i);
	}
}

/*
 * conv_case_x() runs every path the CPU has; this says which ones, and
 * skips (visibly) where the AVX-512 VNNI kernels cannot run, which leaves
 * their arithmetic checked through APU_PATH_VNNI_EMUL only.
 */
TEST(conv2d_paths_available)
{
	ASSERT_TRUE(apu_engine_path_available(APU_PATH_PORTABLE));
	ASSERT_TRUE(apu_engine_path_available(APU_PATH_VNNI_EMUL));
	ASSERT_NE(APU_PATH_AUTO, apu_engine_auto_path());
	ASSERT_TRUE(apu_engine_path_available(apu_engine_auto_path()));
	for (int path = APU_PATH_PORTABLE; path < APU_PATH_NPATHS; path++)
		TH_LOG("path %s: %s", apu_engine_path_name(path),
		       apu_engine_path_available(path) ? "tested" : "not on this CPU");
	TH_LOG("apu_conv2d() takes %s", apu_engine_path_name(apu_engine_auto_path()));
	if (!apu_engine_path_available(APU_PATH_VNNI))
		SKIP(return, "no AVX-512 VNNI here: the vpdpbusd kernels did not run");
}

/*
 * ABI 1.2: the weight zero point, on every engine path (pointwise and
 * patch kernels, depthwise with and without a multiplier, grouped, fully
 * connected, edge pixels with padding and dilation, both roundings),
 * against the reference's (in - in_zp) * (w - w_zp).
 */
static int rnd_wzp(void)
{
	static const int edge[] = { -128, 127, -1, 1, -127, 126 };

	switch (rnd() % 4) {
	case 0:
		return edge[rnd() % 6];
	case 1:
		return rnd() % 2 ? -128 : 127;
	default:
		return rnd_range(-128, 127);
	}
}

TEST(conv2d_weight_zero_point_bit_exact)
{
	ApuConvParams p;
	int n;

	rng_seed(20);
	for (n = 0; n < 800; n++) {
		random_conv(&p);
		p.w_zp = rnd_wzp();
		if (n % 5 == 0)
			p.in_zp = rnd() % 2 ? -128 : 127;
		ASSERT_EQ(APU_STATUS_OK, (int)apu_conv_check(&p));
		ASSERT_TRUE(conv_case_x(&p, n % 7 == 0, n % 9 == 0))
			TH_LOG("case %d: in %dx%dx%d out %dx%dx%d k %dx%d s %d,%d d %d,%d pad %d,%d groups %d in_zp %d w_zp %d single %d",
			       n, p.in_h, p.in_w, p.in_c, p.out_h, p.out_w, p.out_c,
			       p.k_h, p.k_w, p.stride_h, p.stride_w, p.dil_h, p.dil_w,
			       p.pad_top, p.pad_left, p.groups, p.in_zp, p.w_zp,
			       p.single_rounding);
	}
}

TEST(conv2d_weight_zero_point_edges)
{
	/* in_h, in_w, in_c, out_h, out_w, out_c, k, stride, dil, pad, groups. */
	static const ApuConvParams cases[] = {
		/* pointwise, full 8 x 16 weight blocks (k 64, 48 channels) */
		{ 9, 9, 64, 9, 9, 48, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, -128, 127, false, 0 },
		/* 3x3 SAME, k = 216: blocks and a tail of taps, edge pixels */
		{ 10, 10, 24, 10, 10, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, -128, 127, false, 0 },
		/* depthwise multiplier 1, 40 channels: 16-channel blocks + 8 */
		{ 8, 8, 40, 8, 8, 40, 3, 3, 1, 1, 1, 1, 1, 1, 40, 0, 0, -128, 127, false, 0 },
		/* depthwise multiplier 1, 5x5 s2 dilated, odd tap count */
		{ 13, 13, 33, 5, 5, 33, 5, 5, 2, 2, 2, 2, 4, 4, 33, 0, 0, -128, 127, false, 0 },
		/* depthwise multiplier 3, dilation 2 */
		{ 11, 11, 6, 11, 11, 18, 3, 3, 1, 1, 2, 2, 2, 2, 6, 0, 0, -128, 127, false, 0 },
		/* one input channel (an image's first layer, greyscale) */
		{ 12, 12, 1, 6, 6, 16, 3, 3, 2, 2, 1, 1, 0, 0, 1, 0, 0, -128, 127, false, 0 },
		/* grouped: 4 groups of 6 -> 4 groups of 5 */
		{ 7, 7, 24, 7, 7, 20, 3, 3, 1, 1, 1, 1, 1, 1, 4, 0, 0, -128, 127, false, 0 },
		/* fully connected, 300 -> 20 */
		{ 1, 1, 300, 1, 1, 20, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, -128, 127, false, 0 },
		/* 7x7, pad 3: most pixels on the edge path */
		{ 6, 6, 3, 6, 6, 8, 7, 7, 1, 1, 1, 1, 3, 3, 1, 0, 0, -128, 127, false, 0 },
		/* single rounding */
		{ 6, 6, 17, 6, 6, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, -128, 127, true, 0 },
	};
	static const int wzps[] = { -128, 127, 1, -1, 77 };
	static const int inzps[] = { -128, 127, 0, -3 };
	size_t i, a, b;

	rng_seed(21);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	for (a = 0; a < sizeof(wzps) / sizeof(wzps[0]); a++)
	for (b = 0; b < sizeof(inzps) / sizeof(inzps[0]); b++) {
		ApuConvParams p = cases[i];

		p.w_zp = wzps[a];
		p.in_zp = inzps[b];
		p.out_zp = rnd_range(-128, 127);
		ASSERT_EQ(APU_STATUS_OK, (int)apu_conv_check(&p)) TH_LOG("case %zu", i);
		ASSERT_TRUE(conv_case_x(&p, 0, 0))
			TH_LOG("case %zu w_zp %d in_zp %d", i, p.w_zp, p.in_zp);
		ASSERT_TRUE(conv_case_x(&p, 1, 1))
			TH_LOG("case %zu w_zp %d in_zp %d, extreme", i, p.w_zp, p.in_zp);
	}
}

/* Saturation: huge accumulators clamp to the activation range. */
TEST(conv2d_saturates)
{
	ApuConvParams p = { 1, 1, 4, 1, 1, 2, 1, 1, 1, 1, 1, 1, 0, 0, 1,
			    0, 0, -128, 127, false, 0 };
	int8_t in[4] = { 127, 127, 127, 127 }, w[8] = { 127, 127, 127, 127,
						     -127, -127, -127, -127 };
	int32_t mult[2] = { 1 << 30, 1 << 30 }, shift[2] = { 0, 0 };
	int8_t out[2];

	ASSERT_EQ(0, apu_conv2d(&p, in, w, NULL, mult, shift, out));
	EXPECT_EQ(127, out[0]);
	EXPECT_EQ(-128, out[1]);
	p.act_min = -10;
	p.act_max = 10;
	ASSERT_EQ(0, apu_conv2d(&p, in, w, NULL, mult, shift, out));
	EXPECT_EQ(10, out[0]);
	EXPECT_EQ(-10, out[1]);
}

TEST(conv2d_rejects_bad_params)
{
	ApuConvParams good = { 8, 8, 4, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1,
			       0, 0, -128, 127, false, 0 }, p;

	ASSERT_EQ(APU_STATUS_OK, (int)apu_conv_check(&good));
#define BAD(field, val, want) do { p = good; p.field = val; \
	EXPECT_EQ(want, (int)apu_conv_check(&p)) TH_LOG(#field " = " #val); } while (0)
	BAD(in_h, 0, APU_STATUS_BAD_PARAMS);
	BAD(out_c, 0, APU_STATUS_BAD_PARAMS);
	BAD(k_w, 0, APU_STATUS_BAD_PARAMS);
	BAD(stride_h, 0, APU_STATUS_BAD_PARAMS);
	BAD(dil_w, 0, APU_STATUS_BAD_PARAMS);
	BAD(groups, 0, APU_STATUS_BAD_PARAMS);
	BAD(groups, 3, APU_STATUS_BAD_PARAMS);
	BAD(pad_top, 3, APU_STATUS_BAD_PARAMS);
	BAD(pad_left, -1, APU_STATUS_BAD_PARAMS);
	BAD(in_zp, 128, APU_STATUS_BAD_PARAMS);
	BAD(out_zp, -129, APU_STATUS_BAD_PARAMS);
	BAD(act_min, 100, APU_STATUS_OK);
	BAD(act_max, -129, APU_STATUS_BAD_PARAMS);
	BAD(w_zp, -128, APU_STATUS_OK);
	BAD(w_zp, 127, APU_STATUS_OK);
	BAD(w_zp, 128, APU_STATUS_BAD_PARAMS);
	BAD(w_zp, -129, APU_STATUS_BAD_PARAMS);
	BAD(w_zp, 32767, APU_STATUS_BAD_PARAMS);
	BAD(w_zp, -32768, APU_STATUS_BAD_PARAMS);
	BAD(in_h, 65535, APU_STATUS_OK);
	p = good;
	p.in_h = p.in_w = 65535;
	p.in_c = 65535;
	EXPECT_EQ(APU_STATUS_TOO_LARGE, (int)apu_conv_check(&p));
	/* Spans that would overflow int index arithmetic. */
	p = good;
	p.k_h = 65535;
	p.dil_h = 65535;
	p.pad_top = 0;
	p.in_c = p.out_c = 1;
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, (int)apu_conv_check(&p));
	p = good;
	p.out_h = 65535;
	p.stride_h = 65535;
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, (int)apu_conv_check(&p));
	p = good;
	p.out_h = p.out_w = 4000;
	p.k_h = p.k_w = 15;
	p.in_c = p.out_c = 64;
	EXPECT_EQ(APU_STATUS_TOO_LARGE, (int)apu_conv_check(&p));
#undef BAD
}

/*
 * The engine's working memory is bounded before anything is allocated.
 * The op below is legal by its tensors (64 MiB at most each) and MACs
 * (66 M), but 16384 groups of one output channel: the engine pads each
 * group's channels to 16 and would widen the weights to 2 GiB (2.6 GiB in
 * all); six cores with one each took 15 GiB of the host from 64 MiB of the
 * guest. Refused with TOO_LARGE. What the bound promises still fits: any
 * convolution whose weights fit a tensor, output channels per group a
 * multiple of 16, and MobileNet V2's layers.
 */
TEST(conv2d_working_memory_is_bounded)
{
	ApuConvParams huge = { 45, 45, 32768, 1, 1, 16384, 45, 45, 1, 1, 1, 1, 0, 0,
			       16384, 0, 0, -128, 127, false, 0 };
	static const ApuConvParams fits[] = {
		/* 64 MiB of weights: 16 x 2^22 taps, and 4096 x 2^14. */
		{ 64, 64, 1024, 1, 1, 16, 64, 64, 1, 1, 1, 1, 0, 0, 1, 0, 0, -128, 127, false, 0 },
		{ 4, 4, 1024, 1, 1, 4096, 4, 4, 1, 1, 1, 1, 0, 0, 1, 0, 0, -128, 127, false, 0 },
		/* MobileNet V2: the first conv, a depthwise, the classifier. */
		{ 224, 224, 3, 112, 112, 32, 3, 3, 2, 2, 1, 1, 0, 0, 1, 0, 0, -128, 127, false, 0 },
		{ 7, 7, 960, 7, 7, 960, 3, 3, 1, 1, 1, 1, 1, 1, 960, 0, 0, -128, 127, false, 0 },
		{ 1, 1, 1280, 1, 1, 1001, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, -128, 127, false, 0 },
		/* A depthwise multiplier of 2 (conv_patch, 8x padding). */
		{ 112, 112, 32, 112, 112, 64, 3, 3, 1, 1, 1, 1, 1, 1, 32, 0, 0, -128, 127, false, 0 },
	};
	size_t i;

	ASSERT_LE(apu_conv_in_size(&huge), APU_FW_MAX_TENSOR);
	ASSERT_LE(apu_conv_weights_size(&huge), APU_FW_MAX_TENSOR);
	ASSERT_LE(apu_conv_macs(&huge), APU_FW_MAX_OP_MACS);
	EXPECT_GT(apu_conv_work_bytes(&huge), 2ull << 30);
	EXPECT_EQ(APU_STATUS_TOO_LARGE, (int)apu_conv_check(&huge));
	/* The same with few enough groups fits. */
	huge.groups = 1;
	huge.out_c = 16;
	huge.in_c = 1024;
	EXPECT_EQ(APU_STATUS_OK, (int)apu_conv_check(&huge));

	for (i = 0; i < sizeof(fits) / sizeof(fits[0]); i++) {
		EXPECT_EQ(APU_STATUS_OK, (int)apu_conv_check(&fits[i])) TH_LOG("case %zu", i);
		EXPECT_LE(apu_conv_work_bytes(&fits[i]), APU_FW_MAX_OP_WORK);
	}
	/* The classifier: 1008 x 1280 weights widened, about 2.6 MB. */
	EXPECT_LT(apu_conv_work_bytes(&fits[4]), 3ull << 20);
}

/*
 * The padding also multiplies the MACs the engine executes: one output
 * channel per group, 2^31 MACs of the guest's (legal), 2^35 executed, a
 * minute of the host's time. Refused; padded work is bounded.
 */
TEST(conv2d_engine_macs_are_bounded)
{
	/* 2^12 pixels x 2^11 groups of 1 output channel x 2^8 taps: 2^31. */
	ApuConvParams p = { 64, 64, 8192, 64, 64, 2048, 8, 8, 1, 1, 1, 1, 3, 3,
			    2048, 0, 0, -128, 127, false, 0 };

	ASSERT_EQ(1ull << 31, apu_conv_macs(&p));
	EXPECT_EQ(1ull << 35, apu_conv_engine_macs(&p));
	EXPECT_LE(apu_conv_work_bytes(&p), APU_FW_MAX_OP_WORK);
	EXPECT_EQ(APU_STATUS_TOO_LARGE, (int)apu_conv_check(&p));
	/* Sixteen output channels per group, as many MACs: accepted. */
	p.groups = 128;
	p.k_h = p.k_w = 2;
	p.pad_top = p.pad_left = 0;
	ASSERT_EQ(1ull << 31, apu_conv_macs(&p));
	EXPECT_EQ(apu_conv_macs(&p), apu_conv_engine_macs(&p));
	EXPECT_EQ(APU_STATUS_OK, (int)apu_conv_check(&p));
}

/* An abort callback that says "stop" from its @stop_at-th call on. */
struct abort_count {
	int calls, stop_at;
};

static bool abort_after(void *opaque)
{
	struct abort_count *a = opaque;

	return ++a->calls >= a->stop_at;
}

/*
 * Long ops poll the abort callback as they go (a core reset must not wait
 * for them): about every APU_FW_POLL_WORK MACs. Told to stop at the third
 * call, the op returns APU_OP_ABORTED there, without finishing its output;
 * never told to, it polls and computes the same output as without polling.
 * Each kernel: the patch kernel, depthwise, average and max pooling.
 */
TEST(ops_abort_mid_op)
{
	/* 64 x 64 pixels x 64 channels x 288 taps: 75 M MACs, ~72 polls. */
	ApuConvParams p = { 64, 64, 32, 64, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1,
			    0, 0, -128, 127, false, 0 };
	/* Depthwise, multiplier 1: 64 x 64 pixels x 256 channels x 10 taps. */
	ApuConvParams dw = { 64, 64, 256, 64, 64, 256, 3, 3, 1, 1, 1, 1, 1, 1, 256,
			     0, 0, -128, 127, false, 0 };
	ApuPoolParams pp = { 256, 256, 64, 128, 128, 8, 8, 2, 2, 0, 0, -128, 127, false };
	const size_t nin = 256 * 256 * 64, nw = 64 * 9 * 32, nout = 256 * 64 * 64;
	int8_t *in = malloc(nin), *w = malloc(nw), *ref = malloc(nout), *out = malloc(nout);
	int32_t mult[256], shift[256];
	struct abort_count a;
	ApuPoll poll;
	int kind;
	size_t i;

	ASSERT_TRUE(in && w && ref && out);
	for (i = 0; i < nin; i++)
		in[i] = (int8_t)rnd();
	for (i = 0; i < nw; i++)
		w[i] = (int8_t)rnd();
	for (i = 0; i < 256; i++) {
		mult[i] = 1 << 30;
		shift[i] = -6;
	}
	ASSERT_EQ(APU_STATUS_OK, (int)apu_conv_check(&p));
	ASSERT_EQ(APU_STATUS_OK, (int)apu_conv_check(&dw));
	ASSERT_EQ(APU_STATUS_OK, (int)apu_pool_check(&pp));
	for (kind = 0; kind < 4; kind++) {
		size_t n = kind < 2 ? (size_t)64 * 64 * (kind ? 256 : 64) : (size_t)128 * 128 * 64;
		int ret, stop;

		for (stop = 3; stop >= 0; stop -= 3) {	/* 3, then never (0) */
			a = (struct abort_count){ 0, stop ? stop : 1 << 30 };
			poll = (ApuPoll){ .abort = abort_after, .opaque = &a };
			memset(out, 0x55, nout);
			switch (kind) {
			case 0:
				ret = apu_conv2d_poll(&p, in, w, NULL, mult, shift, out, &poll);
				break;
			case 1:
				ret = apu_conv2d_poll(&dw, in, w, NULL, mult, shift, out, &poll);
				break;
			case 2:
				ret = apu_avgpool_poll(&pp, in, out, &poll);
				break;
			default:
				ret = apu_maxpool_poll(&pp, in, out, &poll);
				break;
			}
			if (stop) {
				EXPECT_EQ(APU_OP_ABORTED, ret) TH_LOG("kind %d", kind);
				EXPECT_EQ(3, a.calls) TH_LOG("kind %d", kind);
				/* The last pixel was never computed. */
				for (i = n - 16; i < n; i++)
					ASSERT_EQ(0x55, out[i]) TH_LOG("kind %d", kind);
				continue;
			}
			EXPECT_EQ(0, ret) TH_LOG("kind %d", kind);
			EXPECT_GE(a.calls, 5) TH_LOG("kind %d", kind);
			switch (kind) {
			case 0:
				apu_conv2d(&p, in, w, NULL, mult, shift, ref);
				break;
			case 1:
				apu_conv2d(&dw, in, w, NULL, mult, shift, ref);
				break;
			case 2:
				apu_avgpool(&pp, in, ref);
				break;
			default:
				apu_maxpool(&pp, in, ref);
				break;
			}
			ASSERT_EQ(0, memcmp(ref, out, n)) TH_LOG("kind %d", kind);
		}
	}
	free(in);
	free(w);
	free(ref);
	free(out);
}

/*
 * Parameters straight from a guest: any 16-bit shape, any zero points.
 * The check never misbehaves (UBSan aborts on overflow), and whatever it
 * accepts, small enough to run here, runs inside its buffers (ASan).
 */
static int rnd_field(void)
{
	switch (rnd() % 16) {
	case 0:
		return (int)(rnd() & 0xffff);
	case 1:
		return rnd_range(0, 4);
	default:
		return rnd_range(1, 9);
	}
}

TEST(conv2d_guest_parameters)
{
	int n, ran = 0;

	rng_seed(8);
	for (n = 0; n < 60000; n++) {
		ApuConvParams p = {
			rnd_field(), rnd_field(), rnd_field(), rnd_field(), rnd_field(),
			rnd_field(), rnd_field(), rnd_field(), rnd_field(), rnd_field(),
			rnd_field(), rnd_field(), rnd_field(), rnd_field(), rnd_field(),
			rnd_range(-135, 135), rnd_range(-135, 135), rnd_range(-135, 0),
			rnd_range(0, 135), rnd() % 2, rnd() % 2 ? 0 : rnd_range(-135, 135),
		};
		int8_t *in, *w, *out;
		int32_t *mult, *shift;

		if (apu_conv_check(&p) != APU_STATUS_OK || apu_conv_macs(&p) > 200000 ||
		    apu_conv_in_size(&p) > 100000 || apu_conv_out_size(&p) > 100000)
			continue;
		in = malloc(apu_conv_in_size(&p));
		w = malloc(apu_conv_weights_size(&p));
		out = malloc(apu_conv_out_size(&p));
		mult = malloc(4 * p.out_c);
		shift = malloc(4 * p.out_c);
		fill(in, apu_conv_in_size(&p), -128, 127);
		fill(w, apu_conv_weights_size(&p), -128, 127);
		for (int c = 0; c < p.out_c; c++) {
			mult[c] = (int32_t)rnd();
			shift[c] = rnd_range(-31, 30);
		}
		ASSERT_EQ(0, apu_conv2d(&p, in, w, NULL, mult, shift, out));
		ran++;
		free(in); free(w); free(out); free(mult); free(shift);
	}
	/* The generator reaches the engine, not only the check. */
	EXPECT_LT(1000, ran) TH_LOG("ran %d", ran);
}

/* ---- add and average pooling ---------------------------------------------- */

TEST(add_randomized_bit_exact)
{
	int n;

	rng_seed(5);
	for (n = 0; n < 300; n++) {
		ApuAddParams p = { 0 };
		double s1 = 0.01 + rnd() / 4294967296.0 * 0.1, s2 = s1 * (0.3 + rnd() % 4);
		double so = (s1 > s2 ? s1 : s2) * (1 + rnd() % 3), twice = 2 * (s1 > s2 ? s1 : s2);
		int32_t m;
		int s;
		int8_t a[97], b[97], o[97];
		uint32_t i;

		p.count = rnd_range(1, 97);
		p.left_shift = 20;
		p.in1_offset = -rnd_range(-128, 127);
		p.in2_offset = -rnd_range(-128, 127);
		apu_quantize_multiplier(s1 / twice, &m, &s);
		p.in1_mult = m;
		p.in1_shift = s;
		apu_quantize_multiplier(s2 / twice, &m, &s);
		p.in2_mult = m;
		p.in2_shift = s;
		apu_quantize_multiplier(twice / ((1 << 20) * so), &m, &s);
		p.out_mult = m;
		p.out_shift = s;
		p.out_zp = rnd_range(-128, 127);
		p.act_min = -128;
		p.act_max = 127;
		ASSERT_EQ(APU_STATUS_OK, (int)apu_add_check(&p));
		fill(a, p.count, -128, 127);
		fill(b, p.count, -128, 127);
		apu_add(&p, a, b, o);
		for (i = 0; i < p.count; i++) {
			int32_t x = oracle_mbqm((a[i] + p.in1_offset) * (1 << 20), p.in1_mult, p.in1_shift);
			int32_t y = oracle_mbqm((b[i] + p.in2_offset) * (1 << 20), p.in2_mult, p.in2_shift);
			int32_t v = oracle_mbqm(x + y, p.out_mult, p.out_shift) + p.out_zp;

			v = v < -128 ? -128 : v > 127 ? 127 : v;
			ASSERT_EQ(v, o[i]) TH_LOG("case %d element %u", n, i);
		}
	}
}

TEST(avgpool_randomized_bit_exact)
{
	int n;

	rng_seed(6);
	for (n = 0; n < 300; n++) {
		ApuPoolParams p = { 0 };
		int8_t *in, *out;

		p.in_h = rnd_range(1, 15);
		p.in_w = rnd_range(1, 15);
		p.channels = rnd_range(1, 19);
		p.k_h = rnd_range(1, p.in_h < 7 ? p.in_h : 7);
		p.k_w = rnd_range(1, p.in_w < 7 ? p.in_w : 7);
		p.stride_h = rnd_range(1, 3);
		p.stride_w = rnd_range(1, 3);
		if (rnd() % 2) {
			p.out_h = same_out(p.in_h, p.k_h, p.stride_h, 1, &p.pad_top);
			p.out_w = same_out(p.in_w, p.k_w, p.stride_w, 1, &p.pad_left);
		} else {
			p.out_h = (p.in_h - p.k_h) / p.stride_h + 1;
			p.out_w = (p.in_w - p.k_w) / p.stride_w + 1;
		}
		p.act_min = rnd() % 3 ? -128 : -20;
		p.act_max = 127;
		p.round_uint8 = n % 2;
		ASSERT_EQ(APU_STATUS_OK, (int)apu_pool_check(&p));
		in = malloc((size_t)p.in_h * p.in_w * p.channels);
		out = malloc((size_t)p.out_h * p.out_w * p.channels);
		fill(in, (size_t)p.in_h * p.in_w * p.channels, -128, 127);
		apu_avgpool(&p, in, out);
		for (int oy = 0; oy < p.out_h; oy++)
		for (int ox = 0; ox < p.out_w; ox++)
		for (int c = 0; c < p.channels; c++) {
			int sum = 0, cnt = 0, v;

			for (int ky = 0; ky < p.k_h; ky++)
			for (int kx = 0; kx < p.k_w; kx++) {
				int iy = oy * p.stride_h - p.pad_top + ky;
				int ix = ox * p.stride_w - p.pad_left + kx;

				if (iy < 0 || iy >= p.in_h || ix < 0 || ix >= p.in_w)
					continue;
				sum += in[(iy * p.in_w + ix) * p.channels + c];
				cnt++;
			}
			if (p.round_uint8) {
				/* TFLite's uint8 kernel, on the uint8 values (x + 128). */
				int usum = sum + 128 * cnt;

				v = (usum + cnt / 2) / cnt - 128;
			} else {
				/* TFLite int8: round half away from zero. */
				v = sum > 0 ? (sum + cnt / 2) / cnt : (sum - cnt / 2) / cnt;
			}
			v = v < p.act_min ? p.act_min : v > p.act_max ? p.act_max : v;
			ASSERT_EQ(v, out[(oy * p.out_w + ox) * p.channels + c])
				TH_LOG("case %d", n);
		}
		free(in);
		free(out);
	}
}

TEST(pool_rejects_windows_off_the_input)
{
	ApuPoolParams p = { 4, 4, 2, 2, 2, 2, 2, 2, 2, 0, 0, -128, 127, false };

	EXPECT_EQ(APU_STATUS_OK, (int)apu_pool_check(&p));
	p.out_h = 3;
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, (int)apu_pool_check(&p));
	p.out_h = 2;
	p.pad_left = 2;
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, (int)apu_pool_check(&p));
}

/* ---- ABI 1.2: max pooling, table lookup, multiply, broadcasting ---------- */

TEST(maxpool_randomized_bit_exact)
{
	int n;

	rng_seed(30);
	for (n = 0; n < 400; n++) {
		ApuPoolParams p = { 0 };
		int8_t *in, *out;
		size_t nin;

		p.in_h = rnd_range(1, 13);
		p.in_w = rnd_range(1, 13);
		/* Past 32 and 16 channels: the vector blocks and their tails. */
		p.channels = n % 3 ? rnd_range(1, 80) : rnd_range(1, 4) * 16 + rnd_range(0, 1);
		p.k_h = rnd_range(1, p.in_h < 7 ? p.in_h : 7);
		p.k_w = rnd_range(1, p.in_w < 7 ? p.in_w : 7);
		p.stride_h = rnd_range(1, 3);
		p.stride_w = rnd_range(1, 3);
		if (rnd() % 2) {
			p.out_h = same_out(p.in_h, p.k_h, p.stride_h, 1, &p.pad_top);
			p.out_w = same_out(p.in_w, p.k_w, p.stride_w, 1, &p.pad_left);
		} else {
			p.out_h = (p.in_h - p.k_h) / p.stride_h + 1;
			p.out_w = (p.in_w - p.k_w) / p.stride_w + 1;
		}
		p.act_min = -128;
		p.act_max = 127;
		if (n % 4 == 1) {	/* ReLU, ReLU6-like, narrow */
			p.act_min = rnd_range(-128, 100);
			p.act_max = rnd_range(p.act_min, 127);
		}
		ASSERT_EQ(APU_STATUS_OK, (int)apu_pool_check(&p));
		nin = (size_t)p.in_h * p.in_w * p.channels;
		in = malloc(nin);
		out = malloc((size_t)p.out_h * p.out_w * p.channels);
		fill(in, nin, -128, 127);
		if (n % 10 == 0)	/* the smallest value everywhere */
			memset(in, 0x80, nin);
		apu_maxpool(&p, in, out);
		for (int oy = 0; oy < p.out_h; oy++)
		for (int ox = 0; ox < p.out_w; ox++)
		for (int c = 0; c < p.channels; c++) {
			int v = -1000;

			for (int ky = 0; ky < p.k_h; ky++)
			for (int kx = 0; kx < p.k_w; kx++) {
				int iy = oy * p.stride_h - p.pad_top + ky;
				int ix = ox * p.stride_w - p.pad_left + kx;

				if (iy < 0 || iy >= p.in_h || ix < 0 || ix >= p.in_w)
					continue;
				if (in[(iy * p.in_w + ix) * p.channels + c] > v)
					v = in[(iy * p.in_w + ix) * p.channels + c];
			}
			ASSERT_NE(-1000, v);	/* every window has a tap */
			v = v < p.act_min ? p.act_min : v > p.act_max ? p.act_max : v;
			ASSERT_EQ(v, out[(oy * p.out_w + ox) * p.channels + c])
				TH_LOG("case %d: in %dx%dx%d k %dx%d s %d,%d pad %d,%d at %d,%d,%d",
				       n, p.in_h, p.in_w, p.channels, p.k_h, p.k_w,
				       p.stride_h, p.stride_w, p.pad_top, p.pad_left, oy, ox, c);
		}
		free(in);
		free(out);
	}
}

TEST(lut_every_input)
{
	int8_t table[256], in[1000], out[1000];
	int n, i;

	rng_seed(31);
	for (n = 0; n < 50; n++) {
		int count;

		fill(table, 256, -128, 127);
		/* All 256 inputs, in order. */
		for (i = 0; i < 256; i++)
			in[i] = (int8_t)(i - 128);
		apu_lut(256, in, table, out);
		for (i = 0; i < 256; i++)
			ASSERT_EQ(table[i], out[i]) TH_LOG("round %d input %d", n, i - 128);
		/* Random inputs and lengths. */
		count = rnd_range(1, 1000);
		fill(in, count, -128, 127);
		apu_lut(count, in, table, out);
		for (i = 0; i < count; i++)
			ASSERT_EQ(table[in[i] + 128], out[i]) TH_LOG("round %d element %d", n, i);
	}
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, (int)apu_lut_check(0));
	EXPECT_EQ(APU_STATUS_OK, (int)apu_lut_check(1));
	EXPECT_EQ(APU_STATUS_OK, (int)apu_lut_check(APU_FW_MAX_TENSOR));
	EXPECT_EQ(APU_STATUS_TOO_LARGE, (int)apu_lut_check(APU_FW_MAX_TENSOR + 1));
}

/* A count and an input2 period: none, a scalar, per channel, or the count. */
static void rnd_bcast(uint32_t *count, uint32_t *period, int max_pixels)
{
	uint32_t c = rnd_range(1, 70), pixels = rnd_range(1, max_pixels);

	*count = c * pixels;
	switch (rnd() % 4) {
	case 0:
		*period = 0;
		break;
	case 1:
		*period = 1;
		break;
	case 2:
		*period = c;
		break;
	default:
		*period = *count;
		break;
	}
}

static int8_t ref_mul(const ApuMulParams *p, int a, int b)
{
	int32_t v = oracle_mbqm((a + p->in1_offset) * (b + p->in2_offset), p->out_mult,
				p->out_shift);

	v = (int32_t)((uint32_t)v + (uint32_t)p->out_zp);
	return (int8_t)(v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v);
}

TEST(mul_randomized_bit_exact)
{
	int n;

	rng_seed(32);
	for (n = 0; n < 600; n++) {
		ApuMulParams p = { 0 };
		int8_t *a, *b, *o;
		uint32_t i, period;

		rnd_bcast(&p.count, &p.in2_period, n % 10 ? 20 : 300);
		period = p.in2_period ? p.in2_period : p.count;
		p.in1_offset = rnd_range(-127, 128);
		p.in2_offset = rnd_range(-127, 128);
		if (n % 8 == 0) {
			p.in1_offset = rnd() % 2 ? -127 : 128;
			p.in2_offset = rnd() % 2 ? -127 : 128;
		}
		if (n % 3) {	/* as TFLite makes them: s1 * s2 / so */
			double s1 = 0.002 + rnd() / 4294967296.0 * 0.1;
			double s2 = 0.002 + rnd() / 4294967296.0 * 0.1;
			double so = (0.01 + rnd() / 4294967296.0) * s1 * s2 * 300;
			int32_t m;
			int s;

			apu_quantize_multiplier(s1 * s2 / so, &m, &s);
			p.out_mult = m;
			p.out_shift = s;
		} else {	/* anything a guest may pass */
			p.out_mult = n % 30 == 0 ? INT32_MIN : (int32_t)rnd();
			p.out_shift = rnd_range(APU_SHIFT_MIN, APU_SHIFT_MAX);
		}
		p.out_zp = rnd_range(-128, 127);
		p.act_min = -128;
		p.act_max = 127;
		if (n % 4 == 1) {
			p.act_min = rnd_range(-128, 100);
			p.act_max = rnd_range(p.act_min, 127);
		}
		ASSERT_EQ(APU_STATUS_OK, (int)apu_mul_check(&p));
		a = malloc(p.count);
		b = malloc(period);
		o = malloc(p.count);
		fill(a, p.count, -128, 127);
		fill(b, period, -128, 127);
		apu_mul(&p, a, b, o);
		for (i = 0; i < p.count; i++)
			ASSERT_EQ(ref_mul(&p, a[i], b[i % period]), o[i])
				TH_LOG("case %d element %u: count %u period %u mult %d shift %d",
				       n, i, p.count, p.in2_period, p.out_mult, p.out_shift);
		free(a);
		free(b);
		free(o);
	}
}

/* Every pair of int8 inputs, at the offsets' extremes. */
TEST(mul_every_input_pair)
{
	static const int32_t offs[][2] = { { -127, -127 }, { 128, 128 }, { -127, 128 }, { 0, 5 } };
	static int8_t a[65536], b[65536], o[65536];
	ApuMulParams p = { 65536, 0, 0, 1 << 30, -12, 3, -128, 127, 0 };
	size_t k;
	int i;

	for (i = 0; i < 65536; i++) {
		a[i] = (int8_t)(i & 0xff);
		b[i] = (int8_t)(i >> 8);
	}
	for (k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		p.in1_offset = offs[k][0];
		p.in2_offset = offs[k][1];
		ASSERT_EQ(APU_STATUS_OK, (int)apu_mul_check(&p));
		apu_mul(&p, a, b, o);
		for (i = 0; i < 65536; i++)
			ASSERT_EQ(ref_mul(&p, a[i], b[i]), o[i]) TH_LOG("offsets %zu pair %d", k, i);
	}
}

TEST(add_broadcast_bit_exact)
{
	int n;

	rng_seed(33);
	for (n = 0; n < 400; n++) {
		ApuAddParams p = { 0 };
		double s1 = 0.01 + rnd() / 4294967296.0 * 0.1, s2 = s1 * (0.3 + rnd() % 4);
		double so = (s1 > s2 ? s1 : s2) * (1 + rnd() % 3), twice = 2 * (s1 > s2 ? s1 : s2);
		uint32_t i, period;
		int8_t *a, *b, *o;
		int32_t m;
		int s;

		rnd_bcast(&p.count, &p.in2_period, 20);
		period = p.in2_period ? p.in2_period : p.count;
		p.left_shift = 20;
		p.in1_offset = rnd_range(-127, 128);
		p.in2_offset = rnd_range(-127, 128);
		apu_quantize_multiplier(s1 / twice, &m, &s);
		p.in1_mult = m;
		p.in1_shift = s;
		apu_quantize_multiplier(s2 / twice, &m, &s);
		p.in2_mult = m;
		p.in2_shift = s;
		apu_quantize_multiplier(twice / ((1 << 20) * so), &m, &s);
		p.out_mult = m;
		p.out_shift = s;
		p.out_zp = rnd_range(-128, 127);
		p.act_min = n % 3 ? -128 : rnd_range(-128, 0);
		p.act_max = 127;
		ASSERT_EQ(APU_STATUS_OK, (int)apu_add_check(&p));
		a = malloc(p.count);
		b = malloc(period);
		o = malloc(p.count);
		fill(a, p.count, -128, 127);
		fill(b, period, -128, 127);
		apu_add(&p, a, b, o);
		for (i = 0; i < p.count; i++) {
			int32_t x = oracle_mbqm((a[i] + p.in1_offset) * (1 << 20), p.in1_mult, p.in1_shift);
			int32_t y = oracle_mbqm((b[i % period] + p.in2_offset) * (1 << 20),
						p.in2_mult, p.in2_shift);
			int32_t v = oracle_mbqm(x + y, p.out_mult, p.out_shift) + p.out_zp;

			v = v < p.act_min ? p.act_min : v > 127 ? 127 : v;
			ASSERT_EQ(v, o[i]) TH_LOG("case %d element %u count %u period %u",
						  n, i, p.count, p.in2_period);
		}
		free(a);
		free(b);
		free(o);
	}
}

/* ADD's arithmetic on gemmlowp's functions, int32 wrapping as TFLite's. */
static int8_t ref_add(const ApuAddParams *p, int a, int b)
{
	int32_t x = (int32_t)((uint32_t)(a + p->in1_offset) << p->left_shift);
	int32_t y = (int32_t)((uint32_t)(b + p->in2_offset) << p->left_shift);
	uint32_t sum = (uint32_t)oracle_mbqm(x, p->in1_mult, p->in1_shift) +
		       (uint32_t)oracle_mbqm(y, p->in2_mult, p->in2_shift);
	int32_t v = oracle_mbqm((int32_t)sum, p->out_mult, p->out_shift);

	v = (int32_t)((uint32_t)v + (uint32_t)p->out_zp);
	return (int8_t)(v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v);
}

/*
 * ADD on every path this CPU runs (AVX2 and the portable C) against the
 * reference and each other: lengths of any remainder mod 16, broadcasts,
 * TFLite's parameters with outputs that saturate, and anything a guest
 * may pass (multipliers of INT32_MIN take the scalar code).
 */
TEST(add_every_path_bit_exact_any_params)
{
	int n, tested[APU_PATH_NPATHS] = { 0 };

	rng_seed(34);
	for (n = 0; n < 600; n++) {
		ApuAddParams p = { 0 };
		uint32_t i, period;
		int8_t *a, *b, *o, *want;

		if (n % 3 == 0) {
			p.count = rnd_range(1, 1100);
			p.in2_period = 0;
		} else {
			rnd_bcast(&p.count, &p.in2_period, 30);
		}
		period = p.in2_period ? p.in2_period : p.count;
		p.in1_offset = rnd_range(APU_ADD_OFFSET_MIN, APU_ADD_OFFSET_MAX);
		p.in2_offset = rnd_range(APU_ADD_OFFSET_MIN, APU_ADD_OFFSET_MAX);
		if (n % 2) {	/* TFLite's: scales up to 8x apart, output often saturating */
			double s1 = 0.01 + rnd() / 4294967296.0 * 0.1;
			double s2 = s1 * (0.125 + rnd() % 8);
			double so = (s1 > s2 ? s1 : s2) * (0.05 + rnd() % 3);
			double twice = 2 * (s1 > s2 ? s1 : s2);
			int32_t m;
			int s;

			p.left_shift = 20;
			apu_quantize_multiplier(s1 / twice, &m, &s);
			p.in1_mult = m;
			p.in1_shift = s;
			apu_quantize_multiplier(s2 / twice, &m, &s);
			p.in2_mult = m;
			p.in2_shift = s;
			apu_quantize_multiplier(twice / ((1 << 20) * so), &m, &s);
			p.out_mult = m;
			p.out_shift = s;
		} else {	/* anything the check lets through */
			p.left_shift = rnd_range(0, APU_ADD_LEFT_SHIFT_MAX);
			p.in1_mult = n % 20 == 0 ? INT32_MIN : (int32_t)rnd();
			p.in2_mult = n % 22 == 0 ? INT32_MIN : (int32_t)rnd();
			p.out_mult = n % 26 == 0 ? INT32_MIN : (int32_t)rnd();
			p.in1_shift = rnd_range(APU_SHIFT_MIN, APU_SHIFT_MAX);
			p.in2_shift = rnd_range(APU_SHIFT_MIN, APU_SHIFT_MAX);
			p.out_shift = rnd_range(APU_SHIFT_MIN, APU_SHIFT_MAX);
		}
		p.out_zp = rnd_range(-128, 127);
		p.act_min = -128;
		p.act_max = 127;
		if (n % 4 == 1) {
			p.act_min = rnd_range(-128, 100);
			p.act_max = rnd_range(p.act_min, 127);
		}
		ASSERT_EQ(APU_STATUS_OK, (int)apu_add_check(&p));
		a = malloc(p.count);
		b = malloc(period);
		o = malloc(p.count);
		want = malloc(p.count);
		fill(a, p.count, -128, 127);
		fill(b, period, -128, 127);
		for (i = 0; i < p.count; i++)
			want[i] = ref_add(&p, a[i], b[i % period]);
		for (int path = APU_PATH_AUTO; path < APU_PATH_NPATHS; path++) {
			if (!apu_engine_path_available(path)) {
				ASSERT_EQ(-1, apu_add_path(&p, a, b, o, path));
				continue;
			}
			memset(o, 0x5a, p.count);
			ASSERT_EQ(0, apu_add_path(&p, a, b, o, path));
			for (i = 0; i < p.count; i++)
				ASSERT_EQ(want[i], o[i])
					TH_LOG("case %d path %s element %u: count %u period %u",
					       n, apu_engine_path_name(path), i, p.count,
					       p.in2_period);
			tested[path]++;
		}
		free(a);
		free(b);
		free(o);
		free(want);
	}
	for (int path = APU_PATH_AUTO; path < APU_PATH_NPATHS; path++)
		TH_LOG("path %s: %d cases", apu_engine_path_name(path), tested[path]);
	EXPECT_EQ(600, tested[APU_PATH_PORTABLE]);
}

TEST(mul_and_broadcast_reject_bad_params)
{
	ApuMulParams good = { 12, 3, -4, 1 << 30, -8, 2, -128, 127, 0 }, p;
	ApuAddParams ga = { 12, 20, 5, 1 << 30, -1, 5, 1 << 30, -1, 1 << 30, -19, -5,
			    -128, 127, 0 }, q;

	ASSERT_EQ(APU_STATUS_OK, (int)apu_mul_check(&good));
	ASSERT_EQ(APU_STATUS_OK, (int)apu_add_check(&ga));
#define BADM(field, val, want) do { p = good; p.field = val; \
	EXPECT_EQ(want, (int)apu_mul_check(&p)) TH_LOG("mul " #field " = " #val); } while (0)
#define BADA(field, val, want) do { q = ga; q.field = val; \
	EXPECT_EQ(want, (int)apu_add_check(&q)) TH_LOG("add " #field " = " #val); } while (0)
	BADM(count, 0, APU_STATUS_BAD_PARAMS);
	BADM(count, APU_FW_MAX_TENSOR + 1, APU_STATUS_TOO_LARGE);
	BADM(in1_offset, APU_ADD_OFFSET_MIN - 1, APU_STATUS_BAD_PARAMS);
	BADM(in1_offset, APU_ADD_OFFSET_MAX + 1, APU_STATUS_BAD_PARAMS);
	BADM(in2_offset, APU_ADD_OFFSET_MIN - 1, APU_STATUS_BAD_PARAMS);
	BADM(in2_offset, APU_ADD_OFFSET_MAX + 1, APU_STATUS_BAD_PARAMS);
	BADM(in1_offset, APU_ADD_OFFSET_MIN, APU_STATUS_OK);
	BADM(in2_offset, APU_ADD_OFFSET_MAX, APU_STATUS_OK);
	BADM(out_shift, APU_SHIFT_MIN - 1, APU_STATUS_BAD_PARAMS);
	BADM(out_shift, APU_SHIFT_MAX + 1, APU_STATUS_BAD_PARAMS);
	BADM(out_shift, APU_SHIFT_MAX, APU_STATUS_OK);
	BADM(out_zp, 128, APU_STATUS_BAD_PARAMS);
	BADM(out_zp, -129, APU_STATUS_BAD_PARAMS);
	BADM(act_min, -129, APU_STATUS_BAD_PARAMS);
	BADM(act_max, 128, APU_STATUS_BAD_PARAMS);
	BADM(act_min, 127, APU_STATUS_OK);
	p = good;
	p.act_min = 5;
	p.act_max = 4;
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, (int)apu_mul_check(&p));
	/* Broadcasting: a period must divide the count. */
	for (uint32_t per = 0; per <= 30; per++) {
		uint32_t want = per == 0 || 12 % per == 0 ? APU_STATUS_OK : APU_STATUS_BAD_PARAMS;

		p = good;
		p.in2_period = per;
		EXPECT_EQ(want, apu_mul_check(&p)) TH_LOG("mul period %u", per);
		q = ga;
		q.in2_period = per;
		EXPECT_EQ(want, apu_add_check(&q)) TH_LOG("add period %u", per);
	}
	BADM(in2_period, 0xffffffffu, APU_STATUS_BAD_PARAMS);
	BADA(in2_period, 0xffffffffu, APU_STATUS_BAD_PARAMS);
	BADA(in2_period, 24, APU_STATUS_BAD_PARAMS);
#undef BADM
#undef BADA
}

TEST_HARNESS_MAIN
