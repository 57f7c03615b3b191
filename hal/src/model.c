// SPDX-License-Identifier: MIT
/*
 * Built-in networks: MobileNet V1 and V2 (224x224, width 1.0) at their real
 * layer shapes (../shared/workloads.md), int8, with weights, biases and
 * quantization drawn from a seed. They test correctness and scheduling,
 * not accuracy: the same seed gives the same network bit for bit.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "apu_internal.h"

struct rng {
	uint64_t s;
};

static uint32_t next(struct rng *r)
{
	r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(r->s >> 33);
}

/* Activation scales: ReLU6 outputs 6/255 with zero point -128. */
#define RELU6_SCALE (6.0 / 255.0)
#define LINEAR_SCALE 0.08

struct builder {
	struct apu_network *net;
	struct rng rng;
	int t;			/* current tensor */
	double scale;		/* its scale */
	int32_t zp;		/* its zero point */
};

/* A convolution with random weights; relu6 or linear output. */
static int conv(struct builder *b, unsigned int out_c, unsigned int k, unsigned int stride,
		unsigned int groups, bool relu6, bool fc)
{
	struct apu_shape in;
	struct apu_conv2d p;
	size_t wn;
	int8_t *w;
	int32_t *bias, *mult, *shift;
	float *ws;
	double out_scale = relu6 ? RELU6_SCALE : LINEAR_SCALE;
	unsigned int fan_in, i;
	int ret, out;

	apu_network_shape(b->net, b->t, &in);
	fan_in = fc ? in.h * in.w * in.c : k * k * (in.c / groups);
	wn = fc ? (size_t)out_c * fan_in :
	     groups == in.c && groups > 1 ? (size_t)k * k * out_c :
	     (size_t)out_c * k * k * (in.c / groups);
	w = malloc(wn);
	bias = malloc(4 * out_c);
	mult = malloc(4 * out_c);
	shift = malloc(4 * out_c);
	ws = malloc(sizeof(float) * out_c);
	if (!w || !bias || !mult || !shift || !ws) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t j = 0; j < wn; j++)
		w[j] = (int8_t)((int)(next(&b->rng) % 255) - 127);
	for (i = 0; i < out_c; i++) {
		/*
		 * Weight scale so that the output spreads over the int8 range:
		 * the accumulator's spread grows with sqrt(fan_in) * 73 * 70.
		 */
		ws[i] = (float)(out_scale * 48.0 / (b->scale * sqrt((double)fan_in) * 73.0 * 70.0) *
				(0.75 + (next(&b->rng) % 1000) / 2000.0));
		bias[i] = (int32_t)(next(&b->rng) % 20001) - 10000;
	}
	/* A few channels saturate on purpose. */
	bias[0] = 1 << 24;
	if (out_c > 1)
		bias[1] = -(1 << 24);
	ret = apu_conv_requant(b->scale, ws, out_scale, out_c, mult, shift);
	if (ret)
		goto out;
	memset(&p, 0, sizeof(p));
	p.out_c = out_c;
	p.k_h = p.k_w = k;
	p.stride_h = p.stride_w = stride;
	p.dil_h = p.dil_w = 1;
	p.groups = groups;
	p.padding = APU_PAD_SAME;
	p.in_zp = b->zp;
	p.out_zp = relu6 ? -128 : 0;
	p.act_min = -128;
	p.act_max = 127;
	p.weights = w;
	p.bias = bias;
	p.mult = mult;
	p.shift = shift;
	ret = fc ? apu_network_add_fully_connected(b->net, b->t, &p, &out) :
	      apu_network_add_conv2d(b->net, b->t, &p, &out);
	if (!ret) {
		b->t = out;
		b->scale = out_scale;
		b->zp = p.out_zp;
	}
out:
	free(w);
	free(bias);
	free(mult);
	free(shift);
	free(ws);
	return ret;
}

