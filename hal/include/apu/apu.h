/* SPDX-License-Identifier: MIT */
/*
 * libapu - userspace HAL for the APU neural processing unit.
 *
 * Conventions (see docs/hal.md):
 * - Handles are opaque; every object is created and destroyed by libapu.
 * - Functions that can fail return 0 or a negative errno value; turn one into
 *   text with apu_strerror(). Functions never print.
 * - One verb pair per kind of object: a device is opened and closed
 *   (apu_device_open*(), apu_device_close()); everything else is created
 *   and destroyed (*_create() or a loader such as apu_model_load_tflite(),
 *   and *_destroy()).
 * - Devices are reference-counted: each network and buffer holds a
 *   reference to its device, so apu_device_close() may come before the
 *   destruction of the objects made from the device (as libdrm_etnaviv's
 *   objects keep their device alive); apu_device_ref() takes one more.
 * - The library keeps no global state. A struct apu_device may be used from
 *   several threads at once: everything reachable from it is read-only after
 *   apu_device_open() returns, and its reference count is atomic. Dropping
 *   the last reference while another thread uses the device is the
 *   caller's error.
 */
#ifndef APU_APU_H
#define APU_APU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define APU_API __attribute__((visibility("default")))
#else
#define APU_API
#endif

/**
 * Version of this header: the minor is bumped when the API grows, the major
 * (with the SONAME, libapu.so.MAJOR) when the ABI breaks.
 */
#define APU_HAL_VERSION_MAJOR 1
#define APU_HAL_VERSION_MINOR 0

/** Longest path libapu returns, including the terminating NUL. */
#define APU_PATH_MAX 64

/** One APU found by apu_enumerate(). */
struct apu_device_entry {
	/** Device node, e.g. "/dev/accel/accel0". */
	char node[APU_PATH_MAX];
	/** Name of the parent bus device, e.g. "0000:00:04.0". */
	char bus_id[APU_PATH_MAX];
	/** Minor number of the accel node (N of accelN). */
	unsigned int minor;
};

/**
 * apu_enumerate() - list the APUs of this system, ordered by minor number
 * @entries: array of @max entries to fill; may be NULL when @max is 0
 * @max:     size of @entries
 * @count:   set to the number of APUs found, which may exceed @max (then only
 *           the first @max are written)
 *
 * Looks at /sys/class/accel for nodes driven by the "apu" kernel driver.
 * A system without the accel class has zero APUs, which is not an error.
 *
 * Return: 0, -EINVAL for bad arguments, or another negative errno when
 * sysfs cannot be read.
 */
APU_API int apu_enumerate(struct apu_device_entry *entries, size_t max,
			  size_t *count);

struct apu_device;

/**
 * apu_device_open() - open an APU by its device node
 * @node: path such as "/dev/accel/accel0"
 * @out:  set to the new handle on success
 *
 * Return: 0; -EINVAL for NULL arguments; -ENOENT, -EACCES (...) when the node
 * cannot be opened; -ENODEV when the node does not belong to the apu driver;
 * -EPROTO when the driver's answers do not make sense to this library.
 */
APU_API int apu_device_open(const char *node, struct apu_device **out);

/**
 * apu_device_open_index() - open the @index-th APU of apu_enumerate()
 *
 * Return: as apu_device_open(); -ENODEV when there are not that many APUs.
 */
APU_API int apu_device_open_index(unsigned int index, struct apu_device **out);

/**
 * apu_device_ref() - take one more reference to @dev
 *
 * Each reference is dropped with apu_device_close(); the device is closed
 * when its last reference is. Thread-safe.
 *
 * Return: @dev (NULL for NULL).
 */
APU_API struct apu_device *apu_device_ref(struct apu_device *dev);

/**
 * apu_device_close() - drop a reference; the last one closes the device
 *
 * The opener holds one reference, each network and buffer of the device
 * another: the device stays open until those are destroyed too. NULL is
 * ignored. Thread-safe.
 */
APU_API void apu_device_close(struct apu_device *dev);

/** apu_device_fd() - the DRM file descriptor (owned by the handle). */
APU_API int apu_device_fd(const struct apu_device *dev);

/** Identity of an opened APU; grows only at its end (apu_device_get_info()). */
struct apu_device_info {
	/** Device node the handle was opened from. */
	char node[APU_PATH_MAX];
	/** Kernel driver name ("apu") and version. */
	char driver_name[32];
	int driver_major, driver_minor, driver_patch;
	/** Identity register of the hardware. */
	uint32_t hw_id;
	/** Hardware version. */
	unsigned int hw_major, hw_minor, hw_patch;
	/** Version of the firmware the device runs. */
	unsigned int fw_major, fw_minor, fw_patch;
	/** Firmware ABI (command formats) of the device. */
	unsigned int fw_abi_major, fw_abi_minor;
	/** Number of cores; see apu_device_get_core(). */
	unsigned int num_cores;
	/** Capabilities: APU_CAP_* bits. */
	unsigned int caps;
	/** Largest buffer, in bytes. */
	uint64_t max_buffer_size;
	/** Open files (processes) the device can serve at once. */
	unsigned int max_contexts;
	/** Jobs each core queues in hardware. */
	unsigned int ring_entries;
};

