/* SPDX-License-Identifier: MIT */
/*
 * For host tests: run a compiled network's command buffers through the
 * device's engine (firmware-stub), op by op, as the command processor
 * would, on the network's own buffers (the CPU backend's), counting the
 * writes to each byte of the activations.
 */
#ifndef APU_TEST_EXEC_CMDS_H
#define APU_TEST_EXEC_CMDS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apu/apu.h>
#include <hw/apu_cmd.h>
#include "apu_internal.h"
#include "hw/apu_fw.h"

/* Run a compiled network's command buffers through the device's engine. */
struct exec {
	struct apu_network *net;
	struct apu_buffer *buf[3];
	uint8_t *cover;		/* writes per byte of the activation buffer */
};

static void *xlate(struct exec *x, uint64_t va, size_t len)
{
	for (int i = 0; i < 3; i++) {
		uint64_t base = apu_buffer_device_addr(x->buf[i]);

		if (va >= base && va + len <= base + apu_buffer_size(x->buf[i]))
			return (uint8_t *)apu_buffer_cpu(x->buf[i]) + (va - base);
	}
	return NULL;
}

static void mark(struct exec *x, uint64_t va, size_t len)
{
	uint64_t base = apu_buffer_device_addr(x->buf[0]);

	for (size_t i = 0; i < len; i++)
		x->cover[va - base + i]++;
}

static int16_t rd16(const uint8_t *p) { return (int16_t)(p[0] | p[1] << 8); }
static int32_t rd32(const uint8_t *p) { return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24); }
static uint64_t rd64(const uint8_t *p) { return (uint32_t)rd32(p) | (uint64_t)(uint32_t)rd32(p + 4) << 32; }

#define OFF(t, f) offsetof(struct t, f)

