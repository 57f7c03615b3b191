/*
 * Block-sparse 1x1 convolutions (firmware ABI 1.5, APU_OPF_WEIGHTS_SPARSE):
 * the weights' checks and the engine's kernels. Layout and rules: struct
 * apu_sparse_weights in include/hw/apu_cmd.h; docs/hw.md.
 *
 * The engine works on tiles of 16 output pixels. A tile's inputs are
 * transposed to channel-major int16, x - in_zp ([in_c][16]), so that one
 * weight multiplies 16 pixels at once; each block row then walks its
 * stored blocks only, two at a time: the two input channels' rows are
 * interleaved (vpunpck{l,h}wd) and one vpmaddwd against the two weights
 * side by side adds both products for 8 pixels, as the dense kernels do
 * for pairs of taps. Absent blocks cost nothing. The accumulators (int32,
 * wrapping, the dense path's arithmetic: sum of (x - in_zp) * w plus the
 * bias) go back to pixel-major and through the engine's requantization.
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(APU_ENGINE_PORTABLE)
#include <immintrin.h>
#define APU_HAVE_AVX2_KERNEL 1
#endif

#include "hw/apu_fw.h"
#include "hw/apu_le.h"

/* Output pixels per tile. */
#define SP_PIX 16

static uint64_t sp_rows(const ApuConvParams *p, uint32_t block)
{
    return ((uint64_t)p->out_c + block - 1) / block;
}

uint32_t apu_sparse_conv_check(const ApuConvParams *p)
{
    if (p->k_h != 1 || p->k_w != 1 || p->groups != 1 || p->w_zp) {
        return APU_STATUS_BAD_PARAMS;
    }
    return APU_STATUS_OK;
}

uint32_t apu_sparse_size(const ApuConvParams *p, const void *hdr,
                         uint64_t *size)
{
    const uint8_t *h = hdr;
    uint32_t block = apu_ld16(h), nnz = apu_ld32(h + 4);
    uint64_t rows;

    if ((block != 1 && block != 2 && block != 4) || apu_ld16(h + 2)) {
        return APU_STATUS_BAD_PARAMS;
    }
    rows = sp_rows(p, block);
    if (nnz > rows * (uint64_t)p->in_c) {
        return APU_STATUS_BAD_PARAMS;
    }
    *size = apu_sparse_weights_size(rows, nnz, block);
    return APU_STATUS_OK;
}

uint32_t apu_sparse_check(const ApuConvParams *p, const void *w,
                          uint64_t size)
{
    const uint8_t *b = w;
    uint32_t block = apu_ld16(b), nnz = apu_ld32(b + 4);
    uint64_t rows, r, k = 0, total = 0, want;
    const uint8_t *count, *index;
    const int8_t *val;

    /*
     * The header again: the buffer may have been read apart from the
     * header that sized it (guest memory changes under the device), and
     * everything below trusts block and nnz.
     */
    if (apu_sparse_size(p, b, &want) || want != size) {
        return APU_STATUS_BAD_PARAMS;
    }
    rows = sp_rows(p, block);
    count = b + APU_SPARSE_HDR_SIZE;
    index = count + 2 * rows;
    val = (const int8_t *)(index + 2 * (uint64_t)nnz);
    for (r = 0; r < rows; r++) {
        total += apu_ld16(count + 2 * r);
    }
    if (total != nnz) {
        return APU_STATUS_BAD_PARAMS;
    }
    for (r = 0; r < rows; r++) {
        uint32_t n = apu_ld16(count + 2 * r), i;
        int prev = -1;

        for (i = 0; i < n; i++, k++) {
            int ic = apu_ld16(index + 2 * k);
            uint32_t j;

            if (ic >= p->in_c || ic <= prev) {
                return APU_STATUS_BAD_PARAMS;
            }
            prev = ic;
            /* The last row's values past out_c are 0. */
            for (j = 0; j < block; j++) {
                if (r * block + j >= (uint64_t)p->out_c &&
                    val[k * block + j]) {
                    return APU_STATUS_BAD_PARAMS;
                }
            }
        }
    }
    return APU_STATUS_OK;
}

