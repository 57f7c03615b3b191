/*
 * fp16 ops of the APU engine (firmware ABI 1.6, APU_OPF_FP16): convolution
 * (depthwise and fully connected included), ADD, AVGPOOL and MAXPOOL on
 * binary16 tensors with fp32 arithmetic.
 *
 * The order of arithmetic is docs/hw.md's ("fp16 ops"), the same on every
 * path: each output element is computed by one sequential chain of fp32
 * additions, and the vector path puts different output elements (output
 * channels, or elements) in its lanes, so every lane runs the chain of
 * the plain C path. A product of two fp16 values is exact in fp32 (22
 * significant bits, exponents far inside fp32's range), so whether a
 * compiler fuses a multiply and an add changes nothing.
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hw/apu_fw.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(APU_ENGINE_PORTABLE)
#define APU_HAVE_F16C_KERNEL 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* ---- conversions -------------------------------------------------------- */

static uint32_t f32_bits(float f)
{
    uint32_t u;

    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;

    memcpy(&f, &u, 4);
    return f;
}

float apu_fw_f16_to_f32(uint16_t h)
{
    uint32_t s = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1f;
    uint32_t m = h & 0x3ff;

    if (e == 0) {
        if (!m) {
            return bits_f32(s);
        }
        /* Subnormal: m * 2^-24, normalized. */
        e = 113;
        while (!(m & 0x400)) {
            m <<= 1;
            e--;
        }
        return bits_f32(s | (e << 23) | ((m & 0x3ff) << 13));
    }
    if (e == 31) {
        /* Infinity, or NaN made quiet (as F16C's VCVTPH2PS). */
        return bits_f32(s | 0x7f800000 | (m << 13) | (m ? 0x400000 : 0));
    }
    return bits_f32(s | ((e + 112) << 23) | (m << 13));
}

uint16_t apu_fw_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t s = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffff;
    uint32_t r, rem;

    if (ax > 0x7f800000) {
        /* NaN: quiet, the top 10 payload bits kept. */
        return (uint16_t)(s | 0x7e00 | ((ax >> 13) & 0x3ff));
    }
    if (ax >= 0x477ff000) {
        /* 65520 and above round to infinity. */
        return (uint16_t)(s | 0x7c00);
    }
    if (ax < 0x38800000) {
        /* Below 2^-14: a subnormal in units of 2^-24, or zero. */
        uint32_t e = ax >> 23, m, shift, half;

        if (ax <= 0x33000000) {
            return s;       /* at most 2^-25: to zero (a tie to even) */
        }
        m = (ax & 0x7fffff) | 0x800000;
        shift = 126 - e;
        r = m >> shift;
        rem = m & ((1u << shift) - 1);
        half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) {
            r++;
        }
        return (uint16_t)(s | r);
    }
    r = (ax >> 13) - (112u << 10);
    rem = ax & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) {
        r++;        /* a carry into the exponent is right */
    }
    return (uint16_t)(s | r);
}

/* ---- paths --------------------------------------------------------------- */

static bool cpu_f16c(void)
{
#ifdef APU_HAVE_F16C_KERNEL
    unsigned int a, b, c, d;

    /* CPUID for F16C: clang's __builtin_cpu_supports() does not know it. */
    return __builtin_cpu_supports("avx2") && __get_cpuid(1, &a, &b, &c, &d) &&
           (c & bit_F16C);
#else
    return false;
#endif
}

bool apu_fp16_path_available(ApuEnginePath path)
{
    return path == APU_PATH_AVX2 ? cpu_f16c() : true;
}

/* True for the vector path, false for plain C; -1 when @path cannot run. */
static int use_vector(ApuEnginePath path)
{
    if (path == APU_PATH_PORTABLE) {
        return 0;
    }
    if (path == APU_PATH_AVX2) {
        return cpu_f16c() ? 1 : -1;
    }
    return cpu_f16c();
}

static void to_f32(const uint16_t *h, size_t n, float *f, bool vec);
static void round_out(const float *acc, size_t n, float lo, float hi,
                      uint16_t *out, bool vec);

/* The clamp, then the rounding: plain C. */
static uint16_t finish(float v, float lo, float hi)
{
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return apu_fw_f32_to_f16(v);
}

