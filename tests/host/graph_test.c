// SPDX-License-Identifier: MIT
/*
 * Host tests of graphs built in memory (apu/apu_graph.h, hal/src/graph.c):
 * what a framework backend hands libapu. Bad graphs get errors; the ways a
 * framework spells an op that a file spells otherwise (an activation split
 * off, padding given explicitly) compute what the file's op computes, and
 * the activation's clamp is checked against a clamp written here.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "test_rng.h"
#include "apu/apu_graph.h"

#define H 9
#define W 7
#define C 4
#define OC 6

/* Builds one graph: input, conv 3x3 (weights, bias), then what @extra adds. */
struct net {
	struct apu_graph *g;
	int in, out;
	int8_t weights[OC * 3 * 3 * C];
	int32_t bias[OC];
};

static const float w_scales[OC] = { 0.01f, 0.02f, 0.015f, 0.03f, 0.005f, 0.025f };
static const int64_t w_zps[OC];

static int act_tensor(struct apu_graph *g, int h, int w, int c, float scale, int64_t zp)
{
	struct apu_graph_tensor t = {
		.type = APU_GRAPH_INT8, .ndims = 4, .dims = { 1, h, w, c },
		.nquant = 1, .scales = &scale, .zero_points = &zp,
	};

	return apu_graph_add_tensor(g, &t);
}

/* Input, conv (stride 1, @padding) to a tensor of scale 0.05, zero point -10. */
static int add_conv(struct apu_graph *g, int in, enum apu_graph_padding padding,
		    const unsigned int pad[4], enum apu_graph_act act, int out_h, int out_w)
{
	static int8_t wts[OC * 3 * 3 * C];
	static int32_t bias[OC];
	struct apu_graph_tensor wt = {
		.type = APU_GRAPH_INT8, .ndims = 4, .dims = { OC, 3, 3, C },
		.data = wts, .data_size = sizeof(wts),
		.nquant = OC, .scales = w_scales, .zero_points = w_zps, .quant_dim = 0,
	};
	struct apu_graph_tensor bt = {
		.type = APU_GRAPH_INT32, .ndims = 1, .dims = { OC },
		.data = bias, .data_size = sizeof(bias),
	};
	struct apu_graph_op op = { .code = APU_GRAPH_CONV_2D, .padding = padding,
				   .stride_w = 1, .stride_h = 1, .act = act };
	int ins[3], out;

	rng_seed(42);
	for (size_t i = 0; i < sizeof(wts); i++)
		wts[i] = (int8_t)rnd_range(-127, 127);
	for (int i = 0; i < OC; i++)
		bias[i] = rnd_range(-1000, 1000);
	if (pad)
		memcpy(op.pad, pad, sizeof(op.pad));
	ins[0] = in;
	ins[1] = apu_graph_add_tensor(g, &wt);
	ins[2] = apu_graph_add_tensor(g, &bt);
	out = act_tensor(g, out_h, out_w, OC, 0.05f, -10);
	op.nin = 3;
	op.inputs = ins;
	op.nout = 1;
	op.outputs = &out;
	if (ins[1] < 0 || ins[2] < 0 || out < 0 || apu_graph_add_op(g, &op) < 0)
		return -1;
	return out;
}

/*
 * Runs @g (one input of H x W x C, one output of @n values) on the CPU
 * backend @dev; keeps the model in *@keep when asked.
 */
static int run(struct apu_device *dev, struct apu_graph *g, int in, int out, int8_t *result,
	       size_t n, struct apu_model **keep)
{
	struct apu_model *m = NULL;
	struct apu_compile_options o = { .priority = 1 };
	int8_t input[H * W * C];
	char err[200] = "";
	int ret;

	rng_seed(7);
	for (size_t i = 0; i < sizeof(input); i++)
		input[i] = (int8_t)rnd_range(-128, 127);
	ret = apu_graph_set_inputs(g, &in, 1);
	if (!ret)
		ret = apu_graph_set_outputs(g, &out, 1);
	if (!ret)
		ret = apu_model_create(dev, g, &m, err, sizeof(err));
	if (ret)
		fprintf(stderr, "# apu_model_create: %s\n", err);
	if (!ret)
		ret = apu_model_compile(m, &o, sizeof(o));
	if (!ret)
		ret = apu_model_set_input(m, 0, input, sizeof(input));
	if (!ret)
		ret = apu_model_run(m, NULL);
	if (!ret)
		ret = apu_model_get_output(m, 0, result, n);
	if (keep && !ret)
		*keep = m;
	else
		apu_model_destroy(m);
	return ret;
}

