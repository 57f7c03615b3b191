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

#include <stdlib.h>
#include <string.h>

/*
 * AVX2 kernels on x86-64, picked at run time; APU_ENGINE_PORTABLE leaves
 * them out, so the tests check the portable C that other hosts run.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(APU_ENGINE_PORTABLE)
#include <immintrin.h>
#define APU_HAVE_AVX2_KERNEL 1
#endif

#include "hw/apu_fw.h"

/* Output pixels the patch kernels handle at once (gemm_pairs_avx2). */
#define APU_PIX 4

#define MAX_U64(a, b) ((a) > (b) ? (a) : (b))

static bool in_i8(int v)
{
    return v >= -128 && v <= 127;
}

static bool shift_ok(int32_t s)
{
    return s >= APU_SHIFT_MIN && s <= APU_SHIFT_MAX;
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

/*
 * The engine's plan for a convolution: the kernel apu_conv2d() picks, the
 * geometry of its buffers, their sizes in bytes (every allocation of the
 * kernels below is sized from here) and the MACs the kernels execute.
 * Only for parameters whose tensors are within APU_FW_MAX_TENSOR: then
 * nothing here overflows 64 bits (pixels x out_c and out_c x k are at
 * most 2^26, groups x npad at most 16 x out_c).
 */
typedef struct ConvPlan {
    bool dw1;               /* depthwise, multiplier 1: conv_dw1() */
    /*
     * conv_dw1(): taps, pairs of taps, blocks of 16 channels (AVX2); quads
     * of taps, blocks of 32 channels (VNNI).
     */
    uint64_t ntaps, npairs, nblk, nquads, nblk32;
    /*
     * conv_patch(): taps per group k, in pairs kp (kpad = 2 kp), in quads
     * kq (VNNI), npad.
     */
    uint64_t k, kp, kpad, kq, pstride, npad;
    /* Buffer sizes in bytes. */
    uint64_t tap_b, zrow_b, acc_b, dwp_b, dwq_b, dwb_b;  /* conv_dw1() */
    uint64_t patch_b, accs_b, wp_b, acc_pad_b, bias_pad_b, wt_b;
    uint64_t rq_b;          /* rq_init()'s tables */
    uint64_t work_bytes;    /* the most of either path (AVX2, portable) */
    uint64_t engine_macs;
} ConvPlan;

static bool conv_is_dw1(const ApuConvParams *p)
{
    return p->groups == p->in_c && p->groups > 1 && p->out_c == p->in_c;
}

static void conv_plan(const ApuConvParams *p, ConvPlan *pl)
{
    const uint64_t out_c = p->out_c, groups = p->groups;
    const uint64_t cout_g = out_c / groups;
    const uint64_t pix = (uint64_t)p->out_h * p->out_w;

    memset(pl, 0, sizeof(*pl));
    pl->rq_b = sizeof(int32_t) * 4 * out_c;
    pl->dw1 = conv_is_dw1(p);
    if (pl->dw1) {
        pl->ntaps = (uint64_t)p->k_h * p->k_w;
        pl->npairs = (pl->ntaps + 1) / 2;
        pl->nblk = out_c / 16;
        pl->nquads = (pl->ntaps + 3) / 4;
        pl->nblk32 = (pl->nblk + 1) / 2;
        /* 4 nquads >= 2 npairs: enough for either path */
        pl->tap_b = sizeof(const int8_t *) * 4 * pl->nquads;
        pl->zrow_b = p->in_c;
        pl->acc_b = sizeof(uint32_t) * out_c;
        pl->dwp_b = sizeof(int16_t) * pl->nblk * pl->npairs * 32;
        pl->dwq_b = pl->nblk32 * pl->nquads * 128;
        pl->dwb_b = sizeof(uint32_t) * pl->nblk32 * 32;
        pl->work_bytes = pl->tap_b + pl->zrow_b + pl->acc_b + pl->rq_b +
                         MAX_U64(pl->dwp_b, pl->dwq_b + pl->dwb_b);
        pl->engine_macs = pix * MAX_U64(2 * pl->npairs * out_c,
                                        4 * pl->nquads * out_c +
                                        4 * pl->nquads * 16);
        return;
    }
    pl->k = (uint64_t)p->k_h * p->k_w * (p->in_c / p->groups);
    pl->kp = (pl->k + 1) / 2;
    pl->kpad = pl->kp * 2;
    pl->kq = (pl->k + 3) / 4;
    pl->pstride = pl->kpad * groups;
    pl->npad = (cout_g + 15) & ~(uint64_t)15;
    pl->patch_b = sizeof(int16_t) * APU_PIX * pl->pstride;
    pl->accs_b = sizeof(uint32_t) * APU_PIX * out_c;
    /* AVX2 */
    pl->wp_b = sizeof(int16_t) * pl->kp * pl->npad * 2 * groups;
    pl->acc_pad_b = sizeof(uint32_t) * APU_PIX * pl->npad;
    pl->bias_pad_b = sizeof(uint32_t) * pl->npad * groups;
    /* portable */
    pl->wt_b = sizeof(int16_t) * pl->k * out_c;
    pl->work_bytes = pl->patch_b + pl->accs_b + pl->rq_b +
                     MAX_U64(pl->wp_b + pl->acc_pad_b + pl->bias_pad_b,
                             pl->wt_b);
    /*
     * The AVX2 or VNNI kernel's, which pad; the portable one does less.
     * VNNI's buffers fit in the AVX2 kernel's: its patch of bytes (4 kq
     * <= 2 kpad, as kpad >= 2) in the patch, its weights (kq x npad x 4
     * bytes a group) in wp, the corrected bias in bias_pad.
     */
    pl->engine_macs = pix * groups * pl->npad *
                      MAX_U64(pl->kpad, 4 * pl->kq);
}

static bool conv_tensors_ok(const ApuConvParams *p)
{
    return apu_conv_in_size(p) <= APU_FW_MAX_TENSOR &&
           apu_conv_weights_size(p) <= APU_FW_MAX_TENSOR &&
           apu_conv_out_size(p) <= APU_FW_MAX_TENSOR;
}

uint64_t apu_conv_work_bytes(const ApuConvParams *p)
{
    ConvPlan pl;

    if (p->groups < 1 || !conv_tensors_ok(p)) {
        return 0;
    }
    conv_plan(p, &pl);
    return pl.work_bytes;
}

uint64_t apu_conv_engine_macs(const ApuConvParams *p)
{
    ConvPlan pl;

    if (p->groups < 1 || !conv_tensors_ok(p)) {
        return 0;
    }
    conv_plan(p, &pl);
    return pl.engine_macs;
}

uint32_t apu_conv_check(const ApuConvParams *p)
{
    ConvPlan pl;

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
    /*
     * Windows and their positions stay far inside int range: every index
     * computed later fits, whatever 16-bit values the guest passed.
     */
    if ((int64_t)(p->k_h - 1) * p->dil_h >= APU_FW_MAX_SPAN ||
        (int64_t)(p->k_w - 1) * p->dil_w >= APU_FW_MAX_SPAN ||
        (int64_t)(p->out_h - 1) * p->stride_h >= APU_FW_MAX_SPAN ||
        (int64_t)(p->out_w - 1) * p->stride_w >= APU_FW_MAX_SPAN) {
        return APU_STATUS_BAD_PARAMS;
    }
    /* Padding never covers a whole window. */
    if (p->pad_top >= (p->k_h - 1) * p->dil_h + 1 ||
        p->pad_left >= (p->k_w - 1) * p->dil_w + 1) {
        return APU_STATUS_BAD_PARAMS;
    }
    if (!in_i8(p->in_zp) || !in_i8(p->out_zp) || !in_i8(p->act_min) ||
        !in_i8(p->act_max) || p->act_min > p->act_max || !in_i8(p->w_zp)) {
        return APU_STATUS_BAD_PARAMS;
    }
    if (!conv_tensors_ok(p) || apu_conv_macs(p) > APU_FW_MAX_OP_MACS) {
        return APU_STATUS_TOO_LARGE;
    }
    /*
     * What the engine would allocate and execute, bounded before anything
     * is allocated: the padding of small groups multiplies both (up to 32
     * times the weights, and the MACs).
     */
    conv_plan(p, &pl);
    if (pl.work_bytes > APU_FW_MAX_OP_WORK ||
        pl.engine_macs > APU_FW_MAX_ENGINE_MACS) {
        return APU_STATUS_TOO_LARGE;
    }
    return APU_STATUS_OK;
}

uint32_t apu_add_check(const ApuAddParams *p)
{
    if (p->count < 1 || p->left_shift < 0 ||
        p->left_shift > APU_ADD_LEFT_SHIFT_MAX ||
        !shift_ok(p->in1_shift) || !shift_ok(p->in2_shift) ||
        !shift_ok(p->out_shift) || !in_i8(p->out_zp) ||
        !in_i8(p->act_min) || !in_i8(p->act_max) ||
        p->act_min > p->act_max ||
        p->in1_offset < APU_ADD_OFFSET_MIN ||
        p->in1_offset > APU_ADD_OFFSET_MAX ||
        p->in2_offset < APU_ADD_OFFSET_MIN ||
        p->in2_offset > APU_ADD_OFFSET_MAX ||
        (p->in2_period && p->count % p->in2_period)) {
        return APU_STATUS_BAD_PARAMS;
    }
    if (p->count > APU_FW_MAX_TENSOR) {
        return APU_STATUS_TOO_LARGE;
    }
    return APU_STATUS_OK;
}

uint32_t apu_mul_check(const ApuMulParams *p)
{
    if (p->count < 1 || !shift_ok(p->out_shift) || !in_i8(p->out_zp) ||
        !in_i8(p->act_min) || !in_i8(p->act_max) ||
        p->act_min > p->act_max ||
        p->in1_offset < APU_ADD_OFFSET_MIN ||
        p->in1_offset > APU_ADD_OFFSET_MAX ||
        p->in2_offset < APU_ADD_OFFSET_MIN ||
        p->in2_offset > APU_ADD_OFFSET_MAX ||
        (p->in2_period && p->count % p->in2_period)) {
        return APU_STATUS_BAD_PARAMS;
    }
    if (p->count > APU_FW_MAX_TENSOR) {
        return APU_STATUS_TOO_LARGE;
    }
    return APU_STATUS_OK;
}

uint32_t apu_lut_check(uint32_t count)
{
    if (count < 1) {
        return APU_STATUS_BAD_PARAMS;
    }
    return count > APU_FW_MAX_TENSOR ? APU_STATUS_TOO_LARGE : APU_STATUS_OK;
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

static inline int8_t requant(const ApuConvParams *p, int32_t acc,
                             int32_t mult, int32_t shift)
{
    int32_t v;

    if (shift < -31 || shift > 30) {
        /* Checked by the caller per channel; never reached. */
        shift = shift < 0 ? -31 : 30;
    }
    v = p->single_rounding ? apu_mbqm_single(acc, mult, shift)
                           : apu_mbqm(acc, mult, shift);
    v = (int32_t)((uint32_t)v + (uint32_t)p->out_zp);  /* wraps, as TFLite */
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

/*
 * The inner products. Accumulation is modulo 2^32 (unsigned), so the order
 * of the sums does not change the result and the compiler may vectorize
 * freely; on x86-64 an AVX2 clone is picked at run time. Not under
 * ThreadSanitizer: the clones' ifunc resolver runs while the dynamic
 * loader relocates the program, before TSan's runtime is set up, and its
 * instrumentation (__tsan_func_entry) crashes there.
 */
#if defined(__SANITIZE_THREAD__)
#define APU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define APU_TSAN 1
#endif
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(APU_TSAN)
#define APU_SIMD_CLONES \
    __attribute__((target_clones("avx2", "default"), optimize("O3")))
#else
#define APU_SIMD_CLONES
#endif

/* Four dot products of @a with the rows @b, @b + n, ... of length @n. */
static inline void dot4_s16(const int16_t *a, const int16_t *b, size_t n,
                     uint32_t *out)
{
    const int16_t *b0 = b, *b1 = b + n, *b2 = b + 2 * n, *b3 = b + 3 * n;
    uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        int32_t x = a[i];

        s0 += (uint32_t)(x * b0[i]);
        s1 += (uint32_t)(x * b1[i]);
        s2 += (uint32_t)(x * b2[i]);
        s3 += (uint32_t)(x * b3[i]);
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
}

static inline uint32_t dot_s16(const int16_t *a, const int16_t *b, size_t n)
{
    uint32_t s = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        s += (uint32_t)(a[i] * b[i]);
    }
    return s;
}

/* acc[c] += (x[c] - zp) * w[c] over @n channels. */
static inline void mac_channels(uint32_t *acc, const int8_t *x, const int8_t *w,
                         int zp, size_t n)
{
    size_t c;

    for (c = 0; c < n; c++) {
        /* |x - zp| <= 255 and |w| <= 128: the product fits int16. */
        int16_t xv = (int16_t)(x[c] - zp);
        int16_t prod = (int16_t)(xv * w[c]);

        acc[c] += (uint32_t)(int32_t)prod;
    }
}

/*
 * acc[c] += (x[c] - zp) * (w[c] - w_zp): with a weight zero point the
 * product needs 32 bits (up to 255 * 255).
 */
static inline void mac_channels_wzp(uint32_t *acc, const int8_t *x,
                                    const int8_t *w, int zp, int w_zp,
                                    size_t n)
{
    size_t c;

    for (c = 0; c < n; c++) {
        acc[c] += (uint32_t)((x[c] - zp) * (w[c] - w_zp));
    }
}

/*
 * Requantize @n accumulators (double rounding, TFLite): the same arithmetic
 * as apu_mbqm(), in a form that vectorizes (32-bit lanes, one widening
 * multiply, 64-bit logical shifts); shifts are in [-31, 30].
 * SRDHM(x, m) = trunc((x * m + nudge) / 2^31) is computed on the magnitude
 * of the product: (|p| + 2^30 - (p < 0)) >> 31, with the sign put back.
 */
static inline void requant_row_inline(const uint32_t *acc,
                                      const int32_t *mult,
                                      const int32_t *shift, int out_zp,
                                      int lo, int hi, size_t n, int8_t *out)
{
    size_t c;

    for (c = 0; c < n; c++) {
        int32_t s = shift[c];
        uint32_t left = s > 0 ? s : 0, right = s > 0 ? 0 : -s;
        int32_t x = (int32_t)(acc[c] << left);
        int64_t prod = (int64_t)x * mult[c];
        uint64_t mag = prod < 0 ? -(uint64_t)prod : (uint64_t)prod;
        uint64_t q = (mag + (1u << 30) - (prod < 0 ? 1 : 0)) >> 31;
        int32_t hm = prod < 0 ? -(int32_t)q : (int32_t)q;
        int32_t mask, rem, thr, v;

        hm = (x == INT32_MIN && mult[c] == INT32_MIN) ? INT32_MAX : hm;
        mask = (int32_t)((1u << right) - 1);
        rem = hm & mask;
        thr = (mask >> 1) + (hm < 0 ? 1 : 0);
        /* Wraps on overflow, as TFLite's int32 addition does in practice. */
        v = (int32_t)((uint32_t)((hm >> right) + (rem > thr ? 1 : 0)) +
                      (uint32_t)out_zp);
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
        out[c] = (int8_t)v;
    }
}

/*
 * Per-channel requantization constants of one op, computed once: the
 * shifts split into left and right parts and RDBPOT's mask and half-mask.
 * The vector path needs double rounding and no multiplier of INT32_MIN
 * (the one input pair where SRDHM saturates); anything else takes the
 * scalar arithmetic.
 */
typedef struct Rq {
    const int32_t *mult, *shift;
    int32_t *left, *right, *mask, *half;
    int zp, lo, hi;
    bool single;    /* single rounding (TFLite's newer mode) */
    bool simd;      /* the AVX2 path applies */
} Rq;

static bool cpu_avx2(void)
{
#ifdef APU_HAVE_AVX2_KERNEL
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

/* The VNNI kernels' instructions: AVX-512 F, VL, BW and VNNI. */
static bool cpu_vnni(void)
{
#ifdef APU_HAVE_AVX2_KERNEL
    return __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
#else
    return false;
#endif
}

bool apu_engine_path_available(ApuEnginePath path)
{
    switch (path) {
    case APU_PATH_AUTO:
    case APU_PATH_PORTABLE:
    case APU_PATH_VNNI_EMUL:
        return true;
    case APU_PATH_AVX2:
        return cpu_avx2();
    case APU_PATH_VNNI:
        return cpu_vnni();
    default:
        return false;
    }
}

/*
 * The VNNI kernels have been checked only through their C emulation
 * (APU_PATH_VNNI_EMUL) and by reading: no machine they were written on
 * has AVX-512 VNNI. Until engine_test has passed on one (it runs every
 * path the CPU has), they run only when asked for (apu_conv2d_path(),
 * engine_bench --path vnni), never by default.
 */
ApuEnginePath apu_engine_auto_path(void)
{
    return cpu_avx2() ? APU_PATH_AVX2 : APU_PATH_PORTABLE;
}

const char *apu_engine_path_name(ApuEnginePath path)
{
    static const char *const names[APU_PATH_NPATHS] = {
        "auto", "portable", "avx2", "vnni", "vnni-emul",
    };

    return (unsigned)path < APU_PATH_NPATHS ? names[path] : "?";
}

/* What a path runs: AVX2 kernels, and the VNNI ones (for real or not). */
enum { VNNI_NONE, VNNI_HW, VNNI_EMUL };
typedef struct Isa {
    bool avx2;
    int vnni;
} Isa;

static Isa isa_of(ApuEnginePath path)
{
    Isa isa = { false, VNNI_NONE };

    if (path == APU_PATH_AUTO) {
        path = apu_engine_auto_path();
    }
    isa.avx2 = path != APU_PATH_PORTABLE && cpu_avx2();
    isa.vnni = path == APU_PATH_VNNI ? VNNI_HW :
               path == APU_PATH_VNNI_EMUL ? VNNI_EMUL : VNNI_NONE;
    return isa;
}

static int rq_init(Rq *q, const int32_t *mult, const int32_t *shift, int n,
                   int zp, int lo, int hi, bool single, bool avx2)
{
    int c;

    memset(q, 0, sizeof(*q));
    q->mult = mult;
    q->shift = shift;
    q->zp = zp;
    q->lo = lo;
    q->hi = hi;
    q->single = single;
    q->simd = !single && avx2;
    for (c = 0; c < n && q->simd; c++) {
        q->simd = mult[c] != INT32_MIN && shift_ok(shift[c]);
    }
    if (!q->simd) {
        return 0;
    }
    q->left = malloc(sizeof(int32_t) * 4 * (size_t)n);   /* ConvPlan.rq_b */
    if (!q->left) {
        return -1;
    }
    q->right = q->left + n;
    q->mask = q->right + n;
    q->half = q->mask + n;
    for (c = 0; c < n; c++) {
        int32_t s = shift[c];

        q->left[c] = s > 0 ? s : 0;
        q->right[c] = s > 0 ? 0 : -s;
        q->mask[c] = (int32_t)((1u << q->right[c]) - 1);
        q->half[c] = q->mask[c] >> 1;
    }
    return 0;
}

static void rq_fini(Rq *q)
{
    free(q->left);
    q->left = NULL;
}

/* Scalar requantization of channels [c, c + n). */
static void rq_scalar(const Rq *q, const uint32_t *acc, size_t c, size_t n,
                      int8_t *out)
{
    size_t i;

    if (!q->single) {
        requant_row_inline(acc, q->mult + c, q->shift + c, q->zp, q->lo,
                           q->hi, n, out);
        return;
    }
    for (i = 0; i < n; i++) {
        int32_t s = q->shift[c + i], v;

        s = s < -31 ? -31 : s > 30 ? 30 : s;
        v = apu_mbqm_single((int32_t)acc[i], q->mult[c + i], s);
        v = (int32_t)((uint32_t)v + (uint32_t)q->zp);
        v = v < q->lo ? q->lo : v;
        v = v > q->hi ? q->hi : v;
        out[i] = (int8_t)v;
    }
}

#ifdef APU_HAVE_AVX2_KERNEL
/*
 * Eight lanes (channels c..c+7) of requant_row_inline() in AVX2, the same
 * arithmetic in fewer steps:
 * - SRDHM(x, m) = trunc((x * m + nudge) / 2^31) with nudge 2^30 or
 *   1 - 2^30 by the sign of the product equals floor((x * m + 2^30) / 2^31)
 *   for every product (for negative ones, trunc((p + 1 - 2^30) / 2^31) =
 *   floor((p + 1 - 2^30 + 2^31 - 1) / 2^31)); the result fits 32 bits
 *   (no INT32_MIN multiplier here), so a logical 64-bit shift gives its
 *   bits;
 * - RDBPOT(h, r) = (h >> r) + ((h & mask) > (mask >> 1) + (h < 0)).
 * Returns the clamped int32 values.
 */
__attribute__((target("avx2"), always_inline))
static inline __m256i mbqm8_avx2(__m256i a, __m256i m, __m256i left,
                                 __m256i right, __m256i mask, __m256i half)
{
    const __m256i zero = _mm256_setzero_si256();
    const __m256i c30 = _mm256_set1_epi64x(1ll << 30);
    __m256i x = _mm256_sllv_epi32(a, left);
    __m256i pe = _mm256_mul_epi32(x, m);
    __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(x, 32),
                                  _mm256_srli_epi64(m, 32));
    __m256i hm, rem, thr, v;

    pe = _mm256_srli_epi64(_mm256_add_epi64(pe, c30), 31);
    po = _mm256_slli_epi64(_mm256_add_epi64(po, c30), 1);
    hm = _mm256_blend_epi32(pe, po, 0xaa);
    rem = _mm256_and_si256(hm, mask);
    thr = _mm256_sub_epi32(half, _mm256_cmpgt_epi32(zero, hm));
    v = _mm256_srav_epi32(hm, right);
    return _mm256_sub_epi32(v, _mm256_cmpgt_epi32(rem, thr));
}

__attribute__((target("avx2")))
static inline __m256i rq8_avx2(const Rq *q, __m256i a, size_t c)
{
    __m256i v = mbqm8_avx2(
        a, _mm256_loadu_si256((const __m256i *)(q->mult + c)),
        _mm256_loadu_si256((const __m256i *)(q->left + c)),
        _mm256_loadu_si256((const __m256i *)(q->right + c)),
        _mm256_loadu_si256((const __m256i *)(q->mask + c)),
        _mm256_loadu_si256((const __m256i *)(q->half + c)));

    v = _mm256_add_epi32(v, _mm256_set1_epi32(q->zp));
    v = _mm256_max_epi32(v, _mm256_set1_epi32(q->lo));
    return _mm256_min_epi32(v, _mm256_set1_epi32(q->hi));
}

/* Eight int32 lanes (each in [-128, 127]) to eight int8 at @out. */
__attribute__((target("avx2")))
static inline void st8_avx2(__m256i v, int8_t *out)
{
    __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(v),
                                  _mm256_extracti128_si256(v, 1));

    _mm_storel_epi64((__m128i *)out, _mm_packs_epi16(p16, p16));
}

/* Channels c..c+15 from two vectors of accumulators, stored as int8. */
__attribute__((target("avx2")))
static inline void rq16_avx2(const Rq *q, __m256i a0, __m256i a1, size_t c,
                             int8_t *out)
{
    __m256i v0 = rq8_avx2(q, a0, c), v1 = rq8_avx2(q, a1, c + 8);
    __m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xd8);
    __m128i p8 = _mm_packs_epi16(_mm256_castsi256_si128(p16),
                                 _mm256_extracti128_si256(p16, 1));

    _mm_storeu_si128((__m128i *)out, p8);
}

