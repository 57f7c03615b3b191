// SPDX-License-Identifier: MIT
/*
 * Host tests of libapu's TFLite importer (hal/src/tflite.c, import.c): the
 * shipped real models and the generated small models (tests/models/) are
 * imported for the CPU backend, their command buffers are run through the
 * device's engine (firmware-stub) and compared with the CPU reference
 * tensor by tensor (two independent implementations of TFLite's integer
 * arithmetic); malformed files get errors, never crashes.
 *
 * Models come from $APU_MODELS (default build/models, made by `make
 * models`), generated ones from $APU_GEN_MODELS (default
 * build/tests/models).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "test_rng.h"
#include "apu/apu_model.h"
#include "exec_cmds.h"

static const char *dir_of(const char *env, const char *def)
{
	const char *d = getenv(env);

	return d && *d ? d : def;
}

static void *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	void *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET)) {
		p = malloc((size_t)n);
		if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		*size = (size_t)n;
	}
	fclose(f);
	return p;
}

/*
 * Import @path, run its device ops' command buffers through the engine with
 * every other tensor taken from the CPU reference, and compare every
 * tensor; device outputs are poisoned first and must be written once.
 */
static void check_engine(struct __test_metadata *_metadata, const char *path,
			 enum apu_policy policy, unsigned int seed)
{
	struct apu_compile_options o = { .policy = policy, .priority = 1 };
	struct apu_device *dev;
	struct apu_model *m;
	struct exec x = { 0 };
	char err[256];
	int nops, device_ops = 0;

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_model_load_tflite(dev, path, &m, err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(0, apu_model_compile(m, &o, sizeof(o)));
	x.net = apu_model_network(m);
	for (int i = 0; i < 3; i++)
		x.buf[i] = apu_network_buffer(x.net, i);
	x.cover = calloc(1, apu_buffer_size(x.buf[0]));
	ASSERT_NE(NULL, x.cover);
	rng_seed(seed);
	for (int i = 0; i < apu_model_num_inputs(m); i++) {
		struct apu_tensor_info ii;
		uint8_t *in;

		ASSERT_EQ(0, apu_model_input_info(m, i, &ii));
		in = malloc(ii.bytes);
		ASSERT_NE(NULL, in);
		for (size_t k = 0; k < ii.bytes; k++)
			in[k] = (uint8_t)rnd();
		if (ii.dtype == APU_DTYPE_FLOAT32)
			for (size_t k = 0; k < ii.count; k++)
				((float *)in)[k] = (float)rnd_range(-3000, 3000) / 1000.0f;
		ASSERT_EQ(0, apu_model_set_input(m, i, in, ii.bytes));
		free(in);
	}
	ASSERT_EQ(0, apu_network_run_reference(x.net));
	/* Every tensor from the reference; device outputs poisoned. */
	nops = apu_network_op_count(x.net);
	for (int t = 0; t < apu_network_num_tensors(x.net); t++) {
		size_t off, size;

		if (apu_network_tensor_base(x.net, t) != t)
			continue;	/* a slice: its base holds it */
		ASSERT_EQ(0, apu_network_tensor_place(x.net, t, &off, &size));
		ASSERT_EQ(0, apu_network_read_reference(x.net, t,
				(uint8_t *)apu_buffer_cpu(x.buf[0]) + off, size));
	}
	for (int i = 0; i < nops; i++) {
		struct apu_op_info oi;
		size_t off, size;

		ASSERT_EQ(0, apu_network_op_info(x.net, i, &oi, sizeof(oi)));
		if (oi.place != APU_PLACE_DEVICE)
			continue;
		device_ops++;
		/* A slice of an in-place concatenation: the whole base. */
		ASSERT_EQ(0, apu_network_tensor_place(x.net, apu_network_tensor_base(x.net, oi.output),
						      &off, &size));
		memset((uint8_t *)apu_buffer_cpu(x.buf[0]) + off, 0x5a, size);
	}
	/* Real models run on the device; a small one may be all CPU (MEAN). */
	if (strstr(path, "mobilenet"))
		ASSERT_LT(20, device_ops) TH_LOG("%s", path);
	ASSERT_EQ(0, exec_network(&x));
	for (int i = 0; i < nops; i++) {
		struct apu_op_info oi;
		size_t off, size;
		int8_t *ref;

		ASSERT_EQ(0, apu_network_op_info(x.net, i, &oi, sizeof(oi)));
		if (oi.place != APU_PLACE_DEVICE)
			continue;
		ASSERT_EQ(0, apu_network_tensor_place(x.net, apu_network_tensor_base(x.net, oi.output),
						      &off, &size));
		ref = malloc(2 * size);
		ASSERT_NE(NULL, ref);
		if (apu_network_tensor_base(x.net, oi.output) != oi.output) {
			/* A slice: the base, assembled by all its convolutions. */
			int b = apu_network_tensor_base(x.net, oi.output);

			ASSERT_EQ(0, apu_network_read_reference(x.net, b, ref, size));
			ASSERT_EQ(0, apu_network_read(x.net, b, ref + size, size));
		} else {
			ASSERT_EQ(0, apu_network_read_reference(x.net, oi.output, ref, size));
			ASSERT_EQ(0, apu_network_read(x.net, oi.output, ref + size, size));
		}
		EXPECT_EQ(0, memcmp(ref, ref + size, size))
			TH_LOG("%s: network op %d (%s) differs from the CPU reference", path, i,
			       oi.kind);
		for (size_t k = 0; k < size; k++)
			if (x.cover[off + k] != 1) {
				EXPECT_EQ(1, x.cover[off + k])
					TH_LOG("%s: op %d byte %zu written %d times", path, i, k,
					       x.cover[off + k]);
				break;
			}
		free(ref);
	}
	free(x.cover);
	apu_model_destroy(m);
	apu_device_close(dev);
}

static void check_real(struct __test_metadata *_metadata, const char *name,
		       enum apu_policy policy)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir_of("APU_MODELS", "build/models"), name);
	check_engine(_metadata, path, policy, 3);
}

