// SPDX-License-Identifier: MIT
/*
 * Host tests of the firmware's device MMU and command processor
 * (firmware-stub/apu_cp.c) over a mock bus: a flat array standing for
 * guest memory. Page tables, command buffers and tensors are built in it
 * the way the driver and libapu will build them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include <apu/apu.h>
#include "hw/apu_fw.h"
#include "../apu_bus.h"

#define BUS_SIZE (32u << 20)

int32_t oracle_mbqm(int32_t x, int32_t mult, int shift);

/*
 * Back [va, va + len) with fresh pages, every other one skipped so that
 * physically the buffer is scattered.
 */
static void map_range(struct apu_bus *b, uint64_t root, uint64_t va, uint64_t len, int writable)
{
	uint64_t end = va + len;

	for (va &= ~(APU_MMU_PAGE_SIZE - 1); va < end; va += APU_MMU_PAGE_SIZE) {
		apu_bus_page_alloc(b);	/* a hole */
		apu_bus_map_page(b, root, va, apu_bus_page_alloc(b), writable);
	}
}

FIXTURE(cp)
{
	struct apu_bus bus;
	ApuMmu mmu;
	uint64_t root[4];
	ApuCoreModel core;
};

FIXTURE_SETUP(cp)
{
	self->bus.mem = calloc(1, BUS_SIZE);
	ASSERT_NE(NULL, self->bus.mem);
	self->bus.size = BUS_SIZE;
	self->bus.next = APU_MMU_PAGE_SIZE;	/* page 0 stays unused */
	self->bus.ctx_table = apu_bus_page_alloc(&self->bus);
	for (int i = 1; i < 4; i++) {
		self->root[i] = apu_bus_page_alloc(&self->bus);
		apu_bus_ctx_set(&self->bus, i, self->root[i]);
	}
	self->mmu = (ApuMmu){ &apu_bus_ops, &self->bus, self->bus.ctx_table, 8 };
	self->core = (ApuCoreModel){ 256, 32, 100, 128 };
}

FIXTURE_TEARDOWN(cp)
{
	free(self->bus.mem);
}

static uint64_t va_to_pa(FIXTURE_DATA(cp) *self, int asid, uint64_t va)
{
	ApuFault f;
	uint64_t pa = ~0ull;

	apu_mmu_translate(&self->mmu, asid, va, false, &pa, &f);
	return pa;
}

/*
 * Write @len bytes at @va of @asid (already mapped) from the test side, as
 * the CPU would: read-only device mappings do not stop it.
 */
static void poke(FIXTURE_DATA(cp) *self, int asid, uint64_t va, const void *src, uint64_t len)
{
	const uint8_t *p = src;

	while (len) {
		uint64_t pa = va_to_pa(self, asid, va);
		uint64_t n = APU_MMU_PAGE_SIZE - (va & (APU_MMU_PAGE_SIZE - 1));

		if (pa == ~0ull) {
			fprintf(stderr, "poke: %llx not mapped\n", (unsigned long long)va);
			abort();
		}
		n = n < len ? n : len;
		memcpy(self->bus.mem + pa, p, n);
		p += n;
		va += n;
		len -= n;
	}
}

static void peek(FIXTURE_DATA(cp) *self, int asid, uint64_t va, void *dst, uint64_t len)
{
	ApuFault f;

	if (apu_mmu_read(&self->mmu, asid, va, dst, len, &f)) {
		fprintf(stderr, "peek asid %d va %llx: fault at %llx flags %x\n", asid,
			(unsigned long long)va, (unsigned long long)f.addr, f.flags);
		abort();
	}
}

TEST_F(cp, translate_and_faults)
{
	uint64_t pa;
	ApuFault f;

	apu_bus_map_page(&self->bus, self->root[1], 0x5000, 0x123000, 1);
	apu_bus_map_page(&self->bus, self->root[1], 0x7fff000, 0x124000, 0);
	ASSERT_EQ(0, apu_mmu_translate(&self->mmu, 1, 0x5abc, true, &pa, &f));
	EXPECT_EQ(0x123abcull, pa);
	ASSERT_EQ(0, apu_mmu_translate(&self->mmu, 1, 0x7fff010, false, &pa, &f));
	EXPECT_EQ(0x124010ull, pa);

	EXPECT_EQ(-1, apu_mmu_translate(&self->mmu, 1, 0x6000, false, &pa, &f));
	EXPECT_EQ(APU_STATUS_MMU_FAULT, (int)f.status);
	EXPECT_EQ(0x6000ull, f.addr);
	EXPECT_EQ(APU_FAULT_NOT_PRESENT, (int)f.flags);

	EXPECT_EQ(-1, apu_mmu_translate(&self->mmu, 1, 0x7fff008, true, &pa, &f));
	EXPECT_EQ(APU_FAULT_READ_ONLY | APU_FAULT_WRITE, (int)f.flags);
	EXPECT_EQ(0x7fff008ull, f.addr);

	/* The same VA in another context is not mapped. */
	EXPECT_EQ(-1, apu_mmu_translate(&self->mmu, 2, 0x5abc, false, &pa, &f));
	EXPECT_EQ(APU_FAULT_NOT_PRESENT, (int)f.flags);

	EXPECT_EQ(-1, apu_mmu_translate(&self->mmu, 1, 1ull << 39, false, &pa, &f));
	EXPECT_EQ(APU_FAULT_RANGE, (int)f.flags);

	/* Context 0 has no valid entry; 8 is past the table. */
	EXPECT_EQ(-1, apu_mmu_translate(&self->mmu, 0, 0x5000, false, &pa, &f));
	EXPECT_EQ(APU_STATUS_BAD_CONTEXT, (int)f.status);
	EXPECT_EQ(-1, apu_mmu_translate(&self->mmu, 8, 0x5000, false, &pa, &f));
	EXPECT_EQ(APU_STATUS_BAD_CONTEXT, (int)f.status);
	/* A reserved bit in the context entry. */
	apu_st64(self->bus.mem + self->bus.ctx_table + 3 * 16 + 8, 1);
	EXPECT_EQ(-1, apu_mmu_translate(&self->mmu, 3, 0x5000, false, &pa, &f));
	EXPECT_EQ(APU_STATUS_BAD_CONTEXT, (int)f.status);

	/* A table pointer that does not decode on the bus. */
	apu_st64(self->bus.mem + self->root[2], (64ull << 30) | APU_PTE_VALID);
	EXPECT_EQ(-1, apu_mmu_translate(&self->mmu, 2, 0x1000, false, &pa, &f));
	EXPECT_EQ(APU_FAULT_BUS, (int)f.flags);
}

TEST_F(cp, copies_across_scattered_pages)
{
	uint8_t src[3 * 4096 + 100], dst[sizeof(src) + 4096];
	ApuFault f;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 3);
	map_range(&self->bus, self->root[1], 0x10f00, sizeof(src), 1);
	ASSERT_EQ(0, apu_mmu_write(&self->mmu, 1, 0x10f00, src, sizeof(src), &f));
	ASSERT_EQ(0, apu_mmu_read(&self->mmu, 1, 0x10f00, dst, sizeof(src), &f));
	EXPECT_EQ(0, memcmp(src, dst, sizeof(src)));
	/* Reading on past the mapping faults, at the first unmapped page. */
	EXPECT_EQ(-1, apu_mmu_read(&self->mmu, 1, 0x10f00, dst, sizeof(dst), &f));
	EXPECT_EQ(0x14000ull, f.addr);
}

/* ---- jobs ------------------------------------------------------------------ */

struct cmd {
	uint8_t buf[16 + 8 * APU_OP_SIZE];
	int n;
};

static void cmd_init(struct cmd *c)
{
	memset(c, 0, sizeof(*c));
	c->buf[0] = 'A'; c->buf[1] = 'P'; c->buf[2] = 'U'; c->buf[3] = 'C';
	c->buf[4] = APU_CMD_VERSION;
}

static uint8_t *cmd_op(struct cmd *c)
{
	uint8_t *op = c->buf + 16 + c->n * APU_OP_SIZE;

	c->n++;
	c->buf[6] = (uint8_t)c->n;
	return op;
}

static uint32_t cmd_size(const struct cmd *c)
{
	return 16 + c->n * APU_OP_SIZE;
}

/* Layout of the test's conv in context 1. */
#define VA_CMD	0x100000ull
#define VA_IN	0x200000ull
#define VA_W	0x300000ull
#define VA_BIAS	0x380000ull
#define VA_MULT	0x390000ull
#define VA_SHIFT 0x3a0000ull
#define VA_OUT	0x400000ull
#define VA_OUT2	0x500000ull
#define VA_POOL	0x600000ull

static const ApuConvParams conv = {
	20, 20, 24, 10, 10, 40, 3, 3, 2, 2, 1, 1, 0, 0, 1, -3, 5, -128, 127, false, 0
};

static void conv_op(uint8_t *op, const ApuConvParams *p, uint64_t in, uint64_t out)
{
	struct apu_op_conv2d *c = (void *)op;

	memset(op, 0, APU_OP_SIZE);
	apu_st16(&c->opcode, APU_OP_CONV2D);
	apu_st16(&c->in_h, p->in_h); apu_st16(&c->in_w, p->in_w); apu_st16(&c->in_c, p->in_c);
	apu_st16(&c->out_h, p->out_h); apu_st16(&c->out_w, p->out_w); apu_st16(&c->out_c, p->out_c);
	apu_st16(&c->k_h, p->k_h); apu_st16(&c->k_w, p->k_w);
	apu_st16(&c->stride_h, p->stride_h); apu_st16(&c->stride_w, p->stride_w);
	apu_st16(&c->dil_h, p->dil_h); apu_st16(&c->dil_w, p->dil_w);
	apu_st16(&c->pad_top, p->pad_top); apu_st16(&c->pad_left, p->pad_left);
	apu_st16(&c->groups, p->groups);
	apu_st32(&c->in_zp, p->in_zp); apu_st32(&c->out_zp, p->out_zp);
	apu_st32(&c->act_min, p->act_min); apu_st32(&c->act_max, p->act_max);
	apu_st64((uint8_t *)&c->input, in);
	apu_st64((uint8_t *)&c->weights, VA_W);
	apu_st64((uint8_t *)&c->bias, VA_BIAS);
	apu_st64((uint8_t *)&c->mult, VA_MULT);
	apu_st64((uint8_t *)&c->shift, VA_SHIFT);
	apu_st64((uint8_t *)&c->output, out);
}

struct data {
	int8_t in[20 * 20 * 24], w[40 * 3 * 3 * 24], out[10 * 10 * 40];
	int32_t bias[40], mult[40], shift[40];
};

