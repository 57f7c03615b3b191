/* SPDX-License-Identifier: MIT */
/*
 * Random convolutions for the host tests that check one implementation
 * against another: libapu's reference against the device's engine
 * (hal_net_test) and against XNNPACK (hal_xnnpack_test). Draws from
 * test_rng.h, so a seed gives the same cases everywhere.
 */
#ifndef TEST_CONV_H
#define TEST_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "test_rng.h"
#include "apu_internal.h"

/* What random_conv() draws from. */
struct conv_bounds {
	int max_hw;		/* input height and width: 1 to max_hw */
	int max_dw_c;		/* depthwise: 1 to max_dw_c channels ... */
	int max_dw_mult;	/* ... times 1 to max_dw_mult */
	int max_group_c;	/* else 1 to 3 groups of 1 to max_group_c channels */
	int max_stride;		/* strides 1 to max_stride */
	bool asym_pad;		/* bottom and right padding drawn apart */
};

/*
 * A random convolution in @p: depthwise one time in three (groups ==
 * in_c, with a channel multiplier), else plain or grouped; kernel 1 to 5,
 * dilation 1 or 2, explicit padding smaller than the kernel (bottom and
 * right in *@pb and *@pr: top and left again unless @b->asym_pad), random
 * zero points, activation -128 to 127. False when the kernel does not fit
 * its padded input (no case: draw again).
 */
static inline bool random_conv(struct apu_ref_conv *p, const struct conv_bounds *b,
			       int *pb, int *pr)
{
	int g, fit_h, fit_w;

	memset(p, 0, sizeof(*p));
	p->in_h = rnd_range(1, b->max_hw);
	p->in_w = rnd_range(1, b->max_hw);
	if (rnd() % 3 == 0) {
		p->in_c = rnd_range(1, b->max_dw_c);
		g = p->in_c;
		p->out_c = p->in_c * rnd_range(1, b->max_dw_mult);
	} else {
		g = rnd_range(1, 3);
		p->in_c = g * rnd_range(1, b->max_group_c);
		p->out_c = g * rnd_range(1, b->max_group_c);
	}
	p->groups = g;
	p->k_h = rnd_range(1, 5);
	p->k_w = rnd_range(1, 5);
	p->stride_h = rnd_range(1, b->max_stride);
	p->stride_w = rnd_range(1, b->max_stride);
	p->dil_h = rnd_range(1, 2);
	p->dil_w = rnd_range(1, 2);
	p->pad_top = rnd_range(0, p->k_h - 1);
	p->pad_left = rnd_range(0, p->k_w - 1);
	*pb = b->asym_pad ? rnd_range(0, p->k_h - 1) : p->pad_top;
	*pr = b->asym_pad ? rnd_range(0, p->k_w - 1) : p->pad_left;
	/* The padded input less the dilated kernel: negative, it does not fit. */
	fit_h = p->in_h + p->pad_top + *pb - ((p->k_h - 1) * p->dil_h + 1);
	fit_w = p->in_w + p->pad_left + *pr - ((p->k_w - 1) * p->dil_w + 1);
	p->out_h = fit_h / p->stride_h + 1;
	p->out_w = fit_w / p->stride_w + 1;
	p->in_zp = rnd_range(-128, 127);
	p->out_zp = rnd_range(-128, 127);
	p->act_min = -128;
	p->act_max = 127;
	return fit_h >= 0 && fit_w >= 0;
}

/* Sizes of a convolution's input, weights and output, in bytes. */
static inline size_t conv_in_n(const struct apu_ref_conv *p)
{
	return (size_t)p->in_h * p->in_w * p->in_c;
}

static inline size_t conv_w_n(const struct apu_ref_conv *p)
{
	return (size_t)p->out_c * p->k_h * p->k_w * (p->in_c / p->groups);
}

static inline size_t conv_out_n(const struct apu_ref_conv *p)
{
	return (size_t)p->out_h * p->out_w * p->out_c;
}

/* @n random values from @lo to @hi. */
static inline void fill_rnd(int8_t *v, size_t n, int lo, int hi)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (int8_t)rnd_range(lo, hi);
}

#endif /* TEST_CONV_H */
