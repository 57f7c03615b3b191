// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: device address spaces (the device MMU).
 *
 * The device translates every access through a context table in memory:
 * entry n holds the root of address space n's page tables (three levels
 * of 512 64-bit entries, 4 KiB pages, 39-bit addresses; include/hw/apu_cmd.h).
 * Address space 0 is the driver's own (rings, completion records); every
 * open file gets another, so that one process's jobs reach only the
 * buffers that process holds. The device caches no translation, so
 * updates take effect without invalidation.
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/dma-mapping.h>
#include <linux/idr.h>
#include <linux/overflow.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <drm/drm_gem.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>

#include "apu_device.h"
#include "apu_mmu.h"

/* Device addresses handed out: above 1 MiB (0 stays invalid), below 2^39. */
#define APU_VA_START		0x100000ULL
#define APU_VA_END		BIT_ULL(APU_MMU_VA_BITS)
#define APU_PT_ENTRIES		BIT(APU_MMU_LEVEL_BITS)
/* Contexts the driver uses at most (the device may offer more). */
#define APU_MAX_CTX		1024

/**
 * struct apu_pt - one page table: a page the device reads, and the CPU's
 * pointers to the next level
 * @cpu: the table's entries
 * @dma: its bus address
 * @child: next-level tables (levels 0 and 1 only)
 */
struct apu_pt {
	__le64 *cpu;
	dma_addr_t dma;
	struct apu_pt *child[];
};

static struct apu_pt *apu_pt_alloc(struct apu_device *adev, bool leaf)
{
	struct apu_pt *pt;

	pt = kzalloc(struct_size(pt, child, leaf ? 0 : APU_PT_ENTRIES), GFP_KERNEL_ACCOUNT);
	if (!pt)
		return NULL;
	pt->cpu = dma_alloc_coherent(adev->drm.dev, APU_MMU_PAGE_SIZE, &pt->dma,
				     GFP_KERNEL);
	if (!pt->cpu) {
		kfree(pt);
		return NULL;
	}
	return pt;
}

static void apu_pt_free(struct apu_device *adev, struct apu_pt *pt, int level)
{
	int i;

	if (!pt)
		return;
	if (level < APU_MMU_LEVELS - 1)
		for (i = 0; i < APU_PT_ENTRIES; i++)
			apu_pt_free(adev, pt->child[i], level + 1);
	dma_free_coherent(adev->drm.dev, APU_MMU_PAGE_SIZE, pt->cpu, pt->dma);
	kfree(pt);
}

static unsigned int apu_pt_index(u64 va, int level)
{
	int shift = APU_MMU_PAGE_SHIFT +
		    APU_MMU_LEVEL_BITS * (APU_MMU_LEVELS - 1 - level);

	return (va >> shift) & (APU_PT_ENTRIES - 1);
}

/*
 * The leaf entry for @va, allocating the tables on the way when @alloc.
 * Returns NULL when a table is missing (!@alloc) or cannot be allocated.
 */
static __le64 *apu_vm_pte_locked(struct apu_vm *vm, u64 va, bool alloc)
{
	struct apu_pt *pt = vm->root;
	int level;

	lockdep_assert_held(&vm->lock);
	if (!pt)
		return NULL;	/* the device is gone (apu_mmu_release()) */
	for (level = 0; level < APU_MMU_LEVELS - 1; level++) {
		unsigned int i = apu_pt_index(va, level);

		if (!pt->child[i]) {
			struct apu_pt *next;

			if (!alloc)
				return NULL;
			next = apu_pt_alloc(vm->adev, level + 1 == APU_MMU_LEVELS - 1);
			if (!next)
				return NULL;
			pt->child[i] = next;
			WRITE_ONCE(pt->cpu[i], cpu_to_le64(next->dma | APU_PTE_VALID));
		}
		pt = pt->child[i];
	}
	return &pt->cpu[apu_pt_index(va, APU_MMU_LEVELS - 1)];
}

