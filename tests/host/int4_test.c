// SPDX-License-Identifier: MIT
/*
 * Int4 weights (w4a8, firmware ABI 1.4): packing and the quantization
 * helpers against hand-computed values; the engine's int4 convolutions
 * (plain, grouped, depthwise, fully connected) against a naive convolution
 * written here from the unpacked values; networks with int4 layers split
 * every way (odd channel counts: tiles that start in the middle of a byte)
 * run through the engine, bit-exact with the CPU reference and with the
 * int8 network of the same weights.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "test_conv.h"
#include "apu_internal.h"
#include "network.h"
#include "hw/apu_cmd.h"
#include "hw/apu_fw.h"

int32_t oracle_mbqm(int32_t x, int32_t mult, int shift);

/* The test's own packing, nibble by nibble (TFLite INT4: low nibble first). */
static void pack4(const int8_t *v, size_t n, uint8_t *out)
{
	memset(out, 0, (n + 1) / 2);
	for (size_t i = 0; i < n; i++) {
		unsigned int nib = v[i] < 0 ? (unsigned int)(v[i] + 16) : (unsigned int)v[i];

		out[i / 2] |= (uint8_t)(i % 2 ? nib << 4 : nib);
	}
}

TEST(pack_puts_even_elements_in_low_nibbles)
{
	static const int8_t v[] = { 1, -1, 7, -8, 0, 5, -3 };
	/* 1 | 0xf << 4, 7 | 8 << 4, 0 | 5 << 4, 0xd (the last high nibble 0) */
	static const uint8_t want[] = { 0xf1, 0x87, 0x50, 0x0d };
	uint8_t got[4];
	int8_t bad[] = { 3, 8 };

	memset(got, 0xaa, sizeof(got));
	ASSERT_EQ(0, apu_int4_pack(v, 7, got));
	EXPECT_EQ(0, memcmp(want, got, 4));
	EXPECT_EQ(-EINVAL, apu_int4_pack(bad, 2, got));
	bad[1] = -9;
	EXPECT_EQ(-EINVAL, apu_int4_pack(bad, 2, got));
	EXPECT_EQ(-EINVAL, apu_int4_pack(NULL, 2, got));
}

TEST(engine_unpack_sign_extends_each_nibble)
{
	static const uint8_t b[] = { 0x8f, 0x70, 0x19, 0x00, 0xe2 };
	static const int8_t want[] = { -1, -8, 0, 7, -7, 1, 0, 0, 2 };
	int8_t got[9], ref[9];

	apu_int4_unpack(b, 9, got);
	EXPECT_EQ(0, memcmp(want, got, 9));
	apu_ref_int4_unpack(b, 9, ref);
	EXPECT_EQ(0, memcmp(want, ref, 9));
}

/*
 * Channel 0 of a conv layout (inner 4): max 1.75, scale 0.25, and -0.875 /
 * 0.25 = -3.5 rounds away from zero to -4; channel 1 is all zero: scale 1.
 */
TEST(quantize_int4_per_channel_by_hand)
{
	static const float w[] = { 1.75f, -0.875f, 0.25f, -1.75f, 0, 0, 0, 0 };
	/* q: 7 -4 1 -7 0 0 0 0 */
	static const uint8_t want[] = { 0xc7, 0x91, 0x00, 0x00 };
	/* Depthwise layout (inner 1): channel i % 2. */
	static const float dw[] = { 3.5f, -7.0f, -1.75f, 7.0f };
	/* ch0 scale 0.5: 7, -4; ch1 scale 1: -7, 7 -> 7 -7 -4 7 */
	static const uint8_t want_dw[] = { 0x97, 0x7c };
	static const int8_t q8[] = { 127, -64, 10, -127 };
	static const float s8[] = { 0.01f };
	uint8_t got[4];
	float sc[2];

	ASSERT_EQ(0, apu_quantize_int4(w, 8, 2, 4, got, sc));
	EXPECT_EQ(0, memcmp(want, got, 4));
	EXPECT_TRUE(sc[0] == 0.25f);
	EXPECT_TRUE(sc[1] == 1.0f);
	ASSERT_EQ(0, apu_quantize_int4(dw, 4, 2, 1, got, sc));
	EXPECT_EQ(0, memcmp(want_dw, got, 2));
	EXPECT_TRUE(sc[0] == 0.5f);
	EXPECT_TRUE(sc[1] == 1.0f);
	/* int8 x 0.01: 1.27 -0.64 0.1 -1.27, scale 1.27 / 7: 7 -3.53 0.55 -7 */
	ASSERT_EQ(0, apu_requantize_int4(q8, s8, 4, 1, 4, got, sc));
	EXPECT_EQ(0xc7, got[0]);
	EXPECT_EQ(0x91, got[1]);
	EXPECT_TRUE(fabsf(sc[0] - 1.27f / 7) < 1e-6f);
	/* Without scales the int8 values themselves: 127 / 7 per step. */
	ASSERT_EQ(0, apu_requantize_int4(q8, NULL, 4, 1, 4, got, sc));
	EXPECT_EQ(0xc7, got[0]);
	EXPECT_TRUE(sc[0] == 127.0f / 7);
	EXPECT_EQ(-EINVAL, apu_quantize_int4(w, 8, 3, 4, got, sc));
	EXPECT_EQ(-EINVAL, apu_quantize_int4(w, 8, 2, 0, got, sc));
	EXPECT_EQ(-EINVAL, apu_quantize_int4(NULL, 8, 2, 4, got, sc));
}