/* out = a + b, both linear (LINEAR_SCALE, zero point 0), as TFLite's ADD. */
static int residual(struct builder *b, int other)
{
	struct apu_add p = { .left_shift = 20, .out_zp = 0, .act_min = -128, .act_max = 127 };
	double twice = 2 * LINEAR_SCALE;
	int s1, s2, so, ret, out;

	ret = apu_quantize_multiplier(LINEAR_SCALE / twice, &p.in1_mult, &s1);
	if (!ret)
		ret = apu_quantize_multiplier(LINEAR_SCALE / twice, &p.in2_mult, &s2);
	if (!ret)
		ret = apu_quantize_multiplier(twice / ((1 << 20) * LINEAR_SCALE), &p.out_mult, &so);
	if (ret)
		return ret;
	p.in1_shift = s1;
	p.in2_shift = s2;
	p.out_shift = so;
	ret = apu_network_add_add(b->net, b->t, other, &p, &out);
	if (!ret)
		b->t = out;
	return ret;
}

static int pool_and_fc(struct builder *b)
{
	struct apu_avgpool ap = { .k_h = 7, .k_w = 7, .stride_h = 1, .stride_w = 1,
				  .padding = APU_PAD_VALID, .act_min = -128, .act_max = 127 };
	int ret, out;

	ret = apu_network_add_avgpool(b->net, b->t, &ap, &out);
	if (ret)
		return ret;
	b->t = out;
	return conv(b, 1001, 1, 1, 1, false, true);
}

static int mobilenet_v1(struct builder *b)
{
	static const struct { unsigned int out, stride; } dw[] = {
		{ 64, 1 }, { 128, 2 }, { 128, 1 }, { 256, 2 }, { 256, 1 }, { 512, 2 },
		{ 512, 1 }, { 512, 1 }, { 512, 1 }, { 512, 1 }, { 512, 1 }, { 1024, 2 },
		{ 1024, 1 },
	};
	int ret = conv(b, 32, 3, 2, 1, true, false);

	for (size_t i = 0; !ret && i < sizeof(dw) / sizeof(dw[0]); i++) {
		struct apu_shape s;

		apu_network_shape(b->net, b->t, &s);
		ret = conv(b, s.c, 3, dw[i].stride, s.c, true, false);
		if (!ret)
			ret = conv(b, dw[i].out, 1, 1, 1, true, false);
	}
	return ret ? ret : pool_and_fc(b);
}

static int mobilenet_v2(struct builder *b)
{
	static const struct { unsigned int t, c, n, s; } blocks[] = {
		{ 1, 16, 1, 1 }, { 6, 24, 2, 2 }, { 6, 32, 3, 2 }, { 6, 64, 4, 2 },
		{ 6, 96, 3, 1 }, { 6, 160, 3, 2 }, { 6, 320, 1, 1 },
	};
	int ret = conv(b, 32, 3, 2, 1, true, false);

	for (size_t i = 0; !ret && i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		for (unsigned int r = 0; !ret && r < blocks[i].n; r++) {
			unsigned int stride = r == 0 ? blocks[i].s : 1;
			struct apu_shape s;
			int block_in = b->t;

			apu_network_shape(b->net, b->t, &s);
			if (blocks[i].t != 1)
				ret = conv(b, s.c * blocks[i].t, 1, 1, 1, true, false);
			if (!ret) {
				apu_network_shape(b->net, b->t, &s);
				ret = conv(b, s.c, 3, stride, s.c, true, false);
			}
			if (!ret)
				ret = conv(b, blocks[i].c, 1, 1, 1, false, false);
			if (!ret && stride == 1 && r > 0)
				ret = residual(b, block_in);
		}
	}
	if (!ret)
		ret = conv(b, 1280, 1, 1, 1, true, false);
	return ret ? ret : pool_and_fc(b);
}

int apu_network_build_model(struct apu_network *net, enum apu_builtin_model model, unsigned int seed,
			    int *input, int *output)
{
	struct apu_shape in = { 224, 224, 3 };
	struct builder b = { .net = net, .rng = { seed * 2654435761ull + 1 },
			     .scale = 1.0 / 128, .zp = 0 };
	int ret;

	if (!net || !input || !output ||
	    (model != APU_MODEL_MOBILENET_V1 && model != APU_MODEL_MOBILENET_V2))
		return -EINVAL;
	ret = apu_network_add_input(net, &in, &b.t);
	if (ret)
		return ret;
	*input = b.t;
	ret = model == APU_MODEL_MOBILENET_V1 ? mobilenet_v1(&b) : mobilenet_v2(&b);
	if (!ret)
		*output = b.t;
	return ret;
}
