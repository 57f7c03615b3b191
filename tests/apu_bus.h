/* SPDX-License-Identifier: MIT */
/*
 * A simulated bus for host tests of the firmware's MMU and command
 * processor: a flat array standing for guest RAM behind ApuHwOps, a bump
 * allocator of pages, and the device MMU's context table and 3-level page
 * tables built the way the driver builds them (docs/hw.md). Addresses past
 * the array do not decode (-1, as unmapped memory on the real bus).
 *
 * Used by tests/host/cp_test.c and tests/fuzz/fuzz_cp.c.
 */
#ifndef APU_TEST_BUS_H
#define APU_TEST_BUS_H

#include <stdint.h>
#include <string.h>

#include "hw/apu_fw.h"
#include "hw/apu_le.h"

struct apu_bus {
	uint8_t *mem;
	uint64_t size;		/* bytes of RAM, from bus address 0 */
	uint64_t next;		/* bump allocator for pages */
	uint64_t ctx_table;
	uint64_t writes;	/* successful dma_write calls */
};

static inline int apu_bus_read(void *opaque, uint64_t addr, void *buf, uint64_t len)
{
	struct apu_bus *b = opaque;

	if (addr >= b->size || len > b->size - addr)
		return -1;
	memcpy(buf, b->mem + addr, len);
	return 0;
}

static inline int apu_bus_write(void *opaque, uint64_t addr, const void *buf, uint64_t len)
{
	struct apu_bus *b = opaque;

	if (addr >= b->size || len > b->size - addr)
		return -1;
	memcpy(b->mem + addr, buf, len);
	b->writes++;
	return 0;
}

static const ApuHwOps apu_bus_ops = { apu_bus_read, apu_bus_write };

/* A zeroed page, or 0 when RAM is used up (page 0 is never handed out). */
static inline uint64_t apu_bus_page_alloc(struct apu_bus *b)
{
	uint64_t p = b->next;

	if (p + APU_MMU_PAGE_SIZE > b->size)
		return 0;
	b->next += APU_MMU_PAGE_SIZE;
	memset(b->mem + p, 0, APU_MMU_PAGE_SIZE);
	return p;
}

static inline void apu_bus_ctx_set(struct apu_bus *b, int asid, uint64_t root)
{
	apu_st64(b->mem + b->ctx_table + asid * 16, root | APU_CTX_VALID);
}

/*
 * Map one page at @va in the context whose root table is @root, allocating
 * the level-1 and level-2 tables it needs; 0, or -1 when RAM is used up.
 */
static inline int apu_bus_map_page(struct apu_bus *b, uint64_t root, uint64_t va,
				   uint64_t pa, int writable)
{
	uint64_t table = root;

	for (int level = 0; level < APU_MMU_LEVELS; level++) {
		int sh = APU_MMU_PAGE_SHIFT + APU_MMU_LEVEL_BITS * (APU_MMU_LEVELS - 1 - level);
		uint8_t *e = b->mem + table + ((va >> sh) & 511) * 8;

		if (level == APU_MMU_LEVELS - 1) {
			apu_st64(e, pa | APU_PTE_VALID | (writable ? APU_PTE_WRITE : 0));
			return 0;
		}
		if (!(apu_ld64(e) & APU_PTE_VALID)) {
			uint64_t t = apu_bus_page_alloc(b);

			if (!t)
				return -1;
			apu_st64(e, t | APU_PTE_VALID);
		}
		table = apu_ld64(e) & APU_PTE_ADDR_MASK;
	}
	return -1;
}

#endif /* APU_TEST_BUS_H */
