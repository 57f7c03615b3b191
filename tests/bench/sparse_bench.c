// SPDX-License-Identifier: MIT
/*
 * sparse_bench: block-sparse 1x1 convolutions (firmware ABI 1.5) against
 * the engine's own dense path, on MobileNet V1 and V2 1x1 layer shapes
 * (224x224 input) pruned to 70% and 90% of their blocks (apu_sparsify() on
 * random weights: magnitude pruning of random values, so a random
 * pattern):
 *
 * - engine time: apu_conv2d_poll() on the dense weights against
 *   apu_conv2d_sparse_poll() on their encoding (same path: the auto one),
 *   interleaved in rounds, min/median/max over --repeat rounds, per layer
 *   and as a geometric mean of the per-layer median ratios;
 * - modeled cycles: one job of the layer through the command processor
 *   (apu_cp.c, the code the QEMU device runs) on the big core class, dense
 *   against sparse;
 * - the targets of issue 18: engine speed-up >= 1.3 at 70%, >= 2 at 90%
 *   (geometric mean of the layers' medians), met or not.
 *
 *   sparse_bench [--repeat N] [--block B] [--json FILE]
 *
 * Outputs of both forms are compared (they must be equal: a difference is
 * an error). Timings are not tests: `make bench`.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apu/apu.h>
#include "hw/apu_fw.h"
#include "hw/apu_le.h"
#include "../apu_bus.h"
#include "bench_util.h"

struct layer {
	const char *name;
	int hw, in_c, out_c;
};

static const struct layer layers[] = {
	{ "v1 112x112 32->64", 112, 32, 64 },
	{ "v1 56x56 64->128", 56, 64, 128 },
	{ "v1 28x28 128->256", 28, 128, 256 },
	{ "v1 14x14 512->512", 14, 512, 512 },
	{ "v1 7x7 1024->1024", 7, 1024, 1024 },
	{ "v2 56x56 24->144", 56, 24, 144 },
	{ "v2 56x56 144->24", 56, 144, 24 },
	{ "v2 28x28 192->32", 28, 192, 32 },
	{ "v2 14x14 64->384", 14, 64, 384 },
	{ "v2 14x14 576->96", 14, 576, 96 },
	{ "v2 7x7 960->320", 7, 960, 320 },
	{ "v2 7x7 320->1280", 7, 320, 1280 },
};
#define NLAYERS (sizeof(layers) / sizeof(layers[0]))

static const ApuCoreModel big = { 1024, 64, 200, APU_BIG_FP16_MACS_PER_CYCLE };

#define VA_CMD 0x1000000ull
#define VA_IN 0x2000000ull
#define VA_W 0x4000000ull
#define VA_B 0x8000000ull
#define VA_M 0x8100000ull
#define VA_S 0x8200000ull
#define VA_OUT 0x9000000ull

static const uint64_t bench_va[6] = { VA_IN, VA_W, VA_B, VA_M, VA_S, VA_OUT };

/* Modeled cycles of one job of the op (big core): dense [0], sparse [1]. */
static int model(const ApuConvParams *p, const int8_t *in, const int8_t *w, const void *sw,
		 size_t sw_size, const int32_t *bias, const int32_t *mult, const int32_t *shift,
		 uint64_t cyc[2])
{
	uint64_t nin = apu_conv_in_size(p), nw = apu_conv_weights_size(p);
	uint64_t nout = apu_conv_out_size(p), oc4 = 4ull * p->out_c;
	struct apu_bus bus = { 0 };
	uint8_t cmd[16 + APU_OP_SIZE];
	uint64_t root;
	ApuMmu mmu;
	int ret = 0;

	bus.size = 2 * nw + sw_size + nin + nout + (16ull << 20);
	bus.mem = calloc(1, bus.size);
	if (!bus.mem)
		return -1;
	bus.next = APU_MMU_PAGE_SIZE;
	bus.ctx_table = apu_bus_page_alloc(&bus);
	root = apu_bus_page_alloc(&bus);
	mmu = (ApuMmu){ &apu_bus_ops, &bus, bus.ctx_table, 2 };
	apu_bus_ctx_set(&bus, 1, root);
	if (bench_map(&bus, root, VA_CMD, sizeof(cmd)) || bench_map(&bus, root, VA_IN, nin) ||
	    bench_map(&bus, root, VA_W, nw > sw_size ? nw : sw_size) || bench_map(&bus, root, VA_B, oc4) ||
	    bench_map(&bus, root, VA_M, oc4) || bench_map(&bus, root, VA_S, oc4) ||
	    bench_map(&bus, root, VA_OUT, nout)) {
		free(bus.mem);
		return -1;
	}
	bench_poke(&bus, VA_IN, in, nin);
	bench_poke(&bus, VA_B, bias, oc4);
	bench_poke(&bus, VA_M, mult, oc4);
	bench_poke(&bus, VA_S, shift, oc4);
	memset(cmd, 0, 16);
	memcpy(cmd, "APUC", 4);
	apu_st16(cmd + 4, APU_CMD_VERSION);
	apu_st16(cmd + 6, 1);
	for (int f = 0; f < 2 && !ret; f++) {
		ApuJobResult res;

		bench_poke(&bus, VA_W, f ? sw : (const void *)w, f ? sw_size : nw);
		bench_conv1x1_op(cmd + 16, p, f ? APU_OPF_WEIGHTS_SPARSE : 0, bench_va);
		bench_poke(&bus, VA_CMD, cmd, sizeof(cmd));
		apu_cp_run_job(&mmu, &big, 1, VA_CMD, sizeof(cmd), NULL, NULL, &res);
		if (res.status) {
			fprintf(stderr, "sparse_bench: job status %u\n", res.status);
			ret = -1;
		}
		cyc[f] = res.cycles;
	}
	free(bus.mem);
	return ret;
}