/* Map and fill the tensors of the test conv in @asid; the expected output. */
static void setup_conv(FIXTURE_DATA(cp) *self, int asid, struct data *d, int out_writable)
{
	uint64_t r = self->root[asid];

	srand(7);
	for (size_t i = 0; i < sizeof(d->in); i++)
		d->in[i] = (int8_t)(rand() % 256 - 128);
	for (size_t i = 0; i < sizeof(d->w); i++)
		d->w[i] = (int8_t)(rand() % 255 - 127);
	for (int c = 0; c < 40; c++) {
		int s;

		d->bias[c] = rand() % 20001 - 10000;
		apu_quantize_multiplier(0.0005 * (1 + c % 7), &d->mult[c], &s);
		d->shift[c] = s;
	}
	apu_conv2d(&conv, d->in, d->w, d->bias, d->mult, d->shift, d->out);

	map_range(&self->bus, r, VA_CMD, 4096, 0);
	map_range(&self->bus, r, VA_IN, sizeof(d->in), 0);
	map_range(&self->bus, r, VA_W, sizeof(d->w), 0);
	map_range(&self->bus, r, VA_BIAS, 160, 0);
	map_range(&self->bus, r, VA_MULT, 160, 0);
	map_range(&self->bus, r, VA_SHIFT, 160, 0);
	map_range(&self->bus, r, VA_OUT, sizeof(d->out), out_writable);
	map_range(&self->bus, r, VA_OUT2, sizeof(d->out), 1);
	map_range(&self->bus, r, VA_POOL, 4096, 1);
	poke(self, asid, VA_IN, d->in, sizeof(d->in));
	poke(self, asid, VA_W, d->w, sizeof(d->w));
	poke(self, asid, VA_BIAS, d->bias, 160);	/* little-endian host */
	poke(self, asid, VA_MULT, d->mult, 160);
	poke(self, asid, VA_SHIFT, d->shift, 160);
}

static void run(FIXTURE_DATA(cp) *self, int asid, struct cmd *c, ApuJobResult *res)
{
	poke(self, asid, VA_CMD, c->buf, cmd_size(c));
	apu_cp_run_job(&self->mmu, &self->core, asid, VA_CMD, cmd_size(c), NULL, NULL, res);
}

TEST_F(cp, conv_job_through_the_mmu)
{
	static struct data d;
	int8_t got[sizeof(d.out)];
	ApuJobResult res;
	struct cmd c;
	uint64_t macs = 10 * 10 * 40 * 3 * 3 * 24;
	uint64_t bytes = sizeof(d.in) + sizeof(d.w) + sizeof(d.out) + 12 * 40;

	setup_conv(self, 1, &d, 1);
	cmd_init(&c);
	conv_op(cmd_op(&c), &conv, VA_IN, VA_OUT);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	EXPECT_EQ(1u, res.op_index);
	peek(self, 1, VA_OUT, got, sizeof(got));
	EXPECT_EQ(0, memcmp(got, d.out, sizeof(got)));
	EXPECT_EQ(macs, res.macs);
	EXPECT_EQ(sizeof(d.out), res.bytes_written);
	EXPECT_EQ(16u + APU_OP_SIZE + sizeof(d.in) + sizeof(d.w) + 12 * 40, res.bytes_read);
	/* Compute-bound on this core: macs / 256 per cycle + overhead. */
	EXPECT_EQ((macs + 255) / 256 + 100 > (bytes + 31) / 32 + 100 ?
		  (macs + 255) / 256 + 100 : (bytes + 31) / 32 + 100, res.cycles);
}

/*
 * Output pitch (ABI 1.1): two jobs write the two halves of an 80-channel
 * tensor, each 40 channels wide at a pitch of 80; the gaps stay as they were.
 */
TEST_F(cp, conv_output_pitch_writes_a_channel_slice)
{
	static struct data d;
	static int8_t got[10 * 10 * 80], pattern[10 * 10 * 80];
	ApuJobResult res;
	struct cmd c;

	setup_conv(self, 1, &d, 1);
	map_range(&self->bus, self->root[1], VA_OUT2, sizeof(got), 1);
	memset(pattern, 0x5a, sizeof(pattern));
	poke(self, 1, VA_OUT2, pattern, sizeof(pattern));
	for (int half = 0; half < 2; half++) {
		cmd_init(&c);
		conv_op(cmd_op(&c), &conv, VA_IN, VA_OUT2 + half * 40);
		apu_st16(&((struct apu_op_conv2d *)(c.buf + 16))->out_pitch, 80);
		run(self, 1, &c, &res);
		ASSERT_EQ(APU_STATUS_OK, (int)res.status);
		EXPECT_EQ(sizeof(d.out), res.bytes_written);
	}
	peek(self, 1, VA_OUT2, got, sizeof(got));
	for (int px = 0; px < 100; px++) {
		ASSERT_EQ(0, memcmp(got + px * 80, d.out + px * 40, 40));
		ASSERT_EQ(0, memcmp(got + px * 80 + 40, d.out + px * 40, 40));
	}
	/* One half only: the other half keeps the pattern. */
	poke(self, 1, VA_OUT2, pattern, sizeof(pattern));
	cmd_init(&c);
	conv_op(cmd_op(&c), &conv, VA_IN, VA_OUT2);
	apu_st16(&((struct apu_op_conv2d *)(c.buf + 16))->out_pitch, 80);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	peek(self, 1, VA_OUT2, got, sizeof(got));
	for (int px = 0; px < 100; px++)
		ASSERT_EQ(0, memcmp(got + px * 80 + 40, pattern, 40));
}

/* Input pitch (ABI 1.1): the conv reads channels 24-47 of a 48-channel input. */
TEST_F(cp, conv_input_pitch_reads_a_channel_slice)
{
	static struct data d;
	static int8_t wide[20 * 20 * 48];
	int8_t got[sizeof(d.out)];
	ApuJobResult res;
	struct cmd c;

	setup_conv(self, 1, &d, 1);
	for (int px = 0; px < 400; px++) {
		memset(wide + px * 48, 0x11, 24);
		memcpy(wide + px * 48 + 24, d.in + px * 24, 24);
	}
	map_range(&self->bus, self->root[1], VA_POOL + 0x10000, sizeof(wide), 0);
	poke(self, 1, VA_POOL + 0x10000, wide, sizeof(wide));
	cmd_init(&c);
	conv_op(cmd_op(&c), &conv, VA_POOL + 0x10000 + 24, VA_OUT);
	apu_st16(&((struct apu_op_conv2d *)(c.buf + 16))->in_pitch, 48);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	peek(self, 1, VA_OUT, got, sizeof(got));
	EXPECT_EQ(0, memcmp(got, d.out, sizeof(got)));
	EXPECT_EQ(16u + APU_OP_SIZE + sizeof(d.in) + sizeof(d.w) + 12 * 40, res.bytes_read);
}

/* conv -> add (residual) -> avgpool, as in a MobileNet V2 tail. */
TEST_F(cp, chained_ops)
{
	static struct data d;
	int8_t sum[sizeof(d.out)], pooled[40], got[40];
	ApuAddParams ap = { sizeof(d.out), 20, 5, 1 << 30, -1, 5, 1 << 30, -1,
			    1 << 30, -19, -5, -128, 127, 0 };
	ApuPoolParams pp = { 10, 10, 40, 1, 1, 10, 10, 10, 10, 0, 0, -128, 127, false };
	struct apu_op_add *a;
	struct apu_op_avgpool *p;
	ApuJobResult res;
	struct cmd c;

	setup_conv(self, 1, &d, 1);
	apu_add(&ap, d.out, d.out, sum);
	apu_avgpool(&pp, sum, pooled);

	cmd_init(&c);
	conv_op(cmd_op(&c), &conv, VA_IN, VA_OUT);
	a = (void *)cmd_op(&c);
	apu_st16(&a->opcode, APU_OP_ADD);
	apu_st32(&a->count, ap.count); apu_st32(&a->left_shift, 20);
	apu_st32(&a->in1_offset, 5); apu_st32(&a->in1_mult, 1 << 30); apu_st32(&a->in1_shift, -1);
	apu_st32(&a->in2_offset, 5); apu_st32(&a->in2_mult, 1 << 30); apu_st32(&a->in2_shift, -1);
	apu_st32(&a->out_mult, 1 << 30); apu_st32(&a->out_shift, -19); apu_st32(&a->out_zp, -5);
	apu_st32(&a->act_min, -128); apu_st32(&a->act_max, 127);
	apu_st64((uint8_t *)&a->input1, VA_OUT);
	apu_st64((uint8_t *)&a->input2, VA_OUT);
	apu_st64((uint8_t *)&a->output, VA_OUT2);
	p = (void *)cmd_op(&c);
	apu_st16(&p->opcode, APU_OP_AVGPOOL);
	apu_st16(&p->in_h, 10); apu_st16(&p->in_w, 10); apu_st16(&p->channels, 40);
	apu_st16(&p->out_h, 1); apu_st16(&p->out_w, 1); apu_st16(&p->k_h, 10); apu_st16(&p->k_w, 10);
	apu_st16(&p->stride_h, 10); apu_st16(&p->stride_w, 10);
	apu_st32(&p->act_min, -128); apu_st32(&p->act_max, 127);
	apu_st64((uint8_t *)&p->input, VA_OUT2);
	apu_st64((uint8_t *)&p->output, VA_POOL);

	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	EXPECT_EQ(3u, res.op_index);
	peek(self, 1, VA_POOL, got, sizeof(got));
	EXPECT_EQ(0, memcmp(got, pooled, sizeof(got)));
}

/* A job of context 2 aimed at context 1's addresses faults; nothing of 1 changes. */
TEST_F(cp, contexts_are_isolated)
{
	static struct data d;
	uint8_t *before = malloc(BUS_SIZE);
	ApuJobResult res;
	struct cmd c;

	setup_conv(self, 1, &d, 1);
	map_range(&self->bus, self->root[2], VA_CMD, 4096, 0);
	cmd_init(&c);
	conv_op(cmd_op(&c), &conv, VA_IN, VA_OUT);
	poke(self, 2, VA_CMD, c.buf, cmd_size(&c));
	memcpy(before, self->bus.mem, BUS_SIZE);
	apu_cp_run_job(&self->mmu, &self->core, 2, VA_CMD, cmd_size(&c), NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_MMU_FAULT, (int)res.status);
	EXPECT_EQ(VA_IN, res.fault_addr);
	EXPECT_EQ(APU_FAULT_NOT_PRESENT, (int)res.fault_flags);
	EXPECT_EQ(0u, res.op_index);
	EXPECT_EQ(0, memcmp(before, self->bus.mem, BUS_SIZE));
	free(before);
}

TEST_F(cp, read_only_output_faults_that_op)
{
	static struct data d;
	ApuJobResult res;
	struct cmd c;

	setup_conv(self, 1, &d, 0);
	cmd_init(&c);
	conv_op(cmd_op(&c), &conv, VA_IN, VA_OUT2);	/* fine */
	conv_op(cmd_op(&c), &conv, VA_IN, VA_OUT);	/* read-only */
	run(self, 1, &c, &res);
	EXPECT_EQ(APU_STATUS_MMU_FAULT, (int)res.status);
	EXPECT_EQ(1u, res.op_index);
	EXPECT_EQ(VA_OUT, res.fault_addr);
	EXPECT_EQ(APU_FAULT_WRITE | APU_FAULT_READ_ONLY, (int)res.fault_flags);
	EXPECT_EQ(sizeof(d.out), res.bytes_written);	/* the first op's */
}

