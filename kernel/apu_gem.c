// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: buffer objects.
 *
 * BOs are shmem GEM objects. A BO is mapped in the device address space of
 * every file that holds a handle to it: the mapping is made when the file
 * gets its handle (GEM .open: creation, PRIME import) and its last
 * reference dropped when the file closes the handle (GEM .close). Jobs
 * take their own references on the mappings they use, so a buffer stays
 * mapped while a job that names it runs, even if its handle is closed.
 * A buffer unmapped while other jobs of its address space are on the
 * device keeps its pages until they end (apu_bo_hold_pages()).
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/dma-fence.h>
#include <linux/dma-resv.h>
#include <linux/overflow.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_print.h>
#include <drm/drm_utils.h>
#include <drm/apu_accel.h>

#include "apu_device.h"
#include "apu_gem.h"
#include "apu_mmu.h"
#include "apu_ring.h"	/* apu_vm_posted_fences() */

static struct apu_bo_map *apu_bo_find_map_locked(struct apu_bo *bo,
						 struct apu_vm *vm)
{
	struct apu_bo_map *map;

	lockdep_assert_held(&bo->maps_lock);
	list_for_each_entry(map, &bo->maps, node_bo)
		if (map->vm == vm)
			return map;
	return NULL;
}

/**
 * apu_bo_map_get() - the mapping of a BO in an address space, referenced
 * @bo: the BO
 * @vm: the address space
 *
 * Return: the mapping with a new reference, or NULL when @vm's file holds
 * no handle to @bo (or is still getting one).
 */
struct apu_bo_map *apu_bo_map_get(struct apu_bo *bo, struct apu_vm *vm)
{
	struct apu_bo_map *map;

	mutex_lock(&bo->maps_lock);
	map = apu_bo_find_map_locked(bo, vm);
	if (map)
		kref_get(&map->refcount);
	mutex_unlock(&bo->maps_lock);
	return map;
}

/**
 * struct apu_bo_hold_cb - one fence a hold waits for
 * @cb: its callback
 * @fence: the fence, referenced
 * @hold: the hold
 */
struct apu_bo_hold_cb {
	struct dma_fence_cb cb;
	struct dma_fence *fence;
	struct apu_bo_hold *hold;
};

/**
 * struct apu_bo_hold - a BO whose pages are kept until jobs end
 * @work: drops the BO (fence callbacks run where no GEM object may be freed)
 * @obj: the BO, referenced
 * @drm: its DRM device, referenced: the BO's last reference may go in
 *	 @work after the device was removed, and freeing it needs the device
 * @pending: fences not signalled yet, plus one while callbacks are added
 * @num: entries of @w in use
 * @w: a callback per core at most
 *
 * Allocated with its mapping (apu_bo_open()), where failing is allowed:
 * it is used when the mapping goes, which may be in a job's free_job
 * during a core's recovery, where allocating could wait on reclaim that
 * waits on this very recovery.
 */
struct apu_bo_hold {
	struct work_struct work;
	struct drm_gem_object *obj;
	struct drm_device *drm;
	atomic_t pending;
	unsigned int num;
	struct apu_bo_hold_cb w[APU_DRV_MAX_CORES];
};

/* Runs the holds' ends; drained at module exit (apu_gem_exit()). */
static struct workqueue_struct *apu_gem_wq;

static void apu_bo_hold_work(struct work_struct *work)
{
	struct apu_bo_hold *hold = container_of(work, struct apu_bo_hold, work);
	struct drm_device *drm = hold->drm;
	unsigned int i;

	for (i = 0; i < hold->num; i++)
		dma_fence_put(hold->w[i].fence);
	drm_gem_object_put(hold->obj);
	kfree(hold);
	drm_dev_put(drm);
}

static void apu_bo_hold_drop(struct apu_bo_hold *hold)
{
	if (atomic_dec_and_test(&hold->pending))
		queue_work(apu_gem_wq, &hold->work);
}

static void apu_bo_hold_cb(struct dma_fence *fence, struct dma_fence_cb *cb)
{
	apu_bo_hold_drop(container_of(cb, struct apu_bo_hold_cb, cb)->hold);
}

