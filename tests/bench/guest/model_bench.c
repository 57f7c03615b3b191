// SPDX-License-Identifier: MIT
/*
 * Trained models, measured: load + compile time of each model, the memory a
 * loaded model holds against its file size, and the wall time of one
 * inference (on the APU in the VM, or with --cpu on the CPU backend).
 * Repeats each figure and reports min/median/max. Prints one
 * "APU-BENCH {json}" line per model.
 *
 *   model_bench [--cpu] [--repeat N] MODEL.tflite...
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <apu/apu.h>
#include <apu/apu_model.h>

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

int main(int argc, char **argv)
{
	int cpu = 0, repeat = 7, first = 1;
	struct apu_device *dev;

	for (; first < argc && argv[first][0] == '-'; first++) {
		if (!strcmp(argv[first], "--cpu"))
			cpu = 1;
		else if (!strcmp(argv[first], "--repeat") && first + 1 < argc)
			repeat = atoi(argv[++first]);
		else
			return 2;
	}
	if (repeat < 1 || repeat > 1000 || first >= argc)
		return 2;
	if (cpu ? apu_device_open_cpu(&dev) : apu_device_open_index(0, &dev)) {
		fprintf(stderr, "model_bench: no device\n");
		return 1;
	}
	for (int a = first; a < argc; a++) {
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