__attribute__((target("avx2")))
static void rq_row_avx2(const Rq *q, const uint32_t *acc, size_t c, size_t n,
                        int8_t *out)
{
    size_t i = 0;

    for (; i + 16 <= n; i += 16) {
        rq16_avx2(q, _mm256_loadu_si256((const __m256i *)(acc + i)),
                  _mm256_loadu_si256((const __m256i *)(acc + i + 8)),
                  c + i, out + i);
    }
    for (; i + 8 <= n; i += 8) {
        st8_avx2(rq8_avx2(q, _mm256_loadu_si256((const __m256i *)(acc + i)),
                          c + i), out + i);
    }
    if (i < n) {
        rq_scalar(q, acc + i, c + i, n - i, out + i);
    }
}
#endif

/* Requantize accumulators of channels [c, c + n) into @out. */
static void rq_row(const Rq *q, const uint32_t *acc, size_t c, size_t n,
                   int8_t *out)
{
#ifdef APU_HAVE_AVX2_KERNEL
    if (q->simd) {
        rq_row_avx2(q, acc, c, n, out);
        return;
    }
#endif
    rq_scalar(q, acc, c, n, out);
}

void apu_requant_row(const uint32_t *acc, const int32_t *mult,
                     const int32_t *shift, int out_zp, int lo, int hi,
                     size_t n, int8_t *out)
{
    Rq q;

    if (n > INT32_MAX / 4 ||
        rq_init(&q, mult, shift, (int)n, out_zp, lo, hi, false,
                cpu_avx2())) {
        requant_row_inline(acc, mult, shift, out_zp, lo, hi, n, out);
        return;
    }
    rq_row(&q, acc, 0, n, out);
    rq_fini(&q);
}

