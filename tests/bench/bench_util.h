/* SPDX-License-Identifier: MIT */
/*
 * What the host benches of the command processor share (int4_bench,
 * sparse_bench, fp16_bench): a clock, min/median/max of repeated runs, and
 * a range of a test bus's device address space mapped writable.
 *
 * Copyright (c) 2026 The apu authors
 */
#ifndef APU_BENCH_UTIL_H
#define APU_BENCH_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

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

#endif