static int exec_op(struct exec *x, const uint8_t *op)
{
	uint16_t code = (uint16_t)rd16(op);

	if (code == APU_OP_CONV2D) {
		ApuConvParams p = {
			.in_h = rd16(op + OFF(apu_op_conv2d, in_h)), .in_w = rd16(op + OFF(apu_op_conv2d, in_w)),
			.in_c = rd16(op + OFF(apu_op_conv2d, in_c)), .out_h = rd16(op + OFF(apu_op_conv2d, out_h)),
			.out_w = rd16(op + OFF(apu_op_conv2d, out_w)), .out_c = rd16(op + OFF(apu_op_conv2d, out_c)),
			.k_h = rd16(op + OFF(apu_op_conv2d, k_h)), .k_w = rd16(op + OFF(apu_op_conv2d, k_w)),
			.stride_h = rd16(op + OFF(apu_op_conv2d, stride_h)),
			.stride_w = rd16(op + OFF(apu_op_conv2d, stride_w)),
			.dil_h = rd16(op + OFF(apu_op_conv2d, dil_h)), .dil_w = rd16(op + OFF(apu_op_conv2d, dil_w)),
			.pad_top = rd16(op + OFF(apu_op_conv2d, pad_top)),
			.pad_left = rd16(op + OFF(apu_op_conv2d, pad_left)),
			.groups = rd16(op + OFF(apu_op_conv2d, groups)),
			.in_zp = rd32(op + OFF(apu_op_conv2d, in_zp)), .out_zp = rd32(op + OFF(apu_op_conv2d, out_zp)),
			.act_min = rd32(op + OFF(apu_op_conv2d, act_min)),
			.act_max = rd32(op + OFF(apu_op_conv2d, act_max)),
			.w_zp = rd16(op + OFF(apu_op_conv2d, w_zp)),
		};
		uint64_t bias = rd64(op + OFF(apu_op_conv2d, bias));
		size_t pitch = (uint16_t)rd16(op + OFF(apu_op_conv2d, out_pitch));
		size_t out_n, npix, span;
		void *in, *w, *b = NULL, *m, *s, *o;
		int8_t *tmp, *gathered = NULL;
		int ret;

		if (apu_conv_check(&p))
			return -1;
		out_n = apu_conv_out_size(&p);
		npix = (size_t)p.out_h * p.out_w;
		if (!pitch)
			pitch = (size_t)p.out_c;
		if (pitch < (size_t)p.out_c)
			return -6;
		span = (npix - 1) * pitch + (size_t)p.out_c;
		{
			size_t ip = (uint16_t)rd16(op + OFF(apu_op_conv2d, in_pitch));
			size_t ipix = (size_t)p.in_h * p.in_w;
			int8_t *src;

			if (!ip)
				ip = (size_t)p.in_c;
			if (ip < (size_t)p.in_c)
				return -8;
			src = xlate(x, rd64(op + OFF(apu_op_conv2d, input)),
				    (ipix - 1) * ip + (size_t)p.in_c);
			if (!src)
				return -9;
			/* Gather the channel slice, as the device does. */
			gathered = malloc(apu_conv_in_size(&p));
			if (!gathered)
				return -7;
			for (size_t px = 0; px < ipix; px++)
				memcpy(gathered + px * p.in_c, src + px * ip, (size_t)p.in_c);
			in = gathered;
		}
		bool int4 = (uint16_t)rd16(op + OFF(apu_op_conv2d, flags)) & APU_OPF_WEIGHTS_INT4;
		bool sparse = (uint16_t)rd16(op + OFF(apu_op_conv2d, flags)) & APU_OPF_WEIGHTS_SPARSE;
		uint64_t nw = apu_conv_weights_size(&p);

		if (sparse) {
			/* As the command processor: header, size, checks. */
			w = xlate(x, rd64(op + OFF(apu_op_conv2d, weights)), APU_SPARSE_HDR_SIZE);
			if (!w || apu_sparse_conv_check(&p) || apu_sparse_size(&p, w, &nw) ||
			    !(w = xlate(x, rd64(op + OFF(apu_op_conv2d, weights)), nw)) ||
			    apu_sparse_check(&p, w, nw)) {
				free(gathered);
				return -10;
			}
		} else {
			w = xlate(x, rd64(op + OFF(apu_op_conv2d, weights)),
				  int4 ? apu_int4_bytes(nw) : nw);
		}
		if (bias)
			b = xlate(x, bias, 4 * (size_t)p.out_c);
		m = xlate(x, rd64(op + OFF(apu_op_conv2d, mult)), 4 * (size_t)p.out_c);
		s = xlate(x, rd64(op + OFF(apu_op_conv2d, shift)), 4 * (size_t)p.out_c);
		o = xlate(x, rd64(op + OFF(apu_op_conv2d, output)), span);
		if (!in || !w || (bias && !b) || !m || !s || !o) {
			free(gathered);
			return -2;
		}
		/* The engine writes contiguously; scatter at the pitch, as the device. */
		tmp = malloc(out_n);
		if (!tmp) {
			free(gathered);
			return -7;
		}
		ret = sparse ? apu_conv2d_sparse_poll(&p, in, w, b, m, s, tmp, NULL, APU_PATH_AUTO)
		      : int4 ? apu_conv2d_int4_poll(&p, in, w, b, m, s, tmp, NULL)
			     : apu_conv2d(&p, in, w, b, m, s, tmp);
		for (size_t px = 0; px < npix; px++) {
			memcpy((int8_t *)o + px * pitch, tmp + px * p.out_c, (size_t)p.out_c);
			mark(x, rd64(op + OFF(apu_op_conv2d, output)) + px * pitch, (size_t)p.out_c);
		}
		free(tmp);
		free(gathered);
		return ret;
	}
	if (code == APU_OP_ADD) {
		ApuAddParams p = {
			(uint32_t)rd32(op + OFF(apu_op_add, count)), rd32(op + OFF(apu_op_add, left_shift)),
			rd32(op + OFF(apu_op_add, in1_offset)), rd32(op + OFF(apu_op_add, in1_mult)),
			rd32(op + OFF(apu_op_add, in1_shift)), rd32(op + OFF(apu_op_add, in2_offset)),
			rd32(op + OFF(apu_op_add, in2_mult)), rd32(op + OFF(apu_op_add, in2_shift)),
			rd32(op + OFF(apu_op_add, out_mult)), rd32(op + OFF(apu_op_add, out_shift)),
			rd32(op + OFF(apu_op_add, out_zp)), rd32(op + OFF(apu_op_add, act_min)),
			rd32(op + OFF(apu_op_add, act_max)),
			(uint32_t)rd32(op + OFF(apu_op_add, in2_period)),
		};
		void *a = xlate(x, rd64(op + OFF(apu_op_add, input1)), p.count);
		void *b = xlate(x, rd64(op + OFF(apu_op_add, input2)),
				p.in2_period ? p.in2_period : p.count);
		void *o = xlate(x, rd64(op + OFF(apu_op_add, output)), p.count);

		if (apu_add_check(&p) || !a || !b || !o)
			return -3;
		mark(x, rd64(op + OFF(apu_op_add, output)), p.count);
		apu_add(&p, a, b, o);
		return 0;
	}
	if (code == APU_OP_MUL) {
		ApuMulParams p = {
			.count = (uint32_t)rd32(op + OFF(apu_op_mul, count)),
			.in1_offset = rd32(op + OFF(apu_op_mul, in1_offset)),
			.in2_offset = rd32(op + OFF(apu_op_mul, in2_offset)),
			.out_mult = rd32(op + OFF(apu_op_mul, out_mult)),
			.out_shift = rd32(op + OFF(apu_op_mul, out_shift)),
			.out_zp = rd32(op + OFF(apu_op_mul, out_zp)),
			.act_min = rd32(op + OFF(apu_op_mul, act_min)),
			.act_max = rd32(op + OFF(apu_op_mul, act_max)),
			.in2_period = (uint32_t)rd32(op + OFF(apu_op_mul, in2_period)),
		};
		void *a = xlate(x, rd64(op + OFF(apu_op_mul, input1)), p.count);
		void *b = xlate(x, rd64(op + OFF(apu_op_mul, input2)),
				p.in2_period ? p.in2_period : p.count);
		void *o = xlate(x, rd64(op + OFF(apu_op_mul, output)), p.count);

		if (apu_mul_check(&p) || !a || !b || !o)
			return -3;
		mark(x, rd64(op + OFF(apu_op_mul, output)), p.count);
		apu_mul(&p, a, b, o);
		return 0;
	}
	if (code == APU_OP_LUT) {
		uint32_t n = (uint32_t)rd32(op + OFF(apu_op_lut, count));
		void *in = xlate(x, rd64(op + OFF(apu_op_lut, input)), n);
		void *t = xlate(x, rd64(op + OFF(apu_op_lut, table)), 256);
		void *o = xlate(x, rd64(op + OFF(apu_op_lut, output)), n);

		if (apu_lut_check(n) || !in || !t || !o)
			return -3;
		mark(x, rd64(op + OFF(apu_op_lut, output)), n);
		apu_lut(n, in, t, o);
		return 0;
	}
	if (code == APU_OP_AVGPOOL || code == APU_OP_MAXPOOL) {
		ApuPoolParams p = {
			.in_h = rd16(op + OFF(apu_op_avgpool, in_h)), .in_w = rd16(op + OFF(apu_op_avgpool, in_w)),
			.channels = rd16(op + OFF(apu_op_avgpool, channels)),
			.out_h = rd16(op + OFF(apu_op_avgpool, out_h)), .out_w = rd16(op + OFF(apu_op_avgpool, out_w)),
			.k_h = rd16(op + OFF(apu_op_avgpool, k_h)), .k_w = rd16(op + OFF(apu_op_avgpool, k_w)),
			.stride_h = rd16(op + OFF(apu_op_avgpool, stride_h)),
			.stride_w = rd16(op + OFF(apu_op_avgpool, stride_w)),
			.pad_top = rd16(op + OFF(apu_op_avgpool, pad_top)),
			.pad_left = rd16(op + OFF(apu_op_avgpool, pad_left)),
			.act_min = rd32(op + OFF(apu_op_avgpool, act_min)),
			.act_max = rd32(op + OFF(apu_op_avgpool, act_max)),
			.round_uint8 = rd16(op + OFF(apu_op_avgpool, flags)) & APU_OPF_ROUND_UINT8,
		};
		size_t in_n = (size_t)p.in_h * p.in_w * p.channels;
		size_t out_n = (size_t)p.out_h * p.out_w * p.channels;
		void *in = xlate(x, rd64(op + OFF(apu_op_avgpool, input)), in_n);
		void *o = xlate(x, rd64(op + OFF(apu_op_avgpool, output)), out_n);

		if (apu_pool_check(&p) || !in || !o)
			return -4;
		mark(x, rd64(op + OFF(apu_op_avgpool, output)), out_n);
		if (code == APU_OP_MAXPOOL)
			apu_maxpool(&p, in, o);
		else
			apu_avgpool(&p, in, o);
		return 0;
	}
	return -5;
}

