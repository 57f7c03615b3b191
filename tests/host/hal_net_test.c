// SPDX-License-Identifier: MIT
/*
 * Host tests of libapu's quantization helpers, CPU reference, planner and
 * networks. The networks are compiled for the CPU backend, and their
 * command buffers (what the device would run) are decoded here and run
 * through the device's own engine (firmware-stub), so tiling, placement
 * and command building are checked bit-exact against the reference, and
 * every output element is written exactly once.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "test_conv.h"
#include "apu_internal.h"
#include "hw/apu_cmd.h"
#include "hw/apu_fw.h"


TEST(quantize_multiplier_as_tflite)
{
	int32_t m, fm;
	int s, fs;

	ASSERT_EQ(0, apu_quantize_multiplier(0.5, &m, &s));
	EXPECT_EQ(1 << 30, m);
	EXPECT_EQ(0, s);
	ASSERT_EQ(0, apu_quantize_multiplier(1.0, &m, &s));
	EXPECT_EQ(1 << 30, m);
	EXPECT_EQ(1, s);
	ASSERT_EQ(0, apu_quantize_multiplier(0.0, &m, &s));
	EXPECT_EQ(0, m);
	EXPECT_EQ(0, s);
	/* Just below 1 rounds up to 2^31: TFLite halves it. */
	ASSERT_EQ(0, apu_quantize_multiplier(0.99999999999, &m, &s));
	EXPECT_EQ(1 << 30, m);
	EXPECT_EQ(1, s);
	EXPECT_EQ(-EINVAL, apu_quantize_multiplier(-1.0, &m, &s));
	EXPECT_EQ(-EINVAL, apu_quantize_multiplier(NAN, &m, &s));
	EXPECT_EQ(-EINVAL, apu_quantize_multiplier(INFINITY, &m, &s));
	EXPECT_EQ(-EINVAL, apu_quantize_multiplier(1e12, &m, &s));
	ASSERT_EQ(0, apu_quantize_multiplier(0.75, &m, &s));
	EXPECT_EQ(1610612736, m);
	EXPECT_EQ(0, s);
	/* Under 2^-32: TFLite flushes to zero. */
	ASSERT_EQ(0, apu_quantize_multiplier(1e-12, &m, &s));
	EXPECT_EQ(0, m);
	EXPECT_EQ(0, s);
	/* A typical convolution's scale: 1/128 * 0.02 / (6/255). */
	ASSERT_EQ(0, apu_quantize_multiplier((double)(1.0f / 128) * (double)0.02f /
					     (double)(6.0f / 255), &m, &s));
	EXPECT_EQ(-7, s);
	/*
	 * By definition on many scales: m in [2^30, 2^31) and m * 2^(s - 31)
	 * within half a unit of m's last place of the scale (round to nearest).
	 */
	rng_state = 99;
	for (int i = 0; i < 20000; i++) {
		double scale = ldexp((rnd() % 500000 + 500000) / 1e6, rnd_range(-30, 20));

		ASSERT_EQ(0, apu_quantize_multiplier(scale, &m, &s));
		ASSERT_LE(1 << 30, m);
		fm = m;
		fs = s;
		ASSERT_GE(0.5, fabs(ldexp(scale, 31 - fs) - fm)) TH_LOG("scale %g", scale);
	}
}


