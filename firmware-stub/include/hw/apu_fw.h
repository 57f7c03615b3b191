/*
 * The APU firmware, as run by the device model (see docs/firmware.md):
 * image checks, requantization arithmetic, the int8 ops, the device MMU and
 * the command processor. Plain C with no QEMU dependency; the hardware is
 * reached through ApuHwOps, so the host tests can mock it.
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef APU_FW_H
#define APU_FW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/apu_fw_image.h"
#include "hw/apu_cmd.h"
#include "hw/apu_hw.h"

/* ---- firmware image (apu_fw_image.c) ---------------------------------- */

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()): pass 0 to start. */
uint32_t apu_fw_crc32(uint32_t crc, const void *buf, size_t len);

/*
 * Check an image as the device does at boot. @dev_abi is the device's
 * APU_FW_ABI(). Returns APU_FW_ERR_NONE or the APU_FW_ERR_* reason; on
 * success *@version is the image's firmware version.
 */
uint32_t apu_fw_image_check(const void *image, size_t size, uint32_t dev_abi,
                            uint32_t *version);

/* Set @h's header CRC for its current contents. */
void apu_fw_header_seal(struct apu_fw_header *h);

/* ---- requantization (apu_quant.c), TFLite reference semantics --------- */

int32_t apu_srdhm(int32_t a, int32_t b);
int32_t apu_rdbpot(int32_t x, int exponent);
/* MultiplyByQuantizedMultiplier, "double rounding"; shift in [-31, 30]. */
int32_t apu_mbqm(int32_t acc, int32_t mult, int shift);
/* One rounding step: (acc * mult + 2^(t-1)) >> t, t = 31 - shift. */
int32_t apu_mbqm_single(int32_t acc, int32_t mult, int shift);
/*
 * apu_mbqm() of @n accumulators (taken as int32), plus @out_zp, clamped to
 * [@lo, @hi]: the vectorized form the engine uses.
 */
void apu_requant_row(const uint32_t *acc, const int32_t *mult,
                     const int32_t *shift, int out_zp, int lo, int hi,
                     size_t n, int8_t *out);

/* ---- ops on host buffers (apu_ops.c) ----------------------------------- */

typedef struct ApuConvParams {
    int in_h, in_w, in_c, out_h, out_w, out_c;
    int k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int groups;
    int in_zp, out_zp, act_min, act_max;
    bool single_rounding;
    int w_zp;               /* ABI 1.2: weight zero point, [-128, 127] */
} ApuConvParams;

typedef struct ApuAddParams {
    uint32_t count;
    int left_shift;
    int32_t in1_offset, in1_mult, in1_shift;
    int32_t in2_offset, in2_mult, in2_shift;
    int32_t out_mult, out_shift, out_zp;
    int act_min, act_max;
    uint32_t in2_period;    /* ABI 1.2: input2 index = i % period; 0 = count */
} ApuAddParams;

/* Requantized multiply (ABI 1.2): TFLite int8 MUL. */
typedef struct ApuMulParams {
    uint32_t count;
    int32_t in1_offset, in2_offset;
    int32_t out_mult, out_shift, out_zp;
    int act_min, act_max;
    uint32_t in2_period;    /* input2 index = i % period; 0 = count */
} ApuMulParams;

typedef struct ApuPoolParams {
    int in_h, in_w, channels, out_h, out_w;
    int k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    int act_min, act_max;
    bool round_uint8;       /* ABI 1.2, avgpool: APU_OPF_ROUND_UINT8 */
} ApuPoolParams;

/* Validation: 0, or APU_STATUS_BAD_PARAMS / APU_STATUS_TOO_LARGE. */
uint32_t apu_conv_check(const ApuConvParams *p);
uint32_t apu_add_check(const ApuAddParams *p);
uint32_t apu_pool_check(const ApuPoolParams *p);
uint32_t apu_mul_check(const ApuMulParams *p);
/* Table lookup of @count elements (ABI 1.2): 0 < count <= 64 MiB. */
uint32_t apu_lut_check(uint32_t count);

/* Element counts of a checked convolution's tensors, and its MACs. */
uint64_t apu_conv_in_size(const ApuConvParams *p);
uint64_t apu_conv_weights_size(const ApuConvParams *p);
uint64_t apu_conv_out_size(const ApuConvParams *p);
uint64_t apu_conv_macs(const ApuConvParams *p);

