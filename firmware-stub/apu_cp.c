/*
 * The APU command processor and device MMU, as the firmware runs them:
 * translate, fetch and validate a job's command buffer, move tensors
 * through the MMU, run each op, and account modeled cycles.
 *
 * Nothing here trusts what it reads: every field is checked, every length
 * bounded, and every failure becomes a job status.
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdlib.h>
#include <string.h>

#include "hw/apu_fw.h"
#include "hw/apu_le.h"

_Static_assert(sizeof(struct apu_op_conv2d) == APU_OP_SIZE, "op size");
_Static_assert(sizeof(struct apu_op_add) == APU_OP_SIZE, "op size");
_Static_assert(sizeof(struct apu_op_avgpool) == APU_OP_SIZE, "op size");
_Static_assert(sizeof(struct apu_op_lut) == APU_OP_SIZE, "op size");
_Static_assert(sizeof(struct apu_op_mul) == APU_OP_SIZE, "op size");
_Static_assert(sizeof(struct apu_ring_entry) == 64, "ring entry size");
_Static_assert(sizeof(struct apu_completion) == 64, "completion size");

/* ---- MMU ----------------------------------------------------------------- */

static int mmu_fail(ApuFault *f, uint64_t va, uint32_t flags, uint32_t status)
{
    f->addr = va;
    f->flags = flags;
    f->status = status;
    return -1;
}

int apu_mmu_translate(const ApuMmu *mmu, uint16_t asid, uint64_t va,
                      bool write, uint64_t *pa, ApuFault *f)
{
    uint32_t wflag = write ? APU_FAULT_WRITE : 0;
    uint8_t buf[16];
    uint64_t table, pte = 0;
    int level;

    if (asid >= mmu->ctx_count) {
        return mmu_fail(f, va, wflag, APU_STATUS_BAD_CONTEXT);
    }
    if (mmu->ops->dma_read(mmu->opaque,
                           mmu->ctx_base + (uint64_t)asid * 16, buf, 16)) {
        return mmu_fail(f, va, wflag | APU_FAULT_BUS, APU_STATUS_BAD_CONTEXT);
    }
    table = apu_ld64(buf);
    if (!(table & APU_CTX_VALID) || apu_ld64(buf + 8) != 0) {
        return mmu_fail(f, va, wflag, APU_STATUS_BAD_CONTEXT);
    }
    table &= APU_CTX_ROOT_MASK;
    if (va >> APU_MMU_VA_BITS) {
        return mmu_fail(f, va, wflag | APU_FAULT_RANGE, APU_STATUS_MMU_FAULT);
    }
    for (level = 0; level < APU_MMU_LEVELS; level++) {
        int sh = APU_MMU_PAGE_SHIFT +
                 APU_MMU_LEVEL_BITS * (APU_MMU_LEVELS - 1 - level);
        uint64_t idx = (va >> sh) & ((1u << APU_MMU_LEVEL_BITS) - 1);

        if (mmu->ops->dma_read(mmu->opaque, table + idx * 8, buf, 8)) {
            return mmu_fail(f, va, wflag | APU_FAULT_BUS,
                            APU_STATUS_MMU_FAULT);
        }
        pte = apu_ld64(buf);
        if (!(pte & APU_PTE_VALID)) {
            return mmu_fail(f, va, wflag | APU_FAULT_NOT_PRESENT,
                            APU_STATUS_MMU_FAULT);
        }
        table = pte & APU_PTE_ADDR_MASK;
    }
    if (write && !(pte & APU_PTE_WRITE)) {
        return mmu_fail(f, va, wflag | APU_FAULT_READ_ONLY,
                        APU_STATUS_MMU_FAULT);
    }
    *pa = table | (va & (APU_MMU_PAGE_SIZE - 1));
    return 0;
}

static int mmu_copy(const ApuMmu *mmu, uint16_t asid, uint64_t va,
                    void *rbuf, const void *wbuf, uint64_t len, ApuFault *f)
{
    bool write = wbuf != NULL;

    while (len) {
        uint64_t pa, chunk = APU_MMU_PAGE_SIZE - (va & (APU_MMU_PAGE_SIZE - 1));
        int r;

        if (chunk > len) {
            chunk = len;
        }
        if (apu_mmu_translate(mmu, asid, va, write, &pa, f)) {
            return -1;
        }
        r = write ? mmu->ops->dma_write(mmu->opaque, pa, wbuf, chunk)
                  : mmu->ops->dma_read(mmu->opaque, pa, rbuf, chunk);
        if (r) {
            return mmu_fail(f, va, (write ? APU_FAULT_WRITE : 0) |
                            APU_FAULT_BUS, APU_STATUS_MMU_FAULT);
        }
        va += chunk;
        len -= chunk;
        if (write) {
            wbuf = (const uint8_t *)wbuf + chunk;
        } else {
            rbuf = (uint8_t *)rbuf + chunk;
        }
        if (len && va >> APU_MMU_VA_BITS) {
            return mmu_fail(f, va, (write ? APU_FAULT_WRITE : 0) |
                            APU_FAULT_RANGE, APU_STATUS_MMU_FAULT);
        }
    }
    return 0;
}

int apu_mmu_read(const ApuMmu *mmu, uint16_t asid, uint64_t va, void *buf,
                 uint64_t len, ApuFault *f)
{
    return mmu_copy(mmu, asid, va, buf, NULL, len, f);
}

int apu_mmu_write(const ApuMmu *mmu, uint16_t asid, uint64_t va,
                  const void *buf, uint64_t len, ApuFault *f)
{
    return mmu_copy(mmu, asid, va, NULL, buf, len, f);
}

/* ---- command processor -------------------------------------------------- */

