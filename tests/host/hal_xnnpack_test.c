// SPDX-License-Identifier: MIT
/*
 * libapu's CPU reference against an independent int8 convolution: XNNPACK's
 * qc8 convolution (per-channel weight scales), on seeded random shapes
 * (plain, grouped, depthwise with multiplier, strided, dilated, padded).
 *
 * The bound: XNNPACK requantizes in single-precision float (acc * scale,
 * rounded to nearest even) where TFLite - and libapu, and the device - use
 * a 32-bit fixed-point multiplier with two roundings. The results may
 * differ by one unit of the output where the scaled accumulator lies within
 * float precision of a rounding boundary; never by more. The test checks
 * |difference| <= 1 everywhere and that such elements stay rare (< 1%).
 *
 * Then the XNNPACK subgraph `make bench` compares the NPU against
 * (tests/bench/xnn_tflite.h: MobileNet V2 int8 built from the .tflite):
 * each of its layers alone, on the inputs libapu's CPU reference computed
 * for a real photo, within one unit of the reference's output; and the
 * whole model on both photos, top-1 equal and logits within
 * XNN_TFL_LOGITS_TOLERANCE - so the bench cannot compare against a broken
 * model.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xnnpack.h>

#include "kselftest_harness.h"
#include "test_conv.h"
#include "apu_internal.h"
#include "xnn_tflite.h"


TEST(reference_vs_xnnpack_qc8)
{
	size_t total = 0, off_by_one = 0;
	int cases = 0;

	ASSERT_EQ(xnn_status_success, xnn_initialize(NULL));
	for (int it = 0; it < 150; it++) {
		static const struct conv_bounds bounds = { 14, 24, 2, 12, 2, true };
		struct apu_ref_conv p;
		int g, icg, ocg, pt, pb, pl, pr;
		float in_scale = 1.0f / rnd_range(32, 256), out_scale = 1.0f / rnd_range(4, 64);
		size_t in_n, w_n, out_n;
		int8_t *in, *w, *wx, *o1, *o2;
		int32_t *bias, *mult, *shift;
		float *ks;
		xnn_operator_t op = NULL;
		enum xnn_status st;

		if (!random_conv(&p, &bounds, &pb, &pr))
			continue;
		g = p.groups;
		icg = p.in_c / g;
		ocg = p.out_c / g;
		pt = p.pad_top;
		pl = p.pad_left;
		in_n = conv_in_n(&p);
		w_n = conv_w_n(&p);
		out_n = conv_out_n(&p);
		in = malloc(in_n);
		w = malloc(w_n);
		wx = malloc(w_n);
		o1 = malloc(out_n);
		o2 = malloc(out_n);
		bias = malloc(4 * p.out_c);
		mult = malloc(4 * p.out_c);
		shift = malloc(4 * p.out_c);
		ks = malloc(sizeof(float) * p.out_c);
		ASSERT_TRUE(in && w && wx && o1 && o2 && bias && mult && shift && ks);
		fill_rnd(in, in_n, -128, 127);
		fill_rnd(w, w_n, -127, 127);
		for (int c = 0; c < p.out_c; c++) {
			ks[c] = (float)(rnd_range(1, 100) / 20000.0);
			bias[c] = rnd_range(-5000, 5000);
		}
		/* Float scales in, as a framework has them: TFLite's multipliers. */
		ASSERT_EQ(0, apu_conv_requant(in_scale, ks, out_scale, (unsigned int)p.out_c,
					      mult, shift));
		apu_ref_conv2d(&p, in, w, bias, mult, shift, o1);

		/*
		 * groups == in_c > 1 is depthwise (with a channel multiplier) for
		 * libapu: weights [k_h][k_w][out_c], which XNNPACK takes with its
		 * DEPTHWISE flag; otherwise both use [out][k_h][k_w][in/groups].
		 */
		memcpy(wx, w, w_n);
		st = xnn_create_convolution2d_nhwc_qc8(
			pt, pr, pb, pl, p.k_h, p.k_w, p.stride_h, p.stride_w, p.dil_h, p.dil_w,
			g, icg, ocg, p.in_c, p.out_c, (int8_t)p.in_zp, in_scale, ks, wx, bias,
			(int8_t)p.out_zp, out_scale, -128, 127,
			g == p.in_c && g > 1 ? XNN_FLAG_DEPTHWISE_CONVOLUTION : 0, &op);
		ASSERT_EQ(xnn_status_success, st);
		ASSERT_EQ(xnn_status_success,
			  xnn_setup_convolution2d_nhwc_qc8(op, 1, p.in_h, p.in_w, in, o2, NULL));
		ASSERT_EQ(xnn_status_success, xnn_run_operator(op, NULL));
		for (size_t i = 0; i < out_n; i++) {
			int d = o1[i] - o2[i];

			ASSERT_LE(abs(d), 1) TH_LOG("case %d element %zu: %d vs %d; in %dx%dx%d out %dx%dx%d k %dx%d s %d,%d d %d,%d g %d pads %d %d %d %d zp %d %d mult %d shift %d", it, i, o1[i], o2[i], p.in_h, p.in_w, p.in_c, p.out_h, p.out_w, p.out_c, p.k_h, p.k_w, p.stride_h, p.stride_w, p.dil_h, p.dil_w, g, pt, pb, pl, pr, p.in_zp, p.out_zp, mult[i % p.out_c], shift[i % p.out_c]);
			off_by_one += d != 0;
		}
		total += out_n;
		cases++;
		xnn_delete_operator(op);
		free(in); free(w); free(wx); free(o1); free(o2);
		free(bias); free(mult); free(shift); free(ks);
	}
	EXPECT_LT(100, cases);
	EXPECT_LT(off_by_one * 100, total) TH_LOG("%zu of %zu elements differ by one",
						  off_by_one, total);
	TH_LOG("%d cases, %zu elements, %zu differ by one", cases, total, off_by_one);
}

