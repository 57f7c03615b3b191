/* SPDX-License-Identifier: MIT */
/*
 * apu_cmd.h - APU command buffers and ring entries (firmware ABI 1.6).
 *
 * Shared by the firmware's command processor (firmware-stub/apu_cp.c, run
 * by the QEMU device), the driver (rings, completion records) and libapu
 * (command buffers). Documented in docs/hw.md. Everything is little endian;
 * signed fields are two's complement.
 */
#ifndef APU_CMD_H
#define APU_CMD_H

#include <linux/types.h>

/*
 * Device MMU. Every device access is translated: rings and completion
 * records in address space 0 (the driver's own), command buffers and
 * tensors in the address space of the job. Virtual addresses have 39 bits;
 * three levels of 512 64-bit entries map 4 KiB pages.
 */
#define APU_MMU_VA_BITS			39
#define APU_MMU_PAGE_SHIFT		12
#define APU_MMU_PAGE_SIZE		0x1000ULL	/* 1 << APU_MMU_PAGE_SHIFT */
#define APU_MMU_LEVELS			3
#define APU_MMU_LEVEL_BITS		9
#define APU_PTE_VALID			0x1ULL
#define APU_PTE_WRITE			0x2ULL	/* device may write */
#define APU_PTE_ADDR_MASK		0x000ffffffffff000ULL

/* Context table entry: address space n is entry n of MMU_CTX_BASE. */
struct apu_mmu_ctx {
	__le64 root;		/* L0 table bus address | APU_CTX_VALID */
	__le64 reserved;	/* must be zero */
};

#define APU_CTX_VALID			0x1ULL
#define APU_CTX_ROOT_MASK		0x000ffffffffff000ULL

/* Ring entry: one job. The ring is an array of these in address space 0. */
struct apu_ring_entry {
	__le64 cmdbuf;		/* VA of the command buffer in @asid */
	__le32 cmdbuf_size;	/* bytes */
	__le16 asid;		/* address space of the job */
	__le16 flags;		/* APU_RING_F_* */
	__le64 seqno;		/* written to APU_CORE_COMPLETED_SEQ when done */
	__le64 completion;	/* VA in address space 0 of a struct apu_completion */
	__le64 wlist;		/* APU_RING_F_WLIST: VA in address space 0 of */
	__le32 wlist_count;	/* ... this many struct apu_wrange */
	__le32 reserved0;	/* must be zero */
	__le64 reserved[2];	/* must be zero */
};

#define APU_RING_F_IRQ			0x1	/* interrupt on completion */
/*
 * The job may write only inside the ranges of its write list (and only
 * pages mapped writable); any other write faults with APU_FAULT_WRITE |
 * APU_FAULT_NOT_LISTED. Without the flag (older drivers) every writable
 * page of the address space may be written. ABI 1.3,
 * APU_FEATURE_WRITE_LIST.
 */
#define APU_RING_F_WLIST		0x2

/* One range a job may write: [start, end) in the job's address space. */
struct apu_wrange {
	__le64 start;
	__le64 end;
};

/* Most ranges of one write list (one page of them). */
#define APU_WLIST_MAX			256

/* Written by the device when a job ends, at the ring entry's @completion. */
struct apu_completion {
	__le64 seqno;
	__le32 status;		/* APU_STATUS_* */
	__le32 op_index;	/* the op that failed, or the op count */
	__le64 fault_addr;	/* faulting VA for APU_STATUS_MMU_FAULT */
	__le64 cycles;		/* modeled core cycles */
	__le64 macs;		/* multiply-accumulates done */
	__le64 bytes_read;	/* tensor and command bytes read */
	__le64 bytes_written;	/* tensor bytes written */
	__le32 fault_flags;	/* APU_FAULT_* for APU_STATUS_MMU_FAULT */
	__le32 reserved;
};

/* Job status. */
#define APU_STATUS_OK			0
#define APU_STATUS_BAD_CMDBUF		1	/* header, size or op count wrong */
#define APU_STATUS_BAD_OP		2	/* unknown opcode or flags */
#define APU_STATUS_BAD_PARAMS		3	/* shape or parameters invalid */
#define APU_STATUS_MMU_FAULT		4	/* see fault_addr, fault_flags */
#define APU_STATUS_BAD_CONTEXT		5	/* asid invalid or not set up */
#define APU_STATUS_INJECTED		6	/* failed by fault injection */
#define APU_STATUS_ABORTED		7	/* core reset while running */
#define APU_STATUS_TOO_LARGE		8	/* over the device's limits */

