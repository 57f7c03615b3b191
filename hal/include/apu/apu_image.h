/* SPDX-License-Identifier: MIT */
/*
 * libapu - image preprocessing for networks that take pictures.
 *
 * Resizes 8-bit interleaved images (HWC: rows packed, each pixel's channels
 * side by side, as a uint8 NHWC tensor of batch 1 holds them) the way the
 * reference implementations that classification models are checked with do,
 * bit for bit, so that a model fed through libapu sees the same input tensor
 * as under those tools. Same conventions as apu.h: 0 or a negative errno, no
 * global state, nothing printed; the functions only read @src and write @dst,
 * so any number of threads may call them at once on different @dst buffers.
 */
#ifndef APU_APU_IMAGE_H
#define APU_APU_IMAGE_H

#include <stdint.h>

#include "apu.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * enum apu_resize - interpolation of apu_image_resize()
 * @APU_RESIZE_NEAREST:  Pillow's Image.resize(size, Image.NEAREST), the
 *                       preprocessing of Coral's pycoral examples and tests
 * @APU_RESIZE_BILINEAR: TFLite's RESIZE_BILINEAR on uint8 with
 *                       half_pixel_centers=true, align_corners=false
 *                       (reference_ops::ResizeBilinear<uint8_t>)
 *
 * %APU_RESIZE_NEAREST, exactly as Pillow (libImaging ImagingScaleAffine(),
 * the path Image.resize() takes for NEAREST without a box), in IEEE double:
 * sx = (double)src_w / dst_w, sy = (double)src_h / dst_h; the source column
 * of output column x is (int)xo, where xo starts at sx * 0.5 and has sx added
 * once per column (an accumulated sum, not x * sx: the rounding of the sum is
 * part of the definition); rows likewise with sy. So the source index is
 * about floor((x + 0.5) * sx): a pixel-centre rule. A source index outside
 * the image (possible only through the accumulated rounding) gives 0 bytes,
 * as Pillow's zero fill does. Equal sizes copy the image.
 *
 * %APU_RESIZE_BILINEAR, exactly as TFLite's reference kernel for uint8 (the
 * generic float template with its rounding offset), in IEEE single precision
 * (float), each operation rounded on its own (no fused multiply-add: libapu
 * rounds each product to float before adding it, whatever the compiler's
 * -ffp-contract, so every build and architecture gives the same bytes):
 *
 *   sy  = (float)src_h / (float)dst_h           (likewise sx with widths)
 *   fy  = ((float)y + 0.5f) * sy - 0.5f         (not clamped)
 *   y0  = max((int)floorf(fy), 0)
 *   y1  = min((int)ceilf(fy), src_h - 1)
 *   dy  = fy - (float)y0,  wy = 1.0f - dy       (dy < 0 above the first
 *                                                row's centre: y0 = y1 = 0)
 *   (x0, x1, dx, wx likewise from x and sx)
 *   v   = src[y0][x0] * wy * wx + src[y1][x0] * dy * wx
 *       + src[y0][x1] * wy * dx + src[y1][x1] * dy * dx + 0.5f
 *   dst[y][x] = (uint8_t)v                      (truncation)
 *
 * with each a * b * c as (a * b) * c (the byte converted to float first) and
 * the sum added left to right, as the C++ expression evaluates. y0 and x0 are
 * also kept below src_h and src_w, which changes nothing for images under
 * 2^22 pixels a side (TFLite would read outside the image where it mattered).
 */
enum apu_resize {
	APU_RESIZE_NEAREST = 0,
	APU_RESIZE_BILINEAR = 1,
};

/**
 * apu_image_resize() - resize an 8-bit interleaved image
 * @src:      @src_h rows of @src_w pixels of @channels bytes, rows packed
 * @src_w:    source width in pixels
 * @src_h:    source height in pixels
 * @channels: bytes per pixel (3 for RGB; any number, each resized alike)
 * @dst:      @dst_h rows of @dst_w pixels of @channels bytes, written whole;
 *            must not overlap @src
 * @dst_w:    output width in pixels
 * @dst_h:    output height in pixels
 * @mode:     %APU_RESIZE_NEAREST or %APU_RESIZE_BILINEAR (see enum apu_resize
 *            for the exact arithmetic of each)
 *
 * Return: 0; -EINVAL when @src or @dst is NULL, a size or @channels is 0,
 * a side exceeds INT32_MAX, the byte count of either image overflows size_t,
 * or @mode is unknown.
 */
APU_API int apu_image_resize(const uint8_t *src, unsigned int src_w, unsigned int src_h,
			     unsigned int channels, uint8_t *dst, unsigned int dst_w,
			     unsigned int dst_h, enum apu_resize mode);

#ifdef __cplusplus
}
#endif

#endif /* APU_APU_IMAGE_H */
