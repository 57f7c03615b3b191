// SPDX-License-Identifier: MIT
/*
 * Guest tests of trained models on the emulated APU (real driver, real
 * device): the shipped TFLite models classify the shipped photos on the
 * NPU, every tensor bit-exact with libapu's CPU reference; the generated
 * models (tests/models/) exercise each supported op, device segments and
 * CPU segments, through the driver. Models are in /models of the guest
 * (scripts/mkinitramfs.sh).
 */
#include <stdio.h>

#include "kselftest_harness.h"

/* Whole models under TCG on a loaded machine: a hang catcher (see make bench for speed). */
#define HEAVY_TIMEOUT 180
#include "apu_guest.h"
#include <apu/apu.h>
#include <apu/apu_model.h>

#define MODELS "/models"

/* 1xHxWx3 uint8 input from a 24-bit BMP, nearest neighbour (as apu-run). */
static int bmp_input(const char *path, const struct apu_tensor_info *ii, uint8_t *out)
{
	FILE *f = fopen(path, "rb");
	uint8_t hdr[54], *pix = NULL;
	int32_t w, h, ret = -EINVAL;
	uint32_t off;
	size_t row;

	if (!f)
		return -errno;
	if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr) || hdr[0] != 'B' || hdr[1] != 'M' ||
	    hdr[28] != 24)
		goto out;
	memcpy(&off, hdr + 10, 4);
	memcpy(&w, hdr + 18, 4);
	memcpy(&h, hdr + 22, 4);
	if (w <= 0 || h == 0 || w > 8192 || h > 8192 || h < -8192)
		goto out;
	row = ((size_t)w * 3 + 3) & ~(size_t)3;
	pix = malloc(row * (size_t)abs(h));
	if (!pix || fseek(f, off, SEEK_SET) || fread(pix, 1, row * (size_t)abs(h), f) != row * (size_t)abs(h))
		goto out;
	for (int y = 0; y < ii->dims[1]; y++)
		for (int x = 0; x < ii->dims[2]; x++) {
			int sx = (int)((x + 0.5) * w / ii->dims[2]);
			int sy = (int)((y + 0.5) * abs(h) / ii->dims[1]);
			const uint8_t *p = pix + (size_t)(h > 0 ? abs(h) - 1 - sy : sy) * row + 3 * sx;
			uint8_t *o = out + ((size_t)y * ii->dims[2] + x) * 3;

			o[0] = p[2];
			o[1] = p[1];
			o[2] = p[0];
		}
	ret = 0;
out:
	free(pix);
	fclose(f);
	return ret;
}

/* Run @model on the NPU; check it bit-exact with the reference; top-1 class. */
static void run_model(struct __test_metadata *_metadata, const char *model, const char *photo,
		      enum apu_policy policy, int *top1)
{
	struct apu_compile_options o = { .policy = policy, .priority = 1 };
	struct apu_device *dev;
	struct apu_model *m;
	struct apu_model_compare c;
	struct apu_tensor_info ii, oi;
	struct apu_run_stats st;
	char path[256], err[256];
	uint8_t *x;
	float *y;