/* The CPU reference and the device's engine agree on random convolutions. */
TEST(reference_conv_matches_engine)
{
	rng_state = 7;
	for (int it = 0; it < 300; it++) {
		static const struct conv_bounds bounds = { 12, 20, 3, 9, 3, false };
		struct apu_ref_conv r;
		ApuConvParams p;
		size_t in_n, w_n, out_n;
		int8_t *in, *w, *o1, *o2;
		int32_t *bias, *mult, *shift;
		int pb, pr;

		if (!random_conv(&r, &bounds, &pb, &pr))
			continue;
		r.act_min = rnd_range(-128, 0);
		r.act_max = rnd_range(0, 127);
		p = (ApuConvParams){
			.in_h = r.in_h, .in_w = r.in_w, .in_c = r.in_c,
			.out_h = r.out_h, .out_w = r.out_w, .out_c = r.out_c,
			.k_h = r.k_h, .k_w = r.k_w, .stride_h = r.stride_h, .stride_w = r.stride_w,
			.dil_h = r.dil_h, .dil_w = r.dil_w, .pad_top = r.pad_top,
			.pad_left = r.pad_left, .groups = r.groups, .in_zp = r.in_zp,
			.out_zp = r.out_zp, .act_min = r.act_min, .act_max = r.act_max,
		};
		if (apu_conv_check(&p))
			continue;
		in_n = conv_in_n(&r);
		w_n = conv_w_n(&r);
		out_n = conv_out_n(&r);
		in = malloc(in_n);
		w = malloc(w_n);
		o1 = malloc(out_n);
		o2 = malloc(out_n);
		bias = malloc(4 * p.out_c);
		mult = malloc(4 * p.out_c);
		shift = malloc(4 * p.out_c);
		ASSERT_TRUE(in && w && o1 && o2 && bias && mult && shift);
		fill_rnd(in, in_n, -128, 127);
		fill_rnd(w, w_n, -128, 127);
		for (int c = 0; c < p.out_c; c++) {
			bias[c] = (int32_t)(rnd() % 200001) - 100000;
			mult[c] = (int32_t)((1u << 30) + rnd() % (1u << 30));
			shift[c] = rnd_range(-12, 2);
		}
		apu_ref_conv2d(&r, in, w, bias, mult, shift, o1);
		ASSERT_EQ(0, apu_conv2d(&p, in, w, bias, mult, shift, o2));
		ASSERT_EQ(0, memcmp(o1, o2, out_n)) TH_LOG("case %d", it);
		free(in);
		free(w);
		free(o1);
		free(o2);
		free(bias);
		free(mult);
		free(shift);
	}
}

TEST(reference_add_and_pool_match_engine)
{
	int8_t a[600], b[600], o1[600], o2[600];

	rng_state = 8;
	for (int it = 0; it < 200; it++) {
		struct apu_add p = {
			.left_shift = rnd_range(0, 20),
			.in1_offset = rnd_range(-127, 128), .in2_offset = rnd_range(-127, 128),
			.in1_mult = (int32_t)((1u << 30) + rnd() % (1u << 30)),
			.in2_mult = (int32_t)((1u << 30) + rnd() % (1u << 30)),
			.in1_shift = rnd_range(-10, 0), .in2_shift = rnd_range(-10, 0),
			.out_mult = (int32_t)((1u << 30) + rnd() % (1u << 30)),
			.out_shift = rnd_range(-20, 0), .out_zp = rnd_range(-128, 127),
			.act_min = -128, .act_max = 127,
		};
		ApuAddParams q = {
			600, p.left_shift, p.in1_offset, p.in1_mult, p.in1_shift,
			p.in2_offset, p.in2_mult, p.in2_shift, p.out_mult, p.out_shift,
			p.out_zp, p.act_min, p.act_max, 0,
		};
		struct apu_ref_pool rp;
		ApuPoolParams pp;

		fill_rnd(a, sizeof(a), -128, 127);
		fill_rnd(b, sizeof(b), -128, 127);
		apu_ref_add(600, &p, a, b, o1);
		apu_add(&q, a, b, o2);
		ASSERT_EQ(0, memcmp(o1, o2, 600));

		pp = (ApuPoolParams){ .in_h = rnd_range(1, 8), .in_w = rnd_range(1, 8),
				      .channels = rnd_range(1, 8) };
		pp.k_h = rnd_range(1, pp.in_h);
		pp.k_w = rnd_range(1, pp.in_w);
		pp.stride_h = rnd_range(1, 2);
		pp.stride_w = rnd_range(1, 2);
		pp.out_h = (pp.in_h - pp.k_h) / pp.stride_h + 1;
		pp.out_w = (pp.in_w - pp.k_w) / pp.stride_w + 1;
		pp.act_min = -128;
		pp.act_max = 127;
		if (apu_pool_check(&pp))
			continue;
		pp.round_uint8 = it % 2;
		rp = (struct apu_ref_pool){ pp.in_h, pp.in_w, pp.channels, pp.out_h, pp.out_w,
					    pp.k_h, pp.k_w, pp.stride_h, pp.stride_w, 0, 0,
					    -128, 127, pp.round_uint8 };
		apu_ref_avgpool(&rp, a, o1);
		apu_avgpool(&pp, a, o2);
		ASSERT_EQ(0, memcmp(o1, o2, (size_t)pp.out_h * pp.out_w * pp.channels));
	}
}

/*
 * A window of more than 2^24 taps (defect 10 of issue 15): a 32-bit sum of
 * int8 values overflows there (undefined; UBSan stops the test). The
 * average of a constant is that constant, whatever the window's size; the
 * CPU reference and the firmware engine both give it.
 */