/*
 * What the engine needs to run a convolution whose tensors are within
 * APU_FW_MAX_TENSOR (else 0): the bytes of working memory it allocates
 * (the larger of its AVX2 and portable paths, so that the answer does not
 * depend on the host), and the multiply-accumulates its kernels execute,
 * padding included (output channels of a group in blocks of 16, taps in
 * pairs). The kernels size their buffers with the same computation.
 * apu_conv_check() refuses what exceeds APU_FW_MAX_OP_WORK or
 * APU_FW_MAX_ENGINE_MACS.
 */
uint64_t apu_conv_work_bytes(const ApuConvParams *p);
uint64_t apu_conv_engine_macs(const ApuConvParams *p);

/*
 * Long ops poll for an abort (a core reset): @abort, when not NULL, is
 * called after about every APU_FW_POLL_WORK multiply-accumulates or taps
 * of work, so that a reset waits about a millisecond, not for the op.
 * Once it returns true the op stops where it is and returns
 * APU_OP_ABORTED, its output partly written.
 */
typedef struct ApuPoll {
    bool (*abort)(void *opaque);
    void *opaque;
    uint64_t work;          /* since the last call; start at 0 */
    bool aborted;           /* @abort returned true */
} ApuPoll;

#define APU_FW_POLL_WORK        (1u << 20)
#define APU_OP_ABORTED          1

/* Count @work units; true when the op must stop. @poll may be NULL. */
static inline bool apu_poll(ApuPoll *poll, uint64_t work)
{
    if (!poll || !poll->abort) {
        return false;
    }
    if (poll->aborted) {
        return true;
    }
    poll->work += work;
    if (poll->work < APU_FW_POLL_WORK) {
        return false;
    }
    poll->work = 0;
    poll->aborted = poll->abort(poll->opaque);
    return poll->aborted;
}

/*
 * @bias may be NULL. All pointers are to host memory. Returns 0, or -1
 * when the engine's working memory cannot be allocated (then @out is not
 * written). apu_conv2d_poll() polls @poll (may be NULL) and returns
 * APU_OP_ABORTED when it says so.
 */
int apu_conv2d(const ApuConvParams *p, const int8_t *in, const int8_t *w,
               const int32_t *bias, const int32_t *mult,
               const int32_t *shift, int8_t *out);
int apu_conv2d_poll(const ApuConvParams *p, const int8_t *in, const int8_t *w,
                    const int32_t *bias, const int32_t *mult,
                    const int32_t *shift, int8_t *out, ApuPoll *poll);
/*
 * The engine's code paths. apu_conv2d() takes APU_PATH_AUTO: the fastest
 * this CPU runs (apu_engine_auto_path()). The others are for tests and
 * benchmarks, which compare them on the same cases:
 * - PORTABLE: plain C, what hosts without AVX2 run;
 * - AVX2: int16 products, vpmaddwd;
 * - VNNI: AVX-512 VNNI (vpdpbusd, unsigned input bytes times signed
 *   weights, the input offset folded into per-channel weight sums);
 * - VNNI_EMUL: the VNNI path's weight layouts and offset folding with its
 *   vpdpbusd done in plain C (AVX2 elsewhere where the CPU has it): runs
 *   anywhere, so that the folding is tested on CPUs without VNNI.
 * All paths give the same bits.
 */
typedef enum ApuEnginePath {
    APU_PATH_AUTO,
    APU_PATH_PORTABLE,
    APU_PATH_AVX2,
    APU_PATH_VNNI,
    APU_PATH_VNNI_EMUL,
    APU_PATH_NPATHS
} ApuEnginePath;

/* Whether this CPU (and build) runs @path; AUTO always. */
bool apu_engine_path_available(ApuEnginePath path);
/* What AUTO resolves to on this CPU. */
ApuEnginePath apu_engine_auto_path(void);
const char *apu_engine_path_name(ApuEnginePath path);
/*
 * apu_conv2d_poll() through @path: -1 as there, and also when this CPU
 * does not run @path (then @out is not written).
 */
int apu_conv2d_path(const ApuConvParams *p, const int8_t *in, const int8_t *w,
                    const int32_t *bias, const int32_t *mult,
                    const int32_t *shift, int8_t *out, ApuPoll *poll,
                    ApuEnginePath path);