#ifdef APU_HAVE_F16C_KERNEL
__attribute__((target("avx2,f16c")))
static void to_f32_f16c(const uint16_t *h, size_t n, float *f)
{
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        __m128i x = _mm_loadu_si128((const __m128i *)(h + i));

        _mm256_storeu_ps(f + i, _mm256_cvtph_ps(x));
    }
    for (; i < n; i++) {
        f[i] = apu_fw_f16_to_f32(h[i]);
    }
}

/* max(lo, v) keeps v when v is NaN, as the plain C clamp does. */
__attribute__((target("avx2,f16c")))
static void round_out_f16c(const float *acc, size_t n, float lo, float hi,
                           uint16_t *out)
{
    __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(acc + i);

        v = _mm256_max_ps(vlo, v);
        v = _mm256_min_ps(vhi, v);
        _mm_storeu_si128((__m128i *)(out + i),
                         _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT |
                                            _MM_FROUND_NO_EXC));
    }
    for (; i < n; i++) {
        out[i] = finish(acc[i], lo, hi);
    }
}
#endif

static void to_f32(const uint16_t *h, size_t n, float *f, bool vec)
{
    size_t i;

#ifdef APU_HAVE_F16C_KERNEL
    if (vec) {
        to_f32_f16c(h, n, f);
        return;
    }
#endif
    (void)vec;
    for (i = 0; i < n; i++) {
        f[i] = apu_fw_f16_to_f32(h[i]);
    }
}

static void round_out(const float *acc, size_t n, float lo, float hi,
                      uint16_t *out, bool vec)
{
    size_t i;

#ifdef APU_HAVE_F16C_KERNEL
    if (vec) {
        round_out_f16c(acc, n, lo, hi, out);
        return;
    }
#endif
    (void)vec;
    for (i = 0; i < n; i++) {
        out[i] = finish(acc[i], lo, hi);
    }
}

/* ---- convolution -------------------------------------------------------- */

/*
 * Output pixel (oy, ox), every output channel, into @acc: acc[oc] = bias
 * (or +0), then for each tap (ky, kx) inside the input in that order, for
 * each input channel of oc's group in order, acc[oc] += w * x.
 */
static void conv_pixel_c(const ApuConvParams *p, const float *in,
                         const float *w, const float *bias, int oy, int ox,
                         float *acc)
{
    int cin_g = p->in_c / p->groups, cout_g = p->out_c / p->groups;
    bool dw = p->groups == p->in_c && p->groups > 1;
    int oc, ky, kx, i;

    for (oc = 0; oc < p->out_c; oc++) {
        int g = oc / cout_g;
        float a = bias ? bias[oc] : 0.0f;

        for (ky = 0; ky < p->k_h; ky++) {
            int iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;

            if (iy < 0 || iy >= p->in_h) {
                continue;
            }
            for (kx = 0; kx < p->k_w; kx++) {
                int ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                const float *x;

                if (ix < 0 || ix >= p->in_w) {
                    continue;
                }
                x = in + ((size_t)iy * p->in_w + ix) * p->in_c + g * cin_g;
                if (dw) {
                    a += w[((size_t)ky * p->k_w + kx) * p->out_c + oc] * x[0];
                    continue;
                }
                for (i = 0; i < cin_g; i++) {
                    a += w[(((size_t)oc * p->k_h + ky) * p->k_w + kx) * cin_g +
                           i] * x[i];
                }
            }
        }
        acc[oc] = a;
    }
}

#ifdef APU_HAVE_F16C_KERNEL
/*
 * groups 1: @wt is [k_h][k_w][in_c][oc8] (output channels padded to @oc8,
 * a multiple of 8, with zero weights), 8 output channels a lane each.
 */
