// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the device's command processor (firmware-stub/apu_cp.c
 * and the int8 engine behind it) over a simulated bus of FUZZ_PAGES pages
 * of guest RAM (tests/apu_bus.h).
 *
 * Structure-aware: the input is a small program that builds a mostly valid
 * device state, so that most executions get past validation and run ops:
 * a context table with address spaces 0 (the driver's: ring, completion
 * record, write list) and 1-3 (jobs), 3-level page tables, tensors at
 * mapped addresses (pages interleaved, guard holes between them, crossing
 * page boundaries), a command buffer of 1..FUZZ_MAX_OPS ops whose shapes
 * and quantization parameters are drawn from valid ranges (small dims, valid
 * groups, strides, pads, zero points, shifts), a ring entry with or without
 * a write list of the ops' outputs. Then, for some inputs, mutations: a
 * command-buffer byte or field, a page unmapped or made read-only, a page
 * table entry aimed at another page or off the bus, an address aimed at a
 * guard page, another tensor or past 2^39, a write-list range shrunk to
 * part of an output, dropped or reversed, ring-entry fields, the context
 * table, fault injection. A byte stream of zeros builds a valid job; bytes
 * past the input's end read as zero.
 *
 * The job runs as the device runs it (apu_cp_fetch, apu_cp_run_entry,
 * apu_cp_complete), and whatever the input, these must hold (else abort()):
 * - the sanitizers see no crash, undefined behaviour or leak;
 * - the status is a known APU_STATUS_*, op_index <= num_ops, and OK means
 *   every op ran (op_index == num_ops);
 * - the only bytes of guest RAM that changed are in pages the job's
 *   address space maps writable at a VA inside the write list (any
 *   writable page without one), or the completion record: read-only pages,
 *   page tables, the context table and everything unmapped stay as they
 *   were (checked against a snapshot, with an independent page-table walk);
 * - the completion record holds the job's result;
 * - a job whose abort callback trips ends ABORTED at that op and writes
 *   nothing after it.
 *
 * At exit it prints how deep the executions went: how many ran at least
 * one op and how many completed every op (scripts/check-deep.sh puts the
 * line in figures.txt). FUZZ_CP_DEBUG=1 in the environment prints each
 * job's result.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/apu_fw.h"
#include "../apu_bus.h"

#define PAGE			APU_MMU_PAGE_SIZE
#define FUZZ_PAGES		160		/* 640 KiB of guest RAM */
#define FUZZ_MAX_OPS		4
#define FUZZ_MAX_MAPS		128
#define FUZZ_MAX_RANGES		16
#define NCTX			4

/* Address space 0 (the driver's). */
#define VA_RING			0x7000000ull
#define VA_DONE			0x7100000ull
#define VA_WL			0x7200000ull
/* Job address spaces: tensors from here up, one guard page between them. */
#define VA_JOB			0x100000ull

/*
 * The harness's own loops (filling pages, the oracle) are not what is
 * being fuzzed: no coverage feedback from them, and they run faster.
 */
#define NOCOV __attribute__((no_sanitize("coverage"), noinline))

/* ---- the input as a byte stream ----------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t n, i;
};

static unsigned u8(struct rd *r)
{
	return r->i < r->n ? r->p[r->i++] : 0;
}

static unsigned u16(struct rd *r)
{
	unsigned v = u8(r);

	return v | u8(r) << 8;
}

/* 0..n-1 */
static unsigned pick(struct rd *r, unsigned n)
{
	return n ? (n > 256 ? u16(r) : u8(r)) % n : 0;
}

static int i8v(struct rd *r)
{
	return (int8_t)u8(r);
}

/* Tensor contents: not worth input bytes, a generator seeded from them. */
static uint32_t rng_state;

static NOCOV uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* ---- the device state being built ---------------------------------------- */

struct map {
	int asid;
	uint64_t va, pa;	/* pages */
	bool writable;
};

struct st {
	struct apu_bus bus;
	ApuMmu mmu;
	uint64_t root[NCTX];
	struct map maps[FUZZ_MAX_MAPS];
	int nmaps;
	uint64_t data[FUZZ_MAX_MAPS];	/* data pages (never tables) */
	int ndata;
	uint64_t next_va[NCTX];
	int asid;			/* the job's */
	/* Addresses the ops use, for mutations that alias them. */
	uint64_t tensors[4 * FUZZ_MAX_OPS * 2];
	int ntensors;
	uint64_t ranges[FUZZ_MAX_RANGES][2];
	int nranges;
};

static uint8_t ram[FUZZ_PAGES * PAGE];
static uint8_t snap[FUZZ_PAGES * PAGE];

static uint64_t data_page(struct st *s)
{
	uint64_t p = apu_bus_page_alloc(&s->bus);

	if (p && s->ndata < FUZZ_MAX_MAPS)
		s->data[s->ndata++] = p;
	return p;
}

static void map(struct st *s, int asid, uint64_t va, uint64_t pa, bool w)
{
	if (!pa || s->nmaps >= FUZZ_MAX_MAPS ||
	    apu_bus_map_page(&s->bus, s->root[asid], va, pa, w))
		return;
	s->maps[s->nmaps++] = (struct map){ asid, va, pa, w };
}

/* The bus address of @va in @asid as built (before any mutation), or 0. */
static uint64_t built_pa(struct st *s, int asid, uint64_t va)
{
	for (int i = 0; i < s->nmaps; i++)
		if (s->maps[i].asid == asid && s->maps[i].va == (va & ~(PAGE - 1)))
			return s->maps[i].pa + (va & (PAGE - 1));
	return 0;
}

