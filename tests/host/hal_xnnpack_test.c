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
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xnnpack.h>

#include "kselftest_harness.h"
#include "test_conv.h"
#include "apu_internal.h"


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

TEST_HARNESS_MAIN