static bool always(void *opaque)
{
	(void)opaque;
	return true;
}

TEST_F(cp, bad_command_buffers)
{
	static struct data d;
	ApuJobResult res;
	struct cmd c;
	uint8_t *op;

	setup_conv(self, 1, &d, 1);
#define EXPECT_JOB(want, want_idx) do {				\
		run(self, 1, &c, &res);					\
		EXPECT_EQ(want, (int)res.status);			\
		EXPECT_EQ((uint32_t)(want_idx), res.op_index);		\
	} while (0)
	cmd_init(&c);
	conv_op(cmd_op(&c), &conv, VA_IN, VA_OUT);

	c.buf[0] = 'X';
	EXPECT_JOB(APU_STATUS_BAD_CMDBUF, 0);
	c.buf[0] = 'A';
	c.buf[4] = 2;			/* version */
	EXPECT_JOB(APU_STATUS_BAD_CMDBUF, 0);
	c.buf[4] = 1;
	c.buf[8] = 1;			/* flags */
	EXPECT_JOB(APU_STATUS_BAD_CMDBUF, 0);
	c.buf[8] = 0;
	c.buf[6] = 0;			/* no ops */
	EXPECT_JOB(APU_STATUS_BAD_CMDBUF, 0);
	c.buf[6] = 2;			/* more ops than the size holds */
	EXPECT_JOB(APU_STATUS_BAD_CMDBUF, 0);
	c.buf[6] = 1;
	apu_cp_run_job(&self->mmu, &self->core, 1, VA_CMD, 15, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_BAD_CMDBUF, (int)res.status);
	/* The command buffer itself unmapped. */
	apu_cp_run_job(&self->mmu, &self->core, 1, 0x7770000, 144, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_MMU_FAULT, (int)res.status);
	EXPECT_EQ(0x7770000ull, res.fault_addr);
	/* Bad context. */
	apu_cp_run_job(&self->mmu, &self->core, 0, VA_CMD, 144, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_BAD_CONTEXT, (int)res.status);

	op = cmd_op(&c);		/* op 1 */
	apu_st16(op, 99);
	EXPECT_JOB(APU_STATUS_BAD_OP, 1);
	conv_op(op, &conv, VA_IN, VA_OUT);
	op[2] = 0x80;			/* unknown flag */
	EXPECT_JOB(APU_STATUS_BAD_OP, 1);
	conv_op(op, &conv, VA_IN, VA_OUT);
	op[34] = 1;			/* out_pitch under out_c (40) */
	EXPECT_JOB(APU_STATUS_BAD_PARAMS, 1);
	conv_op(op, &conv, VA_IN, VA_OUT);
	op[52] = 1;			/* in_pitch under in_c (24) */
	EXPECT_JOB(APU_STATUS_BAD_PARAMS, 1);
	conv_op(op, &conv, VA_IN, VA_OUT);
	op[54] = 0x80;			/* w_zp -32640 */
	EXPECT_JOB(APU_STATUS_BAD_PARAMS, 1);
	conv_op(op, &conv, VA_IN, VA_OUT);
	op[APU_OP_SIZE - 1] = 1;	/* reserved */
	EXPECT_JOB(APU_STATUS_BAD_OP, 1);
	conv_op(op, &conv, VA_IN, VA_OUT);
	apu_st16(op + 32, 7);		/* groups 7: 24 channels do not divide */
	EXPECT_JOB(APU_STATUS_BAD_PARAMS, 1);
	conv_op(op, &conv, VA_IN, VA_OUT);
	apu_st16(op + 4, 60000); apu_st16(op + 6, 60000); apu_st16(op + 8, 60000);
	EXPECT_JOB(APU_STATUS_TOO_LARGE, 1);
	/* A shift out of range in the per-channel table (both ops use it). */
	conv_op(op, &conv, VA_IN, VA_OUT);
	poke(self, 1, VA_SHIFT + 8, &(int32_t){ 31 }, 4);
	EXPECT_JOB(APU_STATUS_BAD_PARAMS, 0);
	poke(self, 1, VA_SHIFT + 8, &d.shift[2], 4);
	EXPECT_JOB(APU_STATUS_OK, 2);

	/* Abort before the first op. */
	poke(self, 1, VA_CMD, c.buf, cmd_size(&c));
	apu_cp_run_job(&self->mmu, &self->core, 1, VA_CMD, cmd_size(&c), always, NULL, &res);
	EXPECT_EQ(APU_STATUS_ABORTED, (int)res.status);
#undef EXPECT_JOB
}

/* Random corruption of a valid job: always a status, never a crash. */
TEST_F(cp, mutated_command_buffers)
{
	static struct data d;
	ApuJobResult res;
	struct cmd good, c;
	int counts[16] = { 0 };

	setup_conv(self, 1, &d, 1);
	cmd_init(&good);
	conv_op(cmd_op(&good), &conv, VA_IN, VA_OUT);
	conv_op(cmd_op(&good), &conv, VA_IN, VA_OUT2);
	srand(11);
	for (int n = 0; n < 3000; n++) {
		int flips = 1 + rand() % 4;

		c = good;
		for (int k = 0; k < flips; k++)
			c.buf[rand() % cmd_size(&c)] ^= (uint8_t)(1 << (rand() % 8));
		run(self, 1, &c, &res);
		ASSERT_LE(res.status, (uint32_t)APU_STATUS_TOO_LARGE);
		counts[res.status]++;
	}
	/* The mutations reach more than the header check. */
	EXPECT_LT(0, counts[APU_STATUS_OK]);
	EXPECT_LT(0, counts[APU_STATUS_BAD_CMDBUF]);
	EXPECT_LT(0, counts[APU_STATUS_BAD_PARAMS] + counts[APU_STATUS_BAD_OP]);
	EXPECT_LT(0, counts[APU_STATUS_MMU_FAULT]);
}

/* ---- firmware ABI 1.2 ops ---------------------------------------------------- */

#define VA_A	0x800000ull
#define VA_B	0x900000ull
#define VA_T	0xa00000ull
#define VA_O	0xb00000ull

static uint64_t cycles_of(FIXTURE_DATA(cp) *self, uint64_t macs, uint64_t bytes)
{
	uint64_t c = (macs + self->core.macs_per_cycle - 1) / self->core.macs_per_cycle;
	uint64_t m = (bytes + self->core.bytes_per_cycle - 1) / self->core.bytes_per_cycle;

	return (c > m ? c : m) + self->core.op_overhead_cycles;
}

/* A naive convolution with a weight zero point (groups 1), TFLite's uint8 way. */
static void naive_conv_wzp(const ApuConvParams *p, const int8_t *in, const int8_t *w,
			   const int32_t *bias, const int32_t *mult, const int32_t *shift,
			   int8_t *out)
{
	for (int oy = 0; oy < p->out_h; oy++)
	for (int ox = 0; ox < p->out_w; ox++)
	for (int oc = 0; oc < p->out_c; oc++) {
		int64_t acc = bias[oc];
		int32_t v;

		for (int ky = 0; ky < p->k_h; ky++)
		for (int kx = 0; kx < p->k_w; kx++)
		for (int ic = 0; ic < p->in_c; ic++) {
			int iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
			int ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;

			if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w)
				continue;
			acc += (in[(iy * p->in_w + ix) * p->in_c + ic] - p->in_zp) *
			       (w[((oc * p->k_h + ky) * p->k_w + kx) * p->in_c + ic] - p->w_zp);
		}
		v = oracle_mbqm((int32_t)acc, mult[oc], shift[oc]) + p->out_zp;
		out[(oy * p->out_w + ox) * p->out_c + oc] =
			(int8_t)(v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v);
	}
}

/*
 * A negative weight zero point (sign-extended from its 16 bits), with the
 * input read from a channel slice (in_pitch) and the output written to one
 * (out_pitch); the window sums it costs are counted.
 */
TEST_F(cp, conv_weight_zero_point_with_pitches)
{
	static struct data d;
	static int8_t wide[20 * 20 * 48], got[10 * 10 * 80], want[10 * 10 * 40];
	ApuConvParams p = conv;
	ApuJobResult res;
	struct cmd c;
	uint8_t *op;
	uint64_t macs;

	setup_conv(self, 1, &d, 1);
	p.w_zp = -77;
	p.pad_top = p.pad_left = 1;	/* edge pixels too */
	naive_conv_wzp(&p, d.in, d.w, d.bias, d.mult, d.shift, want);
	for (int px = 0; px < 400; px++) {
		memset(wide + px * 48, 0x11, 24);
		memcpy(wide + px * 48 + 24, d.in + px * 24, 24);
	}
	map_range(&self->bus, self->root[1], VA_A, sizeof(wide), 0);
	poke(self, 1, VA_A, wide, sizeof(wide));
	map_range(&self->bus, self->root[1], VA_O, sizeof(got), 1);
	cmd_init(&c);
	op = cmd_op(&c);
	conv_op(op, &p, VA_A + 24, VA_O + 40);
	apu_st16(&((struct apu_op_conv2d *)op)->in_pitch, 48);
	apu_st16(&((struct apu_op_conv2d *)op)->out_pitch, 80);
	apu_st16(&((struct apu_op_conv2d *)op)->w_zp, -77);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	peek(self, 1, VA_O, got, sizeof(got));
	for (int px = 0; px < 100; px++) {
		ASSERT_EQ(0, memcmp(got + px * 80 + 40, want + px * 40, 40)) TH_LOG("pixel %d", px);
	}
	macs = 10 * 10 * 40 * 9 * 24 + 10 * 10 * 9 * 24;
	EXPECT_EQ(macs, res.macs);
	EXPECT_EQ(cycles_of(self, macs, sizeof(d.in) + sizeof(d.w) + sizeof(d.out) + 12 * 40),
		  res.cycles);

	/* The same weights with w_zp 0 are another convolution. */
	apu_st16(&((struct apu_op_conv2d *)op)->w_zp, 0);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	peek(self, 1, VA_O, got, sizeof(got));
	EXPECT_NE(0, memcmp(got + 40, want, 40));
	EXPECT_EQ(10ull * 10 * 40 * 9 * 24, res.macs);
}

/* Pack @n values in [-8, 7] two per byte, element 2i in the low nibble (TFLite INT4). */
static void pack_int4(const int8_t *v, size_t n, uint8_t *out)
{
	memset(out, 0, (n + 1) / 2);
	for (size_t i = 0; i < n; i++)
		out[i / 2] |= (uint8_t)(((unsigned int)v[i] & 0xf) << (i % 2 ? 4 : 0));
}