TEST(tf2_int8_mobilenet_v2_device_ops_bit_exact_with_reference)
{
	check_real(_metadata, "tf2_mobilenet_v2_1.0_224_ptq.tflite", APU_POLICY_PERFORMANCE);
}

TEST(uint8_mobilenet_v2_device_ops_bit_exact_with_reference)
{
	check_real(_metadata, "mobilenet_v2_1.0_224_quant.tflite", APU_POLICY_BALANCED);
}

TEST(uint8_mobilenet_v1_device_ops_bit_exact_with_reference)
{
	check_real(_metadata, "mobilenet_v1_0.25_128_quant.tflite", APU_POLICY_LOW_POWER);
}

/* The generated models that libapu must run (tests/models/README.md). */
static const char *const runnable[] = {
	"conv_int8_pc", "conv_uint8", "dw_int8_mult", "dw_one_channel", "fc_uint8",
	"add_broadcast", "broadcast_cpu", "mul", "pools", "mean", "pad_conv", "concat", "concat_branches", "activations",
	"float_io", "reshape_squeeze", "int4_weights",
};

TEST(generated_models_device_ops_bit_exact_with_reference)
{
	for (size_t i = 0; i < sizeof(runnable) / sizeof(runnable[0]); i++) {
		char path[512];

		snprintf(path, sizeof(path), "%s/%s.tflite",
			 dir_of("APU_GEN_MODELS", "build/tests/models"), runnable[i]);
		check_engine(_metadata, path, APU_POLICY_PERFORMANCE, 10 + (unsigned int)i);
	}
}

/*
 * Convolutions writing their channel slices of an in-place concatenation,
 * under each way of splitting a convolution the planner has (rows or
 * pixels; channels), and a reader of the concatenation that must wait for
 * all of them.
 */
TEST(in_place_concatenation_bit_exact_under_every_split)
{
	static const char *const splits[] = { "rows", "channels" };
	char path[512];

	snprintf(path, sizeof(path), "%s/concat_branches.tflite",
		 dir_of("APU_GEN_MODELS", "build/tests/models"));
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, setenv("APU_PLAN_SPLIT", splits[i], 1));
		check_engine(_metadata, path, APU_POLICY_PERFORMANCE, 30 + (unsigned int)i);
		check_engine(_metadata, path, APU_POLICY_LOW_POWER, 40 + (unsigned int)i);
	}
	unsetenv("APU_PLAN_SPLIT");
}

static int load_err(const char *path, char *err, size_t len)
{
	struct apu_device *dev;
	struct apu_model *m = NULL;
	int ret;

	if (apu_device_open_cpu(&dev))
		return -ENODEV;
	ret = apu_model_load_tflite(dev, path, &m, err, len);
	apu_model_destroy(m);
	apu_device_close(dev);
	return ret;
}

