// SPDX-License-Identifier: MIT
/*
 * Graphs built in memory (apu/apu_graph.h): the same description that the
 * TFLite reader fills from a file (tflite.h), checked the way it checks a
 * file, then lowered by import.c.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apu/apu_graph.h"
#include "apu_internal.h"
#include "tflite.h"

/* As many as a file may hold (tflite.c). */
#define GRAPH_MAX_TENSORS	100000
#define GRAPH_MAX_OPS		100000

struct apu_graph {
	struct tfl_model tf;
	int cap_t, cap_ops, cap_data;
	void **data;		/* per tensor: its copied contents, or NULL */
};

int apu_graph_create(struct apu_graph **out)
{
	struct apu_graph *g;

	if (!out)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->tf.version = 3;
	*out = g;
	return 0;
}

void apu_graph_destroy(struct apu_graph *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->tf.ntensors; i++)
		free(g->data[i]);
	free(g->data);
	tfl_free(&g->tf);
	free(g);
}

/* Room for one more of @n items of @size in *@p (capacity *@cap). */
static int grow(void **p, int *cap, int n, size_t size)
{
	void *q;
	int c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 16;
	q = realloc(*p, (size_t)c * size);
	if (!q)
		return -ENOMEM;
	memset((char *)q + (size_t)*cap * size, 0, (size_t)(c - *cap) * size);
	*p = q;
	*cap = c;
	return 0;
}

/* Bytes of @elems elements of @type; 0 for a type graphs do not take. */
static uint64_t type_bytes(enum apu_graph_type type, uint64_t elems)
{
	switch (type) {
	case APU_GRAPH_INT4:
		return (elems + 1) / 2;
	case APU_GRAPH_UINT8:
	case APU_GRAPH_INT8:
		return elems;
	case APU_GRAPH_FLOAT32:
	case APU_GRAPH_INT32:
		return elems * 4;
	case APU_GRAPH_INT64:
		return elems * 8;
	}
	return 0;
}

int apu_graph_add_tensor(struct apu_graph *g, const struct apu_graph_tensor *src)
{
	struct tfl_tensor *t;
	uint64_t elems = 1;
	int idx, ret;

	if (!g || !src || src->ndims > APU_GRAPH_MAX_DIMS || !type_bytes(src->type, 1))
		return -EINVAL;
	/* int4 is a format of weights, not of activations. */
	if (src->type == APU_GRAPH_INT4 && !src->data)
		return -EINVAL;
	if (g->tf.ntensors >= GRAPH_MAX_TENSORS)
		return -E2BIG;
	for (unsigned int d = 0; d < src->ndims; d++) {
		if (src->dims[d] <= 0)
			return -EINVAL;
		if (elems > (UINT64_C(1) << 40) / (uint64_t)src->dims[d])
			return -E2BIG;
		elems *= (uint64_t)src->dims[d];
	}
	if (src->data && src->data_size != type_bytes(src->type, elems))
		return -EINVAL;
	if (src->nquant) {
		if (!src->scales || src->nquant > 1u << 20)
			return -EINVAL;
		if (src->nquant > 1 &&
		    (src->quant_dim < 0 || (unsigned int)src->quant_dim >= src->ndims ||
		     (unsigned int)src->dims[src->quant_dim] != src->nquant))
			return -EINVAL;
	}
	ret = grow((void **)&g->tf.t, &g->cap_t, g->tf.ntensors, sizeof(*g->tf.t));
	if (!ret)
		ret = grow((void **)&g->data, &g->cap_data, g->tf.ntensors, sizeof(*g->data));
	if (ret)
		return ret;
	idx = g->tf.ntensors;
	t = &g->tf.t[idx];
	memset(t, 0, sizeof(*t));
	if (src->name) {
		strncpy(t->name, src->name, sizeof(t->name) - 1);
		t->name[sizeof(t->name) - 1] = 0;
	}
	t->type = (int)src->type;
	t->ndims = (int)src->ndims;
	for (unsigned int d = 0; d < src->ndims; d++)
		t->dims[d] = src->dims[d];
	t->elems = elems;
	g->data[idx] = NULL;
	if (src->data) {
		g->data[idx] = malloc(src->data_size ? src->data_size : 1);
		if (!g->data[idx])
			return -ENOMEM;
		memcpy(g->data[idx], src->data, src->data_size);
		t->data = g->data[idx];
		t->data_size = src->data_size;
	}
	if (src->nquant) {
		t->scale = calloc(src->nquant, sizeof(float));
		t->zp = calloc(src->nquant, sizeof(int64_t));
		if (!t->scale || !t->zp) {
			free(t->scale);
			free(t->zp);
			free(g->data[idx]);
			g->data[idx] = NULL;
			memset(t, 0, sizeof(*t));
			return -ENOMEM;
		}
		memcpy(t->scale, src->scales, src->nquant * sizeof(float));
		if (src->zero_points)
			memcpy(t->zp, src->zero_points, src->nquant * sizeof(int64_t));
		t->nq = src->nquant;
		t->qdim = src->nquant > 1 ? src->quant_dim : 0;
	}
	g->tf.ntensors++;
	return idx;
}