/*
 * Int4 weights (ABI 1.4): the test conv with weights in [-8, 7], packed,
 * read as half the bytes and charged so; bit-exact with the naive
 * convolution of the unpacked values. A bandwidth-bound fully connected
 * layer takes about half the cycles of its int8 form.
 */
TEST_F(cp, conv_int4_weights)
{
	static struct data d;
	static uint8_t w4[sizeof(d.w) / 2];
	static int8_t want[sizeof(d.out)], got[sizeof(d.out)];
	static int8_t fw[64 * 1024], fin[1024], fout[64];
	static uint8_t fw4[sizeof(fw) / 2];
	ApuConvParams fc = { 1, 1, 1024, 1, 1, 64, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, -128, 127,
			     false, 0 };
	ApuJobResult res;
	uint64_t c8, c4;
	struct cmd c;
	uint8_t *op;

	setup_conv(self, 1, &d, 1);
	for (size_t i = 0; i < sizeof(d.w); i++)
		d.w[i] = (int8_t)(rand() % 16 - 8);
	pack_int4(d.w, sizeof(d.w), w4);
	poke(self, 1, VA_W, w4, sizeof(w4));
	naive_conv_wzp(&conv, d.in, d.w, d.bias, d.mult, d.shift, want);
	cmd_init(&c);
	op = cmd_op(&c);
	conv_op(op, &conv, VA_IN, VA_OUT);
	apu_st16(&((struct apu_op_conv2d *)op)->flags, APU_OPF_WEIGHTS_INT4);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	peek(self, 1, VA_OUT, got, sizeof(got));
	EXPECT_EQ(0, memcmp(want, got, sizeof(got)));
	EXPECT_EQ(16u + APU_OP_SIZE + sizeof(d.in) + sizeof(w4) + 12 * 40, res.bytes_read);
	EXPECT_EQ(cycles_of(self, 10 * 10 * 40 * 9 * 24,
			    sizeof(d.in) + sizeof(w4) + sizeof(d.out) + 12 * 40), res.cycles);

	/* Refused: a weight zero point with int4, an unknown flag. */
	apu_st16(&((struct apu_op_conv2d *)op)->w_zp, 1);
	run(self, 1, &c, &res);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, (int)res.status);
	EXPECT_EQ(0u, res.bytes_written);
	apu_st16(&((struct apu_op_conv2d *)op)->w_zp, 0);
	apu_st16(&((struct apu_op_conv2d *)op)->flags, APU_OPF_WEIGHTS_INT4 | 0x8);
	run(self, 1, &c, &res);
	EXPECT_EQ(APU_STATUS_BAD_OP, (int)res.status);

	/* Fully connected 1024 -> 64: int8, then int4 of the same values. */
	for (size_t i = 0; i < sizeof(fw); i++)
		fw[i] = (int8_t)(rand() % 16 - 8);
	for (size_t i = 0; i < sizeof(fin); i++)
		fin[i] = (int8_t)(rand() % 256 - 128);
	pack_int4(fw, sizeof(fw), fw4);
	map_range(&self->bus, self->root[1], VA_A, sizeof(fw), 0);
	map_range(&self->bus, self->root[1], VA_B, sizeof(fin), 0);
	map_range(&self->bus, self->root[1], VA_O, 4096, 1);
	poke(self, 1, VA_A, fw, sizeof(fw));
	poke(self, 1, VA_B, fin, sizeof(fin));
	cmd_init(&c);
	op = cmd_op(&c);
	conv_op(op, &fc, VA_B, VA_O);
	apu_st64((uint8_t *)&((struct apu_op_conv2d *)op)->weights, VA_A);
	apu_st64((uint8_t *)&((struct apu_op_conv2d *)op)->bias, 0);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	peek(self, 1, VA_O, fout, sizeof(fout));
	c8 = res.cycles;
	EXPECT_EQ(cycles_of(self, 65536, 1024 + sizeof(fw) + 64 + 12 * 64), c8);
	poke(self, 1, VA_A, fw4, sizeof(fw4));
	apu_st16(&((struct apu_op_conv2d *)op)->flags, APU_OPF_WEIGHTS_INT4);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	peek(self, 1, VA_O, got, sizeof(fout));
	EXPECT_EQ(0, memcmp(fout, got, sizeof(fout)));
	c4 = res.cycles;
	EXPECT_EQ(cycles_of(self, 65536, 1024 + sizeof(fw4) + 64 + 12 * 64), c4);
	TH_LOG("fully connected 1024x64: %llu cycles int8, %llu int4",
	       (unsigned long long)c8, (unsigned long long)c4);
	EXPECT_LT(c4 * 10, c8 * 6);
}

/*
 * Block-sparse weights (ABI 1.5): a 1x1 stride 2 convolution 20x20x24 ->
 * 10x10x40 whose weights (blocks of 4 output channels) are nonzero only in
 * blocks with (row + input channel) % 3 == 0: bit-exact with the naive
 * dense convolution, the stored blocks' MACs and the encoding's bytes
 * charged; malformed weights and unsupported forms refused with nothing
 * written; weights mapped shorter than their encoding fault.
 */
TEST_F(cp, conv_sparse_weights)
{
	static struct data d;
	static int8_t w[40 * 24], want[sizeof(d.out)], got[sizeof(d.out)];
	static uint8_t sw[8 + 2 * 10 + 6 * 240];
	ApuConvParams p = { 20, 20, 24, 10, 10, 40, 1, 1, 2, 2, 1, 1, 0, 0, 1, -3, 5, -128, 127,
			    false, 0 };
	uint64_t nnz = 0, macs;
	size_t size = sizeof(sw);
	ApuJobResult res;
	struct cmd c;
	uint8_t *op;

	setup_conv(self, 1, &d, 1);
	for (int oc = 0; oc < 40; oc++)
		for (int ic = 0; ic < 24; ic++)
			w[oc * 24 + ic] = (oc / 4 + ic) % 3 ? 0 : d.w[oc * 24 + ic];
	for (int r = 0; r < 10; r++)
		for (int ic = 0; ic < 24; ic++)
			nnz += (r + ic) % 3 == 0;
	ASSERT_EQ(0, apu_sparse_encode(w, 40, 24, 4, sw, &size));
	ASSERT_EQ(8 + 2 * 10 + 6 * nnz, size);
	poke(self, 1, VA_W, sw, size);
	naive_conv_wzp(&p, d.in, w, d.bias, d.mult, d.shift, want);
	cmd_init(&c);
	op = cmd_op(&c);
	conv_op(op, &p, VA_IN, VA_OUT);
	apu_st16(&((struct apu_op_conv2d *)op)->flags, APU_OPF_WEIGHTS_SPARSE);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	peek(self, 1, VA_OUT, got, sizeof(got));
	EXPECT_EQ(0, memcmp(want, got, sizeof(got)));
	macs = nnz * 4 * 100;
	EXPECT_EQ(macs, res.macs);
	EXPECT_EQ(cycles_of(self, macs, sizeof(d.in) + size + sizeof(d.out) + 12 * 40),
		  res.cycles);
	/* The header is read first, then the whole encoding. */
	EXPECT_EQ(16u + APU_OP_SIZE + sizeof(d.in) + 8 + size + 12 * 40, res.bytes_read);

	/* Refused, nothing written: w_zp, int4, a 3x3 kernel, a bad index. */
	apu_st16(&((struct apu_op_conv2d *)op)->w_zp, 1);
	run(self, 1, &c, &res);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, (int)res.status);
	EXPECT_EQ(0u, res.bytes_written);
	apu_st16(&((struct apu_op_conv2d *)op)->w_zp, 0);
	apu_st16(&((struct apu_op_conv2d *)op)->flags,
		 APU_OPF_WEIGHTS_SPARSE | APU_OPF_WEIGHTS_INT4);
	run(self, 1, &c, &res);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, (int)res.status);
	conv_op(op, &conv, VA_IN, VA_OUT);
	apu_st16(&((struct apu_op_conv2d *)op)->flags, APU_OPF_WEIGHTS_SPARSE);
	run(self, 1, &c, &res);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, (int)res.status);
	conv_op(op, &p, VA_IN, VA_OUT);
	apu_st16(&((struct apu_op_conv2d *)op)->flags, APU_OPF_WEIGHTS_SPARSE);
	sw[8 + 2 * 10] = 24;	/* the first index: in_c */
	poke(self, 1, VA_W, sw, size);
	run(self, 1, &c, &res);
	EXPECT_EQ(APU_STATUS_BAD_PARAMS, (int)res.status);
	EXPECT_EQ(0u, res.bytes_written);
	/*
	 * A header in the last 8 mapped bytes (VA_W's mapping ends at a page
	 * boundary): the encoding's read faults past it.
	 */
	sw[8 + 2 * 10] = 0;
	{
		uint64_t end = VA_W + (sizeof(d.w) + APU_MMU_PAGE_SIZE - 1) /
				      APU_MMU_PAGE_SIZE * APU_MMU_PAGE_SIZE;

		poke(self, 1, end - 8, sw, 8);
		apu_st64((uint8_t *)&((struct apu_op_conv2d *)op)->weights, end - 8);
		run(self, 1, &c, &res);
		EXPECT_EQ(APU_STATUS_MMU_FAULT, (int)res.status);
		EXPECT_EQ(end, res.fault_addr);
	}
}

/*
 * A bus whose memory changes under the device: the first read of @len
 * bytes at bus address @pa lets the device see the memory, then writes
 * @val over the @n bytes there, as a guest CPU racing the device would.
 */
struct racing_bus {
	struct apu_bus *bus;
	uint64_t pa, len;
	uint8_t val[8];
	int n, fired;
};

static int racing_read(void *opaque, uint64_t addr, void *buf, uint64_t len)
{
	struct racing_bus *rb = opaque;
	int r = apu_bus_read(rb->bus, addr, buf, len);

	if (!rb->fired && addr == rb->pa && len == rb->len) {
		memcpy(rb->bus->mem + rb->pa, rb->val, rb->n);
		rb->fired = 1;
	}
	return r;
}

static int racing_write(void *opaque, uint64_t addr, const void *buf, uint64_t len)
{
	struct racing_bus *rb = opaque;

	return apu_bus_write(rb->bus, addr, buf, len);
}

static const ApuHwOps racing_ops = { racing_read, racing_write };

/*
 * The sparse weights' header changes between the read that sizes the
 * buffer and the read of the whole buffer: the command processor checks
 * what it read the second time against the size it read (block 0 would
 * divide by zero; a bigger nnz would read past the buffer), and refuses.
 */