/* MMU fault kinds (fault_flags). */
#define APU_FAULT_WRITE			0x1	/* the access was a write */
#define APU_FAULT_NOT_PRESENT		0x2	/* no valid mapping */
#define APU_FAULT_READ_ONLY		0x4	/* write to a read-only page */
#define APU_FAULT_RANGE			0x8	/* VA beyond APU_MMU_VA_BITS */
#define APU_FAULT_BUS			0x10	/* table or page unreadable */
#define APU_FAULT_INJECTED		0x20	/* spurious, by fault injection */
#define APU_FAULT_NOT_LISTED		0x40	/* write outside the job's write list */

/* Command buffer: a header, then num_ops ops of APU_OP_SIZE bytes. */
#define APU_CMD_MAGIC			0x43555041	/* "APUC" in memory order */
#define APU_CMD_VERSION			1
#define APU_CMD_MAX_OPS			1024
#define APU_OP_SIZE			128

struct apu_cmd_header {
	__le32 magic;
	__le16 version;
	__le16 num_ops;
	__le32 flags;		/* must be zero */
	__le32 reserved;
};

/* Opcodes. */
#define APU_OP_CONV2D			1
#define APU_OP_ADD			2
#define APU_OP_AVGPOOL			3
#define APU_OP_MAXPOOL			4	/* ABI 1.2: struct apu_op_avgpool layout */
#define APU_OP_LUT			5	/* ABI 1.2: struct apu_op_lut */
#define APU_OP_MUL			6	/* ABI 1.2: struct apu_op_mul */

/* Op flags. */
#define APU_OPF_SINGLE_ROUNDING		0x1	/* conv: one rounding step */
/*
 * Average pooling (ABI 1.2): the mean rounded as TFLite's uint8 kernel
 * does on uint8 values, (sum + n / 2) / n, which on the int8 values (uint8
 * - 128) is floor((sum + n / 2) / n); without it, half away from zero as
 * the int8 kernel.
 */
#define APU_OPF_ROUND_UINT8		0x2
/*
 * Convolution (ABI 1.4, APU_FEATURE_INT4_WEIGHTS): the weights are int4,
 * symmetric (w_zp must be 0), packed two per byte as TFLite's INT4
 * tensors: element i of the weight layout (the int8 layout, flattened) is
 * the low nibble of byte i / 2 when i is even, the high nibble when odd,
 * each a two's complement value in [-8, 7]. The weights take
 * (elements + 1) / 2 bytes; the op is otherwise the int8 op of the
 * unpacked values, bit for bit.
 */
#define APU_OPF_WEIGHTS_INT4		0x4
/*
 * Convolution (ABI 1.5, APU_FEATURE_SPARSE_WEIGHTS): the weights are
 * block-sparse, in the layout of struct apu_sparse_weights below. Only for
 * 1x1 kernels with groups 1 (any stride, padding and dilation), int8
 * symmetric weights (w_zp 0, no APU_OPF_WEIGHTS_INT4); otherwise the op
 * fails with APU_STATUS_BAD_PARAMS. The op is the int8 op of the dense
 * weights the blocks describe (zero outside them), bit for bit.
 */
#define APU_OPF_WEIGHTS_SPARSE		0x10
/*
 * fp16 (ABI 1.6, APU_FEATURE_FP16), on CONV2D, ADD, AVGPOOL and MAXPOOL:
 * tensors are IEEE binary16, two bytes an element; arithmetic in fp32 in
 * the order docs/hw.md defines ("fp16 ops"), results rounded to fp16 to
 * nearest even. act_min and act_max hold fp32 bit patterns (the clamp,
 * done in fp32 before the rounding; not NaN, act_min <= act_max). The
 * convolution's bias is fp32 [out_c] (0: none), its pitches count
 * elements; every quantization field (zero points, mult, shift, the ADD's
 * shifts, offsets and multipliers) must be 0 and no other flag may be
 * set, else the op fails with APU_STATUS_BAD_PARAMS.
 */
