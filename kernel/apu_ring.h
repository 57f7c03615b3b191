/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * apu: rings, completion, recovery and interrupts (apu_ring.c).
 *
 * Copyright (c) 2026 The apu authors
 */
#ifndef __APU_RING_H__
#define __APU_RING_H__

#include <linux/interrupt.h>
#include <linux/types.h>

#include "apu_device.h"

struct dma_fence;

int apu_cores_init(struct apu_device *adev);
void apu_cores_hw_init(struct apu_device *adev);
void apu_cores_cancel(struct apu_device *adev);
void apu_cores_dma_release(struct apu_device *adev);
void apu_core_reset(struct apu_core *core);
unsigned int apu_vm_posted_fences(struct apu_vm *vm,
				  struct dma_fence *fences[APU_DRV_MAX_CORES]);
irqreturn_t apu_irq_core(int irq, void *arg);
irqreturn_t apu_irq_error(int irq, void *arg);
irqreturn_t apu_irq_shared(int irq, void *arg);

#endif /* __APU_RING_H__ */
