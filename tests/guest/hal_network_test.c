// SPDX-License-Identifier: MIT
/*
 * Guest tests of libapu's networks on the emulated APU: MobileNet V1 and
 * V2 end to end under every policy, every tensor bit-exact against the
 * CPU reference; single convolutions that need tiling; asynchronous runs
 * with sync_file fences in and out; several threads at once; deadline
 * refusal; device faults and hangs surfacing as the documented errors.
 */
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sys/wait.h>

#include "kselftest_harness.h"

/*
 * Whole models and large networks: a hang catcher, not a speed check (make
 * bench measures speed). Under TCG on a loaded machine (make check runs the
 * debug tier's VM beside this one) they take well over the harness's
 * default 30 s.
 */
#define HEAVY_TIMEOUT 180
#include "apu_guest.h"
#include <apu/apu.h>

/* Every tensor of a run (or of the reference), by id. */
struct snapshot {
	int n;
	int8_t *t[512];
	size_t size[512];
};

static void snapshot_free(struct snapshot *sn)
{
	for (int i = 0; i < sn->n; i++)
		free(sn->t[i]);
	sn->n = 0;
}

static int take(struct apu_network *net, bool reference, struct snapshot *sn)
{
	struct apu_shape s;

	for (sn->n = 0; sn->n < 512 && apu_network_shape(net, sn->n, &s) == 0; sn->n++) {
		size_t n = (size_t)s.h * s.w * s.c;

		sn->size[sn->n] = n;
		sn->t[sn->n] = malloc(n);
		if (!sn->t[sn->n])
			return -ENOMEM;
		if (reference ? apu_network_read_reference(net, sn->n, sn->t[sn->n], n) :
		    apu_network_read(net, sn->n, sn->t[sn->n], n))
			return -EIO;
	}
	return 0;
}

static int fill_input(struct apu_network *net, int in, unsigned int seed)
{
	struct apu_shape s;
	size_t n;
	int8_t *x;
	int ret;

	apu_network_shape(net, in, &s);
	n = (size_t)s.h * s.w * s.c;
	x = malloc(n);
	if (!x)
		return -ENOMEM;
	/* A local generator: threads fill their inputs at the same time. */
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (int8_t)(seed >> 16);
	}
	ret = apu_network_write(net, in, x, n);
	free(x);
	return ret;
}

/*
 * Fill the input from @seed, run, and compare every tensor with @ref (the
 * CPU reference of the same network and input; computed here when it is
 * empty).
 */
static int run_and_check(struct apu_network *net, int in, unsigned int seed,
			 struct apu_run_stats *st, struct snapshot *ref, int *bad_tensor)
{
	struct snapshot got = { 0 };
	int ret = fill_input(net, in, seed);

	if (!ret)
		ret = apu_network_run(net, st);
	if (!ret && !ref->n) {
		ret = apu_network_run_reference(net);
		if (!ret)
			ret = take(net, true, ref);
	}
	if (!ret)
		ret = take(net, false, &got);
	for (int t = 0; !ret && t < got.n; t++)
		if (t >= ref->n || got.size[t] != ref->size[t] ||
		    memcmp(got.t[t], ref->t[t], got.size[t])) {
			*bad_tensor = t;
			ret = -EBADMSG;
		}
	snapshot_free(&got);
	return ret;
}

FIXTURE(net)
{
	struct apu_device *dev;
};

FIXTURE_SETUP(net)
{
	ASSERT_EQ(0, apu_device_open(apu_node(), &self->dev));
	ASSERT_EQ(0, apu_device_is_cpu(self->dev));
}

FIXTURE_TEARDOWN(net)
{
	apu_device_close(self->dev);
}

static void model(struct __test_metadata *_metadata, struct apu_device *dev,
		  enum apu_builtin_model m, enum apu_policy p, struct apu_run_stats *st,
		  struct snapshot *ref, unsigned int core_jobs[8])
{
	struct apu_compile_options o = { .policy = p, .priority = 1, .deadline_us = 1500 };
	struct apu_network *net;
	int in, out, bad = -1;

	ASSERT_EQ(0, apu_network_create(dev, &net));
	ASSERT_EQ(0, apu_network_build_model(net, m, 3, &in, &out));
	ASSERT_EQ(0, apu_network_compile(net, &o, sizeof(o)));
	EXPECT_EQ(0, run_and_check(net, in, 11, st, ref, &bad)) TH_LOG("tensor %d differs", bad);
	EXPECT_LT(0, st->makespan_us);
	EXPECT_LT(0, st->energy_uj);
	for (unsigned int c = 0; core_jobs && c < st->num_cores && c < 8; c++) {
		struct apu_core_stats cs;

		ASSERT_EQ(0, apu_network_get_core_stats(net, c, &cs, sizeof(cs)));
		core_jobs[c] = cs.jobs;
	}
	apu_network_destroy(net);
}

