/* SPDX-License-Identifier: MIT */
/*
 * The TFLite model format, read into a plain description (tflite.c), from
 * which import.c builds a network. Field numbers follow TFLite's public
 * schema (schema.fbs). Not installed.
 */
#ifndef APU_TFLITE_H
#define APU_TFLITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* TensorType */
enum {
	TFL_FLOAT32 = 0, TFL_FLOAT16 = 1, TFL_INT32 = 2, TFL_UINT8 = 3, TFL_INT64 = 4,
	TFL_STRING = 5, TFL_BOOL = 6, TFL_INT16 = 7, TFL_COMPLEX64 = 8, TFL_INT8 = 9,
	TFL_FLOAT64 = 10, TFL_INT4 = 17,
};

/* BuiltinOperator codes that the importer knows. */
enum {
	TFL_ADD = 0, TFL_AVERAGE_POOL_2D = 1, TFL_CONCATENATION = 2, TFL_CONV_2D = 3,
	TFL_DEPTHWISE_CONV_2D = 4, TFL_DEQUANTIZE = 6, TFL_FULLY_CONNECTED = 9,
	TFL_LOGISTIC = 14, TFL_MAX_POOL_2D = 17, TFL_MUL = 18, TFL_RELU = 19,
	TFL_RELU_N1_TO_1 = 20, TFL_RELU6 = 21, TFL_RESHAPE = 22, TFL_SOFTMAX = 25,
	TFL_TANH = 28, TFL_PAD = 34, TFL_MEAN = 40, TFL_SQUEEZE = 43, TFL_QUANTIZE = 114,
	TFL_HARD_SWISH = 117,
};

/* Fused activations (ActivationFunctionType). */
enum { TFL_ACT_NONE = 0, TFL_ACT_RELU = 1, TFL_ACT_RELU_N1_TO_1 = 2, TFL_ACT_RELU6 = 3 };

/* Padding (EXPLICIT is libapu's own, for graphs built in memory: apu_graph.h). */
enum { TFL_PAD_SAME = 0, TFL_PAD_VALID = 1, TFL_PAD_EXPLICIT = 2 };

#define TFL_MAX_DIMS 6

struct tfl_tensor {
	char name[64];
	int type;
	int ndims;
	int32_t dims[TFL_MAX_DIMS];
	uint64_t elems;			/* product of dims */
	const uint8_t *data;		/* constant contents, or NULL */
	size_t data_size;
	unsigned int nq;		/* quantization entries; 0: none */
	float *scale;
	int64_t *zp;
	int qdim;			/* quantized_dimension */
};

struct tfl_op {
	int code;			/* builtin operator */
	int nin, nout;
	int32_t *in, *out;		/* tensor indexes; -1: optional input left out */
	/* Builtin options, as the op's kind has them (defaults otherwise). */
	int padding, stride_w, stride_h, dil_w, dil_h, depth_mult;
	unsigned int pad[4];		/* TFL_PAD_EXPLICIT: top, bottom, left, right */
	int filter_w, filter_h, act, axis;
	bool keep_dims, keep_num_dims;
	float beta;
	int nvec;			/* new_shape (RESHAPE) or squeeze_dims (SQUEEZE) */
	int32_t vec[TFL_MAX_DIMS];
	bool has_vec;
};

struct tfl_model {
	uint32_t version;
	int ntensors, nops, nin, nout;
	struct tfl_tensor *t;
	struct tfl_op *ops;
	int32_t *inputs, *outputs;
};

/*
 * Reads the model in @data (which must stay valid while @m is used: tensor
 * contents point into it). Returns 0, or -EINVAL / -ENOMEM with a message
 * in @err.
 */
int tfl_parse(const void *data, size_t size, struct tfl_model *m, char *err, size_t errlen);
void tfl_free(struct tfl_model *m);

struct apu_device;
struct apu_model;
/*
 * Lowers @tf (checked as tfl_parse() checks a file: tensor indexes in range,
 * shapes positive) into a new model on @dev (import.c).
 */
int apu_model_build(struct apu_device *dev, const struct tfl_model *tf, struct apu_model **out,
		    char *err, size_t errlen);

/* The name of a builtin operator code ("CONV_2D"), or "?" */
const char *tfl_op_name(int code);
/* The name of a tensor type ("INT8"), or "?" */
const char *tfl_type_name(int type);

#endif /* APU_TFLITE_H */
