/*
 * The APU's int8 ops on host buffers, with TFLite reference semantics
 * (docs/hw.md, "Ops"). The command processor (apu_cp.c) checks parameters
 * with the *_check() functions and moves tensors in and out through the
 * device MMU; these functions only compute.
 *
 * Accumulators are int32 and wrap on overflow, as TFLite's do in practice.
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "hw/apu_fw.h"

static bool in_i8(int v)
{
    return v >= -128 && v <= 127;
}

static bool shift_ok(int32_t s)
{
    return s >= -31 && s <= 30;
}

uint64_t apu_conv_in_size(const ApuConvParams *p)
{
    return (uint64_t)p->in_h * p->in_w * p->in_c;
}

uint64_t apu_conv_weights_size(const ApuConvParams *p)
{
    return (uint64_t)p->out_c * p->k_h * p->k_w * (p->in_c / p->groups);
}

uint64_t apu_conv_out_size(const ApuConvParams *p)
{
    return (uint64_t)p->out_h * p->out_w * p->out_c;
}

uint64_t apu_conv_macs(const ApuConvParams *p)
{
    return apu_conv_out_size(p) * p->k_h * p->k_w * (p->in_c / p->groups);
}

uint32_t apu_conv_check(const ApuConvParams *p)
{
    if (p->in_h < 1 || p->in_w < 1 || p->in_c < 1 || p->out_h < 1 ||
        p->out_w < 1 || p->out_c < 1 || p->k_h < 1 || p->k_w < 1 ||
        p->stride_h < 1 || p->stride_w < 1 || p->dil_h < 1 ||
        p->dil_w < 1 || p->groups < 1 || p->pad_top < 0 ||
        p->pad_left < 0) {
        return APU_STATUS_BAD_PARAMS;
    }
    if (p->in_c % p->groups || p->out_c % p->groups) {
        return APU_STATUS_BAD_PARAMS;
    }
    /* Padding never covers a whole window. */
    if (p->pad_top >= (p->k_h - 1) * p->dil_h + 1 ||
        p->pad_left >= (p->k_w - 1) * p->dil_w + 1) {
        return APU_STATUS_BAD_PARAMS;
    }
    if (!in_i8(p->in_zp) || !in_i8(p->out_zp) || !in_i8(p->act_min) ||
        !in_i8(p->act_max) || p->act_min > p->act_max) {
        return APU_STATUS_BAD_PARAMS;
    }
    if (apu_conv_in_size(p) > APU_FW_MAX_TENSOR ||
        apu_conv_weights_size(p) > APU_FW_MAX_TENSOR ||
        apu_conv_out_size(p) > APU_FW_MAX_TENSOR ||
        apu_conv_macs(p) > APU_FW_MAX_OP_MACS) {
        return APU_STATUS_TOO_LARGE;
    }
    return APU_STATUS_OK;
}

uint32_t apu_add_check(const ApuAddParams *p)
{
    if (p->count < 1 || p->left_shift < 0 || p->left_shift > 30 ||
        !shift_ok(p->in1_shift) || !shift_ok(p->in2_shift) ||
        !shift_ok(p->out_shift) || !in_i8(p->out_zp) ||
        !in_i8(p->act_min) || !in_i8(p->act_max) ||
        p->act_min > p->act_max ||
        p->in1_offset < -127 || p->in1_offset > 128 ||
        p->in2_offset < -127 || p->in2_offset > 128) {
        return APU_STATUS_BAD_PARAMS;
    }
    if (p->count > APU_FW_MAX_TENSOR) {
        return APU_STATUS_TOO_LARGE;
    }
    return APU_STATUS_OK;
}

uint32_t apu_pool_check(const ApuPoolParams *p)
{
    if (p->in_h < 1 || p->in_w < 1 || p->channels < 1 || p->out_h < 1 ||
        p->out_w < 1 || p->k_h < 1 || p->k_w < 1 || p->stride_h < 1 ||
        p->stride_w < 1 || p->pad_top < 0 || p->pad_left < 0 ||
        p->pad_top >= p->k_h || p->pad_left >= p->k_w ||
        (int64_t)(p->out_h - 1) * p->stride_h - p->pad_top >= p->in_h ||
        (int64_t)(p->out_w - 1) * p->stride_w - p->pad_left >= p->in_w ||
        !in_i8(p->act_min) || !in_i8(p->act_max) ||
        p->act_min > p->act_max) {
        return APU_STATUS_BAD_PARAMS;
    }
    if ((uint64_t)p->in_h * p->in_w * p->channels > APU_FW_MAX_TENSOR ||
        (uint64_t)p->out_h * p->out_w * p->channels > APU_FW_MAX_TENSOR ||
        (uint64_t)p->out_h * p->out_w * p->channels * p->k_h * p->k_w >
        APU_FW_MAX_OP_MACS) {
        return APU_STATUS_TOO_LARGE;
    }
    return APU_STATUS_OK;
}

static int8_t requant(const ApuConvParams *p, int32_t acc, int32_t mult,
                      int32_t shift)
{
    int32_t v;

    if (shift < -31 || shift > 30) {
        /* Checked by the caller per channel; never reached. */
        shift = shift < 0 ? -31 : 30;
    }
    v = p->single_rounding ? apu_mbqm_single(acc, mult, shift)
                           : apu_mbqm(acc, mult, shift);
    v += p->out_zp;
    v = v < p->act_min ? p->act_min : v;
    v = v > p->act_max ? p->act_max : v;
    return (int8_t)v;
}

