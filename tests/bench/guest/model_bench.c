// SPDX-License-Identifier: MIT
/*
 * Trained models, measured: load + compile time of each model, the memory a
 * loaded model holds against its file size, and the wall time of one
 * inference (on the APU in the VM, or with --cpu on the CPU backend).
 * Repeats each figure and reports min/median/max. Prints one
 * "APU-BENCH {json}" line per model.
 *
 * --steady N: instead, each model loaded and compiled once, then N
 * inferences after two warm-up runs (issue 16's figure against XNNPACK:
 * model_xnnpack_bench on the host), each timed, and how each inference's
 * wall time splits: libapu's CPU ops (their cpu_us), the device's busy
 * time as the driver counts it (fdinfo's drm-engine-*: from a job's post,
 * or its core's previous completion, to its completion; summed over the
 * cores and the busiest core); what the whole guest's CPUs spent per
 * inference (sysstat.h: kernel and user time of /proc/stat, context
 * switches, interrupts); and, from a warm-up run that asks for
 * statistics, the jobs and the wait before the first job started. One "model_inference" line per model.
 *
 *   model_bench [--cpu] [--repeat N] [--steady N] MODEL.tflite...
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <apu/apu.h>
#include <apu/apu_model.h>

#include "sysstat.h"

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

/* min, median, max of @n values (sorted in place). */
static void mmm(double *v, int n, double out[3])
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	out[0] = v[0];
	out[1] = v[n / 2];
	out[2] = v[n - 1];
}

/* Bytes the allocator hands out now (malloc arena and mmap'd blocks). */
static size_t heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* Per-core busy times (ns) into @v (up to 16 cores); returns the count. */
static int engine_cores(int fd, int64_t *v)
{
	char path[64], line[256];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (n < 16 && fgets(line, sizeof(line), f)) {
		const char *c = strchr(line, ':');
		long long x;

		if (!strncmp(line, "drm-engine-", 11) && c && sscanf(c + 1, "%lld", &x) == 1)
			v[n++] = x;
	}
	fclose(f);
	return n;
}

/* --steady: one model, loaded once, @runs inferences. */
static int steady(struct apu_device *dev, const char *path, const char *name, int cpu, int runs)
{
	double *wall = calloc((size_t)runs, sizeof(double));
	double *cpuop = calloc((size_t)runs, sizeof(double));
	double *busy = calloc((size_t)runs, sizeof(double));
	double *busy1 = calloc((size_t)runs, sizeof(double));
	double *queue = calloc((size_t)runs, sizeof(double));
	double w[3], c[3], b[3], b1[3], q[3];
	struct apu_model *m;
	struct apu_tensor_info ii;
	struct apu_run_stats st;
	struct sysstat s0, s1;
	char err[256] = "";
	int fd = cpu ? -1 : apu_device_fd(dev), nops, jobs = 0;
	void *x;

	if (!wall || !cpuop || !busy || !busy1 || !queue)
		return 1;
	if (apu_model_load_tflite(dev, path, &m, err, sizeof(err)) || apu_model_compile(m, NULL, 0)) {
		fprintf(stderr, "model_bench: %s: %s\n", path, err);
		return 1;
	}
	nops = apu_network_op_count(apu_model_network(m));
	apu_model_input_info(m, 0, &ii);
	x = calloc(1, ii.bytes);
	/* Warm-up; the second asks for statistics (a JOB_INFO per job): not timed. */
	if (!x || apu_model_set_input(m, 0, x, ii.bytes) || apu_model_run(m, NULL) ||
	    apu_model_run(m, &st))
		return 1;
	queue[0] = st.queue_us / 1e3;
	jobs = (int)st.jobs;
	sysstat_read(&s0);
	for (int i = 0; i < runs; i++) {
		int64_t e0[16], e1[16], most = 0, sum = 0;
		int n0 = fd >= 0 ? engine_cores(fd, e0) : 0, n1;
		double t0 = now_ms();

		if (apu_model_run(m, NULL))
			return 1;
		wall[i] = now_ms() - t0;
		n1 = fd >= 0 ? engine_cores(fd, e1) : 0;
		for (int k = 0; k < n0 && k < n1; k++) {
			sum += e1[k] - e0[k];
			if (e1[k] - e0[k] > most)
				most = e1[k] - e0[k];
		}
		busy[i] = sum / 1e6;
		busy1[i] = most / 1e6;
		for (int k = 0; k < nops; k++) {
			struct apu_op_info oi;

			if (!apu_network_op_info(apu_model_network(m), k, &oi, sizeof(oi)) &&
			    oi.place == APU_PLACE_CPU)
				cpuop[i] += oi.cpu_us / 1e3;
		}
	}
	sysstat_read(&s1);
	mmm(wall, runs, w);
	mmm(cpuop, runs, c);
	mmm(busy, runs, b);
	mmm(busy1, runs, b1);
	mmm(queue, 1, q);
	printf("APU-BENCH {\"bench\": \"model_inference\", \"model\": \"%s\", \"backend\": \"%s\", "
	       "\"inferences\": %d, \"jobs\": %d, \"inference_ms\": [%.2f, %.2f, %.2f], "
	       "\"cpu_ops_ms\": [%.2f, %.2f, %.2f], \"device_busy_sum_ms\": [%.2f, %.2f, %.2f], "
	       "\"device_busy_max_core_ms\": [%.2f, %.2f, %.2f], \"queue_ms_first\": %.2f, ",
	       name, cpu ? "cpu" : "apu", runs, jobs, w[0], w[1], w[2], c[0], c[1], c[2], b[0], b[1],
	       b[2], b1[0], b1[1], b1[2], q[0]);
	/* Per inference, the loop's averages (all guest CPUs; per_op: per inference). */
	sysstat_print(&s0, &s1, runs);
	printf("}\n");
	free(x);
	apu_model_destroy(m);
	free(wall);
	free(cpuop);
	free(busy);
	free(busy1);
	free(queue);
	return 0;
}

