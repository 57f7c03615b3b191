/* SPDX-License-Identifier: MIT */
/*
 * libapu - trained models: a TFLite file becomes a network of device ops
 * and CPU ops (docs/models.md).
 *
 * Thread-safety: a model is used by one thread at a time; different models
 * of one device may be used from different threads at once.
 */
#ifndef APU_APU_MODEL_H
#define APU_APU_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "apu/apu.h"

#ifdef __cplusplus
extern "C" {
#endif

struct apu_model;

/** Element types of a model's inputs and outputs. */
enum apu_dtype {
	APU_DTYPE_UINT8 = 0,
	APU_DTYPE_INT8 = 1,
	APU_DTYPE_FLOAT32 = 2,
};

/** An input or output of a model, as the model file declares it. */
struct apu_tensor_info {
	char name[64];
	enum apu_dtype dtype;
	unsigned int ndims;
	int dims[6];
	size_t count;		/**< elements */
	size_t bytes;		/**< count x the element size */
	/**
	 * Quantization of the data the device computes for it: for uint8 and
	 * int8 tensors their own; for float32 tensors that of the QUANTIZE
	 * or DEQUANTIZE op at the model's edge.
	 */
	float scale;
	int32_t zero_point;
	enum apu_dtype quant_dtype;	/**< uint8 or int8: the quantized side */
};

/**
 * apu_model_load_tflite() - read a TFLite model and build its network
 * @dev:    the device it will run on (or the CPU backend)
 * @path:   a .tflite file
 * @out:    the new model
 * @err:    a message on failure (may be NULL): the op (its index, builtin
 *          code and name), the tensor and the reason
 * @errlen: size of @err
 *
 * Every offset, length and index of the file is checked. Weights are
 * copied once, into the network's constants; the file is not kept.
 *
 * Return: 0; -EINVAL for a malformed file; -EOPNOTSUPP for an op or a
 * quantization kind libapu cannot run; -ENOMEM; the error of reading @path.
 */
APU_API int apu_model_load_tflite(struct apu_device *dev, const char *path,
				  struct apu_model **out, char *err, size_t errlen);

/** apu_model_load_tflite_buffer() - the same from @size bytes at @data (not kept). */
APU_API int apu_model_load_tflite_buffer(struct apu_device *dev, const void *data, size_t size,
					 struct apu_model **out, char *err, size_t errlen);

/** apu_model_destroy() - waits for a run in flight; NULL is ignored. */
APU_API void apu_model_destroy(struct apu_model *model);

/** apu_model_compile() - plan the network (apu_network_compile(), @size likewise). */
APU_API int apu_model_compile(struct apu_model *model, const struct apu_compile_options *opts,
			      size_t size);

/** apu_model_num_inputs() - the number of inputs, or a negative errno. */
APU_API int apu_model_num_inputs(const struct apu_model *model);
/** apu_model_num_outputs() - the number of outputs, or a negative errno. */
APU_API int apu_model_num_outputs(const struct apu_model *model);
/** apu_model_input_info() - input @index. */
APU_API int apu_model_input_info(const struct apu_model *model, int index,
				 struct apu_tensor_info *info);
/** apu_model_output_info() - output @index. */
APU_API int apu_model_output_info(const struct apu_model *model, int index,
				  struct apu_tensor_info *info);

/**
 * apu_model_set_input() - input @index from @size bytes in its own type
 * (float32 inputs are quantized as TFLite's QUANTIZE does:
 * round(x / scale) + zero_point, clamped)
 */
APU_API int apu_model_set_input(struct apu_model *model, int index, const void *data,
				size_t size);

/** apu_model_run() - run the compiled model and wait (apu_network_run()). */
APU_API int apu_model_run(struct apu_model *model, struct apu_run_stats *stats);

/** apu_model_get_output() - output @index in its own type, after a run. */
APU_API int apu_model_get_output(struct apu_model *model, int index, void *data, size_t size);

/**
 * apu_model_get_output_float() - output @index dequantized:
 * (q - zero_point) x scale, @count values
 */
APU_API int apu_model_get_output_float(struct apu_model *model, int index, float *data,
				       size_t count);

/** Tensor-by-tensor comparison of a run with the CPU reference. */
struct apu_model_compare {
	unsigned int tensors;		/**< tensors compared */
	unsigned int tensors_differing;
	uint64_t values;		/**< values compared */
	uint64_t values_differing;
	unsigned int max_abs_diff;	/**< in quantized steps */
	int first_differing_op;		/**< TFLite op index, or -1 */
};

/**
 * apu_model_compare_reference() - compute every tensor with the CPU
 * reference from the inputs of the last run and compare them with what
 * the run produced
 */
APU_API int apu_model_compare_reference(struct apu_model *model,
					struct apu_model_compare *result);

/** Where a TFLite op went. */
enum apu_model_op_place {
	APU_MODEL_OP_DEVICE = 0,	/**< device op(s) */
	APU_MODEL_OP_CPU = 1,		/**< libapu's CPU reference, between device segments */
	APU_MODEL_OP_VIEW = 2,		/**< no work: a view (reshape) or an identity */
	APU_MODEL_OP_FOLDED = 3,	/**< merged into a neighbour: a PAD into the next convolution, a RELU* into the op before */
	APU_MODEL_OP_EDGE = 4,		/**< float conversion done by apu_model_set_input/get_output */
	APU_MODEL_OP_IN_PLACE = 5,	/**< a concatenation its producers wrote in place */
};

/** One op of the model file. */
struct apu_model_op_info {
	int builtin_code;
	const char *name;		/**< "CONV_2D" */
	enum apu_model_op_place place;
	const char *place_name;		/**< "device", "cpu", "view", "folded", "edge", "in-place" */
	int network_op;			/**< first network op it became, or -1 */
	int network_ops;		/**< how many */
	unsigned int core_mask;		/**< device ops: the cores it ran on */
	char shapes[96];		/**< e.g. "1x112x112x32 -> 1x56x56x64" */
	char quant[48];			/**< e.g. "int8 per-channel", "uint8 w_zp" */
	uint64_t macs;
};

/** apu_model_op_count() - ops of the model file, or a negative errno. */
APU_API int apu_model_op_count(const struct apu_model *model);
/**
 * apu_model_op_info() - op @index of the model file (after compile: core
 * masks); size-versioned as apu_network_op_info() (@size: sizeof(*@info))
 */
APU_API int apu_model_op_info(const struct apu_model *model, int index,
			      struct apu_model_op_info *info, size_t size);

/** apu_model_network() - the network it built (for stats, traces). */
APU_API struct apu_network *apu_model_network(struct apu_model *model);

#ifdef __cplusplus
}
#endif

#endif /* APU_APU_MODEL_H */