/*
 * Depthwise with multiplier 1. Each output pixel gets the addresses of its
 * taps' input pixels; taps off the input point at a row of zero points,
 * which contribute nothing, so edge pixels take the same path. Accumulation
 * runs across channels: in AVX2, sixteen channels and two taps per step
 * (input bytes of the two taps interleaved, widened, zero point subtracted,
 * one vpmaddwd against the taps' weights side by side, the weight zero
 * point subtracted when they are packed); elsewhere a loop the compiler
 * vectorizes. Taps off the input read in_zp and so add nothing whatever
 * the weight zero point.
 */
#ifdef APU_HAVE_AVX2_KERNEL
/* [block of 16 channels][pair of taps][16 channels][2 taps] int16. */
static int16_t *pack_dw_pairs(const ApuConvParams *p, const ConvPlan *pl,
                              const int8_t *w, int ntaps, int nblk)
{
    int npairs = (ntaps + 1) / 2, b, t, i;
    int16_t *wp = calloc(1, pl->dwp_b);

    if (!wp) {
        return NULL;
    }
    for (b = 0; b < nblk; b++) {
        for (t = 0; t < ntaps; t++) {
            for (i = 0; i < 16; i++) {
                wp[((size_t)b * npairs + t / 2) * 32 + 2 * i + (t & 1)] =
                    w[(size_t)t * p->out_c + b * 16 + i] - p->w_zp;
            }
        }
    }
    return wp;
}

__attribute__((target("avx2")))
static void dw_pixel_avx2(const int8_t *const *tap, int npairs,
                          const int16_t *wp, int nblk, const int32_t *bias,
                          int zp, const Rq *q, int8_t *o)
{
    const __m256i vzp = _mm256_set1_epi16((int16_t)zp);
    uint32_t tmp[16];
    int b, t;

    for (b = 0; b < nblk; b++) {
        size_t c = (size_t)b * 16;
        const int16_t *wb = wp + (size_t)b * npairs * 32;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0;

        if (bias) {
            a0 = _mm256_loadu_si256((const __m256i *)(bias + c));
            a1 = _mm256_loadu_si256((const __m256i *)(bias + c + 8));
        }
        for (t = 0; t < npairs; t++) {
            __m128i xa = _mm_loadu_si128((const __m128i *)(tap[2 * t] + c));
            __m128i xb = _mm_loadu_si128((const __m128i *)(tap[2 * t + 1] +
                                                           c));
            __m256i x0 = _mm256_sub_epi16(
                _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(xa, xb)), vzp);
            __m256i x1 = _mm256_sub_epi16(
                _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(xa, xb)), vzp);

            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(
                x0, _mm256_loadu_si256((const __m256i *)(wb + t * 32))));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(
                x1, _mm256_loadu_si256((const __m256i *)(wb + t * 32 +
                                                         16))));
        }
        if (q->simd) {
            rq16_avx2(q, a0, a1, c, o + c);
        } else {
            _mm256_storeu_si256((__m256i *)tmp, a0);
            _mm256_storeu_si256((__m256i *)(tmp + 8), a1);
            rq_scalar(q, tmp, c, 16, o + c);
        }
    }
}
#endif


/*
 * VNNI depthwise: vpdpbusd multiplies unsigned bytes by signed ones, four
 * at a time, so the input goes in as u = x + 128 (x ^ 0x80) and
 * sum (x - zp) w = sum u w - (128 + zp) sum w: the second term is folded,
 * once per op, into the bias of each channel. Exact modulo 2^32 like the
 * rest (the four products' sum fits int32). Only for w_zp == 0 (TFLite's
 * int8 weights); taps off the input read in_zp and so add nothing, the
 * padding taps have zero weights. Blocks of 32 channels (the last may have
 * 16), quads of taps: the four taps' bytes are interleaved per channel by
 * two rounds of unpacking, which leaves accumulator r's lane l with channel
 * dwq_chan(r * 8 + l); the weights are packed in that order,
 * [block][quad][32 positions][4 taps] int8.
 */
static inline int dwq_chan(int pos)
{
    return (pos % 8) / 4 * 16 + pos / 8 * 4 + pos % 4;
}

/* @wq (pl->dwq_b bytes, zeroed) and the folded bias @bc (pl->dwb_b). */
static void pack_dw_quads(const ApuConvParams *p, const ConvPlan *pl,
                          const int8_t *w, const int32_t *bias, int8_t *wq,
                          uint32_t *bc)
{
    const int ntaps = (int)pl->ntaps, nquads = (int)pl->nquads;
    const int nch = (int)pl->nblk * 16;
    const uint32_t off = (uint32_t)(128 + p->in_zp);
    int b, t, pos, c;

    for (b = 0; b < (int)pl->nblk32; b++) {
        for (t = 0; t < ntaps; t++) {
            for (pos = 0; pos < 32; pos++) {
                c = b * 32 + dwq_chan(pos);
                if (c < nch) {
                    wq[(((size_t)b * nquads + t / 4) * 32 + pos) * 4 +
                       t % 4] = w[(size_t)t * p->out_c + c];
                }
            }
        }
    }
    for (c = 0; c < (int)pl->nblk32 * 32; c++) {
        uint32_t sum = 0;

        for (t = 0; c < nch && t < ntaps; t++) {
            sum += (uint32_t)w[(size_t)t * p->out_c + c];
        }
        bc[c] = (bias && c < nch ? (uint32_t)bias[c] : 0) - off * sum;
    }
}

/* The VNNI kernel's arithmetic in plain C: accumulators of [0, nblk x 16). */
static void dw_pixel_vnni_emul(const int8_t *const *tap, int nquads,
                               const int8_t *wq, int nblk, const uint32_t *bc,
                               uint32_t *acc)
{
    int b, pos, t, i;

    for (b = 0; b < nblk; b += 2) {
        const int8_t *wb = wq + (size_t)(b / 2) * nquads * 128;
        int nch = b + 1 < nblk ? 32 : 16;

        for (pos = 0; pos < 32; pos++) {
            int c = dwq_chan(pos);
            size_t cc = (size_t)b * 16 + c;
            uint32_t a;

            if (c >= nch) {
                continue;
            }
            a = bc[cc];
            for (t = 0; t < nquads; t++) {
                for (i = 0; i < 4; i++) {
                    a += (uint32_t)(((uint8_t)tap[4 * t + i][cc] ^ 0x80) *
                                    wb[((size_t)t * 32 + pos) * 4 + i]);
                }
            }
            acc[cc] = a;
        }
    }
}

#ifdef APU_HAVE_AVX2_KERNEL
#define APU_VNNI_TARGET "avx2,avx512f,avx512vl,avx512bw,avx512vnni"

__attribute__((target(APU_VNNI_TARGET), always_inline))
static inline void dw_block_vnni(const int8_t *const *tap, int nquads,
                                 const int8_t *wb, size_t c, bool full,
                                 __m256i *a)
{
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    int t, i;

    for (t = 0; t < nquads; t++) {
        const int8_t *wt = wb + (size_t)t * 128;
        __m256i x[4], ab0, ab1, cd0, cd1;

        for (i = 0; i < 4; i++) {
            const int8_t *src = tap[4 * t + i] + c;

            x[i] = full ? _mm256_loadu_si256((const __m256i *)src) :
                   _mm256_zextsi128_si256(
                       _mm_loadu_si128((const __m128i *)src));
            x[i] = _mm256_xor_si256(x[i], flip);
        }
        ab0 = _mm256_unpacklo_epi8(x[0], x[1]);
        ab1 = _mm256_unpackhi_epi8(x[0], x[1]);
        cd0 = _mm256_unpacklo_epi8(x[2], x[3]);
        cd1 = _mm256_unpackhi_epi8(x[2], x[3]);
        a[0] = _mm256_dpbusd_epi32(a[0], _mm256_unpacklo_epi16(ab0, cd0),
                                   _mm256_loadu_si256((const __m256i *)wt));
        a[1] = _mm256_dpbusd_epi32(a[1], _mm256_unpackhi_epi16(ab0, cd0),
                                   _mm256_loadu_si256((const __m256i *)
                                                      (wt + 32)));
        a[2] = _mm256_dpbusd_epi32(a[2], _mm256_unpacklo_epi16(ab1, cd1),
                                   _mm256_loadu_si256((const __m256i *)
                                                      (wt + 64)));
        a[3] = _mm256_dpbusd_epi32(a[3], _mm256_unpackhi_epi16(ab1, cd1),
                                   _mm256_loadu_si256((const __m256i *)
                                                      (wt + 96)));
    }
}

__attribute__((target(APU_VNNI_TARGET)))
static void dw_pixel_vnni(const int8_t *const *tap, int nquads,
                          const int8_t *wq, int nblk, const uint32_t *bc,
                          const Rq *q, int8_t *o)
{
    uint32_t tmp[32];
    int b, h;

    for (b = 0; b < nblk; b += 2) {
        const int8_t *wb = wq + (size_t)(b / 2) * nquads * 128;
        size_t c = (size_t)b * 16;
        bool full = b + 1 < nblk;
        __m256i a[4] = { _mm256_setzero_si256(), _mm256_setzero_si256(),
                         _mm256_setzero_si256(), _mm256_setzero_si256() };
        __m256i v[4];

        if (full) {
            dw_block_vnni(tap, nquads, wb, c, true, a);
        } else {
            dw_block_vnni(tap, nquads, wb, c, false, a);
        }
        /* Channels 0-7, 8-15, 16-23, 24-31, plus the folded bias. */
        v[0] = _mm256_permute2x128_si256(a[0], a[1], 0x20);
        v[1] = _mm256_permute2x128_si256(a[2], a[3], 0x20);
        v[2] = _mm256_permute2x128_si256(a[0], a[1], 0x31);
        v[3] = _mm256_permute2x128_si256(a[2], a[3], 0x31);
        for (h = 0; h < 4; h++) {
            v[h] = _mm256_add_epi32(v[h], _mm256_loadu_si256(
                (const __m256i *)(bc + c + 8 * h)));
        }
        if (q->simd) {
            rq16_avx2(q, v[0], v[1], c, o + c);
            if (full) {
                rq16_avx2(q, v[2], v[3], c + 16, o + c + 16);
            }
            continue;
        }
        for (h = 0; h < 4; h++) {
            _mm256_storeu_si256((__m256i *)(tmp + 8 * h), v[h]);
        }
        rq_scalar(q, tmp, c, full ? 32 : 16, o + c);
    }
}
#endif

