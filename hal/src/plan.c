// SPDX-License-Identifier: MIT
/*
 * The planner: the device's timing model, SRAM fit, the split of a layer
 * over a set of cores so that they finish together, and the choice, for
 * each op of a network, of the cores it runs on (apu_net_plan()).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network.h"

/* Channels the engine's depthwise kernel takes at once (AVX2 path). */
#define APU_DW_CHANNEL_BLOCK 16

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
	unsigned int n[8] = { 0 }, tile[8] = { 0 }, i, j, u, g, k = 0, first = 0;
	unsigned int align = l->unit_align > 1 ? l->unit_align : 1;
	double finish, energy = 0;
	int odd = -1;
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

	if (align > 1)
		for (i = 0; i < num_cores; i++)
			if (tile[i] > align)
				tile[i] -= tile[i] % align;

	/* Hand out units (groups of align) to the core that would end first. */
	for (u = 0; u < l->units; u += g) {
		double best = 0;
		int pick = -1;

		g = l->units - u < align ? l->units - u : align;
		for (i = 0; i < num_cores; i++) {
			double t;

			if (!tile[i])
				continue;
			t = cycles_us(&cores[i], share_cycles(&cores[i], l, n[i] + g, tile[i], NULL));
			if (pick < 0 || t < best) {
				best = t;
				pick = (int)i;
			}
		}
		if (pick < 0)
			return -E2BIG;	/* not reached: some core fits a unit */
		n[pick] += g;
		if (g < align)
			odd = pick;	/* its share goes last: the others stay aligned */
	}

	finish = 0;
	for (j = 0; j < num_cores; j++) {
		struct apu_plan_share *s;

		/* Core order, the one with the partial group (if any) last. */
		i = odd < 0 ? j : j + 1 < num_cores ? j + ((int)j >= odd) : (unsigned int)odd;
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

/* ---- planning ------------------------------------------------------------ */

/* Bytes of @n weights of @o: int4 ones take half (rounded up). */
static uint64_t w_bytes(const struct op *o, uint64_t n)
{
	uint64_t dense;

	if (!o->sparse)
		return o->w4 ? (n + 1) / 2 : n;
	/* Sparse: the encoding's bytes, spread evenly over the weights. */
	dense = (uint64_t)o->conv.out_c * o->conv.in_c;
	return (n * o->w_size + dense - 1) / dense;
}

/*
 * MACs of @n weights times @pix pixels: sparse weights count their stored
 * blocks only, spread evenly over the output channels.
 */
static uint64_t w_macs(const struct op *o, uint64_t n, uint64_t pix)
{
	uint64_t dense, prod;

	if (!o->sparse)
		return n * pix;
	dense = (uint64_t)o->conv.out_c * o->conv.in_c;
	/*
	 * n, nz and pix each reach 2^32 on legal layers: their product can
	 * wrap 64 bits, and the estimate then in double.
	 */
	if (__builtin_mul_overflow(n, o->nz, &prod) ||
	    __builtin_mul_overflow(prod, pix, &prod) || prod > UINT64_MAX - dense)
		return (uint64_t)ceil((double)n * (double)o->nz / (double)dense * (double)pix);
	return (prod + dense - 1) / dense;
}

/* The layer description the planner splits. */
static void describe_layer(const struct apu_network *net, struct op *o, bool by_channel,
			   struct apu_plan_layer *l)
{
	const struct tensor *in = &net->t[o->in[0]];

	memset(l, 0, sizeof(*l));
	if (o->kind == OP_CONV && o->dw && by_channel) {
		const struct apu_ref_conv *c = &o->conv;
		uint64_t m = (uint64_t)(c->out_c / c->in_c);
		uint64_t opix = (uint64_t)c->out_h * c->out_w;

		/* Input channel columns, each with its m output channels. */
		l->units = (unsigned int)c->in_c;
		l->unit_macs = opix * m * c->k_h * c->k_w;
		l->unit_bytes = (uint64_t)c->in_h * c->in_w + opix * m +
				w_bytes(o, (uint64_t)c->k_h * c->k_w * m) + 12 * m;
		l->unit_sram = l->unit_bytes;
		/*
		 * Slices in whole blocks of the engine's depthwise kernel
		 * (firmware-stub/apu_ops.c, conv_dw1(): 16 channels at a time
		 * in AVX2, the rest in a loop per channel): narrow or ragged
		 * slices run several times slower per MAC (docs/performance.md).
		 */
		if (m == 1)
			l->unit_align = APU_DW_CHANNEL_BLOCK;
		return;
	}
	if (o->kind == OP_CONV && o->flat && by_channel) {
		const struct apu_ref_conv *c = &o->conv;
		uint64_t pix = (uint64_t)c->out_h * c->out_w;

		/*
		 * Every tile reads the whole input and writes a slice of the
		 * output channels (at the output pitch): each unit brings its
		 * weights, parameters and one output column.
		 */
		l->units = (unsigned int)c->out_c;
		l->unit_macs = w_macs(o, c->in_c, pix);
		l->unit_bytes = w_bytes(o, c->in_c) + pix + 12;
		l->fixed_bytes = pix * c->in_c;
		l->unit_sram = l->unit_bytes;
		l->fixed_sram = l->fixed_bytes;
		return;
	}
	if (o->kind == OP_CONV && o->fc) {
		uint64_t k = (uint64_t)o->conv.in_c;

		l->units = (unsigned int)o->conv.out_c;
		l->unit_macs = w_macs(o, k, 1);
		l->unit_bytes = w_bytes(o, k) + 1 + 12;
		l->fixed_bytes = k;
		/* Each unit brings its own row of weights. */
		l->unit_sram = l->unit_bytes;
		l->fixed_sram = l->fixed_bytes;
		return;
	} else if (o->kind == OP_CONV && o->flat) {
		const struct apu_ref_conv *c = &o->conv;

		/* Pixels are independent: the image is one long row. */
		l->units = (unsigned int)(c->out_h * c->out_w);
		l->unit_macs = w_macs(o, (uint64_t)c->out_c * (c->in_c / c->groups), 1);
		l->unit_bytes = (uint64_t)c->out_c + c->in_c;
		l->fixed_bytes = o->w_size + 12ull * c->out_c;
		l->unit_sram = l->unit_bytes;
		l->fixed_sram = 12ull * c->out_c;
		l->weight_sram = o->w_size;
		return;
	} else if (o->kind == OP_CONV) {
		const struct apu_ref_conv *c = &o->conv;
		uint64_t row_in = (uint64_t)c->in_w * c->in_c;
		long halo = (long)(c->k_h - 1) * c->dil_h + 1 - c->stride_h;

		l->units = (unsigned int)c->out_h;
		l->unit_macs = w_macs(o, (uint64_t)c->out_c * c->k_h * c->k_w *
					 (c->in_c / c->groups), c->out_w);
		l->unit_bytes = (uint64_t)c->out_w * c->out_c + row_in * c->stride_h;
		l->fixed_bytes = o->w_size + 12ull * c->out_c +
				 (halo > 0 ? (uint64_t)halo * row_in : 0);
		l->unit_sram = l->unit_bytes;
		l->fixed_sram = l->fixed_bytes - o->w_size;
		l->weight_sram = o->w_size;
		return;
	} else if (o->kind == OP_ADD || o->kind == OP_MUL || o->kind == OP_LUT) {
		/* Elementwise: split by pixel. */
		l->units = in->s.h * in->s.w;
		l->unit_macs = in->s.c;
		l->unit_bytes = (o->kind == OP_LUT ? 2ull : 3ull) * in->s.c;
		if (o->kind == OP_LUT)
			l->fixed_bytes = 256;
	} else {
		const struct apu_ref_pool *p = &o->pool;
		uint64_t row_in = (uint64_t)p->in_w * p->channels;
		long halo = (long)p->k_h - p->stride_h;

		l->units = (unsigned int)p->out_h;
		l->unit_macs = (uint64_t)p->out_w * p->channels * p->k_h * p->k_w;
		l->unit_bytes = (uint64_t)p->out_w * p->channels + row_in * p->stride_h;
		l->fixed_bytes = halo > 0 ? (uint64_t)halo * row_in : 0;
	}
	l->unit_sram = l->unit_bytes;
	l->fixed_sram = l->fixed_bytes;
}

/*
 * A weight zero point costs the device the window sums of the input (docs/hw.md:
 * out pixels x k_h x k_w x in_c per op, in cycles and MACs): per unit where a
 * unit is a row, a pixel or a depthwise channel; spread over the units where
 * every tile reads the whole input (channel splits of 1x1 and fully connected).
 */
static void add_wzp_cost(const struct op *o, bool by_channel, struct apu_plan_layer *l)
{
	const struct apu_ref_conv *c = &o->conv;
	uint64_t taps = (uint64_t)c->k_h * c->k_w;

	if (o->kind != OP_CONV || !c->w_zp || !l->units)
		return;
	if (o->dw && by_channel)
		l->unit_macs += (uint64_t)c->out_h * c->out_w * taps;
	else if (o->fc || (o->flat && by_channel))
		l->unit_macs += ((uint64_t)c->out_h * c->out_w * taps * c->in_c + l->units - 1) /
				l->units;
	else if (o->flat)
		l->unit_macs += taps * c->in_c;
	else
		l->unit_macs += (uint64_t)c->out_w * taps * c->in_c;
}

/* Core sets a policy chooses from: a mask per set. */
static unsigned int class_mask(const struct apu_device *dev, int cls)
{
	unsigned int m = 0, i;

	for (i = 0; i < dev->info.num_cores; i++)
		if (cls < 0 || (int)dev->cores[i].core_class == cls)
			m |= 1u << i;
	return m;
}

struct choice {
	unsigned int mask;
	bool by_channel;
	struct apu_plan_layer layer;
	double us, uj;
	int nshares;
	struct apu_plan_share shares[8];
};

static int plan_op(struct apu_network *net, struct op *o, enum apu_policy policy,
		   struct choice *all, int *nall)
{
	const struct apu_device *dev = net->dev;
	unsigned int masks[6], nm = 0, i;
	int best = -1, n = 0;

	masks[nm++] = class_mask(dev, -1);
	masks[nm++] = class_mask(dev, APU_CORE_BIG);
	masks[nm++] = class_mask(dev, APU_CORE_LITTLE);
	masks[nm++] = class_mask(dev, APU_CORE_TINY);
	masks[nm++] = class_mask(dev, APU_CORE_BIG) | class_mask(dev, APU_CORE_LITTLE);
	masks[nm++] = class_mask(dev, APU_CORE_LITTLE) | class_mask(dev, APU_CORE_TINY);
	if (net->opts.core_mask)
		for (i = 0; i < nm; i++)
			masks[i] &= net->opts.core_mask;

	/* APU_PLAN_SPLIT=rows|channels: one way only, where a layer allows it (tests). */
	const char *force = getenv("APU_PLAN_SPLIT");
	/* fp16 layers split by rows, pixels or (fully connected) channels. */
	bool can_channel = o->kind == OP_CONV && dev->out_pitch && !o->fp16 &&
			   ((o->flat && o->conv.groups == 1) || o->dw);
	/* fp16 work at the cores' fp16 rates (half the int8 one if unknown). */
	struct apu_core_info fp16_cores[8];
	const struct apu_core_info *cores = dev->cores;

	if (o->fp16) {
		for (i = 0; i < dev->info.num_cores && i < 8; i++) {
			fp16_cores[i] = dev->cores[i];
			fp16_cores[i].macs_per_cycle = dev->cores[i].fp16_macs_per_cycle ?
				dev->cores[i].fp16_macs_per_cycle :
				(dev->cores[i].macs_per_cycle + 1) / 2;
		}
		cores = fp16_cores;
	}

	for (int v = 0; v < 2; v++) {
		/* Variant 1: split by channel (1x1 or depthwise convolutions). */
		if (v && !can_channel)
			break;
		if (force && can_channel && (!strcmp(force, "channels") ? !v : !strcmp(force, "rows") && v))
			continue;
		for (i = 0; i < nm; i++) {
			struct choice *c = &all[n];
			int k;

			if (!masks[i])
				continue;
			describe_layer(net, o, v, &c->layer);
			add_wzp_cost(o, v, &c->layer);
			if (o->fp16) {
				/* Every byte figure counted elements: 2 bytes each. */
				c->layer.unit_bytes *= 2;
				c->layer.fixed_bytes *= 2;
				c->layer.unit_sram *= 2;
				c->layer.fixed_sram *= 2;
				c->layer.weight_sram *= 2;
			}
			k = apu_plan_split(cores, dev->info.num_cores, masks[i], &c->layer,
					   c->shares, &c->us, &c->uj);
			if (k <= 0)
				continue;
			c->mask = masks[i];
			c->by_channel = v;
			c->nshares = k;
			n++;
		}
	}
	if (!n)
		return -E2BIG;
	for (i = 0; i < (unsigned int)n; i++) {
		double score, bscore = 0;

		switch (policy) {
		case APU_POLICY_PERFORMANCE:
			score = all[i].us + all[i].uj * 1e-9;	/* ties: less energy */
			break;
		case APU_POLICY_BALANCED:
			score = all[i].us * all[i].uj;
			break;
		default:	/* low power; deadline starts from it */
			score = all[i].uj + all[i].us * 1e-9;
			break;
		}
		if (best >= 0) {
			const struct choice *b = &all[best];

			bscore = policy == APU_POLICY_PERFORMANCE ? b->us + b->uj * 1e-9 :
				 policy == APU_POLICY_BALANCED ? b->us * b->uj :
				 b->uj + b->us * 1e-9;
		}
		if (best < 0 || score < bscore)
			best = (int)i;
	}
	*nall = n;
	return best;
}

static void take_choice(struct op *o, const struct choice *c)
{
	o->layer = c->layer;
	o->by_channel = c->by_channel;
	o->nshares = c->nshares;
	memcpy(o->shares, c->shares, sizeof(c->shares[0]) * c->nshares);
	o->est_us = c->us;
	o->est_uj = c->uj;
}

int apu_net_plan(struct apu_network *net)
{
	struct choice (*choices)[12];
	int *nchoices, *pick, i, ret = 0;
	double total = 0;

	choices = calloc((size_t)net->nops, sizeof(*choices));
	nchoices = calloc((size_t)net->nops, sizeof(int));
	pick = calloc((size_t)net->nops, sizeof(int));
	if (!choices || !nchoices || !pick) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < net->nops; i++) {
		if (!kind_device(net->ops[i].kind)) {
			pick[i] = -1;
			continue;
		}
		pick[i] = plan_op(net, &net->ops[i], net->opts.policy, choices[i], &nchoices[i]);
		if (pick[i] < 0) {
			ret = pick[i];
			goto out;
		}
		total += choices[i][pick[i]].us;
	}
	if (net->opts.policy == APU_POLICY_DEADLINE) {
		double fastest = 0;

		for (i = 0; i < net->nops; i++) {
			double f;

			if (pick[i] < 0)
				continue;
			f = choices[i][0].us;

			for (int k = 1; k < nchoices[i]; k++)
				if (choices[i][k].us < f)
					f = choices[i][k].us;
			fastest += f;
		}
		if (fastest > net->opts.deadline_us) {
			ret = -ETIME;
			goto out;
		}
		/* Speed up the layers that buy the most time per energy. */
		while (total > net->opts.deadline_us) {
			double best_ratio = 0;
			int bi = -1, bk = -1;

			for (i = 0; i < net->nops; i++) {
				const struct choice *cur = &choices[i][pick[i] < 0 ? 0 : pick[i]];

				for (int k = 0; k < nchoices[i] && pick[i] >= 0; k++) {
					const struct choice *c = &choices[i][k];
					double dt = cur->us - c->us, de = c->uj - cur->uj, r;

					if (dt <= 0)
						continue;
					r = de <= 0 ? 1e300 : dt / de;
					if (bi < 0 || r > best_ratio) {
						best_ratio = r;
						bi = i;
						bk = k;
					}
				}
			}
			if (bi < 0) {
				ret = -ETIME;
				goto out;
			}
			total -= choices[bi][pick[bi]].us - choices[bi][bk].us;
			pick[bi] = bk;
		}
	}
	net->modeled_us = 0;
	for (i = 0; i < net->nops; i++) {
		if (pick[i] < 0)
			continue;
		take_choice(&net->ops[i], &choices[i][pick[i]]);
		net->modeled_us += net->ops[i].est_us;
	}
	if (getenv("APU_PLAN_DEBUG"))
		for (i = 0; i < net->nops; i++) {
			const struct op *o = &net->ops[i];

			fprintf(stderr, "op %2d kind %d%s units %5u macs/u %8" PRIu64 " bytes/u %7" PRIu64
				" fixed %7" PRIu64 " est %8.2f us:", i, o->kind,
				o->by_channel ? "c" : o->flat ? "p" : " ", o->layer.units,
				o->layer.unit_macs, o->layer.unit_bytes, o->layer.fixed_bytes, o->est_us);
			for (int k = 0; k < o->nshares; k++)
				fprintf(stderr, " c%u:%u/%ut/%.2f", o->shares[k].core, o->shares[k].count,
					o->shares[k].tiles, o->shares[k].us);
			fprintf(stderr, "\n");
		}
out:
	free(choices);
	free(nchoices);
	free(pick);
	return ret;
}

