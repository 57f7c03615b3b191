/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * apu: the device MMU and address spaces (apu_mmu.c).
 *
 * Copyright (c) 2026 The apu authors
 */
#ifndef __APU_MMU_H__
#define __APU_MMU_H__

#include <linux/kref.h>
#include <linux/types.h>

#include "apu_device.h"

struct drm_mm_node;
struct sg_table;

int apu_mmu_init(struct apu_device *adev);
void apu_mmu_hw_init(struct apu_device *adev);
struct apu_vm *apu_vm_create(struct apu_device *adev, bool kernel);
void apu_vm_release(struct kref *kref);
int apu_vm_map_sgt(struct apu_vm *vm, struct drm_mm_node *node,
		   struct sg_table *sgt, u64 size, bool writable);
int apu_vm_map_dma(struct apu_vm *vm, struct drm_mm_node *node,
		   dma_addr_t dma, u64 size, bool writable);
void apu_vm_unmap(struct apu_vm *vm, struct drm_mm_node *node);
void apu_mmu_release(struct apu_device *adev);

static inline struct apu_vm *apu_vm_get(struct apu_vm *vm)
{
	kref_get(&vm->refcount);
	return vm;
}

static inline void apu_vm_put(struct apu_vm *vm)
{
	if (vm)
		kref_put(&vm->refcount, apu_vm_release);
}

#endif /* __APU_MMU_H__ */
