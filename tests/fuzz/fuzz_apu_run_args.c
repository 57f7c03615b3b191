// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: apu-run's command line. The bytes, split at NUL and
 * newline, are the arguments; parse_args() (hal/tools/apu-run.c, compiled
 * in without its main) must accept or refuse them without a sanitizer
 * report, and what it accepts must be in range.
 *
 * Copyright (c) 2026 The apu authors
 */
#define APU_TOOL_NO_MAIN
#include "../../hal/tools/apu-run.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[33];
	struct run_args a;
	int argc = 1, ret;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	argv[0] = "apu-run";
	for (char *p = buf, *end = buf + size; p <= end && argc < 32;) {
		size_t n = strcspn(p, "\n");

		p[n] = 0;
		argv[argc++] = p;
		p += n + 1;
		if (p > end)
			break;
	}
	argv[argc] = NULL;
	opterr = 0;
	ret = parse_args(argc, argv, &a);
	if (ret == 0 && (a.policy < 0 || a.policy > 3 || a.repeat < 1 ||
			 (a.nconv && (a.nconv < 6 || a.nconv > 7))))
		abort();
	free(buf);
	return 0;
}