uint64_t apu_sparse_nnz(const void *w)
{
    return apu_ld32((const uint8_t *)w + 4);
}

uint64_t apu_sparse_macs(const ApuConvParams *p, const void *w)
{
    return apu_sparse_nnz(w) * apu_ld16(w) * p->out_h * p->out_w;
}

/*
 * The weights rearranged for the kernels: for each block row, its blocks in
 * pairs (an odd last one paired with itself, second weight 0): the offsets
 * of the two input channels' rows in the tile ([in_c][16] int16) and, per
 * output channel j of the block, the two weights as one int32 (first in
 * the low half), vpmaddwd's operand.
 */
typedef struct SpPacked {
    uint32_t block, rows;
    uint32_t *row_pair;     /* [rows + 1]: first pair of each row */
    uint32_t *off;          /* [npairs][2] */
    int32_t *wpair;         /* [npairs][block] */
} SpPacked;

static void sp_free(SpPacked *s)
{
    free(s->row_pair);
    free(s->off);
    free(s->wpair);
}

static int sp_pack(const ApuConvParams *p, const void *w, SpPacked *s)
{
    const uint8_t *b = w;
    uint32_t block = apu_ld16(b), nnz = apu_ld32(b + 4);
    uint32_t rows = (uint32_t)sp_rows(p, block), r, k = 0, q = 0;
    const uint8_t *count = b + APU_SPARSE_HDR_SIZE;
    const uint8_t *index = count + 2ull * rows;
    const int8_t *val = (const int8_t *)(index + 2ull * nnz);
    uint64_t npairs = 0;

    for (r = 0; r < rows; r++) {
        npairs += (apu_ld16(count + 2 * r) + 1) / 2;
    }
    memset(s, 0, sizeof(*s));
    s->block = block;
    s->rows = rows;
    s->row_pair = malloc(sizeof(uint32_t) * (rows + 1ull));
    s->off = malloc(sizeof(uint32_t) * 2 * (npairs ? npairs : 1));
    s->wpair = malloc(sizeof(int32_t) * block * (npairs ? npairs : 1));
    if (!s->row_pair || !s->off || !s->wpair) {
        sp_free(s);
        return -1;
    }
    for (r = 0; r < rows; r++) {
        uint32_t n = apu_ld16(count + 2 * r), i, j;

        s->row_pair[r] = q;
        for (i = 0; i < n; i += 2, q++) {
            uint32_t k1 = i + 1 < n ? k + i + 1 : k + i;

            s->off[2 * q] = apu_ld16(index + 2ull * (k + i)) * SP_PIX;
            s->off[2 * q + 1] = apu_ld16(index + 2ull * k1) * SP_PIX;
            for (j = 0; j < block; j++) {
                int w0 = val[(uint64_t)(k + i) * block + j];
                int w1 = i + 1 < n ? val[(uint64_t)k1 * block + j] : 0;

                s->wpair[(uint64_t)q * block + j] =
                    (int32_t)((uint32_t)(uint16_t)w0 |
                              (uint32_t)(uint16_t)w1 << 16);
            }
        }
        k += n;
    }
    s->row_pair[rows] = q;
    return 0;
}

/* Input pixel of output pixel @o, or NULL in the padding. */
static const int8_t *sp_in_pixel(const ApuConvParams *p, const int8_t *in,
                                 uint64_t o)
{
    int oy = (int)(o / (uint64_t)p->out_w), ox = (int)(o % (uint64_t)p->out_w);
    int iy = oy * p->stride_h - p->pad_top, ix = ox * p->stride_w - p->pad_left;

    if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
        return NULL;
    }
    return in + ((uint64_t)iy * p->in_w + ix) * p->in_c;
}