TEST_F_TIMEOUT(net, mobilenet_v2_every_policy, HEAVY_TIMEOUT)
{
	struct apu_run_stats st[4];
	struct snapshot ref = { 0 };
	unsigned int jobs[8] = { 0 };

	/* Same network, same input: one reference for every policy. */
	for (int p = 0; p < 4; p++)
		model(_metadata, self->dev, APU_MODEL_MOBILENET_V2, (enum apu_policy)p, &st[p], &ref,
		      p == 0 ? jobs : NULL);
	snapshot_free(&ref);
	/* Performance uses every core; low power spends less energy. */
	for (unsigned int c = 0; c < st[0].num_cores; c++) {
		EXPECT_LT(0, jobs[c]) TH_LOG("core %u idle under performance", c);
	}
	EXPECT_LT(st[2].energy_uj, st[0].energy_uj);
	EXPECT_LE(st[0].makespan_us, st[2].makespan_us);
	EXPECT_GE(1500.0, st[3].makespan_us);
}

TEST_F_TIMEOUT(net, mobilenet_v1, HEAVY_TIMEOUT)
{
	struct apu_run_stats st;
	struct snapshot ref = { 0 };

	model(_metadata, self->dev, APU_MODEL_MOBILENET_V1, APU_POLICY_PERFORMANCE, &st, &ref, NULL);
	snapshot_free(&ref);
}

/* Convolutions big enough that the small cores' SRAM forces tiling. */
TEST_F_TIMEOUT(net, tiled_convolutions, HEAVY_TIMEOUT)
{
	static const unsigned int shapes[][7] = {
		/* h, w, c, oc, k, stride, groups */
		{ 112, 112, 32, 64, 3, 1, 1 },
		{ 56, 56, 64, 64, 3, 2, 64 },
		{ 30, 30, 17, 33, 5, 1, 1 },
		{ 64, 48, 24, 48, 1, 1, 1 },
		{ 17, 23, 12, 24, 7, 2, 2 },
	};

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const unsigned int *v = shapes[i];
		struct apu_shape s = { v[0], v[1], v[2] };
		size_t wn = v[6] == v[2] ? (size_t)v[4] * v[4] * v[3] :
			    (size_t)v[3] * v[4] * v[4] * (v[2] / v[6]);
		int8_t *w = malloc(wn);
		int32_t bias[64], mult[64], shift[64];
		struct apu_conv2d p = {
			.out_c = v[3], .k_h = v[4], .k_w = v[4], .stride_h = v[5], .stride_w = v[5],
			.dil_h = 1, .dil_w = 1, .groups = v[6], .padding = APU_PAD_SAME,
			.in_zp = 2, .out_zp = -1, .act_min = -100, .act_max = 120,
			.weights = w, .bias = bias, .mult = mult, .shift = shift,
		};
		struct apu_network *net;
		struct apu_run_stats st;
		struct snapshot ref = { 0 };
		int in, out, bad = -1;

		ASSERT_NE(NULL, w);
		srand(i);
		for (size_t k = 0; k < wn; k++)
			w[k] = (int8_t)rand();
		for (int k = 0; k < 64; k++) {
			bias[k] = rand() % 4001 - 2000;
			mult[k] = (1 << 30) + rand() % (1 << 29);
			shift[k] = -8 - rand() % 3;
		}
		ASSERT_EQ(0, apu_network_create(self->dev, &net));
		ASSERT_EQ(0, apu_network_add_input(net, &s, &in));
		ASSERT_EQ(0, apu_network_add_conv2d(net, in, &p, &out));
		ASSERT_EQ(0, apu_network_compile(net, NULL, 0));
		EXPECT_EQ(0, run_and_check(net, in, 5, &st, &ref, &bad)) TH_LOG("shape %zu", i);
		EXPECT_LE(1u, st.jobs);
		snapshot_free(&ref);
		apu_network_destroy(net);
		free(w);
	}
}

/*
 * Int4 weights (firmware ABI 1.4) through the device: a 3x3 convolution,
 * a depthwise one, 1x1 convolutions with an odd number of input channels
 * and a fully connected layer with an odd input size (tiles whose weights
 * start in the middle of a byte), every tensor bit-exact with the CPU
 * reference; the reference equals that of the int8 network of the same
 * weights.
 */
