// SPDX-License-Identifier: MIT
/*
 * Block-sparse weights (firmware ABI 1.5): libapu's encoding and pruning
 * against hand-written bytes; the engine's sparse 1x1 convolutions (every
 * path, blocks of 1, 2 and 4, odd channel counts, empty rows, all-zero
 * weights, strides) against a naive dense convolution written here; the
 * firmware's checks of the format; sparse networks split every way run
 * through the engine, bit-exact with the CPU reference and with the dense
 * network of the same weights.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "test_conv.h"
#include "apu_internal.h"
#include "network.h"
#include "hw/apu_cmd.h"
#include "hw/apu_fw.h"

int32_t oracle_mbqm(int32_t x, int32_t mult, int shift);

/*
 * Weights 5x3 ([out_c][in_c]), blocks of 2 output channels: rows {0,1},
 * {2,3}, {4} (short). Nonzero blocks: row 0 ic 0 and 2, row 1 none, row 2
 * ic 1. Bytes: header (block 2, reserved 0, nnz 3), counts 2 0 1, indexes
 * 0 2 1, values (1,4) (3,0) (-7,0).
 */
TEST(encode_by_hand)
{
	static const int8_t w[15] = {
		1, 0, 3,
		4, 0, 0,
		0, 0, 0,
		0, 0, 0,
		0, -7, 0,
	};
	static const uint8_t want[] = {
		2, 0, 0, 0, 3, 0, 0, 0,
		2, 0, 0, 0, 1, 0,
		0, 0, 2, 0, 1, 0,
		1, 4, 3, 0, 0xf9, 0,
	};
	uint8_t got[sizeof(want) + 4];
	size_t size = 0;

	ASSERT_EQ(0, apu_sparse_encode(w, 5, 3, 2, NULL, &size));
	ASSERT_EQ(sizeof(want), size);
	size = sizeof(want) - 1;
	EXPECT_EQ(-ENOSPC, apu_sparse_encode(w, 5, 3, 2, got, &size));
	EXPECT_EQ(sizeof(want), size);
	size = sizeof(got);
	ASSERT_EQ(0, apu_sparse_encode(w, 5, 3, 2, got, &size));
	ASSERT_EQ(sizeof(want), size);
	EXPECT_EQ(0, memcmp(want, got, sizeof(want)));
	EXPECT_EQ(-EINVAL, apu_sparse_encode(w, 5, 3, 3, NULL, &size));
	EXPECT_EQ(-EINVAL, apu_sparse_encode(w, 0, 3, 1, NULL, &size));
	EXPECT_EQ(-EINVAL, apu_sparse_encode(NULL, 5, 3, 1, NULL, &size));
}

/*
 * 4x4, blocks of 2 (rows {0,1}, {2,3}), block magnitudes (sum |w|):
 * r0: ic0 3+1=4 (max 3), ic1 0, ic2 9+0 (max 9), ic3 1+1 (max 1);
 * r1: ic0 2+2 (max 2), ic1 5+5, ic2 0, ic3 8+1.
 * Threshold 1 zeroes r0 ic3; then 5 of 8 blocks zero (0.625): already 3
 * zero, the two smallest remaining (r0 ic0 = 4, r1 ic0 = 4, first in order
 * r0) go.
 */
TEST(sparsify_by_hand)
{
	int8_t w[16] = {
		3, 0, 9, 1,
		-1, 0, 0, -1,
		2, 5, 0, 8,
		-2, -5, 0, 1,
	};
	static const int8_t want[16] = {
		0, 0, 9, 0,
		0, 0, 0, 0,
		0, 5, 0, 8,
		0, -5, 0, 1,
	};
	size_t zeros = 0;

	ASSERT_EQ(0, apu_sparsify(w, 4, 4, 2, 1, 0.625, &zeros));
	EXPECT_EQ(5u, zeros);
	EXPECT_EQ(0, memcmp(want, w, sizeof(w)));
	EXPECT_EQ(-EINVAL, apu_sparsify(w, 4, 4, 2, 0, 1.5, NULL));
	EXPECT_EQ(-EINVAL, apu_sparsify(w, 4, 4, 8, 0, 0.5, NULL));
	ASSERT_EQ(0, apu_sparsify(w, 4, 4, 1, 0, 1.0, &zeros));
	EXPECT_EQ(16u, zeros);
	for (int i = 0; i < 16; i++)
		EXPECT_EQ(0, w[i]);
}

