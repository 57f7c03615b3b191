// SPDX-License-Identifier: MIT
/*
 * The planner's arithmetic: the device's timing model, SRAM fit, and the
 * split of a layer over a set of cores so that they finish together.
 */
#include <errno.h>
#include <string.h>

#include "apu_internal.h"

/* Fixed cost of an op in the device's timing model (docs/hw.md). */
#define OP_OVERHEAD_CYCLES 200

uint64_t apu_plan_op_cycles(const struct apu_core_info *c, uint64_t macs, uint64_t bytes)
{
	uint64_t m = (macs + c->macs_per_cycle - 1) / c->macs_per_cycle;
	uint64_t b = (bytes + c->bytes_per_cycle - 1) / c->bytes_per_cycle;

	return (m > b ? m : b) + OP_OVERHEAD_CYCLES;
}

unsigned int apu_plan_max_tile(const struct apu_core_info *c, const struct apu_plan_layer *l)
{
	uint64_t n, w = l->weight_sram < c->sram_bytes / 2 ? l->weight_sram : c->sram_bytes / 2;
	uint64_t fixed = l->fixed_sram + w;

	if (fixed + l->unit_sram > c->sram_bytes)
		return 0;
	if (!l->unit_sram)
		return l->units;
	n = (c->sram_bytes - fixed) / l->unit_sram;
	return n > l->units ? l->units : (unsigned int)n;
}

/* Modeled cycles of @n units on core @c, in tiles of at most @tile units. */
static uint64_t share_cycles(const struct apu_core_info *c, const struct apu_plan_layer *l,
			     unsigned int n, unsigned int tile, unsigned int *tiles)
{
	uint64_t cycles = 0;
	unsigned int t = 0;

	while (n) {
		unsigned int k = n < tile ? n : tile;

		cycles += apu_plan_op_cycles(c, l->unit_macs * k,
					     l->unit_bytes * k + l->fixed_bytes);
		n -= k;
		t++;
	}
	if (tiles)
		*tiles = t;
	return cycles;
}

static double cycles_us(const struct apu_core_info *c, uint64_t cycles)
{
	return (double)cycles / c->clock_mhz;
}

int apu_plan_split(const struct apu_core_info *cores, unsigned int num_cores,
		   unsigned int mask, const struct apu_plan_layer *l,
		   struct apu_plan_share *out, double *time_us, double *energy_uj)
{
	unsigned int n[8] = { 0 }, tile[8] = { 0 }, i, u, k = 0, first = 0;
	double finish, energy = 0;
	bool any = false;

	if (num_cores > 8 || !l->units)
		return -EINVAL;
	for (i = 0; i < num_cores; i++) {
		if (!(mask & (1u << i)))
			continue;
		tile[i] = apu_plan_max_tile(&cores[i], l);
		any |= tile[i] > 0;
	}
	if (!any)
		return -E2BIG;

	/* Hand out units one at a time to the core that would end first. */
	for (u = 0; u < l->units; u++) {
		double best = 0;
		int pick = -1;

		for (i = 0; i < num_cores; i++) {
			double t;

			if (!tile[i])
				continue;
			t = cycles_us(&cores[i], share_cycles(&cores[i], l, n[i] + 1, tile[i], NULL));
			if (pick < 0 || t < best) {
				best = t;
				pick = (int)i;
			}
		}
		if (pick < 0)
			return -E2BIG;	/* not reached: some core fits a unit */
		n[pick]++;
	}

	finish = 0;
	for (i = 0; i < num_cores; i++) {
		struct apu_plan_share *s;

		if (!n[i])
			continue;
		s = &out[k++];
		memset(s, 0, sizeof(*s));
		s->core = i;
		s->first = first;
		s->count = n[i];
		s->tile_units = tile[i];
		s->cycles = share_cycles(&cores[i], l, n[i], tile[i], &s->tiles);
		s->us = cycles_us(&cores[i], s->cycles);
		first += n[i];
		if (s->us > finish)
			finish = s->us;
		/* fJ per MAC -> uJ, and the idle power of a powered core. */
		energy += (double)l->unit_macs * n[i] * cores[i].energy_fj_per_mac * 1e-9;
	}
	for (i = 0; i < k; i++)
		energy += cores[out[i].core].idle_power_uw * finish * 1e-6;
	if (time_us)
		*time_us = finish;
	if (energy_uj)
		*energy_uj = energy;
	return (int)k;
}