TEST_F_TIMEOUT(net, int4_weights, HEAVY_TIMEOUT)
{
	static const unsigned int sp[][4] = {
		/* out_c, k, groups, fully connected */
		{ 33, 3, 1, 0 }, { 33, 3, 33, 0 }, { 47, 1, 1, 0 }, { 21, 1, 1, 0 }, { 257, 1, 1, 1 },
	};
	struct apu_device_info info;
	struct apu_shape s = { 40, 36, 7 };
	int8_t *w[5];
	uint8_t *w4[5];
	int32_t bias[257], mult[257], shift[257];
	struct snapshot ref = { 0 }, ref8 = { 0 };
	struct apu_run_stats st;
	int bad = -1;

	ASSERT_EQ(0, apu_device_get_info(self->dev, &info, sizeof(info)));
	ASSERT_TRUE(info.caps & APU_CAP_INT4_WEIGHTS);
	srand(404);
	for (int k = 0; k < 257; k++) {
		bias[k] = rand() % 2001 - 1000;
		mult[k] = (1 << 30) + rand() % (1 << 29);
		shift[k] = -5 - rand() % 3;
	}
	for (int pass = 0; pass < 2; pass++) {
		bool int4 = pass == 0;
		struct apu_network *net;
		unsigned int c = s.c;
		int in, t;

		ASSERT_EQ(0, apu_network_create(self->dev, &net));
		ASSERT_EQ(0, apu_network_add_input(net, &s, &in));
		t = in;
		for (int i = 0; i < 5; i++) {
			size_t n = sp[i][3] ? (size_t)sp[i][0] * 40 * 36 * c :
				   sp[i][2] > 1 ? (size_t)sp[i][1] * sp[i][1] * sp[i][0] :
				   (size_t)sp[i][0] * sp[i][1] * sp[i][1] * c;
			struct apu_conv2d p = {
				.out_c = sp[i][0], .k_h = sp[i][1], .k_w = sp[i][1], .stride_h = 1,
				.stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = sp[i][2],
				.padding = APU_PAD_SAME, .in_zp = 1, .out_zp = -2, .act_min = -128,
				.act_max = 127, .bias = bias, .mult = mult, .shift = shift,
			};
			struct apu_conv2d_ext ext = {
				sizeof(ext), (int4 ? APU_CONV_EXT_WEIGHTS_INT4 : 0) |
					     (sp[i][3] ? APU_CONV_EXT_FULLY_CONNECTED : 0), 0, 0,
			};

			if (int4) {
				w[i] = malloc(n);
				w4[i] = malloc((n + 1) / 2);
				ASSERT_TRUE(w[i] && w4[i]);
				for (size_t k = 0; k < n; k++)
					w[i][k] = (int8_t)(rand() % 16 - 8);
				ASSERT_EQ(0, apu_int4_pack(w[i], n, w4[i]));
			}
			p.weights = int4 ? (const int8_t *)w4[i] : w[i];
			ASSERT_EQ(0, apu_network_add_conv2d_ext(net, t, &p, &ext, &t)) TH_LOG("layer %d", i);
			c = sp[i][0];
		}
		ASSERT_EQ(0, apu_network_compile(net, NULL, 0));
		if (int4) {
			EXPECT_EQ(0, run_and_check(net, in, 9, &st, &ref, &bad))
				TH_LOG("tensor %d differs", bad);
			EXPECT_LE(5u, st.jobs);
		} else {
			ASSERT_EQ(0, fill_input(net, in, 9));
			ASSERT_EQ(0, apu_network_run_reference(net));
			ASSERT_EQ(0, take(net, true, &ref8));
		}
		apu_network_destroy(net);
	}
	ASSERT_EQ(ref.n, ref8.n);
	for (int t = 0; t < ref.n; t++) {
		EXPECT_EQ(0, memcmp(ref.t[t], ref8.t[t], ref.size[t])) TH_LOG("tensor %d", t);
	}
	snapshot_free(&ref);
	snapshot_free(&ref8);
	for (int i = 0; i < 5; i++) {
		free(w[i]);
		free(w4[i]);
	}
}

/*
 * Block-sparse weights (firmware ABI 1.5) through the device: 1x1
 * convolutions (blocks of 4, 2 and 1, a stride 2 layer, odd channel
 * counts) and a fully connected layer, pruned to 70% and 90% of their
 * blocks (with empty block rows); every tensor bit-exact with the CPU
 * reference, which equals that of the dense network of the same weights;
 * the device counts fewer MACs for the sparse network.
 */