TEST_F(cp, conv_sparse_header_changed_between_reads)
{
	static struct data d;
	static int8_t w[40 * 24];
	static uint8_t sw[8 + 2 * 10 + 6 * 240];
	ApuConvParams p = { 20, 20, 24, 10, 10, 40, 1, 1, 2, 2, 1, 1, 0, 0, 1, -3, 5, -128, 127,
			    false, 0 };
	static const uint8_t hdrs[][8] = {
		{ 0, 0, 0, 0, 1, 0, 0, 0 },		/* block 0 */
		{ 4, 0, 0, 0, 0xf0, 0, 0, 0 },	/* nnz 240: past the buffer */
		{ 1, 0, 0, 0, 2, 0, 0, 0 },		/* block 1, nnz 2 */
	};
	size_t size = sizeof(sw);
	struct racing_bus rb = { .bus = &self->bus };
	ApuMmu mmu = { &racing_ops, &rb, self->bus.ctx_table, 8 };
	ApuJobResult res;
	struct cmd c;
	uint8_t *op;

	setup_conv(self, 1, &d, 1);
	for (int oc = 0; oc < 40; oc++)
		for (int ic = 0; ic < 24; ic++)
			w[oc * 24 + ic] = (oc / 4 + ic) % 3 ? 0 : d.w[oc * 24 + ic];
	ASSERT_EQ(0, apu_sparse_encode(w, 40, 24, 4, sw, &size));
	cmd_init(&c);
	op = cmd_op(&c);
	conv_op(op, &p, VA_IN, VA_OUT);
	apu_st16(&((struct apu_op_conv2d *)op)->flags, APU_OPF_WEIGHTS_SPARSE);
	poke(self, 1, VA_CMD, c.buf, cmd_size(&c));
	for (unsigned int i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		poke(self, 1, VA_W, sw, size);
		rb.pa = va_to_pa(self, 1, VA_W);
		rb.len = APU_SPARSE_HDR_SIZE;
		memcpy(rb.val, hdrs[i], 8);
		rb.n = 8;
		rb.fired = 0;
		apu_cp_run_job(&mmu, &self->core, 1, VA_CMD, cmd_size(&c), NULL, NULL, &res);
		EXPECT_EQ(1, rb.fired);
		EXPECT_EQ(APU_STATUS_BAD_PARAMS, (int)res.status);
		EXPECT_EQ(0u, res.bytes_written);
	}
}

static void pool_op(uint8_t *op, int opcode, const ApuPoolParams *p, uint64_t in, uint64_t out)
{
	struct apu_op_avgpool *a = (void *)op;

	memset(op, 0, APU_OP_SIZE);
	apu_st16(&a->opcode, opcode);
	apu_st16(&a->in_h, p->in_h); apu_st16(&a->in_w, p->in_w); apu_st16(&a->channels, p->channels);
	apu_st16(&a->out_h, p->out_h); apu_st16(&a->out_w, p->out_w);
	apu_st16(&a->k_h, p->k_h); apu_st16(&a->k_w, p->k_w);
	apu_st16(&a->stride_h, p->stride_h); apu_st16(&a->stride_w, p->stride_w);
	apu_st16(&a->pad_top, p->pad_top); apu_st16(&a->pad_left, p->pad_left);
	apu_st32(&a->act_min, p->act_min); apu_st32(&a->act_max, p->act_max);
	apu_st64((uint8_t *)&a->input, in);
	apu_st64((uint8_t *)&a->output, out);
}

static void lut_op(uint8_t *op, uint32_t count, uint64_t in, uint64_t table, uint64_t out)
{
	struct apu_op_lut *l = (void *)op;

	memset(op, 0, APU_OP_SIZE);
	apu_st16(&l->opcode, APU_OP_LUT);
	apu_st32(&l->count, count);
	apu_st64((uint8_t *)&l->input, in);
	apu_st64((uint8_t *)&l->table, table);
	apu_st64((uint8_t *)&l->output, out);
}

static void mul_op(uint8_t *op, const ApuMulParams *p, uint64_t in1, uint64_t in2, uint64_t out)
{
	struct apu_op_mul *m = (void *)op;

	memset(op, 0, APU_OP_SIZE);
	apu_st16(&m->opcode, APU_OP_MUL);
	apu_st32(&m->count, p->count);
	apu_st32(&m->in1_offset, p->in1_offset); apu_st32(&m->in2_offset, p->in2_offset);
	apu_st32(&m->out_mult, p->out_mult); apu_st32(&m->out_shift, p->out_shift);
	apu_st32(&m->out_zp, p->out_zp);
	apu_st32(&m->act_min, p->act_min); apu_st32(&m->act_max, p->act_max);
	apu_st32(&m->in2_period, p->in2_period);
	apu_st64((uint8_t *)&m->input1, in1);
	apu_st64((uint8_t *)&m->input2, in2);
	apu_st64((uint8_t *)&m->output, out);
}

static void add_op(uint8_t *op, const ApuAddParams *p, uint64_t in1, uint64_t in2, uint64_t out)
{
	struct apu_op_add *a = (void *)op;

	memset(op, 0, APU_OP_SIZE);
	apu_st16(&a->opcode, APU_OP_ADD);
	apu_st32(&a->count, p->count); apu_st32(&a->left_shift, p->left_shift);
	apu_st32(&a->in1_offset, p->in1_offset); apu_st32(&a->in1_mult, p->in1_mult);
	apu_st32(&a->in1_shift, p->in1_shift);
	apu_st32(&a->in2_offset, p->in2_offset); apu_st32(&a->in2_mult, p->in2_mult);
	apu_st32(&a->in2_shift, p->in2_shift);
	apu_st32(&a->out_mult, p->out_mult); apu_st32(&a->out_shift, p->out_shift);
	apu_st32(&a->out_zp, p->out_zp);
	apu_st32(&a->act_min, p->act_min); apu_st32(&a->act_max, p->act_max);
	apu_st32(&a->in2_period, p->in2_period);
	apu_st64((uint8_t *)&a->input1, in1);
	apu_st64((uint8_t *)&a->input2, in2);
	apu_st64((uint8_t *)&a->output, out);
}

/* Map @len bytes ending exactly at a page end (reading one more faults), filled. */
static uint64_t map_tail(FIXTURE_DATA(cp) *self, uint64_t va, const void *src, uint64_t len,
			 int writable)
{
	uint64_t at = va + 0x4000 - len;

	map_range(&self->bus, self->root[1], at, len, writable);
	if (src)
		poke(self, 1, at, src, len);
	return at;
}

/* 9 x 7 x 40, 3x3 stride 2 SAME: the windows at the edges are clipped. */
static const ApuPoolParams mpool = { 9, 7, 40, 5, 4, 3, 3, 2, 2, 1, 1, -100, 90, false };

TEST_F(cp, maxpool_job)
{
	static int8_t in[9 * 7 * 40], want[5 * 4 * 40], got[5 * 4 * 40];
	const ApuPoolParams *p = &mpool;
	uint64_t in_va, out_va, macs = 5 * 4 * 40 * 9;
	ApuJobResult res;
	struct cmd c;

	srand(21);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (int8_t)(rand() % 256 - 128);
	map_range(&self->bus, self->root[1], VA_CMD, 4096, 0);
	for (int oy = 0; oy < p->out_h; oy++)
	for (int ox = 0; ox < p->out_w; ox++)
	for (int ch = 0; ch < p->channels; ch++) {
		int v = -128;

		for (int ky = 0; ky < p->k_h; ky++)
		for (int kx = 0; kx < p->k_w; kx++) {
			int iy = oy * p->stride_h - p->pad_top + ky;
			int ix = ox * p->stride_w - p->pad_left + kx;

			if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w &&
			    in[(iy * p->in_w + ix) * p->channels + ch] > v)
				v = in[(iy * p->in_w + ix) * p->channels + ch];
		}
		want[(oy * p->out_w + ox) * p->channels + ch] =
			(int8_t)(v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v);
	}
	in_va = map_tail(self, VA_A, in, sizeof(in), 0);
	out_va = map_tail(self, VA_O, NULL, sizeof(got), 1);
	cmd_init(&c);
	pool_op(cmd_op(&c), APU_OP_MAXPOOL, p, in_va, out_va);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	peek(self, 1, out_va, got, sizeof(got));
	EXPECT_EQ(0, memcmp(got, want, sizeof(got)));
	EXPECT_EQ(macs, res.macs);
	EXPECT_EQ(sizeof(got), res.bytes_written);
	EXPECT_EQ(16u + APU_OP_SIZE + sizeof(in), res.bytes_read);
	EXPECT_EQ(cycles_of(self, macs, sizeof(in) + sizeof(got)), res.cycles);

	/* The same op as AVGPOOL is another op. */
	pool_op(c.buf + 16, APU_OP_AVGPOOL, p, in_va, out_va);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	peek(self, 1, out_va, got, sizeof(got));
	EXPECT_NE(0, memcmp(got, want, sizeof(got)));
}

TEST_F(cp, lut_job_reads_the_table_through_the_mmu)
{
	static int8_t in[3000], got[3000];
	int8_t table[256];
	uint64_t in_va, t_va, out_va;
	ApuJobResult res;
	struct cmd c;

	srand(22);
	for (int i = 0; i < 256; i++)
		table[i] = (int8_t)(rand() % 256 - 128);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (int8_t)(i < 256 ? i - 128 : rand() % 256 - 128);
	map_range(&self->bus, self->root[1], VA_CMD, 4096, 0);
	in_va = map_tail(self, VA_A, in, sizeof(in), 0);
	t_va = map_tail(self, VA_T, table, 256, 0);	/* the table ends a page */
	out_va = map_tail(self, VA_O, NULL, sizeof(got), 1);
	cmd_init(&c);
	lut_op(cmd_op(&c), sizeof(in), in_va, t_va, out_va);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	peek(self, 1, out_va, got, sizeof(got));
	for (size_t i = 0; i < sizeof(in); i++) {
		ASSERT_EQ(table[in[i] + 128], got[i]) TH_LOG("element %zu", i);
	}
	EXPECT_EQ(sizeof(in), res.macs);
	EXPECT_EQ(16u + APU_OP_SIZE + sizeof(in) + 256, res.bytes_read);
	EXPECT_EQ(sizeof(got), res.bytes_written);
	EXPECT_EQ(cycles_of(self, sizeof(in), 2 * sizeof(in) + 256), res.cycles);

	/* A table that runs off its mapping faults where the mapping ends. */
	lut_op(c.buf + 16, sizeof(in), in_va, t_va + 1, out_va);
	run(self, 1, &c, &res);
	EXPECT_EQ(APU_STATUS_MMU_FAULT, (int)res.status);
	EXPECT_EQ(VA_T + 0x4000, res.fault_addr);
	EXPECT_EQ(APU_FAULT_NOT_PRESENT, (int)res.fault_flags);
	/* A read-only output. */
	lut_op(c.buf + 16, sizeof(in), in_va, t_va, in_va);
	run(self, 1, &c, &res);
	EXPECT_EQ(APU_STATUS_MMU_FAULT, (int)res.status);
	EXPECT_EQ(APU_FAULT_WRITE | APU_FAULT_READ_ONLY, (int)res.fault_flags);
}

/*
 * MUL and ADD with input2 broadcast per channel (12 pixels x 40 channels):
 * the device reads only input2's 40 bytes (mapped so that a 41st faults).
 */