/*
 * Int4 weights (firmware ABI 1.4, APU_OPF_WEIGHTS_INT4): @n elements packed
 * two per byte, element i in the low nibble of byte i / 2 when i is even,
 * the high nibble when odd, signed (TFLite's INT4). apu_int4_bytes() is
 * their size in bytes; apu_int4_unpack() widens them to int8.
 */
static inline uint64_t apu_int4_bytes(uint64_t n)
{
    return (n + 1) / 2;
}

void apu_int4_unpack(const uint8_t *packed, uint64_t n, int8_t *out);
/*
 * apu_conv2d_poll() with int4 weights @w4 (apu_int4_bytes() of
 * apu_conv_weights_size() bytes): unpacked to the int8 layout, then the
 * int8 kernels, so the result is that of the unpacked weights bit for bit.
 * The unpacked copy is apu_conv_weights_size() bytes of working memory on
 * top of apu_conv_work_bytes(). Returns as apu_conv2d_poll().
 */
int apu_conv2d_int4_poll(const ApuConvParams *p, const int8_t *in,
                         const uint8_t *w4, const int32_t *bias,
                         const int32_t *mult, const int32_t *shift,
                         int8_t *out, ApuPoll *poll);
/*
 * Requantization of @n channels, its per-channel constants computed once
 * (the engine's own, apu_ops.c): apu_requant_apply() writes channels
 * [@c, @c + @len) of one pixel from their accumulators @acc (taken as
 * int32), exactly as the convolutions do. @simd: AVX2 allowed (when the
 * CPU has it). apu_requant_new() returns NULL when out of memory.
 */
typedef struct ApuRequant ApuRequant;
ApuRequant *apu_requant_new(const int32_t *mult, const int32_t *shift, int n,
                            int out_zp, int lo, int hi, bool single,
                            bool simd);
void apu_requant_apply(const ApuRequant *q, const uint32_t *acc, size_t c,
                       size_t len, int8_t *out);
/*
 * The same for channel-major accumulators: channel @c + i's 16 pixels at
 * @acc[16 i], their outputs at @out[16 i] (i < @n).
 */
void apu_requant_cmajor16(const ApuRequant *q, const uint32_t *acc, size_t c,
                          size_t n, int8_t *out);
void apu_requant_free(ApuRequant *q);

/*
 * Block-sparse weights (firmware ABI 1.5, APU_OPF_WEIGHTS_SPARSE; layout
 * and rules in include/hw/apu_cmd.h, struct apu_sparse_weights), in
 * apu_sparse.c:
 * - apu_sparse_conv_check(): 0 when the convolution @p (already through
 *   apu_conv_check()) may take sparse weights (1x1 kernel, groups 1, w_zp
 *   0), else APU_STATUS_BAD_PARAMS;
 * - apu_sparse_size(): from the header's 8 bytes @hdr, the size in bytes of
 *   the whole weights buffer (*@size), or APU_STATUS_BAD_PARAMS for a bad
 *   header (block, reserved, nnz above rows x in_c);
 * - apu_sparse_check(): the @size bytes at @w, as read: their header must
 *   pass apu_sparse_size() and give @size (a header read apart from the
 *   rest may have changed since), then every count, index and padding
 *   value: 0 or APU_STATUS_BAD_PARAMS;
 * - apu_conv2d_sparse_poll(): the convolution with the checked weights @w,
 *   skipping the absent blocks; the same bits as apu_conv2d_poll() on the
 *   dense weights. Returns as apu_conv2d_path() (-1: no working memory or
 *   @path not run by this CPU). Paths: PORTABLE (plain C) or AVX2; the
 *   others take the AVX2 code where the CPU has it.
 */
uint32_t apu_sparse_conv_check(const ApuConvParams *p);
uint32_t apu_sparse_size(const ApuConvParams *p, const void *hdr,
                         uint64_t *size);
uint32_t apu_sparse_check(const ApuConvParams *p, const void *w,
                          uint64_t size);
/* Blocks stored (nnz) of checked weights. */
uint64_t apu_sparse_nnz(const void *w);
/* MACs the op counts: nnz x block x output pixels. */
uint64_t apu_sparse_macs(const ApuConvParams *p, const void *w);
int apu_conv2d_sparse_poll(const ApuConvParams *p, const int8_t *in,
                           const void *w, const int32_t *bias,
                           const int32_t *mult, const int32_t *shift,
                           int8_t *out, ApuPoll *poll, ApuEnginePath path);

