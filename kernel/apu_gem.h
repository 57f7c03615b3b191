/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Copyright (c) 2026 The apu authors
 */
#ifndef __APU_GEM_H__
#define __APU_GEM_H__

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_mm.h>

struct apu_bo_hold;
struct apu_device;
struct sg_table;
struct apu_vm;

/**
 * struct apu_bo - a buffer object
 * @base: the shmem GEM object
 * @flags: DRM_APU_BO_* creation flags
 * @maps_lock: protects @maps and the mappings' @handles
 * @maps: its mappings, one per address space of a file holding a handle
 * @dma_node: in &apu_device.dma_bos, under its dma_lock (unmapped at removal)
 * @sgt: the BO's pages mapped for the device (BOs of this device; an
 *	 imported BO uses its attachment's table): made at the first mapping,
 *	 freed with the BO or at the device's removal; under the reservation
 * @pinned: the pages are pinned, from the first mapping to the BO's free
 *	    (under the reservation)
 *
 * The shmem helper's own &drm_gem_shmem_object.sgt is never used for
 * BOs of this device: the driver owns the table it maps, so the removal
 * can unmap it while the pages stay for CPU mappings.
 */
struct apu_bo {
	struct drm_gem_shmem_object base;
	u32 flags;
	struct mutex maps_lock; /* protects @maps and their @handles */
	struct list_head maps;
	struct list_head dma_node; /* in &apu_device.dma_bos, under its dma_lock */
	struct sg_table *sgt; /* under base.base.resv */
	bool pinned; /* under base.base.resv */
};

/**
 * struct apu_bo_map - a BO mapped in one address space
 * @refcount: one for the file's handles, one per job using it
 * @node_bo: in &apu_bo.maps
 * @bo: the BO; alive while the mapping is (handles and jobs hold both)
 * @hold: what keeps the BO's pages when the mapping goes while jobs of
 *	  @vm are on the device (apu_bo_hold_pages())
 * @vm: the address space, referenced
 * @node: the device address range (start is the BO's device address)
 * @handles: handles the address space's file holds on the BO
 */
struct apu_bo_map {
	struct kref refcount;
	struct list_head node_bo;
	struct apu_bo *bo;
	struct apu_bo_hold *hold;
	struct apu_vm *vm;
	struct drm_mm_node node;
	u32 handles;
};

void apu_gem_dma_release(struct apu_device *adev);
int apu_gem_init(void);
void apu_gem_exit(void);

static inline struct apu_bo *to_apu_bo(struct drm_gem_object *obj)
{
	return container_of(to_drm_gem_shmem_obj(obj), struct apu_bo, base);
}

struct drm_gem_object *apu_gem_create_object(struct drm_device *drm, size_t size);
struct apu_bo_map *apu_bo_map_get(struct apu_bo *bo, struct apu_vm *vm);
void apu_bo_map_put(struct apu_bo_map *map);
struct apu_bo *apu_bo_lookup_map(struct drm_file *file, u32 handle,
				 struct apu_bo_map **map);

#endif /* __APU_GEM_H__ */