TEST_F_TIMEOUT(net, sparse_weights, HEAVY_TIMEOUT)
{
	static const unsigned int sp[][4] = {
		/* out_c, stride, block, fully connected */
		{ 64, 1, 4, 0 }, { 37, 2, 2, 0 }, { 96, 1, 1, 0 }, { 29, 1, 4, 0 }, { 101, 1, 4, 1 },
	};
	struct apu_device_info info;
	struct apu_shape s = { 40, 36, 24 };
	int8_t *w[5];
	int32_t bias[101], mult[101], shift[101];
	struct snapshot ref = { 0 }, refd = { 0 };
	struct apu_run_stats st;
	uint64_t macs[2] = { 0, 0 };
	int bad = -1;

	ASSERT_EQ(0, apu_device_get_info(self->dev, &info, sizeof(info)));
	ASSERT_TRUE(info.caps & APU_CAP_SPARSE_WEIGHTS);
	srand(1818);
	for (int k = 0; k < 101; k++) {
		bias[k] = rand() % 20001 - 10000;
		mult[k] = (1 << 30) + rand() % (1 << 29);
		shift[k] = -8 - rand() % 3;
	}
	for (int pass = 0; pass < 2; pass++) {
		bool sparse = pass == 0;
		struct apu_network *net;
		unsigned int c = s.c, h = s.h, wd = s.w;
		int in, t;

		ASSERT_EQ(0, apu_network_create(self->dev, &net));
		ASSERT_EQ(0, apu_network_add_input(net, &s, &in));
		t = in;
		for (int i = 0; i < 5; i++) {
			size_t k_in = sp[i][3] ? (size_t)h * wd * c : c;
			size_t n = (size_t)sp[i][0] * k_in;
			struct apu_conv2d p = {
				.out_c = sp[i][0], .k_h = 1, .k_w = 1, .stride_h = sp[i][1],
				.stride_w = sp[i][1], .dil_h = 1, .dil_w = 1, .groups = 1,
				.padding = APU_PAD_SAME, .in_zp = 1, .out_zp = -2, .act_min = -128,
				.act_max = 127, .bias = bias, .mult = mult, .shift = shift,
			};
			struct apu_conv2d_ext ext = {
				sizeof(ext), (sparse ? APU_CONV_EXT_WEIGHTS_SPARSE : 0) |
					     (sp[i][3] ? APU_CONV_EXT_FULLY_CONNECTED : 0), 0,
				sp[i][2],
			};

			if (sparse) {
				w[i] = malloc(n);
				ASSERT_NE(NULL, w[i]);
				for (size_t k = 0; k < n; k++)
					w[i][k] = (int8_t)(rand() % 255 - 127);
				/* An empty block row. */
				memset(w[i], 0, k_in * sp[i][2]);
				ASSERT_EQ(0, apu_sparsify(w[i], sp[i][0], (unsigned int)k_in,
							  sp[i][2], 0, i % 2 ? 0.9 : 0.7, NULL));
			}
			p.weights = w[i];
			ASSERT_EQ(0, apu_network_add_conv2d_ext(net, t, &p, &ext, &t)) TH_LOG("layer %d", i);
			c = sp[i][0];
			h = (h + sp[i][1] - 1) / sp[i][1];
			wd = (wd + sp[i][1] - 1) / sp[i][1];
			if (sp[i][3])
				h = wd = 1;
		}
		ASSERT_EQ(0, apu_network_compile(net, NULL, 0));
		EXPECT_EQ(0, run_and_check(net, in, 11, &st, sparse ? &ref : &refd, &bad))
			TH_LOG("%s: tensor %d differs", sparse ? "sparse" : "dense", bad);
		for (unsigned int k = 0; k < st.num_cores; k++) {
			struct apu_core_stats cs;

			ASSERT_EQ(0, apu_network_get_core_stats(net, k, &cs, sizeof(cs)));
			macs[pass] += cs.macs;
		}
		apu_network_destroy(net);
	}
	ASSERT_EQ(ref.n, refd.n);
	for (int t = 0; t < ref.n; t++) {
		EXPECT_EQ(0, memcmp(ref.t[t], refd.t[t], ref.size[t])) TH_LOG("tensor %d", t);
	}
	/* 70% to 90% of the blocks pruned: under half the MACs. */
	EXPECT_LT(0u, macs[0]);
	EXPECT_LT(macs[0] * 2, macs[1]);
	snapshot_free(&ref);
	snapshot_free(&refd);
	for (int i = 0; i < 5; i++)
		free(w[i]);
}

/*
 * fp16 (firmware ABI 1.6) through the device: a 3x3 convolution (ReLU6),
 * a depthwise one of stride 2, max pooling, an add, a 1x1 convolution,
 * average pooling and a fully connected layer on fp16 tensors, every
 * tensor bit-exact with the CPU reference, under every policy; the cores
 * report their fp16 rates (docs/hw.md).
 */