APU_SIMD_CLONES
static int conv_dw1(const ApuConvParams *p, const ConvPlan *pl,
                    const int8_t *in, const int8_t *w, const int32_t *bias,
                    const int32_t *mult, const int32_t *shift, int8_t *out,
                    ApuPoll *poll, Isa isa)
{
    const int ntaps = p->k_h * p->k_w, npairs = (ntaps + 1) / 2;
    const int nquads = (int)pl->nquads;
    const int vnni = p->w_zp ? VNNI_NONE : isa.vnni;
    const int nblk = isa.avx2 || vnni ? p->out_c / 16 : 0;
    const size_t c0 = (size_t)nblk * 16, nc = p->out_c - c0;
    const uint64_t pix_work = (uint64_t)2 * npairs * p->out_c;
    const int8_t **tap = malloc(pl->tap_b);
    int8_t *zrow = malloc(pl->zrow_b);
    uint32_t *acc = malloc(pl->acc_b);
    int16_t *wp = NULL;
    int8_t *wq = NULL;
    uint32_t *bc = NULL;
    int oy, ox, ky, kx, ret = -1;
    size_t c;
    Rq q;

    if (rq_init(&q, mult, shift, p->out_c, p->out_zp, p->act_min,
                p->act_max, p->single_rounding, isa.avx2)) {
        goto out_free;
    }
    if (!tap || !zrow || !acc) {
        goto out;
    }
    if (nblk && vnni) {
        wq = calloc(1, pl->dwq_b);
        bc = malloc(pl->dwb_b);
        if (!wq || !bc) {
            goto out;
        }
        pack_dw_quads(p, pl, w, bias, wq, bc);
    }
#ifdef APU_HAVE_AVX2_KERNEL
    if (nblk && !vnni) {
        wp = pack_dw_pairs(p, pl, w, ntaps, nblk);
        if (!wp) {
            goto out;
        }
    }
#endif
    memset(zrow, p->in_zp, p->in_c);
    for (oy = 0; oy < p->out_h; oy++) {
        int y0 = oy * p->stride_h - p->pad_top;

        for (ox = 0; ox < p->out_w; ox++) {
            int x0 = ox * p->stride_w - p->pad_left, t = 0;
            int8_t *o = out + ((size_t)oy * p->out_w + ox) * p->out_c;

            if (apu_poll(poll, pix_work)) {
                ret = APU_OP_ABORTED;
                goto out;
            }
            for (ky = 0; ky < p->k_h; ky++) {
                int iy = y0 + ky * p->dil_h;

                for (kx = 0; kx < p->k_w; kx++, t++) {
                    int ix = x0 + kx * p->dil_w;

                    tap[t] = iy < 0 || iy >= p->in_h || ix < 0 ||
                             ix >= p->in_w ? zrow :
                             in + ((size_t)iy * p->in_w + ix) * p->in_c;
                }
            }
            for (t = ntaps; t < 4 * nquads; t++) {
                tap[t] = zrow;      /* their weights are zero */
            }
            if (nblk && vnni == VNNI_EMUL) {
                dw_pixel_vnni_emul(tap, nquads, wq, nblk, bc, acc);
                rq_row(&q, acc, 0, (size_t)nblk * 16, o);
            }
#ifdef APU_HAVE_AVX2_KERNEL
            if (nblk && vnni == VNNI_HW) {
                dw_pixel_vnni(tap, nquads, wq, nblk, bc, &q, o);
            }
            if (nblk && !vnni) {
                dw_pixel_avx2(tap, npairs, wp, nblk, bias, p->in_zp, &q, o);
            }
#endif
            if (!nc) {
                continue;
            }
            for (c = 0; c < nc; c++) {
                acc[c] = bias ? (uint32_t)bias[c0 + c] : 0;
            }
            for (t = 0; t < ntaps; t++) {
                if (p->w_zp) {
                    mac_channels_wzp(acc, tap[t] + c0,
                                     w + (size_t)t * p->out_c + c0, p->in_zp,
                                     p->w_zp, nc);
                } else {
                    mac_channels(acc, tap[t] + c0,
                                 w + (size_t)t * p->out_c + c0, p->in_zp, nc);
                }
            }
            rq_row(&q, acc, c0, nc, o + c0);
        }
    }
    ret = 0;
out:
    rq_fini(&q);
out_free:
    free(tap);
    free(zrow);
    free(acc);
    free(wp);
    free(wq);
    free(bc);
    return ret;
}

/*
 * One output pixel, visiting only the taps on the input: for pixels whose
 * window hangs over the edge (and, with large kernels, that can be most of
 * the window). Inlined twice by conv_pixel_direct(), with @w_zp a constant
 * 0 for symmetric weights, so that those pay nothing for it.
 */
static inline __attribute__((always_inline)) void
conv_pixel_direct_zp(const ApuConvParams *p, const int8_t *in,
                     const int8_t *w, const int32_t *bias,
                     const int32_t *mult, const int32_t *shift, int oy,
                     int ox, int8_t *o, int32_t w_zp)
{
    const int cin_g = p->in_c / p->groups;
    const int cout_g = p->out_c / p->groups;
    const bool dw = p->groups == p->in_c && p->groups > 1;
    const int32_t zp = p->in_zp;
    int y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
    int ky0, ky1, kx0, kx1, oc;

    tap_range(y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
    tap_range(x0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
    for (oc = 0; oc < p->out_c; oc++) {
        int g = oc / cout_g;
        uint32_t acc = bias ? (uint32_t)bias[oc] : 0;
        int ky, kx, ic;

        for (ky = ky0; ky < ky1; ky++) {
            int iy = y0 + ky * p->dil_h;

            for (kx = kx0; kx < kx1; kx++) {
                int ix = x0 + kx * p->dil_w;
                const int8_t *px = in + ((size_t)iy * p->in_w + ix) *
                                   p->in_c + g * cin_g;

                if (dw) {
                    acc += (uint32_t)((px[0] - zp) *
                                      (w[((size_t)ky * p->k_w + kx) *
                                         p->out_c + oc] - w_zp));
                    continue;
                }
                for (ic = 0; ic < cin_g; ic++) {
                    acc += (uint32_t)((px[ic] - zp) *
                                      (w[(((size_t)oc * p->k_h + ky) *
                                          p->k_w + kx) * cin_g + ic] - w_zp));
                }
            }
        }
        o[oc] = requant(p, (int32_t)acc, mult[oc], shift[oc]);
    }
}

static void conv_pixel_direct(const ApuConvParams *p, const int8_t *in,
                              const int8_t *w, const int32_t *bias,
                              const int32_t *mult, const int32_t *shift,
                              int oy, int ox, int8_t *o)
{
    if (p->w_zp) {
        conv_pixel_direct_zp(p, in, w, bias, mult, shift, oy, ox, o,
                             p->w_zp);
    } else {
        conv_pixel_direct_zp(p, in, w, bias, mult, shift, oy, ox, o, 0);
    }
}

#ifdef APU_HAVE_AVX2_KERNEL
/*
 * The 8 x 8 matrix of 32-bit elements in @x[0..7] (row r: register r),
 * transposed into @y: element j of row r goes to element r of row j.
 */
__attribute__((target("avx2"), always_inline))
static inline void transpose8x8_epi32_avx2(const __m256i x[8], __m256i y[8])
{
    __m256i t[8], u[8];
    int r;

    for (r = 0; r < 8; r += 2) {
        t[r] = _mm256_unpacklo_epi32(x[r], x[r + 1]);
        t[r + 1] = _mm256_unpackhi_epi32(x[r], x[r + 1]);
    }
    for (r = 0; r < 8; r += 4) {
        u[r] = _mm256_unpacklo_epi64(t[r], t[r + 2]);
        u[r + 1] = _mm256_unpackhi_epi64(t[r], t[r + 2]);
        u[r + 2] = _mm256_unpacklo_epi64(t[r + 1], t[r + 3]);
        u[r + 3] = _mm256_unpackhi_epi64(t[r + 1], t[r + 3]);
    }
    /* u[c]: elements c and c + 4 of rows 0-3; u[4 + c]: of rows 4-7. */
    for (r = 0; r < 4; r++) {
        y[r] = _mm256_permute2x128_si256(u[r], u[r + 4], 0x20);
        y[r + 4] = _mm256_permute2x128_si256(u[r], u[r + 4], 0x31);
    }
}

/*
 * Rows @w, @w + k, ... (8 output channels, int8, @k taps each), taps
 * [0, @kfull) (a multiple of 16): tap pairs i, i + 1 become int16 pairs
 * at @wp[(i / 2) * npad * 2 + n * 2]. Sixteen taps at a time: the rows are
 * widened to int16 and the 8 x 8 matrix of 32-bit pairs is transposed.
 */
__attribute__((target("avx2")))
static void transpose_pairs8_avx2(const int8_t *w, size_t k, size_t kfull,
                                  int16_t *wp, size_t npad, int w_zp)
{
    const __m256i vzp = _mm256_set1_epi16((int16_t)w_zp);
    size_t i;
    int r;

    for (i = 0; i < kfull; i += 16) {
        __m256i x[8], y[8];

        for (r = 0; r < 8; r++) {
            x[r] = _mm256_sub_epi16(_mm256_cvtepi8_epi16(
                _mm_loadu_si128((const __m128i *)(w + r * k + i))), vzp);
        }
        transpose8x8_epi32_avx2(x, y);
        for (r = 0; r < 8; r++) {
            _mm256_storeu_si256((__m256i *)(wp + (i / 2 + r) * npad * 2),
                                y[r]);
        }
    }
}

/*
 * Weights for the AVX2 kernel: per group, [k / 2][n][2] int16 (pairs of
 * taps side by side), n padded to a multiple of 16, k to a multiple of 2,
 * padding zero. The weight zero point is subtracted here, once per op.
 */
static int16_t *pack_pairs(const ApuConvParams *p, const ConvPlan *pl,
                           const int8_t *w, size_t k, size_t npad)
{
    const int cout_g = p->out_c / p->groups;
    const bool dw = p->groups == p->in_c && p->groups > 1;
    size_t kp = (k + 1) / 2, per_group = kp * npad * 2;
    int16_t *wp = calloc(1, pl->wp_b);     /* per_group x groups int16 */
    int g, n;
    size_t i;

    if (!wp) {
        return NULL;
    }
    for (g = 0; g < p->groups; g++) {
        /* Blocks of 8 channels x 16 taps transposed in registers. */
        int nfull = dw ? 0 : cout_g & ~7;
        size_t kfull = k & ~(size_t)15;

        for (n = 0; n < nfull; n += 8) {
            transpose_pairs8_avx2(w + (size_t)(g * cout_g + n) * k, k, kfull,
                                  wp + g * per_group + n * 2, npad, p->w_zp);
        }
        for (n = 0; n < cout_g; n++) {
            int oc = g * cout_g + n;

            for (i = n < nfull ? kfull : 0; i < k; i++) {
                wp[g * per_group + (i / 2) * npad * 2 + n * 2 + (i & 1)] =
                    (dw ? w[i * p->out_c + oc] : w[oc * k + i]) - p->w_zp;
            }
        }
    }
    return wp;
}

/*
 * For APU_PIX (4) pixels j: acc[j][n] = init[n] + sum over k of
 * patch_j[k] * w[k][n], for n < npad: 16 channels at a time, two taps per
 * vpmaddwd, each weight load serving every pixel. Exact: each product fits
 * int16 * int16 (|patch| <= 255, |w - w_zp| <= 255: a pair's sum is under
 * 2^17), and the int32 sums wrap like the scalar code. The accumulators
 * are named variables, so they stay in registers.
 */
static inline __attribute__((target("avx2"))) __m256i
apu_bcast_pair(const int16_t *p)
{
    int32_t pair;

    memcpy(&pair, p, sizeof(pair));     /* no aliasing of int16 as int32 */
    return _mm256_set1_epi32(pair);
}
#define APU_BCAST_PAIR(ptr) apu_bcast_pair(ptr)
#define APU_MAC2(acc0, acc1, x, w0, w1) \
    do { \
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x, w0)); \
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x, w1)); \
    } while (0)

