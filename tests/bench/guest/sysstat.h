/* SPDX-License-Identifier: MIT */
/*
 * What a stretch of a guest benchmark cost the whole guest (make bench,
 * in the VM, where perf has no PMU under TCG): kernel CPU time of every
 * CPU (system + irq + softirq of /proc/stat, kworkers and interrupts
 * included), user time, context switches and interrupts, and the
 * calling process's own system time. Divided by the operations done,
 * these stand in for "kernel instructions per operation".
 */
#ifndef BENCH_SYSSTAT_H
#define BENCH_SYSSTAT_H

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct sysstat {
	double t;			/* CLOCK_MONOTONIC, s */
	unsigned long long user, kern;	/* all CPUs, clock ticks */
	unsigned long long ctxt, intr;	/* all CPUs */
	double self_sys, self_user;	/* this process, s */
	long self_vcsw, self_ivcsw;
};

static inline void sysstat_read(struct sysstat *s)
{
	char line[4096];
	struct timespec ts;
	struct rusage ru;
	FILE *f = fopen("/proc/stat", "r");

	memset(s, 0, sizeof(*s));
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long u, n, sy, idle, io, irq, sirq;

		if (!strncmp(line, "cpu ", 4) &&
		    sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu", &u, &n, &sy, &idle,
			   &io, &irq, &sirq) == 7) {
			s->user = u + n;
			s->kern = sy + irq + sirq;
		} else if (!strncmp(line, "ctxt ", 5)) {
			s->ctxt = strtoull(line + 5, NULL, 10);
		} else if (!strncmp(line, "intr ", 5)) {
			s->intr = strtoull(line + 5, NULL, 10);
		}
	}
	if (f)
		fclose(f);
	getrusage(RUSAGE_SELF, &ru);
	s->self_sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
	s->self_user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6;
	s->self_vcsw = ru.ru_nvcsw;
	s->self_ivcsw = ru.ru_nivcsw;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->t = ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Add what [@a, @b] cost to @sum (a sum of deltas). */
static inline void sysstat_add(struct sysstat *sum, const struct sysstat *a,
			       const struct sysstat *b)
{
	sum->t += b->t - a->t;
	sum->user += b->user - a->user;
	sum->kern += b->kern - a->kern;
	sum->ctxt += b->ctxt - a->ctxt;
	sum->intr += b->intr - a->intr;
	sum->self_sys += b->self_sys - a->self_sys;
	sum->self_user += b->self_user - a->self_user;
	sum->self_vcsw += b->self_vcsw - a->self_vcsw;
	sum->self_ivcsw += b->self_ivcsw - a->self_ivcsw;
}

/* Print the per-operation costs of [@a, @b] for @ops operations as JSON fields. */
static inline void sysstat_print(const struct sysstat *a, const struct sysstat *b, long ops)
{
	double tick_us = 1e6 / (double)sysconf(_SC_CLK_TCK), n = ops > 0 ? (double)ops : 1;

	printf("\"kernel_us_per_op\": %.2f, \"user_us_per_op\": %.2f, "
	       "\"self_sys_us_per_op\": %.2f, \"ctxsw_per_op\": %.2f, \"irqs_per_op\": %.2f, "
	       "\"self_vcsw_per_op\": %.2f",
	       (double)(b->kern - a->kern) * tick_us / n, (double)(b->user - a->user) * tick_us / n,
	       (b->self_sys - a->self_sys) * 1e6 / n, (double)(b->ctxt - a->ctxt) / n,
	       (double)(b->intr - a->intr) / n, (double)(b->self_vcsw - a->self_vcsw) / n);
}

static int sysstat_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* min, median, max of @n values (sorted in place) as JSON fields named @what. */
static inline void sysstat_spread(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), sysstat_cmp);
	printf("\"%s_min\": %.1f, \"%s_median\": %.1f, \"%s_max\": %.1f", what, v[0], what,
	       n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, what, v[n - 1]);
}

#endif /* BENCH_SYSSTAT_H */
