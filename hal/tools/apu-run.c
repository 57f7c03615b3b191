// SPDX-License-Identifier: MIT
/*
 * apu-run: run a TFLite model, a built-in network (MobileNet V1/V2) or one
 * convolution on the APU through libapu, check the output bit-exact
 * against the CPU reference, and print per-core use, modeled time and
 * energy; with a model and a picture, the top classes (docs/models.md).
 *
 *   apu-run [--model v1|v2|FILE.tflite] [--policy NAME|all] [--deadline-us N]
 *           [--conv H,W,C,OC,K,STRIDE[,GROUPS]] [--seed N] [--repeat N]
 *           [--trace FILE] [--cpu]
 *           [--image FILE] [--labels FILE] [--top N] [--resize nearest|bilinear]
 *           [--mean M] [--std S] [--describe] [--compare-reference]
 *           [--save-input FILE] [--save-output FILE]
 *
 * Policies: performance, balanced, low-power, deadline (needs
 * --deadline-us). Exit status: 0 when every run matched the reference.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apu/apu.h>
#include <apu/apu_image.h>
#include <apu/apu_model.h>

#include "image_load.h"

static const char *const policy_names[] = {
	"performance", "balanced", "low-power", "deadline",
};

static void usage(FILE *f)
{
	fprintf(f, "usage: apu-run [--model v1|v2|FILE.tflite] [--policy performance|balanced|low-power|deadline|all]\n"
		   "               [--deadline-us N] [--conv H,W,C,OC,K,STRIDE[,GROUPS]] [--seed N]\n"
		   "               [--repeat N] [--trace FILE] [--cpu]\n"
		   "               [--image FILE] [--labels FILE] [--top N] [--resize nearest|bilinear]\n"
		   "               [--mean M] [--std S] [--describe] [--compare-reference]\n"
		   "               [--save-input FILE] [--save-output FILE]\n");
}

/* One convolution from the command line, random data from @seed. */
static int build_conv(struct apu_network *net, const unsigned int *v, int n, unsigned int seed,
		      int *in, int *out)
{
	struct apu_shape s = { v[0], v[1], v[2] };
	unsigned int oc = v[3], k = v[4], stride = v[5], groups = n > 6 ? v[6] : 1;
	size_t wn = groups == s.c && groups > 1 ? (size_t)k * k * oc :
		    (size_t)oc * k * k * (s.c / (groups ? groups : 1));
	struct apu_conv2d p = {
		.out_c = oc, .k_h = k, .k_w = k, .stride_h = stride, .stride_w = stride,
		.dil_h = 1, .dil_w = 1, .groups = groups, .padding = APU_PAD_SAME,
		.in_zp = 1, .out_zp = -3, .act_min = -128, .act_max = 127,
	};
	int8_t *w = malloc(wn ? wn : 1);
	int32_t *bias = malloc(4 * (size_t)oc), *mult = malloc(4 * (size_t)oc);
	int32_t *shift = malloc(4 * (size_t)oc);
	int ret = -ENOMEM;

	srand(seed);
	if (w && bias && mult && shift) {
		for (size_t i = 0; i < wn; i++)
			w[i] = (int8_t)(rand() % 255 - 127);
		for (unsigned int i = 0; i < oc; i++) {
			bias[i] = rand() % 20001 - 10000;
			mult[i] = (1 << 30) + rand() % (1 << 29);
			shift[i] = -6 - rand() % 4;
		}
		p.weights = w;
		p.bias = bias;
		p.mult = mult;
		p.shift = shift;
		ret = apu_network_add_input(net, &s, in);
		if (!ret)
			ret = apu_network_add_conv2d(net, *in, &p, out);
	}
	free(w);
	free(bias);
	free(mult);
	free(shift);
	return ret;
}