__attribute__((target("avx2")))
static void gemm_pairs_avx2(const int16_t *patch, size_t pstride,
                             const int16_t *wp, size_t kp, size_t npad,
                             const uint32_t *init, uint32_t *acc)
{
    const int16_t *p0 = patch, *p1 = patch + pstride;
    const int16_t *p2 = patch + 2 * pstride, *p3 = patch + 3 * pstride;
    size_t nb, i;

    for (nb = 0; nb < npad; nb += 16) {
        const int16_t *wrow = wp + nb * 2;
        __m256i a00 = _mm256_loadu_si256((const __m256i *)(init + nb));
        __m256i a01 = _mm256_loadu_si256((const __m256i *)(init + nb + 8));
        __m256i a10 = a00, a11 = a01, a20 = a00, a21 = a01;
        __m256i a30 = a00, a31 = a01;

        for (i = 0; i < kp; i++) {
            const int16_t *wi = wrow + i * npad * 2;
            __m256i w0 = _mm256_loadu_si256((const __m256i *)wi);
            __m256i w1 = _mm256_loadu_si256((const __m256i *)(wi + 16));
            __m256i x;

            x = APU_BCAST_PAIR(p0 + 2 * i);
            APU_MAC2(a00, a01, x, w0, w1);
            x = APU_BCAST_PAIR(p1 + 2 * i);
            APU_MAC2(a10, a11, x, w0, w1);
            x = APU_BCAST_PAIR(p2 + 2 * i);
            APU_MAC2(a20, a21, x, w0, w1);
            x = APU_BCAST_PAIR(p3 + 2 * i);
            APU_MAC2(a30, a31, x, w0, w1);
        }
        _mm256_storeu_si256((__m256i *)(acc + nb), a00);
        _mm256_storeu_si256((__m256i *)(acc + nb + 8), a01);
        _mm256_storeu_si256((__m256i *)(acc + npad + nb), a10);
        _mm256_storeu_si256((__m256i *)(acc + npad + nb + 8), a11);
        _mm256_storeu_si256((__m256i *)(acc + 2 * npad + nb), a20);
        _mm256_storeu_si256((__m256i *)(acc + 2 * npad + nb + 8), a21);
        _mm256_storeu_si256((__m256i *)(acc + 3 * npad + nb), a30);
        _mm256_storeu_si256((__m256i *)(acc + 3 * npad + nb + 8), a31);
    }
}
#endif


/*
 * VNNI convolution (w_zp == 0). The patch holds u = x + 128 as bytes, the
 * weights go per group as [kq][npad][4] int8 (quads of taps side by side,
 * padding zero) and the bias of each channel takes -(128 + in_zp) times
 * its weights' sum, so that sum u w + bias' = sum (x - in_zp) w + bias,
 * modulo 2^32 like everything else.
 */
#ifdef APU_HAVE_AVX2_KERNEL
/*
 * 8 rows of 8 quads (32 bytes, @ss apart) transposed to 8 rows of 8 quads
 * (@ds apart): quad j of row r goes to quad r of row j.
 */
__attribute__((target("avx2")))
static void transpose_quads8_avx2(const int8_t *src, size_t ss, int8_t *dst,
                                  size_t ds)
{
    __m256i x[8], y[8];
    int r;

    for (r = 0; r < 8; r++) {
        x[r] = _mm256_loadu_si256((const __m256i *)(src + r * ss));
    }
    transpose8x8_epi32_avx2(x, y);
    for (r = 0; r < 8; r++) {
        _mm256_storeu_si256((__m256i *)(dst + r * ds), y[r]);
    }
}

/* Sum of @n int8 (n a multiple of 32), by vpsadbw on x ^ 0x80. */
__attribute__((target("avx2")))
static uint32_t sum_i8_avx2(const int8_t *w, size_t n)
{
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    __m256i a = _mm256_setzero_si256();
    uint64_t lanes[4];
    size_t i;

    for (i = 0; i < n; i += 32) {
        __m256i x = _mm256_xor_si256(
            _mm256_loadu_si256((const __m256i *)(w + i)), flip);

        a = _mm256_add_epi64(a, _mm256_sad_epu8(x, _mm256_setzero_si256()));
    }
    _mm256_storeu_si256((__m256i *)lanes, a);
    return (uint32_t)(lanes[0] + lanes[1] + lanes[2] + lanes[3]) -
           128u * (uint32_t)n;
}
#endif

/* @wq (pl->wp_b bytes, zeroed) and the folded bias @bias_pad. */
static void pack_quads(const ApuConvParams *p, const ConvPlan *pl,
                       const int8_t *w, const int32_t *bias, bool avx2,
                       int8_t *wq, uint32_t *bias_pad)
{
    const int cout_g = p->out_c / p->groups;
    const bool dw = p->groups == p->in_c && p->groups > 1;
    const size_t k = pl->k, kq = pl->kq, npad = pl->npad;
    const uint32_t off = (uint32_t)(128 + p->in_zp);
    int g, n;
    size_t i;

    for (g = 0; g < p->groups; g++) {
        int8_t *wg = wq + (size_t)g * kq * npad * 4;
        int nfull = 0;
        size_t kfull = 0;

#ifdef APU_HAVE_AVX2_KERNEL
        if (avx2 && !dw) {
            nfull = cout_g & ~7;
            kfull = k & ~(size_t)31;
            for (n = 0; n < nfull; n += 8) {
                for (i = 0; i < kfull; i += 32) {
                    transpose_quads8_avx2(w + (size_t)(g * cout_g + n) * k +
                                          i, k, wg + (i / 4) * npad * 4 +
                                          (size_t)n * 4, npad * 4);
                }
            }
        }
#else
        (void)avx2;
#endif
        for (n = 0; n < cout_g; n++) {
            int oc = g * cout_g + n;
            uint32_t sum = 0;

            for (i = n < nfull ? kfull : 0; i < k; i++) {
                wg[(i / 4) * npad * 4 + (size_t)n * 4 + i % 4] =
                    dw ? w[i * p->out_c + oc] : w[oc * k + i];
            }
            i = 0;
#ifdef APU_HAVE_AVX2_KERNEL
            if (avx2 && !dw) {
                i = k & ~(size_t)31;
                sum = sum_i8_avx2(w + (size_t)oc * k, i);
            }
#endif
            for (; i < k; i++) {
                sum += (uint32_t)(dw ? w[i * p->out_c + oc] : w[oc * k + i]);
            }
            bias_pad[(size_t)g * npad + n] =
                (bias ? (uint32_t)bias[oc] : 0) - off * sum;
        }
    }
}

/*
 * For APU_PIX (4) pixels j (bytes @pstride apart): acc[j][n] = init[n] +
 * sum over quads i of patch_j[4i..4i+3] . wq[i][n][0..3], n < npad.
 */
static void gemm_quads_emul(const uint8_t *patch, size_t pstride,
                            const int8_t *wq, size_t kq, size_t npad,
                            const uint32_t *init, uint32_t *acc)
{
    size_t j, n, i;
    int t;

    for (j = 0; j < APU_PIX; j++) {
        for (n = 0; n < npad; n++) {
            uint32_t a = init[n];

            for (i = 0; i < kq; i++) {
                for (t = 0; t < 4; t++) {
                    a += (uint32_t)(patch[j * pstride + 4 * i + t] *
                                    wq[(i * npad + n) * 4 + t]);
                }
            }
            acc[j * npad + n] = a;
        }
    }
}

#ifdef APU_HAVE_AVX2_KERNEL
static inline __attribute__((target(APU_VNNI_TARGET))) __m512i
apu_bcast_quad(const uint8_t *p)
{
    int32_t quad;

    memcpy(&quad, p, sizeof(quad));
    return _mm512_set1_epi32(quad);
}

/* gemm_quads_emul() with vpdpbusd: 32 channels (then 16) x 4 pixels. */
__attribute__((target(APU_VNNI_TARGET)))
static void gemm_quads_vnni(const uint8_t *patch, size_t pstride,
                            const int8_t *wq, size_t kq, size_t npad,
                            const uint32_t *init, uint32_t *acc)
{
    const uint8_t *p0 = patch, *p1 = patch + pstride;
    const uint8_t *p2 = patch + 2 * pstride, *p3 = patch + 3 * pstride;
    size_t nb = 0, i;

    for (; nb + 32 <= npad; nb += 32) {
        __m512i a00 = _mm512_loadu_si512(init + nb);
        __m512i a01 = _mm512_loadu_si512(init + nb + 16);
        __m512i a10 = a00, a11 = a01, a20 = a00, a21 = a01;
        __m512i a30 = a00, a31 = a01;

        for (i = 0; i < kq; i++) {
            const int8_t *wi = wq + (i * npad + nb) * 4;
            __m512i w0 = _mm512_loadu_si512(wi);
            __m512i w1 = _mm512_loadu_si512(wi + 64);
            __m512i x;

            x = apu_bcast_quad(p0 + 4 * i);
            a00 = _mm512_dpbusd_epi32(a00, x, w0);
            a01 = _mm512_dpbusd_epi32(a01, x, w1);
            x = apu_bcast_quad(p1 + 4 * i);
            a10 = _mm512_dpbusd_epi32(a10, x, w0);
            a11 = _mm512_dpbusd_epi32(a11, x, w1);
            x = apu_bcast_quad(p2 + 4 * i);
            a20 = _mm512_dpbusd_epi32(a20, x, w0);
            a21 = _mm512_dpbusd_epi32(a21, x, w1);
            x = apu_bcast_quad(p3 + 4 * i);
            a30 = _mm512_dpbusd_epi32(a30, x, w0);
            a31 = _mm512_dpbusd_epi32(a31, x, w1);
        }
        _mm512_storeu_si512(acc + nb, a00);
        _mm512_storeu_si512(acc + nb + 16, a01);
        _mm512_storeu_si512(acc + npad + nb, a10);
        _mm512_storeu_si512(acc + npad + nb + 16, a11);
        _mm512_storeu_si512(acc + 2 * npad + nb, a20);
        _mm512_storeu_si512(acc + 2 * npad + nb + 16, a21);
        _mm512_storeu_si512(acc + 3 * npad + nb, a30);
        _mm512_storeu_si512(acc + 3 * npad + nb + 16, a31);
    }
    if (nb < npad) {            /* npad is a multiple of 16 */
        __m512i a0 = _mm512_loadu_si512(init + nb);
        __m512i a1 = a0, a2 = a0, a3 = a0;

        for (i = 0; i < kq; i++) {
            __m512i w0 = _mm512_loadu_si512(wq + (i * npad + nb) * 4);

            a0 = _mm512_dpbusd_epi32(a0, apu_bcast_quad(p0 + 4 * i), w0);
            a1 = _mm512_dpbusd_epi32(a1, apu_bcast_quad(p1 + 4 * i), w0);
            a2 = _mm512_dpbusd_epi32(a2, apu_bcast_quad(p2 + 4 * i), w0);
            a3 = _mm512_dpbusd_epi32(a3, apu_bcast_quad(p3 + 4 * i), w0);
        }
        _mm512_storeu_si512(acc + nb, a0);
        _mm512_storeu_si512(acc + npad + nb, a1);
        _mm512_storeu_si512(acc + 2 * npad + nb, a2);
        _mm512_storeu_si512(acc + 3 * npad + nb, a3);
    }
}
#endif