typedef struct Job {
    const ApuMmu *mmu;
    uint16_t asid;
    ApuJobResult *res;
    ApuFault fault;
    ApuPoll poll;           /* the abort callback, polled inside long ops */
    /* With APU_RING_F_WLIST: the only ranges the job may write. */
    bool wl_on;
    uint32_t wl_n;
    uint32_t wl_last;       /* the range the last write fell in */
    const uint64_t (*wl)[2];
} Job;

/*
 * Work units of one pixel moved on its own (an MMU walk and a copy):
 * pitched tensors poll for an abort every 4096 pixels.
 */
#define APU_PIXEL_WORK (APU_FW_POLL_WORK / 4096)

/* True when the job must stop now: status ABORTED. */
static bool job_aborted(Job *j, uint64_t work)
{
    if (apu_poll(&j->poll, work)) {
        j->res->status = APU_STATUS_ABORTED;
        return true;
    }
    return false;
}

/*
 * May the job write [@va, @va + @len)? Outside its write list, or across
 * a range's end (ranges are separate buffers), *@bad is the first byte
 * it may not write.
 */
static bool job_may_write(Job *j, uint64_t va, uint64_t len, uint64_t *bad)
{
    uint32_t k;

    if (!j->wl_on) {
        return true;
    }
    for (k = 0; k < j->wl_n; k++) {
        uint32_t r = (j->wl_last + k) % j->wl_n;

        if (va >= j->wl[r][0] && va < j->wl[r][1]) {
            j->wl_last = r;
            if (len > j->wl[r][1] - va) {
                *bad = j->wl[r][1];
                return false;
            }
            return true;
        }
    }
    *bad = va;
    return false;
}

static void *job_read(Job *j, uint64_t va, uint64_t len)
{
    void *buf = malloc(len ? len : 1);

    if (!buf) {
        j->res->status = APU_STATUS_TOO_LARGE;
        return NULL;
    }
    if (apu_mmu_read(j->mmu, j->asid, va, buf, len, &j->fault)) {
        free(buf);
        j->res->status = j->fault.status;
        j->res->fault_addr = j->fault.addr;
        j->res->fault_flags = j->fault.flags;
        return NULL;
    }
    j->res->bytes_read += len;
    return buf;
}

static int job_write(Job *j, uint64_t va, const void *buf, uint64_t len)
{
    uint64_t bad;

    if (len && !job_may_write(j, va, len, &bad)) {
        uint64_t pa;

        /* Report what the page tables say first: unmapped, read-only. */
        if (apu_mmu_translate(j->mmu, j->asid, bad, true, &pa, &j->fault)) {
            j->res->status = j->fault.status;
            j->res->fault_addr = j->fault.addr;
            j->res->fault_flags = j->fault.flags;
            return -1;
        }
        j->res->status = APU_STATUS_MMU_FAULT;
        j->res->fault_addr = bad;
        j->res->fault_flags = APU_FAULT_WRITE | APU_FAULT_NOT_LISTED;
        return -1;
    }
    if (apu_mmu_write(j->mmu, j->asid, va, buf, len, &j->fault)) {
        j->res->status = j->fault.status;
        j->res->fault_addr = j->fault.addr;
        j->res->fault_flags = j->fault.flags;
        return -1;
    }
    j->res->bytes_written += len;
    return 0;
}

#define MIN_U32(a, b) ((a) < (b) ? (a) : (b))

static uint64_t div_up(uint64_t a, uint64_t b)
{
    return b ? (a + b - 1) / b : a;
}

/*
 * Read @npix pixels of @len bytes each, @pitch bytes apart, into one
 * contiguous buffer (a channel slice of a wider tensor).
 */
static void *job_read_pitched(Job *j, uint64_t va, uint64_t npix, uint64_t len,
                              uint64_t pitch)
{
    uint8_t *buf;
    uint64_t i;

    if (pitch == len) {
        return job_read(j, va, npix * len);
    }
    buf = malloc(npix * len > 0 ? npix * len : 1);
    if (!buf) {
        j->res->status = APU_STATUS_TOO_LARGE;
        return NULL;
    }
    for (i = 0; i < npix; i++) {
        if (job_aborted(j, APU_PIXEL_WORK)) {
            free(buf);
            return NULL;
        }
        if (apu_mmu_read(j->mmu, j->asid, va + i * pitch, buf + i * len, len,
                         &j->fault)) {
            free(buf);
            j->res->status = j->fault.status;
            j->res->fault_addr = j->fault.addr;
            j->res->fault_flags = j->fault.flags;
            return NULL;
        }
    }
    j->res->bytes_read += npix * len;
    return buf;
}

/* Modeled cycles of one op: bound by compute or by data movement. */
static uint64_t op_cycles(const ApuCoreModel *core, uint64_t macs,
                          uint64_t bytes)
{
    uint64_t c = div_up(macs, core->macs_per_cycle);
    uint64_t m = div_up(bytes, core->bytes_per_cycle);

    return (c > m ? c : m) + core->op_overhead_cycles;
}

static int32_t s32(const uint8_t *p)
{
    return (int32_t)apu_ld32(p);
}

/* True when the @n bytes at @p are all zero (an op's reserved fields). */
static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;

    while (n--) {
        if (*b++) {
            return false;
        }
    }
    return true;
}

static void run_conv_fp16(Job *j, const ApuCoreModel *core,
                          const struct apu_op_conv2d *c, ApuConvParams *p);
static void run_add_fp16(Job *j, const ApuCoreModel *core,
                         const struct apu_op_add *a);
static void run_pool_fp16(Job *j, const ApuCoreModel *core,
                          const struct apu_op_avgpool *a, ApuPoolParams *p);