/* The test's own encoder: blocks with any nonzero weight, in order. */
static size_t encode(const int8_t *w, int out_c, int in_c, int block, uint8_t *buf)
{
	int rows = (out_c + block - 1) / block;
	size_t nnz = 0, k = 0;
	uint8_t *idx;
	int8_t *val;

	for (int r = 0; r < rows; r++)
		for (int ic = 0; ic < in_c; ic++)
			for (int j = 0; j < block && r * block + j < out_c; j++)
				if (w[(r * block + j) * in_c + ic]) {
					nnz++;
					break;
				}
	if (!buf)
		return 8 + 2 * (size_t)rows + nnz * (2 + (size_t)block);
	memset(buf, 0, 8);
	buf[0] = (uint8_t)block;
	buf[4] = (uint8_t)nnz;
	buf[5] = (uint8_t)(nnz >> 8);
	buf[6] = (uint8_t)(nnz >> 16);
	idx = buf + 8 + 2 * rows;
	val = (int8_t *)(idx + 2 * nnz);
	for (int r = 0; r < rows; r++) {
		int n = 0;

		for (int ic = 0; ic < in_c; ic++) {
			bool nz = false;

			for (int j = 0; j < block && r * block + j < out_c; j++)
				nz |= w[(r * block + j) * in_c + ic] != 0;
			if (!nz)
				continue;
			idx[2 * k] = (uint8_t)ic;
			idx[2 * k + 1] = (uint8_t)(ic >> 8);
			for (int j = 0; j < block; j++)
				val[k * block + j] = r * block + j < out_c ?
					w[(r * block + j) * in_c + ic] : 0;
			k++;
			n++;
		}
		buf[8 + 2 * r] = (uint8_t)n;
		buf[9 + 2 * r] = (uint8_t)(n >> 8);
	}
	return 8 + 2 * (size_t)rows + nnz * (2 + (size_t)block);
}

/* A naive 1x1 convolution (groups 1, no padding), TFLite's way, dense weights. */
static void naive_1x1(const ApuConvParams *p, const int8_t *in, const int8_t *w,
		      const int32_t *bias, const int32_t *mult, const int32_t *shift,
		      int8_t *out)
{
	for (int oy = 0; oy < p->out_h; oy++)
	for (int ox = 0; ox < p->out_w; ox++)
	for (int oc = 0; oc < p->out_c; oc++) {
		const int8_t *x = in + ((oy * p->stride_h) * p->in_w + ox * p->stride_w) * p->in_c;
		int64_t acc = bias ? bias[oc] : 0;
		int32_t v;

		for (int ic = 0; ic < p->in_c; ic++)
			acc += (x[ic] - p->in_zp) * w[oc * p->in_c + ic];
		v = oracle_mbqm((int32_t)acc, mult[oc], shift[oc]) + p->out_zp;
		out[(oy * p->out_w + ox) * p->out_c + oc] =
			(int8_t)(v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v);
	}
}

/*
 * Dense weights with random block sparsity: each block zero with
 * probability @zero_pct; whole rows empty now and then.
 */
static void sparse_weights(int8_t *w, int out_c, int in_c, int block, int zero_pct)
{
	int rows = (out_c + block - 1) / block;

	fill_rnd(w, (size_t)out_c * in_c, -128, 127);
	for (int r = 0; r < rows; r++) {
		bool empty = rnd() % 5 == 0;

		for (int ic = 0; ic < in_c; ic++)
			if (empty || (int)(rnd() % 100) < zero_pct)
				for (int j = 0; j < block && r * block + j < out_c; j++)
					w[(r * block + j) * in_c + ic] = 0;
	}
}

