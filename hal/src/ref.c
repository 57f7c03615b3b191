// SPDX-License-Identifier: MIT
/*
 * The CPU reference: plain loops with TFLite's int8 arithmetic, written
 * from the specification (docs/hw.md), independently of the device's
 * engine. Tests compare the device against it; the CPU backend runs it.
 */
#include "apu_internal.h"

static int32_t srdhm(int32_t a, int32_t b)
{
	int64_t ab, nudge;

	if (a == INT32_MIN && b == INT32_MIN)
		return INT32_MAX;
	ab = (int64_t)a * b;
	nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
	return (int32_t)((ab + nudge) / (1ll << 31));
}

static int32_t rdbpot(int32_t x, int exponent)
{
	int32_t mask = (int32_t)((1ll << exponent) - 1);
	int32_t rem = x & mask;
	int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);

	return (x >> exponent) + (rem > threshold ? 1 : 0);
}

int32_t apu_ref_mbqm(int32_t acc, int32_t mult, int shift)
{
	int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;

	return rdbpot(srdhm((int32_t)((uint32_t)acc << left), mult), right);
}

static int8_t clamp8(int32_t v, int32_t lo, int32_t hi)
{
	return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

void apu_ref_conv2d(const struct apu_ref_conv *p, const int8_t *in, const int8_t *w,
		    const int32_t *bias, const int32_t *mult, const int32_t *shift,
		    int8_t *out)
{
	int icg = p->in_c / p->groups, ocg = p->out_c / p->groups;
	int dw = p->groups == p->in_c && p->groups > 1;

	for (int oy = 0; oy < p->out_h; oy++)
		for (int ox = 0; ox < p->out_w; ox++)
			for (int oc = 0; oc < p->out_c; oc++) {
				int g = oc / ocg;
				int32_t acc = bias ? bias[oc] : 0;

				for (int ky = 0; ky < p->k_h; ky++) {
					int iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;

					if (iy < 0 || iy >= p->in_h)
						continue;
					for (int kx = 0; kx < p->k_w; kx++) {
						int ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
						const int8_t *px;

						if (ix < 0 || ix >= p->in_w)
							continue;
						px = in + ((size_t)iy * p->in_w + ix) * p->in_c + g * icg;
						for (int i = 0; i < icg; i++) {
							int8_t wv = dw ?
								w[((size_t)ky * p->k_w + kx) * p->out_c + oc] :
								w[(((size_t)oc * p->k_h + ky) * p->k_w + kx) *
								  icg + i];

							acc += (px[i] - p->in_zp) * wv;
						}
					}
				}
				out[((size_t)oy * p->out_w + ox) * p->out_c + oc] =
					clamp8(apu_ref_mbqm(acc, mult[oc], shift[oc]) + p->out_zp,
					       p->act_min, p->act_max);
			}
}

void apu_ref_add(size_t count, const struct apu_add *p, const int8_t *a,
		 const int8_t *b, int8_t *out)
{
	for (size_t i = 0; i < count; i++) {
		int32_t x = (int32_t)((uint32_t)(a[i] + p->in1_offset) << p->left_shift);
		int32_t y = (int32_t)((uint32_t)(b[i] + p->in2_offset) << p->left_shift);
		int32_t sum = (int32_t)((uint32_t)apu_ref_mbqm(x, p->in1_mult, p->in1_shift) +
					(uint32_t)apu_ref_mbqm(y, p->in2_mult, p->in2_shift));

		out[i] = clamp8((int32_t)((uint32_t)apu_ref_mbqm(sum, p->out_mult, p->out_shift) +
					  (uint32_t)p->out_zp), p->act_min, p->act_max);
	}
}

void apu_ref_avgpool(const struct apu_ref_pool *p, const int8_t *in, int8_t *out)
{
	for (int oy = 0; oy < p->out_h; oy++)
		for (int ox = 0; ox < p->out_w; ox++)
			for (int c = 0; c < p->channels; c++) {
				int32_t sum = 0, n = 0, v;

				for (int ky = 0; ky < p->k_h; ky++)
					for (int kx = 0; kx < p->k_w; kx++) {
						int iy = oy * p->stride_h - p->pad_top + ky;
						int ix = ox * p->stride_w - p->pad_left + kx;

						if (iy < 0 || ix < 0 || iy >= p->in_h || ix >= p->in_w)
							continue;
						sum += in[((size_t)iy * p->in_w + ix) * p->channels + c];
						n++;
					}
				if (!n) {
					v = 0;
				} else {
					/* Round half away from zero. */
					v = sum > 0 ? (sum + n / 2) / n : (sum - n / 2) / n;
				}
				out[((size_t)oy * p->out_w + ox) * p->channels + c] =
					clamp8(v, p->act_min, p->act_max);
			}
}
