/* SPDX-License-Identifier: MIT */
/*
 * Internal to libapu's networks, not installed: the network object that
 * the builder (network.c), the planner (plan.c), command emission (emit.c)
 * and running (run.c) share.
 *
 * Memory: one buffer holds every activation tensor (each at its own
 * offset, so a run has no write-after-read hazard), one read-only buffer
 * the weights and requantization parameters, one the command buffers.
 *
 * Jobs: one per layer and core that got a share of the layer; the job's
 * command buffer holds its tiles. A job waits (syncobjs) for the jobs of
 * the layers that produce its inputs, so the cores of one layer run side
 * by side and layers follow one another. Synchronisation is explicit: the
 * jobs name the buffers as read-only users, so that the kernel adds no
 * implicit ordering between them.
 */
#ifndef APU_NETWORK_H
#define APU_NETWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "apu_internal.h"

enum op_kind {
	OP_CONV, OP_ADD, OP_POOL, OP_MAXPOOL, OP_MUL, OP_LUT,
	/* CPU ops: run by libapu between device segments. */
	OP_MEAN, OP_SOFTMAX, OP_CONCAT, OP_PAD, OP_BADD, OP_BMUL,
	/* Views: nothing runs. */
	OP_RESHAPE,
	/* A concatenation its producers wrote in place (channel slices). */
	OP_ASSEMBLE,
};

static inline bool kind_cpu(enum op_kind k)
{
	return k >= OP_MEAN && k <= OP_BMUL;
}

static inline bool kind_device(enum op_kind k)
{
	return k <= OP_LUT;
}

struct tensor {
	struct apu_shape s;
	size_t size, off;
	int producer;		/* op index, or -1 for an input */
	int view_of;		/* a view shares this tensor's storage; -1 */
	/*
	 * A channel slice of tensor @slice_of (its convolution writes there at
	 * the wider tensor's pitch, from channel @slice_c); -1.
	 */
	int slice_of;
	unsigned int slice_c;
	bool constant;		/* contents at const_off in the constants */
	size_t const_off;
	bool fp16;		/* binary16 elements: @size is 2 bytes an element */
};

struct op {
	enum op_kind kind;
	int in[2], out;
	bool fc;		/* fully connected: split by output channel */
	bool flat;		/* 1x1, stride 1, no padding: split by pixel */
	bool by_channel;	/* split by channel (output, and input, pitch) */
	bool dw;		/* depthwise: groups == in_c > 1 */
	/*
	 * Depthwise by channel: each tile's weights, repacked [k_h][k_w][n * m];
	 * int4 weights split by channel at an odd element: the tile's, repacked.
	 */
	struct dw_tile { unsigned int u0; size_t off; } *dwt;
	int ndwt;
	struct apu_ref_conv conv;
	/*
	 * Int4 weights: the constants hold them packed (w_size bytes); @w8 is
	 * the host's int8 copy (the CPU reference, tiles' repacking).
	 */
	bool w4;
	int8_t *w8;
	/*
	 * Block-sparse weights: output channels per block (0: dense); @w8 is
	 * the dense copy, the constants hold the whole op's encoding (w_size
	 * bytes), @nz its stored weights (blocks x block: MACs per pixel).
	 */
	unsigned int sparse;
	uint64_t nz;
	size_t w_off, w_size, b_off, m_off, s_off;
	bool has_bias;
	struct apu_add add;
	struct apu_ref_pool pool;
	struct apu_mul mul;
	size_t period;		/* add, mul: elements of input 2 (broadcast) */
	size_t lut_off;		/* lut: the table in the constants */
	struct apu_mean mean;
	struct apu_softmax sm;
	int *cat;		/* concat: its inputs */
	int ncat;
	unsigned int pads[4];	/* pad: top, bottom, left, right */
	int8_t pad_value;
	double cpu_us;		/* CPU ops: time of the last run */
	/*
	 * fp16 op (fp16.c): tensors binary16, clamps [@lo, @hi]; a conv's
	 * w_size counts elements (the constants hold 2 bytes each), its bias
	 * is fp32, m_off and s_off unused; add's @period counts elements.
	 */
	bool fp16;
	float lo, hi;
	uint64_t macs;
	struct apu_plan_layer layer;
	int nshares;
	struct apu_plan_share shares[8];
	double est_us, est_uj;
};