#define APU_OPF_FP16			0x100

/*
 * Ranges of the requantization parameters the device accepts (TFLite's):
 * every shift (conv per channel, add in/out), the add's left shift and its
 * input offsets (minus the input zero points). Outside them an op fails
 * with APU_STATUS_BAD_PARAMS; libapu refuses them when a network is built.
 */
#define APU_SHIFT_MIN			(-31)
#define APU_SHIFT_MAX			30
#define APU_ADD_LEFT_SHIFT_MAX		30
#define APU_ADD_OFFSET_MIN		(-127)
#define APU_ADD_OFFSET_MAX		128

/*
 * 2-D convolution, NHWC int8, batch 1, TFLite semantics. Weights int8:
 * [out_c][k_h][k_w][in_c / groups], except depthwise (groups == in_c):
 * [k_h][k_w][out_c], out channel oc = ic * (out_c / in_c) + m. Bias int32
 * [out_c] (bias 0 = none); mult and shift int32 [out_c]. Fully connected is
 * a 1x1 convolution of a 1x1xC input. @out_pitch (firmware ABI 1.1) is the
 * distance in bytes between consecutive output pixels, at least out_c: a
 * job can write a slice of the channels of a wider tensor; 0 means out_c.
 * @in_pitch, likewise, lets it read a slice of a wider input's channels.
 * @w_zp (firmware ABI 1.2, APU_FEATURE_QUANT_OPS) is the weights' zero
 * point, as TFLite's uint8 kernels take it: the accumulator is the sum of
 * (in - in_zp) * (w - w_zp) over the window's taps inside the input (taps in
 * the padding add nothing), exact in int32; 0 for symmetric weights.
 */
struct apu_op_conv2d {
	__le16 opcode;
	__le16 flags;
	__le16 in_h, in_w, in_c;
	__le16 out_h, out_w, out_c;
	__le16 k_h, k_w;
	__le16 stride_h, stride_w;
	__le16 dil_h, dil_w;
	__le16 pad_top, pad_left;
	__le16 groups;
	__le16 out_pitch;	/* ABI 1.1: see above; 0 = out_c */
	__le32 in_zp, out_zp;
	__le32 act_min, act_max;
	__le16 in_pitch;	/* ABI 1.1: see above; 0 = in_c */
	__le16 w_zp;		/* ABI 1.2: weight zero point, signed, [-128, 127] */
	__le64 input, weights, bias, mult, shift, output;
	__le64 reserved[3];
};

/*
 * Block-sparse weights (APU_OPF_WEIGHTS_SPARSE, ABI 1.5), as in "Fast
 * Sparse ConvNets" (Elsen et al., 2019): the dense weights [out_c][in_c]
 * cut into blocks of @block output channels by one input channel; only the
 * blocks listed are stored, every other weight is 0. With
 * R = (out_c + block - 1) / block rows of blocks and N = @nnz blocks, the
 * weights buffer holds, packed, little endian:
 *
 *   offset 0            struct apu_sparse_weights (8 bytes)
 *   offset 8            __le16 count[R]: blocks of block row r (output
 *                       channels r * block .. r * block + block - 1)
 *   offset 8 + 2R       __le16 index[N]: each block's input channel,
 *                       absolute (not a delta), the rows' blocks one row
 *                       after another, strictly increasing within a row
 *   offset 8 + 2R + 2N  int8 value[N][block]: block k's weights, value
 *                       j for output channel (its row) * block + j
 *
 * apu_sparse_weights_size(R, N, block) = 8 + 2R + 2N + N * block bytes in
 * all. The device checks, before computing: @block is 1, 2 or 4,
 * @reserved 0, @nnz <= R * in_c, the counts add up to @nnz, every index is
 * below in_c and above the one before it in its row, and value j of a block
 * of the last row is 0 where r * block + j >= out_c; any failure is
 * APU_STATUS_BAD_PARAMS. The buffer is read through the MMU at its computed
 * size (header first): a buffer shorter than that faults, and a header
 * that reads differently with the whole buffer (a different size) is
 * APU_STATUS_BAD_PARAMS. The timing
 * model counts N * block MACs per output pixel and moves the buffer's size
 * in bytes for the weights.
 */