TEST(engine_sparse_conv_matches_naive_dense)
{
	rng_seed(18);
	for (int it = 0; it < 120; it++) {
		int block = 1 << (it % 3), hw = rnd_range(1, 13), s = 1 + (it / 3) % 2;
		int zero_pct = (int[]){ 0, 50, 70, 90, 97, 100 }[it % 6];
		ApuConvParams p = {
			.in_h = hw, .in_w = rnd_range(1, 13), .in_c = rnd_range(1, 70),
			.out_c = rnd_range(1, 45), .k_h = 1, .k_w = 1, .stride_h = s,
			.stride_w = s, .dil_h = 1, .dil_w = 1, .groups = 1,
			.in_zp = rnd_range(-128, 127), .out_zp = rnd_range(-20, 20),
			.act_min = -128, .act_max = 127, .single_rounding = it % 11 == 5,
		};
		size_t nin, nout, nw, sz;
		int8_t *in, *w, *want, *got, *dense;
		int32_t *bias, *mult, *shift;
		uint8_t *sw;
		uint64_t size;

		if (it % 7 == 3) {
			/* Fully connected: one pixel, many inputs. */
			p.in_h = p.in_w = 1;
			p.in_c = rnd_range(200, 1200);
			p.out_c = rnd_range(1, 90);
		}
		if (it % 13 == 1)
			p.in_c = 16 * rnd_range(1, 6);	/* transposes without a tail */
		p.out_h = (p.in_h - 1) / s + 1;
		p.out_w = (p.in_w - 1) / s + 1;
		ASSERT_EQ(APU_STATUS_OK, apu_conv_check(&p));
		ASSERT_EQ(APU_STATUS_OK, apu_sparse_conv_check(&p));
		nin = apu_conv_in_size(&p);
		nout = apu_conv_out_size(&p);
		nw = apu_conv_weights_size(&p);
		in = malloc(nin);
		w = malloc(nw);
		want = malloc(nout);
		got = malloc(nout);
		dense = malloc(nout);
		bias = malloc(4 * (size_t)p.out_c);
		mult = malloc(4 * (size_t)p.out_c);
		shift = malloc(4 * (size_t)p.out_c);
		ASSERT_TRUE(in && w && want && got && dense && bias && mult && shift);
		fill_rnd(in, nin, -128, 127);
		sparse_weights(w, p.out_c, p.in_c, block, zero_pct);
		for (int c = 0; c < p.out_c; c++) {
			bias[c] = rnd_range(-20000, 20000);
			mult[c] = (int32_t)((1u << 30) + rnd() % (1u << 29));
			shift[c] = -rnd_range(6, 12);
		}
		sz = encode(w, p.out_c, p.in_c, block, NULL);
		sw = malloc(sz);
		ASSERT_NE(NULL, sw);
		encode(w, p.out_c, p.in_c, block, sw);
		{
			/* libapu's encoding is the same bytes. */
			size_t lsz = sz;
			uint8_t *lw = malloc(sz);

			ASSERT_EQ(0, apu_sparse_encode(w, (unsigned int)p.out_c,
						       (unsigned int)p.in_c, (unsigned int)block,
						       lw, &lsz));
			ASSERT_EQ(sz, lsz);
			EXPECT_EQ(0, memcmp(sw, lw, sz));
			free(lw);
		}
		ASSERT_EQ(APU_STATUS_OK, apu_sparse_size(&p, sw, &size));
		ASSERT_EQ(sz, size);
		ASSERT_EQ(APU_STATUS_OK, apu_sparse_check(&p, sw, size));
		if (!p.single_rounding)
			naive_1x1(&p, in, w, it % 4 ? bias : NULL, mult, shift, want);
		ASSERT_EQ(0, apu_conv2d(&p, in, w, it % 4 ? bias : NULL, mult, shift, dense));
		if (!p.single_rounding)
			ASSERT_EQ(0, memcmp(want, dense, nout));
		for (int path = APU_PATH_PORTABLE; path <= APU_PATH_AVX2; path++) {
			if (!apu_engine_path_available((ApuEnginePath)path))
				continue;
			memset(got, 0x5a, nout);
			ASSERT_EQ(0, apu_conv2d_sparse_poll(&p, in, sw, it % 4 ? bias : NULL,
							    mult, shift, got, NULL,
							    (ApuEnginePath)path));
			EXPECT_EQ(0, memcmp(dense, got, nout))
				TH_LOG("case %d (%s): %dx%dx%d -> %d, block %d, %d%% zero, stride %d",
				       it, apu_engine_path_name((ApuEnginePath)path), p.in_h,
				       p.in_w, p.in_c, p.out_c, block, zero_pct, s);
		}
		free(sw);
		free(in);
		free(w);
		free(want);
		free(got);
		free(dense);
		free(bias);
		free(mult);
		free(shift);
	}
}

