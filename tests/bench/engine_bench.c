// SPDX-License-Identifier: MIT
/*
 * engine_bench: the emulated core's int8 convolution (firmware-stub, the
 * code the QEMU device runs) against XNNPACK's int8 convolution, on every
 * convolution shape of MobileNet V2 (224x224, width 1.0), one thread each.
 *
 *   engine_bench [--min-seconds S] [--json FILE] [--layer SUBSTRING]
 *
 * Prints a table: GMAC/s of each, their ratio, the geometric mean; and how
 * many outputs differ from XNNPACK (which requantizes in fp32: by design,
 * at most +-1 on a small fraction). Timings are not tests: `make bench`.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xnnpack.h>

#include "hw/apu_fw.h"

struct layer {
	char name[48];
	int in_h, in_w, in_c, out_c, k, stride, depthwise;
};

static struct layer layers[64];
static int nlayers;

static void add(const char *name, int hw, int cin, int cout, int k, int s, int dw)
{
	struct layer *l;
	int i;

	for (i = 0; i < nlayers; i++) {	/* each distinct shape once */
		l = &layers[i];
		if (l->in_h == hw && l->in_c == cin && l->out_c == cout &&
		    l->k == k && l->stride == s && l->depthwise == dw)
			return;
	}
	l = &layers[nlayers++];
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->in_h = l->in_w = hw;
	l->in_c = cin;
	l->out_c = cout;
	l->k = k;
	l->stride = s;
	l->depthwise = dw;
}