/*
 * Everything else. Pixels whose window hangs over the edge go the direct
 * way. For the others, the patch of taps of each group (zero point
 * subtracted, int16, padded to an even length) is gathered, four pixels at
 * a time, and multiplied with the weights: by the AVX2 kernel where the
 * CPU has it, else by plain inner products per output channel. Both take
 * the weights widened to int16 with the weight zero point subtracted, so
 * w_zp costs nothing per MAC (taps off the input, which add nothing, only
 * occur on the direct path).
 */
APU_SIMD_CLONES
static int conv_patch(const ApuConvParams *p, const ConvPlan *pl,
                      const int8_t *in, const int8_t *w,
                      const int32_t *bias, const int32_t *mult,
                      const int32_t *shift, int8_t *out, ApuPoll *poll,
                      Isa isa)
{
    const int vnni = p->w_zp ? VNNI_NONE : isa.vnni;
    const size_t kq = pl->kq, kq4 = 4 * kq;
    const size_t pstride_b = kq4 * p->groups;   /* VNNI: bytes */
    const int cin_g = p->in_c / p->groups;
    const int cout_g = p->out_c / p->groups;
    const bool dw = p->groups == p->in_c && p->groups > 1;
    const size_t k = pl->k;
#ifdef APU_HAVE_AVX2_KERNEL
    const size_t kp = pl->kp;
#endif
    const size_t kpad = pl->kpad;
    const size_t pstride = pl->pstride;         /* between pixels */
    const size_t npad = pl->npad;
    const uint64_t pix_work = pl->engine_macs /
                              ((uint64_t)p->out_h * p->out_w);
    int16_t *patch = calloc(1, pl->patch_b);
    uint32_t *accs = malloc(pl->accs_b);
    int16_t *wt = NULL, *wp = NULL;
    int8_t *wq = NULL;
    uint32_t *acc_pad = NULL, *bias_pad = NULL;
    int ret = -1;
    int bx[APU_PIX];
    Rq q = { 0 };
    int oy, ox, oc, g, j, nbat;
    size_t i;

    if (!patch || !accs ||
        rq_init(&q, mult, shift, p->out_c, p->out_zp, p->act_min,
                p->act_max, p->single_rounding, isa.avx2)) {
        goto out;
    }
    if (vnni) {
        wq = calloc(1, pl->wp_b);
        acc_pad = malloc(pl->acc_pad_b);
        bias_pad = calloc(1, pl->bias_pad_b);
        if (!wq || !acc_pad || !bias_pad) {
            goto out;
        }
        pack_quads(p, pl, w, bias, isa.avx2, wq, bias_pad);
    }
#ifdef APU_HAVE_AVX2_KERNEL
    /* AVX2: four pixels per weight load, whatever the patch length. */
    if (isa.avx2 && !vnni) {
        wp = pack_pairs(p, pl, w, k, npad);
        acc_pad = malloc(pl->acc_pad_b);
        bias_pad = calloc(1, pl->bias_pad_b);
        if (!wp || !acc_pad || !bias_pad) {
            goto out;
        }
        for (g = 0; g < p->groups && bias; g++) {
            for (oc = 0; oc < cout_g; oc++) {
                bias_pad[g * npad + oc] = (uint32_t)bias[g * cout_g + oc];
            }
        }
    }
#endif
    if (!wp && !wq) {
        wt = malloc(pl->wt_b);
        if (!wt) {
            goto out;
        }
        for (oc = 0; oc < p->out_c; oc++) {
            for (i = 0; i < k; i++) {
                /* dw: [k_h][k_w][out_c], one input channel per group. */
                wt[oc * k + i] = (dw ? w[i * p->out_c + oc] : w[oc * k + i]) -
                                 p->w_zp;
            }
        }
    }

    for (oy = 0; oy < p->out_h; oy++) {
        int y0 = oy * p->stride_h - p->pad_top;

        nbat = 0;
        for (ox = 0; ox < p->out_w; ox++) {
            int x0 = ox * p->stride_w - p->pad_left;
            int ky, kx, c;

            if (apu_poll(poll, pix_work)) {
                ret = APU_OP_ABORTED;
                goto out;
            }

            if (y0 < 0 || x0 < 0 ||
                y0 + (p->k_h - 1) * p->dil_h >= p->in_h ||
                x0 + (p->k_w - 1) * p->dil_w >= p->in_w) {
                conv_pixel_direct(p, in, w, bias, mult, shift, oy, ox,
                                  out + ((size_t)oy * p->out_w + ox) *
                                  p->out_c);
            } else if (wq) {
                for (g = 0; g < p->groups; g++) {
                    uint8_t *pb = (uint8_t *)patch + nbat * pstride_b +
                                  g * kq4;

                    for (ky = 0; ky < p->k_h; ky++) {
                        int iy = y0 + ky * p->dil_h;

                        for (kx = 0; kx < p->k_w; kx++) {
                            int ix = x0 + kx * p->dil_w;
                            const int8_t *px = in + ((size_t)iy * p->in_w +
                                                     ix) * p->in_c +
                                               g * cin_g;

                            for (c = 0; c < cin_g; c++) {
                                pb[c] = (uint8_t)px[c] ^ 0x80;
                            }
                            pb += cin_g;
                        }
                    }
                }
                bx[nbat++] = ox;
            } else {
                for (g = 0; g < p->groups; g++) {
                    int16_t *pp = patch + nbat * pstride + g * kpad;

                    for (ky = 0; ky < p->k_h; ky++) {
                        int iy = y0 + ky * p->dil_h;

                        for (kx = 0; kx < p->k_w; kx++) {
                            int ix = x0 + kx * p->dil_w;
                            const int8_t *px = in + ((size_t)iy * p->in_w +
                                                     ix) * p->in_c +
                                               g * cin_g;

                            for (c = 0; c < cin_g; c++) {
                                pp[c] = px[c] - p->in_zp;
                            }
                            pp += cin_g;
                        }
                    }
                }
                bx[nbat++] = ox;
            }
            if (nbat == 0 || (nbat < APU_PIX && ox + 1 < p->out_w)) {
                continue;
            }

            /* A batch of nbat pixels: accumulate, then requantize. */
            for (g = 0; g < p->groups; g++) {
                if (wq) {
                    const uint8_t *pb = (const uint8_t *)patch + g * kq4;
                    const int8_t *wg = wq + g * kq * npad * 4;

#ifdef APU_HAVE_AVX2_KERNEL
                    if (vnni == VNNI_HW) {
                        gemm_quads_vnni(pb, pstride_b, wg, kq, npad,
                                        bias_pad + g * npad, acc_pad);
                    }
#endif
                    if (vnni == VNNI_EMUL) {
                        gemm_quads_emul(pb, pstride_b, wg, kq, npad,
                                        bias_pad + g * npad, acc_pad);
                    }
                }
#ifdef APU_HAVE_AVX2_KERNEL
                if (wp) {
                    gemm_pairs_avx2(patch + g * kpad, pstride,
                                     wp + g * kp * npad * 2, kp, npad,
                                     bias_pad + g * npad, acc_pad);
                }
#endif
                if (wp || wq) {
                    if (p->groups == 1) {
                        continue;   /* requantized from acc_pad below */
                    }
                    for (j = 0; j < nbat; j++) {
                        for (oc = 0; oc < cout_g; oc++) {
                            accs[j * p->out_c + g * cout_g + oc] =
                                acc_pad[j * npad + oc];
                        }
                    }
                    continue;
                }
                for (j = 0; j < nbat; j++) {
                    const int16_t *pp = patch + j * pstride + g * kpad;

                    for (oc = g * cout_g; oc < (g + 1) * cout_g; ) {
                        uint32_t acc[4];
                        int n = 1, m;

                        if (oc + 4 <= (g + 1) * cout_g) {
                            dot4_s16(pp, wt + oc * k, k, acc);
                            n = 4;
                        } else {
                            acc[0] = dot_s16(pp, wt + oc * k, k);
                        }
                        for (m = 0; m < n; m++, oc++) {
                            accs[j * p->out_c + oc] = acc[m];
                        }
                    }
                }
            }
            for (j = 0; j < nbat; j++) {
                uint32_t *a = accs + j * p->out_c;
                int8_t *o = out + ((size_t)oy * p->out_w + bx[j]) * p->out_c;

                if ((wp || wq) && p->groups == 1) {
                    a = acc_pad + j * npad;     /* bias included */
                } else if (!wp && !wq && bias) {
                    for (oc = 0; oc < p->out_c; oc++) {
                        a[oc] += (uint32_t)bias[oc];
                    }
                }
                rq_row(&q, a, 0, p->out_c, o);
            }
            nbat = 0;
        }
    }
    ret = 0;
out:
    rq_fini(&q);
    free(patch);
    free(accs);
    free(wt);
    free(wp);
    free(wq);
    free(acc_pad);
    free(bias_pad);
    return ret;
}

int apu_conv2d_path(const ApuConvParams *p, const int8_t *in, const int8_t *w,
                    const int32_t *bias, const int32_t *mult,
                    const int32_t *shift, int8_t *out, ApuPoll *poll,
                    ApuEnginePath path)
{
    ConvPlan pl;
    Isa isa;

    if (!apu_engine_path_available(path)) {
        return -1;
    }
    isa = isa_of(path);
    conv_plan(p, &pl);
    if (pl.dw1) {
        return conv_dw1(p, &pl, in, w, bias, mult, shift, out, poll, isa);
    }
    return conv_patch(p, &pl, in, w, bias, mult, shift, out, poll, isa);
}

int apu_conv2d_poll(const ApuConvParams *p, const int8_t *in, const int8_t *w,
                    const int32_t *bias, const int32_t *mult,
                    const int32_t *shift, int8_t *out, ApuPoll *poll)
{
    return apu_conv2d_path(p, in, w, bias, mult, shift, out, poll,
                           APU_PATH_AUTO);
}

int apu_conv2d(const ApuConvParams *p, const int8_t *in, const int8_t *w,
               const int32_t *bias, const int32_t *mult,
               const int32_t *shift, int8_t *out)
{
    return apu_conv2d_poll(p, in, w, bias, mult, shift, out, NULL);
}

/* ---- requantization for other files' kernels (apu_sparse.c) ------------ */

struct ApuRequant {
    Rq q;
};

ApuRequant *apu_requant_new(const int32_t *mult, const int32_t *shift, int n,
                            int out_zp, int lo, int hi, bool single,
                            bool simd)
{
    ApuRequant *r = malloc(sizeof(*r));

    if (!r) {
        return NULL;
    }
    if (rq_init(&r->q, mult, shift, n, out_zp, lo, hi, single,
                simd && cpu_avx2())) {
        free(r);
        return NULL;
    }
    return r;
}

void apu_requant_apply(const ApuRequant *q, const uint32_t *acc, size_t c,
                       size_t len, int8_t *out)
{
    rq_row(&q->q, acc, c, len, out);
}