/* ---- the tile's inputs, channel-major -------------------------------- */

static void sp_transpose_c(const ApuConvParams *p,
                           const int8_t *const *px, int16_t *xt)
{
    int c, i;

    for (i = 0; i < SP_PIX; i++) {
        for (c = 0; c < p->in_c; c++) {
            xt[c * SP_PIX + i] = (int16_t)(px[i][c] - p->in_zp);
        }
    }
}

#ifdef APU_HAVE_AVX2_KERNEL
/*
 * 16 rows of 16 bytes transposed: four rounds of interleaving row i with
 * row i + 8 (each rotates the row and column bits of an element's index by
 * one: after four, rows and columns have swapped).
 */
__attribute__((target("avx2"), always_inline))
static inline void sp_round16(const __m128i *r, __m128i *t)
{
    int i;

    for (i = 0; i < 8; i++) {
        t[2 * i] = _mm_unpacklo_epi8(r[i], r[i + 8]);
        t[2 * i + 1] = _mm_unpackhi_epi8(r[i], r[i + 8]);
    }
}

__attribute__((target("avx2"), always_inline))
static inline void sp_transpose16(__m128i r[16])
{
    __m128i t[16];

    sp_round16(r, t);
    sp_round16(t, r);
    sp_round16(r, t);
    sp_round16(t, r);
}

__attribute__((target("avx2")))
static void sp_transpose_avx2(const ApuConvParams *p,
                              const int8_t *const *px, int16_t *xt)
{
    const __m256i zp = _mm256_set1_epi16((short)p->in_zp);
    __m128i r[16];
    int c = 0, i;

    for (; c + 16 <= p->in_c; c += 16) {
        for (i = 0; i < SP_PIX; i++) {
            r[i] = _mm_loadu_si128((const __m128i *)(px[i] + c));
        }
        sp_transpose16(r);
        for (i = 0; i < 16; i++) {
            __m256i v = _mm256_sub_epi16(_mm256_cvtepi8_epi16(r[i]), zp);

            _mm256_storeu_si256((__m256i *)(xt + (c + i) * SP_PIX), v);
        }
    }
    for (; c < p->in_c; c++) {
        for (i = 0; i < SP_PIX; i++) {
            xt[c * SP_PIX + i] = (int16_t)(px[i][c] - p->in_zp);
        }
    }
}

/*
 * Block row accumulation, @B output channels per block: accumulators for
 * 16 pixels of each channel into acc[j][16] (pixel order), starting from
 * @init[j].
 */
__attribute__((target("avx2"), always_inline))
static inline void sp_row_avx2(const SpPacked *s, uint32_t r, const int B,
                               const int16_t *xt, const int32_t *init,
                               uint32_t *acc)
{
    __m256i lo[4], hi[4];
    uint32_t q;
    int j;

#pragma GCC unroll 4
    for (j = 0; j < B; j++) {
        lo[j] = _mm256_setzero_si256();
        hi[j] = _mm256_setzero_si256();
    }
    for (q = s->row_pair[r]; q < s->row_pair[r + 1]; q++) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(xt + s->off[2 * q]));
        __m256i b =
            _mm256_loadu_si256((const __m256i *)(xt + s->off[2 * q + 1]));
        __m256i l = _mm256_unpacklo_epi16(a, b);
        __m256i h = _mm256_unpackhi_epi16(a, b);

#pragma GCC unroll 4
    for (j = 0; j < B; j++) {
            __m256i wv = _mm256_set1_epi32(s->wpair[(uint64_t)q * B + j]);

            lo[j] = _mm256_add_epi32(lo[j], _mm256_madd_epi16(l, wv));
            hi[j] = _mm256_add_epi32(hi[j], _mm256_madd_epi16(h, wv));
        }
    }
