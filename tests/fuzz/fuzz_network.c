// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: network descriptions, the outside input of libapu.
 * The bytes become a network (an input, up to six convolutions, fully
 * connected layers, adds and average pools on any earlier tensor, with
 * fuzzed parameters, weights and quantization), which is compiled under a
 * fuzzed policy and core mask and, when accepted, run on the CPU backend
 * (the same planner and command buffers as on the device) and read back.
 * Invalid descriptions must be refused with an error code; ASan and UBSan
 * turn anything else into a crash.
 *
 *   build/fuzz/fuzz_network [-runs=N] [corpus dir]   (make fuzz)
 *
 * Copyright (c) 2026 The apu authors
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apu/apu.h"

struct bytes {
	const uint8_t *p;
	size_t n;
};

static uint32_t take(struct bytes *b, int nbytes)
{
	uint32_t v = 0;

	while (nbytes--) {
		v = v << 8 | (b->n ? *b->p : 0);
		if (b->n) {
			b->p++;
			b->n--;
		}
	}
	return v;
}

/* A value in [lo, hi]. */
static int range(struct bytes *b, int lo, int hi)
{
	return lo + (int)(take(b, 1) % (uint32_t)(hi - lo + 1));
}

static void fill(struct bytes *b, void *dst, size_t size)
{
	uint8_t *d = dst;

	for (size_t i = 0; i < size; i++)
		d[i] = (uint8_t)take(b, 1);
}

/* A multiplier and shift: mostly sensible, sometimes anything. */
static void quant(struct bytes *b, int32_t *mult, int32_t *shift)
{
	if (take(b, 1) % 8) {
		int s;

		apu_quantize_multiplier((double)(take(b, 2) + 1) / 65536.0 / (1 << range(b, 0, 12)),
					mult, &s);
		*shift = s;
	} else {
		*mult = (int32_t)take(b, 4);
		*shift = (int32_t)(int8_t)take(b, 1);
	}
}

/* A padding mode (3: invalid) and its four amounts. */
static void padding(struct bytes *b, enum apu_padding *pad, unsigned int *top,
		    unsigned int *left, unsigned int *bottom, unsigned int *right)
{
	*pad = (enum apu_padding)range(b, 0, 3);
	*top = (unsigned int)range(b, 0, 4);
	*left = (unsigned int)range(b, 0, 4);
	*bottom = (unsigned int)range(b, 0, 4);
	*right = (unsigned int)range(b, 0, 4);
}

static int add_conv(struct bytes *b, struct apu_network *net, int in, int fc, int *out)
{
	struct apu_shape s;
	struct apu_conv2d p = { 0 };
	size_t nw;
	int ret;

	if (apu_network_shape(net, in, &s))
		return -EINVAL;
	p.out_c = (unsigned int)range(b, 0, 20);
	p.k_h = (unsigned int)range(b, 0, 5);
	p.k_w = take(b, 1) % 4 ? p.k_h : (unsigned int)range(b, 0, 5);
	p.stride_h = (unsigned int)range(b, 0, 3);
	p.stride_w = (unsigned int)range(b, 0, 3);
	p.dil_h = (unsigned int)range(b, 0, 2);
	p.dil_w = (unsigned int)range(b, 0, 2);
	switch (range(b, 0, 3)) {
	case 0:
		p.groups = 1;
		break;
	case 1:	/* depthwise, multiplier 1..2 */
		p.groups = s.c;
		p.out_c = s.c * (unsigned int)range(b, 1, 2);
		break;
	default:
		p.groups = (unsigned int)range(b, 0, 4);
		break;
	}
	padding(b, &p.padding, &p.pad_top, &p.pad_left, &p.pad_bottom, &p.pad_right);
	p.in_zp = (int8_t)take(b, 1);
	p.out_zp = (int8_t)take(b, 1);
	p.act_min = (int8_t)take(b, 1);
	p.act_max = take(b, 1) % 4 ? 127 : (int8_t)take(b, 1);
	/* Enough weights for any grouping the shapes allow. */
	nw = (size_t)p.out_c * (p.k_h ? p.k_h : 1) * (p.k_w ? p.k_w : 1) * s.c;
	if (fc)
		nw = (size_t)p.out_c * s.h * s.w * s.c;
	{
		int8_t *w = malloc(nw + 1);
		int32_t *bias = malloc(sizeof(int32_t) * (p.out_c + 1));
		int32_t *mult = malloc(sizeof(int32_t) * (p.out_c + 1));
		int32_t *shift = malloc(sizeof(int32_t) * (p.out_c + 1));

		if (!w || !bias || !mult || !shift) {
			ret = -ENOMEM;
		} else {
			fill(b, w, nw);
			for (unsigned int c = 0; c < p.out_c; c++) {
				bias[c] = (int32_t)(int16_t)take(b, 2);
				quant(b, &mult[c], &shift[c]);
			}
			p.weights = w;
			p.bias = take(b, 1) % 4 ? bias : NULL;
			p.mult = mult;
			p.shift = shift;
			ret = fc ? apu_network_add_fully_connected(net, in, &p, out) :
				   apu_network_add_conv2d(net, in, &p, out);
		}
		/* The network keeps its own copies. */
		free(w);
		free(bias);
		free(mult);
		free(shift);
	}
	return ret;
}