/** Capability bits of apu_device_info.caps. */
#define APU_CAP_MMU		0x1	/**< per-process device address spaces */
#define APU_CAP_TIME_ACCURATE	0x2	/**< jobs can complete at their modeled time */
#define APU_CAP_FAULT_INJECT	0x4	/**< fault injection for tests (debugfs) */
#define APU_CAP_POWER_GATING	0x8	/**< idle cores are powered down */
/**
 * Weight zero points, max pooling, lookup tables, multiply, broadcasting:
 * firmware ABI 1.2.
 */
#define APU_CAP_QUANT_OPS	0x10
/**
 * The device enforces jobs' buffer access: a job writes only the buffers
 * it declares written (firmware ABI 1.3).
 */
#define APU_CAP_WRITE_LIST	0x20
/**
 * Convolutions, depthwise and fully connected layers take int4 weights
 * (APU_CONV_EXT_WEIGHTS_INT4; firmware ABI 1.4).
 */
#define APU_CAP_INT4_WEIGHTS	0x40
/**
 * 1x1 convolutions and fully connected layers take block-sparse weights
 * (APU_CONV_EXT_WEIGHTS_SPARSE; firmware ABI 1.5).
 */
#define APU_CAP_SPARSE_WEIGHTS	0x80
/**
 * Convolutions, depthwise and fully connected layers, add and pooling on
 * fp16 tensors (apu_network_add_input_fp16(); firmware ABI 1.6), and each
 * core's fp16 rate (apu_core_info.fp16_macs_per_cycle).
 */
#define APU_CAP_FP16		0x100

/** Kinds of core. */
enum apu_core_class {
	APU_CORE_BIG = 0,	/**< fastest, most energy per MAC */
	APU_CORE_LITTLE = 1,	/**< slower, less energy per MAC */
	APU_CORE_TINY = 2,	/**< slowest, least energy, lowest idle power */
};

/** One core, as the device reports it; grows only at its end (apu_device_get_core()). */
struct apu_core_info {
	unsigned int index;
	enum apu_core_class core_class;
	unsigned int macs_per_cycle;	/**< int8 multiply-accumulates per cycle */
	unsigned int clock_mhz;
	unsigned int sram_bytes;
	unsigned int energy_fj_per_mac;	/**< femtojoules per MAC */
	unsigned int idle_power_uw;	/**< microwatts when idle */
	unsigned int bytes_per_cycle;	/**< data movement rate */
	/** fp16 multiply-accumulates per cycle; 0: the device has no fp16 */
	unsigned int fp16_macs_per_cycle;
};

/**
 * apu_device_get_core() - figures of core @index of an opened APU
 * @info: filled with the figures
 * @size: sizeof(*@info) as the caller was built
 *
 * Size-versioned: struct apu_core_info only grows at its end; libapu fills
 * the fields it and the caller both know and zeroes the rest of @size.
 *
 * Return: 0; -EINVAL for NULL arguments, @index >= num_cores or @size
 * smaller than libapu 1.0's struct.
 */
APU_API int apu_device_get_core(const struct apu_device *dev, unsigned int index,
				struct apu_core_info *info, size_t size);

/** apu_core_class_name() - "big", "little", "tiny" or "unknown". */
APU_API const char *apu_core_class_name(enum apu_core_class core_class);

/**
 * apu_device_get_info() - identity and versions of an opened APU
 * @info: filled with the identity
 * @size: sizeof(*@info) as the caller was built
 *
 * Size-versioned: struct apu_device_info only grows at its end; libapu
 * fills the fields it and the caller both know and zeroes the rest of
 * @size.
 *
 * Return: 0, or -EINVAL for NULL arguments or @size smaller than libapu
 * 1.0's struct.
 */
APU_API int apu_device_get_info(const struct apu_device *dev,
				struct apu_device_info *info, size_t size);

/* ---- CPU backend -------------------------------------------------------- */

/**
 * apu_device_open_cpu() - a device without hardware: networks run on the
 * bit-exact CPU reference, with the core figures of the emulated APU
 * (2 big, 3 little, 1 tiny) for planning and modeled timing
 *
 * apu_device_open_index() returns one too when the environment variable
 * APU_BACKEND is "cpu".
 *
 * Return: 0, -EINVAL, -ENOMEM.
 */
APU_API int apu_device_open_cpu(struct apu_device **out);

/** apu_device_is_cpu() - whether @dev is the CPU backend. */
APU_API int apu_device_is_cpu(const struct apu_device *dev);

/* ---- buffers ------------------------------------------------------------- */

struct apu_buffer;

/** Flags of apu_buffer_create(). */
#define APU_BUFFER_DEVICE_READ_ONLY 0x1	/**< the device may only read it */