TEST_F(cp, mul_and_add_broadcast_jobs)
{
	enum { PIX = 12, CH = 40, N = PIX * CH };
	int8_t a[N], b[CH], got[N], want[N];
	ApuMulParams mp = { N, 7, -128 + 1, 1 << 30, -9, -3, -120, 127, CH };
	ApuAddParams ap = { N, 20, 5, 1 << 30, -1, -7, 1 << 30, -1, 1 << 30, -19, -5,
			    -128, 127, CH };
	uint64_t a_va, b_va, out_va;
	ApuJobResult res;
	struct cmd c;

	srand(23);
	for (int i = 0; i < N; i++)
		a[i] = (int8_t)(rand() % 256 - 128);
	for (int i = 0; i < CH; i++)
		b[i] = (int8_t)(rand() % 256 - 128);
	map_range(&self->bus, self->root[1], VA_CMD, 4096, 0);
	a_va = map_tail(self, VA_A, a, N, 0);
	b_va = map_tail(self, VA_B, b, CH, 0);
	out_va = map_tail(self, VA_O, NULL, N, 1);

	for (int i = 0; i < N; i++) {
		int32_t v = oracle_mbqm((a[i] + mp.in1_offset) * (b[i % CH] + mp.in2_offset),
					mp.out_mult, mp.out_shift) + mp.out_zp;

		want[i] = (int8_t)(v < mp.act_min ? mp.act_min : v > mp.act_max ? mp.act_max : v);
	}
	cmd_init(&c);
	mul_op(cmd_op(&c), &mp, a_va, b_va, out_va);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	peek(self, 1, out_va, got, N);
	EXPECT_EQ(0, memcmp(got, want, N));
	EXPECT_EQ((uint64_t)N, res.macs);
	EXPECT_EQ(16u + APU_OP_SIZE + N + CH, res.bytes_read);
	EXPECT_EQ(cycles_of(self, N, 2 * N + CH), res.cycles);
	/* Without broadcasting input2 would be N bytes: it runs off the mapping. */
	mp.in2_period = 0;
	mul_op(c.buf + 16, &mp, a_va, b_va, out_va);
	run(self, 1, &c, &res);
	EXPECT_EQ(APU_STATUS_MMU_FAULT, (int)res.status);
	EXPECT_EQ(VA_B + 0x4000, res.fault_addr);

	for (int i = 0; i < N; i++) {
		int32_t x = oracle_mbqm((a[i] + ap.in1_offset) * (1 << 20), ap.in1_mult, ap.in1_shift);
		int32_t y = oracle_mbqm((b[i % CH] + ap.in2_offset) * (1 << 20), ap.in2_mult,
					ap.in2_shift);
		int32_t v = oracle_mbqm(x + y, ap.out_mult, ap.out_shift) + ap.out_zp;

		want[i] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
	}
	add_op(c.buf + 16, &ap, a_va, b_va, out_va);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	peek(self, 1, out_va, got, N);
	EXPECT_EQ(0, memcmp(got, want, N));
	EXPECT_EQ(16u + APU_OP_SIZE + N + CH, res.bytes_read);
	EXPECT_EQ(cycles_of(self, N, 2 * N + CH), res.cycles);
	/* A scalar input2 (period 1). */
	ap.in2_period = 1;
	add_op(c.buf + 16, &ap, a_va, b_va + CH - 1, out_va);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	EXPECT_EQ(16u + APU_OP_SIZE + N + 1, res.bytes_read);
}

/* Every new field and op refused when out of range; nothing is written. */
TEST_F(cp, quant_ops_refuse_bad_fields)
{
	static struct data d;
	static const int8_t zeros[4096];
	ApuMulParams mp = { 480, 7, -127, 1 << 30, -9, -3, -120, 127, 40 };
	ApuAddParams ap = { 480, 20, 5, 1 << 30, -1, -7, 1 << 30, -1, 1 << 30, -19, -5,
			    -128, 127, 40 };
	uint64_t writes;
	ApuJobResult res;
	struct cmd c;
	uint8_t *op;

	setup_conv(self, 1, &d, 1);
	map_range(&self->bus, self->root[1], VA_A, 4096, 0);
	map_range(&self->bus, self->root[1], VA_T, 4096, 0);
	map_range(&self->bus, self->root[1], VA_O, 4096, 1);
	poke(self, 1, VA_O, zeros, sizeof(zeros));
	cmd_init(&c);
	op = cmd_op(&c);
#define EXPECT_OP(want) do {						\
		writes = self->bus.writes;				\
		run(self, 1, &c, &res);					\
		EXPECT_EQ(want, (int)res.status);			\
		EXPECT_EQ((want) == APU_STATUS_OK ? 1u : 0u, res.op_index); \
		if ((want) != APU_STATUS_OK) {				\
			EXPECT_EQ(0u, res.bytes_written);		\
			EXPECT_EQ(writes, self->bus.writes);		\
		}							\
	} while (0)

	/* conv: w_zp in [-128, 127] (signed 16 bits); reserved words. */
	conv_op(op, &conv, VA_IN, VA_OUT);
	apu_st16(op + offsetof(struct apu_op_conv2d, w_zp), -128);
	EXPECT_OP(APU_STATUS_OK);
	apu_st16(op + offsetof(struct apu_op_conv2d, w_zp), 127);
	EXPECT_OP(APU_STATUS_OK);
	apu_st16(op + offsetof(struct apu_op_conv2d, w_zp), 128);
	EXPECT_OP(APU_STATUS_BAD_PARAMS);
	apu_st16(op + offsetof(struct apu_op_conv2d, w_zp), -129);
	EXPECT_OP(APU_STATUS_BAD_PARAMS);
	apu_st16(op + offsetof(struct apu_op_conv2d, w_zp), 0x8000);
	EXPECT_OP(APU_STATUS_BAD_PARAMS);
	apu_st16(op + offsetof(struct apu_op_conv2d, w_zp), 0x7fff);
	EXPECT_OP(APU_STATUS_BAD_PARAMS);
	for (size_t b = offsetof(struct apu_op_conv2d, reserved); b < APU_OP_SIZE; b += 7) {
		conv_op(op, &conv, VA_IN, VA_OUT);
		op[b] = 0x10;
		EXPECT_OP(APU_STATUS_BAD_OP);
	}

	/* maxpool: as avgpool, flags and every reserved byte. */
	pool_op(op, APU_OP_MAXPOOL, &mpool, VA_A, VA_O);
	EXPECT_OP(APU_STATUS_OK);
	op[2] = 1;
	EXPECT_OP(APU_STATUS_BAD_OP);
	/* APU_OPF_ROUND_UINT8 is average pooling's alone, and its only flag. */
	op[2] = APU_OPF_ROUND_UINT8;
	EXPECT_OP(APU_STATUS_BAD_OP);
	pool_op(op, APU_OP_AVGPOOL, &mpool, VA_A, VA_O);
	op[2] = APU_OPF_ROUND_UINT8;
	EXPECT_OP(APU_STATUS_OK);
	op[2] = APU_OPF_ROUND_UINT8 | 1;
	EXPECT_OP(APU_STATUS_BAD_OP);
	pool_op(op, APU_OP_MAXPOOL, &mpool, VA_A, VA_O);
	for (size_t b = offsetof(struct apu_op_avgpool, reserved0); b < APU_OP_SIZE; b++) {
		if (b >= offsetof(struct apu_op_avgpool, act_min) &&
		    b < offsetof(struct apu_op_avgpool, reserved1))
			continue;
		if (b >= offsetof(struct apu_op_avgpool, input) &&
		    b < offsetof(struct apu_op_avgpool, reserved))
			continue;
		pool_op(op, APU_OP_MAXPOOL, &mpool, VA_A, VA_O);
		op[b] = 0x40;
		EXPECT_OP(APU_STATUS_BAD_OP);
	}
	pool_op(op, APU_OP_MAXPOOL, &mpool, VA_A, VA_O);
	apu_st16(op + offsetof(struct apu_op_avgpool, pad_top), 3);	/* covers a window */
	EXPECT_OP(APU_STATUS_BAD_PARAMS);

	/* LUT: count 1 .. 64 MiB, flags, reserved. */
	lut_op(op, 4096, VA_A, VA_T, VA_O);
	EXPECT_OP(APU_STATUS_OK);
	lut_op(op, 0, VA_A, VA_T, VA_O);
	EXPECT_OP(APU_STATUS_BAD_PARAMS);
	lut_op(op, APU_FW_MAX_TENSOR + 1, VA_A, VA_T, VA_O);
	EXPECT_OP(APU_STATUS_TOO_LARGE);
	lut_op(op, 0xffffffffu, VA_A, VA_T, VA_O);
	EXPECT_OP(APU_STATUS_TOO_LARGE);
	lut_op(op, 16, VA_A, VA_T, VA_O);
	op[3] = 0x80;
	EXPECT_OP(APU_STATUS_BAD_OP);
	for (size_t b = offsetof(struct apu_op_lut, reserved); b < APU_OP_SIZE; b += 5) {
		lut_op(op, 16, VA_A, VA_T, VA_O);
		op[b] = 1;
		EXPECT_OP(APU_STATUS_BAD_OP);
	}

	/* MUL: offsets, shift, zero point, clamp, period, count, reserved. */
#define MUL_BAD(field, val, want) do {					\
		ApuMulParams q = mp;					\
		q.field = val;						\
		mul_op(op, &q, VA_A, VA_A, VA_O);			\
		EXPECT_OP(want);					\
	} while (0)
	MUL_BAD(count, 480, APU_STATUS_OK);
	MUL_BAD(in1_offset, APU_ADD_OFFSET_MIN - 1, APU_STATUS_BAD_PARAMS);
	MUL_BAD(in1_offset, APU_ADD_OFFSET_MAX + 1, APU_STATUS_BAD_PARAMS);
	MUL_BAD(in2_offset, APU_ADD_OFFSET_MIN - 1, APU_STATUS_BAD_PARAMS);
	MUL_BAD(in2_offset, APU_ADD_OFFSET_MAX + 1, APU_STATUS_BAD_PARAMS);
	MUL_BAD(in2_offset, INT32_MIN, APU_STATUS_BAD_PARAMS);
	MUL_BAD(out_shift, APU_SHIFT_MAX + 1, APU_STATUS_BAD_PARAMS);
	MUL_BAD(out_shift, APU_SHIFT_MIN - 1, APU_STATUS_BAD_PARAMS);
	MUL_BAD(out_zp, 128, APU_STATUS_BAD_PARAMS);
	MUL_BAD(act_max, -121, APU_STATUS_BAD_PARAMS);
	MUL_BAD(act_min, -129, APU_STATUS_BAD_PARAMS);
	MUL_BAD(in2_period, 7, APU_STATUS_BAD_PARAMS);		/* 480 % 7 */
	MUL_BAD(in2_period, 481, APU_STATUS_BAD_PARAMS);
	MUL_BAD(in2_period, 960, APU_STATUS_BAD_PARAMS);
	MUL_BAD(in2_period, 0xffffffffu, APU_STATUS_BAD_PARAMS);
	MUL_BAD(in2_period, 480, APU_STATUS_OK);
	MUL_BAD(in2_period, 0, APU_STATUS_OK);
	MUL_BAD(count, 0, APU_STATUS_BAD_PARAMS);
	MUL_BAD(count, 0xfffffff0u, APU_STATUS_TOO_LARGE);
	mul_op(op, &mp, VA_A, VA_A, VA_O);
	op[1] = 1;	/* opcode 0x106 */
	EXPECT_OP(APU_STATUS_BAD_OP);
	mul_op(op, &mp, VA_A, VA_A, VA_O);
	op[2] = 2;
	EXPECT_OP(APU_STATUS_BAD_OP);
	for (size_t b = offsetof(struct apu_op_mul, reserved); b < APU_OP_SIZE; b += 3) {
		mul_op(op, &mp, VA_A, VA_A, VA_O);
		op[b] = 0x20;
		EXPECT_OP(APU_STATUS_BAD_OP);
	}
