/* SPDX-License-Identifier: MIT */
/*
 * What the host benches of the command processor share (int4_bench,
 * sparse_bench, fp16_bench): a clock, min/median/max of repeated runs, a
 * range of a test bus's device address space mapped writable and written,
 * and a 1x1 convolution op.
 *
 * Copyright (c) 2026 The apu authors
 */
#ifndef APU_BENCH_UTIL_H
#define APU_BENCH_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <string.h>

#include "hw/apu_cmd.h"
#include "hw/apu_fw.h"
#include "hw/apu_le.h"
#include "../apu_bus.h"

/* Seconds, monotonic. */
static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct bench_stat3 { double min, med, max; };

/* Min, median and max of @n >= 1 times (sorts @t). */
static inline struct bench_stat3 bench_stats(double *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), bench_cmp_d);
	return (struct bench_stat3){ t[0], t[n / 2], t[n - 1] };
}

/* Maps [@va, @va + @len) of address space @root to fresh pages, writable. */
static inline int bench_map(struct apu_bus *b, uint64_t root, uint64_t va, uint64_t len)
{
	for (uint64_t p = va; p < va + len; p += APU_MMU_PAGE_SIZE) {
		uint64_t pa = apu_bus_page_alloc(b);

		if (!pa || apu_bus_map_page(b, root, p, pa, 1))
			return -1;
	}
	return 0;
}

/* Writes @len bytes at @va of context 1 (the benches' address space). */
static inline void bench_poke(struct apu_bus *b, uint64_t va, const void *src, uint64_t len)
{
	ApuMmu mmu = { &apu_bus_ops, b, b->ctx_table, 2 };
	ApuFault f;

	apu_mmu_write(&mmu, 1, va, src, len, &f);
}

/*
 * A 1x1 convolution op of @p's shapes and quantization (stride, dilation,
 * groups 1), op flags @flags, its tensors at the addresses @va: input,
 * weights, bias, mult, shift, output.
 */
static inline void bench_conv1x1_op(uint8_t *op, const ApuConvParams *p, uint16_t flags,
				    const uint64_t va[6])
{
	struct apu_op_conv2d *c = (void *)op;

	memset(op, 0, APU_OP_SIZE);
	apu_st16(&c->opcode, APU_OP_CONV2D);
	apu_st16(&c->flags, flags);
	apu_st16(&c->in_h, p->in_h); apu_st16(&c->in_w, p->in_w); apu_st16(&c->in_c, p->in_c);
	apu_st16(&c->out_h, p->out_h); apu_st16(&c->out_w, p->out_w); apu_st16(&c->out_c, p->out_c);
	apu_st16(&c->k_h, 1); apu_st16(&c->k_w, 1);
	apu_st16(&c->stride_h, 1); apu_st16(&c->stride_w, 1);
	apu_st16(&c->dil_h, 1); apu_st16(&c->dil_w, 1);
	apu_st16(&c->groups, 1);
	apu_st32(&c->in_zp, (uint32_t)p->in_zp); apu_st32(&c->out_zp, (uint32_t)p->out_zp);
	apu_st32(&c->act_min, (uint32_t)p->act_min); apu_st32(&c->act_max, (uint32_t)p->act_max);
	apu_st64((uint8_t *)&c->input, va[0]);
	apu_st64((uint8_t *)&c->weights, va[1]);
	apu_st64((uint8_t *)&c->bias, va[2]);
	apu_st64((uint8_t *)&c->mult, va[3]);
	apu_st64((uint8_t *)&c->shift, va[4]);
	apu_st64((uint8_t *)&c->output, va[5]);
}

#endif