/*
 * @map's range was just unmapped from its address space, but jobs of that
 * address space in the rings may have translated addresses in it before
 * (the device translates page by page as it moves data, and a job can
 * reach any buffer of its file, named or not): keep the BO, and so its
 * pages, until those jobs end, with the hold allocated for it. Jobs posted
 * later fault on the cleared entries. Process context; takes the cores'
 * locks.
 */
static void apu_bo_hold_pages(struct apu_bo_map *map)
{
	struct drm_gem_object *obj = &map->bo->base.base;
	struct apu_bo_hold *hold = map->hold;
	struct dma_fence *fences[APU_DRV_MAX_CORES];
	unsigned int n, i;

	might_sleep();
	map->hold = NULL;
	n = apu_vm_posted_fences(map->vm, fences);
	if (!n) {
		kfree(hold);
		return;
	}
	INIT_WORK(&hold->work, apu_bo_hold_work);
	drm_gem_object_get(obj);
	hold->obj = obj;
	drm_dev_get(obj->dev);
	hold->drm = obj->dev;
	hold->num = n;
	atomic_set(&hold->pending, n + 1);
	for (i = 0; i < n; i++) {
		hold->w[i].fence = fences[i];
		hold->w[i].hold = hold;
		if (dma_fence_add_callback(fences[i], &hold->w[i].cb, apu_bo_hold_cb))
			apu_bo_hold_drop(hold);	/* signalled already */
	}
	apu_bo_hold_drop(hold);
}

static void apu_bo_map_release(struct kref *kref)
{
	struct apu_bo_map *map = container_of(kref, struct apu_bo_map, refcount);

	apu_vm_unmap(map->vm, &map->node);
	apu_bo_hold_pages(map);
	apu_vm_put(map->vm);
	kfree(map);
}

/**
 * apu_gem_init() - module init: the workqueue of the BOs' page holds
 *
 * Return: 0 or -ENOMEM.
 */
int apu_gem_init(void)
{
	apu_gem_wq = alloc_workqueue("apu-gem", WQ_UNBOUND, 0);
	return apu_gem_wq ? 0 : -ENOMEM;
}

/**
 * apu_gem_exit() - module exit, after every device is gone: drop the last
 * holds (their jobs ended when the devices were removed)
 */
void apu_gem_exit(void)
{
	destroy_workqueue(apu_gem_wq);
}

/**
 * apu_bo_map_put() - drop a reference taken by apu_bo_map_get()
 * @map: the mapping
 */
void apu_bo_map_put(struct apu_bo_map *map)
{
	kref_put(&map->refcount, apu_bo_map_release);
}

/*
 * The BO's pages as the device sees them: an imported BO's table is its
 * attachment's (the shmem helper keeps it); a BO of this device gets its
 * pages pinned and mapped once, into a table it owns (&apu_bo.sgt).
 */
static struct sg_table *apu_bo_get_sgt(struct apu_bo *bo)
{
	struct drm_gem_object *obj = &bo->base.base;
	struct sg_table *sgt;
	int ret;

	if (drm_gem_is_imported(obj))
		return drm_gem_shmem_get_pages_sgt(&bo->base);

	ret = dma_resv_lock_interruptible(obj->resv, NULL);
	if (ret)
		return ERR_PTR(ret);
	if (bo->sgt)
		goto out;
	if (!bo->pinned) {
		ret = drm_gem_shmem_pin_locked(&bo->base);
		if (ret)
			goto err;
		bo->pinned = true;
	}
	sgt = drm_gem_shmem_get_sg_table(&bo->base);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto err;
	}
	ret = dma_map_sgtable(obj->dev->dev, sgt, DMA_BIDIRECTIONAL, 0);
	if (ret) {
		sg_free_table(sgt);
		kfree(sgt);
		goto err;
	}
	bo->sgt = sgt;
out:
	sgt = bo->sgt;
	dma_resv_unlock(obj->resv);
	return sgt;

err:
	dma_resv_unlock(obj->resv);
	return ERR_PTR(ret);
}