/**
 * apu_buffer_create() - memory the CPU and the device share
 * @dev:   the device
 * @size:  bytes (rounded up to whole pages)
 * @flags: APU_BUFFER_* flags
 * @out:   the new buffer, mapped for the CPU (apu_buffer_cpu())
 *
 * CPU access rule: after submitting work that uses a buffer, call
 * apu_buffer_wait() (or wait for the work's fence) before the CPU reads
 * or writes it.
 *
 * Return: 0; -EINVAL; -E2BIG over the device's largest buffer; -ENOMEM;
 * -ENODEV when the device is gone.
 */
APU_API int apu_buffer_create(struct apu_device *dev, size_t size, unsigned int flags,
			      struct apu_buffer **out);

/**
 * apu_buffer_destroy() - unmap and release, dropping the buffer's
 * reference to its device; NULL is ignored
 */
APU_API void apu_buffer_destroy(struct apu_buffer *buf);

/** apu_buffer_cpu() - the CPU mapping of the buffer. */
APU_API void *apu_buffer_cpu(const struct apu_buffer *buf);

/** apu_buffer_size() - its size in bytes. */
APU_API size_t apu_buffer_size(const struct apu_buffer *buf);

/** apu_buffer_device_addr() - its address for the device (0 on the CPU backend). */
APU_API uint64_t apu_buffer_device_addr(const struct apu_buffer *buf);

/**
 * apu_buffer_wait() - wait until no device work uses the buffer
 * @timeout_ns: relative timeout; 0 polls, negative waits forever
 *
 * Return: 0; -ETIME when the timeout passed first.
 */
APU_API int apu_buffer_wait(struct apu_buffer *buf, int64_t timeout_ns);

/**
 * apu_buffer_export_dmabuf() - a dma-buf file descriptor of the buffer
 * @fd: set to a new descriptor the caller owns (O_CLOEXEC, read-write)
 *
 * Return: 0, -ENOTSUP on the CPU backend, or the kernel's error.
 */
APU_API int apu_buffer_export_dmabuf(struct apu_buffer *buf, int *fd);

/**
 * apu_buffer_import_dmabuf() - a buffer for a dma-buf of this or another
 * device; the caller keeps its descriptor
 *
 * Return: 0, -ENOTSUP on the CPU backend, or the kernel's error.
 */
APU_API int apu_buffer_import_dmabuf(struct apu_device *dev, int fd,
				     struct apu_buffer **out);

/* ---- quantization ---------------------------------------------------------- */

/**
 * apu_quantize_multiplier() - a real scale as TFLite's QuantizeMultiplier:
 * @scale = @mult * 2^(@shift - 31), @mult in [2^30, 2^31) (or 0 for a zero
 * scale)
 *
 * Return: 0; -EINVAL for a negative, NaN or infinite scale, or one whose
 * shift is out of the range the device takes ([-31, 30]).
 */
APU_API int apu_quantize_multiplier(double scale, int32_t *mult, int *shift);

/**
 * apu_conv_requant() - per-channel requantization of a convolution:
 * channel i uses @in_scale * @w_scales[i] / @out_scale
 *
 * Return: 0 or -EINVAL (see apu_quantize_multiplier()).
 */
APU_API int apu_conv_requant(double in_scale, const float *w_scales, double out_scale,
			     unsigned int channels, int32_t *mult, int32_t *shift);

/**
 * apu_int4_pack() - pack @n int8 values in [-8, 7] two per byte as TFLite's
 * INT4 tensors: value i goes to the low nibble of @packed[i / 2] when i is
 * even, the high nibble when odd (an odd @n leaves the last high nibble 0);
 * @packed holds (@n + 1) / 2 bytes
 *
 * Return: 0; -EINVAL for NULL pointers or a value outside [-8, 7].
 */
APU_API int apu_int4_pack(const int8_t *values, size_t n, uint8_t *packed);

/**
 * apu_quantize_int4() - per-channel symmetric int4 weights from float ones
 * @w:        @n weights, in the layout the layer takes
 * @n:        their number
 * @channels: output channels; weight i belongs to channel
 *            (i / @inner) % @channels
 * @inner:    weights per channel run: k_h * k_w * (in_c / groups) for a
 *            convolution ([out_c][k_h][k_w][in_c / groups]), the input size
 *            for a fully connected layer, 1 for depthwise ([k_h][k_w][out_c])
 * @packed:   (@n + 1) / 2 bytes: the int4 weights (apu_int4_pack())
 * @scales:   @channels scales: weight = q * scale
 *
 * Channel c's scale is max |w| / 7 over its weights (1 for a channel of
 * zeros); q = round(w / scale) (half away from zero), clamped to [-8, 7].
 * Pass @scales to apu_conv_requant() as the weight scales.
 *
 * Return: 0; -EINVAL for NULL pointers, @n, @channels or @inner 0, @n not a
 * multiple of @channels * @inner, or weights that are not finite.
 */
APU_API int apu_quantize_int4(const float *w, size_t n, unsigned int channels, size_t inner,
			      uint8_t *packed, float *scales);

/**
 * apu_requantize_int4() - per-channel int4 weights from int8 ones:
 * apu_quantize_int4() of @w[i] * @w_scales[channel of i] (@w_scales NULL:
 * 1 for every channel). The returned @scales are real scales, as
 * apu_quantize_int4()'s.
 */
