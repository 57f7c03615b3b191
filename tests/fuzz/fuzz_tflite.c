// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: libapu's TFLite importer (hal/src/tflite.c, import.c).
 * Any byte string must load or be refused with a message, never crash,
 * read out of bounds or hit undefined behaviour; a model that loads is
 * compiled for the CPU backend and, when small, run with the CPU reference.
 * Seeded with the generated models (tests/models/) and the real ones.
 *
 * Copyright (c) 2026 The apu authors
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apu/apu.h"
#include "apu/apu_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apu_device *dev;
	struct apu_model *m = NULL;
	char err[256];
	uint64_t macs = 0;
	int ret;

	if (apu_device_open_cpu(&dev))
		return 0;
	err[0] = 0;
	ret = apu_model_load_tflite_buffer(dev, data, size, &m, err, sizeof(err));
	if (ret) {
		/* Every refusal says why. */
		if (!err[0])
			abort();
		goto out;
	}
	for (int i = 0; i < apu_model_op_count(m); i++) {
		struct apu_model_op_info oi;

		if (apu_model_op_info(m, i, &oi, sizeof(oi)))
			abort();
		macs += oi.macs;
	}
	if (macs > 2000000 || apu_model_compile(m, NULL, 0))
		goto out;
	for (int i = 0; i < apu_model_num_inputs(m); i++) {
		struct apu_tensor_info ii;
		void *x;

		if (apu_model_input_info(m, i, &ii) || ii.bytes > (1u << 22))
			goto out;
		x = calloc(1, ii.bytes ? ii.bytes : 1);
		if (!x)
			goto out;
		apu_model_set_input(m, i, x, ii.bytes);
		free(x);
	}
	apu_model_run(m, NULL);
out:
	apu_model_destroy(m);
	apu_device_close(dev);
	return 0;
}