TEST(bad_tensors_and_ops_are_refused)
{
	struct apu_graph *g;
	float s[3] = { 1, 1, 1 };
	struct apu_graph_tensor t = { .type = APU_GRAPH_INT8, .ndims = 2, .dims = { 2, 0 } };
	int8_t data[6];
	int idx[2] = { 0, 5 };
	struct apu_graph_op op = { .code = APU_GRAPH_RELU, .nin = 1, .inputs = idx,
				   .nout = 1, .outputs = &idx[1] };

	ASSERT_EQ(0, apu_graph_create(&g));
	EXPECT_EQ(-EINVAL, apu_graph_add_tensor(g, &t));	/* a 0 dimension */
	t.dims[1] = 3;
	t.ndims = 7;
	EXPECT_EQ(-EINVAL, apu_graph_add_tensor(g, &t));	/* rank 7 */
	t.ndims = 2;
	t.type = (enum apu_graph_type)5;
	EXPECT_EQ(-EINVAL, apu_graph_add_tensor(g, &t));	/* a string tensor */
	t.type = APU_GRAPH_INT8;
	t.data = data;
	t.data_size = 5;
	EXPECT_EQ(-EINVAL, apu_graph_add_tensor(g, &t));	/* 5 bytes for 6 values */
	t.data_size = 6;
	t.nquant = 2;
	t.scales = s;
	t.quant_dim = 1;
	EXPECT_EQ(-EINVAL, apu_graph_add_tensor(g, &t));	/* 2 scales for 3 channels */
	t.nquant = 3;
	EXPECT_EQ(0, apu_graph_add_tensor(g, &t));
	EXPECT_EQ(-EINVAL, apu_graph_add_op(g, &op));		/* output 5 does not exist */
	idx[1] = 0;
	idx[0] = -1;
	op.outputs = &idx[1];
	EXPECT_EQ(0, apu_graph_add_op(g, &op));			/* -1: an input left out */
	EXPECT_EQ(-EINVAL, apu_graph_set_inputs(g, idx, 1));	/* -1 is no graph input */
	op.nout = 0;
	EXPECT_EQ(-EINVAL, apu_graph_add_op(g, &op));		/* no output */
	apu_graph_destroy(g);
	apu_graph_destroy(NULL);
}

TEST(model_of_an_empty_graph_is_refused_with_a_message)
{
	struct apu_graph *g;
	struct apu_device *dev;
	struct apu_model *m = NULL;
	char err[200] = "";

	ASSERT_EQ(0, apu_graph_create(&g));
	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	EXPECT_EQ(-EINVAL, apu_model_create(dev, g, &m, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "0 inputs"));
	EXPECT_EQ(NULL, m);
	apu_device_close(dev);
	apu_graph_destroy(g);
}

/* A RELU6 op after a conv (a framework's split activation) clamps exactly. */
TEST(split_relu6_is_merged_and_clamps_as_written_here)
{
	int8_t plain[H * W * OC], split[H * W * OC], fused[H * W * OC];
	struct apu_graph *g;
	struct apu_model *m = NULL;
	struct apu_model_op_info oi;
	/* RELU6 on scale 0.05, zero point -10: [-10, -10 + 120] */
	const int lo = -10, hi = 110;
	struct apu_graph_op op = { .code = APU_GRAPH_RELU6, .nin = 1, .nout = 1 };
	struct apu_device *dev;
	int in, c, r;

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_graph_create(&g));
	in = act_tensor(g, H, W, C, 0.04f, 3);
	c = add_conv(g, in, APU_GRAPH_PAD_SAME, NULL, APU_GRAPH_ACT_NONE, H, W);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, run(dev, g, in, c, plain, sizeof(plain), NULL));
	op.inputs = &c;
	op.outputs = &r;
	r = act_tensor(g, H, W, OC, 0.05f, -10);
	ASSERT_LE(0, apu_graph_add_op(g, &op));
	ASSERT_EQ(0, run(dev, g, in, r, split, sizeof(split), &m));
	/* Op 1 (the RELU6) was merged into the convolution. */
	ASSERT_EQ(0, apu_model_op_info(m, 1, &oi, sizeof(oi)));
	EXPECT_EQ(APU_MODEL_OP_FOLDED, oi.place);
	apu_model_destroy(m);
	apu_graph_destroy(g);
	for (size_t i = 0; i < sizeof(plain); i++) {
		int want = plain[i] < lo ? lo : plain[i] > hi ? hi : plain[i];

		ASSERT_EQ(want, split[i]);
	}
	/* And the same as the fused activation of a file's CONV_2D. */
	ASSERT_EQ(0, apu_graph_create(&g));
	in = act_tensor(g, H, W, C, 0.04f, 3);
	c = add_conv(g, in, APU_GRAPH_PAD_SAME, NULL, APU_GRAPH_ACT_RELU6, H, W);
	ASSERT_EQ(0, run(dev, g, in, c, fused, sizeof(fused), NULL));
	apu_graph_destroy(g);
	apu_device_close(dev);
	EXPECT_EQ(0, memcmp(fused, split, sizeof(split)));
}