TEST(unsupported_op_error_names_op_code_and_name)
{
	char path[512], err[256];

	snprintf(path, sizeof(path), "%s/unsupported_op.tflite",
		 dir_of("APU_GEN_MODELS", "build/tests/models"));
	ASSERT_EQ(-EOPNOTSUPP, load_err(path, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "op 1 (SPACE_TO_DEPTH, builtin 26)")) TH_LOG("%s", err);
}

TEST(int16_activations_refused_naming_the_tensor_type)
{
	char path[512], err[256];

	snprintf(path, sizeof(path), "%s/int16.tflite",
		 dir_of("APU_GEN_MODELS", "build/tests/models"));
	ASSERT_EQ(-EOPNOTSUPP, load_err(path, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "type INT16")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "CONV_2D")) TH_LOG("%s", err);
}

static int load_buf(const void *p, size_t n, char *err, size_t len)
{
	struct apu_device *dev;
	struct apu_model *m = NULL;
	int ret;

	if (apu_device_open_cpu(&dev))
		return -ENODEV;
	ret = apu_model_load_tflite_buffer(dev, p, n, &m, err, len);
	apu_model_destroy(m);
	apu_device_close(dev);
	return ret;
}

TEST(truncated_files_fail_with_a_message)
{
	char path[512], err[256];
	size_t size = 0, n;
	uint8_t *p;

	snprintf(path, sizeof(path), "%s/mobilenet_v1_0.25_128_quant.tflite",
		 dir_of("APU_MODELS", "build/models"));
	p = slurp(path, &size);
	ASSERT_NE(NULL, p);
	/*
	 * Every length up to 4 KiB, then every 1021st byte: refused with a
	 * message while weights are missing (the file's last 5% holds only
	 * what no op reads), never a crash.
	 */
	for (n = 0; n < size; n += n < 4096 ? 1 : 1021) {
		uint8_t *c = malloc(n ? n : 1);	/* exactly n bytes: ASan sees overreads */
		int ret;

		ASSERT_NE(NULL, c);
		memcpy(c, p, n);
		err[0] = 0;
		ret = load_buf(c, n, err, sizeof(err));
		if (n < size / 100 * 94) {
			ASSERT_GT(0, ret) TH_LOG("length %zu of %zu loaded", n, size);
		}
		if (ret)
			EXPECT_NE(0, err[0]) TH_LOG("length %zu: no message", n);
		free(c);
	}
	free(p);
}

TEST(corrupted_files_never_crash)
{
	char path[512], err[256];
	size_t size = 0;
	uint8_t *p, *c;
	int refused = 0;

	snprintf(path, sizeof(path), "%s/mobilenet_v1_0.25_128_quant.tflite",
		 dir_of("APU_MODELS", "build/models"));
	p = slurp(path, &size);
	ASSERT_NE(NULL, p);
	c = malloc(size);
	ASSERT_NE(NULL, c);
	rng_seed(77);
	/* Bytes changed in the FlatBuffer's tables (the first 4 KiB and the end). */
	for (int it = 0; it < 300; it++) {
		memcpy(c, p, size);
		for (int k = rnd_range(1, 8); k > 0; k--) {
			size_t at = rnd() % 2 ? (size_t)rnd_range(0, 4095) :
				    size - 1 - (size_t)rnd_range(0, 8191);

			c[at] = (uint8_t)rnd();
		}
		err[0] = 0;
		if (load_buf(c, size, err, sizeof(err))) {
			refused++;
			EXPECT_NE(0, err[0]);
		}
	}
	EXPECT_LT(0, refused);
	free(c);
	free(p);
}

TEST(crafted_bad_offsets_are_refused)
{
	char err[256];
	/* "TFL3" with a root offset past the end; then one pointing at itself. */
	uint8_t a[16] = { 0xf0, 0xff, 0xff, 0x7f, 'T', 'F', 'L', '3' };
	uint8_t b[16] = { 8, 0, 0, 0, 'T', 'F', 'L', '3', 0, 0, 0, 0 };
	uint8_t c[8] = { 8, 0, 0, 0, 'X', 'F', 'L', '3' };

	EXPECT_EQ(-EINVAL, load_buf(a, sizeof(a), err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "root table")) TH_LOG("%s", err);
	EXPECT_EQ(-EINVAL, load_buf(b, sizeof(b), err, sizeof(err)));
	EXPECT_EQ(-EINVAL, load_buf(c, sizeof(c), err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "TFL3")) TH_LOG("%s", err);
	EXPECT_EQ(-EINVAL, load_buf(NULL, 0, err, sizeof(err)));
}

