// SPDX-License-Identifier: MIT
/*
 * The CPU reference: plain loops with TFLite's int8 arithmetic, written
 * from the specification (docs/hw.md), independently of the device's
 * engine. Tests compare the device against it; the CPU backend runs it.
 */
#include <math.h>

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

void apu_ref_int4_unpack(const uint8_t *packed, size_t n, int8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int v = i % 2 ? packed[i / 2] >> 4 : packed[i / 2] & 0xf;

		out[i] = (int8_t)(v >= 8 ? v - 16 : v);
	}
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
				/* int32 wraps as the device's accumulator does. */
				uint32_t acc = bias ? (uint32_t)bias[oc] : 0;

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

							acc += (uint32_t)((px[i] - p->in_zp) *
									  (wv - p->w_zp));
						}
					}
				}
				out[((size_t)oy * p->out_w + ox) * p->out_c + oc] =
					clamp8((int32_t)((uint32_t)apu_ref_mbqm((int32_t)acc, mult[oc],
										 shift[oc]) +
							 (uint32_t)p->out_zp),
					       p->act_min, p->act_max);
			}
}

void apu_ref_add(size_t count, const struct apu_add *p, const int8_t *a,
		 const int8_t *b, int8_t *out)
{
	apu_ref_add_bcast(count, count, p, a, b, out);
}

void apu_ref_add_bcast(size_t count, size_t period, const struct apu_add *p, const int8_t *a,
		       const int8_t *b, int8_t *out)
{
	for (size_t i = 0; i < count; i++) {
		int32_t x = (int32_t)((uint32_t)(a[i] + p->in1_offset) << p->left_shift);
		int32_t y = (int32_t)((uint32_t)(b[i % period] + p->in2_offset) << p->left_shift);
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
				/* 64 bits: past 2^24 taps an int32 sum overflows. */
				int64_t sum = 0, n = 0, v;

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
					int64_t t = sum + n / 2;

					if (p->round_uint8)	/* uint8's half up: floor */
						v = t >= 0 ? t / n : -((-t + n - 1) / n);
					else	/* half away from zero */
						v = sum > 0 ? t / n : (sum - n / 2) / n;
				}
				out[((size_t)oy * p->out_w + ox) * p->channels + c] =
					clamp8((int32_t)(v < -128 ? -128 : v > 127 ? 127 : v),
					       p->act_min, p->act_max);
			}
}

void apu_ref_maxpool(const struct apu_ref_pool *p, const int8_t *in, int8_t *out)
{
	for (int oy = 0; oy < p->out_h; oy++)
		for (int ox = 0; ox < p->out_w; ox++)
			for (int c = 0; c < p->channels; c++) {
				int8_t m = -128;

				for (int ky = 0; ky < p->k_h; ky++)
					for (int kx = 0; kx < p->k_w; kx++) {
						int iy = oy * p->stride_h - p->pad_top + ky;
						int ix = ox * p->stride_w - p->pad_left + kx;
						int8_t v;

						if (iy < 0 || ix < 0 || iy >= p->in_h || ix >= p->in_w)
							continue;
						v = in[((size_t)iy * p->in_w + ix) * p->channels + c];
						if (v > m)
							m = v;
					}
				out[((size_t)oy * p->out_w + ox) * p->channels + c] =
					clamp8(m, p->act_min, p->act_max);
			}
}

void apu_ref_mul(size_t count, size_t period, const struct apu_mul *p, const int8_t *a,
		 const int8_t *b, int8_t *out)
{
	for (size_t i = 0; i < count; i++) {
		int32_t x = a[i] + p->in1_offset, y = b[i % period] + p->in2_offset;
		int32_t v = apu_ref_mbqm(x * y, p->out_mult, p->out_shift);

		out[i] = clamp8((int32_t)((uint32_t)v + (uint32_t)p->out_zp), p->act_min,
				p->act_max);
	}
}

void apu_ref_lut(size_t count, const int8_t *table, const int8_t *in, int8_t *out)
{
	for (size_t i = 0; i < count; i++)
		out[i] = table[in[i] + 128];
}

void apu_ref_mean(const struct apu_shape *s, const struct apu_mean *p, const int8_t *in,
		  int8_t *out)
{
	int64_t n = (int64_t)s->h * s->w;

	if (!n)
		return;
	for (unsigned int c = 0; c < s->c; c++) {
		uint32_t acc = 0;
		int64_t v;

		for (size_t px = 0; px < (size_t)n; px++)
			acc += (uint32_t)(in[px * s->c + c] - p->in_zp);
		v = apu_ref_mbqm((int32_t)acc, p->mult, p->shift);
		v = v > 0 ? (v + n / 2) / n : (v - n / 2) / n;
		v += p->out_zp;
		out[c] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
	}
}

void apu_ref_softmax(size_t pixels, size_t channels, const struct apu_softmax *p,
		     const int8_t *in, int8_t *out)
{
	for (size_t px = 0; px < pixels; px++) {
		const int8_t *x = in + px * channels;
		int8_t *y = out + px * channels;
		double sum = 0;
		int8_t m = -128;

		for (size_t c = 0; c < channels; c++)
			if (x[c] > m)
				m = x[c];
		for (size_t c = 0; c < channels; c++)
			sum += exp(p->beta_scale * (x[c] - m));
		for (size_t c = 0; c < channels; c++) {
			double q = round(exp(p->beta_scale * (x[c] - m)) / sum / p->out_scale) +
				   p->out_zp;

			y[c] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
		}
	}
}