/*
 * fp16 (firmware ABI 1.6, APU_OPF_FP16; apu_fp16.c). Values are IEEE
 * binary16 bit patterns. The conversions are exact from fp16 to fp32 and
 * round to nearest even from fp32 to fp16 (NaN stays NaN, made quiet,
 * the top 10 payload bits kept): what the x86 F16C instructions do, with a
 * portable form giving the same bits.
 */
float apu_fw_f16_to_f32(uint16_t h);
uint16_t apu_fw_f32_to_f16(float f);
/*
 * The ops, in the order of arithmetic docs/hw.md defines (every path gives
 * the same bits): @p checked by apu_conv_check() / apu_pool_check() (their
 * int8 fields act_min, act_max, zero points and rounding unused), clamps
 * @lo <= @hi in fp32. @bias (fp32, may be NULL). APU_PATH_AUTO takes AVX2
 * with F16C when the CPU has them, APU_PATH_PORTABLE plain C; other paths
 * as AUTO. Return 0, -1 when working memory cannot be allocated or the
 * path does not run on this CPU (@out not written), or APU_OP_ABORTED.
 */
int apu_conv2d_fp16(const ApuConvParams *p, const uint16_t *in,
                    const uint16_t *w, const float *bias, float lo, float hi,
                    uint16_t *out, ApuPoll *poll, ApuEnginePath path);
/* @count elements, input2 repeating every @period (0: count). */
void apu_add_fp16(uint32_t count, uint32_t period, const uint16_t *in1,
                  const uint16_t *in2, float lo, float hi, uint16_t *out,
                  ApuEnginePath path);
int apu_avgpool_fp16(const ApuPoolParams *p, const uint16_t *in, float lo,
                     float hi, uint16_t *out, ApuPoll *poll,
                     ApuEnginePath path);
int apu_maxpool_fp16(const ApuPoolParams *p, const uint16_t *in, float lo,
                     float hi, uint16_t *out, ApuPoll *poll,
                     ApuEnginePath path);
/* Whether @path's fp16 kernels run on this CPU (AVX2: AVX2 and F16C). */
bool apu_fp16_path_available(ApuEnginePath path);
void apu_add(const ApuAddParams *p, const int8_t *in1, const int8_t *in2,
             int8_t *out);
/*
 * apu_add() through @path (AVX2 or the portable C; the VNNI paths run
 * AVX2's): 0, or -1 when this CPU does not run @path (@out not written).
 */
int apu_add_path(const ApuAddParams *p, const int8_t *in1, const int8_t *in2,
                 int8_t *out, ApuEnginePath path);
void apu_avgpool(const ApuPoolParams *p, const int8_t *in, int8_t *out);
/* ABI 1.2: max pooling, multiply, table lookup (@table: 256 entries). */
void apu_maxpool(const ApuPoolParams *p, const int8_t *in, int8_t *out);
/* Pooling that polls: 0, or APU_OP_ABORTED. */
int apu_avgpool_poll(const ApuPoolParams *p, const int8_t *in, int8_t *out,
                     ApuPoll *poll);
int apu_maxpool_poll(const ApuPoolParams *p, const int8_t *in, int8_t *out,
                     ApuPoll *poll);
void apu_mul(const ApuMulParams *p, const int8_t *in1, const int8_t *in2,
             int8_t *out);
void apu_lut(uint32_t count, const int8_t *in, const int8_t *table,
             int8_t *out);

/* ---- hardware access, MMU and command processor (apu_cp.c) ------------- */

typedef struct ApuHwOps {
    /* Bus (DMA) access; return 0, or -1 when the address does not decode. */
    int (*dma_read)(void *opaque, uint64_t addr, void *buf, uint64_t len);
    int (*dma_write)(void *opaque, uint64_t addr, const void *buf,
                     uint64_t len);
} ApuHwOps;

typedef struct ApuMmu {
    const ApuHwOps *ops;
    void *opaque;
    uint64_t ctx_base;      /* bus address of the context table */
    uint32_t ctx_count;     /* entries in it; 0 = MMU not set up */
} ApuMmu;

typedef struct ApuFault {
    uint64_t addr;          /* faulting VA */
    uint32_t flags;         /* APU_FAULT_* */
    uint32_t status;        /* APU_STATUS_MMU_FAULT or _BAD_CONTEXT */
} ApuFault;