#pragma GCC unroll 4
    for (j = 0; j < B; j++) {
        /* lo: pixels 0-3, 8-11; hi: 4-7, 12-15. */
        __m256i b = _mm256_set1_epi32(init[j]);
        __m256i p0 = _mm256_permute2x128_si256(lo[j], hi[j], 0x20);
        __m256i p1 = _mm256_permute2x128_si256(lo[j], hi[j], 0x31);

        _mm256_storeu_si256((__m256i *)(acc + j * SP_PIX),
                            _mm256_add_epi32(p0, b));
        _mm256_storeu_si256((__m256i *)(acc + j * SP_PIX + 8),
                            _mm256_add_epi32(p1, b));
    }
}

__attribute__((target("avx2")))
static void sp_tile_avx2(const SpPacked *s, const int16_t *xt,
                         const int32_t *bias_pad, uint32_t *acct)
{
    uint32_t r;

    for (r = 0; r < s->rows; r++) {
        const int32_t *b = bias_pad + (uint64_t)r * s->block;
        uint32_t *a = acct + (uint64_t)r * s->block * SP_PIX;

        switch (s->block) {
        case 1:
            sp_row_avx2(s, r, 1, xt, b, a);
            break;
        case 2:
            sp_row_avx2(s, r, 2, xt, b, a);
            break;
        default:
            sp_row_avx2(s, r, 4, xt, b, a);
            break;
        }
    }
}

/*
 * Outputs ob [out_c rounded up to 16][16] (channel-major) to pixels
 * [0, @n) of the output at @out (out_c apart), sixteen by sixteen.
 */
__attribute__((target("avx2")))
static void sp_store_avx2(const int8_t *ob, int out_c, int n, int8_t *out)
{
    __m128i r[16];
    int c, i;

    for (c = 0; c < out_c; c += 16) {
        int m = out_c - c < 16 ? out_c - c : 16;

        for (i = 0; i < 16; i++) {
            r[i] = _mm_loadu_si128((const __m128i *)(ob + (c + i) * SP_PIX));
        }
        sp_transpose16(r);
        for (i = 0; i < n; i++) {
            if (m == 16) {
                _mm_storeu_si128((__m128i *)(out + (uint64_t)i * out_c + c),
                                 r[i]);
            } else {
                memcpy(out + (uint64_t)i * out_c + c, &r[i], (size_t)m);
            }
        }
    }
}

#endif

static void sp_tile_c(const SpPacked *s, const int16_t *xt,
                      const int32_t *bias_pad, uint32_t *acct)
{
    uint32_t r, q, j;
    int i;

    for (r = 0; r < s->rows; r++) {
        for (j = 0; j < s->block; j++) {
            uint32_t *a = acct + ((uint64_t)r * s->block + j) * SP_PIX;

            for (i = 0; i < SP_PIX; i++) {
                a[i] = (uint32_t)bias_pad[(uint64_t)r * s->block + j];
            }
            for (q = s->row_pair[r]; q < s->row_pair[r + 1]; q++) {
                int32_t wp = s->wpair[(uint64_t)q * s->block + j];
                int w0 = (int16_t)(wp & 0xffff), w1 = (int16_t)(wp >> 16);
                const int16_t *x0 = xt + s->off[2 * q];
                const int16_t *x1 = xt + s->off[2 * q + 1];

                for (i = 0; i < SP_PIX; i++) {
                    a[i] += (uint32_t)(x0[i] * w0 + x1[i] * w1);
                }
            }
        }
    }
}

static void sp_untranspose_c(const uint32_t *acct, int out_c, uint32_t *accp)
{
    int c, i;

    for (i = 0; i < SP_PIX; i++) {
        for (c = 0; c < out_c; c++) {
            accp[(uint64_t)i * out_c + c] = acct[c * SP_PIX + i];
        }
    }
}