/* Store @len bytes at @va of @asid as the CPU would (read-only or not). */
static void poke(struct st *s, int asid, uint64_t va, const void *src, uint64_t len)
{
	const uint8_t *p = src;

	while (len) {
		uint64_t pa = built_pa(s, asid, va);
		uint64_t n = PAGE - (va & (PAGE - 1));

		n = n < len ? n : len;
		if (pa)
			memcpy(s->bus.mem + pa, p, n);
		p += n;
		va += n;
		len -= n;
	}
}

static NOCOV void fill(uint8_t *page)
{
	for (uint64_t k = 0; k < PAGE; k += 4) {
		uint32_t v = rng();

		memcpy(page + k, &v, 4);
	}
}

/*
 * A tensor of @len bytes in the job's address space: fresh pages
 * (interleaved with other tensors' and tables'), starting at an offset the
 * input picks (so that it may cross pages), an unmapped guard page after
 * it; filled with generated bytes. Returns its VA.
 */
static uint64_t tensor(struct st *s, struct rd *r, uint64_t len, bool writable)
{
	int a = s->asid;
	uint64_t off = (u8(r) * 64) % PAGE, va = s->next_va[a] + off;
	uint64_t npages = (off + len + PAGE - 1) / PAGE;

	for (uint64_t i = 0; i < npages; i++) {
		uint64_t pa = data_page(s);

		if (!pa)
			break;
		map(s, a, s->next_va[a] + i * PAGE, pa, writable);
		fill(s->bus.mem + pa);
	}
	s->next_va[a] += (npages + 1) * PAGE;
	if (s->ntensors < (int)(sizeof(s->tensors) / sizeof(s->tensors[0])))
		s->tensors[s->ntensors++] = va;
	return va;
}

static void add_range(struct st *s, uint64_t start, uint64_t end)
{
	if (s->nranges < FUZZ_MAX_RANGES) {
		s->ranges[s->nranges][0] = start;
		s->ranges[s->nranges][1] = end;
		s->nranges++;
	}
}

/* An output: writable, and in the write list. */
static uint64_t output(struct st *s, struct rd *r, uint64_t len)
{
	uint64_t va = tensor(s, r, len, true);

	add_range(s, va, va + len);
	return va;
}

/* Per-channel int32 tables: multipliers, shifts (mostly valid), biases. */
static uint64_t table32(struct st *s, struct rd *r, int n, int kind, bool bad)
{
	uint64_t va = tensor(s, r, 4ull * n, false);

	for (int i = 0; i < n; i++) {
		int32_t v;

		if (kind == 0)
			v = (int32_t)((1u << 30) | (rng() & 0x3fffffff));
		else if (kind == 1)
			v = bad && i == n - 1 ? (int32_t)rng() : -(int32_t)(rng() % 12);
		else
			v = (int32_t)(rng() % 20001) - 10000;
		uint8_t b[4];

		apu_st32(b, v);
		poke(s, s->asid, va + 4ull * i, b, 4);
	}
	return va;
}

static void clamp_pair(struct rd *r, int *lo, int *hi)
{
	int a = i8v(r), b = i8v(r);

	if (!(u8(r) & 3)) {	/* mostly no clamp at all */
		a = -128;
		b = 127;
	}
	*lo = a < b ? a : b;
	*hi = a < b ? b : a;
}

/* ---- ops ------------------------------------------------------------------ */

/* The previous op's output, to chain ops as a network does. */
static uint64_t prev_out, prev_len;

static uint64_t input(struct st *s, struct rd *r, uint64_t len)
{
	if (prev_len >= len && (u8(r) & 1))
		return prev_out;
	return tensor(s, r, len, u8(r) & 1);
}