/* Translate one VA; 0, or -1 with *@fault filled in. */
int apu_mmu_translate(const ApuMmu *mmu, uint16_t asid, uint64_t va,
                      bool write, uint64_t *pa, ApuFault *fault);
/* Copy through the MMU, page by page; 0, or -1 with *@fault filled in. */
int apu_mmu_read(const ApuMmu *mmu, uint16_t asid, uint64_t va, void *buf,
                 uint64_t len, ApuFault *fault);
int apu_mmu_write(const ApuMmu *mmu, uint16_t asid, uint64_t va,
                  const void *buf, uint64_t len, ApuFault *fault);

/* What the timing model needs of a core. */
typedef struct ApuCoreModel {
    uint32_t macs_per_cycle;
    uint32_t bytes_per_cycle;
    uint32_t op_overhead_cycles;
    /* fp16 MACs per cycle (ABI 1.6); 0: half of macs_per_cycle. */
    uint32_t fp16_macs_per_cycle;
} ApuCoreModel;

typedef struct ApuJobResult {
    uint32_t status;        /* APU_STATUS_* */
    uint32_t op_index;
    uint64_t fault_addr;
    uint32_t fault_flags;
    uint64_t cycles, macs, bytes_read, bytes_written;
} ApuJobResult;

/* Largest tensor or command buffer the device handles, in bytes. */
#define APU_FW_MAX_TENSOR       (64u << 20)
/* Largest dilated kernel extent or output stride span, in pixels. */
#define APU_FW_MAX_SPAN         (1 << 20)
/* Most multiply-accumulates one op may ask for. */
#define APU_FW_MAX_OP_MACS      (1ull << 32)
/*
 * Most working memory the engine may allocate for one op, in bytes: every
 * convolution whose weights fit APU_FW_MAX_TENSOR fits too when its
 * output channels per group are a multiple of 16 (the engine widens the
 * weights to 16 bits, output channels of a group padded to blocks of 16);
 * MobileNet V2's largest layer, its classifier, needs about 2.6 MB.
 * Beyond it, TOO_LARGE: a guest must not make the host allocate gigabytes
 * from a few pages of its own.
 */
#define APU_FW_MAX_OP_WORK      (256ull << 20)
/*
 * Most multiply-accumulates the engine's kernels may execute for one op,
 * padding included (apu_conv_engine_macs()): twice APU_FW_MAX_OP_MACS, so
 * that every op within that and with output channels per group a multiple
 * of 16 fits; it bounds an op's run time (a few seconds) where the padding
 * would multiply it by up to 32.
 */
#define APU_FW_MAX_ENGINE_MACS  (2 * APU_FW_MAX_OP_MACS)

/*
 * Run the job whose command buffer is at @cmdbuf (@size bytes) in @asid.
 * @abort, if not NULL, is polled before each op and inside long ones
 * (about every APU_FW_POLL_WORK MACs, taps or pixels moved); when it
 * returns true the job ends with APU_STATUS_ABORTED and touches no memory
 * after that call.
 */
void apu_cp_run_job(const ApuMmu *mmu, const ApuCoreModel *core,
                    uint16_t asid, uint64_t cmdbuf, uint32_t size,
                    bool (*abort)(void *opaque), void *abort_opaque,
                    ApuJobResult *res);

/* ---- rings (apu_cp.c) ----------------------------------------------- */

/* Read the ring entry at @va in address space 0; 0, or -1 with *@fault. */
int apu_cp_fetch(const ApuMmu *mmu, uint64_t va, struct apu_ring_entry *e,
                 ApuFault *fault);

/*
 * Run a fetched ring entry: check its reserved fields and flags, apply the
 * faults armed in @inject (bits 1 << APU_INJECT_FAIL_JOB, _MMU_FAULT), else
 * run its job. Arguments as apu_cp_run_job().
 */
void apu_cp_run_entry(const ApuMmu *mmu, const ApuCoreModel *core,
                      const struct apu_ring_entry *e, uint32_t inject,
                      bool (*abort)(void *opaque), void *abort_opaque,
                      ApuJobResult *res);

/*
 * Write the completion record of @e (address space 0); 0, or -1 with
 * *@fault: a device error.
 */
int apu_cp_complete(const ApuMmu *mmu, const struct apu_ring_entry *e,
                    const ApuJobResult *res, ApuFault *fault);

#endif /* APU_FW_H */
