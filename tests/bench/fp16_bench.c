// SPDX-License-Identifier: MIT
/*
 * fp16_bench: fp16 layers (firmware ABI 1.6) against int8 on MobileNet-like
 * convolutions:
 *
 * - modeled cycles: the command processor's timing model (apu_cp.c, the
 *   code the QEMU device runs) on each core class, one job of the layer,
 *   int8 against fp16 (MACs at the fp16 rate, 2-byte elements);
 * - engine time: the engine's op alone, int8 (apu_conv2d_poll) against
 *   fp16 on the AVX2/F16C path and on the portable path, min/median/max
 *   over --repeat runs, and the fp16 GFLOP/s (2 flops a MAC, median).
 *
 *   fp16_bench [--repeat N] [--json FILE]
 *
 * The fp16 paths' outputs are compared (they must be equal). Timings are
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
	int hw, in_c, out_c, k, stride, groups;
};

static const struct layer layers[] = {
	{ "conv 3x3 56x56 32->64", 56, 32, 64, 3, 1, 1 },
	{ "dw 3x3 56x56x128", 56, 128, 128, 3, 1, 128 },
	{ "pw 28x28 128->128", 28, 128, 128, 1, 1, 1 },
	{ "fc 1280->1000", 1, 1280, 1000, 1, 1, 1 },
};

static const struct { const char *name; ApuCoreModel m; } cores[] = {
	{ "big", { APU_BIG_MACS_PER_CYCLE, APU_BIG_BYTES_PER_CYCLE, 200,
		   APU_BIG_FP16_MACS_PER_CYCLE } },
	{ "little", { APU_LITTLE_MACS_PER_CYCLE, APU_LITTLE_BYTES_PER_CYCLE, 200,
		      APU_LITTLE_FP16_MACS_PER_CYCLE } },
	{ "tiny", { APU_TINY_MACS_PER_CYCLE, APU_TINY_BYTES_PER_CYCLE, 200,
		    APU_TINY_FP16_MACS_PER_CYCLE } },
};

#define VA_CMD 0x1000000ull
#define VA_IN 0x2000000ull
#define VA_W 0x4000000ull
#define VA_B 0x6000000ull
#define VA_M 0x7000000ull
#define VA_S 0x8000000ull
#define VA_OUT 0x9000000ull

static void conv_op(uint8_t *op, const ApuConvParams *p, int fp16)
{
	struct apu_op_conv2d *c = (void *)op;
	float lo = 0.0f, hi = 6.0f;
	uint32_t u;

	memset(op, 0, APU_OP_SIZE);
	apu_st16(&c->opcode, APU_OP_CONV2D);
	apu_st16(&c->flags, fp16 ? APU_OPF_FP16 : 0);
	apu_st16(&c->in_h, p->in_h); apu_st16(&c->in_w, p->in_w); apu_st16(&c->in_c, p->in_c);
	apu_st16(&c->out_h, p->out_h); apu_st16(&c->out_w, p->out_w); apu_st16(&c->out_c, p->out_c);
	apu_st16(&c->k_h, p->k_h); apu_st16(&c->k_w, p->k_w);
	apu_st16(&c->stride_h, p->stride_h); apu_st16(&c->stride_w, p->stride_w);
	apu_st16(&c->dil_h, 1); apu_st16(&c->dil_w, 1);
	apu_st16(&c->pad_top, p->pad_top); apu_st16(&c->pad_left, p->pad_left);
	apu_st16(&c->groups, p->groups);
	if (fp16) {
		memcpy(&u, &lo, 4);
		apu_st32(&c->act_min, u);
		memcpy(&u, &hi, 4);
		apu_st32(&c->act_max, u);
	} else {
		apu_st32(&c->act_min, (uint32_t)-128);
		apu_st32(&c->act_max, 127);
		apu_st64((uint8_t *)&c->mult, VA_M);
		apu_st64((uint8_t *)&c->shift, VA_S);
	}
	apu_st64((uint8_t *)&c->input, VA_IN);
	apu_st64((uint8_t *)&c->weights, VA_W);
	apu_st64((uint8_t *)&c->bias, VA_B);
	apu_st64((uint8_t *)&c->output, VA_OUT);
}

int main(int argc, char **argv)
{
	int repeat = 5;
	FILE *jf = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
			repeat = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
			jf = fopen(argv[++i], "w");
			if (!jf)
				return 1;
		} else {
			fprintf(stderr, "usage: fp16_bench [--repeat N] [--json FILE]\n");
			return 2;
		}
	}
	if (repeat < 1)
		repeat = 1;
	if (jf)
		fprintf(jf, "{\n  \"benchmark\": \"fp16\",\n  \"repeat\": %d,\n"
			"  \"avx2_f16c\": %s,\n  \"layers\": [\n", repeat,
			apu_fp16_path_available(APU_PATH_AVX2) ? "true" : "false");
	printf("fp16 against int8 (modeled cycles: one job; times: min/median/max of %d; "
	       "AVX2+F16C %s)\n", repeat, apu_fp16_path_available(APU_PATH_AVX2) ? "yes" : "no");
	printf("%-24s %-6s %10s %10s %6s\n", "layer", "core", "int8 cyc", "fp16 cyc", "x");
	for (size_t li = 0; li < sizeof(layers) / sizeof(layers[0]); li++) {
		const struct layer *l = &layers[li];
		int pad = l->k / 2;
		ApuConvParams p = {
			.in_h = l->hw, .in_w = l->hw, .in_c = l->in_c, .out_c = l->out_c,
			.k_h = l->k, .k_w = l->k, .stride_h = l->stride, .stride_w = l->stride,
			.dil_h = 1, .dil_w = 1, .pad_top = pad, .pad_left = pad,
			.groups = l->groups, .act_min = -128, .act_max = 127,
		};
		uint64_t nin, nw, nout, macs;
		int8_t *in8, *w8, *o8;
		uint16_t *in16, *w16, *ov, *op;
		int32_t *bias = malloc(4 * (size_t)l->out_c), *mult = malloc(4 * (size_t)l->out_c);
		int32_t *shift = malloc(4 * (size_t)l->out_c);
		float *fbias = malloc(4 * (size_t)l->out_c);
		double *t8 = malloc(sizeof(double) * repeat), *tv = malloc(sizeof(double) * repeat);
		double *tp = malloc(sizeof(double) * repeat);
		uint64_t cyc[3][2] = { { 0 } };
		struct bench_stat3 s8, sv, sp;
		struct apu_bus bus = { 0 };
		uint8_t cmd[16 + APU_OP_SIZE];
		bool vec = apu_fp16_path_available(APU_PATH_AVX2);
		int same = 1;

		p.out_h = (p.in_h + 2 * pad - p.k_h) / p.stride_h + 1;
		p.out_w = p.out_h;
		if (apu_conv_check(&p)) {
			fprintf(stderr, "fp16_bench: %s: bad layer\n", l->name);
			return 1;
		}
		nin = apu_conv_in_size(&p);
		nw = apu_conv_weights_size(&p);
		nout = apu_conv_out_size(&p);
		macs = apu_conv_macs(&p);
		in8 = malloc(nin);
		w8 = malloc(nw);
		o8 = malloc(nout);
		in16 = malloc(2 * nin);
		w16 = malloc(2 * nw);
		ov = malloc(2 * nout);
		op = malloc(2 * nout);
		if (!in8 || !w8 || !o8 || !in16 || !w16 || !ov || !op || !bias || !mult || !shift ||
		    !fbias || !t8 || !tv || !tp)
			return 1;
		srand(16 + (unsigned int)li);
		for (uint64_t i = 0; i < nin; i++) {
			float f = (float)(rand() % 2001 - 1000) / 1000.0f;

			in8[i] = (int8_t)(rand() % 256 - 128);
			apu_f32_to_f16(&f, &in16[i], 1);
		}
		for (uint64_t i = 0; i < nw; i++) {
			float f = (float)(rand() % 2001 - 1000) / 8000.0f;

			w8[i] = (int8_t)(rand() % 256 - 128);
			apu_f32_to_f16(&f, &w16[i], 1);
		}
		for (int c = 0; c < l->out_c; c++) {
			int s;

			bias[c] = rand() % 2001 - 1000;
			fbias[c] = (float)bias[c] / 1000.0f;
			apu_quantize_multiplier(0.0005, &mult[c], &s);
			shift[c] = s;
		}
		for (int r = 0; r < repeat; r++) {
			double t0 = bench_now();

			apu_conv2d_poll(&p, in8, w8, bias, mult, shift, o8, NULL);
			t8[r] = bench_now() - t0;
			if (vec) {
				t0 = bench_now();
				apu_conv2d_fp16(&p, in16, w16, fbias, 0.0f, 6.0f, ov, NULL,
						APU_PATH_AVX2);
				tv[r] = bench_now() - t0;
			} else {
				tv[r] = 0;
			}
			t0 = bench_now();
			apu_conv2d_fp16(&p, in16, w16, fbias, 0.0f, 6.0f, op, NULL, APU_PATH_PORTABLE);
			tp[r] = bench_now() - t0;
		}
		if (vec)
			same = !memcmp(ov, op, 2 * nout);

		/* Modeled cycles: one job of the layer through the command processor. */
		bus.size = 3 * nw + 4 * nin + 4 * nout + (64ull << 20);
		bus.mem = calloc(1, bus.size);
		if (!bus.mem)
			return 1;
		bus.next = APU_MMU_PAGE_SIZE;
		bus.ctx_table = apu_bus_page_alloc(&bus);
		{
			uint64_t root = apu_bus_page_alloc(&bus);
			ApuMmu mmu = { &apu_bus_ops, &bus, bus.ctx_table, 2 };
			ApuFault f;

			apu_bus_ctx_set(&bus, 1, root);
			if (bench_map(&bus, root, VA_CMD, sizeof(cmd)) || bench_map(&bus, root, VA_IN, 2 * nin) ||
			    bench_map(&bus, root, VA_W, 2 * nw) || bench_map(&bus, root, VA_B, 4 * l->out_c) ||
			    bench_map(&bus, root, VA_M, 4 * l->out_c) || bench_map(&bus, root, VA_S, 4 * l->out_c) ||
			    bench_map(&bus, root, VA_OUT, 2 * nout)) {
				fprintf(stderr, "fp16_bench: %s: out of bus memory\n", l->name);
				return 1;
			}
			/* Parameters the int8 op checks: shifts in range. */
			apu_mmu_write(&mmu, 1, VA_S, shift, 4 * (uint64_t)l->out_c, &f);
			memset(cmd, 0, 16);
			memcpy(cmd, "APUC", 4);
			apu_st16(cmd + 4, APU_CMD_VERSION);
			apu_st16(cmd + 6, 1);
			for (int fp = 0; fp < 2; fp++) {
				conv_op(cmd + 16, &p, fp);
				apu_mmu_write(&mmu, 1, VA_CMD, cmd, sizeof(cmd), &f);
				for (size_t k = 0; k < 3; k++) {
					ApuJobResult res;

					apu_cp_run_job(&mmu, &cores[k].m, 1, VA_CMD, sizeof(cmd), NULL,
						       NULL, &res);
					if (res.status) {
						fprintf(stderr, "fp16_bench: %s: job status %u\n",
							l->name, res.status);
						return 1;
					}
					cyc[k][fp] = res.cycles;
				}
			}
		}
		s8 = bench_stats(t8, repeat);
		sv = bench_stats(tv, repeat);
		sp = bench_stats(tp, repeat);
		for (size_t k = 0; k < 3; k++)
			printf("%-24s %-6s %10llu %10llu %6.3f\n", k ? "" : l->name, cores[k].name,
			       (unsigned long long)cyc[k][0], (unsigned long long)cyc[k][1],
			       (double)cyc[k][1] / (double)cyc[k][0]);
		printf("  engine us int8 %.0f/%.0f/%.0f fp16-avx2 %.0f/%.0f/%.0f "
		       "fp16-portable %.0f/%.0f/%.0f; fp16 GFLOP/s %.2f (avx2) %.2f (portable)%s\n",
		       s8.min * 1e6, s8.med * 1e6, s8.max * 1e6, sv.min * 1e6, sv.med * 1e6,
		       sv.max * 1e6, sp.min * 1e6, sp.med * 1e6, sp.max * 1e6,
		       sv.med > 0 ? 2e-9 * macs / sv.med : 0, 2e-9 * macs / sp.med,
		       same ? "" : "  PATHS DIFFER");
		if (jf) {
			fprintf(jf, "    {\"layer\": \"%s\", \"macs\": %llu, \"paths_equal\": %s,\n",
				l->name, (unsigned long long)macs, same ? "true" : "false");
			fprintf(jf, "     \"cycles\": {");
			for (size_t k = 0; k < 3; k++)
				fprintf(jf, "%s\"%s\": [%llu, %llu]", k ? ", " : "", cores[k].name,
					(unsigned long long)cyc[k][0], (unsigned long long)cyc[k][1]);
			fprintf(jf, "},\n     \"engine_us\": {\"int8\": [%.1f, %.1f, %.1f], "
				"\"fp16_avx2\": [%.1f, %.1f, %.1f], \"fp16_portable\": [%.1f, %.1f, %.1f]}}%s\n",
				s8.min * 1e6, s8.med * 1e6, s8.max * 1e6, sv.min * 1e6, sv.med * 1e6,
				sv.max * 1e6, sp.min * 1e6, sp.med * 1e6, sp.max * 1e6,
				li + 1 < sizeof(layers) / sizeof(layers[0]) ? "," : "");
		}
		free(bus.mem);
		free(in8); free(w8); free(o8); free(in16); free(w16); free(ov); free(op);
		free(bias); free(mult); free(shift); free(fbias);
		free(t8); free(tv); free(tp);
		if (!same)
			return 1;
	}
	if (jf) {
		fprintf(jf, "  ]\n}\n");
		fclose(jf);
	}
	return 0;
}
