// SPDX-License-Identifier: MIT
/*
 * Submission path (make bench, in the VM): the smallest jobs through
 * libapu -> ioctl -> driver -> device -> interrupt -> fence. One job is
 * one run of a one-op network (a 1x1x8 pointwise convolution) pinned to a
 * core. Latency at queue depth 1 (run, wait, repeat) and throughput at
 * queue depth 32 (32 networks in flight), on one core and on all six;
 * depth 1 also with run statistics asked for (libapu then reads every
 * job's record), and both depths on one core also on the path libapu
 * takes with drivers before 0.3 ("driver02": a syncobj wait and every
 * record read). Each figure is measured REPEATS times, the repeats of the
 * figures compared interleaved: min / median / max.
 * Next to them, per job: ioctls (counted here, by interposing ioctl()),
 * and what the whole guest spent (sysstat.h): kernel and user CPU time,
 * context switches, interrupts. Prints "APU-BENCH {json}" lines.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <apu/apu.h>

#include "../bench_net.h"
#include "sysstat.h"

#define REPEATS 5

static unsigned long ioctls;

/* Every ioctl() of libapu and libdrm comes here: counted, then made. */
int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	ioctls++;
	return (int)syscall(SYS_ioctl, fd, request, arg);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static struct apu_network *tiny(struct apu_device *dev, unsigned int mask)
{
	struct apu_compile_options o = { .policy = APU_POLICY_PERFORMANCE, .priority = 1,
					 .core_mask = mask };
	struct apu_network *net = bench_tiny_net(dev, &o);

	if (!net) {
		fprintf(stderr, "submit_bench: cannot build the network\n");
		exit(1);
	}
	return net;
}

/* Runs of @nets[0..depth) for @secs seconds: depth 1 runs, deeper submits all then waits. */
static long measure(struct apu_network **nets, int depth, bool stats, double secs)
{
	struct apu_run_stats st;
	double t0 = now();
	long n;

	for (n = 0; now() - t0 < secs; n += depth) {
		for (int i = 0; i < depth; i++)
			if (apu_network_submit(nets[i], -1, NULL))
				exit(1);
		for (int i = 0; i < depth; i++)
			if (apu_network_wait(nets[i], -1, stats ? &st : NULL))
				exit(1);
	}
	return n;
}

/* One figure: runs of nets[0..depth) through one device, with or without statistics. */
struct variant {
	const char *name;
	struct apu_network *nets[32];
	int depth;
	bool stats;
	double ops[REPEATS], lat[REPEATS];
	struct sysstat cost;		/* sums of deltas */
	unsigned long ioctls;
	long total;
};

/*
 * Measure @n variants, their repeats interleaved (variant 0, 1, ..., 0,
 * 1, ...) so that a slower or faster stretch of the (shared, noisy) host
 * falls on all of them alike, and print each.
 */
static void report(struct variant *v, int n, double secs)
{
	for (int k = 0; k < n; k++)
		measure(v[k].nets, v[k].depth, v[k].stats, 0.05);	/* warm up */
	for (int r = 0; r < REPEATS; r++)
		for (int k = 0; k < n; k++) {
			struct sysstat a, b;
			unsigned long io0 = ioctls;
			long ops;

			sysstat_read(&a);
			ops = measure(v[k].nets, v[k].depth, v[k].stats, secs / REPEATS);
			sysstat_read(&b);
			v[k].ioctls += ioctls - io0;
			v[k].ops[r] = ops / (b.t - a.t);
			v[k].lat[r] = (b.t - a.t) / ops * 1e6;
			v[k].total += ops;
			sysstat_add(&v[k].cost, &a, &b);
		}
	for (int k = 0; k < n; k++) {
		struct sysstat zero = { 0 };

		printf("APU-BENCH {\"bench\": \"%s\", \"repeats\": %d, ", v[k].name, REPEATS);
		sysstat_spread("ops_per_s", v[k].ops, REPEATS);
		printf(", \"ops_per_s\": %.1f", v[k].ops[REPEATS / 2]);
		if (v[k].depth == 1) {
			printf(", ");
			sysstat_spread("latency_us", v[k].lat, REPEATS);
			printf(", \"latency_us\": %.2f", v[k].lat[REPEATS / 2]);
		}
		printf(", \"ops\": %ld, \"ioctls_per_op\": %.2f, ", v[k].total,
		       (double)v[k].ioctls / (double)v[k].total);
		sysstat_print(&zero, &v[k].cost, v[k].total);
		printf("}\n");
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	static struct variant v[3];
	struct apu_device *dev, *old;

	/* The path of drivers before 0.3 (libapu's APU_JOB_WAIT=0), for comparison. */
	setenv("APU_JOB_WAIT", "0", 1);
	if (apu_device_open_index(0, &old)) {
		fprintf(stderr, "submit_bench: no APU\n");
		return 1;
	}
	unsetenv("APU_JOB_WAIT");
	if (apu_device_open_index(0, &dev)) {
		fprintf(stderr, "submit_bench: no APU\n");
		return 1;
	}

	/* Depth 1: latency; one job's records read or not, and the older wait. */
	v[0] = (struct variant){ .name = "apu_qd1_core0", .depth = 1 };
	v[1] = (struct variant){ .name = "apu_qd1_core0_stats", .depth = 1, .stats = true };
	v[2] = (struct variant){ .name = "apu_qd1_core0_driver02", .depth = 1 };
	v[0].nets[0] = tiny(dev, 1);
	v[1].nets[0] = tiny(dev, 1);
	v[2].nets[0] = tiny(old, 1);
	report(v, 3, secs);
	for (int k = 0; k < 3; k++)
		apu_network_destroy(v[k].nets[0]);

	/* Depth 32: throughput, on one core and on all six. */
	v[0] = (struct variant){ .name = "apu_qd32_core0", .depth = 32 };
	v[1] = (struct variant){ .name = "apu_qd32_all6", .depth = 32 };
	v[2] = (struct variant){ .name = "apu_qd32_core0_driver02", .depth = 32 };
	for (int i = 0; i < 32; i++) {
		v[0].nets[i] = tiny(dev, 1u);
		v[1].nets[i] = tiny(dev, 1u << (i % 6));
		v[2].nets[i] = tiny(old, 1u);
	}
	report(v, 3, secs);
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 32; i++)
			apu_network_destroy(v[k].nets[i]);
	apu_device_close(dev);
	apu_device_close(old);
	return 0;
}
