// SPDX-License-Identifier: MIT
/*
 * int4_bench: int4 weights (w4a8, firmware ABI 1.4) against int8 on layers
 * whose weights dominate what they move (fully connected, a 1x1 on few
 * pixels), and one that computes more than it moves, for contrast:
 *
 * - modeled cycles: the command processor's timing model (apu_cp.c, the
 *   code the QEMU device runs) on each core class (big, little, tiny, as
 *   the device's properties give them), one job of the layer;
 * - engine time: the engine's op alone (apu_conv2d_poll against
 *   apu_conv2d_int4_poll, which widens the weights first), and the whole
 *   job through the command processor (MMU copies included, where int4
 *   reads half the weight bytes), min/median/max over --repeat runs.
 *
 *   int4_bench [--repeat N] [--json FILE]
 *
 * The outputs of both forms are compared (they must be equal). Timings are
 * not tests: `make bench`.
 */
#define _GNU_SOURCE
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
	{ "fc 1280->1000", 1, 1280, 1000 },
	{ "fc 4096->4096", 1, 4096, 4096 },
	{ "pw 2x2 1024->1024", 2, 1024, 1024 },
	{ "pw 28x28 128->128", 28, 128, 128 },
};

/* The device's core classes (qemu/hw/misc/apu.c), overhead 200 cycles. */
static const struct { const char *name; ApuCoreModel m; } cores[] = {
	{ "big", { 1024, 64, 200, APU_BIG_FP16_MACS_PER_CYCLE } },
	{ "little", { 256, 32, 200, APU_LITTLE_FP16_MACS_PER_CYCLE } },
	{ "tiny", { 64, 16, 200, APU_TINY_FP16_MACS_PER_CYCLE } },
};

#define VA_CMD 0x1000000ull
#define VA_IN 0x2000000ull
#define VA_W 0x4000000ull
#define VA_B 0x8000000ull
#define VA_M 0x8100000ull
#define VA_S 0x8200000ull
#define VA_OUT 0x9000000ull

static const uint64_t bench_va[6] = { VA_IN, VA_W, VA_B, VA_M, VA_S, VA_OUT };

