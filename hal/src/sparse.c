// SPDX-License-Identifier: MIT
/*
 * Block-sparse weights (firmware ABI 1.5): the device's encoding of dense
 * int8 weights [out_c][in_c] (struct apu_sparse_weights, docs/hw.md) and
 * the pruning helper.
 *
 * Copyright (c) 2026 The apu authors
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apu_internal.h"
#include "hw/apu_cmd.h"

static bool block_ok(unsigned int block)
{
	return block == 1 || block == 2 || block == 4;
}

/* Whether block (row @r, input channel @ic) holds a nonzero weight. */
static bool block_nonzero(const int8_t *w, unsigned int out_c, unsigned int in_c,
			  unsigned int block, unsigned int r, unsigned int ic)
{
	for (unsigned int j = 0; j < block && r * block + j < out_c; j++)
		if (w[(size_t)(r * block + j) * in_c + ic])
			return true;
	return false;
}

static void st16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

int apu_sparse_encode(const int8_t *w, unsigned int out_c, unsigned int in_c,
		      unsigned int block, void *buf, size_t *size)
{
	unsigned int rows, r, ic;
	size_t nnz = 0, need, k = 0;
	uint8_t *b = buf, *count, *index;
	int8_t *val;

	if (!w || !size || !out_c || !in_c || out_c > 65535 || in_c > 65535 || !block_ok(block))
		return -EINVAL;
	rows = (out_c + block - 1) / block;
	for (r = 0; r < rows; r++)
		for (ic = 0; ic < in_c; ic++)
			nnz += block_nonzero(w, out_c, in_c, block, r, ic);
	need = (size_t)apu_sparse_weights_size(rows, nnz, block);
	if (!buf || *size < need) {
		bool small = buf && *size < need;

		*size = need;
		return small ? -ENOSPC : 0;
	}
	*size = need;
	st16(b, block);
	st16(b + 2, 0);
	for (int i = 0; i < 4; i++)
		b[4 + i] = (uint8_t)(nnz >> (8 * i));
	count = b + APU_SPARSE_HDR_SIZE;
	index = count + 2 * (size_t)rows;
	val = (int8_t *)(index + 2 * nnz);
	for (r = 0; r < rows; r++) {
		unsigned int n = 0;

		for (ic = 0; ic < in_c; ic++) {
			if (!block_nonzero(w, out_c, in_c, block, r, ic))
				continue;
			st16(index + 2 * k, ic);
			for (unsigned int j = 0; j < block; j++)
				val[k * block + j] = r * block + j < out_c ?
					w[(size_t)(r * block + j) * in_c + ic] : 0;
			k++;
			n++;
		}
		st16(count + 2 * (size_t)r, n);
	}
	return 0;
}

struct blk {
	uint32_t mag;
	size_t pos;
};

static int blk_cmp(const void *a, const void *b)
{
	const struct blk *x = a, *y = b;

	if (x->mag != y->mag)
		return x->mag < y->mag ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int apu_sparsify(int8_t *w, unsigned int out_c, unsigned int in_c, unsigned int block,
		 int threshold, double sparsity, size_t *zero_blocks)
{
	unsigned int rows;
	size_t n, zeros = 0, want;
	struct blk *b;

	if (!w || !out_c || !in_c || !block_ok(block) || !(sparsity >= 0 && sparsity <= 1))
		return -EINVAL;
	rows = (out_c + block - 1) / block;
	n = (size_t)rows * in_c;
	b = malloc(n * sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		unsigned int r = (unsigned int)(i / in_c), ic = (unsigned int)(i % in_c);
		uint32_t mag = 0;
		int max = 0;

		for (unsigned int j = 0; j < block && r * block + j < out_c; j++) {
			int v = w[(size_t)(r * block + j) * in_c + ic];

			v = v < 0 ? -v : v;
			mag += (uint32_t)v;
			max = v > max ? v : max;
		}
		if (mag && max <= threshold) {
			for (unsigned int j = 0; j < block && r * block + j < out_c; j++)
				w[(size_t)(r * block + j) * in_c + ic] = 0;
			mag = 0;
		}
		zeros += !mag;
		b[i] = (struct blk){ mag, i };
	}
	want = (size_t)(sparsity * (double)n + 0.5);
	if (zeros < want) {
		qsort(b, n, sizeof(*b), blk_cmp);
		/* The zero blocks come first. */
		for (size_t i = zeros; i < want; i++) {
			unsigned int r = (unsigned int)(b[i].pos / in_c);
			unsigned int ic = (unsigned int)(b[i].pos % in_c);

			for (unsigned int j = 0; j < block && r * block + j < out_c; j++)
				w[(size_t)(r * block + j) * in_c + ic] = 0;
		}
		zeros = want;
	}
	free(b);
	if (zero_blocks)
		*zero_blocks = zeros;
	return 0;
}
