/* SPDX-License-Identifier: MIT */
/*
 * libapu - a model built in memory, op by op: what an inference framework's
 * backend hands to libapu (docs/frameworks.md).
 *
 * The vocabulary is TFLite's: tensor types, operator codes, options and
 * layouts (NHWC activations; convolution weights [out][kh][kw][in],
 * depthwise [1][kh][kw][out], fully connected [out][in]; quantization
 * real = scale x (q - zero_point), per tensor or per channel). A graph and a
 * .tflite file go through the same lowering, so a graph runs exactly as the
 * same ops in a file would, and fails with the same messages.
 *
 * Thread-safety: a graph is used by one thread at a time.
 */
#ifndef APU_APU_GRAPH_H
#define APU_APU_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "apu/apu_model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct apu_graph;

/** Tensor types (TFLite's TensorType numbers). */
enum apu_graph_type {
	APU_GRAPH_FLOAT32 = 0,
	APU_GRAPH_INT32 = 2,
	APU_GRAPH_UINT8 = 3,
	APU_GRAPH_INT64 = 4,
	APU_GRAPH_INT8 = 9,
	/**
	 * @APU_GRAPH_INT4: constants only (the weights of convolutions,
	 * depthwise convolutions and fully connected layers, per-channel
	 * symmetric): packed two per byte as TFLite's INT4, element 2i in the
	 * low nibble, signed; (elements + 1) / 2 bytes.
	 */
	APU_GRAPH_INT4 = 17,
};

/** Operators (TFLite's BuiltinOperator numbers) that libapu lowers. */
enum apu_graph_op_code {
	APU_GRAPH_ADD = 0,
	APU_GRAPH_AVERAGE_POOL_2D = 1,
	APU_GRAPH_CONCATENATION = 2,
	APU_GRAPH_CONV_2D = 3,
	APU_GRAPH_DEPTHWISE_CONV_2D = 4,
	APU_GRAPH_DEQUANTIZE = 6,
	APU_GRAPH_FULLY_CONNECTED = 9,
	APU_GRAPH_LOGISTIC = 14,
	APU_GRAPH_MAX_POOL_2D = 17,
	APU_GRAPH_MUL = 18,
	APU_GRAPH_RELU = 19,
	APU_GRAPH_RELU_N1_TO_1 = 20,
	APU_GRAPH_RELU6 = 21,
	APU_GRAPH_RESHAPE = 22,
	APU_GRAPH_SOFTMAX = 25,
	APU_GRAPH_TANH = 28,
	APU_GRAPH_PAD = 34,
	APU_GRAPH_MEAN = 40,
	APU_GRAPH_SQUEEZE = 43,
	APU_GRAPH_QUANTIZE = 114,
	APU_GRAPH_HARD_SWISH = 117,
};

/** Padding of convolutions and pools. */
enum apu_graph_padding {
	APU_GRAPH_PAD_SAME = 0,		/**< TFLite SAME */
	APU_GRAPH_PAD_VALID = 1,	/**< none */
	APU_GRAPH_PAD_EXPLICIT = 2,	/**< apu_graph_op.pad: top, bottom, left, right */
};

/** Fused activations (TFLite's ActivationFunctionType). */
enum apu_graph_act {
	APU_GRAPH_ACT_NONE = 0,
	APU_GRAPH_ACT_RELU = 1,
	APU_GRAPH_ACT_RELU_N1_TO_1 = 2,
	APU_GRAPH_ACT_RELU6 = 3,
};

#define APU_GRAPH_MAX_DIMS	6
#define APU_GRAPH_MAX_OP_IO	64

/** A tensor: an activation (@data NULL) or a constant (weights, bias, axes). */
struct apu_graph_tensor {
	const char *name;		/**< for messages; may be NULL */
	enum apu_graph_type type;
	unsigned int ndims;		/**< at most APU_GRAPH_MAX_DIMS */
	int dims[APU_GRAPH_MAX_DIMS];	/**< each >= 1 */
	const void *data;		/**< constant contents, copied; NULL: computed */
	size_t data_size;		/**< bytes at @data */
	/** Quantization: none (0), per tensor (1) or per channel (dims[@quant_dim]). */
	unsigned int nquant;
	const float *scales;
	const int64_t *zero_points;	/**< NULL: all zero */
	int quant_dim;
};

/** An op; fields its code does not use are ignored (zero them). */
struct apu_graph_op {
	enum apu_graph_op_code code;
	unsigned int nin, nout;		/**< at most APU_GRAPH_MAX_OP_IO each */
	const int *inputs;		/**< tensor indexes; -1: an optional input left out */
	const int *outputs;
	enum apu_graph_padding padding;
	unsigned int pad[4];		/**< APU_GRAPH_PAD_EXPLICIT: top, bottom, left, right */
	int stride_w, stride_h;		/**< convolutions, pools */
	int dilation_w, dilation_h;	/**< convolutions; 0 means 1 */
	int depth_multiplier;		/**< depthwise; 0: from the weights */
	int filter_w, filter_h;		/**< pools */
	enum apu_graph_act act;		/**< conv, depthwise, FC, add, mul, pools, concat */
	int axis;			/**< CONCATENATION */
	int keep_dims;			/**< MEAN (its axes are a constant int32 input) */
	float beta;			/**< SOFTMAX */
	unsigned int nvec;		/**< RESHAPE: new shape; SQUEEZE: dims */
	int32_t vec[APU_GRAPH_MAX_DIMS];
};

/** apu_graph_create() - an empty graph. Return: 0, -EINVAL or -ENOMEM. */
APU_API int apu_graph_create(struct apu_graph **out);

/** apu_graph_destroy() - NULL is ignored. */
APU_API void apu_graph_destroy(struct apu_graph *g);

/**
 * apu_graph_add_tensor() - add a tensor; its contents and quantization are copied
 *
 * Return: its index (>= 0); -EINVAL for a bad shape, type, size or
 * quantization; -E2BIG past 100000 tensors or 2^40 elements; -ENOMEM.
 */
APU_API int apu_graph_add_tensor(struct apu_graph *g, const struct apu_graph_tensor *t);

/**
 * apu_graph_add_op() - append an op (ops run in the order they are added)
 *
 * Return: its index (>= 0); -EINVAL for a tensor index out of range or a
 * missing output; -E2BIG past 100000 ops; -ENOMEM. Whether libapu can run
 * it is decided by apu_model_create().
 */
APU_API int apu_graph_add_op(struct apu_graph *g, const struct apu_graph_op *op);

/** apu_graph_set_inputs() - the graph's inputs, in order (replaces earlier ones). */
APU_API int apu_graph_set_inputs(struct apu_graph *g, const int *tensors, unsigned int n);

/** apu_graph_set_outputs() - the graph's outputs, in order. */
APU_API int apu_graph_set_outputs(struct apu_graph *g, const int *tensors, unsigned int n);

/**
 * apu_model_create() - build a model from @g (which may be destroyed after)
 * @dev:    the device it will run on (or the CPU backend)
 * @g:      the graph
 * @out:    the new model: compile, set inputs, run as one loaded from a file
 * @err:    a message on failure (may be NULL): the op index, its code and name,
 *          the tensor and the reason
 * @errlen: size of @err
 *
 * Return: 0; -EINVAL for an inconsistent graph; -EOPNOTSUPP for an op or a
 * quantization kind libapu cannot run; -E2BIG; -ENOMEM.
 */
APU_API int apu_model_create(struct apu_device *dev, const struct apu_graph *g,
			     struct apu_model **out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* APU_APU_GRAPH_H */