static void run_conv(Job *j, const ApuCoreModel *core, const uint8_t *op)
{
    const struct apu_op_conv2d *c = (const void *)op;
    ApuConvParams p = {
        .in_h = apu_ld16(&c->in_h), .in_w = apu_ld16(&c->in_w),
        .in_c = apu_ld16(&c->in_c), .out_h = apu_ld16(&c->out_h),
        .out_w = apu_ld16(&c->out_w), .out_c = apu_ld16(&c->out_c),
        .k_h = apu_ld16(&c->k_h), .k_w = apu_ld16(&c->k_w),
        .stride_h = apu_ld16(&c->stride_h), .stride_w = apu_ld16(&c->stride_w),
        .dil_h = apu_ld16(&c->dil_h), .dil_w = apu_ld16(&c->dil_w),
        .pad_top = apu_ld16(&c->pad_top), .pad_left = apu_ld16(&c->pad_left),
        .groups = apu_ld16(&c->groups),
        .in_zp = s32((const uint8_t *)&c->in_zp),
        .out_zp = s32((const uint8_t *)&c->out_zp),
        .act_min = s32((const uint8_t *)&c->act_min),
        .act_max = s32((const uint8_t *)&c->act_max),
        .single_rounding = apu_ld16(&c->flags) & APU_OPF_SINGLE_ROUNDING,
        .w_zp = (int16_t)apu_ld16(&c->w_zp),
    };
    int8_t *in = NULL, *w = NULL, *out = NULL;
    int32_t *bias = NULL, *mult = NULL, *shift = NULL;
    uint64_t nin, nw, nw_bytes, nout, bias_va, macs;
    bool int4 = apu_ld16(&c->flags) & APU_OPF_WEIGHTS_INT4;
    bool sparse = apu_ld16(&c->flags) & APU_OPF_WEIGHTS_SPARSE;
    int i, r;

    uint32_t pitch = apu_ld16(&c->out_pitch);
    uint32_t in_pitch = apu_ld16(&c->in_pitch);

    if (apu_ld16(&c->flags) & APU_OPF_FP16) {
        run_conv_fp16(j, core, c, &p);
        return;
    }
    if ((apu_ld16(&c->flags) &
         ~(APU_OPF_SINGLE_ROUNDING | APU_OPF_WEIGHTS_INT4 |
           APU_OPF_WEIGHTS_SPARSE)) ||
        !all_zero(c->reserved, sizeof(c->reserved))) {
        j->res->status = APU_STATUS_BAD_OP;
        return;
    }
    j->res->status = apu_conv_check(&p);
    if (!j->res->status && ((pitch && pitch < (uint32_t)p.out_c) ||
                            (in_pitch && in_pitch < (uint32_t)p.in_c) ||
                            (int4 && p.w_zp))) {
        /* Int4 weights are symmetric: no weight zero point. */
        j->res->status = APU_STATUS_BAD_PARAMS;
    }
    if (!j->res->status && sparse) {
        /* Int8 symmetric 1x1 weights only (ABI 1.5). */
        j->res->status = int4 ? APU_STATUS_BAD_PARAMS
                              : apu_sparse_conv_check(&p);
    }
    if (j->res->status) {
        return;
    }
    nin = apu_conv_in_size(&p);
    nw = apu_conv_weights_size(&p);
    nw_bytes = int4 ? apu_int4_bytes(nw) : nw;
    nout = apu_conv_out_size(&p);
    bias_va = apu_ld64(&c->bias);

    in = job_read_pitched(j, apu_ld64(&c->input), (uint64_t)p.in_h * p.in_w,
                          p.in_c, in_pitch ? in_pitch : (uint32_t)p.in_c);
    if (in && sparse) {
        /* The header gives the size; then the whole, checked. */
        w = job_read(j, apu_ld64(&c->weights), APU_SPARSE_HDR_SIZE);
        if (w) {
            j->res->status = apu_sparse_size(&p, w, &nw_bytes);
            free(w);
            w = NULL;
        }
        if (!j->res->status) {
            w = job_read(j, apu_ld64(&c->weights), nw_bytes);
        }
        if (w && apu_sparse_check(&p, w, nw_bytes)) {
            j->res->status = APU_STATUS_BAD_PARAMS;
        }
        if (j->res->status) {
            goto out;
        }
    } else {
        w = in ? job_read(j, apu_ld64(&c->weights), nw_bytes) : NULL;
    }
    mult = w ? job_read(j, apu_ld64(&c->mult), 4ull * p.out_c) : NULL;
    shift = mult ? job_read(j, apu_ld64(&c->shift), 4ull * p.out_c) : NULL;
    if (shift && bias_va) {
        bias = job_read(j, bias_va, 4ull * p.out_c);
    }
    if (!shift || (bias_va && !bias)) {
        goto out;
    }
    for (i = 0; i < p.out_c; i++) {
        /* Stored little endian; convert in place (no-op on LE hosts). */
        mult[i] = s32((const uint8_t *)&mult[i]);
        shift[i] = s32((const uint8_t *)&shift[i]);
        if (bias) {
            bias[i] = s32((const uint8_t *)&bias[i]);
        }
        if (shift[i] < APU_SHIFT_MIN || shift[i] > APU_SHIFT_MAX) {
            j->res->status = APU_STATUS_BAD_PARAMS;
            goto out;
        }
    }
    out = malloc(nout);
    if (!out) {
        j->res->status = APU_STATUS_TOO_LARGE;
        goto out;
    }
    r = sparse ? apu_conv2d_sparse_poll(&p, in, w, bias, mult, shift, out,
                                        &j->poll, APU_PATH_AUTO)
        : int4 ? apu_conv2d_int4_poll(&p, in, (const uint8_t *)w, bias, mult,
                                      shift, out, &j->poll)
               : apu_conv2d_poll(&p, in, w, bias, mult, shift, out, &j->poll);
    if (r) {
        /* Aborted, or no working memory. */
        j->res->status = r == APU_OP_ABORTED ? APU_STATUS_ABORTED
                                             : APU_STATUS_TOO_LARGE;
        goto out;
    }
    if (!pitch || pitch == (uint32_t)p.out_c) {
        if (job_write(j, apu_ld64(&c->output), out, nout)) {
            goto out;
        }
    } else {
        /* A channel slice: each pixel's out_c bytes, @pitch apart. */
        uint64_t pix, npix = (uint64_t)p.out_h * p.out_w;

        for (pix = 0; pix < npix; pix++) {
            if (job_aborted(j, APU_PIXEL_WORK) ||
                job_write(j, apu_ld64(&c->output) + pix * pitch,
                          out + pix * p.out_c, p.out_c)) {
                goto out;
            }
        }
    }
    /*
     * A weight zero point costs the sums of each window's inputs (per
     * output pixel, one per tap and input channel), counted as MACs.
     */
    /* Sparse weights: the stored blocks' MACs only (no w_zp then). */
    macs = sparse ? apu_sparse_macs(&p, w) : apu_conv_macs(&p);
    if (p.w_zp) {
        macs += (uint64_t)p.out_h * p.out_w * p.k_h * p.k_w * p.in_c;
    }
    j->res->macs += macs;
    /*
     * Int4 weights move half the bytes (rounded up); sparse ones their
     * buffer's size.
     */
    j->res->cycles += op_cycles(core, macs,
                                nin + nw_bytes + nout + 12ull * p.out_c);
out:
    free(in);
    free(w);
    free(mult);
    free(shift);
    free(bias);
    free(out);
}