struct apu_sparse_weights {
	__le16 block;		/* output channels per block: 1, 2 or 4 */
	__le16 reserved;	/* must be zero */
	__le32 nnz;		/* blocks stored */
};

#define APU_SPARSE_HDR_SIZE		8

static inline __u64 apu_sparse_weights_size(__u64 rows, __u64 nnz,
					    __u64 block)
{
	return APU_SPARSE_HDR_SIZE + 2 * rows + 2 * nnz + nnz * block;
}

/*
 * Requantized elementwise add (TFLite int8 ADD): for each of @count
 * elements, x_i = (in_i + in_offset_i) << left_shift, scaled by
 * (mult_i, shift_i); the sum is scaled by (out_mult, out_shift), offset by
 * out_zp and clamped.
 */
struct apu_op_add {
	__le16 opcode;
	__le16 flags;
	__le32 count;
	__le32 left_shift;
	__le32 in1_offset, in1_mult, in1_shift;
	__le32 in2_offset, in2_mult, in2_shift;
	__le32 out_mult, out_shift, out_zp;
	__le32 act_min, act_max;
	__le64 input1, input2, output;
	__le32 in2_period;	/* ABI 1.2: see below; 0 = count */
	__le32 reserved0;
	__le64 reserved[5];
};

/*
 * Broadcasting (ADD and MUL, firmware ABI 1.2): element i of the output
 * takes element i of input1 and element (i mod @in2_period) of input2, so
 * a per-channel vector (@in2_period = channels) or a scalar (1) is applied
 * to every pixel. @count must be a multiple of @in2_period; 0 means
 * @count (no broadcasting).
 */

/*
 * Average pooling, NHWC int8 (TFLite int8 AVERAGE_POOL_2D): the mean of
 * the window's taps that lie inside the input, rounded half away from zero,
 * clamped. Same quantization in and out.
 */
struct apu_op_avgpool {
	__le16 opcode;
	__le16 flags;
	__le16 in_h, in_w, channels;
	__le16 out_h, out_w;
	__le16 k_h, k_w;
	__le16 stride_h, stride_w;
	__le16 pad_top, pad_left;
	__le16 reserved0;
	__le32 act_min, act_max;
	__le32 reserved1;
	__le64 input, output;
	__le64 reserved[9];
};

/*
 * Max pooling (firmware ABI 1.2), NHWC int8 (TFLite int8 MAX_POOL_2D):
 * opcode APU_OP_MAXPOOL in the layout of struct apu_op_avgpool; the largest
 * of the window's taps that lie inside the input, clamped to
 * [act_min, act_max]. Same quantization in and out.
 */

/*
 * Table lookup (firmware ABI 1.2): for each of @count int8 elements x,
 * output = table[x + 128], @table being 256 int8 entries. Any elementwise
 * function of one int8 value (requantization, LOGISTIC, TANH, HARD_SWISH,
 * clamps) is one table, computed by the host with the CPU reference of
 * that function, so the device's result is exact by construction.
 */
struct apu_op_lut {
	__le16 opcode;
	__le16 flags;
	__le32 count;
	__le64 input, output, table;
	__le64 reserved[12];
};

/*
 * Requantized elementwise multiply (TFLite int8 MUL), firmware ABI 1.2:
 * for each of @count elements,
 *   out = clamp(out_zp + MultiplyByQuantizedMultiplier((in1 + in1_offset) *
 *               (in2 + in2_offset), out_mult, out_shift), act_min, act_max)
 * with input2 broadcast by @in2_period as for ADD. Offsets in
 * [APU_ADD_OFFSET_MIN, APU_ADD_OFFSET_MAX], out_shift in
 * [APU_SHIFT_MIN, APU_SHIFT_MAX].
 */
struct apu_op_mul {
	__le16 opcode;
	__le16 flags;
	__le32 count;
	__le32 in1_offset, in2_offset;
	__le32 out_mult, out_shift, out_zp;
	__le32 act_min, act_max;
	__le32 in2_period;	/* as struct apu_op_add; 0 = count */
	__le64 input1, input2, output;
	__le64 reserved[8];
};

#endif /* APU_CMD_H */
