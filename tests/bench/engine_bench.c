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

#include <apu/apu.h>
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

static double median(double *v, int n)
{
	double t;
	int i, j;

	for (i = 1; i < n; i++)	/* insertion sort: n is small */
		for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Seconds per call of @fn(@ctx), calls doubled until @min_s is spent. */
static double time_it(void (*fn)(void *), void *ctx, double min_s)
{
	double t0, t;
	int reps, r;

	fn(ctx);	/* warm up */
	for (reps = 1;; reps *= 2) {
		t0 = now();
		for (r = 0; r < reps; r++)
			fn(ctx);
		t = (now() - t0) / reps;
		if (t * reps >= min_s)
			return t;
	}
}

struct conv_ctx {
	ApuConvParams p;
	const int8_t *in, *w;
	const int32_t *bias, *mult, *shift;
	int8_t *out;
	ApuEnginePath path;
};

static void run_apu_conv(void *opaque)
{
	struct conv_ctx *c = opaque;

	if (apu_conv2d_path(&c->p, c->in, c->w, c->bias, c->mult, c->shift, c->out,
			    NULL, c->path)) {
		fprintf(stderr, "engine_bench: the engine failed\n");
		exit(1);
	}
}

static void run_xnn(void *opaque)
{
	xnn_run_operator(opaque, NULL);
}

#define MAX_REPEAT 15

/* The targets (issue 16): geomean >= 1.2 x XNNPACK, no layer under 0.8. */
#define TARGET_GEOMEAN 1.2
#define TARGET_LAYER_MIN 0.8

/*
 * The importer's other ops: engine throughput (elements or MACs per
 * second) over @repeat rounds, next to XNNPACK's where it has the op.
 */
struct op_ctx {
	ApuPoolParams pool;
	ApuMulParams mul;
	uint32_t count;
	const int8_t *a, *b, *table;
	int8_t *out;
};

static void run_maxpool(void *opaque)
{
	struct op_ctx *c = opaque;

	apu_maxpool(&c->pool, c->a, c->out);
}

static void run_mul(void *opaque)
{
	struct op_ctx *c = opaque;

	apu_mul(&c->mul, c->a, c->b, c->out);
}

static void run_lut(void *opaque)
{
	struct op_ctx *c = opaque;

	apu_lut(c->count, c->a, c->table, c->out);
}

static void print_op(FILE *jf, const char *name, const char *unit, double work,
		     double *t_apu, double *t_xnn, int repeat, int *first)
{
	double g[MAX_REPEAT] = { 0 }, x[MAX_REPEAT] = { 0 }, r[MAX_REPEAT] = { 0 };
	int i;

	for (i = 0; i < repeat; i++) {
		g[i] = work / t_apu[i] * 1e-9;
		x[i] = t_xnn ? work / t_xnn[i] * 1e-9 : 0;
		r[i] = t_xnn ? g[i] / x[i] : 0;
	}
	{
		double gm = median(g, repeat), xm = t_xnn ? median(x, repeat) : 0;
		double rmin = r[0], rmax = r[0], rm;

		for (i = 1; i < repeat; i++) {
			rmin = r[i] < rmin ? r[i] : rmin;
			rmax = r[i] > rmax ? r[i] : rmax;
		}
		rm = t_xnn ? median(r, repeat) : 0;
		if (t_xnn)
			printf("%-34s %9.2f %s %9.2f %s  ratio %.3f (min %.3f max %.3f)\n", name, gm,
			       unit, xm, unit, rm, rmin, rmax);
		else
			printf("%-34s %9.2f %s  (XNNPACK has no such operator)\n", name, gm, unit);
		if (jf) {
			fprintf(jf, "%s    {\"op\": \"%s\", \"unit\": \"%s\", \"apu\": %.4f", *first ? "" : ",\n",
				name, unit, gm);
			if (t_xnn)
				fprintf(jf, ", \"xnnpack\": %.4f, \"ratio\": %.4f, \"ratio_min\": %.4f, \"ratio_max\": %.4f",
					xm, rm, rmin, rmax);
			fprintf(jf, "}");
		}
		*first = 0;
	}
}

static void other_ops(FILE *jf, double min_s, int repeat)
{
	struct op_ctx c;
	double ta[MAX_REPEAT], tx[MAX_REPEAT];
	size_t n = 112 * 112 * 64, i, shape1[4] = { 1, 56, 56, 144 }, shape2[4] = { 1, 1, 1, 144 };
	int8_t *a = malloc(n), *b = malloc(n), *out = malloc(n), *o2 = malloc(n);
	int8_t table[256];
	xnn_operator_t op = NULL;
	int r, first = 1, diff;

	for (i = 0; i < n; i++) {
		a[i] = (int8_t)(rand() % 256 - 128);
		b[i] = (int8_t)(rand() % 256 - 128);
	}
	for (i = 0; i < 256; i++)
		table[i] = (int8_t)(rand() % 256 - 128);
	memset(&c, 0, sizeof(c));
	c.a = a;
	c.b = b;
	c.table = table;
	c.out = out;
	printf("\nOther ops (one thread, median of %d rounds)\n", repeat);
	if (jf)
		fprintf(jf, "  \"ops\": [\n");

	/* max pool 3x3 s2 SAME, 112x112x64 -> 56x56x64 (a ResNet-like stem). */
	c.pool = (ApuPoolParams){ 112, 112, 64, 56, 56, 3, 3, 2, 2, 0, 0, -128, 127, false };
	if (xnn_create_max_pooling2d_nhwc_s8(0, 1, 1, 0, 3, 3, 2, 2, 1, 1, 64, 64, 64, -128, 127, 0,
					     &op) != xnn_status_success ||
	    xnn_setup_max_pooling2d_nhwc_s8(op, 1, 112, 112, a, o2, NULL) != xnn_status_success) {
		fprintf(stderr, "engine_bench: XNNPACK refused max pooling\n");
		exit(1);
	}
	for (r = 0; r < repeat; r++) {
		ta[r] = time_it(run_maxpool, &c, min_s);
		tx[r] = time_it(run_xnn, op, min_s);
	}
	diff = memcmp(out, o2, 56 * 56 * 64) != 0;
	print_op(jf, diff ? "maxpool 3x3 s2 112x112x64 (DIFFERS)" : "maxpool 3x3 s2 112x112x64",
		 "Gelem/s", 56.0 * 56 * 64, ta, tx, repeat, &first);
	xnn_delete_operator(op);

	/* MUL by a per-channel vector (squeeze-and-excitation), 56x56x144. */
	c.mul = (ApuMulParams){ 56 * 56 * 144, 3, -5, 0, 0, -128, -128, 127, 144 };
	apu_quantize_multiplier((0.02 * 0.01) / 0.05, &c.mul.out_mult, &c.mul.out_shift);
	if (xnn_create_multiply_nd_qs8(-3, 0.02f, 5, 0.01f, -128, 0.05f, -128, 127, 0, &op) !=
		    xnn_status_success ||
	    xnn_setup_multiply_nd_qs8(op, 4, shape1, 4, shape2, a, b, o2, NULL) != xnn_status_success) {
		fprintf(stderr, "engine_bench: XNNPACK refused multiply\n");
		exit(1);
	}
	for (r = 0; r < repeat; r++) {
		ta[r] = time_it(run_mul, &c, min_s);
		tx[r] = time_it(run_xnn, op, min_s);
	}
	print_op(jf, "mul 56x56x144 by 144 (broadcast)", "Gelem/s", 56.0 * 56 * 144, ta, tx, repeat,
		 &first);
	xnn_delete_operator(op);

	/* MUL, two full tensors. */
	c.mul.in2_period = 0;
	shape2[1] = 56;
	shape2[2] = 56;
	if (xnn_create_multiply_nd_qs8(-3, 0.02f, 5, 0.01f, -128, 0.05f, -128, 127, 0, &op) !=
		    xnn_status_success ||
	    xnn_setup_multiply_nd_qs8(op, 4, shape1, 4, shape2, a, b, o2, NULL) != xnn_status_success) {
		fprintf(stderr, "engine_bench: XNNPACK refused multiply\n");
		exit(1);
	}
	for (r = 0; r < repeat; r++) {
		ta[r] = time_it(run_mul, &c, min_s);
		tx[r] = time_it(run_xnn, op, min_s);
	}
	print_op(jf, "mul 56x56x144 elementwise", "Gelem/s", 56.0 * 56 * 144, ta, tx, repeat, &first);
	xnn_delete_operator(op);

	/* Table lookup (an activation such as hard-swish as a LUT). */
	c.count = (uint32_t)n;
	for (r = 0; r < repeat; r++)
		ta[r] = time_it(run_lut, &c, min_s);
	print_op(jf, "lut 112x112x64", "Gelem/s", (double)n, ta, NULL, repeat, &first);
	if (jf)
		fprintf(jf, "\n  ]");
	free(a); free(b); free(out); free(o2);
}

int main(int argc, char **argv)
{
	double min_s = 0.1;
	double ratios[64][MAX_REPEAT], lmed[64] = { 0 }, gms[MAX_REPEAT];
	double g_apu_l[64], g_xnn_l[64], diff_l[64], macs_l[64];
	const char *json = NULL, *only = NULL, *pname = "auto";
	ApuEnginePath path = APU_PATH_AUTO;
	int repeat = 5, ops = 1;
	FILE *jf = NULL;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--min-seconds") && i + 1 < argc)
			min_s = atof(argv[++i]);
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else if (!strcmp(argv[i], "--layer") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--path") && i + 1 < argc)
			pname = argv[++i];
		else if (!strcmp(argv[i], "--no-ops"))
			ops = 0;
		else {
			fprintf(stderr, "usage: %s [--min-seconds S] [--repeat N] [--json FILE] "
				"[--layer SUBSTRING] [--path auto|portable|avx2|vnni|vnni-emul] [--no-ops]\n",
				argv[0]);
			return 2;
		}
	}
	if (repeat < 1 || repeat > MAX_REPEAT) {
		fprintf(stderr, "engine_bench: --repeat 1..%d\n", MAX_REPEAT);
		return 2;
	}
	for (path = APU_PATH_AUTO; path < APU_PATH_NPATHS; path++)
		if (!strcmp(pname, apu_engine_path_name(path)))
			break;
	if (path == APU_PATH_NPATHS || !apu_engine_path_available(path)) {
		fprintf(stderr, "engine_bench: path '%s' is unknown or not on this CPU\n", pname);
		return 2;
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
	}
	printf("engine path: %s (VNNI %s on this CPU); %d rounds, apu and XNNPACK interleaved\n",
	       apu_engine_path_name(path == APU_PATH_AUTO ? apu_engine_auto_path() : path),
	       apu_engine_path_available(APU_PATH_VNNI) ? "available" : "NOT available",
	       repeat);
	printf("%-26s %8s %10s %10s %7s %7s %7s %9s\n", "MobileNet V2 layer", "MMAC",
	       "apu GMAC/s", "xnn GMAC/s", "ratio", "min", "max", "diff>0 %");
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
		double ta[MAX_REPEAT], tx[MAX_REPEAT], macs, rs[MAX_REPEAT], rmin, rmax;
		struct conv_ctx cc;
		int diff = 0;

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
			apu_quantize_multiplier(eff, &mult[j], &s);
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
		cc = (struct conv_ctx){ p, in, w, bias, mult, shift, o1, path };
		for (r = 0; r < repeat; r++) {
			ta[r] = time_it(run_apu_conv, &cc, min_s);
			tx[r] = time_it(run_xnn, op, min_s);
			ratios[i][r] = tx[r] / ta[r];
			rs[r] = ratios[i][r];
		}
		for (j = 0; j < nout; j++)
			diff += o1[j] != o2[j];
		rmin = rmax = rs[0];
		for (r = 1; r < repeat; r++) {
			rmin = rs[r] < rmin ? rs[r] : rmin;
			rmax = rs[r] > rmax ? rs[r] : rmax;
		}
		lmed[i] = median(rs, repeat);
		g_apu_l[i] = macs / median(ta, repeat) * 1e-9;
		g_xnn_l[i] = macs / median(tx, repeat) * 1e-9;
		diff_l[i] = 100.0 * diff / nout;
		macs_l[i] = macs;
		printf("%-26s %8.1f %10.2f %10.2f %7.3f %7.3f %7.3f %9.3f%s\n", l->name, macs * 1e-6,
		       g_apu_l[i], g_xnn_l[i], lmed[i], rmin, rmax, diff_l[i],
		       lmed[i] < TARGET_LAYER_MIN ? "  < 0.8" : "");
		xnn_delete_operator(op);
		free(in); free(w); free(o1); free(o2);
		free(bias); free(mult); free(shift); free(kscale);
	}
	{
		double lmin = lmed[0], gmin, gmax, gmed, sorted[MAX_REPEAT];
		int met_g, met_l, worst = 0;

		for (r = 0; r < repeat; r++) {
			double s = 0;

			for (i = 0; i < nlayers; i++)
				s += log(ratios[i][r]);
			gms[r] = exp(s / nlayers);
			sorted[r] = gms[r];
		}
		gmed = median(sorted, repeat);
		gmin = sorted[0];
		gmax = sorted[repeat - 1];
		for (i = 1; i < nlayers; i++)
			if (lmed[i] < lmin) {
				lmin = lmed[i];
				worst = i;
			}
		met_g = gmed >= TARGET_GEOMEAN;
		met_l = lmin >= TARGET_LAYER_MIN;
		printf("geometric mean ratio (apu / XNNPACK, one thread): %.3f (min %.3f, max %.3f over "
		       "%d rounds) over %d layers; target >= %.1f: %s\n", gmed, gmin, gmax, repeat,
		       nlayers, TARGET_GEOMEAN, met_g ? "MET" : "NOT MET");
		printf("lowest layer ratio: %.3f (%s); target >= %.1f: %s\n", lmin, layers[worst].name,
		       TARGET_LAYER_MIN, met_l ? "MET" : "NOT MET");
		if (jf) {
			fprintf(jf, "{\n  \"benchmark\": \"engine\",\n  \"threads\": 1,\n"
				"  \"path\": \"%s\",\n  \"vnni_available\": %s,\n  \"rounds\": %d,\n"
				"  \"layers\": [\n",
				apu_engine_path_name(path == APU_PATH_AUTO ? apu_engine_auto_path() : path),
				apu_engine_path_available(APU_PATH_VNNI) ? "true" : "false", repeat);
			for (i = 0; i < nlayers; i++) {
				double mn = ratios[i][0], mx = ratios[i][0];

				for (r = 1; r < repeat; r++) {
					mn = ratios[i][r] < mn ? ratios[i][r] : mn;
					mx = ratios[i][r] > mx ? ratios[i][r] : mx;
				}
				fprintf(jf, "    {\"layer\": \"%s\", \"macs\": %.0f, \"apu_gmacs\": %.4f, "
					"\"xnnpack_gmacs\": %.4f, \"ratio\": %.4f, \"ratio_min\": %.4f, "
					"\"ratio_max\": %.4f, \"diff_pct\": %.4f}%s\n",
					layers[i].name, macs_l[i], g_apu_l[i], g_xnn_l[i], lmed[i], mn, mx,
					diff_l[i], i + 1 < nlayers ? "," : "");
			}
			fprintf(jf, "  ],\n  \"geomean_ratio\": %.4f,\n  \"geomean_min\": %.4f,\n"
				"  \"geomean_max\": %.4f,\n  \"layer_ratio_min\": %.4f,\n"
				"  \"layer_ratio_min_layer\": \"%s\",\n"
				"  \"target_geomean\": %.2f,\n  \"target_layer_min\": %.2f,\n"
				"  \"target_geomean_met\": %s,\n  \"target_layer_min_met\": %s",
				gmed, gmin, gmax, lmin, layers[worst].name, TARGET_GEOMEAN,
				TARGET_LAYER_MIN, met_g ? "true" : "false", met_l ? "true" : "false");
		}
	}
	if (ops) {
		if (jf)
			fprintf(jf, ",\n");
		other_ops(jf, min_s, repeat);
	}
	if (jf) {
		fprintf(jf, "\n}\n");
		fclose(jf);
	}
	return 0;
}
