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