#ifdef APU_HAVE_AVX2_KERNEL
/* Channel-major: channel c + i's 16 accumulators at acc[16 i]. */
__attribute__((target("avx2")))
static void rq_cm16_avx2(const Rq *q, const uint32_t *acc, size_t c, size_t n,
                         int8_t *out)
{
    const __m256i zp = _mm256_set1_epi32(q->zp);
    const __m256i lo = _mm256_set1_epi32(q->lo), hi = _mm256_set1_epi32(q->hi);
    size_t i;

    for (i = 0; i < n; i++) {
        __m256i m = _mm256_set1_epi32(q->mult[c + i]);
        __m256i l = _mm256_set1_epi32(q->left[c + i]);
        __m256i r = _mm256_set1_epi32(q->right[c + i]);
        __m256i k = _mm256_set1_epi32(q->mask[c + i]);
        __m256i h = _mm256_set1_epi32(q->half[c + i]);
        __m256i v0 = mbqm8_avx2(
            _mm256_loadu_si256((const __m256i *)(acc + 16 * i)), m, l, r, k, h);
        __m256i v1 = mbqm8_avx2(
            _mm256_loadu_si256((const __m256i *)(acc + 16 * i + 8)), m, l, r, k,
            h);
        __m256i p16;

        v0 = _mm256_max_epi32(_mm256_add_epi32(v0, zp), lo);
        v1 = _mm256_max_epi32(_mm256_add_epi32(v1, zp), lo);
        v0 = _mm256_min_epi32(v0, hi);
        v1 = _mm256_min_epi32(v1, hi);
        p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xd8);
        _mm_storeu_si128((__m128i *)(out + 16 * i),
                         _mm_packs_epi16(_mm256_castsi256_si128(p16),
                                         _mm256_extracti128_si256(p16, 1)));
    }
}
#endif

void apu_requant_cmajor16(const ApuRequant *q, const uint32_t *acc, size_t c,
                          size_t n, int8_t *out)
{
    size_t i, j;

#ifdef APU_HAVE_AVX2_KERNEL
    if (q->q.simd) {
        rq_cm16_avx2(&q->q, acc, c, n, out);
        return;
    }
#endif
    for (i = 0; i < n; i++) {
        for (j = 0; j < 16; j++) {
            rq_scalar(&q->q, acc + 16 * i + j, c + i, 1, out + 16 * i + j);
        }
    }
}

void apu_requant_free(ApuRequant *q)
{
    if (q) {
        rq_fini(&q->q);
        free(q);
    }
}

/* ---- firmware ABI 1.4: int4 weights ------------------------------------- */

/* A byte at a time, both nibbles sign-extended: a loop that vectorizes. */
APU_SIMD_CLONES
static void int4_unpack_pairs(const uint8_t *restrict packed, uint64_t npairs,
                              int8_t *restrict out)
{
    uint64_t j;

    for (j = 0; j < npairs; j++) {
        int b = packed[j];

        out[2 * j] = (int8_t)(((b & 0xf) ^ 8) - 8);
        out[2 * j + 1] = (int8_t)((b >> 4 ^ 8) - 8);
    }
}

void apu_int4_unpack(const uint8_t *packed, uint64_t n, int8_t *out)
{
    int4_unpack_pairs(packed, n / 2, out);
    if (n % 2) {
        out[n - 1] = (int8_t)(((packed[n / 2] & 0xf) ^ 8) - 8);
    }
}

int apu_conv2d_int4_poll(const ApuConvParams *p, const int8_t *in,
                         const uint8_t *w4, const int32_t *bias,
                         const int32_t *mult, const int32_t *shift,
                         int8_t *out, ApuPoll *poll)
{
    uint64_t nw = apu_conv_weights_size(p);
    int8_t *w = malloc(nw ? nw : 1);
    int r;

    if (!w) {
        return -1;
    }
    apu_int4_unpack(w4, nw, w);
    r = apu_conv2d_poll(p, in, w, bias, mult, shift, out, poll);
    free(w);
    return r;
}

/*
 * Broadcasting (ADD, MUL): input2 has @period elements, applied to every
 * run of @period elements of input1 (0: as many as input1). The checks
 * make @count a multiple of it.
 */
static uint32_t bcast_period(uint32_t period, uint32_t count)
{
    return period && period < count ? period : count;
}

/* One element of ADD (TFLite's int8 kernel): the portable arithmetic. */
static int8_t add_one(const ApuAddParams *p, int x, int y)
{
    int32_t a = (int32_t)((uint32_t)(x + p->in1_offset) << p->left_shift);
    int32_t b = (int32_t)((uint32_t)(y + p->in2_offset) << p->left_shift);
    int32_t sa = apu_mbqm(a, p->in1_mult, p->in1_shift);
    int32_t sb = apu_mbqm(b, p->in2_mult, p->in2_shift);
    int32_t v = (int32_t)((uint32_t)apu_mbqm(
                              (int32_t)((uint32_t)sa + (uint32_t)sb),
                              p->out_mult, p->out_shift) +
                          (uint32_t)p->out_zp);

    v = v < p->act_min ? p->act_min : v;
    v = v > p->act_max ? p->act_max : v;
    return (int8_t)v;
}

#ifdef APU_HAVE_AVX2_KERNEL
/* mbqm8_avx2()'s constants for one multiplier and shift. */
typedef struct Mq8 {
    __m256i m, left, right, mask, half;
} Mq8;

__attribute__((target("avx2")))
static inline Mq8 mq8_avx2(int32_t mult, int32_t shift)
{
    int32_t right = shift > 0 ? 0 : -shift;
    Mq8 q;

    q.m = _mm256_set1_epi32(mult);
    q.left = _mm256_set1_epi32(shift > 0 ? shift : 0);
    q.right = _mm256_set1_epi32(right);
    q.mask = _mm256_set1_epi32((int32_t)((1u << right) - 1));
    q.half = _mm256_set1_epi32((int32_t)((1u << right) - 1) >> 1);
    return q;
}

/*
 * Elements [0, returned) of @n: sixteen at a time, add_one()'s three
 * requantizations as mbqm8_avx2() (int32 lanes, wrapping as add_one()'s
 * unsigned arithmetic). Needs no multiplier of INT32_MIN.
 */
__attribute__((target("avx2")))
static uint32_t add_run_avx2(const ApuAddParams *p, const int8_t *a,
                             const int8_t *b, uint32_t n, int8_t *out)
{
    const Mq8 q1 = mq8_avx2(p->in1_mult, p->in1_shift);
    const Mq8 q2 = mq8_avx2(p->in2_mult, p->in2_shift);
    const Mq8 qo = mq8_avx2(p->out_mult, p->out_shift);
    const __m256i off1 = _mm256_set1_epi32(p->in1_offset);
    const __m256i off2 = _mm256_set1_epi32(p->in2_offset);
    const __m128i ls = _mm_cvtsi32_si128(p->left_shift);
    const __m256i zp = _mm256_set1_epi32(p->out_zp);
    const __m256i lo = _mm256_set1_epi32(p->act_min);
    const __m256i hi = _mm256_set1_epi32(p->act_max);
    uint32_t i;

    for (i = 0; i + 16 <= n; i += 16) {
        __m128i xa = _mm_loadu_si128((const __m128i *)(a + i));
        __m128i xb = _mm_loadu_si128((const __m128i *)(b + i));
        __m256i v[2];
        __m256i p16;
        int h;

        for (h = 0; h < 2; h++) {
            __m256i x = _mm256_sll_epi32(
                _mm256_add_epi32(_mm256_cvtepi8_epi32(xa), off1), ls);
            __m256i y = _mm256_sll_epi32(
                _mm256_add_epi32(_mm256_cvtepi8_epi32(xb), off2), ls);
            __m256i sx = mbqm8_avx2(x, q1.m, q1.left, q1.right, q1.mask,
                                    q1.half);
            __m256i sy = mbqm8_avx2(y, q2.m, q2.left, q2.right, q2.mask,
                                    q2.half);

            v[h] = mbqm8_avx2(_mm256_add_epi32(sx, sy), qo.m, qo.left,
                              qo.right, qo.mask, qo.half);
            v[h] = _mm256_min_epi32(_mm256_max_epi32(
                                        _mm256_add_epi32(v[h], zp), lo), hi);
            xa = _mm_srli_si128(xa, 8);
            xb = _mm_srli_si128(xb, 8);
        }
        p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(v[0], v[1]), 0xd8);
        _mm_storeu_si128((__m128i *)(out + i),
                         _mm_packs_epi16(_mm256_castsi256_si128(p16),
                                         _mm256_extracti128_si256(p16, 1)));
    }
    return i;
}
#endif

/* Elements [0, @n) of a run of ADD: input2 element i for input1 element i. */
static void add_run(const ApuAddParams *p, bool avx2, const int8_t *a,
                    const int8_t *b, uint32_t n, int8_t *out)
{
    uint32_t i = 0;

#ifdef APU_HAVE_AVX2_KERNEL
    if (avx2) {
        i = add_run_avx2(p, a, b, n, out);
    }
#else
    (void)avx2;
#endif
    for (; i < n; i++) {
        out[i] = add_one(p, a[i], b[i]);
    }
}

/* Shortest run the vector code takes input2 in (input2 repeated). */
#define APU_BCAST_RUN 64

int apu_add_path(const ApuAddParams *p, const int8_t *in1, const int8_t *in2,
                 int8_t *out, ApuEnginePath path)
{
    uint32_t period = bcast_period(p->in2_period, p->count), run = period;
    int8_t rep[2 * APU_BCAST_RUN];
    bool avx2 = isa_of(path).avx2 && p->in1_mult != INT32_MIN &&
                p->in2_mult != INT32_MIN && p->out_mult != INT32_MIN;
    uint32_t i;

    if (!apu_engine_path_available(path)) {
        return -1;
    }
    /* As apu_mul(): a short input2 repeated, for runs the vectors take. */
    if (period < APU_BCAST_RUN) {
        run = (APU_BCAST_RUN + period - 1) / period * period;
        for (i = 0; i < run; i++) {
            rep[i] = in2[i % period];
        }
        in2 = rep;
    }
    for (i = 0; i < p->count; i += run) {
        uint32_t n = p->count - i < run ? p->count - i : run;

        add_run(p, avx2, in1 + i, in2, n, out + i);
    }
    return 0;
}

void apu_add(const ApuAddParams *p, const int8_t *in1, const int8_t *in2,
             int8_t *out)
{
    apu_add_path(p, in1, in2, out, APU_PATH_AUTO);
}