static const char *models_dir(void)
{
	const char *d = getenv("APU_MODELS");

	return d && *d ? d : "build/models";
}

#define MNV2 "tf2_mobilenet_v2_1.0_224_ptq.tflite"

/* Tensor @which of TFLite op @op (0, 1: inputs; -1: output) as libapu's reference has it. */
static int ref_tensor(struct apu_model *m, int op, int which, void *dst, size_t n)
{
	struct apu_model_op_info oi;
	struct apu_op_info ni;
	struct apu_network *net = apu_model_network(m);
	int ret = apu_model_op_info(m, op, &oi, sizeof(oi));

	if (ret || oi.network_op < 0)
		return ret ? ret : -ENOENT;
	ret = apu_network_op_info(net, which < 0 ? oi.network_op + oi.network_ops - 1 :
					       oi.network_op, &ni, sizeof(ni));
	if (ret)
		return ret;
	return apu_network_read(net, which < 0 ? ni.output : ni.inputs[which], dst, n);
}

TEST(mobilenet_v2_each_xnnpack_layer_within_one_of_reference)
{
	char path[512], err[256] = "";
	struct tfl_model tf;
	struct apu_device *dev;
	struct apu_model *m;
	uint8_t *photo;
	size_t size, values = 0, differing = 0;
	void *file;
	int layers = 0;

	snprintf(path, sizeof(path), "%s/" MNV2, models_dir());
	file = xnn_tfl_slurp(path, &size);
	ASSERT_NE(NULL, file) TH_LOG("%s", path);
	ASSERT_EQ(0, tfl_parse(file, size, &tf, err, sizeof(err))) TH_LOG("%s", err);
	snprintf(path, sizeof(path), "%s/grace_hopper.bmp", models_dir());
	ASSERT_EQ(0, xnn_tfl_photo(path, 224, 224, &photo, err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_model_load_tflite_buffer(dev, file, size, &m, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(0, apu_model_compile(m, NULL, 0));
	ASSERT_EQ(0, apu_model_set_input(m, 0, photo, 224 * 224 * 3));
	ASSERT_EQ(0, apu_model_run(m, NULL));
	for (int i = 0; i < tf.nops; i++) {
		int code = tf.ops[i].code, worst;
		struct xnn_tfl x;
		int8_t *want;
		size_t d;

		if (code == TFL_QUANTIZE || code == TFL_RESHAPE || code == TFL_SOFTMAX)
			continue;
		ASSERT_EQ(0, xnn_tfl_build_op(&x, &tf, i, err, sizeof(err))) TH_LOG("%s", err);
		ASSERT_EQ(0, ref_tensor(m, i, 0, x.in, x.in_count));
		if (x.in2)
			ASSERT_EQ(0, ref_tensor(m, i, 1, x.in2, (size_t)tf.t[x.in2_tensor].elems));
		ASSERT_EQ(0, xnn_tfl_run(&x));
		want = malloc(x.out_count);
		ASSERT_NE(NULL, want);
		ASSERT_EQ(0, ref_tensor(m, i, -1, want, x.out_count));
		worst = xnn_tfl_maxdiff(x.logits, want, x.out_count, &d);
		EXPECT_LE(worst, 1) TH_LOG("op %d %s: max |diff| %d", i, tfl_op_name(code), worst);
		/* Measured: at most 1.3% of a layer's outputs (op 4); 0 for ADD and MEAN. */
		EXPECT_LT(d * 50, x.out_count) TH_LOG("op %d %s: %zu of %zu differ", i,
						      tfl_op_name(code), d, x.out_count);
		values += x.out_count;
		differing += d;
		layers++;
		free(want);
		xnn_tfl_destroy(&x);
	}
	EXPECT_EQ(64, layers);	/* 52 convolutions, 10 adds, the mean, the classifier */
	TH_LOG("%d layers, %zu values, %zu differ by one", layers, values, differing);
	apu_model_destroy(m);
	apu_device_close(dev);
	free(photo);
	tfl_free(&tf);
	free(file);
}

TEST(mobilenet_v2_xnnpack_subgraph_agrees_with_reference_on_photos)
{
	static const char *const photos[] = { "grace_hopper.bmp", "cat.bmp" };
	char path[512], err[256] = "";
	struct tfl_model tf;
	size_t size;
	void *file;

	snprintf(path, sizeof(path), "%s/" MNV2, models_dir());
	file = xnn_tfl_slurp(path, &size);
	ASSERT_NE(NULL, file) TH_LOG("%s", path);
	ASSERT_EQ(0, tfl_parse(file, size, &tf, err, sizeof(err))) TH_LOG("%s", err);
	for (int p = 0; p < 2; p++) {
		struct xnn_tfl x;
		uint8_t *photo;
		int8_t *ref;
		size_t d;
		int worst;
		float sum = 0;

		ASSERT_EQ(0, xnn_tfl_build(&x, &tf, 1, err, sizeof(err))) TH_LOG("%s", err);
		ASSERT_EQ(1001, x.logits_count);
		ASSERT_EQ(224 * 224 * 3, x.in_count);
		snprintf(path, sizeof(path), "%s/%s", models_dir(), photos[p]);
		ASSERT_EQ(0, xnn_tfl_photo(path, 224, 224, &photo, err, sizeof(err)))
			TH_LOG("%s", err);
		ref = malloc(x.logits_count);
		ASSERT_NE(NULL, ref);
		ASSERT_EQ(0, xnn_tfl_reference(file, size, photo, x.in_count, ref, x.logits_count,
					       err, sizeof(err))) TH_LOG("%s", err);
		for (size_t i = 0; i < x.in_count; i++)
			x.in[i] = (int8_t)(photo[i] ^ 0x80);
		ASSERT_EQ(0, xnn_tfl_run(&x));
		EXPECT_EQ(xnn_tfl_argmax(ref, x.logits_count),
			  xnn_tfl_argmax(x.logits, x.logits_count)) TH_LOG("%s", photos[p]);
		worst = xnn_tfl_maxdiff(x.logits, ref, x.logits_count, &d);
		EXPECT_LE(worst, XNN_TFL_LOGITS_TOLERANCE) TH_LOG("%s", photos[p]);
		/* The fp32 softmax: probabilities, the largest at the top-1. */
		for (size_t i = 0; i < x.logits_count; i++)
			sum += x.prob[i];
		EXPECT_TRUE(fabsf(sum - 1) < 1e-3f) TH_LOG("%s: sum %f", photos[p], sum);
		EXPECT_TRUE(x.prob[xnn_tfl_argmax(x.logits, x.logits_count)] > 0.3f);
		TH_LOG("%s: top-1 %zu, %zu of %zu logits differ, max |diff| %d", photos[p],
		       xnn_tfl_argmax(x.logits, x.logits_count), d, x.logits_count, worst);
		free(ref);
		free(photo);
		xnn_tfl_destroy(&x);
	}
	tfl_free(&tf);
	free(file);
}

TEST_HARNESS_MAIN