#undef MUL_BAD

	/* ADD: the period, and the reserved words after it. */
	add_op(op, &ap, VA_A, VA_A, VA_O);
	EXPECT_OP(APU_STATUS_OK);
	ap.in2_period = 13;
	add_op(op, &ap, VA_A, VA_A, VA_O);
	EXPECT_OP(APU_STATUS_BAD_PARAMS);
	ap.in2_period = 960;
	add_op(op, &ap, VA_A, VA_A, VA_O);
	EXPECT_OP(APU_STATUS_BAD_PARAMS);
	ap.in2_period = 40;
	for (size_t b = offsetof(struct apu_op_add, reserved0); b < APU_OP_SIZE; b += 3) {
		add_op(op, &ap, VA_A, VA_A, VA_O);
		op[b] = 4;
		EXPECT_OP(APU_STATUS_BAD_OP);
	}

	/* Opcodes past the last. */
	for (int code = APU_OP_MUL + 1; code < 16; code++) {
		mul_op(op, &mp, VA_A, VA_A, VA_O);
		apu_st16(op, code);
		EXPECT_OP(APU_STATUS_BAD_OP);
	}
#undef EXPECT_OP
}

/* The new ops under random corruption: always a status, never a crash. */
TEST_F(cp, mutated_quant_ops)
{
	ApuMulParams mp = { 480, 7, -127, 1 << 30, -9, -3, -120, 127, 40 };
	int counts[16] = { 0 };
	struct cmd good, c;
	ApuConvParams p = conv;
	static struct data d;
	ApuJobResult res;

	setup_conv(self, 1, &d, 1);
	map_range(&self->bus, self->root[1], VA_A, 8192, 0);
	map_range(&self->bus, self->root[1], VA_T, 4096, 0);
	map_range(&self->bus, self->root[1], VA_O, 8192, 1);
	p.w_zp = 9;
	cmd_init(&good);
	conv_op(cmd_op(&good), &p, VA_IN, VA_OUT);
	apu_st16(good.buf + 16 + offsetof(struct apu_op_conv2d, w_zp), 9);
	pool_op(cmd_op(&good), APU_OP_MAXPOOL, &mpool, VA_A, VA_O);
	lut_op(cmd_op(&good), 4096, VA_A, VA_T, VA_O);
	mul_op(cmd_op(&good), &mp, VA_A, VA_A + 1000, VA_O);
	run(self, 1, &good, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	srand(24);
	for (int n = 0; n < 3000; n++) {
		int flips = 1 + rand() % 4;

		c = good;
		for (int k = 0; k < flips; k++) {
			/* Mostly in the ops' fields, where the checks are. */
			int at = rand() % 3 ? 16 + rand() % (4 * APU_OP_SIZE) : rand() % cmd_size(&c);

			c.buf[at] ^= (uint8_t)(1 << (rand() % 8));
		}
		run(self, 1, &c, &res);
		ASSERT_LE(res.status, (uint32_t)APU_STATUS_TOO_LARGE);
		counts[res.status]++;
	}
	EXPECT_LT(0, counts[APU_STATUS_OK]);
	EXPECT_LT(0, counts[APU_STATUS_BAD_PARAMS]);
	EXPECT_LT(0, counts[APU_STATUS_BAD_OP]);
	EXPECT_LT(0, counts[APU_STATUS_MMU_FAULT]);
}

/* ---- rings ----------------------------------------------------------------- */

/*
 * An op whose engine working set is huge (16384 groups of one output
 * channel: 2.6 GiB) is refused with TOO_LARGE by the check, before the
 * job reads a tensor or the engine allocates anything: its tensors are
 * not even mapped here, and the job read only its command buffer.
 */
TEST_F(cp, huge_working_set_refused_before_anything)
{
	ApuConvParams huge = { 45, 45, 32768, 1, 1, 16384, 45, 45, 1, 1, 1, 1, 0, 0,
			       16384, 0, 0, -128, 127, false, 0 };
	ApuJobResult res;
	struct cmd c;

	map_range(&self->bus, self->root[2], VA_CMD, 4096, 0);
	cmd_init(&c);
	conv_op(cmd_op(&c), &huge, VA_IN, VA_OUT);
	run(self, 2, &c, &res);
	EXPECT_EQ(APU_STATUS_TOO_LARGE, (int)res.status);
	EXPECT_EQ(0u, res.op_index);
	EXPECT_EQ(16u + APU_OP_SIZE, res.bytes_read);
	EXPECT_EQ(0u, res.bytes_written);
}

/* Abort callbacks: stop from the second call on; never stop. */
static bool abort_second(void *opaque)
{
	return ++*(int *)opaque >= 2;
}

static bool abort_never(void *opaque)
{
	++*(int *)opaque;
	return false;
}

/*
 * A core reset must not wait for a long op: the abort callback is polled
 * inside the op (75 M MACs here), not only between ops. Told "stop" at
 * its second call (the first is before the op), the job ends ABORTED at
 * op 0 and writes nothing; never told, it polls along and completes.
 */
TEST_F(cp, long_op_aborts_mid_op)
{
	ApuConvParams p = { 64, 64, 32, 64, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1,
			    0, 0, -128, 127, false, 0 };
	static int8_t in[64 * 64 * 32], w[64 * 9 * 32];
	int32_t mult[64], shift[64], bias[64] = { 0 };
	uint64_t r = self->root[1], writes;
	ApuJobResult res;
	struct cmd c;
	int calls = 0;

	srand(11);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (int8_t)(rand() % 256 - 128);
	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (int8_t)(rand() % 255 - 127);
	for (int i = 0; i < 64; i++) {
		mult[i] = 1 << 30;
		shift[i] = -8;
	}
	map_range(&self->bus, r, VA_CMD, 4096, 0);
	map_range(&self->bus, r, VA_A, sizeof(in), 0);
	map_range(&self->bus, r, VA_W, sizeof(w), 0);
	map_range(&self->bus, r, VA_BIAS, sizeof(bias), 0);
	map_range(&self->bus, r, VA_MULT, sizeof(mult), 0);
	map_range(&self->bus, r, VA_SHIFT, sizeof(shift), 0);
	map_range(&self->bus, r, VA_O, 64 * 64 * 64, 1);
	poke(self, 1, VA_A, in, sizeof(in));
	poke(self, 1, VA_W, w, sizeof(w));
	poke(self, 1, VA_BIAS, bias, sizeof(bias));
	poke(self, 1, VA_MULT, mult, sizeof(mult));	/* little-endian host */
	poke(self, 1, VA_SHIFT, shift, sizeof(shift));
	cmd_init(&c);
	conv_op(cmd_op(&c), &p, VA_A, VA_O);
	poke(self, 1, VA_CMD, c.buf, cmd_size(&c));

	writes = self->bus.writes;
	apu_cp_run_job(&self->mmu, &self->core, 1, VA_CMD, cmd_size(&c), abort_second,
		       &calls, &res);
	EXPECT_EQ(APU_STATUS_ABORTED, (int)res.status);
	EXPECT_EQ(0u, res.op_index);
	EXPECT_EQ(2, calls);
	EXPECT_EQ(0u, res.bytes_written);
	EXPECT_EQ(writes, self->bus.writes);

	calls = 0;
	apu_cp_run_job(&self->mmu, &self->core, 1, VA_CMD, cmd_size(&c), abort_never,
		       &calls, &res);
	EXPECT_EQ(APU_STATUS_OK, (int)res.status);
	EXPECT_EQ(64u * 64 * 64, res.bytes_written);
	EXPECT_GE(calls, 10);
}

/*
 * Elementwise ops over 2^20 elements run in chunks, polling for an abort
 * between them: the outputs equal the engine's in one piece (a plumbing
 * check of the chunking, broadcast and not; the arithmetic is checked
 * against references in engine_test), and an abort stops the op.
 */
TEST_F(cp, elementwise_ops_run_in_chunks)
{
	enum { PERIOD = 7, N = PERIOD * 400000 };
	ApuMulParams mp = { N, 7, -127, 1 << 30, -9, -3, -120, 127, PERIOD };
	ApuAddParams ap = { N, 20, 5, 1 << 30, -1, -7, 1 << 30, -1, 1 << 30, -19, -5,
			    -128, 127, 0 };
	const uint64_t va_a = 0x8000000, va_b = 0x9000000, va_o = 0xa000000, va_t = 0xb000000;
	int8_t *a = malloc(N), *b = malloc(N), *got = malloc(N), *want = malloc(N);
	int8_t table[256];
	ApuJobResult res;
	struct cmd c;
	int calls = 0;

	ASSERT_TRUE(a && b && got && want);
	srand(29);
	for (int i = 0; i < N; i++) {
		a[i] = (int8_t)(rand() % 256 - 128);
		b[i] = (int8_t)(rand() % 256 - 128);
	}
	for (int i = 0; i < 256; i++)
		table[i] = (int8_t)(255 - i);
	map_range(&self->bus, self->root[1], VA_CMD, 4096, 0);
	map_range(&self->bus, self->root[1], va_a, N, 0);
	map_range(&self->bus, self->root[1], va_b, N, 0);
	map_range(&self->bus, self->root[1], va_o, N, 1);
	map_range(&self->bus, self->root[1], va_t, 256, 0);
	poke(self, 1, va_a, a, N);
	poke(self, 1, va_b, b, N);
	poke(self, 1, va_t, table, 256);

	cmd_init(&c);
	mul_op(cmd_op(&c), &mp, va_a, va_b, va_o);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	apu_mul(&mp, a, b, want);
	peek(self, 1, va_o, got, N);
	EXPECT_EQ(0, memcmp(got, want, N));

	add_op(c.buf + 16, &ap, va_a, va_b, va_o);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	apu_add(&ap, a, b, want);
	peek(self, 1, va_o, got, N);
	EXPECT_EQ(0, memcmp(got, want, N));

	lut_op(c.buf + 16, N, va_a, va_t, va_o);
	run(self, 1, &c, &res);
	ASSERT_EQ(APU_STATUS_OK, (int)res.status);
	apu_lut(N, a, table, want);
	peek(self, 1, va_o, got, N);
	EXPECT_EQ(0, memcmp(got, want, N));

	/* Stopped at its second poll: inside the op. */
	add_op(c.buf + 16, &ap, va_a, va_b, va_o);
	poke(self, 1, VA_CMD, c.buf, cmd_size(&c));
	apu_cp_run_job(&self->mmu, &self->core, 1, VA_CMD, cmd_size(&c), abort_second,
		       &calls, &res);
	EXPECT_EQ(APU_STATUS_ABORTED, (int)res.status);
	EXPECT_EQ(2, calls);
	EXPECT_EQ(0u, res.bytes_written);
	free(a);
	free(b);
	free(got);
	free(want);
}

#define VA_RING 0x7000000ull
#define VA_DONE 0x7100000ull

static void ring_entry(struct apu_ring_entry *e, uint64_t cmd, uint32_t size,
		       uint16_t asid, uint64_t seq)
{
	memset(e, 0, sizeof(*e));
	apu_st64((uint8_t *)&e->cmdbuf, cmd);
	apu_st32(&e->cmdbuf_size, size);
	apu_st16(&e->asid, asid);
	apu_st16(&e->flags, APU_RING_F_IRQ);
	apu_st64((uint8_t *)&e->seqno, seq);
	apu_st64((uint8_t *)&e->completion, VA_DONE);
}

TEST_F(cp, ring_entry_fetch_run_complete)
{
	static struct data d;
	struct apu_ring_entry e, got;
	struct apu_completion done;
	ApuJobResult res;
	struct cmd c;
	ApuFault f;

	setup_conv(self, 1, &d, 1);
	/* Address space 0, the driver's own, uses the tables of root[3]. */
	apu_bus_ctx_set(&self->bus, 0, self->root[3]);
	map_range(&self->bus, self->root[3], VA_RING, 4096, 0);
	map_range(&self->bus, self->root[3], VA_DONE, 4096, 1);

	cmd_init(&c);
	conv_op(cmd_op(&c), &conv, VA_IN, VA_OUT);
	poke(self, 1, VA_CMD, c.buf, cmd_size(&c));
	ring_entry(&e, VA_CMD, cmd_size(&c), 1, 0x1122334455667788ull);
	poke(self, 0, VA_RING + 64, &e, sizeof(e));

	ASSERT_EQ(0, apu_cp_fetch(&self->mmu, VA_RING + 64, &got, &f));
	EXPECT_EQ(0, memcmp(&e, &got, sizeof(e)));
	apu_cp_run_entry(&self->mmu, &self->core, &got, 0, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_OK, (int)res.status);
	ASSERT_EQ(0, apu_cp_complete(&self->mmu, &got, &res, &f));
	peek(self, 0, VA_DONE, &done, sizeof(done));
	EXPECT_EQ(0x1122334455667788ull, apu_ld64((uint8_t *)&done.seqno));
	EXPECT_EQ(0u, done.status);
	EXPECT_EQ(1u, done.op_index);
	EXPECT_EQ(res.cycles, apu_ld64((uint8_t *)&done.cycles));
	EXPECT_EQ(res.macs, apu_ld64((uint8_t *)&done.macs));
	EXPECT_EQ(res.bytes_read, apu_ld64((uint8_t *)&done.bytes_read));
	EXPECT_EQ(res.bytes_written, apu_ld64((uint8_t *)&done.bytes_written));

	/* Injected faults, without running the job. */
	apu_cp_run_entry(&self->mmu, &self->core, &got, 1u << APU_INJECT_FAIL_JOB,
			 NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_INJECTED, (int)res.status);
	EXPECT_EQ(0u, res.macs);
	apu_cp_run_entry(&self->mmu, &self->core, &got, 1u << APU_INJECT_MMU_FAULT,
			 NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_MMU_FAULT, (int)res.status);
	EXPECT_EQ(VA_CMD, res.fault_addr);
	EXPECT_EQ(APU_FAULT_INJECTED, (int)res.fault_flags);

	/* Reserved fields and unknown flags. */
	got.reserved[1] = 1;
	apu_cp_run_entry(&self->mmu, &self->core, &got, 0, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_BAD_CMDBUF, (int)res.status);
	got.reserved[1] = 0;
	got.reserved0 = 1;
	apu_cp_run_entry(&self->mmu, &self->core, &got, 0, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_BAD_CMDBUF, (int)res.status);
	got.reserved0 = 0;
	/* A write list without its flag. */
	apu_st32(&got.wlist_count, 1);
	apu_cp_run_entry(&self->mmu, &self->core, &got, 0, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_BAD_CMDBUF, (int)res.status);
	apu_st32(&got.wlist_count, 0);
	apu_st16(&got.flags, 0x8001);
	apu_cp_run_entry(&self->mmu, &self->core, &got, 0, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_BAD_CMDBUF, (int)res.status);

	/* A ring or completion the device cannot reach: a device error. */
	EXPECT_EQ(-1, apu_cp_fetch(&self->mmu, VA_RING + 4096, &got, &f));
	EXPECT_EQ(VA_RING + 4096, f.addr);
	apu_st64((uint8_t *)&e.completion, VA_RING);	/* read-only */
	EXPECT_EQ(-1, apu_cp_complete(&self->mmu, &e, &res, &f));
	EXPECT_EQ(APU_FAULT_WRITE | APU_FAULT_READ_ONLY, (int)f.flags);
}

#define VA_WL 0x7200000ull

/* Write list @r[0..n) at VA_WL (address space 0) and the entry's fields. */
static void set_wlist(FIXTURE_DATA(cp) *self, struct apu_ring_entry *e,
		      const uint64_t (*r)[2], uint32_t n)
{
	struct apu_wrange w[8];

	for (uint32_t i = 0; i < n; i++) {
		apu_st64((uint8_t *)&w[i].start, r[i][0]);
		apu_st64((uint8_t *)&w[i].end, r[i][1]);
	}
	if (n)
		poke(self, 0, VA_WL, w, n * sizeof(w[0]));
	apu_st16(&e->flags, APU_RING_F_IRQ | APU_RING_F_WLIST);
	apu_st64((uint8_t *)&e->wlist, VA_WL);
	apu_st32(&e->wlist_count, n);
}

/*
 * With APU_RING_F_WLIST a job writes only inside its write list, although
 * every page it writes is mapped writable: the output inside a range is
 * written (and matches the plain engine's), outside or across a range's
 * end the job faults (write, not listed) at the first byte it may not
 * write, and writes nothing there. Bad lists fail the job.
 */
TEST_F(cp, write_list_limits_what_a_job_writes)
{
	static struct data d;
	const uint64_t nout = sizeof(d.out);
	struct apu_ring_entry e;
	ApuJobResult res;
	struct cmd c;
	int8_t got[sizeof(d.out)], pattern[sizeof(d.out)];
	uint64_t r3[3][2], other[1][2], half[1][2], rev[1][2];

	setup_conv(self, 1, &d, 1);
	apu_bus_ctx_set(&self->bus, 0, self->root[3]);
	map_range(&self->bus, self->root[3], VA_WL, 4096, 0);
	cmd_init(&c);
	conv_op(cmd_op(&c), &conv, VA_IN, VA_OUT);
	poke(self, 1, VA_CMD, c.buf, cmd_size(&c));
	ring_entry(&e, VA_CMD, cmd_size(&c), 1, 1);
	memset(pattern, 0x77, sizeof(pattern));

	r3[0][0] = VA_IN;
	r3[0][1] = VA_IN + 64;
	r3[1][0] = VA_OUT;
	r3[1][1] = VA_OUT + nout;
	r3[2][0] = VA_OUT2;
	r3[2][1] = VA_OUT2 + nout;
	other[0][0] = VA_OUT2;
	other[0][1] = VA_OUT2 + nout;
	half[0][0] = VA_OUT;
	half[0][1] = VA_OUT + nout / 2;
	rev[0][0] = VA_OUT + nout;
	rev[0][1] = VA_OUT;

	/* The output's range, among others: written. */
	poke(self, 1, VA_OUT, pattern, nout);
	set_wlist(self, &e, (const uint64_t (*)[2])r3, 3);
	apu_cp_run_entry(&self->mmu, &self->core, &e, 0, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_OK, (int)res.status);
	peek(self, 1, VA_OUT, got, nout);
	EXPECT_EQ(0, memcmp(got, d.out, nout));
	/* An empty list: no write at all. */
	poke(self, 1, VA_OUT, pattern, nout);
	set_wlist(self, &e, NULL, 0);
	apu_cp_run_entry(&self->mmu, &self->core, &e, 0, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_MMU_FAULT, (int)res.status);
	EXPECT_EQ(VA_OUT, res.fault_addr);
	EXPECT_EQ(APU_FAULT_WRITE | APU_FAULT_NOT_LISTED, (int)res.fault_flags);
	EXPECT_EQ(0u, res.bytes_written);
	peek(self, 1, VA_OUT, got, nout);
	EXPECT_EQ(0, memcmp(got, pattern, nout));
	/* Only another buffer: the same. */
	set_wlist(self, &e, (const uint64_t (*)[2])other, 1);
	apu_cp_run_entry(&self->mmu, &self->core, &e, 0, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_MMU_FAULT, (int)res.status);
	EXPECT_EQ(VA_OUT, res.fault_addr);
	/* Half the output: faults at the range's end, writes nothing past it. */
	set_wlist(self, &e, (const uint64_t (*)[2])half, 1);
	apu_cp_run_entry(&self->mmu, &self->core, &e, 0, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_MMU_FAULT, (int)res.status);
	EXPECT_EQ(VA_OUT + nout / 2, res.fault_addr);
	peek(self, 1, VA_OUT, got, nout);
	EXPECT_EQ(0, memcmp(got + nout / 2, pattern + nout / 2, nout - nout / 2));
	/* Bad lists: a range ending before it starts, too long, unreadable. */
	set_wlist(self, &e, (const uint64_t (*)[2])rev, 1);
	apu_cp_run_entry(&self->mmu, &self->core, &e, 0, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_BAD_CMDBUF, (int)res.status);
	apu_st32(&e.wlist_count, APU_WLIST_MAX + 1);
	apu_cp_run_entry(&self->mmu, &self->core, &e, 0, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_BAD_CMDBUF, (int)res.status);
	apu_st32(&e.wlist_count, 1);
	apu_st64((uint8_t *)&e.wlist, VA_WL + 8192);	/* not mapped */
	apu_cp_run_entry(&self->mmu, &self->core, &e, 0, NULL, NULL, &res);
	EXPECT_EQ(APU_STATUS_MMU_FAULT, (int)res.status);
	EXPECT_EQ(VA_WL + 8192, res.fault_addr);
}

TEST_HARNESS_MAIN