APU_API int apu_requantize_int4(const int8_t *w, const float *w_scales, size_t n,
				unsigned int channels, size_t inner, uint8_t *packed,
				float *scales);

/**
 * apu_sparse_encode() - block-sparse weights in the device's layout (struct
 * apu_sparse_weights, docs/hw.md) from dense int8 weights @w
 * [@out_c][@in_c]: blocks of @block (1, 2 or 4) output channels by one
 * input channel, those with a nonzero weight stored, in order
 * @buf:  where to write them, or NULL to learn the size
 * @size: in: @buf's size; out: the bytes the encoding takes
 *
 * Return: 0; -EINVAL for a NULL @w or @size, a channel count of 0 or above
 * 65535, or another @block; -ENOSPC when @buf is smaller than *@size (then
 * set to the size needed).
 */
APU_API int apu_sparse_encode(const int8_t *w, unsigned int out_c, unsigned int in_c,
			      unsigned int block, void *buf, size_t *size);

/**
 * apu_sparsify() - prune dense int8 weights @w [@out_c][@in_c] by blocks of
 * @block output channels by one input channel (the last block row may be
 * short): the blocks whose largest magnitude is at most @threshold are
 * zeroed, then, while fewer than @sparsity (a fraction, 0 to 1) of the
 * blocks are zero, the remaining blocks of least magnitude (sum of |w|;
 * ties: the first in [row][input channel] order) are zeroed too.
 * @zero_blocks, when not NULL, gets the number of zero blocks after (those
 * that were already zero included).
 *
 * Return: 0; -EINVAL for NULL @w, channel counts of 0, a @block other
 * than 1, 2 or 4, or @sparsity outside [0, 1]; -ENOMEM.
 */
APU_API int apu_sparsify(int8_t *w, unsigned int out_c, unsigned int in_c, unsigned int block,
			 int threshold, double sparsity, size_t *zero_blocks);

/* ---- networks ------------------------------------------------------------ */

/** A tensor shape: NHWC, batch 1, int8. */
struct apu_shape {
	unsigned int h, w, c;
};

/** Padding of a convolution or pooling. */
enum apu_padding {
	APU_PAD_VALID = 0,	/**< no padding */
	APU_PAD_SAME = 1,	/**< TFLite SAME: output = ceil(input / stride) */
	APU_PAD_EXPLICIT = 2,	/**< pad_top, pad_left, pad_bottom, pad_right; each
				     smaller than the (dilated) kernel extent */
};

/**
 * struct apu_conv2d - a 2-D convolution (TFLite int8 semantics)
 *
 * Weights are [out_c][k_h][k_w][in_c / groups], except depthwise (groups
 * == in_c > 1), which is [k_h][k_w][out_c] with out_c a multiple of in_c.
 * One input channel (groups 1) always takes the first layout. Per output
 * channel: bias (may be NULL), requantization multiplier and shift
 * (apu_conv_requant()). The network copies every array.
 */
struct apu_conv2d {
	unsigned int out_c, k_h, k_w, stride_h, stride_w, dil_h, dil_w, groups;
	enum apu_padding padding;
	unsigned int pad_top, pad_left, pad_bottom, pad_right;
	int32_t in_zp, out_zp, act_min, act_max;
	const int8_t *weights;
	const int32_t *bias, *mult, *shift;
};

/**
 * struct apu_conv2d_ext - more of a convolution (HAL 0.2), for
 * apu_network_add_conv2d_ext(); grows at its end, @size tells its version
 * @size:  sizeof(struct apu_conv2d_ext) as the caller was built
 * @flags: APU_CONV_EXT_* bits
 * @w_zp:  the weights' zero point, [-128, 127] (asymmetric uint8 weights,
 *         moved to int8 by subtracting 128 from weights and zero point): the
 *         accumulator is sum((in - in_zp) * (w - w_zp)); nonzero needs
 *         APU_CAP_QUANT_OPS
 */
struct apu_conv2d_ext {
	size_t size;
	unsigned int flags;
	int32_t w_zp;
	/*
	 * Second version (the size covers it): with
	 * APU_CONV_EXT_WEIGHTS_SPARSE, the output channels per block, 1, 2
	 * or 4.
	 */
	unsigned int sparse_block;
};

/** The size of the first version of struct apu_conv2d_ext (no sparse_block). */
#define APU_CONV2D_EXT_SIZE_V1	offsetof(struct apu_conv2d_ext, sparse_block)

/** The op is a fully connected layer (apu_network_add_fully_connected()). */
#define APU_CONV_EXT_FULLY_CONNECTED	0x1
/**
 * The weights are int4, per-channel symmetric (w_zp 0), packed two per byte
 * (apu_int4_pack(), TFLite's INT4): apu_conv2d.weights points to
 * (elements + 1) / 2 bytes, cast to const int8_t *, elements counted in
 * the layer's int8 layout. Needs APU_CAP_INT4_WEIGHTS.
 */