/*
 * The range of kernel taps k (0 <= k < kn) with 0 <= base + k * dil < n:
 * [*lo, *hi).
 */
static void tap_range(int base, int dil, int kn, int n, int *lo, int *hi)
{
    int a = 0, b = kn;

    if (base < 0) {
        a = (-base + dil - 1) / dil;
    }
    if (base + (kn - 1) * dil >= n) {
        b = base >= n ? 0 : (n - 1 - base) / dil + 1;
    }
    *lo = a;
    *hi = b > a ? b : a;
}

void apu_conv2d(const ApuConvParams *p, const int8_t *in, const int8_t *w,
                const int32_t *bias, const int32_t *mult,
                const int32_t *shift, int8_t *out)
{
    const int cin_g = p->in_c / p->groups;
    const int cout_g = p->out_c / p->groups;
    const bool dw = p->groups == p->in_c && p->groups > 1;
    const int32_t zp = p->in_zp;
    int oy, ox, oc;

    for (oy = 0; oy < p->out_h; oy++) {
        int y0 = oy * p->stride_h - p->pad_top, ky0, ky1;

        tap_range(y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
        for (ox = 0; ox < p->out_w; ox++) {
            int x0 = ox * p->stride_w - p->pad_left, kx0, kx1;
            int8_t *o = out + ((size_t)oy * p->out_w + ox) * p->out_c;

            tap_range(x0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
            for (oc = 0; oc < p->out_c; oc++) {
                int g = oc / cout_g;
                uint32_t acc = bias ? (uint32_t)bias[oc] : 0;
                int ky, kx, ic;

                for (ky = ky0; ky < ky1; ky++) {
                    int iy = y0 + ky * p->dil_h;

                    for (kx = kx0; kx < kx1; kx++) {
                        int ix = x0 + kx * p->dil_w;
                        const int8_t *px = in +
                            ((size_t)iy * p->in_w + ix) * p->in_c + g * cin_g;

                        if (dw) {
                            /* [k_h][k_w][out_c]; one input channel. */
                            int8_t wv = w[((size_t)ky * p->k_w + kx) *
                                          p->out_c + oc];

                            acc += (uint32_t)((px[0] - zp) * wv);
                            continue;
                        }
                        {
                            const int8_t *wp = w +
                                (((size_t)oc * p->k_h + ky) * p->k_w + kx) *
                                cin_g;
                            uint32_t s = 0;

                            for (ic = 0; ic < cin_g; ic++) {
                                s += (uint32_t)((px[ic] - zp) * wp[ic]);
                            }
                            acc += s;
                        }
                    }
                }
                o[oc] = requant(p, (int32_t)acc, mult[oc], shift[oc]);
            }
        }
    }
}

void apu_add(const ApuAddParams *p, const int8_t *in1, const int8_t *in2,
             int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->count; i++) {
        int32_t a = (int32_t)((uint32_t)(in1[i] + p->in1_offset)
                              << p->left_shift);
        int32_t b = (int32_t)((uint32_t)(in2[i] + p->in2_offset)
                              << p->left_shift);
        int32_t sa = apu_mbqm(a, p->in1_mult, p->in1_shift);
        int32_t sb = apu_mbqm(b, p->in2_mult, p->in2_shift);
        int32_t v = apu_mbqm((int32_t)((uint32_t)sa + (uint32_t)sb),
                             p->out_mult, p->out_shift) + p->out_zp;

        v = v < p->act_min ? p->act_min : v;
        v = v > p->act_max ? p->act_max : v;
        out[i] = (int8_t)v;
    }
}

void apu_avgpool(const ApuPoolParams *p, const int8_t *in, int8_t *out)
{
    int oy, ox, c;

    for (oy = 0; oy < p->out_h; oy++) {
        int y0 = oy * p->stride_h - p->pad_top, ky0, ky1;

        tap_range(y0, 1, p->k_h, p->in_h, &ky0, &ky1);
        for (ox = 0; ox < p->out_w; ox++) {
            int x0 = ox * p->stride_w - p->pad_left, kx0, kx1;
            int count = 0;

            tap_range(x0, 1, p->k_w, p->in_w, &kx0, &kx1);
            count = (ky1 - ky0) * (kx1 - kx0);
            for (c = 0; c < p->channels; c++) {
                int32_t sum = 0, v;
                int ky, kx;

                for (ky = ky0; ky < ky1; ky++) {
                    for (kx = kx0; kx < kx1; kx++) {
                        sum += in[((size_t)(y0 + ky) * p->in_w + x0 + kx) *
                                  p->channels + c];
                    }
                }
                /* The check keeps every window on the input: count > 0. */
                if (sum > 0) {
                    v = (sum + count / 2) / count;
                } else {
                    v = (sum - count / 2) / count;
                }
                v = v < p->act_min ? p->act_min : v;
                v = v > p->act_max ? p->act_max : v;
                out[((size_t)oy * p->out_w + ox) * p->channels + c] =
                    (int8_t)v;
            }
        }
    }
}