int main(int argc, char **argv)
{
	int cpu = 0, repeat = 7, first = 1, runs = 0;
	struct apu_device *dev;

	for (; first < argc && argv[first][0] == '-'; first++) {
		if (!strcmp(argv[first], "--cpu"))
			cpu = 1;
		else if (!strcmp(argv[first], "--repeat") && first + 1 < argc)
			repeat = atoi(argv[++first]);
		else if (!strcmp(argv[first], "--steady") && first + 1 < argc)
			runs = atoi(argv[++first]);
		else
			return 2;
	}
	if (repeat < 1 || repeat > 1000 || runs < 0 || runs > 10000 || first >= argc)
		return 2;
	if (cpu ? apu_device_open_cpu(&dev) : apu_device_open_index(0, &dev)) {
		fprintf(stderr, "model_bench: no device\n");
		return 1;
	}
	for (int a = first; a < argc && runs; a++) {
		const char *name = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];

		if (steady(dev, argv[a], name, cpu, runs))
			return 1;
	}
	for (int a = first; a < argc && !runs; a++) {
		double *load = calloc((size_t)repeat, sizeof(double));
		double *run = calloc((size_t)repeat, sizeof(double));
		double l[3], r[3], mem = 0;
		struct stat st;
		const char *name = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];

		if (!load || !run || stat(argv[a], &st))
			return 1;
		for (int i = 0; i < repeat; i++) {
			struct apu_model *m;
			struct apu_tensor_info ii;
			size_t before = heap_bytes();
			char err[256];
			double t0 = now_ms();
			void *x;

			if (apu_model_load_tflite(dev, argv[a], &m, err, sizeof(err)) ||
			    apu_model_compile(m, NULL, 0)) {
				fprintf(stderr, "model_bench: %s: %s\n", argv[a], err);
				return 1;
			}
			load[i] = now_ms() - t0;
			mem = (double)(heap_bytes() - before);
			apu_model_input_info(m, 0, &ii);
			x = calloc(1, ii.bytes);
			if (!x || apu_model_set_input(m, 0, x, ii.bytes) || apu_model_run(m, NULL))
				return 1;
			t0 = now_ms();
			if (apu_model_run(m, NULL))
				return 1;
			run[i] = now_ms() - t0;
			free(x);
			apu_model_destroy(m);
		}
		mmm(load, repeat, l);
		mmm(run, repeat, r);
		printf("APU-BENCH {\"bench\": \"model\", \"model\": \"%s\", \"backend\": \"%s\", "
		       "\"repeats\": %d, \"load_compile_ms\": [%.2f, %.2f, %.2f], "
		       "\"inference_ms\": [%.2f, %.2f, %.2f], \"file_bytes\": %lld, "
		       "\"heap_bytes\": %.0f, \"heap_per_file_byte\": %.3f}\n",
		       name, cpu ? "cpu" : "apu", repeat, l[0], l[1], l[2], r[0], r[1], r[2],
		       (long long)st.st_size, mem, mem / (double)st.st_size);
		free(load);
		free(run);
	}
	apu_device_close(dev);
	return 0;
}
