// SPDX-License-Identifier: MIT
/*
 * Image resizing, bit-exact with Pillow's NEAREST and TFLite's uint8
 * RESIZE_BILINEAR (half-pixel centres). The arithmetic is defined in
 * hal/include/apu/apu_image.h; this file follows it operation by operation.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "apu/apu_image.h"

/* Bytes of a w x h x c image into *out; false when it overflows size_t. */
static int image_bytes(unsigned int w, unsigned int h, unsigned int c, size_t *out)
{
	size_t row;

	if ((size_t)w > SIZE_MAX / c)
		return 0;
	row = (size_t)w * c;
	if (row > SIZE_MAX / h)
		return 0;
	*out = row * h;
	return 1;
}

/*
 * Pillow's ImagingScaleAffine() with a = (src/dst, 0, 0; 0, src/dst, 0):
 * the source coordinate starts at half a step and grows by one step per
 * output pixel, summed in double; (int) truncates it (it is never negative).
 * Coordinates at or past the edge leave Pillow's zero fill.
 */
static void resize_nearest(const uint8_t *src, unsigned int src_w, unsigned int src_h,
			   unsigned int ch, uint8_t *dst, unsigned int dst_w,
			   unsigned int dst_h)
{
	const double sx = (double)src_w / (double)dst_w;
	const double sy = (double)src_h / (double)dst_h;
	const size_t src_row = (size_t)src_w * ch, dst_row = (size_t)dst_w * ch;
	double yo = sy * 0.5;
	unsigned int x, y;

	for (y = 0; y < dst_h; y++, yo += sy) {
		const int64_t yi = (int64_t)yo;
		uint8_t *out = dst + (size_t)y * dst_row;
		double xo = sx * 0.5;

		if (yi >= (int64_t)src_h) {
			memset(out, 0, dst_row);
			continue;
		}
		for (x = 0; x < dst_w; x++, xo += sx) {
			const int64_t xi = (int64_t)xo;

			if (xi < (int64_t)src_w)
				memcpy(out + (size_t)x * ch,
				       src + (size_t)yi * src_row + (size_t)xi * ch, ch);
			else
				memset(out + (size_t)x * ch, 0, ch);
		}
	}
}

/*
 * @x rounded to float as a stored float: a product passed through here is
 * never fused with the addition that follows into one FMA, whatever the
 * compiler's -ffp-contract (GCC's GNU modes fuse across statements, and do
 * on arm64 and x86-64 with FMA), so the result is the same on every build.
 */
static inline float rounded(float x)
{
	volatile float v = x;

	return v;
}

/* TFLite's ComputeInterpolationValues(), half_pixel_centers = true. */
struct interp {
	size_t i0, i1;	/* source indices */
	float d;	/* fy - i0 (negative before the first centre) */
	float w;	/* 1 - d */
};

static struct interp interp_at(unsigned int o, float scale, unsigned int size)
{
	struct interp r;
	const float f = rounded(((float)o + 0.5f) * scale) - 0.5f;
	int64_t lo, hi;

	lo = (int64_t)floorf(f);
	hi = (int64_t)ceilf(f);
	if (lo < 0)
		lo = 0;
	if (lo > (int64_t)size - 1)	/* see apu_image.h: never for sane sizes */
		lo = (int64_t)size - 1;
	if (hi > (int64_t)size - 1)
		hi = (int64_t)size - 1;
	if (hi < 0)
		hi = 0;
	r.i0 = (size_t)lo;
	r.i1 = (size_t)hi;
	r.d = f - (float)lo;
	r.w = 1.0f - r.d;
	return r;
}

static void resize_bilinear(const uint8_t *src, unsigned int src_w, unsigned int src_h,
			    unsigned int ch, uint8_t *dst, unsigned int dst_w,
			    unsigned int dst_h)
{
	const float sx = (float)src_w / (float)dst_w;
	const float sy = (float)src_h / (float)dst_h;
	const size_t src_row = (size_t)src_w * ch;
	unsigned int x, y, c;

	for (y = 0; y < dst_h; y++) {
		const struct interp iy = interp_at(y, sy, src_h);
		const uint8_t *r0 = src + iy.i0 * src_row, *r1 = src + iy.i1 * src_row;
		uint8_t *out = dst + (size_t)y * dst_w * ch;

		for (x = 0; x < dst_w; x++) {
			const struct interp ix = interp_at(x, sx, src_w);
			const uint8_t *p00 = r0 + ix.i0 * ch, *p01 = r0 + ix.i1 * ch;
			const uint8_t *p10 = r1 + ix.i0 * ch, *p11 = r1 + ix.i1 * ch;

			for (c = 0; c < ch; c++) {
				/* (a * b) * c, summed left to right, as TFLite */
				const float t00 = rounded((float)p00[c] * iy.w * ix.w);
				const float t10 = rounded((float)p10[c] * iy.d * ix.w);
				const float t01 = rounded((float)p01[c] * iy.w * ix.d);
				const float t11 = rounded((float)p11[c] * iy.d * ix.d);
				const float v = t00 + t10 + t01 + t11 + 0.5f;

				/* TFLite's static_cast<uint8_t>: truncation; v is in
				 * [0, 256) (weights sum to 1 within rounding). */
				*out++ = (uint8_t)(v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f);
			}
		}
	}
}

int apu_image_resize(const uint8_t *src, unsigned int src_w, unsigned int src_h,
		     unsigned int channels, uint8_t *dst, unsigned int dst_w,
		     unsigned int dst_h, enum apu_resize mode)
{
	size_t src_bytes, dst_bytes;

	if (!src || !dst || !src_w || !src_h || !dst_w || !dst_h || !channels)
		return -EINVAL;
	if (src_w > INT32_MAX || src_h > INT32_MAX || dst_w > INT32_MAX || dst_h > INT32_MAX)
		return -EINVAL;
	if (!image_bytes(src_w, src_h, channels, &src_bytes) ||
	    !image_bytes(dst_w, dst_h, channels, &dst_bytes))
		return -EINVAL;
	switch (mode) {
	case APU_RESIZE_NEAREST:
		resize_nearest(src, src_w, src_h, channels, dst, dst_w, dst_h);
		return 0;
	case APU_RESIZE_BILINEAR:
		resize_bilinear(src, src_w, src_h, channels, dst, dst_w, dst_h);
		return 0;
	}
	return -EINVAL;
}