TEST_F_TIMEOUT(net, fp16_network, HEAVY_TIMEOUT)
{
	static const unsigned int fp16_rate[] = { 512, 128, 16 };
	struct apu_device_info info;
	struct apu_shape s = { 28, 24, 8 };
	uint16_t *w1, *wd, *wp, *wf, *x;
	float b1[32], bf[10];
	int in, t1, t2, t3, t4, t5, t6, t7, out;
	struct apu_avgpool pool = { .k_h = 2, .k_w = 2, .stride_h = 2, .stride_w = 2,
				    .padding = APU_PAD_VALID };
	struct apu_avgpool gap = { .k_h = 7, .k_w = 6, .stride_h = 7, .stride_w = 6,
				   .padding = APU_PAD_VALID };
	unsigned int seed = 1616;
	float tmp;

	ASSERT_EQ(0, apu_device_get_info(self->dev, &info, sizeof(info)));
	ASSERT_TRUE(info.caps & APU_CAP_FP16);
	for (unsigned int i = 0; i < info.num_cores; i++) {
		struct apu_core_info c;

		ASSERT_EQ(0, apu_device_get_core(self->dev, i, &c, sizeof(c)));
		EXPECT_EQ(fp16_rate[c.core_class], c.fp16_macs_per_cycle);
	}
	w1 = malloc(2 * 32 * 9 * 8);
	wd = malloc(2 * 9 * 32);
	wp = malloc(2 * 16 * 32);
	wf = malloc(2 * 10 * 64);
	x = malloc(2 * 28 * 24 * 8);
	ASSERT_TRUE(w1 && wd && wp && wf && x);
	/* Values in [-2, 2), from a local generator, through the library's conversion. */
#define FILL(a, n) for (size_t k = 0; k < (n); k++) { \
		seed = seed * 1103515245u + 12345u; \
		tmp = (float)((int)(seed >> 16 & 0xffff) - 32768) / 16384.0f; \
		apu_f32_to_f16(&tmp, &(a)[k], 1); }
	FILL(w1, 32 * 9 * 8);
	FILL(wd, 9 * 32);
	FILL(wp, 16 * 32);
	FILL(wf, 10 * 64);
	FILL(x, 28 * 24 * 8);
#undef FILL
	for (int k = 0; k < 32; k++)
		b1[k] = (float)(k % 7) / 8 - 0.375f;
	for (int k = 0; k < 10; k++)
		bf[k] = (float)k / 4;

	for (int policy = APU_POLICY_PERFORMANCE; policy <= APU_POLICY_BALANCED; policy++) {
		struct apu_conv2d_fp16 c1 = { .out_c = 32, .k_h = 3, .k_w = 3, .stride_h = 1,
					      .stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1,
					      .padding = APU_PAD_SAME, .act_min = 0, .act_max = 6,
					      .weights = w1, .bias = b1 };
		struct apu_conv2d_fp16 dw = { .out_c = 32, .k_h = 3, .k_w = 3, .stride_h = 2,
					      .stride_w = 2, .dil_h = 1, .dil_w = 1, .groups = 32,
					      .padding = APU_PAD_SAME, .act_min = -INFINITY,
					      .act_max = INFINITY, .weights = wd };
		struct apu_conv2d_fp16 pw = { .out_c = 16, .k_h = 1, .k_w = 1, .stride_h = 1,
					      .stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1,
					      .padding = APU_PAD_VALID, .act_min = 0,
					      .act_max = INFINITY, .weights = wp };
		struct apu_conv2d_fp16 fc = { .out_c = 10, .act_min = -INFINITY,
					      .act_max = INFINITY, .weights = wf, .bias = bf };
		struct apu_compile_options o = { .policy = (enum apu_policy)policy, .priority = 1 };
		struct apu_network *net;
		struct apu_run_stats st;
		struct apu_shape sh;

		ASSERT_EQ(0, apu_network_create(self->dev, &net));
		ASSERT_EQ(0, apu_network_add_input_fp16(net, &s, &in));
		ASSERT_EQ(0, apu_network_add_conv2d_fp16(net, in, &c1, &t1));
		ASSERT_EQ(0, apu_network_add_conv2d_fp16(net, t1, &dw, &t2));
		ASSERT_EQ(0, apu_network_add_maxpool_fp16(net, t1, &pool, -INFINITY, INFINITY,
							  &t3));
		ASSERT_EQ(0, apu_network_add_add_fp16(net, t2, t3, -6, 6, &t4));
		ASSERT_EQ(0, apu_network_add_conv2d_fp16(net, t4, &pw, &t5));
		ASSERT_EQ(0, apu_network_add_avgpool_fp16(net, t5, &gap, -INFINITY, INFINITY,
							  &t6));
		ASSERT_EQ(0, apu_network_shape(net, t6, &sh));
		ASSERT_EQ(2u * 2u * 16u, sh.h * sh.w * sh.c);
		ASSERT_EQ(0, apu_network_add_reshape(net, t6, &(struct apu_shape){ 1, 1, 64 },
						     &t7));
		/* The FC's input is 64 elements: weights [10][64]. */
		ASSERT_EQ(0, apu_network_add_fully_connected_fp16(net, t7, &fc, &out));
		ASSERT_EQ(0, apu_network_compile(net, &o, sizeof(o)));
		ASSERT_EQ(0, apu_network_write(net, in, x, 2 * 28 * 24 * 8));
		ASSERT_EQ(0, apu_network_run(net, &st));
		EXPECT_LE(7u, st.jobs);
		ASSERT_EQ(0, apu_network_run_reference(net));
		for (int t = 0; t <= out; t++) {
			size_t n;
			void *a, *b;

			ASSERT_EQ(0, apu_network_shape(net, t, &sh));
			n = 2 * (size_t)sh.h * sh.w * sh.c;
			a = malloc(n);
			b = malloc(n);
			ASSERT_TRUE(a && b);
			ASSERT_EQ(0, apu_network_read(net, t, a, n));
			ASSERT_EQ(0, apu_network_read_reference(net, t, b, n));
			EXPECT_EQ(0, memcmp(a, b, n)) TH_LOG("policy %d tensor %d", policy, t);
			free(a);
			free(b);
		}
		apu_network_destroy(net);
	}
	free(w1);
	free(wd);
	free(wp);
	free(wf);
	free(x);
}