/* Explicit padding equal to SAME's computes SAME; other padding is its own. */
TEST(explicit_padding_of_same_size_equals_same)
{
	int8_t same[H * W * OC], expl[H * W * OC], asym[(H + 1) * W * OC];
	const unsigned int pads[4] = { 1, 1, 1, 1 }, other[4] = { 2, 1, 1, 1 };
	struct apu_graph *g;
	struct apu_device *dev;
	int in, c;

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_graph_create(&g));
	in = act_tensor(g, H, W, C, 0.04f, 3);
	c = add_conv(g, in, APU_GRAPH_PAD_SAME, NULL, APU_GRAPH_ACT_NONE, H, W);
	ASSERT_EQ(0, run(dev, g, in, c, same, sizeof(same), NULL));
	apu_graph_destroy(g);
	ASSERT_EQ(0, apu_graph_create(&g));
	in = act_tensor(g, H, W, C, 0.04f, 3);
	c = add_conv(g, in, APU_GRAPH_PAD_EXPLICIT, pads, APU_GRAPH_ACT_NONE, H, W);
	ASSERT_EQ(0, run(dev, g, in, c, expl, sizeof(expl), NULL));
	apu_graph_destroy(g);
	EXPECT_EQ(0, memcmp(same, expl, sizeof(same)));
	/* One more row on top: the first output row is a new one, the rest shift. */
	ASSERT_EQ(0, apu_graph_create(&g));
	in = act_tensor(g, H, W, C, 0.04f, 3);
	c = add_conv(g, in, APU_GRAPH_PAD_EXPLICIT, other, APU_GRAPH_ACT_NONE, H + 1, W);
	ASSERT_EQ(0, run(dev, g, in, c, asym, sizeof(asym), NULL));
	apu_graph_destroy(g);
	apu_device_close(dev);
	EXPECT_EQ(0, memcmp(same, asym + W * OC, sizeof(same) - W * OC));
}

/* Pools: explicit SAME padding runs as SAME; other padding is refused. */
TEST(pool_takes_explicit_same_padding_and_refuses_other)
{
	struct apu_graph *g;
	struct apu_device *dev;
	struct apu_model *m = NULL;
	char err[200] = "";
	int in, out;
	struct apu_graph_op op = { .code = APU_GRAPH_AVERAGE_POOL_2D, .padding = APU_GRAPH_PAD_EXPLICIT,
				   .pad = { 1, 1, 1, 1 }, .stride_w = 1, .stride_h = 1,
				   .filter_w = 3, .filter_h = 3, .nin = 1, .nout = 1 };

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	for (int bad = 0; bad < 2; bad++) {
		ASSERT_EQ(0, apu_graph_create(&g));
		in = act_tensor(g, H, W, C, 0.04f, 3);
		out = act_tensor(g, H + bad, W, C, 0.04f, 3);
		op.pad[0] = 1 + bad;
		op.inputs = &in;
		op.outputs = &out;
		ASSERT_LE(0, apu_graph_add_op(g, &op));
		ASSERT_EQ(0, apu_graph_set_inputs(g, &in, 1));
		ASSERT_EQ(0, apu_graph_set_outputs(g, &out, 1));
		EXPECT_EQ(bad ? -EOPNOTSUPP : 0, apu_model_create(dev, g, &m, err, sizeof(err)));
		if (bad)
			EXPECT_NE(NULL, strstr(err, "only SAME's or none"));
		apu_model_destroy(m);
		m = NULL;
		apu_graph_destroy(g);
	}
	apu_device_close(dev);
}

/* The model copies what it needs: the graph may go before the model runs. */
TEST(model_runs_after_its_graph_is_destroyed)
{
	int8_t want[H * W * OC], got[H * W * OC], input[H * W * C];
	struct apu_compile_options o = { .priority = 1 };
	struct apu_device *dev;
	struct apu_graph *g;
	struct apu_model *m = NULL;
	char err[200] = "";
	int in, c;

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_graph_create(&g));
	in = act_tensor(g, H, W, C, 0.04f, 3);
	c = add_conv(g, in, APU_GRAPH_PAD_SAME, NULL, APU_GRAPH_ACT_RELU, H, W);
	ASSERT_EQ(0, run(dev, g, in, c, want, sizeof(want), NULL));
	ASSERT_EQ(0, apu_model_create(dev, g, &m, err, sizeof(err)));
	apu_graph_destroy(g);
	rng_seed(7);
	for (size_t i = 0; i < sizeof(input); i++)
		input[i] = (int8_t)rnd_range(-128, 127);
	ASSERT_EQ(0, apu_model_compile(m, &o, sizeof(o)));
	ASSERT_EQ(0, apu_model_set_input(m, 0, input, sizeof(input)));
	ASSERT_EQ(0, apu_model_run(m, NULL));
	ASSERT_EQ(0, apu_model_get_output(m, 0, got, sizeof(got)));
	EXPECT_EQ(0, memcmp(want, got, sizeof(got)));
	apu_model_destroy(m);
	apu_device_close(dev);
}