static void build_conv(struct st *s, struct rd *r, uint8_t *op)
{
	struct apu_op_conv2d *c = (void *)op;
	unsigned form = pick(r, 4), g = 1, mode = u8(r);
	int in_c, out_c, in_h = 1 + pick(r, 8), in_w = 1 + pick(r, 8);
	int k_h = 1 + pick(r, 3), k_w = 1 + pick(r, 3);
	int dil_h = 1 + (mode & 1), dil_w = 1 + (mode >> 1 & 1);
	int st_h = 1 + pick(r, 2), st_w = 1 + pick(r, 2);
	int pad_t, pad_l, out_h, out_w, lo, hi;
	unsigned out_pitch = 0, in_pitch = 0;

	if (form == 1) {			/* depthwise, multiplier 1-2 */
		in_c = 2 + pick(r, 15);
		out_c = in_c * (1 + pick(r, 2));
		g = in_c;
	} else if (form == 2) {			/* grouped */
		g = 2 << pick(r, 2);
		in_c = g * (1 + pick(r, 3));
		out_c = g * (1 + pick(r, 3));
	} else {				/* plain, or fully connected */
		in_c = 1 + pick(r, 16);
		out_c = 1 + pick(r, 16);
		if (form == 3)
			in_h = in_w = k_h = k_w = 1;
	}
	if (mode & 4) {
		dil_h = dil_w = 1;
	}
	pad_t = pick(r, (k_h - 1) * dil_h + 1);
	pad_l = pick(r, (k_w - 1) * dil_w + 1);
	out_h = (in_h + 2 * pad_t - dil_h * (k_h - 1) - 1) / st_h + 1;
	out_w = (in_w + 2 * pad_l - dil_w * (k_w - 1) - 1) / st_w + 1;
	out_h = out_h < 1 ? 1 : out_h + (mode & 8 ? 1 : 0);
	out_w = out_w < 1 ? 1 : out_w;
	if (mode & 16)
		out_pitch = out_c + pick(r, 4);
	if (mode & 32)
		in_pitch = in_c + pick(r, 4);

	memset(op, 0, APU_OP_SIZE);
	apu_st16(&c->opcode, APU_OP_CONV2D);
	apu_st16(&c->flags, mode & 64 ? APU_OPF_SINGLE_ROUNDING : 0);
	apu_st16(&c->in_h, in_h); apu_st16(&c->in_w, in_w); apu_st16(&c->in_c, in_c);
	apu_st16(&c->out_h, out_h); apu_st16(&c->out_w, out_w); apu_st16(&c->out_c, out_c);
	apu_st16(&c->k_h, k_h); apu_st16(&c->k_w, k_w);
	apu_st16(&c->stride_h, st_h); apu_st16(&c->stride_w, st_w);
	apu_st16(&c->dil_h, dil_h); apu_st16(&c->dil_w, dil_w);
	apu_st16(&c->pad_top, pad_t); apu_st16(&c->pad_left, pad_l);
	apu_st16(&c->groups, g);
	apu_st16(&c->out_pitch, out_pitch);
	apu_st16(&c->in_pitch, in_pitch);
	apu_st32(&c->in_zp, i8v(r));
	apu_st32(&c->out_zp, i8v(r));
	clamp_pair(r, &lo, &hi);
	apu_st32(&c->act_min, lo);
	apu_st32(&c->act_max, hi);
	apu_st16(&c->w_zp, mode & 128 ? i8v(r) : 0);

	uint64_t npix_in = (uint64_t)in_h * in_w, npix_out = (uint64_t)out_h * out_w;
	uint64_t nin = npix_in * (in_pitch ? in_pitch : (unsigned)in_c);
	uint64_t nw = (uint64_t)out_c * k_h * k_w * (in_c / g);
	uint64_t nout = npix_out * (out_pitch ? out_pitch : (unsigned)out_c);
	unsigned q = u8(r);

	apu_st64(&c->input, input(s, r, nin));
	if (k_h == 1 && k_w == 1 && g == 1 && (q & 6) == 6) {
		/*
		 * Block-sparse weights (ABI 1.5): a well-formed encoding of
		 * random blocks, then (q & 8) one byte of it replaced.
		 */
		unsigned int block = 1u << pick(r, 3), rows = (out_c + block - 1) / block;
		uint8_t sw[8 + 2 * 16 + 6 * 16 * 16] = { 0 };
		unsigned int nnz = 0;
		uint64_t size, va;

		for (unsigned int row = 0; row < rows; row++) {
			unsigned int n = 0;

			for (int ic = 0; ic < in_c; ic++) {
				if (!(u8(r) & 1))
					continue;
				sw[8 + 2 * rows + 2 * nnz] = (uint8_t)ic;
				nnz++;
				n++;
			}
			sw[8 + 2 * row] = (uint8_t)n;
		}
		sw[0] = (uint8_t)block;
		sw[4] = (uint8_t)nnz;
		sw[5] = (uint8_t)(nnz >> 8);
		size = 8 + 2 * rows + (2 + block) * (uint64_t)nnz;
		for (uint64_t i = 8 + 2 * rows + 2 * nnz; i < size; i++)
			sw[i] = u8(r);
		/* The last row's padding values are 0. */
		for (unsigned int k = 0; k < nnz; k++)
			for (unsigned int j = 0; j < block; j++)
				if ((rows - 1) * block + j >= (unsigned int)out_c &&
				    k >= nnz - sw[8 + 2 * (rows - 1)])
					sw[8 + 2 * rows + 2 * nnz + k * block + j] = 0;
		if (q & 8)
			sw[pick(r, (unsigned int)size)] = u8(r);
		va = tensor(s, r, size, false);
		poke(s, s->asid, va, sw, size);
		apu_st64(&c->weights, va);
		apu_st16(&c->flags, apu_ld16(&c->flags) | APU_OPF_WEIGHTS_SPARSE);
		apu_st16(&c->w_zp, 0);
	} else {
		apu_st64(&c->weights, tensor(s, r, nw, false));
	}
	apu_st64(&c->bias, q & 1 ? 0 : table32(s, r, out_c, 2, false));
	apu_st64(&c->mult, table32(s, r, out_c, 0, false));
	apu_st64(&c->shift, table32(s, r, out_c, 1, (q & 0xf0) == 0xf0));
	prev_out = output(s, r, nout);
	prev_len = nout;
	apu_st64(&c->output, prev_out);
}

