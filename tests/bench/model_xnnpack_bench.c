// SPDX-License-Identifier: MIT
/*
 * model_xnnpack_bench: a whole TFLite int8 model (MobileNet V2) run by
 * XNNPACK's subgraph runtime on the host, the peer of the emulated NPU's
 * inference in the VM (model_bench, issue 16: APU <= 1.5x XNNPACK with as
 * many threads as the host has cores).
 *
 *   model_xnnpack_bench [--threads N] [--repeat R] [--runs N] [--json FILE]
 *                       MODEL.tflite PHOTO
 *
 * The model is built by tests/bench/xnn_tflite.h (which ops become which
 * nodes is described there). Before timing, its logits on PHOTO are
 * compared with libapu's CPU reference (TFLite's kernels, bit-exact): top-1
 * equal and every logit within XNN_TFL_LOGITS_TOLERANCE (why that bound:
 * xnn_tflite.h), else the bench fails rather than time a wrong model.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xnn_tflite.h"
#include "exec_cmds.h"	/* tests/host: a network's command buffers through the engine */


static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct timing {
	size_t threads;
	double ms[3];		/* min, median, max of single inferences */
	double round_ms;	/* median over rounds of a round's mean */
};

static int time_model(const struct tfl_model *tf, const uint8_t *photo, size_t threads,
		      int repeat, int runs, struct timing *t)
{
	struct xnn_tfl x;
	char err[256];
	double *all = calloc((size_t)repeat * (size_t)runs, sizeof(double));
	double *rounds = calloc((size_t)repeat, sizeof(double));
	int ret = all && rounds ? xnn_tfl_build(&x, tf, threads, err, sizeof(err)) : -ENOMEM;

	if (ret) {
		fprintf(stderr, "model_xnnpack_bench: %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < x.in_count; i++)
		x.in[i] = (int8_t)(photo[i] ^ 0x80);
	for (int i = 0; i < 5 && !ret; i++)	/* warm-up */
		ret = xnn_tfl_run(&x);
	for (int r = 0; r < repeat && !ret; r++) {
		double r0 = now_ms();

		for (int i = 0; i < runs && !ret; i++) {
			double t0 = now_ms();

			ret = xnn_tfl_run(&x);
			all[r * runs + i] = now_ms() - t0;
		}
		rounds[r] = (now_ms() - r0) / runs;
	}
	if (!ret) {
		qsort(all, (size_t)repeat * (size_t)runs, sizeof(double), cmp_d);
		qsort(rounds, (size_t)repeat, sizeof(double), cmp_d);
		t->threads = x.threads ? x.threads : 1;
		t->ms[0] = all[0];
		t->ms[1] = all[(size_t)repeat * (size_t)runs / 2];
		t->ms[2] = all[(size_t)repeat * (size_t)runs - 1];
		t->round_ms = rounds[repeat / 2];
	}
	xnn_tfl_destroy(&x);
out:
	free(all);
	free(rounds);
	return ret;
}

/* Where the time goes, by kind of layer. */
enum { K_DW, K_PW, K_CONV, K_ADD, K_OTHER, K_N };
static const char *const kind_name[K_N] = { "depthwise", "1x1", "other conv", "add", "other" };

static int median_kinds(double *t, int repeat, double out[K_N])
{
	for (int k = 0; k < K_N; k++) {
		double v[repeat];

		for (int r = 0; r < repeat; r++)
			v[r] = t[r * K_N + k];
		qsort(v, (size_t)repeat, sizeof(double), cmp_d);
		out[k] = v[repeat / 2];
	}
	return 0;
}

/*
 * The device's side on the host: the model compiled for the APU (policy
 * performance), every job's command buffer run through the engine the
 * QEMU device runs (firmware-stub; exec_cmds.h, as model_test does), one
 * op after another on this thread, on the CPU reference's tensors: what
 * the emulated device computes per inference, without the VM, the guest,
 * the driver or the six core threads. @ms: min / median / max of @repeat
 * (ops timed one by one and summed); @kinds: median per kind of layer.
 */
static int engine_time(const void *file, size_t size, const uint8_t *photo, size_t in_n,
		       int repeat, double ms[3], double kinds[K_N], int *jobs, int *ops)
{
	struct apu_device *dev;
	struct apu_model *m = NULL;
	struct exec x = { 0 };
	double *t = calloc((size_t)repeat * (K_N + 1), sizeof(double)), *tot = t + repeat * K_N;
	char err[256] = "";
	int ret;

	ret = t ? apu_device_open_cpu(&dev) : -ENOMEM;
	if (ret)
		return ret;
	ret = apu_model_load_tflite_buffer(dev, file, size, &m, err, sizeof(err));
	if (!ret)
		ret = apu_model_compile(m, NULL, 0);
	if (!ret)
		ret = apu_model_set_input(m, 0, photo, in_n);
	if (!ret)
		ret = apu_model_run(m, NULL);	/* every tensor, as the device would find them */
	if (!ret) {
		x.net = apu_model_network(m);
		for (int i = 0; i < 3; i++)
			x.buf[i] = apu_network_buffer(x.net, i);
		x.cover = calloc(1, apu_buffer_size(x.buf[0]));
		ret = x.cover ? exec_network(&x) : -ENOMEM;	/* warm-up */
	}
	for (int r = 0; r < repeat && !ret; r++) {
		const void *cmd;
		uint32_t cs;
		unsigned int core;

		*ops = 0;
		for (*jobs = 0; !ret && !apu_network_job(x.net, *jobs, &cmd, &cs, &core); (*jobs)++) {
			const uint8_t *c = cmd;
			int n = rd16(c + OFF(apu_cmd_header, num_ops));

			for (int k = 0; k < n && !ret; k++) {
				const uint8_t *op = c + sizeof(struct apu_cmd_header) + k * APU_OP_SIZE;
				int code = (uint16_t)rd16(op), kind = K_OTHER;
				double t0;

				if (code == APU_OP_CONV2D)
					kind = rd16(op + OFF(apu_op_conv2d, groups)) > 1 ? K_DW :
					       rd16(op + OFF(apu_op_conv2d, k_h)) == 1 &&
					       rd16(op + OFF(apu_op_conv2d, k_w)) == 1 ? K_PW : K_CONV;
				else if (code == APU_OP_ADD)
					kind = K_ADD;
				t0 = now_ms();
				ret = exec_op(&x, op);
				t0 = now_ms() - t0;
				t[r * K_N + kind] += t0;
				tot[r] += t0;
				(*ops)++;
			}
		}
	}
	if (!ret) {
		median_kinds(t, repeat, kinds);
		qsort(tot, (size_t)repeat, sizeof(double), cmp_d);
		ms[0] = tot[0];
		ms[1] = tot[repeat / 2];
		ms[2] = tot[repeat - 1];
	} else {
		fprintf(stderr, "model_xnnpack_bench: engine: %d %s\n", ret, err);
	}
	free(x.cover);
	free(t);
	apu_model_destroy(m);
	apu_device_close(dev);
	return ret;
}

/*
 * XNNPACK's side of the same breakdown: each op of the model alone in a
 * one-thread runtime (xnn_tfl_build_op), median of @repeat, summed by kind.
 */
static int xnn_kinds(const struct tfl_model *tf, int repeat, double kinds[K_N])
{
	double *t = calloc((size_t)repeat * K_N, sizeof(double));
	char err[256];
	int ret = t ? 0 : -ENOMEM;

	for (int i = 0; i < tf->nops && !ret; i++) {
		const struct tfl_op *op = &tf->ops[i];
		int kind = op->code == TFL_DEPTHWISE_CONV_2D ? K_DW :
			   op->code == TFL_ADD ? K_ADD : K_OTHER;
		struct xnn_tfl x;

		if (op->code == TFL_CONV_2D)
			kind = tf->t[op->in[1]].dims[1] == 1 && tf->t[op->in[1]].dims[2] == 1 ? K_PW :
											      K_CONV;
		if (op->code == TFL_QUANTIZE || op->code == TFL_RESHAPE || op->code == TFL_SQUEEZE ||
		    op->code == TFL_SOFTMAX)
			continue;	/* no node (SOFTMAX: fp32, timed with the model) */
		ret = xnn_tfl_build_op(&x, tf, i, err, sizeof(err));
		if (!ret)
			ret = xnn_tfl_run(&x);	/* warm-up */
		for (int r = 0; r < repeat && !ret; r++) {
			double t0 = now_ms();

			ret = xnn_tfl_run(&x);
			t[r * K_N + kind] += now_ms() - t0;
		}
		xnn_tfl_destroy(&x);
	}
	if (!ret)
		median_kinds(t, repeat, kinds);
	else
		fprintf(stderr, "model_xnnpack_bench: %s\n", err);
	free(t);
	return ret;
}

int main(int argc, char **argv)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = (int)(cores > 0 ? cores : 1), repeat = 5, runs = 20, a = 1, ret, maxd, nodes;
	const char *json = NULL, *name;
	struct tfl_model tf;
	struct xnn_tfl x;
	struct timing tn, t1;
	size_t size, differing, top_x, top_r, nlogits, nin;
	double eng[3], ekind[K_N], xkind[K_N];
	int jobs = 0, eops = 0;
	uint8_t *photo = NULL;
	int8_t *ref;
	char err[256];
	void *file;
	FILE *f;

	for (; a < argc && argv[a][0] == '-'; a++) {
		if (!strcmp(argv[a], "--threads") && a + 1 < argc)
			threads = atoi(argv[++a]);
		else if (!strcmp(argv[a], "--repeat") && a + 1 < argc)
			repeat = atoi(argv[++a]);
		else if (!strcmp(argv[a], "--runs") && a + 1 < argc)
			runs = atoi(argv[++a]);
		else if (!strcmp(argv[a], "--json") && a + 1 < argc)
			json = argv[++a];
		else
			break;
	}
	if (a + 2 != argc || threads < 1 || repeat < 1 || runs < 1 || repeat * runs > 100000) {
		fprintf(stderr, "usage: model_xnnpack_bench [--threads N] [--repeat R] [--runs N] "
				"[--json FILE] MODEL.tflite PHOTO\n");
		return 2;
	}
	name = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
	file = xnn_tfl_slurp(argv[a], &size);
	if (!file || tfl_parse(file, size, &tf, err, sizeof(err))) {
		fprintf(stderr, "model_xnnpack_bench: %s: %s\n", argv[a], file ? err : "unreadable");
		return 1;
	}

	/* Correctness first: the logits against libapu's CPU reference. */
	ret = xnn_tfl_build(&x, &tf, 1, err, sizeof(err));
	if (!ret && (tf.t[tf.inputs[0]].ndims != 4 || tf.t[tf.inputs[0]].dims[3] != 3 ||
		     (size_t)tf.t[tf.inputs[0]].elems != x.in_count))
		ret = xnn_tfl_fail(err, sizeof(err), -EINVAL, "input is not 1xHxWx3");
	if (!ret)
		ret = xnn_tfl_photo(argv[a + 1], (unsigned int)tf.t[tf.inputs[0]].dims[1],
				    (unsigned int)tf.t[tf.inputs[0]].dims[2], &photo, err,
				    sizeof(err));
	ref = ret ? NULL : malloc(x.logits_count);
	if (!ret && !ref)
		ret = -ENOMEM;
	if (!ret)
		ret = xnn_tfl_reference(file, size, photo, x.in_count, ref, x.logits_count, err,
					sizeof(err));
	if (!ret) {
		for (size_t i = 0; i < x.in_count; i++)
			x.in[i] = (int8_t)(photo[i] ^ 0x80);
		ret = xnn_tfl_run(&x);
	}
	if (ret) {
		fprintf(stderr, "model_xnnpack_bench: %s\n", err);
		return 1;
	}
	maxd = xnn_tfl_maxdiff(x.logits, ref, x.logits_count, &differing);
	top_x = xnn_tfl_argmax(x.logits, x.logits_count);
	top_r = xnn_tfl_argmax(ref, x.logits_count);
	printf("%s on %s: %d XNNPACK nodes; logits against libapu's CPU reference: top-1 %zu / %zu, "
	       "%zu of %zu differ, max |diff| %d (tolerance %d)\n",
	       name, strrchr(argv[a + 1], '/') ? strrchr(argv[a + 1], '/') + 1 : argv[a + 1],
	       x.nodes, top_x, top_r, differing, x.logits_count, maxd, XNN_TFL_LOGITS_TOLERANCE);
	nodes = x.nodes;
	nlogits = x.logits_count;
	nin = x.in_count;
	xnn_tfl_destroy(&x);
	if (top_x != top_r || maxd > XNN_TFL_LOGITS_TOLERANCE) {
		fprintf(stderr, "model_xnnpack_bench: XNNPACK's model disagrees with the reference\n");
		return 1;
	}

	if (time_model(&tf, photo, (size_t)threads, repeat, runs, &tn) ||
	    time_model(&tf, photo, 1, repeat, runs, &t1) ||
	    engine_time(file, size, photo, nin, repeat * 2, eng, ekind, &jobs, &eops) ||
	    xnn_kinds(&tf, repeat * 2, xkind))
		return 1;
	printf("XNNPACK subgraph, %zu threads (host cores %ld): %.3f / %.3f / %.3f ms per inference "
	       "(min / median / max of %d); round means, median %.3f ms\n",
	       tn.threads, cores, tn.ms[0], tn.ms[1], tn.ms[2], repeat * runs, tn.round_ms);
	printf("XNNPACK subgraph, 1 thread:  %.3f / %.3f / %.3f ms per inference; round means, "
	       "median %.3f ms\n", t1.ms[0], t1.ms[1], t1.ms[2], t1.round_ms);
	printf("APU engine on the host, %d jobs (%d ops) one after another, 1 thread: %.3f / %.3f / "
	       "%.3f ms per inference (device ops only); against XNNPACK's 1 thread (medians) "
	       "%.2fx\n", jobs, eops, eng[0], eng[1], eng[2], eng[1] / t1.ms[1]);
	printf("by kind of layer, 1 thread, ms (medians): kind, APU engine, XNNPACK (each op alone), "
	       "ratio\n");
	for (int k = 0; k < K_N; k++)
		printf("  %-10s %9.3f %9.3f %6.2f\n", kind_name[k], ekind[k], xkind[k],
		       xkind[k] > 0 ? ekind[k] / xkind[k] : 0.0);
	if (json) {
		f = fopen(json, "w");
		if (!f)
			return 1;
		fprintf(f, "{\"bench\": \"model_xnnpack\", \"model\": \"%s\", \"host_cores\": %ld, "
			   "\"threads\": %zu, \"inferences\": %d, \"inference_ms\": [%.4f, %.4f, %.4f], "
			   "\"round_mean_ms\": %.4f, \"inference_ms_1thread\": [%.4f, %.4f, %.4f], "
			   "\"round_mean_ms_1thread\": %.4f, \"nodes\": %d, \"top1\": %zu, "
			   "\"top1_reference\": %zu, \"logits\": %zu, \"logits_differing\": %zu, "
			   "\"logits_max_abs_diff\": %d, \"tolerance\": %d, "
			   "\"engine_serial_ms\": [%.4f, %.4f, %.4f], \"engine_jobs\": %d, "
			   "\"engine_ops\": %d, \"kinds\": [",
			name, cores, tn.threads, repeat * runs, tn.ms[0], tn.ms[1], tn.ms[2],
			tn.round_ms, t1.ms[0], t1.ms[1], t1.ms[2], t1.round_ms, nodes, top_x,
			top_r, nlogits, differing, maxd, XNN_TFL_LOGITS_TOLERANCE, eng[0], eng[1],
			eng[2], jobs, eops);
		for (int k = 0; k < K_N; k++)
			fprintf(f, "%s{\"kind\": \"%s\", \"engine_ms\": %.4f, \"xnnpack_ms\": %.4f}",
				k ? ", " : "", kind_name[k], ekind[k], xkind[k]);
		fprintf(f, "]}\n");
		fclose(f);
	}
	free(ref);
	free(photo);
	tfl_free(&tf);
	free(file);
	return 0;
}