#define APU_CONV_EXT_WEIGHTS_INT4	0x2
/**
 * Run the layer on block-sparse weights (firmware ABI 1.5): apu_conv2d.weights
 * are the dense int8 weights as ever; libapu stores only the blocks of
 * @sparse_block output channels by one input channel that hold a nonzero
 * weight (apu_sparse_encode()), and the device skips the others. The result
 * is the dense layer's, bit for bit; the time is that of the stored blocks.
 * For 1x1 convolutions with groups 1 and fully connected layers, int8
 * symmetric weights (w_zp 0, not int4). Zero blocks come from the weights:
 * prune them first (apu_sparsify()). Needs APU_CAP_SPARSE_WEIGHTS and the
 * second version of struct apu_conv2d_ext.
 */
#define APU_CONV_EXT_WEIGHTS_SPARSE	0x4

/** A requantized elementwise add (TFLite int8 ADD); see docs/hw.md. */
struct apu_add {
	int32_t left_shift;
	int32_t in1_offset, in1_mult, in1_shift;
	int32_t in2_offset, in2_mult, in2_shift;
	int32_t out_mult, out_shift, out_zp, act_min, act_max;
};

/** Average or max pooling (TFLite int8 AVERAGE_POOL_2D, MAX_POOL_2D). */
struct apu_avgpool {
	unsigned int k_h, k_w, stride_h, stride_w;
	enum apu_padding padding;
	unsigned int pad_top, pad_left, pad_bottom, pad_right;
	int32_t act_min, act_max;
};

struct apu_network;

/**
 * apu_network_create() - an empty network for @dev
 *
 * A network is built by adding an input and then ops, each taking
 * tensors made earlier and making a new one; compiled once; run many
 * times. A network is used by one thread at a time; different networks
 * of one device may run from different threads at once. The network
 * holds a reference to @dev (see apu_device_ref()) until it is destroyed.
 */
APU_API int apu_network_create(struct apu_device *dev, struct apu_network **out);

/**
 * apu_network_destroy() - waits for a run in flight, then releases the
 * network and its reference to the device; NULL is ignored
 */
APU_API void apu_network_destroy(struct apu_network *net);

/** apu_network_add_input() - an input tensor; @tensor gets its id. */
APU_API int apu_network_add_input(struct apu_network *net, const struct apu_shape *shape,
				  int *tensor);

/**
 * apu_network_add_conv2d() - convolution of @input
 * @output: set to the id of the new tensor
 *
 * Return: 0; -EINVAL for bad parameters (with the shape they give; zero
 * points and clamps outside int8; a shift outside [-31, 30]); -ENOMEM;
 * -EBUSY once compiled.
 */
APU_API int apu_network_add_conv2d(struct apu_network *net, int input,
				   const struct apu_conv2d *p, int *output);

/**
 * apu_network_add_fully_connected() - @input flattened (H x W x C) times
 * weights [out_c][H*W*C]; @p->k_*, strides and padding are ignored
 */
APU_API int apu_network_add_fully_connected(struct apu_network *net, int input,
					    const struct apu_conv2d *p, int *output);

/**
 * apu_network_add_conv2d_ext() - a convolution or fully connected layer
 * with the parameters of @ext too (HAL 0.2)
 *
 * Return: as apu_network_add_conv2d(); -EINVAL for an @ext->size this
 * library does not know or unknown flags, or int4 weights with a weight
 * zero point; -EOPNOTSUPP for a weight zero point on a device without
 * APU_CAP_QUANT_OPS, or int4 weights without APU_CAP_INT4_WEIGHTS.
 */
APU_API int apu_network_add_conv2d_ext(struct apu_network *net, int input,
				       const struct apu_conv2d *p,
				       const struct apu_conv2d_ext *ext, int *output);

/**
 * apu_network_add_add() - elementwise add of two tensors of one shape
 *
 * Return: 0; -EINVAL for tensors of different shapes or parameters the
 * device does not take (left_shift outside [0, 30], shifts outside
 * [-31, 30], input offsets outside [-127, 128], out_zp and clamps outside
 * int8); -ENOMEM; -EBUSY once compiled.
 */
APU_API int apu_network_add_add(struct apu_network *net, int a, int b,
				const struct apu_add *p, int *output);

/** apu_network_add_avgpool() - average pooling of @input. */
APU_API int apu_network_add_avgpool(struct apu_network *net, int input,
				    const struct apu_avgpool *p, int *output);

/**
 * struct apu_mul - a requantized elementwise multiply (TFLite int8 MUL):
 * out = clamp(out_zp + MultiplyByQuantizedMultiplier((a + in1_offset) *
 * (b + in2_offset), out_mult, out_shift), act_min, act_max)
 */
struct apu_mul {
	int32_t in1_offset, in2_offset;
	int32_t out_mult, out_shift, out_zp, act_min, act_max;
};

/**
 * apu_network_add_maxpool() - max pooling of @input (HAL 0.2; needs
 * APU_CAP_QUANT_OPS): the largest tap of each window inside the input,
 * clamped to [act_min, act_max]
 */