static void apu_vm_clear_locked(struct apu_vm *vm, u64 va, u64 size)
{
	u64 end = va + size;

	lockdep_assert_held(&vm->lock);
	for (; va < end; va += APU_MMU_PAGE_SIZE) {
		__le64 *pte = apu_vm_pte_locked(vm, va, false);

		if (pte)
			WRITE_ONCE(*pte, 0);
	}
	/* The device may be walking the tables: make the clear visible. */
	wmb();
}

static int apu_vm_set_locked(struct apu_vm *vm, u64 va, dma_addr_t pa, u64 len,
			     u64 flags)
{
	u64 off;

	lockdep_assert_held(&vm->lock);
	for (off = 0; off < len; off += APU_MMU_PAGE_SIZE) {
		__le64 *pte = apu_vm_pte_locked(vm, va + off, true);

		if (!pte)
			return -ENOMEM;
		WRITE_ONCE(*pte, cpu_to_le64(((pa + off) & APU_PTE_ADDR_MASK) | flags));
	}
	return 0;
}

/*
 * Reserve @size bytes of addresses, and one unmapped guard page after them
 * so that an overrun faults instead of reaching the next buffer.
 */
static int apu_vm_reserve_locked(struct apu_vm *vm, struct drm_mm_node *node,
				 u64 size)
{
	lockdep_assert_held(&vm->lock);
	if (!size || size > APU_VA_END)
		return -EINVAL;
	return drm_mm_insert_node_generic(&vm->mm, node, size + APU_MMU_PAGE_SIZE,
					  APU_MMU_PAGE_SIZE, 0, DRM_MM_INSERT_BEST);
}

/**
 * apu_vm_map_sgt() - map a buffer's pages at a new address range
 * @vm: the address space
 * @node: receives the range (node->start is the device address)
 * @sgt: the buffer's DMA-mapped pages
 * @size: bytes to map, a multiple of the device page size
 * @writable: whether the device may write
 *
 * Return: 0, or -ENOSPC when the address space is full, -ENOMEM.
 */
int apu_vm_map_sgt(struct apu_vm *vm, struct drm_mm_node *node,
		   struct sg_table *sgt, u64 size, bool writable)
{
	u64 flags = APU_PTE_VALID | (writable ? APU_PTE_WRITE : 0);
	struct scatterlist *sg;
	u64 va, done = 0;
	int ret, i;

	mutex_lock(&vm->lock);
	ret = apu_vm_reserve_locked(vm, node, size);
	if (ret)
		goto out;
	va = node->start;
	for_each_sgtable_dma_sg(sgt, sg, i) {
		u64 len = min_t(u64, sg_dma_len(sg), size - done);

		if (!len)
			break;
		if (!IS_ALIGNED(sg_dma_address(sg) | len, APU_MMU_PAGE_SIZE)) {
			ret = -EINVAL;
			break;
		}
		ret = apu_vm_set_locked(vm, va + done, sg_dma_address(sg), len, flags);
		if (ret)
			break;
		done += len;
	}
	if (!ret && done != size)
		ret = -EINVAL;
	if (ret) {
		apu_vm_clear_locked(vm, node->start, done);
		drm_mm_remove_node(node);
	}
out:
	mutex_unlock(&vm->lock);
	return ret;
}

/**
 * apu_vm_map_dma() - map bus-contiguous memory at a new address range
 * @vm: the address space
 * @node: receives the range
 * @dma: bus address, page aligned
 * @size: bytes, a multiple of the device page size
 * @writable: whether the device may write
 *
 * Return: 0 or a negative errno.
 */