/* MobileNet V2: shared/workloads.md. */
static void mobilenet_v2(void)
{
	static const int blocks[][4] = {	/* t, c, n, s */
		{ 1, 16, 1, 1 }, { 6, 24, 2, 2 }, { 6, 32, 3, 2 }, { 6, 64, 4, 2 },
		{ 6, 96, 3, 1 }, { 6, 160, 3, 2 }, { 6, 320, 1, 1 },
	};
	int hw = 112, c = 32, b, r;
	char name[48];

	add("conv0 3x3 s2 3->32", 224, 3, 32, 3, 2, 0);
	for (b = 0; b < 7; b++) {
		for (r = 0; r < blocks[b][2]; r++) {
			int t = blocks[b][0], s = r ? 1 : blocks[b][3], e = c * t;

			if (t != 1) {
				snprintf(name, sizeof(name), "pw %dx%d %d->%d", hw, hw, c, e);
				add(name, hw, c, e, 1, 1, 0);
			}
			snprintf(name, sizeof(name), "dw %dx%d x%d s%d", hw, hw, e, s);
			add(name, hw, e, e, 3, s, 1);
			hw = (hw + s - 1) / s;
			snprintf(name, sizeof(name), "pw %dx%d %d->%d", hw, hw, e, blocks[b][1]);
			add(name, hw, e, blocks[b][1], 1, 1, 0);
			c = blocks[b][1];
		}
	}
	add("pw 7x7 320->1280", 7, 320, 1280, 1, 1, 0);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	double min_s = 0.3, log_sum = 0;
	const char *json = NULL, *only = NULL;
	FILE *jf = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--min-seconds") && i + 1 < argc)
			min_s = atof(argv[++i]);
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else if (!strcmp(argv[i], "--layer") && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--min-seconds S] [--json FILE] [--layer SUBSTRING]\n", argv[0]);
			return 2;
		}
	}
	if (xnn_initialize(NULL) != xnn_status_success) {
		fprintf(stderr, "engine_bench: XNNPACK does not initialize on this CPU\n");
		return 1;
	}
	mobilenet_v2();
	if (only) {	/* keep the layers whose name contains @only */
		int n = 0;

		for (i = 0; i < nlayers; i++)
			if (strstr(layers[i].name, only))
				layers[n++] = layers[i];
		nlayers = n;
		if (!n) {
			fprintf(stderr, "engine_bench: no layer matches '%s'\n", only);
			return 2;
		}
	}
	if (json) {
		jf = fopen(json, "w");
		if (!jf) {
			perror(json);
			return 1;
		}
		fprintf(jf, "{\n  \"benchmark\": \"engine\",\n  \"threads\": 1,\n  \"layers\": [\n");
	}
	printf("%-26s %8s %10s %10s %7s %9s\n", "MobileNet V2 layer", "MMAC",
	       "apu GMAC/s", "xnn GMAC/s", "ratio", "diff>0 %");
	srand(42);
	for (i = 0; i < nlayers; i++) {
		struct layer *l = &layers[i];
		int pad = 0, out = (l->in_h + l->stride - 1) / l->stride;
		int total = (out - 1) * l->stride + l->k - l->in_h;
		ApuConvParams p;
		size_t nin, nw, nout, j;
		int8_t *in, *w, *o1, *o2;
		int32_t *bias, *mult, *shift;
		float *kscale;
		xnn_operator_t op = NULL;
		double t0, t_apu, t_xnn, macs, g_apu, g_xnn;
		int reps, r, diff = 0;

		pad = total > 0 ? total / 2 : 0;
		memset(&p, 0, sizeof(p));
		p.in_h = p.in_w = l->in_h;
		p.in_c = l->in_c;
		p.out_h = p.out_w = out;
		p.out_c = l->out_c;
		p.k_h = p.k_w = l->k;
		p.stride_h = p.stride_w = l->stride;
		p.dil_h = p.dil_w = 1;
		p.pad_top = p.pad_left = pad;
		p.groups = l->depthwise ? l->in_c : 1;
		p.in_zp = 0;
		p.out_zp = -128;
		p.act_min = -128;
		p.act_max = 127;
		nin = apu_conv_in_size(&p);
		nw = apu_conv_weights_size(&p);
		nout = apu_conv_out_size(&p);
		in = malloc(nin);
		w = malloc(nw);
		o1 = malloc(nout);
		o2 = malloc(nout);
		bias = malloc(4 * p.out_c);
		mult = malloc(4 * p.out_c);
		shift = malloc(4 * p.out_c);
		kscale = malloc(sizeof(float) * p.out_c);
		for (j = 0; j < nin; j++)
			in[j] = (int8_t)(rand() % 256 - 128);
		for (j = 0; j < nw; j++)
			w[j] = (int8_t)(rand() % 255 - 127);
		for (j = 0; j < (size_t)p.out_c; j++) {
			double eff;
			int s;

			kscale[j] = 0.002f + 0.001f * (j % 5);
			bias[j] = rand() % 2001 - 1000;
			eff = (double)(1.0f / 128) * (double)kscale[j] / (double)(6.0f / 255);
			apu_fw_quantize_multiplier(eff, &mult[j], &s);
			shift[j] = s;
		}
		if (xnn_create_convolution2d_nhwc_qc8(
			    pad, total - pad, total - pad, pad, l->k, l->k, l->stride, l->stride, 1, 1,
			    p.groups, p.in_c / p.groups, p.out_c / p.groups, p.in_c, p.out_c,
			    0, 1.0f / 128, kscale, w, bias, -128, 6.0f / 255, -128, 127,
			    l->depthwise ? XNN_FLAG_DEPTHWISE_CONVOLUTION : 0, &op) != xnn_status_success ||
		    xnn_setup_convolution2d_nhwc_qc8(op, 1, p.in_h, p.in_w, in, o2, NULL) !=
			    xnn_status_success) {
			fprintf(stderr, "engine_bench: XNNPACK refused layer %s\n", l->name);
			return 1;
		}
		macs = (double)apu_conv_macs(&p);

		apu_conv2d(&p, in, w, bias, mult, shift, o1);	/* warm up */
		for (reps = 1;; reps *= 2) {
			t0 = now();
			for (r = 0; r < reps; r++)
				apu_conv2d(&p, in, w, bias, mult, shift, o1);
			t_apu = (now() - t0) / reps;
			if (t_apu * reps >= min_s)
				break;
		}
		xnn_run_operator(op, NULL);
		for (reps = 1;; reps *= 2) {
			t0 = now();
			for (r = 0; r < reps; r++)
				xnn_run_operator(op, NULL);
			t_xnn = (now() - t0) / reps;
			if (t_xnn * reps >= min_s)
				break;
		}
		for (j = 0; j < nout; j++)
			diff += o1[j] != o2[j];
		g_apu = macs / t_apu * 1e-9;
		g_xnn = macs / t_xnn * 1e-9;
		log_sum += log(g_apu / g_xnn);
		printf("%-26s %8.1f %10.2f %10.2f %7.3f %9.3f\n", l->name, macs * 1e-6,
		       g_apu, g_xnn, g_apu / g_xnn, 100.0 * diff / nout);
		if (jf)
			fprintf(jf, "    {\"layer\": \"%s\", \"macs\": %.0f, \"apu_gmacs\": %.4f, "
				"\"xnnpack_gmacs\": %.4f, \"ratio\": %.4f, \"diff_pct\": %.4f}%s\n",
				l->name, macs, g_apu, g_xnn, g_apu / g_xnn, 100.0 * diff / nout,
				i + 1 < nlayers ? "," : "");
		xnn_delete_operator(op);
		free(in); free(w); free(o1); free(o2);
		free(bias); free(mult); free(shift); free(kscale);
	}
	printf("geometric mean ratio (apu / XNNPACK, one thread): %.3f over %d layers\n",
	       exp(log_sum / nlayers), nlayers);
	if (jf) {
		fprintf(jf, "  ],\n  \"geomean_ratio\": %.4f\n}\n", exp(log_sum / nlayers));
		fclose(jf);
	}
	return 0;
}