TEST(avgpool_of_2_24_taps_and_more_averages_exactly)
{
	const int n = 4097;	/* 4097^2 = 2^24 + 8193 taps */
	int8_t *a = malloc((size_t)n * n), o1, o2;
	ApuPoolParams pp = { .in_h = n, .in_w = n, .channels = 1, .out_h = 1, .out_w = 1,
			     .k_h = n, .k_w = n, .stride_h = 1, .stride_w = 1,
			     .act_min = -128, .act_max = 127 };
	struct apu_ref_pool rp = { n, n, 1, 1, 1, n, n, 1, 1, 0, 0, -128, 127, false };
	const int8_t values[] = { -128, 127, -1 };

	ASSERT_NE(NULL, a);
	ASSERT_EQ(APU_STATUS_OK, (int)apu_pool_check(&pp));
	for (int r = 0; r < 2; r++) {
		pp.round_uint8 = rp.round_uint8 = r;
		for (size_t k = 0; k < sizeof(values); k++) {
			memset(a, (uint8_t)values[k], (size_t)n * n);
			apu_ref_avgpool(&rp, a, &o1);
			apu_avgpool(&pp, a, &o2);
			EXPECT_EQ(values[k], o1);
			EXPECT_EQ(values[k], o2);
		}
	}
	free(a);
}

/* Shares cover every unit once, tiles fit SRAM, cores end together. */
TEST(planner_invariants)
{
	struct apu_device *dev;
	struct apu_core_info cores[6];

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	for (int i = 0; i < 6; i++)
		ASSERT_EQ(0, apu_device_get_core(dev, i, &cores[i], sizeof(cores[i])));
	rng_state = 11;
	for (int it = 0; it < 2000; it++) {
		struct apu_plan_layer l = {
			.units = (unsigned int)rnd_range(1, 300),
			.unit_macs = (uint64_t)rnd_range(1, 2000000),
			.unit_bytes = (uint64_t)rnd_range(1, 200000),
			.fixed_bytes = (uint64_t)rnd_range(0, 500000),
		};
		unsigned int mask = (unsigned int)rnd_range(1, 63), next = 0;
		struct apu_plan_share sh[8];
		double t, e, lo = 1e300, hi = 0;
		int n;

		l.unit_sram = l.unit_bytes;
		l.fixed_sram = l.fixed_bytes / 2;
		l.weight_sram = l.fixed_bytes / 2;
		n = apu_plan_split(cores, 6, mask, &l, sh, &t, &e);
		if (n == -E2BIG) {
			for (int c = 0; c < 6; c++)
				if (mask & (1u << c))
					ASSERT_EQ(0u, apu_plan_max_tile(&cores[c], &l));
			continue;
		}
		ASSERT_LT(0, n);
		for (int k = 0; k < n; k++) {
			const struct apu_core_info *c = &cores[sh[k].core];
			uint64_t cyc = 0;
			unsigned int left = sh[k].count;

			ASSERT_TRUE(mask & (1u << sh[k].core));
			ASSERT_EQ(next, sh[k].first);
			next += sh[k].count;
			ASSERT_LE(1u, sh[k].tile_units);
			ASSERT_LE(sh[k].tile_units, apu_plan_max_tile(c, &l));
			/* The tiles' SRAM fits the core. */
			ASSERT_LE(l.fixed_sram + (l.weight_sram < c->sram_bytes / 2 ?
						  l.weight_sram : c->sram_bytes / 2) +
				  l.unit_sram * sh[k].tile_units, c->sram_bytes);
			while (left) {
				unsigned int u = left < sh[k].tile_units ? left : sh[k].tile_units;

				cyc += apu_plan_op_cycles(c, l.unit_macs * u, l.unit_bytes * u + l.fixed_bytes);
				left -= u;
			}
			ASSERT_EQ(cyc, sh[k].cycles);
			lo = sh[k].us < lo ? sh[k].us : lo;
			hi = sh[k].us > hi ? sh[k].us : hi;
		}
		ASSERT_EQ(l.units, next);
		EXPECT_TRUE(t >= hi - 1e-9 && t <= hi + 1e-9);
		/*
		 * Balanced: no core of the mask that fits a unit would end
		 * sooner than the layer if it took one unit more, so moving
		 * the last unit of the slowest core anywhere cannot help.
		 */
		for (int c = 0; c < 6; c++) {
			unsigned int tile = apu_plan_max_tile(&cores[c], &l), have = 0, left;
			uint64_t cyc = 0;

			if (!(mask & (1u << c)) || !tile)
				continue;
			for (int k = 0; k < n; k++)
				if (sh[k].core == (unsigned int)c)
					have = sh[k].count;
			for (left = have + 1; left;) {
				unsigned int u = left < tile ? left : tile;

				cyc += apu_plan_op_cycles(&cores[c], l.unit_macs * u,
							  l.unit_bytes * u + l.fixed_bytes);
				left -= u;
			}
			ASSERT_GE((double)cyc / cores[c].clock_mhz + 1e-9, t)
				TH_LOG("core %d with %u+1 units would end before the layer", c, have);
		}
		(void)lo;
	}
	apu_device_close(dev);
}

