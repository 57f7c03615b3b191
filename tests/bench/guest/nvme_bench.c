// SPDX-License-Identifier: MIT
/*
 * The peer of the submission-path benchmark (make bench, in the same VM):
 * QEMU's NVMe device on a null backend, 4 KiB O_DIRECT reads - the
 * best-known doorbell, DMA, interrupt path in QEMU. Depth 1 (pread) and
 * depth 32 (Linux AIO, raw system calls), each REPEATS times (min /
 * median / max), with what the guest spent per I/O (sysstat.h). Prints
 * "APU-BENCH {json}".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sysstat.h"

#define DEPTH 32
#define BLOCK 4096
#define SPAN (256ull << 20)
#define REPEATS 5

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/nvme0n1";
	double secs = argc > 2 ? atof(argv[2]) : 2.0, t0, t;
	aio_context_t ctx = 0;
	struct iocb cbs[DEPTH], *ptrs[DEPTH];
	struct io_event ev[DEPTH];
	unsigned long long off = 0;
	double ops[REPEATS], lat[REPEATS];
	struct sysstat sa, sb;
	long n, total = 0, calls = 0;
	char *buf;
	int fd = open(dev, O_RDONLY | O_DIRECT);

	if (fd < 0 || posix_memalign((void **)&buf, BLOCK, BLOCK * DEPTH)) {
		perror(dev);
		return 1;
	}
	for (int i = 0; i < 100; i++)
		if (pread(fd, buf, BLOCK, (off_t)(i * BLOCK)) != BLOCK)
			return 1;
	sysstat_read(&sa);
	for (int r = 0; r < REPEATS; r++) {
		t0 = now();
		for (n = 0; (t = now() - t0) < secs / REPEATS; n++) {
			if (pread(fd, buf, BLOCK, (off_t)off) != BLOCK)
				return 1;
			off = (off + BLOCK) % SPAN;
		}
		ops[r] = n / t;
		lat[r] = t / n * 1e6;
		total += n;
	}
	sysstat_read(&sb);
	printf("APU-BENCH {\"bench\": \"nvme_qd1\", \"repeats\": %d, ", REPEATS);
	sysstat_spread("ops_per_s", ops, REPEATS);
	printf(", \"ops_per_s\": %.1f, ", ops[REPEATS / 2]);
	sysstat_spread("latency_us", lat, REPEATS);
	printf(", \"latency_us\": %.2f, \"ops\": %ld, \"ioctls_per_op\": 0, \"syscalls_per_op\": 1, ",
	       lat[REPEATS / 2], total);
	sysstat_print(&sa, &sb, total);
	printf("}\n");
	fflush(stdout);

	if (syscall(__NR_io_setup, DEPTH, &ctx))
		return 1;
	memset(cbs, 0, sizeof(cbs));
	for (int i = 0; i < DEPTH; i++) {
		cbs[i].aio_fildes = (unsigned int)fd;
		cbs[i].aio_lio_opcode = IOCB_CMD_PREAD;
		cbs[i].aio_buf = (unsigned long long)(buf + i * BLOCK);
		cbs[i].aio_nbytes = BLOCK;
		cbs[i].aio_offset = (long long)off;
		cbs[i].aio_data = (unsigned long long)i;
		off = (off + BLOCK) % SPAN;
		ptrs[i] = &cbs[i];
	}
	if (syscall(__NR_io_submit, ctx, DEPTH, ptrs) != DEPTH)
		return 1;
	total = 0;
	sysstat_read(&sa);
	for (int r = 0; r < REPEATS; r++) {
		t0 = now();
		for (n = 0; (t = now() - t0) < secs / REPEATS;) {
			long got = syscall(__NR_io_getevents, ctx, 1, DEPTH, ev, NULL);

			if (got < 1)
				return 1;
			for (long i = 0; i < got; i++) {
				struct iocb *cb = &cbs[ev[i].data];

				if (ev[i].res != BLOCK)
					return 1;
				cb->aio_offset = (long long)off;
				off = (off + BLOCK) % SPAN;
				ptrs[i] = cb;
			}
			n += got;
			calls += 2;
			if (syscall(__NR_io_submit, ctx, got, ptrs) != got)
				return 1;
		}
		ops[r] = n / t;
		total += n;
	}
	sysstat_read(&sb);
	printf("APU-BENCH {\"bench\": \"nvme_qd32\", \"repeats\": %d, ", REPEATS);
	sysstat_spread("ops_per_s", ops, REPEATS);
	printf(", \"ops_per_s\": %.1f, \"ops\": %ld, \"ioctls_per_op\": 0, \"syscalls_per_op\": %.2f, ",
	       ops[REPEATS / 2], total, (double)calls / (double)total);
	sysstat_print(&sa, &sb, total);
	printf("}\n");
	syscall(__NR_io_destroy, ctx);
	close(fd);
	return 0;
}