static void print_stats(const struct apu_device *dev, const struct apu_network *net,
			const struct apu_run_stats *st)
{
	printf("    core  class   jobs  busy(us)  util   GMAC    energy(uJ)\n");
	for (unsigned int c = 0; c < st->num_cores; c++) {
		struct apu_core_stats cs = { 0 };
		struct apu_core_info ci;

		apu_device_get_core(dev, c, &ci, sizeof(ci));
		apu_network_get_core_stats(net, c, &cs, sizeof(cs));
		printf("    %4u  %-6s %5u %9.1f %4.0f%% %6.3f %12.1f\n", c,
		       apu_core_class_name(ci.core_class), cs.jobs, cs.busy_us,
		       st->makespan_us > 0 ? 100.0 * cs.busy_us / st->makespan_us : 0,
		       cs.macs / 1e9, cs.energy_uj);
	}
	printf("    modeled time %.1f us, energy %.1f uJ; wall %.1f ms, queue %.1f us, %u jobs\n",
	       st->makespan_us, st->energy_uj, st->wall_us / 1000.0, st->queue_us, st->jobs);
}

/* The command line, parsed. */
struct run_args {
	enum apu_builtin_model model;
	int policy, all, cpu, repeat, nconv;
	unsigned int seed, conv[7];
	double deadline;
	const char *trace;
	/* A model file and what to do with it. */
	const char *model_path, *image, *labels, *save_input, *save_output;
	int top, describe, compare, resize;
	double mean, std;
};

/*
 * Parse the command line into @a (getopt state is reset first, so it can
 * be called again). Returns 0, 1 after --help, or -EINVAL for a bad line.
 * tests/fuzz/fuzz_cli.c runs it on fuzzed command lines.
 */
static int parse_args(int argc, char **argv, struct run_args *a)
{
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "policy", required_argument, NULL, 'p' },
		{ "deadline-us", required_argument, NULL, 'd' },
		{ "conv", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "trace", required_argument, NULL, 't' },
		{ "cpu", no_argument, NULL, 'C' },
		{ "image", required_argument, NULL, 'i' },
		{ "labels", required_argument, NULL, 'l' },
		{ "top", required_argument, NULL, 'k' },
		{ "resize", required_argument, NULL, 'R' },
		{ "mean", required_argument, NULL, 'M' },
		{ "std", required_argument, NULL, 'S' },
		{ "describe", no_argument, NULL, 'D' },
		{ "compare-reference", no_argument, NULL, 'x' },
		{ "save-input", required_argument, NULL, 'I' },
		{ "save-output", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(a, 0, sizeof(*a));
	a->model = APU_MODEL_MOBILENET_V2;
	a->policy = APU_POLICY_PERFORMANCE;
	a->repeat = 1;
	a->seed = 1;
	a->top = 5;
	a->mean = 128.0;
	a->std = 128.0;
	a->resize = APU_RESIZE_NEAREST;
	optind = 0;	/* glibc: a full reset */
	while ((opt = getopt_long(argc, argv, "m:p:d:c:s:r:t:Ch", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (!strcmp(optarg, "v1"))
				a->model = APU_MODEL_MOBILENET_V1;
			else if (!strcmp(optarg, "v2"))
				a->model = APU_MODEL_MOBILENET_V2;
			else if (*optarg)
				a->model_path = optarg;	/* a model file */
			else
				return -EINVAL;
			break;
		case 'i':
			a->image = optarg;
			break;
		case 'l':
			a->labels = optarg;
			break;
		case 'k':
			a->top = atoi(optarg);
			if (a->top < 1 || a->top > 1000)
				return -EINVAL;
			break;
		case 'R':
			if (!strcmp(optarg, "nearest"))
				a->resize = APU_RESIZE_NEAREST;
			else if (!strcmp(optarg, "bilinear"))
				a->resize = APU_RESIZE_BILINEAR;
			else
				return -EINVAL;
			break;
		case 'M':
			a->mean = atof(optarg);
			break;
		case 'S':
			a->std = atof(optarg);
			if (!(a->std > 0) || a->std > 1e30)
				return -EINVAL;
			break;
		case 'D':
			a->describe = 1;
			break;
		case 'x':
			a->compare = 1;
			break;
		case 'I':
			a->save_input = optarg;
			break;
		case 'O':
			a->save_output = optarg;
			break;
		case 'p':
			if (!strcmp(optarg, "all")) {
				a->all = 1;
				break;
			}
			for (a->policy = 0; a->policy < 4; a->policy++)
				if (!strcmp(optarg, policy_names[a->policy]))
					break;
			if (a->policy == 4)
				return -EINVAL;
			break;
		case 'd':
			a->deadline = atof(optarg);
			break;
		case 'c':
			a->nconv = sscanf(optarg, "%u,%u,%u,%u,%u,%u,%u", &a->conv[0], &a->conv[1],
					  &a->conv[2], &a->conv[3], &a->conv[4], &a->conv[5],
					  &a->conv[6]);
			if (a->nconv < 6)
				return -EINVAL;
			break;
		case 's':
			a->seed = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			a->repeat = atoi(optarg);
			break;
		case 't':
			a->trace = optarg;
			break;
		case 'C':
			a->cpu = 1;
			break;
		case 'h':
			return 1;
		default:
			return -EINVAL;
		}
	}
	if (optind != argc || a->repeat < 1 ||
	    (a->policy == APU_POLICY_DEADLINE && !(a->deadline > 0)) ||
	    (a->model_path && a->nconv) ||
	    (!a->model_path && (a->image || a->labels || a->describe || a->compare ||
				a->save_input || a->save_output)) ||
	    !(a->mean == a->mean) || a->mean > 1e30 || a->mean < -1e30)
		return -EINVAL;
	return 0;
}

#ifndef APU_TOOL_NO_MAIN
static int save_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	int ret = 0;

	if (!f)
		return -errno;
	if (fwrite(data, 1, size, f) != size)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/* Line @n (from 0) of the labels file, or NULL. */
static char **read_labels(const char *path, size_t *count)
{
	FILE *f = fopen(path, "r");
	char line[512], **v = NULL;
	size_t n = 0;

	*count = 0;
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		char **nv = realloc(v, sizeof(*v) * (n + 1));

		if (!nv)
			break;
		v = nv;
		line[strcspn(line, "\r\n")] = 0;
		v[n] = strdup(line);
		if (!v[n])
			break;
		n++;
	}
	fclose(f);
	*count = n;
	return v;
}