int main(int argc, char **argv)
{
	static const double levels[2] = { 0.7, 0.9 }, targets[2] = { 1.3, 2.0 };
	int repeat = 7, block = 4;
	const char *json = NULL;
	FILE *jf = NULL;
	double logsum[2] = { 0, 0 }, lmin[2] = { 1e9, 1e9 }, msum[2] = { 0, 0 };
	double gmin[2] = { 0, 0 }, gmax[2] = { 0, 0 }, lmins[2] = { 0, 0 };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
			repeat = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--block") && i + 1 < argc) {
			block = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
			json = argv[++i];
		} else {
			fprintf(stderr, "usage: %s [--repeat N] [--block B] [--json FILE]\n", argv[0]);
			return 2;
		}
	}
	if (repeat < 1 || (block != 1 && block != 2 && block != 4))
		return 2;
	if (json) {
		jf = fopen(json, "w");
		if (!jf) {
			perror(json);
			return 1;
		}
		fprintf(jf, "{\n  \"benchmark\": \"sparse\",\n  \"repeat\": %d,\n  \"block\": %d,\n"
			"  \"path\": \"%s\",\n  \"layers\": [\n", repeat, block,
			apu_engine_path_name(apu_engine_auto_path()));
	}
	printf("block-sparse 1x1 (blocks of %d output channels) against the engine's dense %s path\n"
	       "engine us: min/median/max of %d interleaved rounds; x: dense/sparse (median of the"
	       " per-round ratios, min, max); model: big core cycles dense/sparse\n",
	       block, apu_engine_path_name(apu_engine_auto_path()), repeat);
	printf("%-20s %4s %24s %24s %18s %7s\n", "layer", "zero", "dense us", "sparse us", "x",
	       "model x");
	for (size_t li = 0; li < NLAYERS; li++) {
		const struct layer *l = &layers[li];
		ApuConvParams p = {
			.in_h = l->hw, .in_w = l->hw, .in_c = l->in_c, .out_h = l->hw,
			.out_w = l->hw, .out_c = l->out_c, .k_h = 1, .k_w = 1, .stride_h = 1,
			.stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1, .in_zp = 3,
			.out_zp = -1, .act_min = -128, .act_max = 127,
		};
		uint64_t nw = apu_conv_weights_size(&p), nin = apu_conv_in_size(&p);
		uint64_t nout = apu_conv_out_size(&p);
		int8_t *in = malloc(nin), *w = malloc(nw), *od = malloc(nout), *os = malloc(nout);
		int32_t *bias = malloc(4 * (size_t)l->out_c), *mult = malloc(4 * (size_t)l->out_c);
		int32_t *shift = malloc(4 * (size_t)l->out_c);
		double *td = malloc(sizeof(double) * repeat), *ts = malloc(sizeof(double) * repeat);
		double *tr = malloc(sizeof(double) * repeat);

		if (!in || !w || !od || !os || !bias || !mult || !shift || !td || !ts || !tr)
			return 1;
		srand(18 + (unsigned int)li);
		for (uint64_t i = 0; i < nin; i++)
			in[i] = (int8_t)(rand() % 256 - 128);
		for (int c = 0; c < l->out_c; c++) {
			int s;

			bias[c] = rand() % 2001 - 1000;
			apu_quantize_multiplier(0.0005 / (1 + c % 3), &mult[c], &s);
			shift[c] = s;
		}
		for (int lv = 0; lv < 2; lv++) {
			struct bench_stat3 sd, ss, sr;
			uint64_t cyc[2];
			size_t zeros, sz = 0;
			void *sw;

			for (uint64_t i = 0; i < nw; i++)
				w[i] = (int8_t)(rand() % 255 - 127);
			if (apu_sparsify(w, (unsigned int)l->out_c, (unsigned int)l->in_c,
					 (unsigned int)block, 0, levels[lv], &zeros) ||
			    apu_sparse_encode(w, (unsigned int)l->out_c, (unsigned int)l->in_c,
					      (unsigned int)block, NULL, &sz))
				return 1;
			sw = malloc(sz);
			if (!sw || apu_sparse_encode(w, (unsigned int)l->out_c, (unsigned int)l->in_c,
						     (unsigned int)block, sw, &sz) ||
			    apu_sparse_check(&p, sw, sz))
				return 1;
			/* One warm-up of each, then rounds: dense, sparse. */
			apu_conv2d_poll(&p, in, w, bias, mult, shift, od, NULL);
			apu_conv2d_sparse_poll(&p, in, sw, bias, mult, shift, os, NULL,
					       APU_PATH_AUTO);
			if (memcmp(od, os, nout)) {
				fprintf(stderr, "sparse_bench: %s: sparse output differs from dense\n",
					l->name);
				return 1;
			}
			for (int r = 0; r < repeat; r++) {
				double t0 = bench_now();

				apu_conv2d_poll(&p, in, w, bias, mult, shift, od, NULL);
				td[r] = bench_now() - t0;
				t0 = bench_now();
				apu_conv2d_sparse_poll(&p, in, sw, bias, mult, shift, os, NULL,
						       APU_PATH_AUTO);
				ts[r] = bench_now() - t0;
				tr[r] = td[r] / ts[r];
			}
			if (model(&p, in, w, sw, sz, bias, mult, shift, cyc))
				return 1;
			sd = bench_stats(td, repeat);
			ss = bench_stats(ts, repeat);
			sr = bench_stats(tr, repeat);
			logsum[lv] += log(sr.med);
			gmin[lv] += log(sr.min);
			gmax[lv] += log(sr.max);
			lmins[lv] += log(sd.min / ss.min);
			msum[lv] += log((double)cyc[0] / (double)cyc[1]);
			lmin[lv] = sr.med < lmin[lv] ? sr.med : lmin[lv];
			printf("%-20s %3.0f%% %7.1f/%7.1f/%7.1f %7.1f/%7.1f/%7.1f %5.2f %5.2f %5.2f %7.2f\n",
			       lv ? "" : l->name, levels[lv] * 100, sd.min * 1e6, sd.med * 1e6,
			       sd.max * 1e6, ss.min * 1e6, ss.med * 1e6, ss.max * 1e6, sr.med,
			       sr.min, sr.max, (double)cyc[0] / (double)cyc[1]);
			if (jf)
				fprintf(jf, "    {\"layer\": \"%s\", \"sparsity\": %.2f, "
					"\"zero_blocks\": %zu, \"dense_us\": [%.2f, %.2f, %.2f], "
					"\"sparse_us\": [%.2f, %.2f, %.2f], \"speedup\": [%.3f, %.3f, %.3f], "
					"\"cycles\": [%llu, %llu]}%s\n",
					l->name, levels[lv], zeros, sd.min * 1e6, sd.med * 1e6,
					sd.max * 1e6, ss.min * 1e6, ss.med * 1e6, ss.max * 1e6, sr.min,
					sr.med, sr.max, (unsigned long long)cyc[0],
					(unsigned long long)cyc[1],
					li + 1 == NLAYERS && lv == 1 ? "" : ",");
			free(sw);
		}
		free(in);
		free(w);
		free(od);
		free(os);
		free(bias);
		free(mult);
		free(shift);
		free(td);
		free(ts);
		free(tr);
	}
	if (jf)
		fprintf(jf, "  ],\n  \"summary\": [\n");
	for (int lv = 0; lv < 2; lv++) {
		double g = exp(logsum[lv] / NLAYERS);

		printf("%.0f%% pruned: engine speed-up geomean %.2f (min/max rounds %.2f/%.2f; "
		       "of the fastest runs %.2f), lowest layer %.2f, modeled %.2f; "
		       "target >= %.1f: %s\n",
		       levels[lv] * 100, g, exp(gmin[lv] / NLAYERS), exp(gmax[lv] / NLAYERS),
		       exp(lmins[lv] / NLAYERS), lmin[lv], exp(msum[lv] / NLAYERS), targets[lv],
		       g >= targets[lv] ? "met" : "NOT met");
		if (jf)
			fprintf(jf, "    {\"sparsity\": %.2f, \"geomean\": [%.3f, %.3f, %.3f], "
				"\"geomean_of_fastest\": %.3f, "
				"\"lowest_layer\": %.3f, \"modeled\": %.3f, \"target\": %.1f, "
				"\"met\": %s}%s\n", levels[lv], exp(gmin[lv] / NLAYERS), g,
				exp(gmax[lv] / NLAYERS), exp(lmins[lv] / NLAYERS), lmin[lv], exp(msum[lv] / NLAYERS),
				targets[lv], g >= targets[lv] ? "true" : "false", lv ? "" : ",");
	}
	if (jf) {
		fprintf(jf, "  ]\n}\n");
		fclose(jf);
	}
	return 0;
}