/*
 * Elementwise ops run in chunks of about APU_FW_POLL_WORK elements,
 * polling for an abort before each: with input2 broadcast, a multiple of
 * its period (each chunk starts input2 over), else any size (input2 moves
 * along with input1).
 */
static uint32_t elem_chunk(uint32_t count, uint32_t period)
{
    if (!period || period >= count) {
        return APU_FW_POLL_WORK;
    }
    return period >= APU_FW_POLL_WORK ? period
                                      : APU_FW_POLL_WORK / period * period;
}

/* One chunk of an elementwise op: @n elements, input2 repeating @period. */
typedef void ElemChunkFn(const void *params, uint32_t n, uint32_t period,
                         const int8_t *in1, const int8_t *in2, int8_t *out);

static void add_chunk(const void *params, uint32_t n, uint32_t period,
                      const int8_t *in1, const int8_t *in2, int8_t *out)
{
    ApuAddParams q = *(const ApuAddParams *)params;

    q.count = n;
    q.in2_period = period;
    apu_add(&q, in1, in2, out);
}

static void mul_chunk(const void *params, uint32_t n, uint32_t period,
                      const int8_t *in1, const int8_t *in2, int8_t *out)
{
    ApuMulParams q = *(const ApuMulParams *)params;

    q.count = n;
    q.in2_period = period;
    apu_mul(&q, in1, in2, out);
}

/*
 * ADD and MUL once their parameters are checked: @count elements of input1
 * and output, input2 broadcast every @period elements (0: none), run in
 * chunks with an abort check before each, then written and charged.
 */
static void run_binary(Job *j, const ApuCoreModel *core, uint64_t va1,
                       uint64_t va2, uint64_t va_out, uint32_t count,
                       uint32_t period, ElemChunkFn *fn, const void *params)
{
    uint32_t n2 = period ? period : count;       /* input2's elements */
    bool bcast = n2 < count;
    int8_t *in1, *in2 = NULL, *out = NULL;
    uint32_t i, chunk = elem_chunk(count, period);

    in1 = job_read(j, va1, count);
    in2 = in1 ? job_read(j, va2, n2) : NULL;
    out = in2 ? malloc(count) : NULL;
    if (in2 && !out) {
        j->res->status = APU_STATUS_TOO_LARGE;
    }
    for (i = 0; out && i < count; i += chunk) {
        if (job_aborted(j, chunk)) {
            break;
        }
        fn(params, MIN_U32(chunk, count - i), bcast ? period : 0, in1 + i,
           bcast ? in2 : in2 + i, out + i);
    }
    if (out && !j->res->status) {
        if (!job_write(j, va_out, out, count)) {
            j->res->macs += count;
            j->res->cycles += op_cycles(core, count, 2ull * count + n2);
        }
    }
    free(in1);
    free(in2);
    free(out);
}

static void run_add(Job *j, const ApuCoreModel *core, const uint8_t *op)
{
    const struct apu_op_add *a = (const void *)op;
    ApuAddParams p = {
        .count = apu_ld32(&a->count),
        .left_shift = s32((const uint8_t *)&a->left_shift),
        .in1_offset = s32((const uint8_t *)&a->in1_offset),
        .in1_mult = s32((const uint8_t *)&a->in1_mult),
        .in1_shift = s32((const uint8_t *)&a->in1_shift),
        .in2_offset = s32((const uint8_t *)&a->in2_offset),
        .in2_mult = s32((const uint8_t *)&a->in2_mult),
        .in2_shift = s32((const uint8_t *)&a->in2_shift),
        .out_mult = s32((const uint8_t *)&a->out_mult),
        .out_shift = s32((const uint8_t *)&a->out_shift),
        .out_zp = s32((const uint8_t *)&a->out_zp),
        .act_min = s32((const uint8_t *)&a->act_min),
        .act_max = s32((const uint8_t *)&a->act_max),
        .in2_period = apu_ld32(&a->in2_period),
    };

    if (apu_ld16(&a->flags) & APU_OPF_FP16) {
        run_add_fp16(j, core, a);
        return;
    }
    if (apu_ld16(&a->flags) || apu_ld32(&a->reserved0) ||
        !all_zero(a->reserved, sizeof(a->reserved))) {
        j->res->status = APU_STATUS_BAD_OP;
        return;
    }
    j->res->status = apu_add_check(&p);
    if (!j->res->status) {
        run_binary(j, core, apu_ld64(&a->input1), apu_ld64(&a->input2),
                   apu_ld64(&a->output), p.count, p.in2_period, add_chunk, &p);
    }
}