/* Every malformed header, count, index and padding value is refused. */
TEST(firmware_checks_the_format)
{
	ApuConvParams p = {
		.in_h = 2, .in_w = 2, .in_c = 6, .out_h = 2, .out_w = 2, .out_c = 3,
		.k_h = 1, .k_w = 1, .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1,
		.groups = 1, .act_min = -128, .act_max = 127,
	};
	/* 3x6, block 2: rows {0,1} {2}; row 0 ic 1, 4; row 1 ic 5. */
	static const int8_t w[18] = {
		0, 1, 0, 0, 2, 0,
		0, 3, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 4,
	};
	uint8_t good[64], b[64];
	size_t sz = encode(w, 3, 6, 2, good);
	uint64_t size;
	ApuConvParams q;

	ASSERT_EQ(8u + 4 + 6 + 6, sz);
	ASSERT_EQ(APU_STATUS_OK, apu_sparse_size(&p, good, &size));
	ASSERT_EQ(sz, size);
	ASSERT_EQ(APU_STATUS_OK, apu_sparse_check(&p, good, size));
	EXPECT_EQ(3u * 2 * 4, apu_sparse_macs(&p, good));
#define BAD_SIZE(mod) do { memcpy(b, good, sz); mod; \
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, apu_sparse_size(&p, b, &size)); } while (0)
#define BAD_CHECK(mod) do { memcpy(b, good, sz); mod; \
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, apu_sparse_check(&p, b, size)); } while (0)
	BAD_SIZE(b[0] = 3);
	BAD_SIZE(b[0] = 0);
	BAD_SIZE(b[1] = 1);
	BAD_SIZE(b[2] = 1);
	BAD_SIZE(b[4] = 13);	/* nnz above 2 rows x 6 */
	BAD_CHECK(b[4] = 4);	/* counts add to 3, not 4 */
	BAD_CHECK(b[8] = 3);	/* row 0: 3 blocks, total 4 */
	BAD_CHECK(b[12] = 6);	/* index = in_c */
	BAD_CHECK(b[13] = 1);	/* index 257 */
	BAD_CHECK(b[14] = 1);	/* row 0: 1, 1 (not increasing) */
	BAD_CHECK(b[14] = 0);	/* row 0: 1, 0 */
	BAD_CHECK(b[23] = 1);	/* row 1's padding value (channel 3) */
	/*
	 * A header other than the one that sized the buffer (guest memory
	 * changed between the device's two reads): refused, never trusted.
	 */
	BAD_CHECK(b[0] = 0);	/* block 0 */
	BAD_CHECK(b[0] = 4);	/* a bigger layout than @size */
	BAD_CHECK(b[4] = 2);	/* nnz 2: a smaller one */
	/* Kernels, groups and a weight zero point sparse weights do not take. */
	q = p;
	q.w_zp = 1;
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, apu_sparse_conv_check(&q));
	q = p;
	q.k_h = q.k_w = 3;
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, apu_sparse_conv_check(&q));
	q = p;
	q.groups = 3;
	q.out_c = 6;
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, apu_sparse_conv_check(&q));
	EXPECT_EQ(APU_STATUS_OK, apu_sparse_conv_check(&p));
}

#include "exec_cmds.h"

struct layer {
	int8_t *w;
	int32_t bias[64], mult[64], shift[64];
};

/*
 * Input 9x9x21: 1x1 to 29 (blocks of 4, a short last row), 1x1 stride 2
 * to 13 (blocks of 2), 1x1 to 40 (blocks of 1), fully connected from
 * 5x5x40 to 37 (blocks of 4). @sparse: the layers take the weights as
 * sparse, else dense.
 */
static const struct { unsigned int oc, stride, block; bool fc; } spec[] = {
	{ 29, 1, 4, false }, { 13, 2, 2, false }, { 40, 1, 1, false }, { 37, 1, 4, true },
};
static const size_t layer_n[4] = { 29 * 21, 13 * 29, 40 * 13, 37 * 5 * 5 * 40 };