/* GEM .open: a file got a handle; map the BO in its address space. */
static int apu_bo_open(struct drm_gem_object *obj, struct drm_file *file)
{
	struct apu_file *afile = file->driver_priv;
	struct apu_bo *bo = to_apu_bo(obj);
	struct apu_bo_map *map;
	struct sg_table *sgt;
	int ret = 0, idx;

	/*
	 * Mapping the pages for the device and writing its page tables needs
	 * the device: removal waits for us, or we see it gone (BO_CREATE and
	 * PRIME imports racing removal).
	 */
	if (!drm_dev_enter(obj->dev, &idx))
		return -ENODEV;
	mutex_lock(&bo->maps_lock);
	map = apu_bo_find_map_locked(bo, afile->vm);
	if (map) {
		map->handles++;
		goto out;
	}

	sgt = apu_bo_get_sgt(bo);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto out;
	}
	if (!drm_gem_is_imported(obj)) {
		struct apu_device *adev = to_apu_device(obj->dev);

		mutex_lock(&adev->dma_lock);
		if (list_empty(&bo->dma_node))
			list_add_tail(&bo->dma_node, &adev->dma_bos);
		mutex_unlock(&adev->dma_lock);
	}
	map = kzalloc(sizeof(*map), GFP_KERNEL_ACCOUNT);
	if (!map) {
		ret = -ENOMEM;
		goto out;
	}
	map->hold = kzalloc(sizeof(*map->hold), GFP_KERNEL_ACCOUNT);
	if (!map->hold) {
		kfree(map);
		ret = -ENOMEM;
		goto out;
	}
	kref_init(&map->refcount);
	map->bo = bo;
	map->vm = apu_vm_get(afile->vm);
	map->handles = 1;
	ret = apu_vm_map_sgt(map->vm, &map->node, sgt, obj->size,
			     !(bo->flags & DRM_APU_BO_DEVICE_READ_ONLY));
	if (ret) {
		apu_vm_put(map->vm);
		kfree(map->hold);
		kfree(map);
		goto out;
	}
	list_add_tail(&map->node_bo, &bo->maps);
out:
	mutex_unlock(&bo->maps_lock);
	drm_dev_exit(idx);
	return ret;
}

/* GEM .close: a file closed its handle. */
static void apu_bo_close(struct drm_gem_object *obj, struct drm_file *file)
{
	struct apu_file *afile = file->driver_priv;
	struct apu_bo *bo = to_apu_bo(obj);
	struct apu_bo_map *map;

	mutex_lock(&bo->maps_lock);
	map = apu_bo_find_map_locked(bo, afile->vm);
	if (map && --map->handles == 0)
		list_del(&map->node_bo);
	else
		map = NULL;
	mutex_unlock(&bo->maps_lock);
	if (map)
		apu_bo_map_put(map);
}

/* Undo apu_bo_get_sgt()'s DMA mapping; the pages stay pinned. */
static void apu_bo_dma_unmap_locked(struct apu_bo *bo)
{
	struct drm_gem_object *obj = &bo->base.base;

	dma_resv_assert_held(obj->resv);
	if (!bo->sgt)
		return;
	dma_unmap_sgtable(obj->dev->dev, bo->sgt, DMA_BIDIRECTIONAL, 0);
	sg_free_table(bo->sgt);
	kfree(bo->sgt);
	bo->sgt = NULL;
}

/**
 * apu_gem_dma_release() - unmap every BO's pages for the device (its removal)
 * @adev: the device, reset and unplugged: no job runs, no ioctl enters
 *
 * BOs can outlive the removal (files keep their handles until closed), but
 * nothing may stay mapped for a device its driver left. The pages stay
 * (CPU mappings keep working); freeing a BO later finds no device mapping
 * to undo. Imported BOs' mappings belong to their dma-buf attachment and go
 * with it.
 */
