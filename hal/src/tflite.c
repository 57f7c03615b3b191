// SPDX-License-Identifier: MIT
/*
 * Reads a TFLite model (a FlatBuffer, schema "TFL3") into struct tfl_model.
 * Every reference in the file is checked before use (flatbuf.h); counts
 * are bounded so that a small file cannot ask for huge allocations.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flatbuf.h"
#include "tflite.h"

/* Bounds on what a model may hold (far above real models). */
#define TFL_MAX_TENSORS		100000
#define TFL_MAX_OPS		100000
#define TFL_MAX_OP_IO		64

static const char *const op_names[] = {
	"ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D",
	"DEPTH_TO_SPACE", "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED",
	"HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION",
	"LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1",
	"RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF",
	"TANH", "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE",
	"PAD", "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND",
	"SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE",
	"UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP",
	"TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST",
	"PRELU", "MAXIMUM", "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER",
	"GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE", "SIN", "TRANSPOSE_CONV",
	"SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG", "SUM", "SQRT",
	"RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK",
	"LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN",
	"FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE",
	"RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS",
	"SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK",
	"ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND",
	"HARD_SWISH", "IF", "WHILE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5",
	"SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL",
	"PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D",
	"CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND",
	"HASHTABLE_IMPORT", "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE",
	"READ_VARIABLE", "ASSIGN_VARIABLE", "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL",
	"BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1",
	"UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2",
	"UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT",
};

const char *tfl_op_name(int code)
{
	if (code >= 0 && (size_t)code < sizeof(op_names) / sizeof(op_names[0]))
		return op_names[code];
	return "?";
}

const char *tfl_type_name(int type)
{
	static const char *const names[] = {
		"FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64", "STRING", "BOOL", "INT16",
		"COMPLEX64", "INT8", "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE", "VARIANT",
		"UINT32", "UINT16", "INT4",
	};

	if (type >= 0 && (size_t)type < sizeof(names) / sizeof(names[0]))
		return names[type];
	return "?";
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* LLVM 14's analyzer misses the va_start above when it inlines this. */
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	return -EINVAL;
}

void tfl_free(struct tfl_model *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->ntensors && m->t; i++) {
		free(m->t[i].scale);
		free(m->t[i].zp);
	}
	for (int i = 0; i < m->nops && m->ops; i++) {
		free(m->ops[i].in);
		free(m->ops[i].out);
	}
	free(m->t);
	free(m->ops);
	free(m->inputs);
	free(m->outputs);
	memset(m, 0, sizeof(*m));
}

/* An [int] vector of tensor indexes, each -1 or below @nt. */
static int read_indexes(const struct fb_table *t, unsigned int id, int nt, int max,
			int32_t **out, int *count)
{
	struct fb_vec v;
	int r = fb_vector(t, id, 4, &v);

	*out = NULL;
	*count = 0;
	if (r < 0 || v.len > (uint32_t)max)
		return -1;
	*out = calloc(v.len ? v.len : 1, sizeof(int32_t));
	if (!*out)
		return -ENOMEM;
	for (uint32_t i = 0; i < v.len; i++) {
		int32_t x = fb_vec_i32(&v, i);

		if (x < -1 || x >= nt)
			return -1;
		(*out)[i] = x;
	}
	*count = (int)v.len;
	return 0;
}

struct buffers {
	struct fb_vec v;
	const struct fb *fb;
};

/* Contents of buffer @b: in the buffer's data vector or at offset/size. */
static int buffer_data(const struct buffers *bufs, uint32_t b, const uint8_t **data,
		       size_t *size)
{
	struct fb_table bt;
	struct fb_vec d;
	uint64_t off, sz;

	*data = NULL;
	*size = 0;
	if (b >= bufs->v.len)
		return -1;
	if (fb_vec_table(&bufs->v, b, &bt))
		return -1;
	if (fb_vector(&bt, 0, 1, &d) < 0)
		return -1;
	if (d.len) {
		*data = bufs->fb->p + d.elems;
		*size = d.len;
		return 0;
	}
	/* Models over 2 GiB keep their buffers after the FlatBuffer. */
	if (fb_u64(&bt, 1, 0, &off) || fb_u64(&bt, 2, 0, &sz))
		return -1;
	if (off > 1 && sz) {
		if (off > bufs->fb->n || sz > bufs->fb->n - off)
			return -1;
		*data = bufs->fb->p + off;
		*size = (size_t)sz;
	}
	return 0;
}

/*
 * @budget: quantization entries the rest of the file may still hold (tensor
 * tables may share one quantization table: the sum is bounded, not each).
 */