/* AVGPOOL, and MAXPOOL (ABI 1.2) in the same layout. */
static void run_pool(Job *j, const ApuCoreModel *core, const uint8_t *op)
{
    const struct apu_op_avgpool *a = (const void *)op;
    ApuPoolParams p = {
        .in_h = apu_ld16(&a->in_h), .in_w = apu_ld16(&a->in_w),
        .channels = apu_ld16(&a->channels),
        .out_h = apu_ld16(&a->out_h), .out_w = apu_ld16(&a->out_w),
        .k_h = apu_ld16(&a->k_h), .k_w = apu_ld16(&a->k_w),
        .stride_h = apu_ld16(&a->stride_h), .stride_w = apu_ld16(&a->stride_w),
        .pad_top = apu_ld16(&a->pad_top), .pad_left = apu_ld16(&a->pad_left),
        .act_min = s32((const uint8_t *)&a->act_min),
        .act_max = s32((const uint8_t *)&a->act_max),
        .round_uint8 = apu_ld16(&a->flags) & APU_OPF_ROUND_UINT8,
    };
    uint16_t flags_ok = apu_ld16(&a->opcode) == APU_OP_AVGPOOL ?
                        APU_OPF_ROUND_UINT8 : 0;
    uint64_t nin, nout, macs;
    int8_t *in = NULL, *out = NULL;

    if (apu_ld16(&a->flags) & APU_OPF_FP16) {
        run_pool_fp16(j, core, a, &p);
        return;
    }
    if ((apu_ld16(&a->flags) & ~flags_ok) || apu_ld16(&a->reserved0) ||
        apu_ld32(&a->reserved1) ||
        !all_zero(a->reserved, sizeof(a->reserved))) {
        j->res->status = APU_STATUS_BAD_OP;
        return;
    }
    j->res->status = apu_pool_check(&p);
    if (j->res->status) {
        return;
    }
    nin = (uint64_t)p.in_h * p.in_w * p.channels;
    nout = (uint64_t)p.out_h * p.out_w * p.channels;
    macs = nout * p.k_h * p.k_w;
    in = job_read(j, apu_ld64(&a->input), nin);
    out = in ? malloc(nout) : NULL;
    if (in && !out) {
        j->res->status = APU_STATUS_TOO_LARGE;
    }
    if (out) {
        int r = apu_ld16(&a->opcode) == APU_OP_MAXPOOL ?
                apu_maxpool_poll(&p, in, out, &j->poll) :
                apu_avgpool_poll(&p, in, out, &j->poll);

        if (r) {
            j->res->status = APU_STATUS_ABORTED;
        } else if (!job_write(j, apu_ld64(&a->output), out, nout)) {
            j->res->macs += macs;
            j->res->cycles += op_cycles(core, macs, nin + nout);
        }
    }
    free(in);
    free(out);
}

/* Table lookup (ABI 1.2): the table is read through the MMU like a tensor. */
static void run_lut(Job *j, const ApuCoreModel *core, const uint8_t *op)
{
    const struct apu_op_lut *l = (const void *)op;
    uint32_t count = apu_ld32(&l->count);
    int8_t *in = NULL, *table = NULL, *out = NULL;
    uint32_t i, n;

    if (apu_ld16(&l->flags) || !all_zero(l->reserved, sizeof(l->reserved))) {
        j->res->status = APU_STATUS_BAD_OP;
        return;
    }
    j->res->status = apu_lut_check(count);
    if (j->res->status) {
        return;
    }
    in = job_read(j, apu_ld64(&l->input), count);
    table = in ? job_read(j, apu_ld64(&l->table), 256) : NULL;
    out = table ? malloc(count) : NULL;
    if (table && !out) {
        j->res->status = APU_STATUS_TOO_LARGE;
    }
    for (i = 0; out && i < count; i += n) {
        n = MIN_U32(APU_FW_POLL_WORK, count - i);
        if (job_aborted(j, n)) {
            break;
        }
        apu_lut(n, in + i, table, out + i);
    }
    if (out && !j->res->status) {
        if (!job_write(j, apu_ld64(&l->output), out, count)) {
            j->res->macs += count;
            j->res->cycles += op_cycles(core, count, 2ull * count + 256);
        }
    }
    free(in);
    free(table);
    free(out);
}

/* Requantized multiply (ABI 1.2), input2 broadcast as for ADD. */
static void run_mul(Job *j, const ApuCoreModel *core, const uint8_t *op)
{
    const struct apu_op_mul *m = (const void *)op;
    ApuMulParams p = {
        .count = apu_ld32(&m->count),
        .in1_offset = s32((const uint8_t *)&m->in1_offset),
        .in2_offset = s32((const uint8_t *)&m->in2_offset),
        .out_mult = s32((const uint8_t *)&m->out_mult),
        .out_shift = s32((const uint8_t *)&m->out_shift),
        .out_zp = s32((const uint8_t *)&m->out_zp),
        .act_min = s32((const uint8_t *)&m->act_min),
        .act_max = s32((const uint8_t *)&m->act_max),
        .in2_period = apu_ld32(&m->in2_period),
    };

    if (apu_ld16(&m->flags) || !all_zero(m->reserved, sizeof(m->reserved))) {
        j->res->status = APU_STATUS_BAD_OP;
        return;
    }
    j->res->status = apu_mul_check(&p);
    if (!j->res->status) {
        run_binary(j, core, apu_ld64(&m->input1), apu_ld64(&m->input2),
                   apu_ld64(&m->output), p.count, p.in2_period, mul_chunk, &p);
    }
}

/* ---- fp16 ops (ABI 1.6, APU_OPF_FP16; the kernels in apu_fp16.c) ------- */