__attribute__((target("avx2,f16c")))
static void conv_pixel_dense_avx2(const ApuConvParams *p, const float *in,
                                  const float *wt, const float *bias8,
                                  int oc8, int oy, int ox, float *acc)
{
    int ob, ky, kx, i;

    for (ob = 0; ob < oc8; ob += 8) {
        __m256 a = _mm256_loadu_ps(bias8 + ob);

        for (ky = 0; ky < p->k_h; ky++) {
            int iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;

            if (iy < 0 || iy >= p->in_h) {
                continue;
            }
            for (kx = 0; kx < p->k_w; kx++) {
                int ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                const float *x, *wk;

                if (ix < 0 || ix >= p->in_w) {
                    continue;
                }
                x = in + ((size_t)iy * p->in_w + ix) * p->in_c;
                wk = wt + ((size_t)ky * p->k_w + kx) * p->in_c * oc8 + ob;
                for (i = 0; i < p->in_c; i++) {
                    __m256 prod = _mm256_mul_ps(_mm256_loadu_ps(wk),
                                                _mm256_set1_ps(x[i]));

                    a = _mm256_add_ps(a, prod);
                    wk += oc8;
                }
            }
        }
        _mm256_storeu_ps(acc + ob, a);
    }
}

/* Depthwise with one output channel per input channel: lanes are channels. */
__attribute__((target("avx2,f16c")))
static void conv_pixel_dw_avx2(const ApuConvParams *p, const float *in,
                               const float *w, const float *bias8, int oy,
                               int ox, float *acc)
{
    int c, ky, kx, n8 = p->out_c / 8 * 8;

    for (c = 0; c < n8; c += 8) {
        __m256 a = _mm256_loadu_ps(bias8 + c);

        for (ky = 0; ky < p->k_h; ky++) {
            int iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;

            if (iy < 0 || iy >= p->in_h) {
                continue;
            }
            for (kx = 0; kx < p->k_w; kx++) {
                int ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                const float *x;
                __m256 prod;

                if (ix < 0 || ix >= p->in_w) {
                    continue;
                }
                x = in + ((size_t)iy * p->in_w + ix) * p->in_c + c;
                prod = _mm256_mul_ps(
                    _mm256_loadu_ps(w + ((size_t)ky * p->k_w + kx) * p->out_c +
                                    c),
                    _mm256_loadu_ps(x));
                a = _mm256_add_ps(a, prod);
            }
        }
        _mm256_storeu_ps(acc + c, a);
    }
    /* The last channels: the plain chain, one at a time. */
    for (c = n8; c < p->out_c; c++) {
        float s = bias8[c];

        for (ky = 0; ky < p->k_h; ky++) {
            int iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;

            if (iy < 0 || iy >= p->in_h) {
                continue;
            }
            for (kx = 0; kx < p->k_w; kx++) {
                int ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;

                if (ix < 0 || ix >= p->in_w) {
                    continue;
                }
                s += w[((size_t)ky * p->k_w + kx) * p->out_c + c] *
                     in[((size_t)iy * p->in_w + ix) * p->in_c + c];
            }
        }
        acc[c] = s;
    }
}
#endif

