/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Copyright (c) 2026 The apu authors
 */
#ifndef __APU_DEVICE_H__
#define __APU_DEVICE_H__

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/types.h>
#include <linux/xarray.h>
#include <drm/drm_device.h>
#include <drm/drm_mm.h>
#include <drm/gpu_scheduler.h>

#include <hw/apu_hw.h>
#include <hw/apu_cmd.h>

#define APU_DRV_MAX_CORES	APU_MAX_CORES
/*
 * Ring entries per core: one page of entries, one page of completions,
 * and a page of write list per entry.
 */
#define APU_RING_ENTRIES	64
#define APU_WL_BYTES		(APU_RING_ENTRIES * APU_WLIST_MAX * sizeof(struct apu_wrange))
/* Largest BO, and largest command buffer of a job. */
#define APU_BO_MAX_SIZE		BIT_ULL(30)
#define APU_CMDBUF_MAX_SIZE \
	(sizeof(struct apu_cmd_header) + APU_CMD_MAX_OPS * APU_OP_SIZE)
/* Scheduling priorities a file can use (LOW, NORMAL, HIGH). */
#define APU_NUM_PRIOS		3

struct apu_device;
struct apu_pt;
struct dma_fence;
struct sg_table;

/**
 * struct apu_vm - one device address space (an ASID and its page tables)
 * @refcount: held by the owning file, by every mapping and by every job
 * @adev: the device
 * @node: in &apu_device.vms, under its dma_lock (released at removal)
 * @lock: protects @mm and the page tables under @root
 * @mm: allocator of device virtual addresses
 * @root: level-0 page table
 * @asid: address-space id: the entry of the device's context table
 */
struct apu_vm {
	struct kref refcount;
	struct apu_device *adev;
	struct list_head node; /* in &apu_device.vms, under its dma_lock */
	struct mutex lock; /* protects @mm and the page tables */
	struct drm_mm mm;
	struct apu_pt *root;
	u32 asid;
};

/**
 * struct apu_core - one core: its figures, read at probe, and its queue
 * @core_class: APU_CLASS_*
 * @macs_per_cycle: int8 MACs per cycle
 * @clock_mhz: clock
 * @sram_bytes: local SRAM
 * @energy_fj_per_mac: energy per MAC
 * @idle_power_uw: idle power
 * @bytes_per_cycle: data movement rate
 * @fp16_macs_per_cycle: fp16 MACs per cycle; 0 without APU_FEATURE_FP16
 * @index: core number
 * @name: "big0", "little1", ...; the scheduler and fdinfo name
 * @adev: the device
 * @sched: the core's scheduler; @sched_list points at it for entities
 * @sched_list: one-element list for drm_sched_entity_init()
 * @fence_context: dma-fence context of the core's hardware fences
 * @fence_lock: lock of those fences
 * @reset_lock: serialises recoveries (timeouts, device errors, debugfs),
 *	       and protects @sleeping
 * @sleeping: a system suspend stopped the scheduler's queue: a recovery
 *	      meanwhile keeps it stopped
 * @lock: protects the ring (@ring, @compl, @wl, @tail), @seqno, @posted, @inflight,
 *	  @last_done and the core's ring registers; taken in hard-irq
 *	  context, so always with interrupts off
 * @ring: ring entries (CPU view)
 * @ring_dma: their bus address
 * @ring_va: their address in address space 0
 * @compl: completion records, one per ring slot
 * @compl_dma: their bus address
 * @compl_va: their address in address space 0
 * @wl: write lists, APU_WLIST_MAX ranges per ring slot (with
 *	&apu_device.write_list), read-only to the device
 * @wl_dma: their bus address
 * @wl_va: their address in address space 0
 * @ring_node: @ring's range in address space 0
 * @compl_node: @compl's
 * @wl_node: @wl's
 * @tail: next ring index the driver writes (free-running)
 * @seqno: last hardware-fence seqno handed out
 * @posted: jobs written to the ring since probe (a job posted again after
 *	    a recovery counts again)
 * @inflight: jobs posted to the ring, oldest first
 * @last_done: when the last job ended, for busy-time accounting
 * @queued: jobs queued or running on the core, to pick the least loaded
 * @resets: core resets done for timeouts or device errors
 * @powered: the core is powered up (under @lock)
 * @idle_work: powers the core down once its ring stayed empty
 */