TEST_F(net, async_with_fences)
{
	struct apu_network *net;
	struct apu_run_stats st;
	int in, out, f1 = -1, f2 = -1;
	struct pollfd pfd;

	ASSERT_EQ(0, apu_network_create(self->dev, &net));
	ASSERT_EQ(0, apu_network_build_model(net, APU_MODEL_MOBILENET_V2, 4, &in, &out));
	ASSERT_EQ(0, apu_network_compile(net, NULL, 0));
	ASSERT_EQ(0, apu_network_submit(net, -1, &f1));
	ASSERT_LE(0, f1);
	EXPECT_EQ(-EBUSY, apu_network_submit(net, -1, NULL));
	pfd = (struct pollfd){ .fd = f1, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 30000));
	ASSERT_EQ(0, apu_network_wait(net, -1, &st));
	/* The next run waits for a fence from outside (the last run's). */
	ASSERT_EQ(0, apu_network_submit(net, f1, &f2));
	ASSERT_EQ(0, apu_network_wait(net, 30000000000ll, &st));
	pfd.fd = f2;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	close(f1);
	close(f2);
	apu_network_destroy(net);
}

struct thread_arg {
	struct apu_device *dev;
	struct snapshot *ref;
};

static void *thread_main(void *arg)
{
	struct thread_arg *a = arg;
	struct apu_network *net;
	struct apu_run_stats st;
	int in, out, bad = -1;
	intptr_t ret;

	ret = apu_network_create(a->dev, &net);
	if (!ret)
		ret = apu_network_build_model(net, APU_MODEL_MOBILENET_V2, 9, &in, &out);
	if (!ret)
		ret = apu_network_compile(net, NULL, 0);
	for (int i = 0; !ret && i < 3; i++)
		ret = run_and_check(net, in, 20, &st, a->ref, &bad);
	apu_network_destroy(net);
	return (void *)ret;
}

TEST_F_TIMEOUT(net, threads_share_a_device, HEAVY_TIMEOUT)
{
	pthread_t t[3];
	struct snapshot ref = { 0 };
	struct thread_arg a = { self->dev, &ref };
	void *r0;

	/* The first thread computes the reference the others compare with. */
	r0 = thread_main(&a);
	ASSERT_EQ(0, (int)(intptr_t)r0);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, thread_main, &a));
	for (int i = 0; i < 3; i++) {
		void *r;

		ASSERT_EQ(0, pthread_join(t[i], &r));
		EXPECT_EQ(0, (int)(intptr_t)r) TH_LOG("thread %d", i);
	}
	snapshot_free(&ref);
}

TEST_F(net, deadline_refused_early)
{
	struct apu_compile_options o = { .policy = APU_POLICY_DEADLINE, .priority = 1,
					 .deadline_us = 10 };
	struct apu_network *net;
	int in, out;

	ASSERT_EQ(0, apu_network_create(self->dev, &net));
	ASSERT_EQ(0, apu_network_build_model(net, APU_MODEL_MOBILENET_V2, 1, &in, &out));
	EXPECT_EQ(-ETIME, apu_network_compile(net, &o, sizeof(o)));
	apu_network_destroy(net);
}

/* Device faults reach the caller as errors, and the device keeps working. */
TEST_F(net, faults_surface)
{
	struct apu_network *net;
	struct apu_run_stats st;
	int in, out, bad = -1;

	ASSERT_EQ(0, apu_network_create(self->dev, &net));
	ASSERT_EQ(0, apu_network_build_model(net, APU_MODEL_MOBILENET_V2, 2, &in, &out));
	ASSERT_EQ(0, apu_network_compile(net, NULL, 0));
	ASSERT_EQ(0, apu_debugfs_write("fault_inject", "0 mmu_fault"));
	EXPECT_EQ(-EFAULT, apu_network_run(net, &st));
	ASSERT_EQ(0, apu_debugfs_write("fault_inject", "1 hang"));
	EXPECT_EQ(-ETIMEDOUT, apu_network_run(net, &st));
	ASSERT_EQ(0, apu_debugfs_write("fault_inject", "2 fail_job"));
	EXPECT_EQ(-EIO, apu_network_run(net, &st));
	/* And then it works. */
	ASSERT_EQ(0, fill_input(net, in, 1));
	EXPECT_EQ(0, apu_network_run(net, &st));
	(void)bad;
	apu_network_destroy(net);
}