int apu_conv2d_fp16(const ApuConvParams *p, const uint16_t *in,
                    const uint16_t *w, const float *bias, float lo, float hi,
                    uint16_t *out, ApuPoll *poll, ApuEnginePath path)
{
    uint64_t nin = apu_conv_in_size(p), nw = apu_conv_weights_size(p);
    int vec = use_vector(path);
    bool dense = p->groups == 1;
#ifdef APU_HAVE_F16C_KERNEL
    bool dw1 = p->groups == p->in_c && p->groups > 1 && p->out_c == p->in_c;
#endif
    int oc8 = (p->out_c + 7) / 8 * 8;
    uint64_t pix_macs = (uint64_t)p->k_h * p->k_w * (p->in_c / p->groups) *
                        p->out_c;
    float *fin, *fw, *wt = NULL, *acc, *bias8;
    int oy, ox, r = 0;

    if (vec < 0) {
        return -1;
    }
    fin = malloc(nin * sizeof(float));
    fw = malloc((nw ? nw : 1) * sizeof(float));
    acc = malloc((size_t)oc8 * sizeof(float));
    bias8 = calloc((size_t)oc8, sizeof(float));
    if (vec && dense) {
        wt = calloc((size_t)p->k_h * p->k_w * p->in_c * oc8, sizeof(float));
    }
    if (!fin || !fw || !acc || !bias8 || (vec && dense && !wt)) {
        r = -1;
        goto out;
    }
    to_f32(in, nin, fin, vec);
    to_f32(w, nw, fw, vec);
    if (bias) {
        memcpy(bias8, bias, (size_t)p->out_c * sizeof(float));
    }
    if (wt) {
        /* [oc][ky][kx][ic] to [ky][kx][ic][oc8]. */
        int oc, t, i, taps = p->k_h * p->k_w;

        for (oc = 0; oc < p->out_c; oc++) {
            for (t = 0; t < taps; t++) {
                for (i = 0; i < p->in_c; i++) {
                    wt[((size_t)t * p->in_c + i) * oc8 + oc] =
                        fw[((size_t)oc * taps + t) * p->in_c + i];
                }
            }
        }
    }
    for (oy = 0; oy < p->out_h; oy++) {
        for (ox = 0; ox < p->out_w; ox++) {
            if (apu_poll(poll, pix_macs ? pix_macs : 1)) {
                r = APU_OP_ABORTED;
                goto out;
            }
#ifdef APU_HAVE_F16C_KERNEL
            if (vec && dense) {
                conv_pixel_dense_avx2(p, fin, wt, bias8, oc8, oy, ox, acc);
            } else if (vec && dw1) {
                conv_pixel_dw_avx2(p, fin, fw, bias8, oy, ox, acc);
            } else
#endif
            {
                conv_pixel_c(p, fin, fw, bias, oy, ox, acc);
            }
            round_out(acc, (size_t)p->out_c, lo, hi,
                      out + ((size_t)oy * p->out_w + ox) * p->out_c, vec);
        }
    }
out:
    free(fin);
    free(fw);
    free(wt);
    free(acc);
    free(bias8);
    return r;
}

/* ---- ADD --------------------------------------------------------------- */

#ifdef APU_HAVE_F16C_KERNEL
__attribute__((target("avx2,f16c")))
static void add_row_f16c(uint32_t n, const uint16_t *a, const uint16_t *b,
                         float lo, float hi, uint16_t *out)
{
    __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    uint32_t i = 0;

    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256 y = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i)));
        __m256 v = _mm256_add_ps(x, y);

        v = _mm256_max_ps(vlo, v);
        v = _mm256_min_ps(vhi, v);
        _mm_storeu_si128((__m128i *)(out + i),
                         _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT |
                                            _MM_FROUND_NO_EXC));
    }
    for (; i < n; i++) {
        out[i] = finish(apu_fw_f16_to_f32(a[i]) + apu_fw_f16_to_f32(b[i]), lo,
                        hi);
    }
}
#endif

static void add_row(uint32_t n, const uint16_t *a, const uint16_t *b,
                    float lo, float hi, uint16_t *out, bool vec)
{
    uint32_t i;

#ifdef APU_HAVE_F16C_KERNEL
    if (vec) {
        add_row_f16c(n, a, b, lo, hi, out);
        return;
    }
#endif
    (void)vec;
    for (i = 0; i < n; i++) {
        out[i] = finish(apu_fw_f16_to_f32(a[i]) + apu_fw_f16_to_f32(b[i]), lo,
                        hi);
    }
}

void apu_add_fp16(uint32_t count, uint32_t period, const uint16_t *in1,
                  const uint16_t *in2, float lo, float hi, uint16_t *out,
                  ApuEnginePath path)
{
    int vec = use_vector(path);
    uint32_t i;

    if (vec < 0) {
        vec = 0;    /* same bits either way */
    }
    if (!period || period >= count) {
        add_row(count, in1, in2, lo, hi, out, vec);
        return;
    }
    for (i = 0; i < count; i += period) {
        add_row(period, in1 + i, in2, lo, hi, out + i, vec);
    }
}

/* ---- pooling ------------------------------------------------------------ */

/*
 * One output pixel's channels: the taps inside the input, (ky, kx) in
 * order; average: sum from +0, then divided by the tap count; max: from
 * -infinity, m = t > m ? t : m (a NaN tap is skipped).
 */