struct apu_core {
	u32 core_class;
	u32 macs_per_cycle;
	u32 clock_mhz;
	u32 sram_bytes;
	u32 energy_fj_per_mac;
	u32 idle_power_uw;
	u32 bytes_per_cycle;
	u32 fp16_macs_per_cycle;

	u32 index;
	char name[16];
	struct apu_device *adev;
	struct drm_gpu_scheduler sched;
	struct drm_gpu_scheduler *sched_list[1];
	u64 fence_context;
	spinlock_t fence_lock; /* the hardware fences' lock */
	struct mutex reset_lock; /* serialises recoveries; protects @sleeping */
	bool sleeping;

	spinlock_t lock; /* see above */
	struct apu_ring_entry *ring;
	dma_addr_t ring_dma;
	u64 ring_va;
	struct apu_completion *compl;
	dma_addr_t compl_dma;
	u64 compl_va;
	struct apu_wrange *wl;
	dma_addr_t wl_dma;
	u64 wl_va;
	struct drm_mm_node ring_node;
	struct drm_mm_node compl_node;
	struct drm_mm_node wl_node;
	u32 tail;
	u64 seqno;
	u64 posted;
	struct list_head inflight;
	ktime_t last_done;

	atomic_t queued;
	atomic_t resets;
	bool powered;
	struct delayed_work idle_work;
};

/**
 * struct apu_device - one APU
 * @drm: the DRM device; its lifetime is the lifetime of this struct
 * @regs: BAR0 register block
 * @hw_version: APU_REG_VERSION, read once at probe
 * @fw_version: version of the running firmware (APU_REG_FW_VERSION)
 * @fw_abi: firmware ABI of the device (APU_REG_FW_ABI)
 * @num_cores: number of cores (APU_REG_NUM_CORES)
 * @cores: the cores
 * @num_vectors: interrupt vectors: num_cores + 1 with MSI-X, else 1
 * @power_gating: the cores can be powered down (APU_FEATURE_POWER_GATING)
 * @write_list: ring entries carry each job's write list
 *		(APU_FEATURE_WRITE_LIST): the device enforces BO write flags
 * @ctx_table: the device's context table (CPU view)
 * @ctx_dma: the context table's device address
 * @num_ctx: entries in it; ASIDs are 0 (the driver's own) to num_ctx - 1
 * @asid_ida: allocator of ASIDs for files
 * @kvm: address space 0: rings and completion records
 * @fault_log: the last device faults, for debugfs (under @fault_lock)
 * @fault_lock: protects @fault_log and @fault_next
 * @fault_next: next slot of @fault_log
 * @dma_lock: protects @vms, @dma_bos and @dma_gone: everything that holds
 *	      DMA memory or mappings of the device, given back at removal by
 *	      apu_device_remove() although files may stay open; taken after a
 *	      BO's maps_lock or reservation (a BO freed from drm_exec_fini())
 *	      and before a VM's lock; no reservation is taken under it
 * @vms: every address space (their page tables)
 * @dma_bos: BOs whose pages are mapped for the device
 * @dma_gone: apu_mmu_release() ran: nothing is mapped for the device any more
 * @clients_lock: protects @clients and their file counts
 * @clients: processes with files open, or banned (&struct apu_client)
 *
 * Locking: the identity fields and @cores' figures are written once during
 * probe, before the DRM device is registered, and only read afterwards.
 * The context table entries are written under the owning VM's creation
 * and destruction, one entry per VM, so need no lock of their own.
 */
struct apu_device {
	struct drm_device drm;
	void __iomem *regs;
	u32 hw_version;
	u32 fw_version;
	u32 fw_abi;
	u32 num_cores;
	struct apu_core cores[APU_DRV_MAX_CORES];
	unsigned int num_vectors;
	bool power_gating;
	bool write_list;

	struct apu_mmu_ctx *ctx_table;
	dma_addr_t ctx_dma;
	u32 num_ctx;
	struct ida asid_ida;
	struct apu_vm *kvm;

	spinlock_t fault_lock; /* see above */
	struct {
		ktime_t when;
		u64 addr;
		u32 core;
		u32 flags;
		u32 asid;
		u32 status;
	} fault_log[16];
	u32 fault_next;

	struct mutex dma_lock; /* see above */
	struct list_head vms;
	struct list_head dma_bos;
	bool dma_gone;