/*
 * For make bench: the modeled time (@us) and energy (@uj) of the network
 * with op i placed on masks[i] (split to end together, as the planner
 * does); or, with masks NULL, the lower bound: every op's MACs and bytes
 * spread over all cores at once, max(MACs / total MAC rate, bytes / total
 * byte rate), summed along the chain of ops (@us), and the same plus one
 * op's fixed cost per layer (@uj, a time then).
 */
int apu_network_evaluate(struct apu_network *net, const unsigned int *masks, double *us,
			 double *uj)
{
	const struct apu_device *dev;
	double t = 0, e = 0, mac_rate = 0, byte_rate = 0, max_mhz = 0;
	int i;

	if (!net || !net->compiled || !us)
		return -EINVAL;
	dev = net->dev;
	for (unsigned int c = 0; c < dev->info.num_cores; c++) {
		mac_rate += (double)dev->cores[c].macs_per_cycle * dev->cores[c].clock_mhz;
		byte_rate += (double)dev->cores[c].bytes_per_cycle * dev->cores[c].clock_mhz;
		if (dev->cores[c].clock_mhz > max_mhz)
			max_mhz = dev->cores[c].clock_mhz;
	}
	for (i = 0; i < net->nops; i++) {
		struct apu_plan_layer lb, *l = &lb;
		struct apu_plan_share sh[8];
		double lt, le;
		int n;

		if (!kind_device(net->ops[i].kind))
			continue;
		/* The plan-independent description: rows, pixels or FC channels. */
		describe_layer(net, &net->ops[i], false, l);
		add_wzp_cost(&net->ops[i], false, l);
		if (!masks) {
			double m = (double)l->unit_macs * l->units / mac_rate;
			double b = ((double)l->unit_bytes * l->units + l->fixed_bytes) / byte_rate;

			t += m > b ? m : b;
			/*
			 * Every layer ends with at least one op, and every op
			 * costs the timing model's fixed 200 cycles on its core:
			 * at least 200 cycles at the fastest clock per layer.
			 */
			e += 200.0 / max_mhz;
			continue;
		}
		n = apu_plan_split(dev->cores, dev->info.num_cores, masks[i], l, sh, &lt, &le);
		if (n < 0)
			return n;
		t += lt;
		e += le;
	}
	/* The bound: @us without the fixed op costs, @uj (time) with them. */
	*us = t;
	if (uj)
		*uj = masks ? e : t + e;
	return 0;
}
