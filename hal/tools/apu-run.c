// SPDX-License-Identifier: MIT
/*
 * apu-run: run a built-in network (MobileNet V1/V2) or one convolution on
 * the APU through libapu, check the output bit-exact against the CPU
 * reference, and print per-core use, modeled time and energy.
 *
 *   apu-run [--model v1|v2] [--policy NAME|all] [--deadline-us N]
 *           [--conv H,W,C,OC,K,STRIDE[,GROUPS]] [--seed N] [--repeat N]
 *           [--trace FILE] [--cpu]
 *
 * Policies: performance, balanced, low-power, deadline (needs
 * --deadline-us). Exit status: 0 when every run matched the reference.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apu/apu.h>

static const char *const policy_names[] = {
	"performance", "balanced", "low-power", "deadline",
};

static void usage(FILE *f)
{
	fprintf(f, "usage: apu-run [--model v1|v2] [--policy performance|balanced|low-power|deadline|all]\n"
		   "               [--deadline-us N] [--conv H,W,C,OC,K,STRIDE[,GROUPS]] [--seed N]\n"
		   "               [--repeat N] [--trace FILE] [--cpu]\n");
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

static void print_stats(const struct apu_device *dev, const struct apu_run_stats *st)
{
	printf("    core  class   jobs  busy(us)  util   GMAC    energy(uJ)\n");
	for (unsigned int c = 0; c < st->num_cores; c++) {
		struct apu_core_info ci;

		apu_device_get_core(dev, c, &ci);
		printf("    %4u  %-6s %5u %9.1f %4.0f%% %6.3f %12.1f\n", c,
		       apu_core_class_name(ci.core_class), st->cores[c].jobs, st->cores[c].busy_us,
		       st->makespan_us > 0 ? 100.0 * st->cores[c].busy_us / st->makespan_us : 0,
		       st->cores[c].macs / 1e9, st->cores[c].energy_uj);
	}
	printf("    modeled time %.1f us, energy %.1f uJ; wall %.1f ms, queue %.1f us, %u jobs\n",
	       st->makespan_us, st->energy_uj, st->wall_us / 1000.0, st->queue_us, st->jobs);
}

/* The command line, parsed. */
struct run_args {
	enum apu_model model;
	int policy, all, cpu, repeat, nconv;
	unsigned int seed, conv[7];
	double deadline;
	const char *trace;
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(a, 0, sizeof(*a));
	a->model = APU_MODEL_MOBILENET_V2;
	a->policy = APU_POLICY_PERFORMANCE;
	a->repeat = 1;
	a->seed = 1;
	optind = 0;	/* glibc: a full reset */
	while ((opt = getopt_long(argc, argv, "m:p:d:c:s:r:t:Ch", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (!strcmp(optarg, "v1"))
				a->model = APU_MODEL_MOBILENET_V1;
			else if (!strcmp(optarg, "v2"))
				a->model = APU_MODEL_MOBILENET_V2;
			else
				return -EINVAL;
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
	    (a->policy == APU_POLICY_DEADLINE && !(a->deadline > 0)))
		return -EINVAL;
	return 0;
}

#ifndef APU_TOOL_NO_MAIN
int main(int argc, char **argv)
{
	struct run_args args;
	enum apu_model model;
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
		ret = apu_network_compile(net, &o);
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
				print_stats(dev, &st);
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