#include "exec_cmds.h"

static void check_model(struct __test_metadata *_metadata, enum apu_builtin_model model,
			enum apu_policy policy)
{
	struct apu_compile_options o = { .policy = policy, .priority = 1, .deadline_us = 2000 };
	struct apu_device *dev;
	struct exec x = { 0 };
	struct apu_shape s;
	int in, out, nt = 0;
	size_t in_n, act, byte;
	int bad;
	int8_t *data;

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_network_create(dev, &x.net));
	ASSERT_EQ(0, apu_network_build_model(x.net, model, 5, &in, &out));
	ASSERT_EQ(0, apu_network_compile(x.net, &o, sizeof(o)));
	for (int i = 0; i < 3; i++)
		x.buf[i] = apu_network_buffer(x.net, i);
	act = apu_buffer_size(x.buf[0]);
	x.cover = calloc(1, act);
	ASSERT_NE(NULL, x.cover);
	apu_network_shape(x.net, in, &s);
	in_n = (size_t)s.h * s.w * s.c;
	data = malloc(act);
	ASSERT_NE(NULL, data);
	for (size_t i = 0; i < in_n; i++)
		data[i] = (int8_t)rnd();
	ASSERT_EQ(0, apu_network_write(x.net, in, data, in_n));
	ASSERT_EQ(0, exec_network(&x));
	ASSERT_EQ(0, apu_network_run_reference(x.net));
	/* Every tensor: bit-exact, every byte written once. */
	nt = check_tensors(&x, in, &bad, &byte);
	EXPECT_EQ(-1, bad) TH_LOG("tensor %d %s (byte %zu)", bad,
				  byte == SIZE_MAX ? "differs" : "not written once", byte);
	EXPECT_LT(25, nt);
	free(data);
	free(x.cover);
	apu_network_destroy(x.net);
	apu_device_close(dev);
}

TEST(mobilenet_v2_command_buffers_bit_exact) { check_model(_metadata, APU_MODEL_MOBILENET_V2, APU_POLICY_PERFORMANCE); }
TEST(mobilenet_v1_command_buffers_bit_exact) { check_model(_metadata, APU_MODEL_MOBILENET_V1, APU_POLICY_PERFORMANCE); }
TEST(mobilenet_v2_low_power_bit_exact) { check_model(_metadata, APU_MODEL_MOBILENET_V2, APU_POLICY_LOW_POWER); }
TEST(mobilenet_v1_deadline_bit_exact) { check_model(_metadata, APU_MODEL_MOBILENET_V1, APU_POLICY_DEADLINE); }

/*
 * Depthwise convolutions with a channel multiplier, split by channel and by
 * rows (forced), every tile size down to one channel: bit-exact, every
 * output byte written once.
 */