static void build_add_mul(struct st *s, struct rd *r, uint8_t *op, bool mul)
{
	unsigned mode = u8(r), period = 0, count;
	int lo, hi;

	if (mode & 3)
		period = (mode & 3) == 1 ? 1 : 1 + pick(r, 32);
	count = (period ? period : 1) * (1 + pick(r, period ? 16 : 512));
	if ((mode & 12) == 12 && period)
		period = count;			/* period == count */
	clamp_pair(r, &lo, &hi);

	uint64_t n2 = period ? period : count;
	uint64_t in1 = input(s, r, count), in2 = tensor(s, r, n2, u8(r) & 1);

	prev_out = output(s, r, count);
	prev_len = count;
	memset(op, 0, APU_OP_SIZE);
	if (mul) {
		struct apu_op_mul *m = (void *)op;

		apu_st16(&m->opcode, APU_OP_MUL);
		apu_st32(&m->count, count);
		apu_st32(&m->in1_offset, (int)pick(r, 256) - 127);
		apu_st32(&m->in2_offset, (int)pick(r, 256) - 127);
		apu_st32(&m->out_mult, (int32_t)((1u << 30) | (rng() & 0x3fffffff)));
		apu_st32(&m->out_shift, (int)pick(r, 62) - 31);
		apu_st32(&m->out_zp, i8v(r));
		apu_st32(&m->act_min, lo);
		apu_st32(&m->act_max, hi);
		apu_st32(&m->in2_period, period);
		apu_st64(&m->input1, in1);
		apu_st64(&m->input2, in2);
		apu_st64(&m->output, prev_out);
	} else {
		struct apu_op_add *a = (void *)op;

		apu_st16(&a->opcode, APU_OP_ADD);
		apu_st32(&a->count, count);
		apu_st32(&a->left_shift, mode & 16 ? (int)pick(r, 31) : 20);
		apu_st32(&a->in1_offset, (int)pick(r, 256) - 127);
		apu_st32(&a->in1_mult, (int32_t)((1u << 30) | (rng() & 0x3fffffff)));
		apu_st32(&a->in1_shift, (int)pick(r, 62) - 31);
		apu_st32(&a->in2_offset, (int)pick(r, 256) - 127);
		apu_st32(&a->in2_mult, (int32_t)((1u << 30) | (rng() & 0x3fffffff)));
		apu_st32(&a->in2_shift, (int)pick(r, 62) - 31);
		apu_st32(&a->out_mult, (int32_t)((1u << 30) | (rng() & 0x3fffffff)));
		apu_st32(&a->out_shift, (int)pick(r, 62) - 31);
		apu_st32(&a->out_zp, i8v(r));
		apu_st32(&a->act_min, lo);
		apu_st32(&a->act_max, hi);
		apu_st32(&a->in2_period, period);
		apu_st64(&a->input1, in1);
		apu_st64(&a->input2, in2);
		apu_st64(&a->output, prev_out);
	}
}

static void build_pool(struct st *s, struct rd *r, uint8_t *op, bool max)
{
	struct apu_op_avgpool *a = (void *)op;
	unsigned mode = u8(r);
	int ch = 1 + pick(r, 16), in_h = 1 + pick(r, 8), in_w = 1 + pick(r, 8);
	int k_h = 1 + pick(r, 3), k_w = 1 + pick(r, 3);
	int st_h = 1 + pick(r, 2), st_w = 1 + pick(r, 2);
	int pad_t = pick(r, k_h), pad_l = pick(r, k_w), lo, hi;
	/* Every window overlaps the input: (out - 1) * stride - pad < in. */
	int out_h = 1 + pick(r, (in_h - 1 + pad_t) / st_h + 1);
	int out_w = 1 + pick(r, (in_w - 1 + pad_l) / st_w + 1);

	clamp_pair(r, &lo, &hi);
	memset(op, 0, APU_OP_SIZE);
	apu_st16(&a->opcode, max ? APU_OP_MAXPOOL : APU_OP_AVGPOOL);
	apu_st16(&a->flags, !max && (mode & 1) ? APU_OPF_ROUND_UINT8 : 0);
	apu_st16(&a->in_h, in_h); apu_st16(&a->in_w, in_w); apu_st16(&a->channels, ch);
	apu_st16(&a->out_h, out_h); apu_st16(&a->out_w, out_w);
	apu_st16(&a->k_h, k_h); apu_st16(&a->k_w, k_w);
	apu_st16(&a->stride_h, st_h); apu_st16(&a->stride_w, st_w);
	apu_st16(&a->pad_top, pad_t); apu_st16(&a->pad_left, pad_l);
	apu_st32(&a->act_min, lo);
	apu_st32(&a->act_max, hi);
	apu_st64(&a->input, input(s, r, (uint64_t)in_h * in_w * ch));
	prev_len = (uint64_t)out_h * out_w * ch;
	prev_out = output(s, r, prev_len);
	apu_st64(&a->output, prev_out);
}

static void build_lut(struct st *s, struct rd *r, uint8_t *op)
{
	struct apu_op_lut *l = (void *)op;
	unsigned count = 1 + pick(r, 1024);

	memset(op, 0, APU_OP_SIZE);
	apu_st16(&l->opcode, APU_OP_LUT);
	apu_st32(&l->count, count);
	apu_st64(&l->input, input(s, r, count));
	apu_st64(&l->table, tensor(s, r, 256, false));
	prev_out = output(s, r, count);
	prev_len = count;
	apu_st64(&l->output, prev_out);
}

/* ---- mutations --------------------------------------------------------------- */

/* The PTE of @va in @asid as built: its bus address, or 0. */
static uint64_t pte_at(struct st *s, int asid, uint64_t va, int level_want)
{
	uint64_t table = s->root[asid];

	for (int level = 0; level < APU_MMU_LEVELS; level++) {
		int sh = APU_MMU_PAGE_SHIFT + APU_MMU_LEVEL_BITS * (APU_MMU_LEVELS - 1 - level);
		uint64_t e = table + ((va >> sh) & 511) * 8;
		uint64_t v = apu_ld64(s->bus.mem + e);

		if (level == level_want)
			return e;
		if (!(v & APU_PTE_VALID) || (v & APU_PTE_ADDR_MASK) + PAGE > s->bus.size)
			return 0;
		table = v & APU_PTE_ADDR_MASK;
	}
	return 0;
}