static int read_quant(const struct fb_table *tt, struct tfl_tensor *t, uint64_t *budget)
{
	struct fb_table q;
	struct fb_vec sc, zp;
	int32_t qdim;
	int r = fb_subtable(tt, 4, &q);

	if (r <= 0)
		return r;
	if (fb_vector(&q, 2, 4, &sc) < 0 || fb_vector(&q, 3, 8, &zp) < 0 ||
	    fb_i32(&q, 6, 0, &qdim))
		return -1;
	if (!sc.len)
		return 0;	/* min/max only: not quantized for us */
	if (zp.len && zp.len != sc.len)
		return -1;
	if (sc.len > 1u << 20 || sc.len > *budget)
		return -1;
	*budget -= sc.len;
	t->scale = calloc(sc.len, sizeof(float));
	t->zp = calloc(sc.len, sizeof(int64_t));
	if (!t->scale || !t->zp)
		return -ENOMEM;
	for (uint32_t i = 0; i < sc.len; i++) {
		t->scale[i] = fb_vec_f32(&sc, i);
		t->zp[i] = zp.len ? fb_vec_i64(&zp, i) : 0;
	}
	t->nq = sc.len;
	t->qdim = qdim;
	return 0;
}

static int read_tensor(const struct fb_table *tt, const struct buffers *bufs,
		       struct tfl_tensor *t, int index, uint64_t *budget, char *err, size_t errlen)
{
	struct fb_vec shape;
	uint32_t buf;
	uint8_t type;
	int r;

	if (fb_vector(tt, 0, 4, &shape) < 0 || fb_u8(tt, 1, 0, &type) ||
	    fb_u32(tt, 2, 0, &buf) || fb_string(tt, 3, t->name, sizeof(t->name)) < 0)
		return fail(err, errlen, "tensor %d: malformed table", index);
	t->type = type;
	if (shape.len > TFL_MAX_DIMS)
		return fail(err, errlen, "tensor %d (%s): %u dimensions (at most %d)", index,
			    t->name, shape.len, TFL_MAX_DIMS);
	t->ndims = (int)shape.len;
	t->elems = 1;
	for (int d = 0; d < t->ndims; d++) {
		t->dims[d] = fb_vec_i32(&shape, (uint32_t)d);
		if (t->dims[d] <= 0)
			return fail(err, errlen, "tensor %d (%s): dimension %d is %d", index,
				    t->name, d, t->dims[d]);
		if (t->elems > (UINT64_C(1) << 40) / (uint64_t)t->dims[d])
			return fail(err, errlen, "tensor %d (%s): shape too large", index,
				    t->name);
		t->elems *= (uint64_t)t->dims[d];
	}
	if (buf && buffer_data(bufs, buf, &t->data, &t->data_size))
		return fail(err, errlen, "tensor %d (%s): buffer %u missing or out of the file",
			    index, t->name, buf);
	/*
	 * Tensor.sparsity (field 6, SparsityParameters): the buffer holds a
	 * compressed form this reader does not decode yet; reading it as dense
	 * values would be wrong, so such tensors are refused.
	 */
	{
		struct fb_table sp;

		if (fb_subtable(tt, 6, &sp))
			return fail(err, errlen, "tensor %d (%s): sparse (SparsityParameters) tensors are not supported",
				    index, t->name);
	}
	r = read_quant(tt, t, budget);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return fail(err, errlen, "tensor %d (%s): malformed quantization, or more scales in all than the file can hold",
			    index, t->name);
	return 0;
}