int apu_vm_map_dma(struct apu_vm *vm, struct drm_mm_node *node,
		   dma_addr_t dma, u64 size, bool writable)
{
	int ret;

	mutex_lock(&vm->lock);
	ret = apu_vm_reserve_locked(vm, node, size);
	if (!ret) {
		ret = apu_vm_set_locked(vm, node->start, dma, size, APU_PTE_VALID |
					(writable ? APU_PTE_WRITE : 0));
		if (ret) {
			apu_vm_clear_locked(vm, node->start, size);
			drm_mm_remove_node(node);
		}
	}
	mutex_unlock(&vm->lock);
	return ret;
}

/**
 * apu_vm_unmap() - remove a mapping made by apu_vm_map_sgt() or _dma()
 * @vm: the address space
 * @node: the range
 */
void apu_vm_unmap(struct apu_vm *vm, struct drm_mm_node *node)
{
	mutex_lock(&vm->lock);
	apu_vm_clear_locked(vm, node->start, node->size);
	drm_mm_remove_node(node);
	mutex_unlock(&vm->lock);
}

static void apu_ctx_set(struct apu_device *adev, u32 asid, u64 root)
{
	WRITE_ONCE(adev->ctx_table[asid].root, cpu_to_le64(root));
	adev->ctx_table[asid].reserved = 0;
	/* The device reads the table on every job: publish the entry now. */
	wmb();
}

/**
 * apu_vm_create() - a new address space with its own ASID
 * @adev: the device
 * @kernel: address space 0, the driver's own
 *
 * Return: the VM with one reference, or an ERR_PTR: -ENOSPC when every
 * ASID is taken, -ENOMEM.
 */
struct apu_vm *apu_vm_create(struct apu_device *adev, bool kernel)
{
	struct apu_vm *vm;
	int ret;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return ERR_PTR(-ENOMEM);
	kref_init(&vm->refcount);
	vm->adev = adev;
	mutex_init(&vm->lock);
	drm_mm_init(&vm->mm, APU_VA_START, APU_VA_END - APU_VA_START);

	vm->root = apu_pt_alloc(adev, false);
	if (!vm->root) {
		ret = -ENOMEM;
		goto err_mm;
	}
	mutex_lock(&adev->dma_lock);
	if (adev->dma_gone) {
		mutex_unlock(&adev->dma_lock);
		ret = -ENODEV;
		goto err_pt;
	}
	list_add_tail(&vm->node, &adev->vms);
	mutex_unlock(&adev->dma_lock);

	if (kernel) {
		vm->asid = 0;
	} else {
		ret = ida_alloc_range(&adev->asid_ida, 1, adev->num_ctx - 1,
				      GFP_KERNEL);
		if (ret < 0)
			goto err_list;
		vm->asid = ret;
	}
	apu_ctx_set(adev, vm->asid, vm->root->dma | APU_CTX_VALID);
	return vm;

err_list:
	mutex_lock(&adev->dma_lock);
	list_del(&vm->node);
	mutex_unlock(&adev->dma_lock);
err_pt:
	apu_pt_free(adev, vm->root, 0);
err_mm:
	drm_mm_takedown(&vm->mm);
	mutex_destroy(&vm->lock);
	kfree(vm);
	return ERR_PTR(ret);
}

/**
 * apu_vm_release() - free an address space once nothing uses it
 * @kref: its refcount
 *
 * No job of the VM runs (jobs hold references) and no mapping is left
 * (mappings hold references), so the context entry can go.
 */
void apu_vm_release(struct kref *kref)
{
	struct apu_vm *vm = container_of(kref, struct apu_vm, refcount);
	struct apu_device *adev = vm->adev;

	mutex_lock(&adev->dma_lock);
	list_del(&vm->node);
	if (adev->ctx_table)
		apu_ctx_set(adev, vm->asid, 0);
	mutex_unlock(&adev->dma_lock);
	if (vm->asid)
		ida_free(&adev->asid_ida, vm->asid);
	apu_pt_free(adev, vm->root, 0);	/* NULL after apu_mmu_release() */
	drm_mm_takedown(&vm->mm);
	mutex_destroy(&vm->lock);
	kfree(vm);
}