/* Modeled cycles of an fp16 op: MACs at the core's fp16 rate. */
static uint64_t op_cycles_fp16(const ApuCoreModel *core, uint64_t macs,
                               uint64_t bytes)
{
    ApuCoreModel m = *core;

    m.macs_per_cycle = core->fp16_macs_per_cycle;
    if (!m.macs_per_cycle) {
        m.macs_per_cycle = core->macs_per_cycle / 2 ? core->macs_per_cycle / 2
                                                    : 1;
    }
    return op_cycles(&m, macs, bytes);
}

static float f32_of(uint32_t u)
{
    float f;

    memcpy(&f, &u, 4);
    return f;
}

/* The fp16 clamps: fp32 bit patterns, not NaN, lo <= hi. */
static bool fp16_act(const void *act_min, const void *act_max, float *lo,
                     float *hi)
{
    *lo = f32_of(apu_ld32(act_min));
    *hi = f32_of(apu_ld32(act_max));
    return *lo <= *hi;      /* false for a NaN too */
}

/* Little-endian binary16 in guest memory to host order, in place. */
static void fp16_from_le(uint16_t *v, uint64_t n)
{
    uint64_t i;

    for (i = 0; i < n; i++) {
        v[i] = apu_ld16(&v[i]);
    }
}

static void fp16_to_le(uint16_t *v, uint64_t n)
{
    uint64_t i;

    for (i = 0; i < n; i++) {
        uint16_t x = v[i];

        apu_st16(&v[i], x);
    }
}

static void run_conv_fp16(Job *j, const ApuCoreModel *core,
                          const struct apu_op_conv2d *c, ApuConvParams *p)
{
    uint32_t pitch = apu_ld16(&c->out_pitch);
    uint32_t in_pitch = apu_ld16(&c->in_pitch);
    uint64_t nin, nw, nout, bias_va = apu_ld64(&c->bias), macs;
    uint16_t *in = NULL, *w = NULL, *out = NULL;
    float *bias = NULL, lo, hi;
    int i, r;

    if (!all_zero(c->reserved, sizeof(c->reserved))) {
        j->res->status = APU_STATUS_BAD_OP;
        return;
    }
    /* The int8 checks on the shape; the int8 fields must be 0. */
    p->act_min = -128;
    p->act_max = 127;
    j->res->status = apu_conv_check(p);
    if (!j->res->status &&
        (apu_ld16(&c->flags) != APU_OPF_FP16 || p->in_zp || p->out_zp ||
         p->w_zp || apu_ld64(&c->mult) || apu_ld64(&c->shift) ||
         !fp16_act(&c->act_min, &c->act_max, &lo, &hi) ||
         (pitch && pitch < (uint32_t)p->out_c) ||
         (in_pitch && in_pitch < (uint32_t)p->in_c))) {
        j->res->status = APU_STATUS_BAD_PARAMS;
    }
    if (j->res->status) {
        return;
    }
    nin = apu_conv_in_size(p);
    nw = apu_conv_weights_size(p);
    nout = apu_conv_out_size(p);
    if (2 * nin > APU_FW_MAX_TENSOR || 2 * nw > APU_FW_MAX_TENSOR ||
        2 * nout > APU_FW_MAX_TENSOR) {
        j->res->status = APU_STATUS_TOO_LARGE;
        return;
    }
    in = job_read_pitched(j, apu_ld64(&c->input), (uint64_t)p->in_h * p->in_w,
                          2ull * p->in_c,
                          2ull * (in_pitch ? in_pitch : (uint32_t)p->in_c));
    w = in ? job_read(j, apu_ld64(&c->weights), 2 * nw) : NULL;
    if (w && bias_va) {
        bias = job_read(j, bias_va, 4ull * p->out_c);
    }
    if (!w || (bias_va && !bias)) {
        goto out;
    }
    fp16_from_le(in, nin);
    fp16_from_le(w, nw);
    for (i = 0; bias && i < p->out_c; i++) {
        bias[i] = f32_of(apu_ld32(&bias[i]));
    }
    out = malloc(2 * nout);
    if (!out) {
        j->res->status = APU_STATUS_TOO_LARGE;
        goto out;
    }
    r = apu_conv2d_fp16(p, in, w, bias, lo, hi, out, &j->poll, APU_PATH_AUTO);
    if (r) {
        j->res->status = r == APU_OP_ABORTED ? APU_STATUS_ABORTED
                                             : APU_STATUS_TOO_LARGE;
        goto out;
    }
    fp16_to_le(out, nout);
    if (!pitch || pitch == (uint32_t)p->out_c) {
        if (job_write(j, apu_ld64(&c->output), out, 2 * nout)) {
            goto out;
        }
    } else {
        uint64_t pix, npix = (uint64_t)p->out_h * p->out_w;

        for (pix = 0; pix < npix; pix++) {
            if (job_aborted(j, APU_PIXEL_WORK) ||
                job_write(j, apu_ld64(&c->output) + pix * 2 * pitch,
                          out + pix * p->out_c, 2ull * p->out_c)) {
                goto out;
            }
        }
    }
    macs = apu_conv_macs(p);
    j->res->macs += macs;
    j->res->cycles += op_cycles_fp16(core, macs,
                                     2 * (nin + nw + nout) +
                                     (bias_va ? 4ull * p->out_c : 0));
out:
    free(in);
    free(w);
    free(bias);
    free(out);
}