/* A VA the job can reach but may not use: a guard page, another tensor, ... */
static uint64_t hostile_va(struct st *s, struct rd *r)
{
	switch (pick(r, 6)) {
	case 0:		/* the guard page after the last tensor */
		return s->next_va[s->asid] - PAGE + pick(r, PAGE);
	case 1:		/* another tensor (aliasing), maybe offset */
		return s->ntensors ? s->tensors[pick(r, s->ntensors)] + pick(r, 64) : 0;
	case 2:		/* past the 39-bit VA space, or just below it */
		return (1ull << APU_MMU_VA_BITS) - pick(r, 2) * 8 - (u8(r) & 1) * PAGE;
	case 3:		/* a read-only tensor (the command buffer's own VA, ...) */
		for (int i = 0; i < s->nmaps; i++)
			if (s->maps[i].asid == s->asid && !s->maps[i].writable && (u8(r) & 1))
				return s->maps[i].va;
		return VA_JOB;
	case 4:		/* the driver's pages, at their asid-0 VAs */
		return VA_DONE + pick(r, 3) * 0x100000ull;
	default:
		return (uint64_t)u16(r) << 12 | u8(r);
	}
}

static void mutate_cmd(struct st *s, struct rd *r, uint8_t *cmd, uint32_t len, int nops)
{
	unsigned k = pick(r, 6);
	uint32_t off = pick(r, len);

	switch (k) {
	case 0:		/* a byte */
		cmd[off] ^= 1 + pick(r, 255);
		break;
	case 1:		/* a 16-bit field */
		off &= ~1u;
		apu_st16(cmd + off, u16(r));
		break;
	case 2: {	/* an address field of an op: aimed somewhere hostile */
		uint8_t *op = cmd + 16 + pick(r, nops) * APU_OP_SIZE;
		/* The address fields of every layout lie in bytes 8..80. */
		unsigned at = 8 + 8 * pick(r, 9);

		apu_st64(op + at, hostile_va(s, r));
		break;
	}
	case 3:		/* an opcode */
		apu_st16(cmd + 16 + pick(r, nops) * APU_OP_SIZE, pick(r, 9));
		break;
	case 4:		/* a 32-bit field to an extreme */
		off &= ~3u;
		if (off + 4 <= len)
			apu_st32(cmd + off, (u8(r) & 1) ? INT32_MIN : INT32_MAX);
		break;
	default:	/* the header */
		cmd[pick(r, 16)] ^= 1 << pick(r, 8);
		break;
	}
}

static void mutate_state(struct st *s, struct rd *r, struct apu_ring_entry *e, uint32_t *inject)
{
	/* From the last (an output of the last op: a zero byte picks it). */
	struct map *m = s->nmaps ? &s->maps[s->nmaps - 1 - pick(r, s->nmaps)] : NULL;
	uint64_t pte;

	switch (pick(r, 10)) {
	case 0:		/* unmap a page */
		if (m && (pte = pte_at(s, m->asid, m->va, 2)))
			apu_st64(s->bus.mem + pte, 0);
		break;
	case 1:		/* make a page read-only, or writable */
		if (m && (pte = pte_at(s, m->asid, m->va, 2)))
			s->bus.mem[pte] ^= APU_PTE_WRITE;
		break;
	case 2:		/* aim a PTE at another data page, or off the bus */
		if (m && (pte = pte_at(s, m->asid, m->va, 2))) {
			uint64_t pa = u8(r) & 1 && s->ndata ? s->data[pick(r, s->ndata)]
				      : (uint64_t)(FUZZ_PAGES + pick(r, 4)) * PAGE;

			apu_st64(s->bus.mem + pte, pa | APU_PTE_VALID | (u8(r) & 1 ? APU_PTE_WRITE : 0));
		}
		break;
	case 3:		/* a level-0 or level-1 entry invalid or off the bus */
		if (m && (pte = pte_at(s, m->asid, m->va, pick(r, 2))))
			apu_st64(s->bus.mem + pte, u8(r) & 1 ? 0 :
				  ((uint64_t)FUZZ_PAGES * PAGE) | APU_PTE_VALID);
		break;
	case 4:		/* the context table */
		switch (pick(r, 3)) {
		case 0:
			s->mmu.ctx_count = pick(r, NCTX + 1);
			break;
		case 1:
			s->bus.mem[s->bus.ctx_table + pick(r, NCTX) * 16 + (u8(r) & 1) * 8] ^= 1;
			break;
		default:
			apu_st64(s->bus.mem + s->bus.ctx_table + pick(r, NCTX) * 16,
				  ((uint64_t)(FUZZ_PAGES + 1) * PAGE) | APU_CTX_VALID);
			break;
		}
		break;
	case 5: {	/* a write-list range: part of an output, dropped, reversed */
		if (!s->nranges)
			break;
		int i = pick(r, s->nranges);
		uint64_t len = s->ranges[i][1] - s->ranges[i][0];

		switch (pick(r, 4)) {
		case 0:
			s->ranges[i][1] = s->ranges[i][0] + pick(r, len + 1);
			break;
		case 1:
			s->ranges[i][0] += pick(r, len + 1);
			break;
		case 2:
			s->ranges[i][0] = s->ranges[i][1] + 1;
			break;
		default:
			s->ranges[i][1] = s->ranges[i][0];
			break;
		}
		break;
	}
	case 6: {	/* a ring-entry field */
		uint8_t *b = (uint8_t *)e;

		b[pick(r, sizeof(*e))] ^= 1 << pick(r, 8);
		break;
	}
	case 7:		/* the job's address space */
		apu_st16(&e->asid, pick(r, NCTX + 2));
		break;
	case 8:		/* fault injection (rarely: the job does not run) */
		if (u8(r) & 3)
			break;
		*inject |= 1u << (u8(r) & 1 ? APU_INJECT_FAIL_JOB : APU_INJECT_MMU_FAULT);
		break;
	default:	/* the command buffer's size */
		apu_st32(&e->cmdbuf_size, pick(r, apu_ld32(&e->cmdbuf_size) + 1));
		break;
	}
}