int apu_conv2d_sparse_poll(const ApuConvParams *p, const int8_t *in,
                           const void *w, const int32_t *bias,
                           const int32_t *mult, const int32_t *shift,
                           int8_t *out, ApuPoll *poll, ApuEnginePath path)
{
    const uint64_t npix = (uint64_t)p->out_h * p->out_w;
    /* Output pixel i reads input pixel i. */
    const bool flat = p->stride_h == 1 && p->stride_w == 1 &&
                      !p->pad_top && !p->pad_left && p->in_h == p->out_h &&
                      p->in_w == p->out_w;
    bool avx2 = false;
    SpPacked s;
    int8_t *zrow, *ob;
    int16_t *xt;
    int32_t *bias_pad;
    uint32_t *acct, *accp;
    ApuRequant *q;
    uint64_t t, work;
    int ret = 0, i;

    if (!apu_engine_path_available(path)) {
        return -1;
    }
#ifdef APU_HAVE_AVX2_KERNEL
    avx2 = path != APU_PATH_PORTABLE &&
           apu_engine_path_available(APU_PATH_AVX2);
#endif
    if (sp_pack(p, w, &s)) {
        return -1;
    }
    work = apu_sparse_nnz(w) * s.block * SP_PIX + (uint64_t)p->out_c;
    zrow = malloc((size_t)p->in_c);
    xt = malloc(sizeof(int16_t) * SP_PIX * (size_t)p->in_c);
    bias_pad = calloc((size_t)s.rows * s.block, sizeof(int32_t));
    acct = malloc(sizeof(uint32_t) * SP_PIX * (size_t)s.rows * s.block);
    accp = malloc(sizeof(uint32_t) * SP_PIX * (size_t)p->out_c);
    ob = malloc((size_t)SP_PIX * ((p->out_c + 15) & ~15));
    q = apu_requant_new(mult, shift, p->out_c, p->out_zp, p->act_min,
                        p->act_max, p->single_rounding, avx2);
    if (!zrow || !xt || !bias_pad || !acct || !accp || !ob || !q) {
        ret = -1;
        goto out;
    }
    memset(zrow, p->in_zp, (size_t)p->in_c);
    memset(ob, 0, (size_t)SP_PIX * ((p->out_c + 15) & ~15));
    if (bias) {
        memcpy(bias_pad, bias, sizeof(int32_t) * (size_t)p->out_c);
    }
    for (t = 0; t < npix; t += SP_PIX) {
        const int8_t *px[SP_PIX];
        int n = npix - t < SP_PIX ? (int)(npix - t) : SP_PIX;

        if (apu_poll(poll, work)) {
            ret = APU_OP_ABORTED;
            break;
        }
        for (i = 0; i < SP_PIX; i++) {
            const int8_t *x = i >= n ? NULL :
                              flat ? in + (t + i) * (uint64_t)p->in_c :
                                     sp_in_pixel(p, in, t + i);

            px[i] = x ? x : zrow;
        }
#ifdef APU_HAVE_AVX2_KERNEL
        if (avx2) {
            sp_transpose_avx2(p, px, xt);
            sp_tile_avx2(&s, xt, bias_pad, acct);
            apu_requant_cmajor16(q, acct, 0, (size_t)p->out_c, ob);
            sp_store_avx2(ob, p->out_c, n, out + t * (uint64_t)p->out_c);
            continue;
        }
#endif
        {
            sp_transpose_c(p, px, xt);
            sp_tile_c(&s, xt, bias_pad, acct);
            sp_untranspose_c(acct, p->out_c, accp);
        }
        for (i = 0; i < n; i++) {
            apu_requant_apply(q, accp + (uint64_t)i * p->out_c, 0,
                              (size_t)p->out_c,
                              out + (t + i) * (uint64_t)p->out_c);
        }
    }
out:
    apu_requant_free(q);
    free(ob);
    free(accp);
    free(acct);
    free(bias_pad);
    free(xt);
    free(zrow);
    sp_free(&s);
    return ret;
}