static void run_add_fp16(Job *j, const ApuCoreModel *core,
                         const struct apu_op_add *a)
{
    uint32_t count = apu_ld32(&a->count), period = apu_ld32(&a->in2_period);
    uint32_t n2 = period ? period : count, i, chunk;
    uint16_t *in1 = NULL, *in2 = NULL, *out = NULL;
    float lo, hi;

    if (apu_ld32(&a->reserved0) ||
        !all_zero(a->reserved, sizeof(a->reserved))) {
        j->res->status = APU_STATUS_BAD_OP;
        return;
    }
    /* Every quantization field, left_shift to out_zp, must be 0. */
    if (apu_ld16(&a->flags) != APU_OPF_FP16 ||
        !all_zero(&a->left_shift, 4 * 10) || !count ||
        (period && count % period) ||
        !fp16_act(&a->act_min, &a->act_max, &lo, &hi)) {
        j->res->status = APU_STATUS_BAD_PARAMS;
        return;
    }
    if (2ull * count > APU_FW_MAX_TENSOR) {
        j->res->status = APU_STATUS_TOO_LARGE;
        return;
    }
    chunk = elem_chunk(count, period);
    in1 = job_read(j, apu_ld64(&a->input1), 2ull * count);
    in2 = in1 ? job_read(j, apu_ld64(&a->input2), 2ull * n2) : NULL;
    out = in2 ? malloc(2ull * count) : NULL;
    if (in2 && !out) {
        j->res->status = APU_STATUS_TOO_LARGE;
    }
    if (out) {
        fp16_from_le(in1, count);
        fp16_from_le(in2, n2);
    }
    for (i = 0; out && i < count; i += chunk) {
        if (job_aborted(j, chunk)) {
            break;
        }
        apu_add_fp16(MIN_U32(chunk, count - i), n2 < count ? period : 0,
                     in1 + i, n2 < count ? in2 : in2 + i, lo, hi, out + i,
                     APU_PATH_AUTO);
    }
    if (out && !j->res->status) {
        fp16_to_le(out, count);
        if (!job_write(j, apu_ld64(&a->output), out, 2ull * count)) {
            j->res->macs += count;
            j->res->cycles += op_cycles_fp16(core, count,
                                             4ull * count + 2ull * n2);
        }
    }
    free(in1);
    free(in2);
    free(out);
}

static void run_pool_fp16(Job *j, const ApuCoreModel *core,
                          const struct apu_op_avgpool *a, ApuPoolParams *p)
{
    bool max = apu_ld16(&a->opcode) == APU_OP_MAXPOOL;
    uint64_t nin, nout, macs;
    uint16_t *in = NULL, *out = NULL;
    float lo, hi;
    int r;

    if (apu_ld16(&a->reserved0) || apu_ld32(&a->reserved1) ||
        !all_zero(a->reserved, sizeof(a->reserved))) {
        j->res->status = APU_STATUS_BAD_OP;
        return;
    }
    p->act_min = -128;
    p->act_max = 127;
    p->round_uint8 = false;
    j->res->status = apu_pool_check(p);
    if (!j->res->status &&
        (apu_ld16(&a->flags) != APU_OPF_FP16 ||
         !fp16_act(&a->act_min, &a->act_max, &lo, &hi))) {
        j->res->status = APU_STATUS_BAD_PARAMS;
    }
    if (j->res->status) {
        return;
    }
    nin = (uint64_t)p->in_h * p->in_w * p->channels;
    nout = (uint64_t)p->out_h * p->out_w * p->channels;
    if (2 * nin > APU_FW_MAX_TENSOR || 2 * nout > APU_FW_MAX_TENSOR) {
        j->res->status = APU_STATUS_TOO_LARGE;
        return;
    }
    macs = nout * p->k_h * p->k_w;
    in = job_read(j, apu_ld64(&a->input), 2 * nin);
    out = in ? malloc(2 * nout) : NULL;
    if (in && !out) {
        j->res->status = APU_STATUS_TOO_LARGE;
    }
    if (out) {
        fp16_from_le(in, nin);
        r = max ? apu_maxpool_fp16(p, in, lo, hi, out, &j->poll,
                                   APU_PATH_AUTO)
                : apu_avgpool_fp16(p, in, lo, hi, out, &j->poll,
                                   APU_PATH_AUTO);
        if (r) {
            j->res->status = r == APU_OP_ABORTED ? APU_STATUS_ABORTED
                                                 : APU_STATUS_TOO_LARGE;
        } else {
            fp16_to_le(out, nout);
            if (!job_write(j, apu_ld64(&a->output), out, 2 * nout)) {
                j->res->macs += macs;
                j->res->cycles += op_cycles_fp16(core, macs,
                                                 2 * (nin + nout));
            }
        }
    }
    free(in);
    free(out);
}

static void cp_run_job(Job *jp, const ApuCoreModel *core, uint64_t cmdbuf,
                       uint32_t size, bool (*abort)(void *opaque),
                       void *abort_opaque)
{
    Job j = *jp;
    const ApuMmu *mmu = j.mmu;
    uint16_t asid = j.asid;
    ApuJobResult *res = j.res;
    struct apu_cmd_header h;
    uint8_t *ops = NULL;
    uint32_t n, i;

    j.poll.abort = abort;
    j.poll.opaque = abort_opaque;

    if (size < sizeof(h)) {
        res->status = APU_STATUS_BAD_CMDBUF;
        return;
    }
    if (apu_mmu_read(mmu, asid, cmdbuf, &h, sizeof(h), &j.fault)) {
        res->status = j.fault.status;
        res->fault_addr = j.fault.addr;
        res->fault_flags = j.fault.flags;
        return;
    }
    res->bytes_read += sizeof(h);
    n = apu_ld16(&h.num_ops);
    if (apu_ld32(&h.magic) != APU_CMD_MAGIC ||
        apu_ld16(&h.version) != APU_CMD_VERSION || apu_ld32(&h.flags) ||
        apu_ld32(&h.reserved) || n == 0 || n > APU_CMD_MAX_OPS ||
        size < sizeof(h) + (uint64_t)n * APU_OP_SIZE) {
        res->status = APU_STATUS_BAD_CMDBUF;
        return;
    }
    ops = job_read(&j, cmdbuf + sizeof(h), (uint64_t)n * APU_OP_SIZE);
    if (!ops) {
        return;
    }
    for (i = 0; i < n && res->status == APU_STATUS_OK; i++) {
        const uint8_t *op = ops + (size_t)i * APU_OP_SIZE;

        res->op_index = i;
        if (abort && abort(abort_opaque)) {
            res->status = APU_STATUS_ABORTED;
            break;
        }
        j.poll.work = 0;
        switch (apu_ld16(op)) {
        case APU_OP_CONV2D:
            run_conv(&j, core, op);
            break;
        case APU_OP_ADD:
            run_add(&j, core, op);
            break;
        case APU_OP_AVGPOOL:
        case APU_OP_MAXPOOL:
            run_pool(&j, core, op);
            break;
        case APU_OP_LUT:
            run_lut(&j, core, op);
            break;
        case APU_OP_MUL:
            run_mul(&j, core, op);
            break;
        default:
            res->status = APU_STATUS_BAD_OP;
            break;
        }
    }
    if (res->status == APU_STATUS_OK) {
        res->op_index = n;
    }
    free(ops);
}

