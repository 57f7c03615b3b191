/* SPDX-License-Identifier: MIT */
/*
 * The smallest network, shared by the benchmarks that time libapu's
 * submission path (hal_overhead, guest/submit_bench): one 1x1x8 pointwise
 * convolution, one job a run.
 */
#ifndef BENCH_NET_H
#define BENCH_NET_H

#include <apu/apu.h>

/* Build and compile it on @dev with @o; NULL on failure. */
static inline struct apu_network *bench_tiny_net(struct apu_device *dev,
						 const struct apu_compile_options *o)
{
	static const int8_t w[64] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const int32_t mult[8] = { 1 << 30, 1 << 30, 1 << 30, 1 << 30,
					 1 << 30, 1 << 30, 1 << 30, 1 << 30 };
	static const int32_t shift[8];
	struct apu_shape s = { 1, 1, 8 };
	struct apu_conv2d p = { .out_c = 8, .k_h = 1, .k_w = 1, .stride_h = 1, .stride_w = 1,
				.dil_h = 1, .dil_w = 1, .groups = 1, .act_min = -128,
				.act_max = 127, .weights = w, .mult = mult, .shift = shift };
	struct apu_network *net;
	int in, out;

	if (apu_network_create(dev, &net))
		return NULL;
	if (apu_network_add_input(net, &s, &in) || apu_network_add_conv2d(net, in, &p, &out) ||
	    apu_network_compile(net, o, sizeof(*o))) {
		apu_network_destroy(net);
		return NULL;
	}
	return net;
}

#endif /* BENCH_NET_H */