TEST(float_io_model_quantizes_and_dequantizes_at_the_edges)
{
	char path[512], err[256];
	struct apu_device *dev;
	struct apu_model *m;
	struct apu_tensor_info ii, oi;
	float *x, *y, *yf;
	int8_t *q;

	snprintf(path, sizeof(path), "%s/float_io.tflite",
		 dir_of("APU_GEN_MODELS", "build/tests/models"));
	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_model_load_tflite(dev, path, &m, err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(0, apu_model_compile(m, NULL, 0));
	ASSERT_EQ(0, apu_model_input_info(m, 0, &ii));
	ASSERT_EQ(0, apu_model_output_info(m, 0, &oi));
	ASSERT_EQ(APU_DTYPE_FLOAT32, ii.dtype);
	ASSERT_EQ(APU_DTYPE_FLOAT32, oi.dtype);
	x = malloc(ii.bytes);
	y = malloc(oi.bytes);
	yf = malloc(oi.bytes);
	q = malloc(oi.count);
	ASSERT_TRUE(x && y && yf && q);
	rng_seed(5);
	for (size_t k = 0; k < ii.count; k++)
		x[k] = (float)rnd_range(-2000, 2000) / 1000.0f;
	ASSERT_EQ(0, apu_model_set_input(m, 0, x, ii.bytes));
	ASSERT_EQ(0, apu_model_run(m, NULL));
	ASSERT_EQ(0, apu_model_get_output(m, 0, y, oi.bytes));
	ASSERT_EQ(0, apu_model_get_output_float(m, 0, yf, oi.count));
	/* The float output is the quantized one dequantized (TFLite's formula). */
	ASSERT_EQ(0, memcmp(y, yf, oi.bytes));
	for (size_t k = 0; k < oi.count; k++) {
		double steps = y[k] / oi.scale;

		EXPECT_LT(fabs(steps - lround(steps)), 1e-3);
	}
	/* Wrong sizes and indexes are refused. */
	EXPECT_EQ(-EINVAL, apu_model_set_input(m, 0, x, ii.bytes - 1));
	EXPECT_EQ(-EINVAL, apu_model_set_input(m, 1, x, ii.bytes));
	EXPECT_EQ(-EINVAL, apu_model_get_output(m, 0, y, oi.bytes + 4));
	free(x);
	free(y);
	free(yf);
	free(q);
	apu_model_destroy(m);
	apu_device_close(dev);
}

static int load_regress(const char *name, char *err, size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "tests/fuzz/regress/fuzz_tflite/%s", name);
	return load_err(path, err, len);
}

/* Raw output of @name (CPU backend) for input bytes from @seed. */
static int output_of(const char *path, unsigned int seed, uint8_t *out, size_t size)
{
	struct apu_device *dev;
	struct apu_model *m = NULL;
	struct apu_tensor_info ii;
	uint8_t in[4096];
	int ret;

	if (apu_device_open_cpu(&dev))
		return -ENODEV;
	ret = apu_model_load_tflite(dev, path, &m, NULL, 0);
	if (!ret)
		ret = apu_model_compile(m, NULL, 0);
	if (!ret)
		ret = apu_model_input_info(m, 0, &ii);
	if (!ret && ii.bytes > sizeof(in))
		ret = -E2BIG;
	rng_seed(seed);
	for (size_t k = 0; !ret && k < ii.bytes; k++)
		in[k] = (uint8_t)rnd();
	if (!ret)
		ret = apu_model_set_input(m, 0, in, ii.bytes);
	if (!ret)
		ret = apu_model_run(m, NULL);
	if (!ret)
		ret = apu_model_get_output(m, 0, out, size);
	apu_model_destroy(m);
	apu_device_close(dev);
	return ret;
}

/*
 * A CONV_2D with one input channel per group is a depthwise convolution:
 * its weights [O][kh][kw][1] must give what DEPTHWISE_CONV_2D with weights
 * [1][kh][kw][O] gives (the depthwise op is checked against Arm NN).
 */
TEST(grouped_conv_with_one_channel_per_group_equals_depthwise)
{
	uint8_t a[36], b[36];

	ASSERT_EQ(0, output_of("tests/fuzz/regress/fuzz_tflite/grouped.tflite", 9, a, sizeof(a)));
	ASSERT_EQ(0, output_of("tests/fuzz/regress/fuzz_tflite/dw_equiv.tflite", 9, b, sizeof(b)));
	EXPECT_EQ(0, memcmp(a, b, sizeof(a)));
}

