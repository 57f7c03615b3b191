// SPDX-License-Identifier: MIT
/* Quantization helpers, as TFLite computes them. */
#include <errno.h>
#include <math.h>

#include "apu_internal.h"

int apu_quantize_multiplier(double scale, int32_t *mult, int *shift)
{
	double q;
	int64_t q_fixed;
	int s;

	if (!mult || !shift || !(scale >= 0.0) || isinf(scale))
		return -EINVAL;
	if (scale == 0.0) {
		*mult = 0;
		*shift = 0;
		return 0;
	}
	q = frexp(scale, &s);
	q_fixed = (int64_t)round(q * (double)(1ll << 31));
	if (q_fixed == (1ll << 31)) {
		q_fixed /= 2;
		s++;
	}
	if (s < -31) {		/* TFLite flushes such tiny scales to zero */
		*mult = 0;
		*shift = 0;
		return 0;
	}
	if (s > 30)
		return -EINVAL;
	*mult = (int32_t)q_fixed;
	*shift = s;
	return 0;
}

int apu_conv_requant(double in_scale, const float *w_scales, double out_scale,
		     unsigned int channels, int32_t *mult, int32_t *shift)
{
	unsigned int i;

	if (!w_scales || !mult || !shift || !(out_scale > 0.0))
		return -EINVAL;
	for (i = 0; i < channels; i++) {
		int s, ret = apu_quantize_multiplier(in_scale * w_scales[i] / out_scale,
						     &mult[i], &s);

		if (ret)
			return ret;
		shift[i] = s;
	}
	return 0;
}

int apu_int4_pack(const int8_t *values, size_t n, uint8_t *packed)
{
	if (!values || !packed)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (values[i] < -8 || values[i] > 7)
			return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		uint8_t nib = (uint8_t)values[i] & 0xf;

		if (i % 2)
			packed[i / 2] |= (uint8_t)(nib << 4);
		else
			packed[i / 2] = nib;
	}
	return 0;
}

/* Weight i of apu_quantize_int4()'s input: a float, or an int8 times its scale. */
struct int4_src {
	const float *f;
	const int8_t *q;
	const float *q_scales;
};

static double int4_src_at(const struct int4_src *s, size_t i, unsigned int c)
{
	if (s->f)
		return s->f[i];
	return (double)s->q[i] * (s->q_scales ? s->q_scales[c] : 1.0);
}

static int quantize_int4(const struct int4_src *s, size_t n, unsigned int channels,
			 size_t inner, uint8_t *packed, float *scales)
{
	if (!packed || !scales || !n || !channels || !inner || n / inner / channels == 0 ||
	    n % ((size_t)channels * inner))
		return -EINVAL;
	for (unsigned int c = 0; c < channels; c++)
		scales[c] = 0.0f;
	for (size_t i = 0; i < n; i++) {
		unsigned int c = (unsigned int)((i / inner) % channels);
		double v = fabs(int4_src_at(s, i, c));

		if (!isfinite(v))
			return -EINVAL;
		if (v > scales[c])
			scales[c] = (float)v;
	}
	for (unsigned int c = 0; c < channels; c++)
		/* A largest |w| so small that a seventh of it rounds to 0: scale 1. */
		scales[c] = scales[c] / 7.0f > 0.0f ? scales[c] / 7.0f : 1.0f;
	for (size_t i = 0; i < n; i++) {
		unsigned int c = (unsigned int)((i / inner) % channels);
		double q = round(int4_src_at(s, i, c) / scales[c]);
		uint8_t nib = (uint8_t)(int8_t)(q < -8 ? -8 : q > 7 ? 7 : q) & 0xf;

		if (i % 2)
			packed[i / 2] |= (uint8_t)(nib << 4);
		else
			packed[i / 2] = nib;
	}
	return 0;
}

int apu_quantize_int4(const float *w, size_t n, unsigned int channels, size_t inner,
		      uint8_t *packed, float *scales)
{
	struct int4_src s = { .f = w };

	if (!w)
		return -EINVAL;
	return quantize_int4(&s, n, channels, inner, packed, scales);
}

int apu_requantize_int4(const int8_t *w, const float *w_scales, size_t n, unsigned int channels,
			size_t inner, uint8_t *packed, float *scales)
{
	struct int4_src s = { .q = w, .q_scales = w_scales };

	if (!w)
		return -EINVAL;
	return quantize_int4(&s, n, channels, inner, packed, scales);
}