struct job {
	int op;
	struct apu_plan_share share;
	uint32_t cmd_off, cmd_size;
	uint32_t syncobj;
	uint32_t dep_first, ndeps;	/* in net->deps */
	uint64_t id;
	uint64_t cycles, macs;
	double start_us, end_us;
	bool sink;		/* no job waits for it: the run's out-fence does */
};

struct apu_network {
	struct apu_device *dev;
	struct tensor *t;
	int nt, cap_t;
	struct op *ops;
	int nops, cap_ops;
	uint8_t *consts;
	size_t consts_size, consts_cap;
	size_t act_size;
	uint64_t act_total;	/* tensors' sizes so far (views counted too) */

	bool compiled;
	struct apu_compile_options opts;
	struct apu_buffer *act, *cst, *cmd;
	int8_t *ref;
	int8_t *scratch;	/* the reference's place for the largest slice */
	struct job *jobs;
	int njobs;
	uint32_t *deps;		/* syncobj handles */
	uint32_t ndeps_total;
	uint32_t in_fence_syncobj;
	double modeled_us;

	bool in_flight, have_run;
	/* The last run ended OK and its job records are not read yet. */
	bool records_pending;
	int64_t submit_ns, end_ns;
	struct apu_run_stats last;
	struct apu_core_stats last_cores[8];	/* last.num_cores of them */
};

/* ---- shared between the parts (network.c, plan.c, emit.c, run.c) ---- */

static inline bool valid_tensor(const struct apu_network *net, int t)
{
	return t >= 0 && t < net->nt;
}

/* Bytes between the pixels of tensor @t's storage (a slice's: its base's). */
static inline unsigned int t_pitch(const struct apu_network *net, int t)
{
	const struct tensor *x = &net->t[t];

	return x->slice_of >= 0 ? net->t[x->slice_of].s.c : x->s.c;
}

/* network.c: copies @size bytes of constants; *@off: their offset (64-byte aligned). */
int apu_net_add_const(struct apu_network *net, const void *src, size_t size, size_t *off);
/*
 * emit.c: the ops whose jobs produce @o's inputs (a concatenation in place
 * stands for the convolutions that wrote its slices), into @prods (NULL:
 * count only). Returns their number.
 */
int apu_net_input_producers(const struct apu_network *net, const struct op *o, int *prods);

/* network.c: frees what apu_network_compile() made; the network is again uncompiled. */
void apu_net_release_compiled(struct apu_network *net);
/* network.c: the builder's steps, for the fp16 builders (fp16.c). */
struct op *apu_net_new_op(struct apu_network *net);
int apu_net_finish_op(struct apu_network *net, const struct apu_shape *s, int *output);
int apu_net_add_tensor(struct apu_network *net, const struct apu_shape *shape, int producer);
int apu_net_out_dim(unsigned int in, unsigned int k, unsigned int stride, unsigned int dil,
		    enum apu_padding pad, unsigned int pad_lo, unsigned int pad_hi,
		    unsigned int *out, unsigned int *lo);
/* Make tensor @t (just added) an fp16 one: twice the bytes. */
void apu_net_make_fp16(struct apu_network *net, int t);
/* fp16.c: op @o (o->fp16) with the CPU reference on the tensors of arena @a. */
void apu_net_ref_fp16(const struct apu_network *net, const struct op *o, uint8_t *a);

/* plan.c: places every device op on cores (o->shares, o->est_us) and sets net->modeled_us. */
int apu_net_plan(struct apu_network *net);
/* Read the last run's job records if its wait left them unread (run.c). */
void apu_net_records(struct apu_network *net);

#endif /* APU_NETWORK_H */