TEST(depthwise_split_both_ways)
{
	static const char *const ways[] = { "channels", "rows" };

	rng_seed(21);
	for (int w = 0; w < 2; w++) {
		setenv("APU_PLAN_SPLIT", ways[w], 1);
		for (int it = 0; it < 12; it++) {
			struct apu_shape s = { (unsigned int)rnd_range(5, 40),
					       (unsigned int)rnd_range(5, 40),
					       (unsigned int)rnd_range(1, 7) };
			unsigned int mlt = (unsigned int)rnd_range(1, 3), k = 1 + 2 * (it % 2);
			unsigned int oc = s.c * mlt, n = k * k * oc;
			int8_t *wt = malloc(n);
			int32_t bias[32], mult[32], shift[32];
			struct apu_conv2d p = {
				.out_c = oc, .k_h = k, .k_w = k, .stride_h = 1 + it % 2,
				.stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = s.c,
				.padding = APU_PAD_SAME, .in_zp = 3, .out_zp = -2,
				.act_min = -128, .act_max = 127, .weights = wt, .bias = bias,
				.mult = mult, .shift = shift,
			};
			struct apu_device *dev;
			struct exec x = { 0 };
			int in, out;
			size_t off, size, in_n;
			int8_t *data, *ref;

			ASSERT_NE(NULL, wt);
			fill_rnd(wt, n, -128, 127);
			for (int i = 0; i < 32; i++) {
				bias[i] = rnd_range(-3000, 3000);
				mult[i] = (int32_t)((1u << 30) + rnd() % (1u << 29));
				shift[i] = -rnd_range(4, 9);
			}
			ASSERT_EQ(0, apu_device_open_cpu(&dev));
			ASSERT_EQ(0, apu_network_create(dev, &x.net));
			ASSERT_EQ(0, apu_network_add_input(x.net, &s, &in));
			ASSERT_EQ(0, apu_network_add_conv2d(x.net, in, &p, &out));
			ASSERT_EQ(0, apu_network_compile(x.net, NULL, 0));
			for (int i = 0; i < 3; i++)
				x.buf[i] = apu_network_buffer(x.net, i);
			x.cover = calloc(1, apu_buffer_size(x.buf[0]));
			in_n = (size_t)s.h * s.w * s.c;
			data = malloc(in_n);
			ASSERT_TRUE(x.cover && data);
			fill_rnd(data, in_n, -128, 127);
			ASSERT_EQ(0, apu_network_write(x.net, in, data, in_n));
			ASSERT_EQ(0, exec_network(&x));
			ASSERT_EQ(0, apu_network_run_reference(x.net));
			ASSERT_EQ(0, apu_network_tensor_place(x.net, out, &off, &size));
			ref = malloc(size);
			ASSERT_EQ(0, apu_network_read_reference(x.net, out, ref, size));
			EXPECT_EQ(0, memcmp(ref, (uint8_t *)apu_buffer_cpu(x.buf[0]) + off, size))
				TH_LOG("%s, case %d: %ux%ux%u x%u k%u", ways[w], it, s.h, s.w, s.c, mlt, k);
			for (size_t i = 0; i < size; i++)
				ASSERT_EQ(1, x.cover[off + i]);
			free(ref);
			free(data);
			free(x.cover);
			free(wt);
			apu_network_destroy(x.net);
			apu_device_close(dev);
		}
	}
	unsetenv("APU_PLAN_SPLIT");
}

/* Policies: energy and time go the documented ways; deadlines refuse early. */
TEST(policies)
{
	struct apu_device *dev;
	double us[3], uj[3];

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	for (int p = 0; p < 3; p++) {
		struct apu_compile_options o = { .policy = (enum apu_policy)p, .priority = 1 };
		struct apu_run_stats st;
		struct apu_network *net;
		int in, out;

		ASSERT_EQ(0, apu_network_create(dev, &net));
		ASSERT_EQ(0, apu_network_build_model(net, APU_MODEL_MOBILENET_V2, 1, &in, &out));
		ASSERT_EQ(0, apu_network_compile(net, &o, sizeof(o)));
		ASSERT_EQ(0, apu_network_run(net, &st));
		us[p] = st.makespan_us;
		uj[p] = st.energy_uj;
		EXPECT_LT(0, st.makespan_us);
		/* The run's modeled time is what the planner said. */
		EXPECT_LT(fabs(st.makespan_us - apu_network_modeled_us(net)), 1e-6 * st.makespan_us + 1e-6);
		apu_network_destroy(net);
	}
	EXPECT_LE(us[0], us[1]);
	EXPECT_LE(us[0], us[2]);
	EXPECT_LT(uj[2], uj[0]);
	EXPECT_LT(uj[2], 0.7 * uj[0]);
	/* Balanced sits between the two. */
	EXPECT_LE(uj[1], uj[0] * 1.0001);
	EXPECT_LE(us[1], us[2]);

	/* Deadlines: an impossible one is refused at compile time. */
	for (int k = 0; k < 2; k++) {
		struct apu_compile_options o = { .policy = APU_POLICY_DEADLINE, .priority = 1,
						 .deadline_us = k ? us[0] * 3 : us[0] * 0.5 };
		struct apu_network *net;
		int in, out;

		ASSERT_EQ(0, apu_network_create(dev, &net));
		ASSERT_EQ(0, apu_network_build_model(net, APU_MODEL_MOBILENET_V2, 1, &in, &out));
		if (!k) {
			EXPECT_EQ(-ETIME, apu_network_compile(net, &o, sizeof(o)));
		} else {
			ASSERT_EQ(0, apu_network_compile(net, &o, sizeof(o)));
			EXPECT_GE(o.deadline_us, apu_network_modeled_us(net));
		}
		apu_network_destroy(net);
	}
	apu_device_close(dev);
}