/* ---- the oracle: an independent walk of the tables in the snapshot ------- */

static NOCOV uint64_t snap64(uint64_t pa)
{
	return pa + 8 <= sizeof(snap) ? apu_ld64(snap + pa) : 0;
}

/* Bus address of @va in @asid per the snapshot; ~0 if it does not translate. */
static NOCOV uint64_t walk(const ApuMmu *mmu, int asid, uint64_t va, bool *w)
{
	uint64_t ctx, t, e = 0;

	if ((unsigned)asid >= mmu->ctx_count || va >> APU_MMU_VA_BITS)
		return ~0ull;
	ctx = mmu->ctx_base + asid * 16ull;
	if (ctx + 16 > sizeof(snap) || !(snap64(ctx) & APU_CTX_VALID) || snap64(ctx + 8))
		return ~0ull;
	t = snap64(ctx) & APU_CTX_ROOT_MASK;
	for (int level = 0; level < APU_MMU_LEVELS; level++) {
		int sh = APU_MMU_PAGE_SHIFT + APU_MMU_LEVEL_BITS * (APU_MMU_LEVELS - 1 - level);

		if (t + PAGE > sizeof(snap))
			return ~0ull;
		e = snap64(t + ((va >> sh) & 511) * 8);
		if (!(e & APU_PTE_VALID))
			return ~0ull;
		t = e & APU_PTE_ADDR_MASK;
	}
	if (t + PAGE > sizeof(snap))		/* the page is not RAM */
		return ~0ull;
	*w = e & APU_PTE_WRITE;
	return t | (va & (PAGE - 1));
}

/* Every writable (va page, pa page) of @asid in the snapshot. */
struct wmap {
	uint64_t va, pa;
};
static struct wmap wmaps[4096];
static int nwmaps;

static NOCOV void collect_writable(const ApuMmu *mmu, int asid)
{
	uint64_t ctx = mmu->ctx_base + asid * 16ull, t0;

	nwmaps = 0;
	if ((unsigned)asid >= mmu->ctx_count || ctx + 16 > sizeof(snap) ||
	    !(snap64(ctx) & APU_CTX_VALID) || snap64(ctx + 8))
		return;
	t0 = snap64(ctx) & APU_CTX_ROOT_MASK;
	if (t0 + PAGE > sizeof(snap))
		return;
	for (uint64_t i = 0; i < 512; i++) {
		uint64_t e0 = snap64(t0 + i * 8), t1 = e0 & APU_PTE_ADDR_MASK;

		if (!(e0 & APU_PTE_VALID) || t1 + PAGE > sizeof(snap))
			continue;
		for (uint64_t j = 0; j < 512; j++) {
			uint64_t e1 = snap64(t1 + j * 8), t2 = e1 & APU_PTE_ADDR_MASK;

			if (!(e1 & APU_PTE_VALID) || t2 + PAGE > sizeof(snap))
				continue;
			for (uint64_t k = 0; k < 512; k++) {
				uint64_t e2 = snap64(t2 + k * 8);

				if ((e2 & APU_PTE_VALID) && (e2 & APU_PTE_WRITE) &&
				    nwmaps < (int)(sizeof(wmaps) / sizeof(wmaps[0])))
					wmaps[nwmaps++] = (struct wmap){
						i << 30 | j << 21 | k << 12, e2 & APU_PTE_ADDR_MASK };
			}
		}
	}
}

static void fail(const char *what, uint64_t a, uint64_t b)
{
	fprintf(stderr, "fuzz_cp: invariant broken: %s (0x%llx, 0x%llx)\n", what,
		(unsigned long long)a, (unsigned long long)b);
	abort();
}

/*
 * Every byte of RAM that differs from the snapshot lies in the completion
 * record at @dpa (~0: none written) or in a page the job's address space
 * maps writable at a VA inside the write list @wl (any VA without one).
 */
static NOCOV void check_writes(uint64_t dpa, bool wl_on, const uint64_t (*wl)[2],
			       uint32_t wl_n, int asid)
{
	for (uint64_t pg = 0; pg < sizeof(ram); pg += PAGE) {
		if (!memcmp(snap + pg, ram + pg, PAGE))
			continue;
		for (uint64_t b = pg; b < pg + PAGE; b++) {
			bool ok = false;

			if (snap[b] == ram[b])
				continue;
			if (dpa != ~0ull && b >= dpa && b < dpa + sizeof(struct apu_completion))
				continue;
			for (int i = 0; i < nwmaps && !ok; i++) {
				uint64_t va;

				if (wmaps[i].pa != pg)
					continue;
				va = wmaps[i].va + (b - pg);
				if (!wl_on)
					ok = true;
				for (uint32_t k = 0; k < wl_n && !ok; k++)
					ok = va >= wl[k][0] && va < wl[k][1];
			}
			if (!ok)
				fail(wl_on ? "the job wrote outside its write list or writable pages"
					   : "the job wrote outside its writable pages", b, asid);
		}
	}
}

/* ---- abort callback ---------------------------------------------------------- */

struct ab {
	int polls, trip_after, tripped_at;
	uint64_t writes_at_trip;
	struct apu_bus *bus;
};

static bool abort_cb(void *opaque)
{
	struct ab *a = opaque;

	if (a->polls++ < a->trip_after)
		return false;
	if (a->tripped_at < 0) {
		a->tripped_at = a->polls - 1;
		a->writes_at_trip = a->bus->writes;
	}
	return true;
}