/*
 * The model's input from a picture: resized to the input's height and
 * width, each byte p made (p - mean) / std and quantized with the input's
 * quantization; when that is the identity (scale x std = 1 and zero point
 * = mean, pycoral's rule), the bytes are used as they are.
 */
static int picture_input(const struct run_args *a, const struct apu_tensor_info *ii,
			 void **out)
{
	unsigned int w, h, ow, oh, ch;
	uint8_t *rgb = NULL, *rs = NULL;
	char msg[256];
	int ret;

	if (ii->ndims != 4 || ii->dims[0] != 1 || (ii->dims[3] != 3 && ii->dims[3] != 1)) {
		fprintf(stderr, "apu-run: the model's input is not a 1xHxWx3 (or x1) picture\n");
		return -EINVAL;
	}
	oh = (unsigned int)ii->dims[1];
	ow = (unsigned int)ii->dims[2];
	ch = (unsigned int)ii->dims[3];
	ret = tool_image_load(a->image, &rgb, &w, &h, msg, sizeof(msg));
	if (ret) {
		fprintf(stderr, "apu-run: %s\n", msg);
		return ret;
	}
	if (ch == 1)	/* grey: the mean of R, G and B */
		for (size_t i = 0; i < (size_t)w * h; i++)
			rgb[i] = (uint8_t)((rgb[3 * i] + rgb[3 * i + 1] + rgb[3 * i + 2] + 1) / 3);
	rs = malloc((size_t)ow * oh * ch);
	*out = malloc(ii->bytes);
	if (!rs || !*out) {
		ret = -ENOMEM;
		goto out;
	}
	ret = apu_image_resize(rgb, w, h, ch, rs, ow, oh, (enum apu_resize)a->resize);
	if (ret)
		goto out;
	for (size_t i = 0; i < ii->count; i++) {
		double f = (rs[i] - a->mean) / a->std;

		if (ii->dtype == APU_DTYPE_FLOAT32) {
			float v = (float)f;

			memcpy((uint8_t *)*out + 4 * i, &v, 4);
		} else if (fabs(ii->scale * a->std - 1) < 1e-5 &&
			   fabs(a->mean - ii->zero_point) < 1e-5) {
			((uint8_t *)*out)[i] = ii->dtype == APU_DTYPE_UINT8 ? rs[i] :
					       (uint8_t)(rs[i] ^ 0x80);
		} else {
			long q = lround(f / ii->scale) + ii->zero_point;
			long lo = ii->dtype == APU_DTYPE_UINT8 ? 0 : -128;

			q = q < lo ? lo : q > lo + 255 ? lo + 255 : q;
			((uint8_t *)*out)[i] = (uint8_t)q;
		}
	}
out:
	tool_image_free(rgb);
	free(rs);
	if (ret) {
		free(*out);
		*out = NULL;
	}
	return ret;
}

