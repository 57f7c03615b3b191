// SPDX-License-Identifier: MIT
/*
 * A complete libapu program (docs/hal.md): a small int8 network - a 3x3
 * convolution, a depthwise 3x3, a pointwise 1x1, global average pooling and
 * a fully connected layer - quantized from float scales as TFLite does,
 * compiled for the first APU (or the CPU backend when there is none), run,
 * checked against the CPU reference, with the modeled per-core figures.
 *
 * Build: cc apu-example.c $(pkg-config --cflags --libs libapu)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apu/apu.h>

#define CHECK(call) do { \
		int err_ = (call); \
		if (err_) { \
			fprintf(stderr, "%s: %s\n", #call, apu_strerror(err_)); \
			exit(1); \
		} \
	} while (0)

/* Add a convolution whose weights are all @w and whose scales are given. */
static int conv(struct apu_network *net, int in, unsigned int out_c, unsigned int k,
		unsigned int stride, unsigned int groups, int fc, double in_scale,
		double out_scale, int relu6)
{
	struct apu_shape s;
	unsigned int fan_in, n;
	int8_t *w;
	int32_t *bias, *mult, *shift;
	float *w_scale;
	int out;

	CHECK(apu_network_shape(net, in, &s));
	fan_in = fc ? s.h * s.w * s.c : k * k * (s.c / groups);
	n = groups == s.c && groups > 1 ? k * k * out_c : out_c * fan_in;
	w = malloc(n);
	bias = calloc(out_c, sizeof(*bias));
	mult = malloc(out_c * sizeof(*mult));
	shift = malloc(out_c * sizeof(*shift));
	w_scale = malloc(out_c * sizeof(*w_scale));
	if (!w || !bias || !mult || !shift || !w_scale)
		exit(1);
	for (unsigned int i = 0; i < n; i++)
		w[i] = (int8_t)((i * 37 + 11) % 255 - 127);
	for (unsigned int i = 0; i < out_c; i++)
		w_scale[i] = 0.002f + 0.0001f * (float)(i % 7);
	/* Per-channel multiplier and shift: in_scale * w_scale / out_scale. */
	CHECK(apu_conv_requant(in_scale, w_scale, out_scale, out_c, mult, (int32_t *)shift));

	struct apu_conv2d p = {
		.out_c = out_c, .k_h = k, .k_w = k, .stride_h = stride, .stride_w = stride,
		.dil_h = 1, .dil_w = 1, .groups = groups, .padding = APU_PAD_SAME,
		.in_zp = -128, .out_zp = relu6 ? -128 : 0, .act_min = -128, .act_max = 127,
		.weights = w, .bias = bias, .mult = mult, .shift = shift,
	};
	CHECK(fc ? apu_network_add_fully_connected(net, in, &p, &out) :
		   apu_network_add_conv2d(net, in, &p, &out));
	free(w);
	free(bias);
	free(mult);
	free(shift);
	free(w_scale);
	return out;
}

int main(void)
{
	struct apu_shape in_shape = { 64, 64, 3 };
	struct apu_avgpool gap = { .k_h = 32, .k_w = 32, .stride_h = 1, .stride_w = 1,
				   .padding = APU_PAD_VALID, .act_min = -128, .act_max = 127 };
	struct apu_compile_options opts = { .policy = APU_POLICY_PERFORMANCE, .priority = 1 };
	struct apu_device *dev;
	struct apu_network *net;
	struct apu_run_stats st;
	int in, t, out;
	int8_t x[64 * 64 * 3], y[10], ref[10];

	if (apu_device_open_index(0, &dev)) {
		printf("no APU: using the CPU backend\n");
		CHECK(apu_device_open_cpu(&dev));
	}
	CHECK(apu_network_create(dev, &net));
	CHECK(apu_network_add_input(net, &in_shape, &in));
	t = conv(net, in, 16, 3, 2, 1, 0, 1.0 / 128, 6.0 / 255, 1);	/* 32x32x16 */
	t = conv(net, t, 16, 3, 1, 16, 0, 6.0 / 255, 6.0 / 255, 1);	/* depthwise */
	t = conv(net, t, 32, 1, 1, 1, 0, 6.0 / 255, 6.0 / 255, 1);	/* pointwise */
	CHECK(apu_network_add_avgpool(net, t, &gap, &t));		/* 1x1x32 */
	out = conv(net, t, 10, 1, 1, 1, 1, 6.0 / 255, 0.1, 0);	/* 10 classes */
	CHECK(apu_network_compile(net, &opts, sizeof(opts)));

	for (unsigned int i = 0; i < sizeof(x); i++)
		x[i] = (int8_t)(i * 7);
	CHECK(apu_network_write(net, in, x, sizeof(x)));
	CHECK(apu_network_run(net, &st));
	CHECK(apu_network_read(net, out, y, sizeof(y)));

	CHECK(apu_network_run_reference(net));
	CHECK(apu_network_read_reference(net, out, ref, sizeof(ref)));
	printf("%s: output %s the CPU reference\n", apu_device_is_cpu(dev) ? "cpu" : "apu",
	       memcmp(y, ref, sizeof(y)) ? "DIFFERS FROM" : "matches");
	printf("modeled %.1f us, %.2f uJ, %u jobs\n", st.makespan_us, st.energy_uj, st.jobs);
	for (unsigned int c = 0; c < st.num_cores; c++) {
		struct apu_core_stats cs;

		CHECK(apu_network_get_core_stats(net, c, &cs, sizeof(cs)));
		printf("  core %u: %u jobs, %.1f us busy\n", c, cs.jobs, cs.busy_us);
	}
	apu_network_destroy(net);
	apu_device_close(dev);
	return memcmp(y, ref, sizeof(y)) ? 1 : 0;
}