static int exec_network(struct exec *x)
{
	const void *cmd;
	uint32_t size;
	unsigned int core;

	for (int i = 0; apu_network_job(x->net, i, &cmd, &size, &core) == 0; i++) {
		const uint8_t *c = cmd;
		int n = rd16(c + OFF(apu_cmd_header, num_ops));

		if ((uint32_t)rd32(c) != APU_CMD_MAGIC ||
		    size != sizeof(struct apu_cmd_header) + (uint32_t)n * APU_OP_SIZE)
			return -10;
		for (int k = 0; k < n; k++) {
			int ret = exec_op(x, c + sizeof(struct apu_cmd_header) + k * APU_OP_SIZE);

			if (ret)
				return ret * 100 - i;
		}
	}
	return 0;
}

/*
 * After exec_network() and apu_network_run_reference(): every tensor equal
 * to the CPU reference's, every byte of each but the input @in written
 * exactly once. Returns the number of tensors, or -ENOMEM; *@bad is the
 * first tensor that fails (-1: none), *@byte its first byte not written
 * once (SIZE_MAX: its contents differ).
 */
static inline int check_tensors(struct exec *x, int in, int *bad, size_t *byte)
{
	const uint8_t *act = apu_buffer_cpu(x->buf[0]);
	size_t off, size;
	int nt = 0;

	*bad = -1;
	*byte = 0;
	while (apu_network_tensor_place(x->net, nt, &off, &size) == 0) {
		int8_t *ref = malloc(size ? size : 1);

		if (!ref)
			return -ENOMEM;
		if (apu_network_read_reference(x->net, nt, ref, size) ||
		    memcmp(ref, act + off, size)) {
			if (*bad < 0) {
				*bad = nt;
				*byte = SIZE_MAX;
			}
		}
		for (size_t i = 0; nt != in && *bad < 0 && i < size; i++)
			if (x->cover[off + i] != 1) {
				*bad = nt;
				*byte = i;
			}
		free(ref);
		nt++;
	}
	return nt;
}

#endif /* APU_TEST_EXEC_CMDS_H */