/* ---- depth figures -------------------------------------------------------------- */

static unsigned long long n_exec, n_fetch_fail, n_ran_op, n_all_ops, n_status[16];

static void report(void)
{
	static const char *names[] = { "ok", "bad_cmdbuf", "bad_op", "bad_params", "mmu_fault",
				       "bad_context", "injected", "aborted", "too_large" };
	double n = n_exec ? (double)n_exec : 1;

	fprintf(stderr, "fuzz_cp: %llu execs, %.1f%% ran at least one op, %.1f%% completed all ops\n",
		n_exec, 100.0 * n_ran_op / n, 100.0 * n_all_ops / n);
	fprintf(stderr, "fuzz_cp: statuses:");
	for (int i = 0; i < 9; i++)
		fprintf(stderr, " %s %llu", names[i], n_status[i]);
	fprintf(stderr, ", ring entry unreadable %llu\n", n_fetch_fail);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	atexit(report);
	return 0;
}

/* ---- one execution ----------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct st s;
	struct rd r = { data, size, 0 };
	uint8_t cmd[16 + FUZZ_MAX_OPS * APU_OP_SIZE];
	struct apu_ring_entry e, got;
	struct ab ab = { 0, 0, -1, 0, &s.bus };
	ApuCoreModel core = { 256, 32, 200, 128 };
	ApuJobResult res;
	ApuFault f;
	uint32_t inject = 0, cmd_len;
	unsigned cfg = u8(&r), cfg2 = u8(&r), nmut;
	int nops = 1 + (cfg & 3), slot;
	bool wlist = !(cfg & 4), use_abort = (cfg2 & 7) == 7;
	uint64_t va_cmd;

	memset(&s, 0, sizeof(s));
	memset(ram, 0, sizeof(ram));
	s.bus = (struct apu_bus){ ram, sizeof(ram), PAGE, 0, 0 };	/* page 0 unused */
	s.bus.ctx_table = apu_bus_page_alloc(&s.bus);
	for (int a = 0; a < NCTX; a++) {
		s.root[a] = apu_bus_page_alloc(&s.bus);
		apu_bus_ctx_set(&s.bus, a, s.root[a]);
		s.next_va[a] = VA_JOB;
	}
	s.mmu = (ApuMmu){ &apu_bus_ops, &s.bus, s.bus.ctx_table, NCTX };
	s.asid = 1 + (cfg >> 3 & 3) % 3;
	rng_state = 0x9e3779b9u ^ (uint32_t)u16(&r) << 8;
	prev_out = prev_len = 0;

	/* The driver's pages: ring (read-only), completion, write list. */
	map(&s, 0, VA_RING, data_page(&s), false);
	map(&s, 0, VA_DONE, data_page(&s), true);
	map(&s, 0, VA_WL, data_page(&s), false);

	/* The command buffer, read-only in the job's space. */
	va_cmd = s.next_va[s.asid] + (cfg2 & 8 ? PAGE - 16 - pick(&r, 256) : 0);
	cmd_len = 16 + nops * APU_OP_SIZE;
	for (uint64_t v = s.next_va[s.asid] & ~(PAGE - 1); v < va_cmd + cmd_len; v += PAGE)
		map(&s, s.asid, v, data_page(&s), false);
	s.next_va[s.asid] = ((va_cmd + cmd_len + PAGE - 1) & ~(PAGE - 1)) + PAGE;

	memset(cmd, 0, sizeof(cmd));
	apu_st32(cmd, APU_CMD_MAGIC);
	apu_st16(cmd + 4, APU_CMD_VERSION);
	apu_st16(cmd + 6, nops);
	for (int i = 0; i < nops; i++) {
		uint8_t *op = cmd + 16 + i * APU_OP_SIZE;

		switch (pick(&r, 6)) {
		case 0: build_conv(&s, &r, op); break;
		case 1: build_add_mul(&s, &r, op, false); break;
		case 2: build_pool(&s, &r, op, false); break;
		case 3: build_pool(&s, &r, op, true); break;
		case 4: build_lut(&s, &r, op); break;
		default: build_add_mul(&s, &r, op, true); break;
		}
	}

	/* The ring entry. */
	memset(&e, 0, sizeof(e));
	apu_st64(&e.cmdbuf, va_cmd);
	apu_st32(&e.cmdbuf_size, cmd_len + (cfg2 & 16 ? pick(&r, 64) : 0));
	apu_st16(&e.asid, s.asid);
	apu_st16(&e.flags, APU_RING_F_IRQ);
	apu_st64(&e.seqno, 0x1000 + size);
	apu_st64(&e.completion, VA_DONE);
	if (use_abort)
		ab.trip_after = pick(&r, nops + 1);

	if (wlist) {
		uint32_t n = s.nranges;

		if ((cfg2 & 0x60) == 0x60 && (cfg >> 5) >= 4)	/* drop one, or overlong */
			n = cfg2 & 0x80 ? (n ? n - 1 : 0) : APU_WLIST_MAX + (cfg2 & 1);
		apu_st16(&e.flags, APU_RING_F_IRQ | APU_RING_F_WLIST);
		apu_st64(&e.wlist, VA_WL);
		apu_st32(&e.wlist_count, n);
	}

	/* Mutations: none for about half the inputs. */
	nmut = cfg >> 5;
	nmut = nmut < 4 ? 0 : nmut - 3;
	for (unsigned i = 0; i < nmut; i++) {
		if (u8(&r) & 1)
			mutate_cmd(&s, &r, cmd, cmd_len, nops);
		else
			mutate_state(&s, &r, &e, &inject);
	}
	if (wlist) {
		struct apu_wrange w[FUZZ_MAX_RANGES];

		for (int i = 0; i < s.nranges; i++) {
			apu_st64(&w[i].start, s.ranges[i][0]);
			apu_st64(&w[i].end, s.ranges[i][1]);
		}
		if (s.nranges)
			poke(&s, 0, VA_WL, w, s.nranges * sizeof(w[0]));
	}
	poke(&s, s.asid, va_cmd, cmd, cmd_len);
	slot = pick(&r, 64);
	poke(&s, 0, VA_RING + slot * 64ull, &e, sizeof(e));

	/* Run, as a core does, against a snapshot of guest RAM. */
	memcpy(snap, ram, sizeof(ram));
	s.bus.writes = 0;
	n_exec++;
	if (apu_cp_fetch(&s.mmu, VA_RING + slot * 64ull, &got, &f)) {
		n_fetch_fail++;
		if (getenv("FUZZ_CP_DEBUG"))
			fprintf(stderr, "fuzz_cp: ring entry unreadable: 0x%llx/0x%x\n",
				(unsigned long long)f.addr, f.flags);
		if (s.bus.writes || memcmp(snap, ram, sizeof(ram)))
			fail("a failed ring fetch wrote memory", s.bus.writes, 0);
		return 0;
	}
	apu_cp_run_entry(&s.mmu, &core, &got, inject, use_abort ? abort_cb : NULL, &ab, &res);
	if (getenv("FUZZ_CP_DEBUG"))
		fprintf(stderr, "fuzz_cp: asid %d ops %d mutations %u wlist %d: status %u op %u fault 0x%llx/0x%x macs %llu\n",
			s.asid, nops, nmut, wlist, res.status, res.op_index,
			(unsigned long long)res.fault_addr, res.fault_flags, (unsigned long long)res.macs);
	uint64_t job_writes = s.bus.writes;

	/* Status, op index. */
	uint32_t num_ops = 0;
	bool w;
	uint64_t cpa = walk(&s.mmu, apu_ld16(&got.asid), apu_ld64(&got.cmdbuf), &w);

	if (res.status > APU_STATUS_TOO_LARGE)
		fail("unknown status", res.status, 0);
	n_status[res.status]++;
	if (cpa != ~0ull && (cpa & (PAGE - 1)) <= PAGE - 8)	/* else unknown */
		num_ops = apu_ld16(snap + cpa + 6);
	if (res.op_index > APU_CMD_MAX_OPS || (num_ops && res.op_index > num_ops))
		fail("op_index past the op count", res.op_index, num_ops);
	if (res.status == APU_STATUS_OK && num_ops && res.op_index != num_ops)
		fail("OK before the last op", res.op_index, num_ops);
	if (res.macs)
		n_ran_op++;
	if (res.status == APU_STATUS_OK)
		n_all_ops++;
	/* Abort: the job stops at the op where the callback tripped. */
	if (ab.tripped_at >= 0) {
		if (res.status != APU_STATUS_ABORTED || res.op_index != (uint32_t)ab.tripped_at)
			fail("abort did not stop the job", res.status, res.op_index);
		if (job_writes != ab.writes_at_trip)
			fail("the job wrote after its abort", job_writes, ab.writes_at_trip);
	} else if (res.status == APU_STATUS_ABORTED) {
		fail("ABORTED without an abort", res.op_index, 0);
	}

	/* The completion record. */
	bool done = !apu_cp_complete(&s.mmu, &got, &res, &f);
	uint64_t dpa = walk(&s.mmu, 0, apu_ld64(&got.completion), &w);

	if (done) {
		struct apu_completion c;

		if (dpa == ~0ull || !w || (dpa & (PAGE - 1)) + sizeof(c) > PAGE)
			fail("completion written where it may not be", apu_ld64(&got.completion), dpa);
		memcpy(&c, ram + dpa, sizeof(c));
		if (apu_ld64(&c.seqno) != apu_ld64(&got.seqno) ||
		    apu_ld32(&c.status) != res.status ||
		    apu_ld64(&c.macs) != res.macs ||
		    apu_ld64(&c.bytes_written) != res.bytes_written)
			fail("completion record differs from the result", res.status, 0);
	}

	/* Writes: only writable pages of the job, inside its write list. */
	if (!memcmp(snap, ram, sizeof(ram)))
		return 0;
	uint16_t jasid = apu_ld16(&got.asid);
	bool wl_on = apu_ld16(&got.flags) & APU_RING_F_WLIST;
	uint32_t wl_n = apu_ld32(&got.wlist_count);
	uint64_t wl[APU_WLIST_MAX][2];

	if (wl_on) {
		if (wl_n > APU_WLIST_MAX)
			wl_n = 0;	/* refused: no write allowed */
		for (uint32_t i = 0; i < wl_n; i++) {
			uint64_t v = apu_ld64(&got.wlist) + i * 16ull, pa;

			pa = walk(&s.mmu, 0, v, &w);
			if (pa == ~0ull || (pa & (PAGE - 1)) + 16 > PAGE) {
				wl_n = i;	/* (the device would not have run it) */
				break;
			}
			wl[i][0] = snap64(pa);
			wl[i][1] = snap64(pa + 8);
		}
	}
	collect_writable(&s.mmu, jasid);
	check_writes(done ? dpa : ~0ull, wl_on, (const uint64_t (*)[2])wl, wl_n, jasid);
	return 0;
}