void apu_gem_dma_release(struct apu_device *adev)
{
	struct apu_bo *bo, *tmp;
	LIST_HEAD(bos);

	/*
	 * The BOs are unmapped after dma_lock is dropped: unmapping takes a
	 * BO's reservation, and a BO's last reference can be dropped (which
	 * takes dma_lock, apu_bo_free()) with another BO's reservation held
	 * (drm_exec_fini()). A BO being freed already is left to its free,
	 * which unmaps it.
	 */
	mutex_lock(&adev->dma_lock);
	list_for_each_entry_safe(bo, tmp, &adev->dma_bos, dma_node) {
		if (kref_get_unless_zero(&bo->base.base.refcount))
			list_move_tail(&bo->dma_node, &bos);
		else
			list_del_init(&bo->dma_node);
	}
	mutex_unlock(&adev->dma_lock);
	list_for_each_entry_safe(bo, tmp, &bos, dma_node) {
		list_del_init(&bo->dma_node);
		dma_resv_lock(bo->base.base.resv, NULL);
		apu_bo_dma_unmap_locked(bo);
		dma_resv_unlock(bo->base.base.resv);
		drm_gem_object_put(&bo->base.base);
	}
}

static void apu_bo_free(struct drm_gem_object *obj)
{
	struct apu_bo *bo = to_apu_bo(obj);
	struct apu_device *adev = to_apu_device(obj->dev);

	mutex_lock(&adev->dma_lock);
	list_del(&bo->dma_node);
	mutex_unlock(&adev->dma_lock);
	drm_WARN_ON(obj->dev, !list_empty(&bo->maps));
	if (bo->pinned) {
		dma_resv_lock(obj->resv, NULL);
		apu_bo_dma_unmap_locked(bo);
		drm_gem_shmem_unpin_locked(&bo->base);
		dma_resv_unlock(obj->resv);
	}
	mutex_destroy(&bo->maps_lock);
	drm_gem_shmem_free(&bo->base);
}

static const struct drm_gem_object_funcs apu_bo_funcs = {
	.free = apu_bo_free,
	.open = apu_bo_open,
	.close = apu_bo_close,
	.print_info = drm_gem_shmem_object_print_info,
	.pin = drm_gem_shmem_object_pin,
	.unpin = drm_gem_shmem_object_unpin,
	.get_sg_table = drm_gem_shmem_object_get_sg_table,
	.vmap = drm_gem_shmem_object_vmap,
	.vunmap = drm_gem_shmem_object_vunmap,
	.mmap = drm_gem_shmem_object_mmap,
	.vm_ops = &drm_gem_shmem_vm_ops,
};

/**
 * apu_gem_create_object() - &drm_driver.gem_create_object: allocate an
 * &struct apu_bo for the shmem helpers (creation and PRIME import)
 * @drm: the DRM device
 * @size: bytes
 *
 * Return: the GEM object or an ERR_PTR.
 */
struct drm_gem_object *apu_gem_create_object(struct drm_device *drm, size_t size)
{
	struct apu_bo *bo;

	bo = kzalloc(sizeof(*bo), GFP_KERNEL);
	if (!bo)
		return ERR_PTR(-ENOMEM);
	bo->base.base.funcs = &apu_bo_funcs;
	bo->base.map_wc = false;
	mutex_init(&bo->maps_lock);
	INIT_LIST_HEAD(&bo->maps);
	INIT_LIST_HEAD(&bo->dma_node);
	return &bo->base.base;
}

/**
 * apu_bo_lookup_map() - look up a handle of @file and its mapping
 * @file: the DRM file
 * @handle: GEM handle
 * @map: receives the mapping, referenced
 *
 * Return: the BO, referenced, or NULL for a handle @file does not hold.
 */
struct apu_bo *apu_bo_lookup_map(struct drm_file *file, u32 handle,
				 struct apu_bo_map **map)
{
	struct apu_file *afile = file->driver_priv;
	struct drm_gem_object *obj;

	obj = drm_gem_object_lookup(file, handle);
	if (!obj)
		return NULL;
	*map = apu_bo_map_get(to_apu_bo(obj), afile->vm);
	if (!*map) {
		drm_gem_object_put(obj);
		return NULL;
	}
	return to_apu_bo(obj);
}