APU_API int apu_network_add_maxpool(struct apu_network *net, int input,
				    const struct apu_avgpool *p, int *output);

/**
 * apu_network_add_mul() - elementwise multiply of @a and @b (HAL 0.2).
 * On the device (APU_CAP_QUANT_OPS) when @b has @a's shape or is broadcast
 * as 1 x 1 x C (one value per channel) or 1 x 1 x 1 (either input); any
 * other broadcast (each dimension equal or 1 on one side) runs on the CPU.
 * ADD likewise.
 */
APU_API int apu_network_add_mul(struct apu_network *net, int a, int b,
				const struct apu_mul *p, int *output);

/**
 * apu_network_add_lut() - elementwise table lookup (HAL 0.2; needs
 * APU_CAP_QUANT_OPS): out = @table[in + 128]. Any function of one int8
 * value (requantization, activations) is one table.
 */
APU_API int apu_network_add_lut(struct apu_network *net, int input, const int8_t table[256],
				int *output);

/**
 * struct apu_mean - mean over height and width (TFLite int8 MEAN over
 * axes 1 and 2): per channel, acc = sum(in - in_zp), then
 * MultiplyByQuantizedMultiplier(acc, mult, shift), divided by H*W rounding
 * half away from zero, plus out_zp, clamped to int8. Runs on the CPU.
 */
struct apu_mean {
	int32_t in_zp, out_zp, mult, shift;
};

/** apu_network_add_mean() - a 1 x 1 x C tensor of the means of @input's channels. */
APU_API int apu_network_add_mean(struct apu_network *net, int input, const struct apu_mean *p,
				 int *output);

/**
 * struct apu_softmax - softmax over channels: with x the input and m the
 * largest input of the pixel, p = exp(beta_scale * (x - m)) / sum(...)
 * computed in double, out = clamp(round(p / out_scale) + out_zp) (round
 * half away from zero). Runs on the CPU.
 */
struct apu_softmax {
	double beta_scale;	/**< beta x the input scale */
	double out_scale;
	int32_t out_zp;
};

/** apu_network_add_softmax() - softmax of each pixel's channels. */
APU_API int apu_network_add_softmax(struct apu_network *net, int input,
				    const struct apu_softmax *p, int *output);

/**
 * apu_network_add_concat() - @n tensors of equal height and width joined
 * along channels (same quantization). Runs on the CPU.
 */
APU_API int apu_network_add_concat(struct apu_network *net, const int *inputs, unsigned int n,
				   int *output);

/**
 * apu_network_add_pad() - @input padded with @value: @pads are top, bottom,
 * left, right. Runs on the CPU (the importer folds padding into a
 * convolution where it can).
 */
APU_API int apu_network_add_pad(struct apu_network *net, int input, const unsigned int pads[4],
				int8_t value, int *output);

/**
 * apu_network_add_reshape() - a view of @input with another shape of the
 * same size: no op, no copy.
 */
APU_API int apu_network_add_reshape(struct apu_network *net, int input,
				    const struct apu_shape *shape, int *output);

/* ---- fp16 (APU_CAP_FP16) ---------------------------------------------------- */

/**
 * apu_f32_to_f16() - @n floats to IEEE binary16, rounded to nearest even
 * (NaN stays NaN, quiet; overflow gives infinity): the device's rounding.
 */
APU_API void apu_f32_to_f16(const float *src, uint16_t *dst, size_t n);
/** apu_f16_to_f32() - @n binary16 values to float (exact). */
APU_API void apu_f16_to_f32(const uint16_t *src, float *dst, size_t n);

/**
 * apu_network_add_input_fp16() - an fp16 input tensor (2 bytes an
 * element: apu_network_write() and apu_network_read() take 2 * h * w * c
 * bytes of binary16 values). The fp16 ops below take fp16 tensors and make
 * fp16 tensors; apu_network_add_reshape() views them; the int8 ops refuse
 * them (-EINVAL). Needs APU_CAP_FP16 (-EOPNOTSUPP).
 */
APU_API int apu_network_add_input_fp16(struct apu_network *net, const struct apu_shape *shape,
				       int *tensor);

/** apu_network_tensor_fp16() - 1 when tensor @tensor is fp16, 0 int8, or a negative errno. */
APU_API int apu_network_tensor_fp16(const struct apu_network *net, int tensor);

/**
 * struct apu_conv2d_fp16 - an fp16 convolution, depthwise or fully connected
 * layer: the shape fields and weight layouts of struct apu_conv2d; weights
 * binary16, bias fp32 (may be NULL); the output clamped to [@act_min,
 * @act_max] in fp32 (-INFINITY, INFINITY: none; 0, 6: ReLU6) before its
 * rounding to fp16. Arithmetic in fp32 in the order docs/hw.md defines.
 */
struct apu_conv2d_fp16 {
	unsigned int out_c, k_h, k_w, stride_h, stride_w, dil_h, dil_w, groups;
	enum apu_padding padding;
	unsigned int pad_top, pad_left, pad_bottom, pad_right;
	float act_min, act_max;
	const uint16_t *weights;
	const float *bias;
};