static int build(struct apu_network *net, struct layer *L, bool sparse, int *in, int *out)
{
	struct apu_shape s = { 9, 9, 21 };
	struct apu_conv2d_ext ext = { sizeof(ext), 0, 0, 0 };
	int t, ret;

	ret = apu_network_add_input(net, &s, in);
	t = *in;
	for (int i = 0; !ret && i < 4; i++) {
		struct apu_conv2d p = {
			.out_c = spec[i].oc, .k_h = 1, .k_w = 1, .stride_h = spec[i].stride,
			.stride_w = spec[i].stride, .dil_h = 1, .dil_w = 1, .groups = 1,
			.padding = APU_PAD_VALID, .in_zp = -3, .out_zp = 2, .act_min = -128,
			.act_max = 127, .weights = L[i].w, .bias = L[i].bias, .mult = L[i].mult,
			.shift = L[i].shift,
		};

		ext.flags = (sparse ? APU_CONV_EXT_WEIGHTS_SPARSE : 0) |
			    (spec[i].fc ? APU_CONV_EXT_FULLY_CONNECTED : 0);
		ext.sparse_block = spec[i].block;
		ret = apu_network_add_conv2d_ext(net, t, &p, &ext, &t);
	}
	*out = t;
	return ret;
}

/*
 * The sparse network split by channels, by rows and as planned: every
 * tensor bit-exact between the engine (command buffers) and the
 * reference, every output byte written once, the same output as the dense
 * network of the same weights, and the MACs of the stored blocks only.
 */
TEST(sparse_network_every_split_bit_exact)
{
	static const char *const ways[] = { "channels", "rows", NULL };
	struct layer L[4];
	int8_t data[9 * 9 * 21];
	uint64_t nz_macs = 0, dense_macs = 0;

	rng_seed(5);
	for (int i = 0; i < 4; i++) {
		unsigned int in_c = (unsigned int)(layer_n[i] / spec[i].oc);
		size_t zeros;

		L[i].w = malloc(layer_n[i]);
		fill_rnd(L[i].w, layer_n[i], -128, 127);
		ASSERT_EQ(0, apu_sparsify(L[i].w, spec[i].oc, in_c, spec[i].block, 0,
					  i == 2 ? 0.9 : 0.7, &zeros));
		for (int c = 0; c < 64; c++) {
			L[i].bias[c] = rnd_range(-5000, 5000);
			L[i].mult[c] = (int32_t)((1u << 30) + rnd() % (1u << 29));
			L[i].shift[c] = -rnd_range(7, 10);
		}
	}
	fill_rnd(data, sizeof(data), -128, 127);
	for (int w = 0; w < 3; w++) {
		struct apu_device *dev;
		struct apu_network *nd;
		struct exec x = { 0 };
		int in, out, ind, outd, nt = 0, own = 0;
		size_t off, size, byte;
		int bad;
		int8_t refd[37], got[37];
		struct apu_op_info oi, od;

		if (ways[w])
			setenv("APU_PLAN_SPLIT", ways[w], 1);
		else
			unsetenv("APU_PLAN_SPLIT");
		ASSERT_EQ(0, apu_device_open_cpu(&dev));
		ASSERT_EQ(0, apu_network_create(dev, &x.net));
		ASSERT_EQ(0, build(x.net, L, true, &in, &out));
		ASSERT_EQ(0, apu_network_compile(x.net, NULL, 0));
		for (int i = 0; i < 3; i++)
			x.buf[i] = apu_network_buffer(x.net, i);
		x.cover = calloc(1, apu_buffer_size(x.buf[0]));
		ASSERT_NE(NULL, x.cover);
		ASSERT_EQ(0, apu_network_write(x.net, in, data, sizeof(data)));
		ASSERT_EQ(0, exec_network(&x));
		ASSERT_EQ(0, apu_network_run_reference(x.net));
		nt = check_tensors(&x, in, &bad, &byte);
		EXPECT_EQ(-1, bad) TH_LOG("%s: tensor %d %s (byte %zu)", ways[w] ? ways[w] : "planned",
					  bad, byte == SIZE_MAX ? "differs" : "not written once", byte);
		EXPECT_GE(nt, 5);
		for (int i = 0; i < x.net->nops; i++)
			if (x.net->ops[i].kind == OP_CONV)
				own += x.net->ops[i].ndwt;
		if (w == 0)
			EXPECT_LT(0, own);	/* tiles by channel: their own encodings */

		ASSERT_EQ(0, apu_network_create(dev, &nd));
		ASSERT_EQ(0, build(nd, L, false, &ind, &outd));
		ASSERT_EQ(0, apu_network_compile(nd, NULL, 0));
		ASSERT_EQ(0, apu_network_write(nd, ind, data, sizeof(data)));
		ASSERT_EQ(0, apu_network_run_reference(nd));
		ASSERT_EQ(0, apu_network_read_reference(nd, outd, refd, sizeof(refd)));
		ASSERT_EQ(0, apu_network_tensor_place(x.net, out, &off, &size));
		ASSERT_EQ(sizeof(got), size);
		memcpy(got, (uint8_t *)apu_buffer_cpu(x.buf[0]) + off, size);
		EXPECT_EQ(0, memcmp(refd, got, sizeof(got)));
		nz_macs = dense_macs = 0;
		for (int i = 0; i < 4; i++) {
			ASSERT_EQ(0, apu_network_op_info(x.net, i, &oi, sizeof(oi)));
			ASSERT_EQ(0, apu_network_op_info(nd, i, &od, sizeof(od)));
			nz_macs += oi.macs;
			dense_macs += od.macs;
		}
		/* 70% and 90% of the blocks pruned: well under half the MACs. */
		EXPECT_LT(nz_macs * 2, dense_macs);
		EXPECT_LT(0u, nz_macs);
		apu_network_destroy(nd);
		free(x.cover);
		apu_network_destroy(x.net);
		apu_device_close(dev);
	}
	unsetenv("APU_PLAN_SPLIT");
	for (int i = 0; i < 4; i++)
		free(L[i].w);
}