/* A naive convolution of int8 weights (the unpacked int4 ones), TFLite's way. */
static void naive_conv(const ApuConvParams *p, const int8_t *in, const int8_t *w,
		       const int32_t *bias, const int32_t *mult, const int32_t *shift,
		       int8_t *out)
{
	int icg = p->in_c / p->groups, ocg = p->out_c / p->groups;
	bool dw = p->groups == p->in_c && p->groups > 1;

	for (int oy = 0; oy < p->out_h; oy++)
	for (int ox = 0; ox < p->out_w; ox++)
	for (int oc = 0; oc < p->out_c; oc++) {
		int64_t acc = bias[oc];
		int32_t v;

		for (int ky = 0; ky < p->k_h; ky++)
		for (int kx = 0; kx < p->k_w; kx++)
		for (int i = 0; i < icg; i++) {
			int iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
			int ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
			int ic = (oc / ocg) * icg + i;
			int wv = dw ? w[(ky * p->k_w + kx) * p->out_c + oc]
				    : w[((oc * p->k_h + ky) * p->k_w + kx) * icg + i];

			if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w)
				continue;
			acc += (in[(iy * p->in_w + ix) * p->in_c + ic] - p->in_zp) * wv;
		}
		v = oracle_mbqm((int32_t)acc, mult[oc], shift[oc]) + p->out_zp;
		out[(oy * p->out_w + ox) * p->out_c + oc] =
			(int8_t)(v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v);
	}
}

/* Random int4 convolutions of every kind through the engine's int4 entry. */
TEST(engine_int4_conv_matches_naive)
{
	rng_seed(44);
	for (int it = 0; it < 60; it++) {
		int kind = it % 4;	/* plain, grouped, depthwise, fully connected */
		int in_c = rnd_range(1, 9) * (kind == 1 ? 2 : 1), k = 1 + 2 * (it % 2);
		int groups = kind == 1 ? 2 : kind == 2 ? in_c : 1;
		int out_c = kind == 2 ? in_c * rnd_range(1, 3) : rnd_range(1, 19) * groups;
		int hw = kind == 3 ? 1 : rnd_range(3, 11);
		ApuConvParams p = {
			.in_h = hw, .in_w = hw, .in_c = kind == 3 ? rnd_range(1, 300) : in_c,
			.out_c = out_c, .k_h = kind == 3 ? 1 : k, .k_w = kind == 3 ? 1 : k,
			.stride_h = 1, .stride_w = 1 + it % 2, .dil_h = 1, .dil_w = 1,
			.groups = groups, .in_zp = rnd_range(-5, 5), .out_zp = rnd_range(-5, 5),
			.act_min = -128, .act_max = 127,
		};
		uint64_t nw, nin, nout;
		int8_t *in, *w, *out, *want;
		uint8_t *w4;
		int32_t *bias, *mult, *shift;

		if (p.groups == 1 && kind == 2)
			p.groups = 1;	/* one channel: a plain convolution */
		p.pad_top = p.pad_left = k / 2;
		if (kind == 3)
			p.pad_top = p.pad_left = 0;
		p.out_h = (p.in_h + 2 * p.pad_top - p.k_h) / p.stride_h + 1;
		p.out_w = (p.in_w + 2 * p.pad_left - p.k_w) / p.stride_w + 1;
		ASSERT_EQ(APU_STATUS_OK, apu_conv_check(&p));
		nw = apu_conv_weights_size(&p);
		nin = apu_conv_in_size(&p);
		nout = apu_conv_out_size(&p);
		in = malloc(nin);
		w = malloc(nw);
		w4 = malloc((nw + 1) / 2);
		out = malloc(nout);
		want = malloc(nout);
		bias = malloc(4 * (size_t)out_c);
		mult = malloc(4 * (size_t)out_c);
		shift = malloc(4 * (size_t)out_c);
		ASSERT_TRUE(in && w && w4 && out && want && bias && mult && shift);
		fill_rnd(in, nin, -128, 127);
		fill_rnd(w, nw, -8, 7);
		for (int c = 0; c < out_c; c++) {
			bias[c] = rnd_range(-2000, 2000);
			mult[c] = (int32_t)((1u << 30) + rnd() % (1u << 29));
			shift[c] = -rnd_range(3, 8);
		}
		pack4(w, nw, w4);
		naive_conv(&p, in, w, bias, mult, shift, want);
		ASSERT_EQ(0, apu_conv2d_int4_poll(&p, in, w4, bias, mult, shift, out, NULL));
		EXPECT_EQ(0, memcmp(want, out, nout))
			TH_LOG("case %d kind %d: %dx%dx%d -> %d, k %d, groups %d", it, kind,
			       p.in_h, p.in_w, p.in_c, out_c, p.k_h, p.groups);
		free(in);
		free(w);
		free(w4);
		free(out);
		free(want);
		free(bias);
		free(mult);
		free(shift);
	}
}