static int read_options(const struct fb_table *ot, uint8_t otype, struct tfl_op *op)
{
	struct fb_table o;
	int r = fb_subtable(ot, 4, &o);
	int32_t v[6] = { 0 };
	uint8_t b[3] = { 0 };
	struct fb_vec vec;

	/* Defaults of the schema. */
	op->padding = TFL_PAD_SAME;
	op->dil_w = op->dil_h = 1;
	op->beta = 0.0f;	/* the schema's default: a softmax without it is refused */
	if (r < 0)
		return -1;
	if (r == 0)
		return 0;
	switch (op->code) {
	case TFL_CONV_2D:	/* Conv2DOptions */
		if (otype != 1 || fb_u8(&o, 0, 0, &b[0]) || fb_i32(&o, 1, 0, &v[0]) ||
		    fb_i32(&o, 2, 0, &v[1]) || fb_u8(&o, 3, 0, &b[1]) || fb_i32(&o, 4, 1, &v[2]) ||
		    fb_i32(&o, 5, 1, &v[3]))
			return -1;
		op->padding = b[0];
		op->stride_w = v[0];
		op->stride_h = v[1];
		op->act = b[1];
		op->dil_w = v[2];
		op->dil_h = v[3];
		break;
	case TFL_DEPTHWISE_CONV_2D:	/* DepthwiseConv2DOptions */
		if (otype != 2 || fb_u8(&o, 0, 0, &b[0]) || fb_i32(&o, 1, 0, &v[0]) ||
		    fb_i32(&o, 2, 0, &v[1]) || fb_i32(&o, 3, 0, &v[4]) || fb_u8(&o, 4, 0, &b[1]) ||
		    fb_i32(&o, 5, 1, &v[2]) || fb_i32(&o, 6, 1, &v[3]))
			return -1;
		op->padding = b[0];
		op->stride_w = v[0];
		op->stride_h = v[1];
		op->depth_mult = v[4];
		op->act = b[1];
		op->dil_w = v[2];
		op->dil_h = v[3];
		break;
	case TFL_AVERAGE_POOL_2D:
	case TFL_MAX_POOL_2D:	/* Pool2DOptions */
		if (otype != 5 || fb_u8(&o, 0, 0, &b[0]) || fb_i32(&o, 1, 0, &v[0]) ||
		    fb_i32(&o, 2, 0, &v[1]) || fb_i32(&o, 3, 0, &v[2]) || fb_i32(&o, 4, 0, &v[3]) ||
		    fb_u8(&o, 5, 0, &b[1]))
			return -1;
		op->padding = b[0];
		op->stride_w = v[0];
		op->stride_h = v[1];
		op->filter_w = v[2];
		op->filter_h = v[3];
		op->act = b[1];
		break;
	case TFL_FULLY_CONNECTED:	/* FullyConnectedOptions */
		if (otype != 8 || fb_u8(&o, 0, 0, &b[0]) || fb_u8(&o, 1, 0, &b[1]) ||
		    fb_u8(&o, 2, 0, &b[2]))
			return -1;
		op->act = b[0];
		op->filter_w = b[1];	/* weights_format: 0 is DEFAULT */
		op->keep_num_dims = b[2];
		break;
	case TFL_SOFTMAX:	/* SoftmaxOptions */
		if (otype != 9 || fb_f32(&o, 0, 0.0f, &op->beta))
			return -1;
		break;
	case TFL_CONCATENATION:	/* ConcatenationOptions */
		if (otype != 10 || fb_i32(&o, 0, 0, &v[0]) || fb_u8(&o, 1, 0, &b[0]))
			return -1;
		op->axis = v[0];
		op->act = b[0];
		break;
	case TFL_ADD:		/* AddOptions */
	case TFL_MUL:		/* MulOptions */
		if (otype != (op->code == TFL_ADD ? 11 : 21) || fb_u8(&o, 0, 0, &b[0]))
			return -1;
		op->act = b[0];
		break;
	case TFL_RESHAPE:	/* ReshapeOptions */
	case TFL_SQUEEZE:	/* SqueezeOptions */
		if (otype != (op->code == TFL_RESHAPE ? 17 : 30) || fb_vector(&o, 0, 4, &vec) < 0 ||
		    vec.len > TFL_MAX_DIMS)
			return -1;
		op->nvec = (int)vec.len;
		op->has_vec = true;
		for (uint32_t i = 0; i < vec.len; i++)
			op->vec[i] = fb_vec_i32(&vec, i);
		break;
	case TFL_MEAN:		/* ReducerOptions */
		if (otype != 27 || fb_u8(&o, 0, 0, &b[0]))
			return -1;
		op->keep_dims = b[0];
		break;
	default:
		break;
	}
	return 0;
}