/** apu_network_add_conv2d_fp16() - fp16 convolution of fp16 @input. */
APU_API int apu_network_add_conv2d_fp16(struct apu_network *net, int input,
					const struct apu_conv2d_fp16 *p, int *output);
/**
 * apu_network_add_fully_connected_fp16() - @input flattened times weights
 * [out_c][h * w * c] (only out_c, act_min, act_max, weights, bias used).
 */
APU_API int apu_network_add_fully_connected_fp16(struct apu_network *net, int input,
						 const struct apu_conv2d_fp16 *p, int *output);
/**
 * apu_network_add_add_fp16() - @a + @b in fp32, clamped, rounded to fp16;
 * @b of @a's shape, or 1 x 1 x C, or 1 x 1 x 1 (broadcast).
 */
APU_API int apu_network_add_add_fp16(struct apu_network *net, int a, int b, float act_min,
				     float act_max, int *output);
/**
 * apu_network_add_avgpool_fp16(), apu_network_add_maxpool_fp16() - fp16
 * pooling: @p's window and padding; its int8 clamps are ignored, the
 * output is clamped to [@act_min, @act_max] in fp32.
 */
APU_API int apu_network_add_avgpool_fp16(struct apu_network *net, int input,
					 const struct apu_avgpool *p, float act_min,
					 float act_max, int *output);
APU_API int apu_network_add_maxpool_fp16(struct apu_network *net, int input,
					 const struct apu_avgpool *p, float act_min,
					 float act_max, int *output);

/** Where an op runs. */
enum apu_op_place {
	APU_PLACE_DEVICE = 0,	/**< on the APU's cores (or the CPU backend's model of them) */
	APU_PLACE_CPU = 1,	/**< on the host CPU, between device segments */
	APU_PLACE_VIEW = 2,	/**< nothing runs: a view of another tensor */
};

/** An op of a network, as compiled. */
struct apu_op_info {
	const char *kind;	/**< "conv", "dwconv", "fc", "add", "mul", "avgpool", ... */
	enum apu_op_place place;
	unsigned int core_mask;	/**< cores it was placed on (bit n: core n) */
	int inputs[2];		/**< input tensors (-1: none) */
	int output;
	uint64_t macs;
	double modeled_us;	/**< the planner's estimate (device ops) */
	double cpu_us;		/**< CPU ops: real time of the last run */
};

/**
 * apu_network_op_info() - op @index (0 .. apu_network_op_count() - 1)
 * @info: filled with the op's figures
 * @size: sizeof(*@info) as the caller was built
 *
 * Size-versioned as apu_device_get_info(): the struct grows at its end.
 *
 * Return: 0; -EINVAL for a bad @index, NULL @info or @size smaller than
 * libapu 1.0's struct.
 */
APU_API int apu_network_op_info(const struct apu_network *net, int index,
				struct apu_op_info *info, size_t size);

/** apu_network_op_count() - the number of ops, or a negative errno. */
APU_API int apu_network_op_count(const struct apu_network *net);

/** apu_network_shape() - the shape of tensor @tensor. */
APU_API int apu_network_shape(const struct apu_network *net, int tensor,
			      struct apu_shape *shape);

/** Scheduling policies of apu_network_compile(). */
enum apu_policy {
	APU_POLICY_PERFORMANCE = 0,	/**< shortest time: every core */
	APU_POLICY_BALANCED = 1,	/**< least energy x time, per layer */
	APU_POLICY_LOW_POWER = 2,	/**< least energy */
	APU_POLICY_DEADLINE = 3,	/**< least energy that meets deadline_us */
};

/**
 * Options of apu_network_compile(); grows at its end, the caller passes
 * sizeof(struct apu_compile_options) as it was built (fields a caller's
 * older struct lacks take their defaults).
 */
struct apu_compile_options {
	enum apu_policy policy;
	/** Modeled time to meet with APU_POLICY_DEADLINE, in microseconds. */
	double deadline_us;
	/** Job priority: 0 low, 1 normal (default), 2 high (CAP_SYS_NICE). */
	unsigned int priority;
	/** Cores the network may use (bit n: core n); 0 means every core. */
	unsigned int core_mask;
};

/**
 * apu_network_compile() - plan and prepare the network
 *
 * Splits every layer into tiles that fit the SRAM of the cores chosen for
 * it, balances the tiles so that those cores finish together (from the
 * rates the device reports), and builds the command buffers.
 *
 * @opts: the options, or NULL for the defaults (APU_POLICY_PERFORMANCE,
 *	  priority 1, every core)
 * @size: sizeof(*@opts) as the caller was built (ignored when @opts is NULL)
 *
 * Return: 0; -EINVAL for a network with no op, bad options or @size
 * smaller than libapu 1.0's struct; -E2BIG when @opts sets a field this
 * libapu does not know (a newer caller's non-zero bytes past its struct)
 * or when a layer fits no core; -ETIME when @opts asks for a deadline the
 * device cannot meet (even with every core); -ENOMEM.
 */