TEST(api_misuse)
{
	struct apu_device *dev;
	struct apu_network *net;
	struct apu_shape s = { 4, 4, 8 }, bad = { 0, 4, 8 };
	int8_t w[8 * 8] = { 0 };
	int32_t m[8], sh[8];
	struct apu_conv2d p = { .out_c = 8, .k_h = 1, .k_w = 1, .stride_h = 1, .stride_w = 1,
				.dil_h = 1, .dil_w = 1, .groups = 1, .act_min = -128, .act_max = 127,
				.weights = w, .mult = m, .shift = sh };
	struct apu_run_stats st;
	int in, out, tmp;
	uint8_t buf[128];

	for (int i = 0; i < 8; i++) {
		m[i] = 1 << 30;
		sh[i] = 0;
	}
	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	EXPECT_EQ(-EINVAL, apu_network_create(NULL, &net));
	ASSERT_EQ(0, apu_network_create(dev, &net));
	EXPECT_EQ(-EINVAL, apu_network_compile(net, NULL, 0));	/* no op */
	EXPECT_EQ(-EINVAL, apu_network_add_input(net, &bad, &in));
	ASSERT_EQ(0, apu_network_add_input(net, &s, &in));
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d(net, 7, &p, &out));
	p.groups = 3;
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d(net, in, &p, &out));
	p.groups = 1;
	p.act_min = 5;
	p.act_max = 4;
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d(net, in, &p, &out));
	p.act_min = -128;
	p.act_max = 127;
	p.k_h = 9;
	p.padding = APU_PAD_VALID;
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d(net, in, &p, &out));
	p.k_h = 1;
	ASSERT_EQ(0, apu_network_add_conv2d(net, in, &p, &out));
	EXPECT_EQ(-EINVAL, apu_network_run(net, &st));		/* not compiled */
	ASSERT_EQ(0, apu_network_compile(net, NULL, 0));
	EXPECT_EQ(-EBUSY, apu_network_compile(net, NULL, 0));
	EXPECT_EQ(-EBUSY, apu_network_add_conv2d(net, in, &p, &tmp));
	EXPECT_EQ(-EINVAL, apu_network_write(net, in, buf, 100));	/* wrong size */
	EXPECT_EQ(-EINVAL, apu_network_write(net, out, buf, 128));	/* not an input */
	EXPECT_EQ(0, apu_network_write(net, in, buf, 128));
	EXPECT_EQ(-EINVAL, apu_network_wait(net, 0, NULL));	/* nothing submitted */
	EXPECT_EQ(0, apu_network_run(net, &st));
	EXPECT_EQ(-EINVAL, apu_network_read(net, out, buf, 127));
	EXPECT_EQ(0, apu_network_read(net, out, buf, 128));
	EXPECT_EQ(-EINVAL, apu_network_write_trace(net, NULL));
	EXPECT_EQ(0, apu_network_write_trace(net, "/tmp/apu-hal-test-trace.json"));
	unlink("/tmp/apu-hal-test-trace.json");
	apu_network_destroy(net);
	apu_device_close(dev);
}

/*
 * Ops whose output takes its input's shape, added as the tensor array
 * grows (clang-tidy found add_tensor() reading the shape from the array it
 * had just moved): a chain of adds across several growths, run on the CPU
 * backend and checked against the arithmetic.
 */