static void pool_pixel_c(const ApuPoolParams *p, const float *in, bool max,
                         int c0, int oy, int ox, float *acc)
{
    int c, ky, kx;

    for (c = c0; c < p->channels; c++) {
        float s = max ? -INFINITY : 0.0f;
        int n = 0;

        for (ky = 0; ky < p->k_h; ky++) {
            int iy = oy * p->stride_h - p->pad_top + ky;

            if (iy < 0 || iy >= p->in_h) {
                continue;
            }
            for (kx = 0; kx < p->k_w; kx++) {
                int ix = ox * p->stride_w - p->pad_left + kx;
                float t;

                if (ix < 0 || ix >= p->in_w) {
                    continue;
                }
                t = in[((size_t)iy * p->in_w + ix) * p->channels + c];
                if (max) {
                    s = t > s ? t : s;
                } else {
                    s += t;
                }
                n++;
            }
        }
        acc[c] = max ? s : s / (float)n;
    }
}

#ifdef APU_HAVE_F16C_KERNEL
__attribute__((target("avx2,f16c")))
static void pool_pixel_avx2(const ApuPoolParams *p, const float *in, bool max,
                            int oy, int ox, float *acc)
{
    int c, ky, kx, n = 0, n8 = p->channels / 8 * 8;

    for (c = 0; c < n8; c += 8) {
        __m256 s = _mm256_set1_ps(max ? -INFINITY : 0.0f);

        n = 0;
        for (ky = 0; ky < p->k_h; ky++) {
            int iy = oy * p->stride_h - p->pad_top + ky;

            if (iy < 0 || iy >= p->in_h) {
                continue;
            }
            for (kx = 0; kx < p->k_w; kx++) {
                int ix = ox * p->stride_w - p->pad_left + kx;
                __m256 t;

                if (ix < 0 || ix >= p->in_w) {
                    continue;
                }
                t = _mm256_loadu_ps(in + ((size_t)iy * p->in_w + ix) *
                                    p->channels + c);
                /* MAXPS: t > s ? t : s (s when t is NaN). */
                s = max ? _mm256_max_ps(t, s) : _mm256_add_ps(s, t);
                n++;
            }
        }
        if (!max) {
            s = _mm256_div_ps(s, _mm256_set1_ps((float)n));
        }
        _mm256_storeu_ps(acc + c, s);
    }
    /* The last channels through the plain chain. */
    pool_pixel_c(p, in, max, n8, oy, ox, acc);
}
#endif

static int pool_fp16(const ApuPoolParams *p, const uint16_t *in, bool max,
                     float lo, float hi, uint16_t *out, ApuPoll *poll,
                     ApuEnginePath path)
{
    uint64_t nin = (uint64_t)p->in_h * p->in_w * p->channels;
    int vec = use_vector(path);
    float *fin, *acc;
    int oy, ox, r = 0;

    if (vec < 0) {
        return -1;
    }
    fin = malloc(nin * sizeof(float));
    acc = malloc((size_t)p->channels * sizeof(float));
    if (!fin || !acc) {
        r = -1;
        goto out;
    }
    to_f32(in, nin, fin, vec);
    for (oy = 0; oy < p->out_h; oy++) {
        for (ox = 0; ox < p->out_w; ox++) {
            if (apu_poll(poll, (uint64_t)p->channels * p->k_h * p->k_w)) {
                r = APU_OP_ABORTED;
                goto out;
            }
#ifdef APU_HAVE_F16C_KERNEL
            if (vec) {
                pool_pixel_avx2(p, fin, max, oy, ox, acc);
            } else
#endif
            {
                pool_pixel_c(p, fin, max, 0, oy, ox, acc);
            }
            round_out(acc, (size_t)p->channels, lo, hi,
                      out + ((size_t)oy * p->out_w + ox) * p->channels, vec);
        }
    }
out:
    free(fin);
    free(acc);
    return r;
}

int apu_avgpool_fp16(const ApuPoolParams *p, const uint16_t *in, float lo,
                     float hi, uint16_t *out, ApuPoll *poll,
                     ApuEnginePath path)
{
    return pool_fp16(p, in, false, lo, hi, out, poll, path);
}

int apu_maxpool_fp16(const ApuPoolParams *p, const uint16_t *in, float lo,
                     float hi, uint16_t *out, ApuPoll *poll,
                     ApuEnginePath path)
{
    return pool_fp16(p, in, true, lo, hi, out, poll, path);
}