int tfl_parse(const void *data, size_t size, struct tfl_model *m, char *err, size_t errlen)
{
	struct fb fb = { data, size };
	struct fb_table model, sg, t;
	struct fb_vec codes, subgraphs, tensors, ops;
	struct buffers bufs = { .fb = &fb };
	/* A real file holds each scale once, in 4 bytes. */
	uint64_t budget = size / 4 + 16;
	uint32_t root;
	int r;

	memset(m, 0, sizeof(*m));
	if (!data || size < 8)
		return fail(err, errlen, "not a TFLite model: %zu bytes", size);
	if (memcmp((const uint8_t *)data + 4, "TFL3", 4))
		return fail(err, errlen, "not a TFLite model: no \"TFL3\" file identifier");
	root = fb_rd32(data);
	if (fb_table_at(&fb, root, &model))
		return fail(err, errlen, "malformed model: root table out of the file");
	if (fb_u32(&model, 0, 0, &m->version) || fb_vector(&model, 1, 4, &codes) < 0 ||
	    fb_vector(&model, 2, 4, &subgraphs) < 0 || fb_vector(&model, 4, 4, &bufs.v) < 0)
		return fail(err, errlen, "malformed model table");
	if (m->version != 3)
		return fail(err, errlen, "TFLite schema version %u (3 is supported)", m->version);
	if (!subgraphs.len || fb_vec_table(&subgraphs, 0, &sg))
		return fail(err, errlen, "model has no readable subgraph");
	if (fb_vector(&sg, 0, 4, &tensors) < 0 || fb_vector(&sg, 3, 4, &ops) < 0)
		return fail(err, errlen, "malformed subgraph 0");
	if (tensors.len > TFL_MAX_TENSORS || ops.len > TFL_MAX_OPS)
		return fail(err, errlen, "subgraph 0 has %u tensors and %u ops (too many)",
			    tensors.len, ops.len);
	m->ntensors = (int)tensors.len;
	m->t = calloc(tensors.len ? tensors.len : 1, sizeof(*m->t));
	m->ops = calloc(ops.len ? ops.len : 1, sizeof(*m->ops));
	if (!m->t || !m->ops) {
		tfl_free(m);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < tensors.len; i++) {
		if (fb_vec_table(&tensors, i, &t)) {
			r = fail(err, errlen, "tensor %u: malformed table", i);
			goto out;
		}
		r = read_tensor(&t, &bufs, &m->t[i], (int)i, &budget, err, errlen);
		if (r)
			goto out;
	}
	r = read_indexes(&sg, 1, m->ntensors, TFL_MAX_OP_IO, &m->inputs, &m->nin);
	if (!r)
		r = read_indexes(&sg, 2, m->ntensors, TFL_MAX_OP_IO, &m->outputs, &m->nout);
	if (r) {
		r = r == -ENOMEM ? r : fail(err, errlen, "subgraph inputs or outputs malformed");
		goto out;
	}
	for (int i = 0; i < m->nin; i++)
		if (m->inputs[i] < 0) {
			r = fail(err, errlen, "subgraph input %d is not a tensor", i);
			goto out;
		}
	for (int i = 0; i < m->nout; i++)
		if (m->outputs[i] < 0) {
			r = fail(err, errlen, "subgraph output %d is not a tensor", i);
			goto out;
		}
	m->nops = (int)ops.len;
	for (uint32_t i = 0; i < ops.len; i++) {
		struct tfl_op *op = &m->ops[i];
		struct fb_table ot, ct;
		uint32_t opcode;
		uint8_t otype, dep;
		int32_t code;

		if (fb_vec_table(&ops, i, &ot) || fb_u32(&ot, 0, 0, &opcode) ||
		    fb_u8(&ot, 3, 0, &otype)) {
			r = fail(err, errlen, "op %u: malformed table", i);
			goto out;
		}
		if (opcode >= codes.len || fb_vec_table(&codes, opcode, &ct) ||
		    fb_u8(&ct, 0, 0, &dep) || fb_i32(&ct, 3, 0, &code)) {
			r = fail(err, errlen, "op %u: operator code %u missing or malformed", i,
				 opcode);
			goto out;
		}
		/* The larger of the old byte-sized code and the new one. */
		op->code = code > (int8_t)dep ? code : (int8_t)dep;
		r = read_indexes(&ot, 1, m->ntensors, TFL_MAX_OP_IO, &op->in, &op->nin);
		if (!r)
			r = read_indexes(&ot, 2, m->ntensors, TFL_MAX_OP_IO, &op->out, &op->nout);
		if (r) {
			r = r == -ENOMEM ? r :
			    fail(err, errlen, "op %u (%s): tensor index out of range", i,
				 tfl_op_name(op->code));
			goto out;
		}
		for (int k = 0; k < op->nout; k++)
			if (op->out[k] < 0) {
				r = fail(err, errlen, "op %u (%s): output %d is not a tensor", i,
					 tfl_op_name(op->code), k);
				goto out;
			}
		if (read_options(&ot, otype, op)) {
			r = fail(err, errlen, "op %u (%s): malformed options", i,
				 tfl_op_name(op->code));
			goto out;
		}
	}
	return 0;
out:
	if (r == -ENOMEM)
		fail(err, errlen, "out of memory reading the model");
	tfl_free(m);
	return r == -ENOMEM ? r : -EINVAL;
}