/* Per-core jobs, cycles and MACs of @net's last run. */
static void core_figures(struct __test_metadata *_metadata, struct apu_network *net,
			 uint64_t fig[8][3])
{
	memset(fig, 0, sizeof(uint64_t) * 8 * 3);
	for (unsigned int c = 0; c < 8; c++) {
		struct apu_core_stats cs;

		if (apu_network_get_core_stats(net, c, &cs, sizeof(cs)))
			break;
		fig[c][0] = cs.jobs;
		fig[c][1] = cs.cycles;
		fig[c][2] = cs.macs;
	}
	ASSERT_NE(0, fig[0][0] + fig[1][0] + fig[2][0]);
}

/*
 * libapu reads job records only when asked (driver 0.3: one JOB_WAIT per
 * run): the figures read later, or with the run's statistics, are the
 * device's, the same as on the older path (APU_JOB_WAIT=0: a syncobj wait
 * and every record read), and a failed job still surfaces with no
 * statistics asked for, on both paths.
 */
TEST_F(net, records_when_asked_match_the_older_path)
{
	uint64_t fig[3][8][3];
	struct apu_run_stats st[2];
	struct apu_device *old;
	struct apu_network *net[2];
	int in[2], out;

	ASSERT_EQ(0, setenv("APU_JOB_WAIT", "0", 1));
	ASSERT_EQ(0, apu_device_open(apu_node(), &old));
	unsetenv("APU_JOB_WAIT");
	for (int k = 0; k < 2; k++) {
		ASSERT_EQ(0, apu_network_create(k ? old : self->dev, &net[k]));
		ASSERT_EQ(0, apu_network_build_model(net[k], APU_MODEL_MOBILENET_V2, 2, &in[k],
						     &out));
		ASSERT_EQ(0, apu_network_compile(net[k], NULL, 0));
		ASSERT_EQ(0, fill_input(net[k], in[k], 5));
	}
	/* New path, no statistics asked: read when get_core_stats() needs them. */
	ASSERT_EQ(0, apu_network_run(net[0], NULL));
	core_figures(_metadata, net[0], fig[0]);
	ASSERT_EQ(0, apu_network_run(net[0], &st[0]));
	core_figures(_metadata, net[0], fig[1]);
	ASSERT_EQ(0, apu_network_run(net[1], &st[1]));
	core_figures(_metadata, net[1], fig[2]);
	EXPECT_EQ(0, memcmp(fig[0], fig[1], sizeof(fig[0])));
	EXPECT_EQ(0, memcmp(fig[0], fig[2], sizeof(fig[0])));
	EXPECT_EQ(st[0].jobs, st[1].jobs);
	EXPECT_EQ(st[0].makespan_us, st[1].makespan_us);

	for (int k = 0; k < 2; k++) {
		ASSERT_EQ(0, apu_debugfs_write("fault_inject", "2 fail_job"));
		EXPECT_EQ(-EIO, apu_network_run(net[k], NULL)) TH_LOG("path %d", k);
		EXPECT_EQ(0, apu_network_run(net[k], NULL));
		apu_network_destroy(net[k]);
	}
	apu_device_close(old);
}