/* Map [va, va + len) to contiguous fresh pages (writable: the bench fills them). */
int main(int argc, char **argv)
{
	const char *json = NULL;
	int repeat = 9;
	FILE *jf = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
			repeat = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
			json = argv[++i];
		} else {
			fprintf(stderr, "usage: %s [--repeat N] [--json FILE]\n", argv[0]);
			return 2;
		}
	}
	if (repeat < 1 || repeat > 1000)
		repeat = 9;
	if (json) {
		jf = fopen(json, "w");
		if (!jf) {
			perror(json);
			return 1;
		}
		fprintf(jf, "{\n  \"benchmark\": \"int4\",\n  \"repeat\": %d,\n  \"layers\": [\n",
			repeat);
	}
	printf("int4 weights against int8 (modeled cycles: one job; times: min/median/max of %d)\n",
	       repeat);
	printf("%-20s %-6s %10s %10s %6s\n", "layer", "core", "int8 cyc", "int4 cyc", "x");
	for (size_t li = 0; li < sizeof(layers) / sizeof(layers[0]); li++) {
		const struct layer *l = &layers[li];
		ApuConvParams p = {
			.in_h = l->hw, .in_w = l->hw, .in_c = l->in_c, .out_h = l->hw,
			.out_w = l->hw, .out_c = l->out_c, .k_h = 1, .k_w = 1, .stride_h = 1,
			.stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1, .in_zp = 3,
			.out_zp = -1, .act_min = -128, .act_max = 127,
		};
		uint64_t nw = apu_conv_weights_size(&p), nin = apu_conv_in_size(&p);
		uint64_t nout = apu_conv_out_size(&p);
		int8_t *in = malloc(nin), *w = malloc(nw), *o8 = malloc(nout), *o4 = malloc(nout);
		uint8_t *w4 = calloc(1, apu_int4_bytes(nw));
		int32_t *bias = malloc(4 * (size_t)l->out_c), *mult = malloc(4 * (size_t)l->out_c);
		int32_t *shift = malloc(4 * (size_t)l->out_c);
		double *te8 = malloc(sizeof(double) * repeat), *te4 = malloc(sizeof(double) * repeat);
		double *tj8 = malloc(sizeof(double) * repeat), *tj4 = malloc(sizeof(double) * repeat);
		struct apu_bus bus = { 0 };
		uint64_t cyc[3][2] = { { 0 } };
		struct bench_stat3 e8, e4, j8, j4;
		uint8_t cmd[16 + APU_OP_SIZE];
		int same = 1;

		if (!in || !w || !o8 || !o4 || !w4 || !bias || !mult || !shift || !te8 || !te4 ||
		    !tj8 || !tj4)
			return 1;
		srand(7 + (unsigned int)li);
		for (uint64_t i = 0; i < nin; i++)
			in[i] = (int8_t)(rand() % 256 - 128);
		for (uint64_t i = 0; i < nw; i++) {
			w[i] = (int8_t)(rand() % 16 - 8);
			w4[i / 2] |= (uint8_t)(((unsigned int)w[i] & 0xf) << (i % 2 ? 4 : 0));
		}
		for (int c = 0; c < l->out_c; c++) {
			int s;

			bias[c] = rand() % 2001 - 1000;
			apu_quantize_multiplier(0.002 / (1 + c % 3), &mult[c], &s);
			shift[c] = s;
		}

		/* The engine alone. */
		for (int r = 0; r < repeat; r++) {
			double t0 = bench_now();

			apu_conv2d_poll(&p, in, w, bias, mult, shift, o8, NULL);
			te8[r] = bench_now() - t0;
			t0 = bench_now();
			apu_conv2d_int4_poll(&p, in, w4, bias, mult, shift, o4, NULL);
			te4[r] = bench_now() - t0;
		}
		same = !memcmp(o8, o4, nout);

		/* Whole jobs through the command processor and its MMU. */
		bus.size = 3 * nw + 2 * nin + 2 * nout + (64ull << 20);
		bus.mem = calloc(1, bus.size);
		if (!bus.mem)
			return 1;
		bus.next = APU_MMU_PAGE_SIZE;
		bus.ctx_table = apu_bus_page_alloc(&bus);
		{
			uint64_t root = apu_bus_page_alloc(&bus);
			ApuMmu mmu = { &apu_bus_ops, &bus, bus.ctx_table, 2 };

			apu_bus_ctx_set(&bus, 1, root);
			if (bench_map(&bus, root, VA_CMD, sizeof(cmd)) || bench_map(&bus, root, VA_IN, nin) ||
			    bench_map(&bus, root, VA_W, nw) || bench_map(&bus, root, VA_B, 4 * l->out_c) ||
			    bench_map(&bus, root, VA_M, 4 * l->out_c) ||
			    bench_map(&bus, root, VA_S, 4 * l->out_c) || bench_map(&bus, root, VA_OUT, nout)) {
				fprintf(stderr, "int4_bench: %s: out of bus memory\n", l->name);
				return 1;
			}
			bench_poke(&bus, VA_IN, in, nin);
			bench_poke(&bus, VA_B, bias, 4 * (uint64_t)l->out_c);
			bench_poke(&bus, VA_M, mult, 4 * (uint64_t)l->out_c);
			bench_poke(&bus, VA_S, shift, 4 * (uint64_t)l->out_c);
			memset(cmd, 0, 16);
			memcpy(cmd, "APUC", 4);
			apu_st16(cmd + 4, APU_CMD_VERSION);
			apu_st16(cmd + 6, 1);
			for (int f = 0; f < 2; f++) {
				bench_poke(&bus, VA_W, f ? (const void *)w4 : (const void *)w,
				     f ? apu_int4_bytes(nw) : nw);
				bench_conv1x1_op(cmd + 16, &p, f ? APU_OPF_WEIGHTS_INT4 : 0, bench_va);
				bench_poke(&bus, VA_CMD, cmd, sizeof(cmd));
				for (size_t k = 0; k < 3; k++) {
					ApuJobResult res;

					apu_cp_run_job(&mmu, &cores[k].m, 1, VA_CMD, sizeof(cmd), NULL,
						       NULL, &res);
					if (res.status) {
						fprintf(stderr, "int4_bench: %s: job status %u\n",
							l->name, res.status);
						return 1;
					}
					cyc[k][f] = res.cycles;
				}
				for (int r = 0; r < repeat; r++) {
					ApuJobResult res;
					double t0 = bench_now();

					apu_cp_run_job(&mmu, &cores[0].m, 1, VA_CMD, sizeof(cmd), NULL,
						       NULL, &res);
					(f ? tj4 : tj8)[r] = bench_now() - t0;
				}
			}
		}
		e8 = bench_stats(te8, repeat);
		e4 = bench_stats(te4, repeat);
		j8 = bench_stats(tj8, repeat);
		j4 = bench_stats(tj4, repeat);
		for (size_t k = 0; k < 3; k++)
			printf("%-20s %-6s %10llu %10llu %6.3f\n", k ? "" : l->name, cores[k].name,
			       (unsigned long long)cyc[k][0], (unsigned long long)cyc[k][1],
			       (double)cyc[k][0] / (double)cyc[k][1]);
		printf("  engine us int8 %.1f/%.1f/%.1f int4 %.1f/%.1f/%.1f: x%.3f (median)\n",
		       e8.min * 1e6, e8.med * 1e6, e8.max * 1e6, e4.min * 1e6, e4.med * 1e6,
		       e4.max * 1e6, e8.med / e4.med);
		printf("  job us    int8 %.1f/%.1f/%.1f int4 %.1f/%.1f/%.1f: x%.3f (median)%s\n",
		       j8.min * 1e6, j8.med * 1e6, j8.max * 1e6, j4.min * 1e6, j4.med * 1e6,
		       j4.max * 1e6, j8.med / j4.med, same ? "" : "  OUTPUTS DIFFER");
		if (jf) {
			fprintf(jf, "    {\"layer\": \"%s\", \"weights\": %llu, \"macs\": %llu, "
				"\"outputs_equal\": %s,\n", l->name, (unsigned long long)nw,
				(unsigned long long)apu_conv_macs(&p), same ? "true" : "false");
			fprintf(jf, "     \"cycles\": {");
			for (size_t k = 0; k < 3; k++)
				fprintf(jf, "%s\"%s\": [%llu, %llu]", k ? ", " : "", cores[k].name,
					(unsigned long long)cyc[k][0], (unsigned long long)cyc[k][1]);
			fprintf(jf, "},\n     \"engine_us\": {\"int8\": [%.2f, %.2f, %.2f], "
				"\"int4\": [%.2f, %.2f, %.2f]},\n", e8.min * 1e6, e8.med * 1e6,
				e8.max * 1e6, e4.min * 1e6, e4.med * 1e6, e4.max * 1e6);
			fprintf(jf, "     \"job_us\": {\"int8\": [%.2f, %.2f, %.2f], "
				"\"int4\": [%.2f, %.2f, %.2f]}}%s\n", j8.min * 1e6, j8.med * 1e6,
				j8.max * 1e6, j4.min * 1e6, j4.med * 1e6, j4.max * 1e6,
				li + 1 < sizeof(layers) / sizeof(layers[0]) ? "," : "");
		}
		free(bus.mem);
		free(in); free(w); free(w4); free(o8); free(o4);
		free(bias); free(mult); free(shift);
		free(te8); free(te4); free(tj8); free(tj4);
		if (!same)
			return 1;
	}
	if (jf) {
		fprintf(jf, "  ]\n}\n");
		fclose(jf);
	}
	return 0;
}