	struct mutex clients_lock; /* see above */
	struct list_head clients;
};

/**
 * struct apu_file - what an open file of the accel node owns
 * @refcount: held by the DRM file and by each of its jobs
 * @adev: the device
 * @vm: the file's device address space
 * @entities: a scheduler entity per priority and core
 * @results_lock: protects @results, @num_results and @next_job_id
 * @results: records of the file's recent jobs, oldest first
 * @results_xa: the same records, by job id
 * @num_results: how many
 * @next_job_id: id of the next job
 * @client: the process that opened it, referenced (apu_client.c): its
 *	    limits and its ban, which covers all its files
 * @jobs: jobs of the file submitted and not ended, at most the
 *	  max_file_jobs parameter
 * @busy_ns: per core, time the file's jobs ran
 * @jobs_done: per core, jobs of the file that ended
 */
struct apu_file {
	struct kref refcount;
	struct apu_device *adev;
	struct apu_vm *vm;
	struct drm_sched_entity entities[APU_NUM_PRIOS][APU_DRV_MAX_CORES];
	struct mutex results_lock; /* see above */
	struct list_head results;
	struct xarray results_xa;
	u32 num_results;
	u64 next_job_id;
	struct apu_client *client;
	atomic_t jobs;
	atomic64_t busy_ns[APU_DRV_MAX_CORES];
	atomic64_t jobs_done[APU_DRV_MAX_CORES];
};

static inline struct apu_device *to_apu_device(struct drm_device *drm)
{
	return container_of(drm, struct apu_device, drm);
}

/**
 * apu_class_name() - the name of a core class
 * @core_class: APU_CLASS_*
 *
 * Return: "big", "little" or "tiny" (include/hw/apu_hw.h), "?" for others.
 */
static inline const char *apu_class_name(u32 core_class)
{
	static const char * const names[] = {
		[APU_CLASS_BIG] = APU_CLASS_NAME_BIG,
		[APU_CLASS_LITTLE] = APU_CLASS_NAME_LITTLE,
		[APU_CLASS_TINY] = APU_CLASS_NAME_TINY,
	};

	return core_class < ARRAY_SIZE(names) ? names[core_class] : "?";
}

static inline u32 apu_read(struct apu_device *adev, u32 reg)
{
	return readl(adev->regs + reg);
}

static inline void apu_write(struct apu_device *adev, u32 reg, u32 val)
{
	writel(val, adev->regs + reg);
}

static inline u32 apu_core_read(struct apu_core *core, u32 reg)
{
	return apu_read(core->adev, APU_CORE_BASE(core->index) + reg);
}

static inline void apu_core_write(struct apu_core *core, u32 reg, u32 val)
{
	apu_write(core->adev, APU_CORE_BASE(core->index) + reg, val);
}

extern const struct drm_driver apu_drm_driver;
extern struct pci_driver apu_pci_driver;
extern struct platform_driver apu_platform_driver;
int apu_device_probe(struct apu_device *adev,
		     int (*get_irqs)(void *ctx, struct apu_device *adev,
				     int *irqs, unsigned int max),
		     void *ctx);
void apu_device_remove(struct apu_device *adev);
extern unsigned int apu_job_timeout_ms;

int apu_device_init(struct apu_device *adev);
void apu_device_fini(struct apu_device *adev);
void apu_device_start(struct apu_device *adev);
void apu_debugfs_init(struct apu_device *adev);

/* apu_drv.c */
void apu_file_release(struct kref *kref);

static inline void apu_file_put(struct apu_file *afile)
{
	kref_put(&afile->refcount, apu_file_release);
}

int apu_ioctl_query(struct drm_device *drm, void *data, struct drm_file *file);
int apu_ioctl_bo_create(struct drm_device *drm, void *data, struct drm_file *file);
int apu_ioctl_bo_info(struct drm_device *drm, void *data, struct drm_file *file);
int apu_ioctl_bo_wait(struct drm_device *drm, void *data, struct drm_file *file);
int apu_ioctl_submit(struct drm_device *drm, void *data, struct drm_file *file);
int apu_ioctl_job_info(struct drm_device *drm, void *data, struct drm_file *file);
int apu_ioctl_job_wait(struct drm_device *drm, void *data, struct drm_file *file);

#endif /* __APU_DEVICE_H__ */