TEST(tensor_array_growth_under_same_shape_ops)
{
	struct apu_device *dev;
	struct apu_network *net;
	struct apu_shape s = { 2, 3, 4 }, got;
	/* out = a + a, exactly (scales 0.5 in, 1.0 out, no offsets). */
	struct apu_add p = { .left_shift = 20, .in1_mult = 1 << 30, .in1_shift = 0,
			     .in2_mult = 1 << 30, .in2_shift = 0, .out_mult = 1 << 30,
			     .out_shift = -18, .act_min = -128, .act_max = 127 };
	int8_t x[24], y[24];
	int in, t, n;

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_network_create(dev, &net));
	ASSERT_EQ(0, apu_network_add_input(net, &s, &in));
	t = in;
	for (n = 0; n < 70; n++)	/* 16, 32 and 64 tensors: three moves */
		ASSERT_EQ(0, apu_network_add_add(net, t, t, &p, &t));
	ASSERT_EQ(0, apu_network_shape(net, t, &got));
	EXPECT_EQ(0, memcmp(&s, &got, sizeof(s)));
	ASSERT_EQ(0, apu_network_compile(net, NULL, 0));
	for (n = 0; n < 24; n++)
		x[n] = (int8_t)(n - 12);
	ASSERT_EQ(0, apu_network_write(net, in, x, sizeof(x)));
	ASSERT_EQ(0, apu_network_run(net, NULL));
	ASSERT_EQ(0, apu_network_read(net, t, y, sizeof(y)));
	/* x + x per add, saturating: 0 stays 0, anything else ends at +-127/-128. */
	for (n = 0; n < 24; n++)
		EXPECT_EQ(x[n] == 0 ? 0 : x[n] > 0 ? 127 : -128, y[n]) TH_LOG("element %d", n);
	apu_network_destroy(net);
	apu_device_close(dev);
}

TEST(avgpool_clamps_outside_int8_refused)
{
	struct apu_avgpool p = { .k_h = 2, .k_w = 2, .stride_h = 2, .stride_w = 2,
				 .padding = APU_PAD_VALID, .act_min = -128, .act_max = 127 };
	struct apu_shape s = { 4, 4, 3 };
	struct apu_device *dev;
	struct apu_network *net;
	int in, out;

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_network_create(dev, &net));
	ASSERT_EQ(0, apu_network_add_input(net, &s, &in));
	p.act_min = -129;
	EXPECT_EQ(-EINVAL, apu_network_add_avgpool(net, in, &p, &out));
	p.act_min = -128;
	p.act_max = 128;
	EXPECT_EQ(-EINVAL, apu_network_add_avgpool(net, in, &p, &out));
	EXPECT_EQ(-EINVAL, apu_network_add_maxpool(net, in, &p, &out));
	p.act_max = 127;
	EXPECT_EQ(0, apu_network_add_avgpool(net, in, &p, &out));
	/* The device would refuse what the network took: compile and check it runs. */
	ASSERT_EQ(0, apu_network_compile(net, NULL, 0));
	apu_network_destroy(net);
	apu_device_close(dev);
}

/*
 * The int32 accumulator wraps on the device (and in TFLite's int32 math on
 * two's complement machines): the reference must wrap the same way, without
 * undefined behaviour (UBSan aborts the test otherwise).
 */
TEST(reference_conv_wraps_like_the_device_on_int32_overflow)
{
	ApuConvParams p = {
		.in_h = 1, .in_w = 1, .in_c = 4, .out_h = 1, .out_w = 1, .out_c = 2,
		.k_h = 1, .k_w = 1, .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1,
		.groups = 1, .in_zp = 127, .out_zp = 100, .act_min = -128, .act_max = 127,
		.w_zp = 127,
	};
	struct apu_ref_conv r = {
		1, 1, 4, 1, 1, 2, 1, 1, 1, 1, 1, 1, 0, 0, 1, 127, 100, -128, 127, 127,
	};
	int8_t in[4] = { -128, -128, -128, -128 }, w[8] = { -128, -128, -128, -128, 1, 2, 3, 4 };
	int32_t bias[2] = { INT32_MAX, INT32_MIN }, mult[2] = { INT32_MAX, 1 << 30 };
	int32_t shift[2] = { 0, 30 };
	int8_t o1[2], o2[2];

	apu_ref_conv2d(&r, in, w, bias, mult, shift, o1);
	ASSERT_EQ(0, apu_conv2d(&p, in, w, bias, mult, shift, o2));
	EXPECT_EQ(o1[0], o2[0]);
	EXPECT_EQ(o1[1], o2[1]);
}

/*
 * A network and a buffer keep their device alive (reference counting):
 * the device may be closed first; ASan sees any use after free.
 */
