// SPDX-License-Identifier: MIT
/*
 * Submission path (make bench, in the VM): the smallest jobs through
 * libapu -> ioctl -> driver -> device -> interrupt -> fence. One job is
 * one run of a one-op network (a 1x1x8 pointwise convolution) pinned to a
 * core. Latency at queue depth 1 (run, wait, repeat) and throughput at
 * queue depth 32 (32 networks in flight), on one core and on all six.
 * Prints "APU-BENCH {json}" lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apu/apu.h>

#include "../bench_net.h"

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

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	struct apu_network *nets[32];
	struct apu_device *dev;

	if (apu_device_open_index(0, &dev)) {
		fprintf(stderr, "submit_bench: no APU\n");
		return 1;
	}
	for (int all = 0; all < 2; all++) {
		const char *where = all ? "all6" : "core0";
		double t0, t;
		long n;

		/* Depth 1: latency. */
		nets[0] = tiny(dev, 1);
		for (int i = 0; i < 50; i++)	/* warm up */
			apu_network_run(nets[0], NULL);
		t0 = now();
		for (n = 0; (t = now() - t0) < secs; n++)
			if (apu_network_run(nets[0], NULL))
				return 1;
		printf("APU-BENCH {\"bench\": \"apu_qd1_%s\", \"ops\": %ld, \"seconds\": %.4f, "
		       "\"ops_per_s\": %.1f, \"latency_us\": %.2f}\n", where, n, t, n / t,
		       t / n * 1e6);
		apu_network_destroy(nets[0]);

		/* Depth 32: throughput. */
		for (int i = 0; i < 32; i++)
			nets[i] = tiny(dev, all ? 1u << (i % 6) : 1u);
		t0 = now();
		for (n = 0; (t = now() - t0) < secs; n += 32) {
			for (int i = 0; i < 32; i++)
				if (apu_network_submit(nets[i], -1, NULL))
					return 1;
			for (int i = 0; i < 32; i++)
				if (apu_network_wait(nets[i], -1, NULL))
					return 1;
		}
		printf("APU-BENCH {\"bench\": \"apu_qd32_%s\", \"ops\": %ld, \"seconds\": %.4f, "
		       "\"ops_per_s\": %.1f}\n", where, n, t, n / t);
		for (int i = 0; i < 32; i++)
			apu_network_destroy(nets[i]);
	}
	apu_device_close(dev);
	return 0;
}