static unsigned int lcg(unsigned int *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* Random single ops, some large enough to be tiled: device == reference. */
TEST_F(net, random_ops)
{
	unsigned int seed = 77;

	for (int it = 0; it < 30; it++) {
		struct apu_shape s = { 1 + lcg(&seed) % 40, 1 + lcg(&seed) % 40,
				       1 + lcg(&seed) % 24 };
		struct apu_network *net;
		struct apu_run_stats st;
		struct snapshot ref = { 0 };
		int in, in2, out, bad = -1, kind = it % 3, ret;
		int8_t *w = NULL;
		int32_t bias[96], mult[96], shift[96];

		if (it % 10 == 0) {	/* a few big ones */
			s.h = 60 + lcg(&seed) % 40;
			s.w = 60 + lcg(&seed) % 40;
		}
		ASSERT_EQ(0, apu_network_create(self->dev, &net));
		ASSERT_EQ(0, apu_network_add_input(net, &s, &in));
		if (kind == 0) {
			unsigned int g = lcg(&seed) % 3 == 0 ? s.c : 1;
			unsigned int oc = g == s.c ? s.c * (1 + lcg(&seed) % 2) : 1 + lcg(&seed) % 48;
			unsigned int k = 1 + lcg(&seed) % 5, n;
			struct apu_conv2d p = {
				.out_c = oc, .k_h = k, .k_w = 1 + lcg(&seed) % 5,
				.stride_h = 1 + lcg(&seed) % 2, .stride_w = 1 + lcg(&seed) % 2,
				.dil_h = 1 + lcg(&seed) % 2, .dil_w = 1, .groups = g,
				.padding = lcg(&seed) % 2 ? APU_PAD_SAME : APU_PAD_EXPLICIT,
				.pad_top = lcg(&seed) % 3, .pad_left = lcg(&seed) % 3,
				.pad_bottom = lcg(&seed) % 3, .pad_right = lcg(&seed) % 3,
				.in_zp = (int)(lcg(&seed) % 256) - 128,
				.out_zp = (int)(lcg(&seed) % 256) - 128,
				.act_min = -128 + (int)(lcg(&seed) % 20), .act_max = 127,
				.bias = bias, .mult = mult, .shift = shift,
			};

			n = (g == s.c && g > 1) ? p.k_h * p.k_w * oc : oc * p.k_h * p.k_w * (s.c / g);
			w = malloc(n);
			ASSERT_NE(NULL, w);
			for (unsigned int i = 0; i < n; i++)
				w[i] = (int8_t)lcg(&seed);
			for (int i = 0; i < 96; i++) {
				bias[i] = (int)(lcg(&seed) % 20001) - 10000;
				mult[i] = (1 << 30) + (int)(lcg(&seed) % (1 << 29));
				shift[i] = -(int)(lcg(&seed) % 10);
			}
			p.weights = w;
			ret = apu_network_add_conv2d(net, in, &p, &out);
			if (ret == -EINVAL) {	/* a kernel larger than its padded input */
				free(w);
				apu_network_destroy(net);
				continue;
			}
			ASSERT_EQ(0, ret);
		} else if (kind == 1) {
			struct apu_add p = { .left_shift = 20, .in1_offset = 3, .in2_offset = -5,
					     .in1_mult = 1 << 30, .in2_mult = 1 << 30,
					     .out_mult = 1 << 30, .out_shift = -18,
					     .act_min = -128, .act_max = 127 };

			ASSERT_EQ(0, apu_network_add_input(net, &s, &in2));
			ASSERT_EQ(0, apu_network_add_add(net, in, in2, &p, &out));
		} else {
			struct apu_avgpool p = { .k_h = 1 + lcg(&seed) % 3, .k_w = 1 + lcg(&seed) % 3,
						 .stride_h = 1 + lcg(&seed) % 2,
						 .stride_w = 1 + lcg(&seed) % 2,
						 .padding = APU_PAD_SAME, .act_min = -128, .act_max = 127 };

			ASSERT_EQ(0, apu_network_add_avgpool(net, in, &p, &out));
		}
		ASSERT_EQ(0, apu_network_compile(net, NULL, 0));
		if (kind == 1)
			ASSERT_EQ(0, fill_input(net, in2, 99 + it));
		ret = run_and_check(net, in, (unsigned int)it, &st, &ref, &bad);
		EXPECT_EQ(0, ret) TH_LOG("case %d (kind %d, %ux%ux%u): %s, tensor %d", it, kind,
					 s.h, s.w, s.c, apu_strerror(ret), bad);
		snapshot_free(&ref);
		free(w);
		apu_network_destroy(net);
	}
}

/* Processes at once, each with its own device handle and networks. */
TEST(processes)
{
	pid_t pids[3];

	for (int i = 0; i < 3; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			struct apu_device *dev;
			struct apu_network *net;
			struct apu_run_stats st;
			struct snapshot ref = { 0 };
			struct apu_shape s = { 56, 56, 24 };
			struct apu_avgpool p = { .k_h = 3, .k_w = 3, .stride_h = 1, .stride_w = 1,
						 .padding = APU_PAD_SAME, .act_min = -128,
						 .act_max = 127 };
			int in, t, bad, ret;

			ret = apu_device_open(apu_node(), &dev);
			if (!ret)
				ret = apu_network_create(dev, &net);
			if (!ret)
				ret = apu_network_add_input(net, &s, &in);
			if (!ret)
				ret = apu_network_add_avgpool(net, in, &p, &t);
			if (!ret)
				ret = apu_network_add_avgpool(net, t, &p, &t);
			if (!ret)
				ret = apu_network_compile(net, NULL, 0);
			for (int r = 0; !ret && r < 5; r++)
				ret = run_and_check(net, in, 3, &st, &ref, &bad);
			_exit(ret ? 1 : 0);
		}
	}
	for (int i = 0; i < 3; i++) {
		int st;

		ASSERT_EQ(pids[i], waitpid(pids[i], &st, 0));
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
}

TEST_HARNESS_MAIN