int apu_avgpool_poll(const ApuPoolParams *p, const int8_t *in, int8_t *out,
                     ApuPoll *poll)
{
    const uint64_t pix_work = (uint64_t)p->channels * p->k_h * p->k_w;
    int oy, ox, c;

    for (oy = 0; oy < p->out_h; oy++) {
        int y0 = oy * p->stride_h - p->pad_top, ky0, ky1;

        tap_range(y0, 1, p->k_h, p->in_h, &ky0, &ky1);
        for (ox = 0; ox < p->out_w; ox++) {
            int x0 = ox * p->stride_w - p->pad_left, kx0, kx1;
            int64_t count;

            if (apu_poll(poll, pix_work)) {
                return APU_OP_ABORTED;
            }

            tap_range(x0, 1, p->k_w, p->in_w, &kx0, &kx1);
            count = (int64_t)(ky1 - ky0) * (kx1 - kx0);
            for (c = 0; c < p->channels; c++) {
                /*
                 * 64 bits: a window may hold up to the largest tensor's
                 * taps (2^26), whose sum leaves int32 past 2^24 taps.
                 */
                int64_t sum = 0, v;
                int ky, kx;

                for (ky = ky0; ky < ky1; ky++) {
                    for (kx = kx0; kx < kx1; kx++) {
                        sum += in[((size_t)(y0 + ky) * p->in_w + x0 + kx) *
                                  p->channels + c];
                    }
                }
                /* The check keeps every window on the input: count > 0. */
                if (p->round_uint8) {
                    /* floor((sum + count / 2) / count): uint8's half up. */
                    int64_t t = sum + count / 2;

                    v = t >= 0 ? t / count : -((-t + count - 1) / count);
                } else if (sum > 0) {
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
    return 0;
}

void apu_avgpool(const ApuPoolParams *p, const int8_t *in, int8_t *out)
{
    apu_avgpool_poll(p, in, out, NULL);
}

/* ---- firmware ABI 1.2: max pooling, multiply, table lookup -------------- */

#ifdef APU_HAVE_AVX2_KERNEL
/*
 * Channels [0, returned) of one max-pooling output pixel: 32, then 16 at a
 * time, over @nky x @nkx taps from @px (the window's top-left tap on the
 * input), clamped.
 */
__attribute__((target("avx2")))
static int maxpool_pixel_avx2(const ApuPoolParams *p, const int8_t *px,
                              int nky, int nkx, int8_t *o)
{
    const size_t row = (size_t)p->in_w * p->channels, nc = p->channels;
    const __m256i lo = _mm256_set1_epi8((int8_t)p->act_min);
    const __m256i hi = _mm256_set1_epi8((int8_t)p->act_max);
    size_t c;
    int ky, kx;

    for (c = 0; c + 32 <= nc; c += 32) {
        __m256i v = lo;     /* the clamp's lower bound, as a starting max */

        for (ky = 0; ky < nky; ky++) {
            const int8_t *r = px + ky * row + c;

            for (kx = 0; kx < nkx; kx++) {
                v = _mm256_max_epi8(v, _mm256_loadu_si256(
                                           (const __m256i *)(r + kx * nc)));
            }
        }
        _mm256_storeu_si256((__m256i *)(o + c), _mm256_min_epi8(v, hi));
    }
    for (; c + 16 <= nc; c += 16) {
        __m128i v = _mm256_castsi256_si128(lo);

        for (ky = 0; ky < nky; ky++) {
            const int8_t *r = px + ky * row + c;

            for (kx = 0; kx < nkx; kx++) {
                v = _mm_max_epi8(v, _mm_loadu_si128(
                                        (const __m128i *)(r + kx * nc)));
            }
        }
        _mm_storeu_si128((__m128i *)(o + c),
                         _mm_min_epi8(v, _mm256_castsi256_si128(hi)));
    }
    return (int)c;
}
#endif

/* o[c] = max(o[c], x[c]) over @n channels. */
APU_SIMD_CLONES
static void max_channels(int8_t *restrict o, const int8_t *restrict x,
                         size_t n)
{
    size_t c;

    for (c = 0; c < n; c++) {
        o[c] = x[c] > o[c] ? x[c] : o[c];
    }
}

/*
 * TFLite int8 MAX_POOL_2D: the largest tap of the window on the input,
 * clamped. Starting the maximum at act_min is the same as clamping after
 * (the check keeps act_min <= act_max).
 */
int apu_maxpool_poll(const ApuPoolParams *p, const int8_t *in, int8_t *out,
                     ApuPoll *poll)
{
    const size_t nc = p->channels, row = (size_t)p->in_w * nc;
    const uint64_t pix_work = (uint64_t)p->channels * p->k_h * p->k_w;
    const bool avx2 = cpu_avx2();
    int oy, ox;

    for (oy = 0; oy < p->out_h; oy++) {
        int y0 = oy * p->stride_h - p->pad_top, ky0, ky1;

        tap_range(y0, 1, p->k_h, p->in_h, &ky0, &ky1);
        for (ox = 0; ox < p->out_w; ox++) {
            int x0 = ox * p->stride_w - p->pad_left, kx0, kx1, ky, kx, c = 0;
            int8_t *o = out + ((size_t)oy * p->out_w + ox) * nc;
            const int8_t *px;

            if (apu_poll(poll, pix_work)) {
                return APU_OP_ABORTED;
            }
            /* The check keeps every window on the input: taps exist. */
            tap_range(x0, 1, p->k_w, p->in_w, &kx0, &kx1);
            px = in + (size_t)(y0 + ky0) * row + (size_t)(x0 + kx0) * nc;
#ifdef APU_HAVE_AVX2_KERNEL
            if (avx2) {
                c = maxpool_pixel_avx2(p, px, ky1 - ky0, kx1 - kx0, o);
            }
#else
            (void)avx2;
#endif
            if (c == p->channels) {
                continue;
            }
            /* The other channels tap by tap, in a loop that vectorizes. */
            memset(o + c, p->act_min, nc - c);
            for (ky = 0; ky < ky1 - ky0; ky++) {
                for (kx = 0; kx < kx1 - kx0; kx++) {
                    max_channels(o + c, px + ky * row + kx * nc + c, nc - c);
                }
            }
            for (; c < p->channels; c++) {
                o[c] = o[c] < p->act_max ? o[c] : (int8_t)p->act_max;
            }
        }
    }
    return 0;
}

void apu_maxpool(const ApuPoolParams *p, const int8_t *in, int8_t *out)
{
    apu_maxpool_poll(p, in, out, NULL);
}

static int8_t mul_one(const ApuMulParams *p, int a, int b)
{
    int32_t v = apu_mbqm((a + p->in1_offset) * (b + p->in2_offset),
                         p->out_mult, p->out_shift);

    v = (int32_t)((uint32_t)v + (uint32_t)p->out_zp);  /* wraps, as TFLite */
    v = v < p->act_min ? p->act_min : v;
    v = v > p->act_max ? p->act_max : v;
    return (int8_t)v;
}

#ifdef APU_HAVE_AVX2_KERNEL
/*
 * Elements [0, returned) of @n: sixteen at a time, the products of the
 * offset inputs (at most 255 * 255: exact in int32) requantized as
 * rq8_avx2() does, with one multiplier. Needs out_mult != INT32_MIN.
 */
__attribute__((target("avx2")))
static uint32_t mul_run_avx2(const ApuMulParams *p, const int8_t *a,
                             const int8_t *b, uint32_t n, int8_t *out)
{
    const int32_t s = p->out_shift;
    const int32_t right = s > 0 ? 0 : -s;
    const __m256i off1 = _mm256_set1_epi32(p->in1_offset);
    const __m256i off2 = _mm256_set1_epi32(p->in2_offset);
    const __m256i m = _mm256_set1_epi32(p->out_mult);
    const __m256i left = _mm256_set1_epi32(s > 0 ? s : 0);
    const __m256i vr = _mm256_set1_epi32(right);
    const __m256i mask = _mm256_set1_epi32((int32_t)((1u << right) - 1));
    const __m256i half = _mm256_set1_epi32((int32_t)((1u << right) - 1) >> 1);
    const __m256i zp = _mm256_set1_epi32(p->out_zp);
    const __m256i lo = _mm256_set1_epi32(p->act_min);
    const __m256i hi = _mm256_set1_epi32(p->act_max);
    uint32_t i;

    for (i = 0; i + 16 <= n; i += 16) {
        __m128i xa = _mm_loadu_si128((const __m128i *)(a + i));
        __m128i xb = _mm_loadu_si128((const __m128i *)(b + i));
        __m256i v[2];
        __m256i p16;
        int h;

        for (h = 0; h < 2; h++) {
            __m256i x = _mm256_add_epi32(_mm256_cvtepi8_epi32(xa), off1);
            __m256i y = _mm256_add_epi32(_mm256_cvtepi8_epi32(xb), off2);

            v[h] = mbqm8_avx2(_mm256_mullo_epi32(x, y), m, left, vr, mask,
                              half);
            v[h] = _mm256_min_epi32(_mm256_max_epi32(
                                        _mm256_add_epi32(v[h], zp), lo), hi);
            xa = _mm_srli_si128(xa, 8);
            xb = _mm_srli_si128(xb, 8);
        }
        p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(v[0], v[1]), 0xd8);
        _mm_storeu_si128((__m128i *)(out + i),
                         _mm_packs_epi16(_mm256_castsi256_si128(p16),
                                         _mm256_extracti128_si256(p16, 1)));
    }
    return i;
}
#endif

/* Elements [0, @n) of a run: input2 element i for input1 element i. */
static void mul_run(const ApuMulParams *p, bool avx2, const int8_t *a,
                    const int8_t *b, uint32_t n, int8_t *out)
{
    uint32_t i = 0;

#ifdef APU_HAVE_AVX2_KERNEL
    if (avx2) {
        i = mul_run_avx2(p, a, b, n, out);
    }
#else
    (void)avx2;
#endif
    for (; i < n; i++) {
        out[i] = mul_one(p, a[i], b[i]);
    }
}

void apu_mul(const ApuMulParams *p, const int8_t *in1, const int8_t *in2,
             int8_t *out)
{
    uint32_t period = bcast_period(p->in2_period, p->count), run = period;
    int8_t rep[2 * APU_BCAST_RUN];
    bool avx2 = cpu_avx2() && p->out_mult != INT32_MIN;
    uint32_t i;

    /*
     * A short input2 repeated to at least APU_BCAST_RUN elements (a
     * multiple of its period, under 2 * APU_BCAST_RUN): input1's runs stay
     * long enough for the vector code.
     */
    if (period < APU_BCAST_RUN) {
        run = (APU_BCAST_RUN + period - 1) / period * period;
        for (i = 0; i < run; i++) {
            rep[i] = in2[i % period];
        }
        in2 = rep;
    }
    for (i = 0; i < p->count; i += run) {
        uint32_t n = p->count - i < run ? p->count - i : run;

        mul_run(p, avx2, in1 + i, in2, n, out + i);
    }
}

#ifdef APU_HAVE_AVX2_KERNEL
/*
 * Elements [0, returned) of apu_lut(), 32 at a time: the table as sixteen
 * rows of sixteen, each looked up by the low nibble of the index (vpshufb)
 * and kept where the high nibble names the row.
 */
__attribute__((target("avx2")))
static uint32_t lut_run_avx2(uint32_t count, const int8_t *in,
                             const int8_t *table, int8_t *out)
{
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    const __m256i nib = _mm256_set1_epi8(0x0f);
    __m256i row[16];
    uint32_t i;
    int t;

    for (t = 0; t < 16; t++) {
        row[t] = _mm256_broadcastsi128_si256(
            _mm_loadu_si128((const __m128i *)(table + 16 * t)));
    }
    for (i = 0; i + 32 <= count; i += 32) {
        __m256i u = _mm256_xor_si256(
            _mm256_loadu_si256((const __m256i *)(in + i)), flip);
        __m256i lo = _mm256_and_si256(u, nib);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(u, 4), nib);
        __m256i r = _mm256_setzero_si256();

        for (t = 0; t < 16; t++) {
            r = _mm256_or_si256(r, _mm256_and_si256(
                _mm256_shuffle_epi8(row[t], lo),
                _mm256_cmpeq_epi8(hi, _mm256_set1_epi8((char)t))));
        }
        _mm256_storeu_si256((__m256i *)(out + i), r);
    }
    return i;
}
#endif

/* out[i] = table[in[i] + 128]. */
void apu_lut(uint32_t count, const int8_t *in, const int8_t *table,
             int8_t *out)
{
    uint32_t i = 0;

#ifdef APU_HAVE_AVX2_KERNEL
    if (cpu_avx2()) {
        i = lut_run_avx2(count, in, table, out);
    }
#endif
    for (; i < count; i++) {
        out[i] = table[(uint8_t)in[i] ^ 0x80];
    }
}