/*
 * INT4 weights (conv, depthwise, 1x1, fully connected), packed as TFLite
 * packs them: the model gives what the same model with the same values
 * stored as INT8 gives, and its layers are int4 ones.
 */
TEST(int4_weights_model_equals_its_int8_twin)
{
	char a_path[512], b_path[512], err[256];
	uint8_t a[13], b[13];
	struct apu_device *dev;
	struct apu_model *m;
	int int4_ops = 0;

	snprintf(a_path, sizeof(a_path), "%s/int4_weights.tflite",
		 dir_of("APU_GEN_MODELS", "build/tests/models"));
	snprintf(b_path, sizeof(b_path), "%s/int4_as_int8.tflite",
		 dir_of("APU_GEN_MODELS", "build/tests/models"));
	for (unsigned int seed = 1; seed < 4; seed++) {
		ASSERT_EQ(0, output_of(a_path, seed, a, sizeof(a)));
		ASSERT_EQ(0, output_of(b_path, seed, b, sizeof(b)));
		EXPECT_EQ(0, memcmp(a, b, sizeof(a))) TH_LOG("seed %u", seed);
	}
	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_model_load_tflite(dev, a_path, &m, err, sizeof(err))) TH_LOG("%s", err);
	for (int i = 0; i < apu_model_op_count(m); i++) {
		struct apu_model_op_info mo;

		ASSERT_EQ(0, apu_model_op_info(m, i, &mo, sizeof(mo)));
		if (strstr(mo.quant, "int4"))
			int4_ops++;
	}
	EXPECT_EQ(4, int4_ops);
	apu_model_destroy(m);
	apu_device_close(dev);
}

/* Files an audit wrote to hurt the importer: each gets its own error. */
TEST(hostile_models_refused_with_their_reason)
{
	char err[256];

	/* 456 bytes asking for 7e13 taps of max pooling. */
	EXPECT_EQ(-E2BIG, load_regress("pool2896.tflite", err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "MAX_POOL_2D")) TH_LOG("%s", err);
	/* An output scale of 1e-30 (TFLite's own conversion is undefined there). */
	EXPECT_EQ(-EOPNOTSUPP, load_regress("relu6tiny.tflite", err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "RELU6")) TH_LOG("%s", err);
	EXPECT_EQ(-EINVAL, load_regress("noinput.tflite", err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "0 inputs")) TH_LOG("%s", err);
	EXPECT_EQ(-EINVAL, load_regress("nooutput.tflite", err, sizeof(err)));
	/* A 70000-tap kernel (the device's fields are 16-bit), a wrapping extent. */
	EXPECT_GT(0, load_regress("bigk.tflite", err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "CONV_2D")) TH_LOG("%s", err);
	EXPECT_GT(0, load_regress("ekwrap.tflite", err, sizeof(err)));
	EXPECT_NE(0, err[0]);
}

/*
 * TFLite's uint8 AVERAGE_POOL_2D rounds half up on the uint8 values; its
 * int8 kernel rounds half away from zero: (x + x + 1) / 2 windows tell
 * them apart. Expected values by hand from the uint8 formula.
 */
TEST(uint8_average_pool_rounds_half_up_as_tflite)
{
	static const uint8_t in[8] = { 0, 1, 10, 11, 127, 128, 200, 201 };
	static const uint8_t want[4] = { 1, 11, 128, 201 };
	struct apu_device *dev;
	struct apu_model *m;
	struct apu_tensor_info ii, oi;
	uint8_t out[4];
	char err[256];

	ASSERT_EQ(0, apu_device_open_cpu(&dev));
	ASSERT_EQ(0, apu_model_load_tflite(dev, "tests/fuzz/regress/fuzz_tflite/avgu8.tflite", &m,
					   err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(0, apu_model_compile(m, NULL, 0));
	ASSERT_EQ(0, apu_model_input_info(m, 0, &ii));
	ASSERT_EQ(0, apu_model_output_info(m, 0, &oi));
	ASSERT_EQ(sizeof(in), ii.bytes);
	ASSERT_EQ(sizeof(out), oi.bytes);
	ASSERT_EQ(0, apu_model_set_input(m, 0, in, sizeof(in)));
	ASSERT_EQ(0, apu_model_run(m, NULL));
	ASSERT_EQ(0, apu_model_get_output(m, 0, out, sizeof(out)));
	EXPECT_EQ(0, memcmp(want, out, sizeof(out)))
		TH_LOG("got %u %u %u %u", out[0], out[1], out[2], out[3]);
	apu_model_destroy(m);
	apu_device_close(dev);
}

TEST_HARNESS_MAIN