/*
 * One 3x3 convolution (SAME, per-channel weights of values in [-8, 7]) given
 * as int8 or as int4 packed by hand here (element 2i in the low nibble);
 * the output in @result.
 */
static int run_conv_of_type(struct apu_device *dev, enum apu_graph_type type,
			    const int8_t *wts, int8_t *result, size_t n)
{
	uint8_t packed[(OC * 3 * 3 * C + 1) / 2];
	static int32_t bias[OC];
	struct apu_graph_tensor wt = {
		.type = type, .ndims = 4, .dims = { OC, 3, 3, C },
		.nquant = OC, .scales = w_scales, .zero_points = w_zps, .quant_dim = 0,
	};
	struct apu_graph_tensor bt = {
		.type = APU_GRAPH_INT32, .ndims = 1, .dims = { OC },
		.data = bias, .data_size = sizeof(bias),
	};
	struct apu_graph_op op = { .code = APU_GRAPH_CONV_2D, .padding = APU_GRAPH_PAD_SAME,
				   .stride_w = 1, .stride_h = 1, .nin = 3, .nout = 1 };
	struct apu_graph *g;
	int ins[3], out, ret;

	for (int i = 0; i < OC; i++)
		bias[i] = 100 * i - 250;
	if (type == APU_GRAPH_INT4) {
		memset(packed, 0, sizeof(packed));
		for (int i = 0; i < OC * 3 * 3 * C; i++)
			packed[i / 2] |= (uint8_t)((wts[i] & 0xf) << (i % 2 ? 4 : 0));
		wt.data = packed;
		wt.data_size = sizeof(packed);
	} else {
		wt.data = wts;
		wt.data_size = OC * 3 * 3 * C;
	}
	if (apu_graph_create(&g))
		return -ENOMEM;
	ins[0] = act_tensor(g, H, W, C, 0.04f, 3);
	ins[1] = apu_graph_add_tensor(g, &wt);
	ins[2] = apu_graph_add_tensor(g, &bt);
	out = act_tensor(g, H, W, OC, 0.05f, -10);
	op.inputs = ins;
	op.outputs = &out;
	ret = ins[0] < 0 || ins[1] < 0 || ins[2] < 0 || out < 0 ? -EINVAL : 0;
	if (!ret)
		ret = apu_graph_add_op(g, &op) < 0 ? -EINVAL : 0;
	if (!ret)
		ret = run(dev, g, ins[0], out, result, n, NULL);
	apu_graph_destroy(g);
	return ret;
}

/* int4 weights: the same output as the int8 weights of the same values. */
TEST(int4_weights_compute_what_the_same_int8_weights_compute)
{
	int8_t wts[OC * 3 * 3 * C], as_int8[H * W * OC], as_int4[H * W * OC];
	uint8_t two[2] = { 0 };
	struct apu_graph_tensor t = {
		.type = APU_GRAPH_INT4, .ndims = 1, .dims = { 3 }, .data = two,
	};
	struct apu_device *dev;
	struct apu_graph *g;

	rng_seed(99);
	for (size_t i = 0; i < sizeof(wts); i++)
		wts[i] = (int8_t)rnd_range(-8, 7);
	wts[0] = -8;
	wts[1] = 7;
	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, run_conv_of_type(dev, APU_GRAPH_INT8, wts, as_int8, sizeof(as_int8)));
	ASSERT_EQ(0, run_conv_of_type(dev, APU_GRAPH_INT4, wts, as_int4, sizeof(as_int4)));
	EXPECT_EQ(0, memcmp(as_int8, as_int4, sizeof(as_int8)));
	apu_device_close(dev);

	/* Three int4 values take two bytes, no more, no less; no int4 activations. */
	ASSERT_EQ(0, apu_graph_create(&g));
	t.data_size = 2;
	EXPECT_LE(0, apu_graph_add_tensor(g, &t));
	t.data_size = 3;
	EXPECT_EQ(-EINVAL, apu_graph_add_tensor(g, &t));
	t.data_size = 1;
	EXPECT_EQ(-EINVAL, apu_graph_add_tensor(g, &t));
	t.data = NULL;
	t.data_size = 0;
	EXPECT_EQ(-EINVAL, apu_graph_add_tensor(g, &t));
	apu_graph_destroy(g);
}

TEST_HARNESS_MAIN