void apu_cp_run_job(const ApuMmu *mmu, const ApuCoreModel *core,
                    uint16_t asid, uint64_t cmdbuf, uint32_t size,
                    bool (*abort)(void *opaque), void *abort_opaque,
                    ApuJobResult *res)
{
    Job j = { .mmu = mmu, .asid = asid, .res = res };

    memset(res, 0, sizeof(*res));
    cp_run_job(&j, core, cmdbuf, size, abort, abort_opaque);
}

/*
 * Read the write list of @e (address space 0) into @wl; 0, or -1 with the
 * job's status set (a bad count, a bad range, or a fault reading it).
 */
static int read_wlist(const ApuMmu *mmu, const struct apu_ring_entry *e,
                      uint64_t (*wl)[2], uint32_t *count, ApuJobResult *res)
{
    uint8_t buf[sizeof(struct apu_wrange) * APU_WLIST_MAX];
    uint32_t n = apu_ld32(&e->wlist_count), k;
    ApuFault f;

    if (n > APU_WLIST_MAX) {
        res->status = APU_STATUS_BAD_CMDBUF;
        return -1;
    }
    if (n && apu_mmu_read(mmu, 0, apu_ld64(&e->wlist), buf,
                          (uint64_t)n * sizeof(struct apu_wrange), &f)) {
        res->status = f.status;
        res->fault_addr = f.addr;
        res->fault_flags = f.flags;
        return -1;
    }
    for (k = 0; k < n; k++) {
        wl[k][0] = apu_ld64(buf + k * sizeof(struct apu_wrange));
        wl[k][1] = apu_ld64(buf + k * sizeof(struct apu_wrange) + 8);
        if (wl[k][1] < wl[k][0]) {
            res->status = APU_STATUS_BAD_CMDBUF;
            return -1;
        }
    }
    *count = n;
    return 0;
}

/* ---- rings -------------------------------------------------------------- */

int apu_cp_fetch(const ApuMmu *mmu, uint64_t va, struct apu_ring_entry *e,
                 ApuFault *f)
{
    return apu_mmu_read(mmu, 0, va, e, sizeof(*e), f);
}

void apu_cp_run_entry(const ApuMmu *mmu, const ApuCoreModel *core,
                      const struct apu_ring_entry *e, uint32_t inject,
                      bool (*abort)(void *opaque), void *abort_opaque,
                      ApuJobResult *res)
{
    uint64_t (*wl)[2] = NULL;
    uint16_t flags = apu_ld16(&e->flags);
    Job j = { .mmu = mmu, .asid = apu_ld16(&e->asid), .res = res };
    size_t i;

    memset(res, 0, sizeof(*res));
    for (i = 0; i < sizeof(e->reserved) / sizeof(e->reserved[0]); i++) {
        if (e->reserved[i]) {
            res->status = APU_STATUS_BAD_CMDBUF;
            return;
        }
    }
    if (e->reserved0 || (flags & ~(APU_RING_F_IRQ | APU_RING_F_WLIST)) ||
        (!(flags & APU_RING_F_WLIST) && (e->wlist || e->wlist_count))) {
        res->status = APU_STATUS_BAD_CMDBUF;
        return;
    }
    if (inject & (1u << APU_INJECT_FAIL_JOB)) {
        res->status = APU_STATUS_INJECTED;
        return;
    }
    if (inject & (1u << APU_INJECT_MMU_FAULT)) {
        res->status = APU_STATUS_MMU_FAULT;
        res->fault_addr = apu_ld64(&e->cmdbuf);
        res->fault_flags = APU_FAULT_INJECTED;
        return;
    }
    if (flags & APU_RING_F_WLIST) {
        wl = malloc(sizeof(*wl) * APU_WLIST_MAX);
        if (!wl) {
            res->status = APU_STATUS_TOO_LARGE;
            return;
        }
        if (read_wlist(mmu, e, wl, &j.wl_n, res)) {
            free(wl);
            return;
        }
        j.wl_on = true;
        j.wl = (const uint64_t (*)[2])wl;
    }
    cp_run_job(&j, core, apu_ld64(&e->cmdbuf), apu_ld32(&e->cmdbuf_size),
               abort, abort_opaque);
    free(wl);
}

int apu_cp_complete(const ApuMmu *mmu, const struct apu_ring_entry *e,
                    const ApuJobResult *res, ApuFault *f)
{
    struct apu_completion d;

    memset(&d, 0, sizeof(d));
    apu_st64(&d.seqno, apu_ld64(&e->seqno));
    apu_st32(&d.status, res->status);
    apu_st32(&d.op_index, res->op_index);
    apu_st64(&d.fault_addr, res->fault_addr);
    apu_st64(&d.cycles, res->cycles);
    apu_st64(&d.macs, res->macs);
    apu_st64(&d.bytes_read, res->bytes_read);
    apu_st64(&d.bytes_written, res->bytes_written);
    apu_st32(&d.fault_flags, res->fault_flags);
    return apu_mmu_write(mmu, 0, apu_ld64(&e->completion), &d, sizeof(d), f);
}