	ASSERT_EQ(0, apu_device_open_index(0, &dev));
	snprintf(path, sizeof(path), MODELS "/%s", model);
	ASSERT_EQ(0, apu_model_load_tflite(dev, path, &m, err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(0, apu_model_compile(m, &o, sizeof(o)));
	ASSERT_EQ(0, apu_model_input_info(m, 0, &ii));
	ASSERT_EQ(0, apu_model_output_info(m, 0, &oi));
	x = malloc(ii.bytes);
	y = malloc(sizeof(float) * oi.count);
	ASSERT_TRUE(x && y);
	if (photo) {
		snprintf(path, sizeof(path), MODELS "/%s", photo);
		ASSERT_EQ(APU_DTYPE_UINT8, ii.dtype);
		ASSERT_EQ(0, bmp_input(path, &ii, x));
	} else {
		for (size_t i = 0; i < ii.bytes; i++)
			x[i] = (uint8_t)(i * 2654435761u >> 13);
		if (ii.dtype == APU_DTYPE_FLOAT32)
			for (size_t i = 0; i < ii.count; i++)
				((float *)x)[i] = (float)((int)(i % 41) - 20) / 10.0f;
	}
	ASSERT_EQ(0, apu_model_set_input(m, 0, x, ii.bytes));
	ASSERT_EQ(0, apu_model_run(m, &st));
	/* The real models run on the cores (a small generated one may be all CPU). */
	if (photo)
		ASSERT_LT(20, st.jobs);
	ASSERT_EQ(0, apu_model_compare_reference(m, &c));
	EXPECT_EQ(0, c.values_differing)
		TH_LOG("%s: %u of %u tensors differ, by up to %u, first at TFLite op %d", model,
		       c.tensors_differing, c.tensors, c.max_abs_diff, c.first_differing_op);
	EXPECT_LT(0, c.tensors);
	ASSERT_EQ(0, apu_model_get_output_float(m, 0, y, oi.count));
	*top1 = 0;
	for (size_t i = 1; i < oi.count; i++)
		if (y[i] > y[*top1])
			*top1 = (int)i;
	free(x);
	free(y);
	apu_model_destroy(m);
	apu_device_close(dev);
}

/*
 * Every shipped model on both photos. The expected classes are Arm NN's
 * (CpuRef, the independent reference; tests/oracle/armnn_compare.sh): 286
 * "Egyptian cat" and 653 "military uniform" for both MobileNet V2; 283
 * "tiger cat" and 401 "academic gown" for V1 0.25, where libapu's scores for
 * 282 "tabby" and 283 tie on the cat (either is accepted there).
 */
static const struct {
	const char *model, *photo;
	enum apu_policy policy;
	int lo, hi;
} cases[] = {
	{ "tf2_mobilenet_v2_1.0_224_ptq.tflite", "cat.bmp", APU_POLICY_PERFORMANCE, 286, 286 },
	{ "tf2_mobilenet_v2_1.0_224_ptq.tflite", "grace_hopper.bmp", APU_POLICY_LOW_POWER, 653, 653 },
	{ "mobilenet_v2_1.0_224_quant.tflite", "cat.bmp", APU_POLICY_PERFORMANCE, 286, 286 },
	{ "mobilenet_v2_1.0_224_quant.tflite", "grace_hopper.bmp", APU_POLICY_BALANCED, 653, 653 },
	{ "mobilenet_v1_0.25_128_quant.tflite", "cat.bmp", APU_POLICY_LOW_POWER, 282, 283 },
	{ "mobilenet_v1_0.25_128_quant.tflite", "grace_hopper.bmp", APU_POLICY_PERFORMANCE, 401, 401 },
};

static void check_case(struct __test_metadata *_metadata, int i)
{
	int top;

	run_model(_metadata, cases[i].model, cases[i].photo, cases[i].policy, &top);
	EXPECT_LE(cases[i].lo, top) TH_LOG("%s on %s", cases[i].model, cases[i].photo);
	EXPECT_GE(cases[i].hi, top) TH_LOG("%s on %s", cases[i].model, cases[i].photo);
}

/* No state: a fixture only for the harness's per-test timeout. */
FIXTURE(model) {
	int unused;
};

FIXTURE_SETUP(model)
{
}

FIXTURE_TEARDOWN(model)
{
}

TEST_F_TIMEOUT(model, tf2_int8_mobilenet_v2_cat_bit_exact_on_npu_egyptian_cat, HEAVY_TIMEOUT) { check_case(_metadata, 0); }
TEST_F_TIMEOUT(model, tf2_int8_mobilenet_v2_grace_hopper_bit_exact_on_npu_military_uniform, HEAVY_TIMEOUT) { check_case(_metadata, 1); }
TEST_F_TIMEOUT(model, uint8_mobilenet_v2_cat_bit_exact_on_npu_egyptian_cat, HEAVY_TIMEOUT) { check_case(_metadata, 2); }
TEST_F_TIMEOUT(model, uint8_mobilenet_v2_grace_hopper_bit_exact_on_npu_military_uniform, HEAVY_TIMEOUT) { check_case(_metadata, 3); }
TEST_F_TIMEOUT(model, uint8_mobilenet_v1_cat_bit_exact_on_npu_tabby_or_tiger_cat, HEAVY_TIMEOUT) { check_case(_metadata, 4); }
TEST_F_TIMEOUT(model, uint8_mobilenet_v1_grace_hopper_bit_exact_on_npu_academic_gown, HEAVY_TIMEOUT) { check_case(_metadata, 5); }

TEST_F_TIMEOUT(model, generated_models_bit_exact_on_npu, HEAVY_TIMEOUT)
{
	static const char *const names[] = {
		"conv_int8_pc", "conv_uint8", "dw_int8_mult", "dw_one_channel", "fc_uint8",
		"add_broadcast", "broadcast_cpu", "mul", "pools", "mean", "pad_conv", "concat", "concat_branches", "activations",
		"float_io", "reshape_squeeze",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char name[64];
		int top;

		snprintf(name, sizeof(name), "gen/%s.tflite", names[i]);
		run_model(_metadata, name, NULL, APU_POLICY_PERFORMANCE, &top);
	}
}

TEST_HARNESS_MAIN
