// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: apu-top's fdinfo parser (hal/tools/apu-top.c, compiled
 * in without its main). The bytes are one fdinfo file, read three times
 * into one sample as if three descriptors showed it: no sanitizer report,
 * at most one client per DRM client id, core names within their bounds.
 *
 * Copyright (c) 2026 The apu authors
 */
#define APU_TOOL_NO_MAIN
#include "../../hal/tools/apu-top.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sample s;

	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 3; i++) {
		FILE *f = fmemopen((void *)data, size, "r");

		if (!f)
			return 0;
		parse_fdinfo(&s, 100 + i, f);
		fclose(f);
	}
	if (s.n > 1 || s.ncores > MAX_CORES)
		abort();
	for (int i = 0; i < s.ncores; i++)
		if (strnlen(s.names[i], sizeof(s.names[i])) == sizeof(s.names[i]))
			abort();
	return 0;
}
