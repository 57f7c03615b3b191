// SPDX-License-Identifier: MIT
/*
 * Scheduling quality (make bench): MobileNet V1 and V2 under each libapu
 * policy, against the lower bound and two baselines - everything on one
 * big core, and round-robin (layer i entirely on core i mod 6) - in
 * modeled time (the device's timing model and reported rates) and energy.
 * The bound spreads each layer's MACs and bytes over all cores at once and
 * adds one op's fixed cost (200 cycles at the fastest clock) per layer,
 * since layers depend on one another and each ends with an op; the figure
 * against the work-only bound (without that cost) is printed too.
 *
 *   sched_bench [--json FILE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apu_internal.h"

static const char *const pol[] = { "performance", "balanced", "low-power", "deadline" };

int main(int argc, char **argv)
{
	FILE *jf = NULL;
	struct apu_device *dev;
	int first = 1;

	if (argc == 3 && !strcmp(argv[1], "--json")) {
		jf = fopen(argv[2], "w");
		if (!jf)
			return 1;
	} else if (argc != 1) {
		fprintf(stderr, "usage: sched_bench [--json FILE]\n");
		return 2;
	}
	if (apu_device_open_cpu(&dev))
		return 1;
	if (jf)
		fprintf(jf, "{\"models\": [\n");
	printf("%-13s %-12s %10s %10s %9s %11s\n", "model", "plan", "time us", "energy uJ",
	       "vs bound", "vs perf");
	for (int m = 1; m <= 2; m++) {
		const char *name = m == 1 ? "MobileNet V1" : "MobileNet V2";
		double lb = 0, perf = 0, t, e;
		struct apu_network *net;
		unsigned int *masks;
		int in, out, nops;

		for (int p = 0; p < 4; p++) {
			struct apu_compile_options o = { .policy = (enum apu_policy)p, .priority = 1 };
			struct apu_run_stats st;

			if (apu_network_create(dev, &net) ||
			    apu_network_build_model(net, (enum apu_builtin_model)m, 1, &in, &out))
				return 1;
			if (p == APU_POLICY_DEADLINE)
				o.deadline_us = perf * 2;	/* twice the fastest */
			if (apu_network_compile(net, &o, sizeof(o)) || apu_network_run(net, &st))
				return 1;
			if (p == 0) {
				double work_only;

				perf = st.makespan_us;
				apu_network_evaluate(net, NULL, &work_only, &lb);
				printf("%-13s %-12s %10.1f %10s %9.3f %11s  (work only: %.1f us, perf/work-only %.3f)\n",
				       name, "lower bound", lb, "-", 1.0, "-", work_only, perf / work_only);
				if (jf)
					fprintf(jf, "%s  {\"model\": \"%s\", \"lower_bound_us\": %.3f, "
						"\"work_only_bound_us\": %.3f, \"plans\": [\n",
						first ? "" : ",\n", name, lb, work_only);
				first = 0;
			}
			printf("%-13s %-12s %10.1f %10.1f %9.3f %11.3f\n", name, pol[p], st.makespan_us,
			       st.energy_uj, st.makespan_us / lb, st.makespan_us / perf);
			if (jf)
				fprintf(jf, "    {\"plan\": \"%s\", \"makespan_us\": %.3f, \"energy_uj\": %.3f, "
					"\"vs_bound\": %.4f}%s\n", pol[p], st.makespan_us, st.energy_uj,
					st.makespan_us / lb, ",");
			if (p < 3)
				apu_network_destroy(net);
		}
		/* Baselines, planned on the same network. */
		nops = apu_network_num_ops(net);
		masks = calloc((size_t)nops, sizeof(*masks));
		if (!masks)
			return 1;
		for (int k = 0; k < 2; k++) {
			const char *bn = k ? "round-robin" : "one big core";

			for (int i = 0; i < nops; i++)
				masks[i] = k ? 1u << (i % 6) : 1u;
			if (apu_network_evaluate(net, masks, &t, &e))
				return 1;
			printf("%-13s %-12s %10.1f %10.1f %9.3f %11.3f\n", name, bn, t, e, t / lb, t / perf);
			if (jf)
				fprintf(jf, "    {\"plan\": \"%s\", \"makespan_us\": %.3f, \"energy_uj\": %.3f, "
					"\"vs_bound\": %.4f}%s\n", bn, t, e, t / lb, k ? "" : ",");
		}
		if (jf)
			fprintf(jf, "  ]}");
		free(masks);
		apu_network_destroy(net);
	}
	if (jf) {
		fprintf(jf, "\n]}\n");
		fclose(jf);
	}
	apu_device_close(dev);
	return 0;
}