#include "exec_cmds.h"

struct layer {
	int8_t *w;		/* int8 values in [-8, 7] */
	uint8_t *w4;		/* packed */
	int32_t bias[64], mult[64], shift[64];
};

static void fill_layer(struct layer *l, size_t n)
{
	l->w = malloc(n);
	l->w4 = malloc((n + 1) / 2);
	fill_rnd(l->w, n, -8, 7);
	pack4(l->w, n, l->w4);
	for (int c = 0; c < 64; c++) {
		l->bias[c] = rnd_range(-500, 500);
		l->mult[c] = (int32_t)((1u << 30) + rnd() % (1u << 29));
		l->shift[c] = -rnd_range(4, 7);
	}
}

/*
 * Input 9x9x5, conv 3x3 to 7 channels (45 weights per channel), depthwise
 * 3x3 x2 to 14, 1x1 conv to 11, depthwise x1 to 11 (odd), 1x1 conv from 11
 * (an odd row of weights) to 13, fully connected from 9x9x13 (odd) to 17.
 * @int4: the layers take the packed weights, else the int8 ones.
 */
static int build(struct apu_network *net, struct layer *L, bool int4, int *in, int *out)
{
	struct apu_shape s = { 9, 9, 5 };
	struct apu_conv2d_ext ext = { sizeof(ext), int4 ? APU_CONV_EXT_WEIGHTS_INT4 : 0, 0, 0 };
	static const struct { unsigned int oc, k, groups; bool fc; } sp[] = {
		{ 7, 3, 1, false }, { 14, 3, 7, false }, { 11, 1, 1, false },
		{ 11, 3, 11, false }, { 13, 1, 1, false }, { 17, 1, 1, true },
	};
	int t, ret;

	ret = apu_network_add_input(net, &s, in);
	t = *in;
	for (int i = 0; !ret && i < 6; i++) {
		struct apu_conv2d p = {
			.out_c = sp[i].oc, .k_h = sp[i].k, .k_w = sp[i].k, .stride_h = 1,
			.stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = sp[i].groups,
			.padding = APU_PAD_SAME, .in_zp = -3, .out_zp = 2, .act_min = -128,
			.act_max = 127, .weights = int4 ? (const int8_t *)L[i].w4 : L[i].w,
			.bias = L[i].bias, .mult = L[i].mult, .shift = L[i].shift,
		};

		ext.flags = (int4 ? APU_CONV_EXT_WEIGHTS_INT4 : 0) |
			    (sp[i].fc ? APU_CONV_EXT_FULLY_CONNECTED : 0);
		ret = apu_network_add_conv2d_ext(net, t, &p, &ext, &t);
	}
	*out = t;
	return ret;
}

static const size_t layer_n[6] = {
	7 * 9 * 5, 9 * 14, 11 * 14, 9 * 11, 13 * 11, 17 * 9 * 9 * 13,
};

/*
 * The int4 network split by rows, by channel and as planned: every tensor
 * bit-exact between the engine (command buffers) and the reference, every
 * output byte written once, and the same outputs as the int8 network of
 * the unpacked weights.
 */