int apu_ioctl_bo_create(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct apu_file *afile = file->driver_priv;
	struct drm_apu_bo_create *args = data;
	struct drm_gem_shmem_object *shmem;
	struct apu_bo_map *map;
	struct apu_bo *bo;
	u32 handle;
	int ret, idx;

	if (args->flags & ~DRM_APU_BO_FLAGS) {
		drm_dbg_driver(drm, "bo_create: unknown flags %#x\n",
			       args->flags & ~DRM_APU_BO_FLAGS);
		return -EINVAL;
	}
	if (!args->size) {
		drm_dbg_driver(drm, "bo_create: size 0\n");
		return -EINVAL;
	}
	if (args->size > APU_BO_MAX_SIZE) {
		drm_dbg_driver(drm, "bo_create: size %llu over %llu\n",
			       args->size, APU_BO_MAX_SIZE);
		return -E2BIG;
	}
	if (!drm_dev_enter(drm, &idx)) {
		drm_dbg_driver(drm, "bo_create: the device is gone\n");
		return -ENODEV;
	}

	shmem = drm_gem_shmem_create(drm, PAGE_ALIGN(args->size));
	if (IS_ERR(shmem)) {
		ret = PTR_ERR(shmem);
		drm_dbg_driver(drm, "bo_create: no BO of %llu bytes: %d\n",
			       args->size, ret);
		goto out_exit;
	}
	bo = to_apu_bo(&shmem->base);
	bo->flags = args->flags;

	/*
	 * Maps the BO in the caller's address space, through apu_bo_open().
	 * From here on another thread of the file can close the handle (they
	 * are predictable) and drop the handle's reference: the creation
	 * reference keeps @bo alive until we are done with it.
	 */
	ret = drm_gem_handle_create(file, &shmem->base, &handle);
	if (ret)
		goto out_put;

	map = apu_bo_map_get(bo, afile->vm);
	if (!map) {
		/* Another thread closed the new handle already. */
		drm_dbg_driver(drm, "bo_create: handle %u closed by another thread\n",
			       handle);
		ret = -ENOENT;
		goto out_put;
	}
	args->handle = handle;
	args->size = shmem->base.size;
	args->device_addr = map->node.start;
	apu_bo_map_put(map);
out_put:
	drm_gem_object_put(&shmem->base);
out_exit:
	drm_dev_exit(idx);
	return ret;
}

int apu_ioctl_bo_info(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_apu_bo_info *args = data;
	struct apu_bo_map *map;
	struct apu_bo *bo;
	int ret;

	bo = apu_bo_lookup_map(file, args->handle, &map);
	if (!bo) {
		drm_dbg_driver(drm, "bo_info: no BO of handle %u\n", args->handle);
		return -ENOENT;
	}

	ret = drm_gem_create_mmap_offset(&bo->base.base);
	if (!ret) {
		args->flags = bo->flags;
		args->size = bo->base.base.size;
		args->device_addr = map->node.start;
		args->mmap_offset = drm_vma_node_offset_addr(&bo->base.base.vma_node);
	}
	apu_bo_map_put(map);
	drm_gem_object_put(&bo->base.base);
	return ret;
}

int apu_ioctl_bo_wait(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_apu_bo_wait *args = data;
	struct drm_gem_object *obj;
	unsigned long timeout = drm_timeout_abs_to_jiffies(args->timeout_ns);
	long ret;

	if (args->flags) {
		drm_dbg_driver(drm, "bo_wait: unknown flags %#x\n", args->flags);
		return -EINVAL;
	}
	/*
	 * Not drm_gem_dma_resv_wait(): it answers -EINVAL for an unknown
	 * handle, and the UAPI documents -ENOENT (uapi_neg_test checks it).
	 * The rest is the same: every fence (DMA_RESV_USAGE_READ), -ETIME.
	 */
	obj = drm_gem_object_lookup(file, args->handle);
	if (!obj) {
		drm_dbg_driver(drm, "bo_wait: no BO of handle %u\n", args->handle);
		return -ENOENT;
	}

	ret = dma_resv_wait_timeout(obj->resv, DMA_RESV_USAGE_READ, true, timeout);
	drm_gem_object_put(obj);
	if (ret == 0)
		return -ETIME;
	return ret < 0 ? ret : 0;
}