static int add_add(struct bytes *b, struct apu_network *net, int nt, int *out)
{
	struct apu_add p;
	int a = range(b, 0, nt - 1), c = take(b, 1) % 2 ? a : range(b, 0, nt - 1);

	p.left_shift = range(b, -1, 31);
	p.in1_offset = (int8_t)take(b, 1);
	p.in2_offset = (int8_t)take(b, 1);
	quant(b, &p.in1_mult, &p.in1_shift);
	quant(b, &p.in2_mult, &p.in2_shift);
	quant(b, &p.out_mult, &p.out_shift);
	p.out_zp = (int8_t)take(b, 1);
	p.act_min = (int8_t)take(b, 1);
	p.act_max = (int8_t)take(b, 1);
	return apu_network_add_add(net, a, c, &p, out);
}

static int add_pool(struct bytes *b, struct apu_network *net, int in, int *out)
{
	struct apu_avgpool p;

	p.k_h = (unsigned int)range(b, 0, 4);
	p.k_w = (unsigned int)range(b, 0, 4);
	p.stride_h = (unsigned int)range(b, 0, 3);
	p.stride_w = (unsigned int)range(b, 0, 3);
	padding(b, &p.padding, &p.pad_top, &p.pad_left, &p.pad_bottom, &p.pad_right);
	p.act_min = (int8_t)take(b, 1);
	p.act_max = (int8_t)take(b, 1);
	return apu_network_add_avgpool(net, in, &p, out);
}

static struct apu_device *dev;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bytes b = { data, size };
	struct apu_network *net;
	struct apu_shape s;
	struct apu_compile_options o = { 0 };
	int nt = 0, in, t, nops, ret;
	uint8_t buf[16 * 16 * 20];

	if (!dev && apu_device_open_cpu(&dev))
		abort();
	if (apu_network_create(dev, &net))
		abort();
	s.h = (unsigned int)range(&b, 0, 12);
	s.w = (unsigned int)range(&b, 0, 12);
	s.c = (unsigned int)range(&b, 0, 16);
	if (apu_network_add_input(net, &s, &in))
		goto out;
	nt = 1;
	nops = range(&b, 1, 6);
	for (int i = 0; i < nops; i++) {
		int from = range(&b, 0, nt - 1);

		switch (range(&b, 0, 3)) {
		case 0:
			ret = add_conv(&b, net, from, 0, &t);
			break;
		case 1:
			ret = add_conv(&b, net, from, 1, &t);
			break;
		case 2:
			ret = add_add(&b, net, nt, &t);
			break;
		default:
			ret = add_pool(&b, net, from, &t);
			break;
		}
		if (ret == -ENOMEM)
			abort();
		if (!ret)
			nt++;
	}
	o.policy = (enum apu_policy)range(&b, 0, 4);
	o.deadline_us = take(&b, 2);
	o.priority = (unsigned int)range(&b, 0, 1);
	o.core_mask = take(&b, 1) % 3 ? 0 : take(&b, 1);
	if (apu_network_compile(net, &o, sizeof(o)))
		goto out;
	if (apu_network_shape(net, in, &s) == 0 && (size_t)s.h * s.w * s.c <= sizeof(buf)) {
		fill(&b, buf, sizeof(buf));
		if (apu_network_write(net, in, buf, (size_t)s.h * s.w * s.c))
			abort();
	}
	if (apu_network_run(net, NULL))
		abort();
	for (t = 0; t < nt; t++) {
		size_t n;

		if (apu_network_shape(net, t, &s))
			abort();
		n = (size_t)s.h * s.w * s.c;
		if (n <= sizeof(buf) && apu_network_read(net, t, buf, n))
			abort();
	}
out:
	apu_network_destroy(net);
	return 0;
}