/* What sparse weights do not combine with, and the ext struct's versions. */
TEST(sparse_api_misuse)
{
	struct apu_device *dev;
	struct apu_network *net;
	struct apu_shape s = { 4, 4, 3 };
	int8_t w[5 * 3 * 9] = { 1 };
	int32_t b[5] = { 0 }, m[5] = { 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30 };
	int32_t sh[5] = { -1, -1, -1, -1, -1 };
	struct apu_conv2d p = {
		.out_c = 5, .k_h = 3, .k_w = 3, .stride_h = 1, .stride_w = 1, .dil_h = 1,
		.dil_w = 1, .groups = 1, .padding = APU_PAD_SAME, .act_min = -128,
		.act_max = 127, .weights = w, .bias = b, .mult = m, .shift = sh,
	};
	struct apu_conv2d_ext ext = { sizeof(ext), APU_CONV_EXT_WEIGHTS_SPARSE, 0, 2 };
	struct apu_device_info info;
	int in, out;

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_device_get_info(dev, &info, sizeof(info)));
	EXPECT_TRUE(info.caps & APU_CAP_SPARSE_WEIGHTS);
	ASSERT_EQ(0, apu_network_create(dev, &net));
	ASSERT_EQ(0, apu_network_add_input(net, &s, &in));
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d_ext(net, in, &p, &ext, &out));	/* 3x3 */
	p.k_h = p.k_w = 1;
	ext.w_zp = 3;
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d_ext(net, in, &p, &ext, &out));
	ext.w_zp = 0;
	ext.flags |= APU_CONV_EXT_WEIGHTS_INT4;
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d_ext(net, in, &p, &ext, &out));
	ext.flags = APU_CONV_EXT_WEIGHTS_SPARSE;
	ext.sparse_block = 3;
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d_ext(net, in, &p, &ext, &out));
	ext.sparse_block = 2;
	ext.size = APU_CONV2D_EXT_SIZE_V1;	/* no sparse_block */
	EXPECT_EQ(-EINVAL, apu_network_add_conv2d_ext(net, in, &p, &ext, &out));
	ext.flags = 0;				/* the first version still works */
	EXPECT_EQ(0, apu_network_add_conv2d_ext(net, in, &p, &ext, &out));
	ext.size = sizeof(ext);
	ext.flags = APU_CONV_EXT_WEIGHTS_SPARSE;
	EXPECT_EQ(0, apu_network_add_conv2d_ext(net, in, &p, &ext, &out));
	apu_network_destroy(net);
	apu_device_close(dev);
}

TEST_HARNESS_MAIN