/**
 * apu_mmu_hw_init() - point the device at the context table
 * @adev: the device, after a device reset
 */
void apu_mmu_hw_init(struct apu_device *adev)
{
	apu_write(adev, APU_REG_MMU_CTX_BASE_LO, lower_32_bits(adev->ctx_dma));
	apu_write(adev, APU_REG_MMU_CTX_BASE_HI, upper_32_bits(adev->ctx_dma));
	apu_write(adev, APU_REG_MMU_CTX_COUNT, adev->num_ctx);
}

static void apu_mmu_fini(struct drm_device *drm, void *arg);

/**
 * apu_mmu_init() - the context table and address space 0
 * @adev: the device
 *
 * Return: 0 or a negative errno.
 */
int apu_mmu_init(struct apu_device *adev)
{
	u32 n = apu_read(adev, APU_REG_MAX_CONTEXTS);
	int ret;

	if (!(apu_read(adev, APU_REG_FEATURES) & APU_FEATURE_MMU) || n < 2) {
		drm_err(&adev->drm, "the device has no usable MMU (%u contexts)\n", n);
		return -ENODEV;
	}
	adev->num_ctx = min_t(u32, n, APU_MAX_CTX);
	adev->ctx_table = dma_alloc_coherent(adev->drm.dev,
					     adev->num_ctx * sizeof(*adev->ctx_table),
					     &adev->ctx_dma, GFP_KERNEL);
	if (!adev->ctx_table)
		return -ENOMEM;
	ida_init(&adev->asid_ida);
	mutex_init(&adev->dma_lock);
	INIT_LIST_HEAD(&adev->vms);
	INIT_LIST_HEAD(&adev->dma_bos);
	/*
	 * Files (and their address spaces) can outlive the device's removal:
	 * the tables go with the DRM device, after the last file closed.
	 */
	ret = drmm_add_action_or_reset(&adev->drm, apu_mmu_fini, adev);
	if (ret)
		return ret;

	adev->kvm = apu_vm_create(adev, true);
	if (IS_ERR(adev->kvm)) {
		ret = PTR_ERR(adev->kvm);
		adev->kvm = NULL;
		return ret;
	}
	apu_mmu_hw_init(adev);
	return 0;
}

/* The context table, at removal or when the DRM device goes, whichever is first. */
static void apu_ctx_table_free(struct apu_device *adev)
{
	if (adev->ctx_table)
		dma_free_coherent(adev->drm.dev,
				  adev->num_ctx * sizeof(*adev->ctx_table),
				  adev->ctx_table, adev->ctx_dma);
	adev->ctx_table = NULL;
}

/**
 * apu_mmu_release() - give the MMU's DMA memory back at the device's removal
 * @adev: the device, reset and unplugged: no job runs, no ioctl enters
 *
 * Address spaces can outlive the removal (files stay open until closed),
 * but their page tables and the context table are freed now; what is torn
 * down later finds them gone (&apu_device.dma_gone).
 */
void apu_mmu_release(struct apu_device *adev)
{
	struct apu_vm *vm;

	mutex_lock(&adev->dma_lock);
	adev->dma_gone = true;
	list_for_each_entry(vm, &adev->vms, node) {
		mutex_lock(&vm->lock);
		apu_pt_free(adev, vm->root, 0);
		vm->root = NULL;
		mutex_unlock(&vm->lock);
	}
	apu_ctx_table_free(adev);
	mutex_unlock(&adev->dma_lock);
}

/* Undo apu_mmu_init() when the DRM device goes: no file and no job is left. */
static void apu_mmu_fini(struct drm_device *drm, void *arg)
{
	struct apu_device *adev = arg;

	apu_vm_put(adev->kvm);
	adev->kvm = NULL;
	drm_WARN_ON(drm, !list_empty(&adev->vms));
	mutex_destroy(&adev->dma_lock);
	ida_destroy(&adev->asid_ida);
	apu_ctx_table_free(adev);
}