static void describe_model(const struct apu_model *m)
{
	printf("  op  TFLite op           where   cores   shapes                           quantization\n");
	for (int i = 0; i < apu_model_op_count(m); i++) {
		struct apu_model_op_info oi;
		char cores[16] = "-";

		apu_model_op_info(m, i, &oi, sizeof(oi));
		if (oi.core_mask)
			snprintf(cores, sizeof(cores), "0x%02x", oi.core_mask);
		printf("  %3d %-19s %-7s %-7s %-32s %s\n", i, oi.name, oi.place_name, cores,
		       oi.shapes, oi.quant);
	}
}

/* A model file: load, compile, feed, run, report. 0, or the failures. */
static int run_model(struct apu_device *dev, const struct run_args *a, int policy)
{
	struct apu_compile_options o = { .policy = (enum apu_policy)policy, .priority = 1,
					 .deadline_us = a->deadline };
	struct apu_tensor_info ii, oi;
	struct apu_model *m;
	struct apu_run_stats st = { 0 };
	void *x = NULL;
	float *y = NULL;
	char err[256];
	int ret, failures = 0;

	ret = apu_model_load_tflite(dev, a->model_path, &m, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "apu-run: %s: %s\n", a->model_path, err[0] ? err : apu_strerror(ret));
		return 1;
	}
	ret = apu_model_compile(m, &o, sizeof(o));
	printf("%s, policy %s: ", a->model_path, policy_names[policy]);
	if (ret) {
		printf("refused: %s\n", apu_strerror(ret));
		apu_model_destroy(m);
		return ret == -ETIME ? 0 : 1;
	}
	printf("planned %.1f us\n", apu_network_modeled_us(apu_model_network(m)));
	if (a->describe)
		describe_model(m);
	if (apu_model_input_info(m, 0, &ii) || apu_model_output_info(m, 0, &oi)) {
		printf("  the model has no input or no output\n");
		apu_model_destroy(m);
		return 1;
	}
	if (a->image) {
		ret = picture_input(a, &ii, &x);
	} else {
		x = malloc(ii.bytes);
		ret = x ? 0 : -ENOMEM;
		srand(a->seed + 7);
		for (size_t i = 0; x && i < ii.bytes; i++)
			((uint8_t *)x)[i] = (uint8_t)(rand() & 0xff);
		if (x && ii.dtype == APU_DTYPE_FLOAT32)
			for (size_t i = 0; i < ii.count; i++)
				((float *)x)[i] = (float)(rand() % 2001 - 1000) / 1000.0f;
	}
	if (!ret)
		ret = apu_model_set_input(m, 0, x, ii.bytes);
	if (!ret && a->save_input)
		ret = save_file(a->save_input, x, ii.bytes);
	for (int r = 0; !ret && r < a->repeat; r++)
		ret = apu_model_run(m, &st);
	if (ret) {
		printf("  run failed: %s\n", apu_strerror(ret));
		failures++;
		goto out;
	}
	y = malloc(sizeof(float) * oi.count);
	if (!y || apu_model_get_output_float(m, 0, y, oi.count)) {
		failures++;
		goto out;
	}
	if (a->save_output) {
		void *raw = malloc(oi.bytes);

		if (!raw || apu_model_get_output(m, 0, raw, oi.bytes) ||
		    save_file(a->save_output, raw, oi.bytes)) {
			fprintf(stderr, "apu-run: cannot save the output\n");
			failures++;
		}
		free(raw);
	}
	if (a->image || a->labels) {
		size_t nl = 0;
		char **labels = a->labels ? read_labels(a->labels, &nl) : NULL;

		printf("  top %d:\n", a->top);
		for (int k = 0; k < a->top && (size_t)k < oi.count; k++) {
			size_t b = 0;

			for (size_t i = 1; i < oi.count; i++)
				if (y[i] > y[b])
					b = i;
			printf("    %zu  %.4f  %s\n", b, y[b], b < nl ? labels[b] : "");
			y[b] = -INFINITY;
		}
		for (size_t i = 0; i < nl; i++)
			free(labels[i]);
		free(labels);
	}
	for (int i = 0; i < apu_model_op_count(m); i++) {
		struct apu_model_op_info mi;

		apu_model_op_info(m, i, &mi, sizeof(mi));
		if (mi.place == APU_MODEL_OP_CPU) {
			struct apu_op_info ni;

			apu_network_op_info(apu_model_network(m), mi.network_op + mi.network_ops - 1,
					    &ni, sizeof(ni));
			printf("    op %d %s on the CPU: %.1f us\n", i, mi.name, ni.cpu_us);
		}
	}
	print_stats(dev, apu_model_network(m), &st);
	if (a->compare) {
		struct apu_model_compare c;

		ret = apu_model_compare_reference(m, &c);
		if (ret) {
			printf("  cannot compare: %s\n", apu_strerror(ret));
			failures++;
		} else if (c.values_differing) {
			printf("  differs from the CPU reference: %u of %u tensors, %llu of %llu values, by up to %u (first at op %d)\n",
			       c.tensors_differing, c.tensors, (unsigned long long)c.values_differing,
			       (unsigned long long)c.values, c.max_abs_diff, c.first_differing_op);
			failures++;
		} else {
			printf("  bit-exact with the CPU reference: %u tensors, %llu values\n",
			       c.tensors, (unsigned long long)c.values);
		}
	}
	if (a->trace) {
		ret = apu_network_write_trace(apu_model_network(m), a->trace);
		if (ret)
			fprintf(stderr, "apu-run: cannot write the trace: %s\n", apu_strerror(ret));
	}