APU_API int apu_network_compile(struct apu_network *net,
				const struct apu_compile_options *opts, size_t size);

/** apu_network_modeled_us() - the planner's estimate of one run, in microseconds. */
APU_API double apu_network_modeled_us(const struct apu_network *net);

/** apu_network_write() - copy @size bytes into tensor @tensor (an input). */
APU_API int apu_network_write(struct apu_network *net, int tensor, const void *src,
			      size_t size);

/** apu_network_read() - copy tensor @tensor out (after a run ended). */
APU_API int apu_network_read(struct apu_network *net, int tensor, void *dst, size_t size);

/** Per-core figures of a run; grows only at its end (apu_network_get_core_stats()). */
struct apu_core_stats {
	unsigned int jobs;
	uint64_t cycles;	/**< modeled cycles the core ran */
	uint64_t macs;
	double busy_us;		/**< modeled busy time */
	double energy_uj;	/**< modeled dynamic energy */
};

/**
 * What a run did, as a whole. Frozen: this struct never changes (it is
 * passed by callers of every version); per-core figures and anything
 * added later come from size-versioned getters such as
 * apu_network_get_core_stats().
 */
struct apu_run_stats {
	double makespan_us;	/**< modeled time from start to the last job's end */
	double energy_uj;	/**< modeled energy: dynamic + idle power of the cores used */
	double wall_us;		/**< real time of the run */
	double queue_us;	/**< real time from submission to the first job's start */
	unsigned int jobs;
	unsigned int num_cores;	/**< cores of apu_network_get_core_stats() */
};

/**
 * apu_network_run() - run the compiled network and wait for it
 * @stats: filled when not NULL
 *
 * Return: 0; -EINVAL when not compiled; a job's error: -EFAULT (device MMU
 * fault), -ETIMEDOUT (a core hung and was reset), -EIO (device error),
 * -ECANCELED; -ENODEV when the device is gone.
 */
APU_API int apu_network_run(struct apu_network *net, struct apu_run_stats *stats);

/**
 * apu_network_get_core_stats() - what core @core did in the last run
 * waited for (apu_network_run() or apu_network_wait())
 * @stats: filled with the figures
 * @size:  sizeof(*@stats) as the caller was built
 *
 * Size-versioned as apu_device_get_info().
 *
 * Return: 0; -EINVAL for NULL arguments, @core >= num_cores, @size smaller
 * than libapu 1.0's struct, or no run waited for yet.
 */
APU_API int apu_network_get_core_stats(const struct apu_network *net, unsigned int core,
				       struct apu_core_stats *stats, size_t size);

/**
 * apu_network_submit() - start a run and return at once
 * @in_fence: a sync_file the run waits for first, or -1
 * @out_fence: set to a sync_file that signals when the run ends (may be
 *             NULL); the caller owns it
 *
 * Return: 0 or a negative errno; -EBUSY while an earlier run is not waited for.
 * When queueing fails part way, the jobs already queued are waited for
 * before the error returns. When only making @out_fence fails, the run has
 * started: wait for it with apu_network_wait().
 */
APU_API int apu_network_submit(struct apu_network *net, int in_fence, int *out_fence);

/**
 * apu_network_wait() - wait for the run apu_network_submit() started
 * @timeout_ns: relative; negative waits forever
 *
 * Return: as apu_network_run(); -ETIME when the timeout passed first (the
 * run goes on: wait again).
 */
APU_API int apu_network_wait(struct apu_network *net, int64_t timeout_ns,
			     struct apu_run_stats *stats);

/**
 * apu_network_run_reference() - compute every tensor with the CPU
 * reference from the current inputs; read the results with
 * apu_network_read_reference()
 */
APU_API int apu_network_run_reference(struct apu_network *net);

/** apu_network_read_reference() - a tensor as the CPU reference computed it. */
APU_API int apu_network_read_reference(struct apu_network *net, int tensor, void *dst,
				       size_t size);

/**
 * apu_network_write_trace() - the last run as Chrome/Perfetto trace JSON
 * (one track per core, one slice per job, modeled times)
 *
 * Return: 0, -EINVAL before a run, or the error of writing @path.
 */
APU_API int apu_network_write_trace(const struct apu_network *net, const char *path);

/** Built-in networks of apu_network_build_model(). */
enum apu_builtin_model {
	APU_MODEL_MOBILENET_V1 = 1,	/**< 224x224x3, 569 M MACs */
	APU_MODEL_MOBILENET_V2 = 2,	/**< 224x224x3, 300 M MACs */
};

/**
 * apu_network_build_model() - add a built-in network at its real layer
 * shapes, int8, with weights and quantization from @seed
 * @input: set to the input tensor; @output: to the output tensor
 */
APU_API int apu_network_build_model(struct apu_network *net, enum apu_builtin_model model,
				    unsigned int seed, int *input, int *output);

/**
 * apu_strerror() - a message for a libapu return value
 * @err: a negative errno value returned by libapu (positive values are
 *       accepted too)
 *
 * Return: a static, constant string; never NULL. Thread-safe.
 */
APU_API const char *apu_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* APU_APU_H */