/* A copy of @n tensor indexes, each -1 (when @optional) or a tensor of @g. */
static int copy_indexes(const struct apu_graph *g, const int *src, unsigned int n, bool optional,
			int32_t **out)
{
	int32_t *v;

	*out = NULL;
	if (n > APU_GRAPH_MAX_OP_IO || (n && !src))
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		if (src[i] >= g->tf.ntensors || src[i] < (optional ? -1 : 0))
			return -EINVAL;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++)
		v[i] = src[i];
	*out = v;
	return 0;
}

int apu_graph_add_op(struct apu_graph *g, const struct apu_graph_op *src)
{
	struct tfl_op op = { 0 };
	int ret;

	if (!g || !src || !src->nout)
		return -EINVAL;
	if (g->tf.nops >= GRAPH_MAX_OPS)
		return -E2BIG;
	if (src->nvec > APU_GRAPH_MAX_DIMS || !isfinite(src->beta))
		return -EINVAL;
	ret = copy_indexes(g, src->inputs, src->nin, true, &op.in);
	if (!ret)
		ret = copy_indexes(g, src->outputs, src->nout, false, &op.out);
	if (!ret)
		ret = grow((void **)&g->tf.ops, &g->cap_ops, g->tf.nops, sizeof(*g->tf.ops));
	if (ret) {
		free(op.in);
		free(op.out);
		return ret;
	}
	op.code = (int)src->code;
	op.nin = (int)src->nin;
	op.nout = (int)src->nout;
	op.padding = (int)src->padding;
	memcpy(op.pad, src->pad, sizeof(op.pad));
	op.stride_w = src->stride_w;
	op.stride_h = src->stride_h;
	op.dil_w = src->dilation_w ? src->dilation_w : 1;
	op.dil_h = src->dilation_h ? src->dilation_h : 1;
	op.depth_mult = src->depth_multiplier;
	op.filter_w = src->filter_w;
	op.filter_h = src->filter_h;
	op.act = (int)src->act;
	op.axis = src->axis;
	op.keep_dims = src->keep_dims;
	op.beta = src->beta;
	op.nvec = (int)src->nvec;
	op.has_vec = src->nvec > 0;
	for (unsigned int i = 0; i < src->nvec; i++)
		op.vec[i] = src->vec[i];
	g->tf.ops[g->tf.nops] = op;
	return g->tf.nops++;
}

static int set_io(const struct apu_graph *g, const int *tensors, unsigned int n, int32_t **v,
		  int *count)
{
	int32_t *nv;
	int ret = copy_indexes(g, tensors, n, false, &nv);

	if (ret)
		return ret;
	free(*v);
	*v = nv;
	*count = (int)n;
	return 0;
}

int apu_graph_set_inputs(struct apu_graph *g, const int *tensors, unsigned int n)
{
	return g ? set_io(g, tensors, n, &g->tf.inputs, &g->tf.nin) : -EINVAL;
}

int apu_graph_set_outputs(struct apu_graph *g, const int *tensors, unsigned int n)
{
	return g ? set_io(g, tensors, n, &g->tf.outputs, &g->tf.nout) : -EINVAL;
}

int apu_model_create(struct apu_device *dev, const struct apu_graph *g, struct apu_model **out,
		     char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = 0;
	if (!dev || !g || !out)
		return -EINVAL;
	return apu_model_build(dev, &g->tf, out, err, errlen);
}
