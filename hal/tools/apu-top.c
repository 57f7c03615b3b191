// SPDX-License-Identifier: MIT
/*
 * apu-top: live per-core utilisation of the APUs, from DRM fdinfo
 * (/proc/<pid>/fdinfo/<fd>: "drm-engine-<core>: <ns> ns" of every open
 * file of the apu driver), per core and per process.
 *
 *   apu-top [-d SECONDS] [-n COUNT]
 *
 * Without -n it refreshes until interrupted. A process's files are counted
 * once each (drm-client-id), however many descriptors point at them.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CORES 8
#define MAX_CLIENTS 256

struct client {
	uint64_t id;
	int pid;
	char comm[32];
	uint64_t busy[MAX_CORES];
	uint64_t mem;
};

struct sample {
	int n;
	struct client c[MAX_CLIENTS];
	char names[MAX_CORES][32];
	int ncores;
};

static int core_index(struct sample *s, const char *name)
{
	for (int i = 0; i < s->ncores; i++)
		if (!strcmp(s->names[i], name))
			return i;
	if (s->ncores == MAX_CORES)
		return -1;
	snprintf(s->names[s->ncores], sizeof(s->names[0]), "%s", name);
	return s->ncores++;
}

/*
 * One fdinfo file (any text: it comes from the kernel, but this parser
 * trusts nothing; tests/fuzz/fuzz_cli.c feeds it fuzzed text): a client of
 * this driver is added to @s once per DRM client id.
 */
static void parse_fdinfo(struct sample *s, int pid, FILE *f)
{
	char line[256], name[32];
	struct client c = { .pid = pid };
	int apu = 0, have_id = 0;

	while (fgets(line, sizeof(line), f)) {
		uint64_t v;

		if (!strncmp(line, "drm-driver:", 11))
			apu = strstr(line + 11, "apu") != NULL;
		else if (sscanf(line, "drm-client-id: %" SCNu64, &v) == 1) {
			c.id = v;
			have_id = 1;
		} else if (sscanf(line, "drm-engine-%31[^:]: %" SCNu64, name, &v) == 2) {
			int i = core_index(s, name);

			if (i >= 0)
				c.busy[i] = v;
		} else if (sscanf(line, "drm-total-memory: %" SCNu64, &v) == 1) {
			c.mem = v;
		}
	}
	if (!apu || !have_id)
		return;
	for (int i = 0; i < s->n; i++)
		if (s->c[i].id == c.id)
			return;		/* the same file through another descriptor */
	if (s->n < MAX_CLIENTS)
		s->c[s->n++] = c;
}

static void read_fdinfo(struct sample *s, int pid, const char *path)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	parse_fdinfo(s, pid, f);
	fclose(f);
}

static void take_sample(struct sample *s)
{
	DIR *proc = opendir("/proc");
	struct dirent *p;

	s->n = 0;
	if (!proc)
		return;
	while ((p = readdir(proc))) {
		char dir[300], path[600];
		DIR *fds;
		struct dirent *fd;
		FILE *cf;
		int pid;
		char comm[32] = "?";

		if (!isdigit((unsigned char)p->d_name[0]))
			continue;
		pid = atoi(p->d_name);
		snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", pid);
		fds = opendir(dir);
		if (!fds)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		cf = fopen(path, "r");
		if (cf) {
			if (fgets(comm, sizeof(comm), cf))
				comm[strcspn(comm, "\n")] = 0;
			fclose(cf);
		}
		while ((fd = readdir(fds))) {
			int before = s->n;

			if (fd->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, fd->d_name);
			read_fdinfo(s, pid, path);
			if (s->n > before)
				snprintf(s->c[s->n - 1].comm, sizeof(comm), "%s", comm);
		}
		closedir(fds);
	}
	closedir(proc);
}

static const struct client *find(const struct sample *s, uint64_t id)
{
	for (int i = 0; i < s->n; i++)
		if (s->c[i].id == id)
			return &s->c[i];
	return NULL;
}

static void print(const struct sample *a, const struct sample *b, double secs)
{
	double core[MAX_CORES] = { 0 };

	printf("\napu-top: %d client%s, interval %.1f s\n", b->n, b->n == 1 ? "" : "s", secs);
	printf("%7s %-16s", "PID", "COMMAND");
	for (int i = 0; i < b->ncores; i++)
		printf(" %8s", b->names[i]);
	printf(" %10s\n", "MEM KiB");
	for (int k = 0; k < b->n; k++) {
		const struct client *now = &b->c[k], *then = find(a, now->id);

		printf("%7d %-16s", now->pid, now->comm);
		for (int i = 0; i < b->ncores; i++) {
			double d = (double)(now->busy[i] - (then ? then->busy[i] : now->busy[i]));
			double pct = 100.0 * d / (secs * 1e9);

			core[i] += pct;
			printf(" %7.1f%%", pct);
		}
		printf(" %10" PRIu64 "\n", now->mem / 1024);
	}
	printf("%7s %-16s", "", "all");
	for (int i = 0; i < b->ncores; i++)
		printf(" %7.1f%%", core[i] > 100 ? 100.0 : core[i]);
	printf("\n");
	fflush(stdout);
}

#ifndef APU_TOOL_NO_MAIN
int main(int argc, char **argv)
{
	static struct sample a, b;
	double secs = 1.0;
	int count = -1, opt;

	while ((opt = getopt(argc, argv, "d:n:h")) != -1) {
		switch (opt) {
		case 'd':
			secs = atof(optarg);
			break;
		case 'n':
			count = atoi(optarg);
			break;
		default:
			fprintf(opt == 'h' ? stdout : stderr, "usage: apu-top [-d SECONDS] [-n COUNT]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!(secs > 0) || optind != argc) {
		fprintf(stderr, "usage: apu-top [-d SECONDS] [-n COUNT]\n");
		return 2;
	}
	take_sample(&a);
	for (int i = 0; count < 0 || i < count; i++) {
		struct timespec ts = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };

		nanosleep(&ts, NULL);
		take_sample(&b);
		/* Core names from either sample, in the order first seen. */
		if (!b.ncores) {
			b.ncores = a.ncores;
			memcpy(b.names, a.names, sizeof(a.names));
		}
		print(&a, &b, secs);
		a = b;
		memset(&b, 0, sizeof(b));
		memcpy(b.names, a.names, sizeof(a.names));
		b.ncores = a.ncores;
	}
	return 0;
}
#endif