TEST(network_and_buffer_keep_the_device)
{
	struct apu_device *dev;
	struct apu_network *net;
	struct apu_buffer *buf;
	struct apu_shape s = { 1, 2, 8 };
	struct apu_add p = { .left_shift = 20, .in1_mult = 1 << 30, .in2_mult = 1 << 30,
			     .out_mult = 1 << 30, .out_shift = -18, .act_min = -128,
			     .act_max = 127 };
	int8_t x[16] = { 1, -1, 2 }, y[16];
	struct apu_core_stats cs;
	struct { struct apu_core_stats s; uint64_t later; } big = { .later = 7 };
	unsigned int jobs = 0;
	int in, out;

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	EXPECT_EQ(dev, apu_device_ref(dev));
	apu_device_close(dev);			/* the extra reference */
	EXPECT_EQ(NULL, apu_device_ref(NULL));
	ASSERT_EQ(0, apu_network_create(dev, &net));
	ASSERT_EQ(0, apu_buffer_create(dev, 100, 0, &buf));
	apu_device_close(dev);			/* the opener's */
	ASSERT_EQ(0, apu_network_add_input(net, &s, &in));
	ASSERT_EQ(0, apu_network_add_add(net, in, in, &p, &out));
	ASSERT_EQ(0, apu_network_compile(net, NULL, 0));
	ASSERT_EQ(0, apu_network_write(net, in, x, sizeof(x)));
	ASSERT_EQ(0, apu_network_run(net, NULL));
	ASSERT_EQ(0, apu_network_read(net, out, y, sizeof(y)));
	EXPECT_EQ(2, y[0]);
	EXPECT_EQ(-2, y[1]);
	/* Size-versioned getters: a 1.0 caller's size, and a later, larger struct. */
	EXPECT_EQ(-EINVAL, apu_network_get_core_stats(net, 0, &cs, sizeof(cs) - 1));
	ASSERT_EQ(0, apu_network_get_core_stats(net, 0, &big.s, sizeof(big)));
	EXPECT_EQ(0u, big.later);
	for (unsigned int c = 0; c < 6; c++) {
		ASSERT_EQ(0, apu_network_get_core_stats(net, c, &cs, sizeof(cs)));
		jobs += cs.jobs;
	}
	EXPECT_LT(0u, jobs);
	EXPECT_EQ(-EINVAL, apu_network_get_core_stats(net, 6, &cs, sizeof(cs)));
	apu_network_destroy(net);
	EXPECT_NE(NULL, apu_buffer_cpu(buf));
	apu_buffer_destroy(buf);		/* the last reference */
}

/*
 * Structs that grow: compile options come in with the caller's size
 * (shorter than libapu 1.0's is refused; a newer caller's unknown field,
 * set, is -E2BIG, left zero it is accepted); op info goes out with it (the
 * part past what libapu knows zeroed).
 */
TEST(compile_options_and_op_info_are_size_versioned)
{
	struct apu_device *dev;
	struct apu_network *net;
	struct apu_shape s = { 1, 2, 8 };
	struct apu_add p = { .left_shift = 20, .in1_mult = 1 << 30, .in2_mult = 1 << 30,
			     .out_mult = 1 << 30, .out_shift = -18, .act_min = -128,
			     .act_max = 127 };
	struct { struct apu_compile_options o; uint64_t later; } newer = {
		.o = { .policy = APU_POLICY_LOW_POWER, .priority = 1 }, .later = 1,
	};
	struct { struct apu_op_info i; uint64_t later; } big;
	struct apu_compile_options o = { .policy = 7 };
	struct apu_op_info oi;
	int in, out;

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_network_create(dev, &net));
	apu_device_close(dev);
	ASSERT_EQ(0, apu_network_add_input(net, &s, &in));
	ASSERT_EQ(0, apu_network_add_add(net, in, in, &p, &out));
	EXPECT_EQ(-EINVAL, apu_network_compile(net, &newer.o, sizeof(newer.o) - 1));
	EXPECT_EQ(-E2BIG, apu_network_compile(net, &newer.o, sizeof(newer)));
	/* The options are read: a bad policy is refused. */
	EXPECT_EQ(-EINVAL, apu_network_compile(net, &o, sizeof(o)));
	newer.later = 0;
	ASSERT_EQ(0, apu_network_compile(net, &newer.o, sizeof(newer)));

	EXPECT_EQ(-EINVAL, apu_network_op_info(net, 0, &oi, sizeof(oi) - 1));
	memset(&big, 0xa5, sizeof(big));
	ASSERT_EQ(0, apu_network_op_info(net, 0, &big.i, sizeof(big)));
	EXPECT_STREQ("add", big.i.kind);
	EXPECT_EQ(out, big.i.output);
	EXPECT_EQ(0u, big.later);
	ASSERT_EQ(0, apu_network_op_info(net, 0, &oi, sizeof(oi)));
	EXPECT_EQ(in, oi.inputs[0]);
	apu_network_destroy(net);
}

TEST_HARNESS_MAIN