out:
	free(x);
	free(y);
	apu_model_destroy(m);
	return failures;
}
#endif

#ifndef APU_TOOL_NO_MAIN
int main(int argc, char **argv)
{
	struct run_args args;
	enum apu_builtin_model model;
	int policy, all, cpu, repeat, nconv;
	unsigned int seed, *conv;
	double deadline;
	const char *trace;
	struct apu_device *dev;
	int ret, failures = 0;

	ret = parse_args(argc, argv, &args);
	if (ret == 1) {
		usage(stdout);
		return 0;
	}
	if (ret)
		goto bad;
	model = args.model;
	policy = args.policy;
	all = args.all;
	cpu = args.cpu;
	repeat = args.repeat;
	nconv = args.nconv;
	seed = args.seed;
	conv = args.conv;
	deadline = args.deadline;
	trace = args.trace;

	ret = cpu ? apu_device_open_cpu(&dev) : apu_device_open_index(0, &dev);
	if (ret) {
		fprintf(stderr, "apu-run: cannot open an APU: %s\n", apu_strerror(ret));
		return 1;
	}
	if (args.model_path) {
		for (int p = all ? 0 : policy; p <= (all ? 3 : policy); p++)
			if (p != APU_POLICY_DEADLINE || deadline > 0)
				failures += run_model(dev, &args, p);
		apu_device_close(dev);
		return failures ? 1 : 0;
	}
	for (int p = all ? 0 : policy; p <= (all ? 3 : policy); p++) {
		struct apu_compile_options o = { .policy = (enum apu_policy)p, .priority = 1,
						 .deadline_us = deadline };
		struct apu_network *net;
		struct apu_shape s;
		int in, out;
		size_t in_n, out_n;
		int8_t *x = NULL, *y = NULL, *ref = NULL;

		if (p == APU_POLICY_DEADLINE && !(deadline > 0))
			continue;	/* "all" without a deadline */
		ret = apu_network_create(dev, &net);
		if (!ret)
			ret = nconv ? build_conv(net, conv, nconv, seed, &in, &out) :
			      apu_network_build_model(net, model, seed, &in, &out);
		if (ret) {
			fprintf(stderr, "apu-run: cannot build the network: %s\n", apu_strerror(ret));
			return 1;
		}
		ret = apu_network_compile(net, &o, sizeof(o));
		printf("%s, policy %s: ", nconv ? "convolution" :
		       model == APU_MODEL_MOBILENET_V1 ? "MobileNet V1" : "MobileNet V2",
		       policy_names[p]);
		if (ret) {
			printf("refused: %s\n", ret == -ETIME ?
			       "the deadline cannot be met, even with every core" : apu_strerror(ret));
			apu_network_destroy(net);
			if (ret != -ETIME)
				failures++;
			continue;
		}
		printf("planned %.1f us\n", apu_network_modeled_us(net));
		apu_network_shape(net, in, &s);
		in_n = (size_t)s.h * s.w * s.c;
		apu_network_shape(net, out, &s);
		out_n = (size_t)s.h * s.w * s.c;
		x = malloc(in_n);
		y = malloc(out_n);
		ref = malloc(out_n);
		if (!x || !y || !ref) {
			fprintf(stderr, "apu-run: out of memory\n");
			free(x);
			free(y);
			free(ref);
			apu_network_destroy(net);
			return 1;
		}
		srand(seed + 7);
		for (int r = 0; r < repeat; r++) {
			struct apu_run_stats st;

			for (size_t i = 0; i < in_n; i++)
				x[i] = (int8_t)(rand() & 0xff);
			ret = apu_network_write(net, in, x, in_n);
			if (!ret)
				ret = apu_network_run(net, &st);
			if (ret) {
				printf("  run %d failed: %s\n", r, apu_strerror(ret));
				failures++;
				break;
			}
			apu_network_read(net, out, y, out_n);
			apu_network_run_reference(net);
			apu_network_read_reference(net, out, ref, out_n);
			if (memcmp(y, ref, out_n)) {
				size_t bad = 0;

				for (size_t i = 0; i < out_n; i++)
					bad += y[i] != ref[i];
				printf("  run %d: output differs from the CPU reference in %zu of %zu bytes\n",
				       r, bad, out_n);
				failures++;
			} else {
				printf("  run %d: output bit-exact with the CPU reference (%zu bytes)\n",
				       r, out_n);
			}
			if (r == repeat - 1)
				print_stats(dev, net, &st);
		}
		if (trace && !ret) {
			char path[512];

			snprintf(path, sizeof(path), all ? "%s.%s.json" : "%s", trace, policy_names[p]);
			ret = apu_network_write_trace(net, all ? path : trace);
			if (ret)
				fprintf(stderr, "apu-run: cannot write the trace: %s\n", apu_strerror(ret));
			else
				printf("  trace: %s\n", all ? path : trace);
		}
		free(x);
		free(y);
		free(ref);
		apu_network_destroy(net);
	}
	apu_device_close(dev);
	return failures ? 1 : 0;
bad:
	usage(stderr);
	return 2;
}
#endif