TEST(int4_network_every_split_bit_exact)
{
	static const char *const ways[] = { "channels", "rows", NULL };
	struct layer L[6];
	struct apu_shape s;
	int8_t data[9 * 9 * 5];

	rng_seed(4);
	for (int i = 0; i < 6; i++)
		fill_layer(&L[i], layer_n[i]);
	fill_rnd(data, sizeof(data), -128, 127);
	for (int w = 0; w < 3; w++) {
		struct apu_device *dev;
		struct apu_network *n8;
		struct exec x = { 0 };
		int in, out, in8, out8, nt = 0, repacked = 0;
		size_t off, size, byte;
		int bad;
		int8_t ref8[17], got[17];

		if (ways[w])
			setenv("APU_PLAN_SPLIT", ways[w], 1);
		else
			unsetenv("APU_PLAN_SPLIT");
		ASSERT_EQ(0, apu_device_open_cpu(&dev));
		ASSERT_EQ(0, apu_network_create(dev, &x.net));
		ASSERT_EQ(0, build(x.net, L, true, &in, &out));
		ASSERT_EQ(0, apu_network_compile(x.net, NULL, 0));
		for (int i = 0; i < 3; i++)
			x.buf[i] = apu_network_buffer(x.net, i);
		x.cover = calloc(1, apu_buffer_size(x.buf[0]));
		ASSERT_NE(NULL, x.cover);
		apu_network_shape(x.net, in, &s);
		ASSERT_EQ(0, apu_network_write(x.net, in, data, sizeof(data)));
		ASSERT_EQ(0, exec_network(&x));
		ASSERT_EQ(0, apu_network_run_reference(x.net));
		nt = check_tensors(&x, in, &bad, &byte);
		EXPECT_EQ(-1, bad) TH_LOG("%s: tensor %d %s (byte %zu)", ways[w] ? ways[w] : "planned",
					  bad, byte == SIZE_MAX ? "differs" : "not written once", byte);
		EXPECT_EQ(7, nt);
		for (int i = 0; i < x.net->nops; i++)
			if (x.net->ops[i].kind == OP_CONV && !x.net->ops[i].dw)
				repacked += x.net->ops[i].ndwt;
		/* The fully connected layer splits at odd weight elements. */
		EXPECT_LT(0, repacked);

		/* The int8 network of the same weights: the same output. */
		ASSERT_EQ(0, apu_network_create(dev, &n8));
		ASSERT_EQ(0, build(n8, L, false, &in8, &out8));
		ASSERT_EQ(0, apu_network_compile(n8, NULL, 0));
		ASSERT_EQ(0, apu_network_write(n8, in8, data, sizeof(data)));
		ASSERT_EQ(0, apu_network_run_reference(n8));
		ASSERT_EQ(0, apu_network_read_reference(n8, out8, ref8, sizeof(ref8)));
		ASSERT_EQ(0, apu_network_tensor_place(x.net, out, &off, &size));
		ASSERT_EQ(sizeof(got), size);
		memcpy(got, (uint8_t *)apu_buffer_cpu(x.buf[0]) + off, size);
		EXPECT_EQ(0, memcmp(ref8, got, sizeof(got)));
		apu_network_destroy(n8);
		free(x.cover);
		apu_network_destroy(x.net);
		apu_device_close(dev);
	}
	unsetenv("APU_PLAN_SPLIT");
	for (int i = 0; i < 6; i++) {
		free(L[i].w);
		free(L[i].w4);
	}
}

/* Int4 weights are symmetric; unknown flags are refused. */
TEST(int4_api_misuse)
{
	struct apu_device *dev;
	struct apu_network *net;
	struct apu_shape s = { 4, 4, 3 };
	uint8_t w4[14] = { 0 };
	int32_t b[5] = { 0 }, m[5] = { 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30 };
	int32_t sh[5] = { -1, -1, -1, -1, -1 };
	struct apu_conv2d p = {
		.out_c = 1, .k_h = 3, .k_w = 3, .stride_h = 1, .stride_w = 1, .dil_h = 1,
		.dil_w = 1, .groups = 1, .padding = APU_PAD_SAME, .act_min = -128,
		.act_max = 127, .weights = (const int8_t *)w4, .bias = b, .mult = m, .shift = sh,
	};
	struct apu_conv2d_ext ext = { sizeof(ext), APU_CONV_EXT_WEIGHTS_INT4, 5, 0 };
	struct apu_device_info info;
	int in, out;

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_device_get_info(dev, &info, sizeof(info)));
	EXPECT_TRUE(info.caps & APU_CAP_INT4_WEIGHTS);
	ASSERT_EQ(0, apu_network_create(dev, &net));
	ASSERT_EQ(0, apu_network_add_input(net, &s, &in));
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d_ext(net, in, &p, &ext, &out));
	ext.w_zp = 0;
	ext.flags = 0x80;
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d_ext(net, in, &p, &ext, &out));
	ext.flags = APU_CONV_EXT_WEIGHTS_INT4;
	EXPECT_EQ(0, apu_network_add_conv2d_ext(net, in, &p, &ext, &out));
	apu_network_destroy(net);
	apu_device_close(dev);
}

TEST_HARNESS_MAIN
