/*
 * apu: an emulated NPU with big, little and tiny int8 cores.
 *
 * The PCI front end of the device: identity and capabilities, interrupts
 * (MSI-X, or INTx), the firmware boot handshake, the device MMU registers,
 * fault injection, and its cores - by default 2 big, 3 little, 1 tiny;
 * properties big-cores, little-cores and tiny-cores choose another layout
 * of 1 to 8 - each run by a host thread that takes jobs from its ring.
 * What the firmware does with a job (MMU walk, command processing, the
 * int8 ops, the timing model) is in firmware-stub/, plain C linked in here.
 *
 * The register map is defined once, in apu_hw.h and apu_cmd.h, which the
 * guest driver and the firmware include too; docs/hw.md describes it.
 *
 * Nothing a guest writes may crash or hang QEMU: unknown registers read as
 * zero and ignore writes, bad rings and command buffers end as job or
 * device errors, and core threads reach guest memory only where it is RAM
 * (never MMIO), so they never re-enter a device; they take the BQL only
 * to raise their interrupts, between jobs (apu_core_thread_raise()).
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "qemu/atomic.h"
#include "qemu/rcu.h"
#include "qapi/error.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "system/dma.h"
#include "migration/vmstate.h"
#include "qom/object.h"
#include "hw/apu_hw.h"
#include "hw/apu_fw.h"
#include "trace.h"

#define TYPE_APU_PCI "apu"
OBJECT_DECLARE_SIMPLE_TYPE(ApuState, APU_PCI)

#define APU_MAX_CTX 256
#define APU_OPS_MASK ((1u << APU_OP_CONV2D) | (1u << APU_OP_ADD) | \
                      (1u << APU_OP_AVGPOOL) | (1u << APU_OP_MAXPOOL) | \
                      (1u << APU_OP_LUT) | (1u << APU_OP_MUL))

typedef struct ApuCoreClass {
    uint32_t cls, macs_per_cycle, clock_mhz, sram_bytes;
    uint32_t energy_fj_per_mac, idle_power_uw, bytes_per_cycle;
    uint32_t fp16_macs_per_cycle;
} ApuCoreClass;

#define APU_CLASS_FIGURES(C) \
    [APU_CLASS_##C] = { APU_CLASS_##C, APU_##C##_MACS_PER_CYCLE, \
                        APU_##C##_CLOCK_MHZ, APU_##C##_SRAM_BYTES, \
                        APU_##C##_ENERGY_FJ_PER_MAC, APU_##C##_IDLE_POWER_UW, \
                        APU_##C##_BYTES_PER_CYCLE, \
                        APU_##C##_FP16_MACS_PER_CYCLE }
static const ApuCoreClass apu_classes[] = {
    APU_CLASS_FIGURES(BIG),
    APU_CLASS_FIGURES(LITTLE),
    APU_CLASS_FIGURES(TINY),
};
#undef APU_CLASS_FIGURES


typedef struct ApuCore {
    struct ApuState *s;
    int index;
    const ApuCoreClass *cls;
    QemuThread thread;
    bool thread_started;
    QEMUBH *bh;             /* runs the core instead, with threads=off */

    /* @lock protects every field below, and @cond signals changes. */
    QemuMutex lock;
    QemuCond cond;
    uint64_t ring_base;
    uint32_t ring_size, head, tail, ctrl, status;
    uint64_t completed_seq, busy_cycles;
    uint32_t jobs_done;
    uint32_t gen;           /* bumped by a reset: older jobs are dropped */
    uint32_t inject;        /* armed faults, bit (1 << kind) */
    bool running;           /* the thread is inside a job, without @lock */
    bool bql_wait;          /* the thread waits for the BQL, without @lock */
    bool exited;            /* the thread left its loop */
    bool powered;           /* APU_CORE_POWER */
    uint32_t power_ons;
    bool stop;
} ApuCore;

struct ApuState {
    PCIDevice parent_obj;

    MemoryRegion mmio;

    /* Under the BQL. */
    uint32_t scratch;
    uint32_t irq_status, irq_mask;
    uint32_t ctrl;          /* also read by core threads: qatomic */
    uint32_t time_scale;    /* also read by core threads: qatomic */
    uint64_t mmu_ctx_base;  /* also read by core threads: qatomic */
    uint32_t mmu_ctx_count; /* also read by core threads: qatomic */
    uint64_t fault_addr;
    uint32_t fault_info;
    bool inject_refuse_fw;

    /* Firmware boot block, under the BQL. */
    uint64_t fw_addr;
    uint32_t fw_size;
    uint32_t fw_status;
    uint32_t fw_error;
    uint32_t fw_version;
    QEMUBH *fw_bh;

    /*
     * Events from the cores: bits for IRQ_STATUS, and the last
     * device-level fault. A core thread raises them itself, under the BQL,
     * after its job (apu_core_thread_raise()); with threads=off, irq_bh
     * raises them in the main loop.
     */
    QemuMutex event_lock;   /* protects the three fields below */
    uint32_t pending_irq;
    uint64_t pending_fault_addr;
    uint32_t pending_fault_info;
    QEMUBH *irq_bh;

    ApuCore cores[APU_MAX_CORES];
    uint32_t num_cores;     /* big + little + tiny, set at realize */

    /*
     * The core layout (properties, fixed at realize): how many cores of
     * each class, numbered big first, then little, then tiny. The default
     * is the Dimensity 1000 shape, 2 big, 3 little, 1 tiny.
     */
    uint8_t big_cores, little_cores, tiny_cores;
    /*
     * Property "shared-irq" (default off): one MSI-X vector (or INTx) for
     * every event instead of a vector per core and one for device errors.
     */
    bool shared_irq;

    /*
     * Property "threads" (default on): each core runs on its own host
     * thread. Off, cores run their jobs in the main loop, one ring entry
     * per bottom half, without time-accurate pacing: deterministic, for
     * fuzzing and record/replay.
     */
    bool threads;
};

/* ---- interrupts (BQL) ---------------------------------------------------- */

static unsigned apu_irq_vector(ApuState *s, uint32_t bit)
{
    if (s->shared_irq) {
        return 0;
    }
    return bit == APU_IRQ_ERROR ? s->num_cores : ctz32(bit);
}

static void apu_update_intx(ApuState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    if (!msix_enabled(pdev)) {
        pci_set_irq(pdev, (s->irq_status & s->irq_mask) != 0);
    } else {
        pci_set_irq(pdev, 0);
    }
}

/* Send the MSI-X vectors of @bits that are enabled. */
static void apu_msix_send(ApuState *s, uint32_t bits)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    bits &= s->irq_mask;
    if (!msix_enabled(pdev)) {
        return;
    }
    while (bits) {
        uint32_t bit = bits & -bits;

        msix_notify(pdev, apu_irq_vector(s, bit));
        bits &= ~bit;
    }
}

static void apu_raise(ApuState *s, uint32_t bits)
{
    s->irq_status |= bits;
    trace_apu_irq(bits, s->irq_status, s->irq_mask);
    apu_msix_send(s, bits);
    apu_update_intx(s);
}

static void apu_irq_bh(void *opaque)
{
    ApuState *s = opaque;
    uint32_t bits;

    qemu_mutex_lock(&s->event_lock);
    bits = s->pending_irq;
    s->pending_irq = 0;
    if (bits & APU_IRQ_ERROR) {
        s->fault_addr = s->pending_fault_addr;
        s->fault_info = s->pending_fault_info;
    }
    qemu_mutex_unlock(&s->event_lock);
    if (bits) {
        apu_raise(s, bits);
    }
}

/*
 * From a core: the event is raised by the core's thread once it has left
 * the job (apu_core_thread_raise()), or by irq_bh with threads=off.
 */
static void apu_post_event(ApuState *s, uint32_t bits, uint64_t fault_addr,
                           uint32_t fault_info)
{
    qemu_mutex_lock(&s->event_lock);
    s->pending_irq |= bits;
    if (bits & APU_IRQ_ERROR) {
        s->pending_fault_addr = fault_addr;
        s->pending_fault_info = fault_info;
    }
    qemu_mutex_unlock(&s->event_lock);
    if (!s->threads) {
        qemu_bh_schedule(s->irq_bh);
    }
}

/* ---- DMA for core threads: RAM only, no BQL --------------------------- */

/*
 * Core threads run without the BQL, so they must never dispatch MMIO:
 * every piece of an access is translated once and carried out through the
 * MemoryRegion that this one translation found, or refused (a bus fault
 * for the job). Checking one translation and then calling
 * address_space_read/write() would translate again: a guest remapping a
 * BAR over RAM in between would have the core thread take the BQL and
 * dispatch MMIO (into this device: a RESET written that way deadlocks).
 *
 * Reads copy from the RAM block of the region found, under the RCU read
 * section that keeps the region and its memory alive. Writes go through
 * address_space_map(), whose one translation is the check: it returns a
 * pointer into writable RAM, or else a bounce buffer, which is released
 * unwritten; address_space_unmap() marks the RAM dirty (migration, TCG's
 * translated code) as any device write does.
 */
static int apu_dma_read_piece(AddressSpace *as, uint64_t addr, uint8_t *p,
                              hwaddr *len)
{
    MemoryRegion *mr;
    hwaddr xlat;

    RCU_READ_LOCK_GUARD();
    mr = address_space_translate(as, addr, &xlat, len, false,
                                 MEMTXATTRS_UNSPECIFIED);
    if (!memory_region_is_ram(mr) || *len == 0 ||
        !memory_access_is_direct(mr, false, MEMTXATTRS_UNSPECIFIED)) {
        return -1;
    }
    fuzz_dma_read_cb(addr, *len, mr);
    memcpy(p, qemu_map_ram_ptr(mr->ram_block, xlat), *len);
    return 0;
}

static int apu_dma_write_piece(AddressSpace *as, uint64_t addr,
                               const uint8_t *p, hwaddr *len)
{
    ram_addr_t offset;
    void *ram;

    ram = address_space_map(as, addr, len, true, MEMTXATTRS_UNSPECIFIED);
    if (!ram) {
        return -1;
    }
    if (!memory_region_from_host(ram, &offset) || *len == 0) {
        /* A bounce buffer: not RAM. Nothing is written. */
        address_space_unmap(as, ram, *len, true, 0);
        return -1;
    }
    memcpy(ram, p, *len);
    address_space_unmap(as, ram, *len, true, *len);
    return 0;
}

static int apu_dma_rw(ApuState *s, uint64_t addr, void *buf, uint64_t len,
                      bool is_write)
{
    AddressSpace *as = pci_get_address_space(PCI_DEVICE(s));
    uint8_t *p = buf;

    if (addr + len < addr) {
        return -1;
    }
    while (len) {
        hwaddr l = len;

        if (is_write ? apu_dma_write_piece(as, addr, p, &l)
                     : apu_dma_read_piece(as, addr, p, &l)) {
            return -1;
        }
        addr += l;
        p += l;
        len -= l;
    }
    return 0;
}

static int apu_dma_read(void *opaque, uint64_t addr, void *buf, uint64_t len)
{
    return apu_dma_rw(opaque, addr, buf, len, false);
}

static int apu_dma_write(void *opaque, uint64_t addr, const void *buf,
                         uint64_t len)
{
    return apu_dma_rw(opaque, addr, (void *)buf, len, true);
}

static const ApuHwOps apu_hw_ops = {
    .dma_read = apu_dma_read,
    .dma_write = apu_dma_write,
};

/* ---- cores ------------------------------------------------------------- */

typedef struct ApuJobCtx {
    ApuCore *core;
    uint32_t gen;
} ApuJobCtx;

static bool apu_job_aborted(void *opaque)
{
    ApuJobCtx *j = opaque;

    return qatomic_read(&j->core->gen) != j->gen ||
           qatomic_read(&j->core->stop);
}

/* Called with c->lock held. */
static bool apu_core_runnable(ApuCore *c)
{
    return c->powered && (c->ctrl & APU_CORE_CTRL_ENABLE) && c->ring_size &&
           c->head != c->tail && c->status == APU_CORE_IDLE;
}

/*
 * Run ring entry @idx. Returns false when the ring itself or the
 * completion record could not be accessed (a device-level error).
 */
static bool apu_core_run_entry(ApuCore *c, uint64_t base, uint32_t size,
                               uint32_t idx, uint32_t gen, uint32_t inject,
                               uint64_t *seqno, uint64_t *cycles, bool *irq)
{
    ApuState *s = c->s;
    ApuMmu mmu = {
        .ops = &apu_hw_ops,
        .opaque = s,
        .ctx_base = qatomic_read(&s->mmu_ctx_base),
        .ctx_count = qatomic_read(&s->mmu_ctx_count),
    };
    ApuCoreModel model = {
        .macs_per_cycle = c->cls->macs_per_cycle,
        .bytes_per_cycle = c->cls->bytes_per_cycle,
        .op_overhead_cycles = 200,
        .fp16_macs_per_cycle = c->cls->fp16_macs_per_cycle,
    };
    ApuJobCtx jc = { .core = c, .gen = gen };
    uint64_t va = base +
        (uint64_t)(idx & (size - 1)) * sizeof(struct apu_ring_entry);
    struct apu_ring_entry e;
    ApuJobResult res;
    ApuFault f;
    int64_t start = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);

    if (apu_cp_fetch(&mmu, va, &e, &f)) {
        apu_post_event(s, APU_IRQ_ERROR, f.addr,
                       APU_MMU_FAULT_INFO(c->index, f.flags));
        return false;
    }
    *seqno = ldq_le_p(&e.seqno);
    apu_cp_run_entry(&mmu, &model, &e, inject, apu_job_aborted, &jc, &res);
    *cycles = res.cycles;

    /* Time-accurate mode: complete at the modeled time. */
    if ((qatomic_read(&s->ctrl) & APU_CTRL_TIME_ACCURATE) && s->threads) {
        uint32_t scale = MAX(qatomic_read(&s->time_scale), 1);
        double ns = (double)res.cycles * 1000.0 * scale / c->cls->clock_mhz;
        int64_t end = start + (int64_t)MIN(ns, 1e15);

        qemu_mutex_lock(&c->lock);
        while (!c->stop && c->gen == gen &&
               qemu_clock_get_ns(QEMU_CLOCK_REALTIME) < end) {
            int64_t left = end - qemu_clock_get_ns(QEMU_CLOCK_REALTIME);

            qemu_cond_timedwait(&c->cond, &c->lock,
                                MAX(1, MIN(left / SCALE_MS, 1000)));
        }
        qemu_mutex_unlock(&c->lock);
    }
    if (apu_job_aborted(&jc)) {
        return true;
    }
    trace_apu_job_done(c->index, *seqno, res.status, res.cycles);
    if (apu_cp_complete(&mmu, &e, &res, &f)) {
        apu_post_event(s, APU_IRQ_ERROR, f.addr,
                       APU_MMU_FAULT_INFO(c->index, f.flags));
        return false;
    }
    *irq = lduw_le_p(&e.flags) & APU_RING_F_IRQ;
    return true;
}

/*
 * Take and run the next ring entry of a runnable core: called with c->lock
 * held, which it drops while the job runs.
 */
static void apu_core_step_locked(ApuCore *c)
{
    uint64_t base, seqno = 0, cycles = 0;
    uint32_t size, idx, gen, inject;
    bool ok, drop_irq, irq = false;

    base = c->ring_base;
    size = c->ring_size;
    idx = c->head;
    gen = c->gen;
    inject = c->inject;
    c->inject &= ~((1u << APU_INJECT_FAIL_JOB) |
                   (1u << APU_INJECT_MMU_FAULT) |
                   (1u << APU_INJECT_HANG_CORE));
    if (inject & (1u << APU_INJECT_HANG_CORE)) {
        /* Took the job and never comes back, until a reset. */
        c->status = APU_CORE_HUNG;
        return;
    }
    c->status = APU_CORE_BUSY;
    c->running = true;
    qemu_mutex_unlock(&c->lock);

    ok = apu_core_run_entry(c, base, size, idx, gen, inject, &seqno,
                            &cycles, &irq);

    qemu_mutex_lock(&c->lock);
    c->running = false;
    qemu_cond_broadcast(&c->cond);
    if (c->gen != gen) {
        return;                 /* reset while running: dropped */
    }
    if (!ok) {
        c->status = APU_CORE_ERROR;
        return;
    }
    c->status = APU_CORE_IDLE;
    c->head = idx + 1;
    c->completed_seq = seqno;
    c->busy_cycles += cycles;
    c->jobs_done++;
    drop_irq = c->inject & (1u << APU_INJECT_DROP_IRQ);
    c->inject &= ~(1u << APU_INJECT_DROP_IRQ);
    if (irq && !drop_irq) {
        apu_post_event(c->s, APU_IRQ_CORE(c->index), 0, 0);
    }
}

/*
 * Raise what the core's job posted, from the core's thread (c->lock held,
 * not running a job). MSI-X and INTx need the BQL; taking it here rather
 * than handing the event to a main-loop bottom half saves a thread hop
 * per completion (docs/performance.md). The BQL is taken without c->lock,
 * which MMIO handlers take under the BQL. apu_stop_threads(), which holds
 * the BQL while it waits for the thread to leave, lets it go while
 * @bql_wait is set.
 */
static void apu_core_thread_raise(ApuCore *c)
{
    ApuState *s = c->s;

    if (!qatomic_read(&s->pending_irq) || c->stop) {
        return;
    }
    c->bql_wait = true;
    qemu_cond_broadcast(&c->cond);
    qemu_mutex_unlock(&c->lock);
    bql_lock();
    apu_irq_bh(s);
    bql_unlock();
    qemu_mutex_lock(&c->lock);
    c->bql_wait = false;
    qemu_cond_broadcast(&c->cond);
}

static void *apu_core_thread(void *opaque)
{
    ApuCore *c = opaque;

    /*
     * The thread reads the memory map under RCU (apu_dma_rw()): as a
     * reader, it must be registered, or the map it is using can be freed
     * under it when the guest moves a BAR.
     */
    rcu_register_thread();
    qemu_mutex_lock(&c->lock);
    while (!c->stop) {
        if (!apu_core_runnable(c)) {
            qemu_cond_wait(&c->cond, &c->lock);
            continue;
        }
        apu_core_step_locked(c);
        apu_core_thread_raise(c);
    }
    c->exited = true;
    qemu_cond_broadcast(&c->cond);
    qemu_mutex_unlock(&c->lock);
    rcu_unregister_thread();
    return NULL;
}

/* threads=off: one ring entry per bottom half, then again if need be. */
static void apu_core_bh(void *opaque)
{
    ApuCore *c = opaque;
    bool more;

    qemu_mutex_lock(&c->lock);
    if (apu_core_runnable(c)) {
        apu_core_step_locked(c);
    }
    more = apu_core_runnable(c);
    qemu_mutex_unlock(&c->lock);
    if (more) {
        qemu_bh_schedule(c->bh);
    }
}

/* Tell core @c that its state changed (c->lock held). */
static void apu_core_kick_locked(ApuCore *c)
{
    qemu_cond_broadcast(&c->cond);
    if (c->bh) {
        qemu_bh_schedule(c->bh);
    }
}

/*
 * Return core @c to its reset state; a job in flight is dropped. Like a
 * real reset, this is synchronous: when it returns, the dropped job does
 * not touch memory any more, so the driver may reuse its buffers and ring
 * at once. It runs under the BQL (an MMIO write, or a bus reset), so the
 * wait must be short whatever the guest queued: the firmware polls
 * apu_job_aborted() between ops and inside long ones (about every 2^20
 * MACs, elementwise elements or pooling taps, and every 4096 pixels of a
 * pitched copy; docs/hw.md), and the time-accurate wait watches @gen, so
 * the thread leaves the job within milliseconds (a tenth of a second for
 * ops at the device's limits). An asynchronous reset would need a status
 * for the driver to wait on before reusing memory, which the interface
 * does not have; keeping the wait short is simpler.
 */
static void apu_core_reset(ApuCore *c)
{
    qemu_mutex_lock(&c->lock);
    qatomic_set(&c->gen, c->gen + 1);
    qemu_cond_broadcast(&c->cond);
    while (c->running && !c->stop) {
        qemu_cond_wait(&c->cond, &c->lock);
    }
    c->ring_base = 0;
    c->ring_size = 0;
    c->head = 0;
    c->tail = 0;
    c->ctrl = 0;
    c->status = APU_CORE_IDLE;
    c->completed_seq = 0;
    c->busy_cycles = 0;
    c->jobs_done = 0;
    c->inject = 0;
    c->powered = true;
    c->power_ons = 0;
    qemu_cond_broadcast(&c->cond);
    qemu_mutex_unlock(&c->lock);
}

static uint64_t apu_core_read(ApuCore *c, hwaddr off)
{
    uint64_t val = 0;

    qemu_mutex_lock(&c->lock);
    switch (off) {
    case APU_CORE_CLASS:
        val = c->cls->cls;
        break;
    case APU_CORE_MACS_PER_CYCLE:
        val = c->cls->macs_per_cycle;
        break;
    case APU_CORE_CLOCK_MHZ:
        val = c->cls->clock_mhz;
        break;
    case APU_CORE_SRAM_BYTES:
        val = c->cls->sram_bytes;
        break;
    case APU_CORE_ENERGY_FJ_PER_MAC:
        val = c->cls->energy_fj_per_mac;
        break;
    case APU_CORE_IDLE_POWER_UW:
        val = c->cls->idle_power_uw;
        break;
    case APU_CORE_BYTES_PER_CYCLE:
        val = c->cls->bytes_per_cycle;
        break;
    case APU_CORE_FP16_MACS_PER_CYCLE:
        val = c->cls->fp16_macs_per_cycle;
        break;
    case APU_CORE_RING_BASE_LO:
        val = (uint32_t)c->ring_base;
        break;
    case APU_CORE_RING_BASE_HI:
        val = c->ring_base >> 32;
        break;
    case APU_CORE_RING_SIZE:
        val = c->ring_size;
        break;
    case APU_CORE_RING_HEAD:
        val = c->head;
        break;
    case APU_CORE_RING_TAIL:
        val = c->tail;
        break;
    case APU_CORE_STATUS:
        val = !c->powered && c->status == APU_CORE_IDLE ? APU_CORE_OFF
                                                         : c->status;
        break;
    case APU_CORE_POWER:
        val = c->powered;
        break;
    case APU_CORE_POWER_ONS:
        val = c->power_ons;
        break;
    case APU_CORE_CTRL:
        val = c->ctrl;
        break;
    case APU_CORE_COMPLETED_SEQ_LO:
        val = (uint32_t)c->completed_seq;
        break;
    case APU_CORE_COMPLETED_SEQ_HI:
        val = c->completed_seq >> 32;
        break;
    case APU_CORE_BUSY_CYCLES_LO:
        val = (uint32_t)c->busy_cycles;
        break;
    case APU_CORE_BUSY_CYCLES_HI:
        val = c->busy_cycles >> 32;
        break;
    case APU_CORE_JOBS_DONE:
        val = c->jobs_done;
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "apu: read of unknown core %d register 0x%" HWADDR_PRIx
                      "\n", c->index, off);
        break;
    }
    qemu_mutex_unlock(&c->lock);
    return val;
}

static void apu_core_write(ApuCore *c, hwaddr off, uint32_t val)
{
    qemu_mutex_lock(&c->lock);
    switch (off) {
    case APU_CORE_RING_BASE_LO:
        c->ring_base = deposit64(c->ring_base, 0, 32, val);
        break;
    case APU_CORE_RING_BASE_HI:
        c->ring_base = deposit64(c->ring_base, 32, 32, val);
        break;
    case APU_CORE_RING_SIZE:
        if (val > APU_RING_MAX || (val & (val - 1))) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "apu: core %d ring size %u is not a power of two "
                          "up to %u; ring disabled\n", c->index, val,
                          APU_RING_MAX);
            val = 0;
        }
        c->ring_size = val;
        break;
    case APU_CORE_RING_TAIL:
        c->tail = val;
        trace_apu_doorbell(c->index, val);
        break;
    case APU_CORE_CTRL:
        c->ctrl = val & APU_CORE_CTRL_ENABLE;
        break;
    case APU_CORE_POWER:
        if ((val & APU_CORE_POWER_ON) && !c->powered) {
            c->power_ons++;
        }
        c->powered = val & APU_CORE_POWER_ON;
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "apu: write to read-only or unknown core %d register "
                      "0x%" HWADDR_PRIx "\n", c->index, off);
        break;
    }
    apu_core_kick_locked(c);
    qemu_mutex_unlock(&c->lock);
}

/* ---- firmware boot ------------------------------------------------------ */

static void apu_fw_fail(ApuState *s, uint32_t err)
{
    s->fw_status = APU_FW_STATUS_ERROR;
    s->fw_error = err;
    s->fw_version = 0;
    trace_apu_fw_boot_done(s->fw_status, err);
    qemu_log_mask(LOG_GUEST_ERROR, "apu: firmware refused: %s\n",
                  apu_fw_err_text(err));
}

/*
 * The boot handshake, run from a bottom half so that the guest sees
 * BOOTING first, as on hardware. The image is copied into the device (it
 * is the firmware's memory from now on) and checked there.
 */
static void apu_fw_boot_bh(void *opaque)
{
    ApuState *s = opaque;
    g_autofree uint8_t *image = NULL;
    uint32_t err, version = 0;

    if (s->fw_status != APU_FW_STATUS_BOOTING) {
        return;
    }
    if (s->inject_refuse_fw) {
        s->inject_refuse_fw = false;
        apu_fw_fail(s, APU_FW_ERR_INJECTED);
        return;
    }
    if (s->fw_size > APU_FW_MAX_SIZE) {
        apu_fw_fail(s, APU_FW_ERR_TOO_LARGE);
        return;
    }
    image = g_malloc(s->fw_size ? s->fw_size : 1);
    if (pci_dma_read(PCI_DEVICE(s), s->fw_addr, image, s->fw_size) !=
        MEMTX_OK) {
        apu_fw_fail(s, APU_FW_ERR_DMA);
        return;
    }
    err = apu_fw_image_check(image, s->fw_size,
                             APU_FW_ABI(APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR),
                             &version);
    if (err != APU_FW_ERR_NONE) {
        apu_fw_fail(s, err);
        return;
    }
    s->fw_version = version;
    s->fw_error = APU_FW_ERR_NONE;
    s->fw_status = APU_FW_STATUS_READY;
    trace_apu_fw_boot_done(s->fw_status, 0);
}

static void apu_fw_ctrl(ApuState *s, uint32_t val)
{
    if (!(val & APU_FW_CTRL_BOOT)) {
        return;
    }
    if (s->fw_status == APU_FW_STATUS_BOOTING ||
        s->fw_status == APU_FW_STATUS_READY) {
        /* Only a reset stops running firmware; the boot stays as it is. */
        qemu_log_mask(LOG_GUEST_ERROR,
                      "apu: firmware boot requested while %s\n",
                      s->fw_status == APU_FW_STATUS_READY ? "running"
                                                          : "booting");
        return;
    }
    trace_apu_fw_boot(s->fw_addr, s->fw_size);
    s->fw_status = APU_FW_STATUS_BOOTING;
    s->fw_error = APU_FW_ERR_NONE;
    qemu_bh_schedule(s->fw_bh);
}

/* ---- device registers ---------------------------------------------------- */

/* The device's reset state; used by bus reset and by APU_REG_RESET. */
static void apu_reset(ApuState *s)
{
    int i;

    for (i = 0; i < s->num_cores; i++) {
        apu_core_reset(&s->cores[i]);
    }
    qemu_bh_cancel(s->fw_bh);
    qemu_mutex_lock(&s->event_lock);
    s->pending_irq = 0;
    qemu_mutex_unlock(&s->event_lock);
    s->scratch = 0;
    s->irq_status = 0;
    s->irq_mask = 0;
    qatomic_set(&s->ctrl, 0);
    qatomic_set(&s->time_scale, 1);
    qatomic_set(&s->mmu_ctx_base, 0);
    qatomic_set(&s->mmu_ctx_count, 0);
    s->fault_addr = 0;
    s->fault_info = 0;
    /* An armed firmware refusal survives, for the driver's next boot. */
    s->fw_addr = 0;
    s->fw_size = 0;
    s->fw_status = APU_FW_STATUS_OFF;
    s->fw_error = APU_FW_ERR_NONE;
    s->fw_version = 0;
    apu_update_intx(s);
}

static uint32_t apu_dbg_pending(ApuState *s, int first)
{
    uint32_t val = 0;
    int i;

    for (i = first; i < first + 4 && i < s->num_cores; i++) {
        ApuCore *c = &s->cores[i];

        qemu_mutex_lock(&c->lock);
        val |= (c->inject & 0xff) << ((i - first) * 8);
        qemu_mutex_unlock(&c->lock);
    }
    return val;
}

static void apu_dbg_inject(ApuState *s, uint32_t val)
{
    unsigned core = (val >> 8) & 0xff, kind = val & 0xff;
    ApuCore *c;

    if (kind == APU_INJECT_REFUSE_FW) {
        s->inject_refuse_fw = true;
        return;
    }
    if (core >= s->num_cores || kind < APU_INJECT_HANG_CORE ||
        kind > APU_INJECT_MMU_FAULT) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "apu: bad fault injection 0x%x\n", val);
        return;
    }
    c = &s->cores[core];
    qemu_mutex_lock(&c->lock);
    c->inject |= 1u << kind;
    qemu_mutex_unlock(&c->lock);
    trace_apu_inject(core, kind);
}

static uint64_t apu_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    ApuState *s = opaque;
    uint32_t val = 0;

    if (addr >= APU_CORE_BASE(0) && addr < APU_CORE_BASE(s->num_cores)) {
        val = apu_core_read(&s->cores[(addr - APU_CORE_BASE(0)) / 0x100],
                            addr & 0xff);
        trace_apu_mmio_read(addr, val);
        return val;
    }
    switch (addr) {
    case APU_REG_ID:
        val = APU_ID_MAGIC;
        break;
    case APU_REG_VERSION:
        val = APU_VERSION(APU_HW_VERSION_MAJOR, APU_HW_VERSION_MINOR,
                          APU_HW_VERSION_PATCH);
        break;
    case APU_REG_SCRATCH:
        val = s->scratch;
        break;
    case APU_REG_RESET:
    case APU_REG_FW_CTRL:
    case APU_REG_DBG_INJECT:
        val = 0;
        break;
    case APU_REG_NUM_CORES:
        val = s->num_cores;
        break;
    case APU_REG_FEATURES:
        val = APU_FEATURE_MMU | APU_FEATURE_TIME_ACCURATE |
              APU_FEATURE_FAULT_INJECT | APU_FEATURE_POWER_GATING |
              APU_FEATURE_QUANT_OPS | APU_FEATURE_WRITE_LIST |
              APU_FEATURE_INT4_WEIGHTS | APU_FEATURE_SPARSE_WEIGHTS |
              APU_FEATURE_FP16;
        break;
    case APU_REG_MAX_CONTEXTS:
        val = APU_MAX_CTX;
        break;
    case APU_REG_OPS:
        val = APU_OPS_MASK;
        break;
    case APU_REG_IRQ_STATUS:
        val = s->irq_status;
        break;
    case APU_REG_IRQ_MASK:
        val = s->irq_mask;
        break;
    case APU_REG_CTRL:
        val = qatomic_read(&s->ctrl);
        break;
    case APU_REG_TIME_SCALE:
        val = MAX(qatomic_read(&s->time_scale), 1);
        break;
    case APU_REG_MMU_CTX_BASE_LO:
        val = (uint32_t)qatomic_read(&s->mmu_ctx_base);
        break;
    case APU_REG_MMU_CTX_BASE_HI:
        val = qatomic_read(&s->mmu_ctx_base) >> 32;
        break;
    case APU_REG_MMU_CTX_COUNT:
        val = qatomic_read(&s->mmu_ctx_count);
        break;
    case APU_REG_MMU_FAULT_ADDR_LO:
        val = (uint32_t)s->fault_addr;
        break;
    case APU_REG_MMU_FAULT_ADDR_HI:
        val = s->fault_addr >> 32;
        break;
    case APU_REG_MMU_FAULT_INFO:
        val = s->fault_info;
        break;
    case APU_REG_DBG_PENDING_LO:
        val = apu_dbg_pending(s, 0);
        break;
    case APU_REG_DBG_PENDING_HI:
        val = apu_dbg_pending(s, 4);
        break;
    case APU_REG_DBG_FW_PENDING:
        val = s->inject_refuse_fw;
        break;
    case APU_REG_FW_ADDR_LO:
        val = (uint32_t)s->fw_addr;
        break;
    case APU_REG_FW_ADDR_HI:
        val = s->fw_addr >> 32;
        break;
    case APU_REG_FW_SIZE:
        val = s->fw_size;
        break;
    case APU_REG_FW_STATUS:
        val = s->fw_status;
        break;
    case APU_REG_FW_ERROR:
        val = s->fw_error;
        break;
    case APU_REG_FW_VERSION:
        val = s->fw_version;
        break;
    case APU_REG_FW_ABI:
        val = APU_FW_ABI(APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "apu: read of unknown register 0x%" HWADDR_PRIx "\n",
                      addr);
        break;
    }
    trace_apu_mmio_read(addr, val);
    return val;
}

static void apu_mmio_write(void *opaque, hwaddr addr, uint64_t val64,
                           unsigned size)
{
    ApuState *s = opaque;
    uint32_t val = val64, old;
    int i;

    trace_apu_mmio_write(addr, val);
    if (addr >= APU_CORE_BASE(0) && addr < APU_CORE_BASE(s->num_cores)) {
        apu_core_write(&s->cores[(addr - APU_CORE_BASE(0)) / 0x100],
                       addr & 0xff, val);
        return;
    }
    switch (addr) {
    case APU_REG_SCRATCH:
        s->scratch = val;
        break;
    case APU_REG_RESET:
        if (val & APU_RESET_DEVICE) {
            trace_apu_reset(~0u);
            apu_reset(s);
            break;
        }
        for (i = 0; i < s->num_cores; i++) {
            if (val & APU_RESET_CORE(i)) {
                trace_apu_reset(i);
                apu_core_reset(&s->cores[i]);
                s->irq_status &= ~APU_IRQ_CORE(i);
            }
        }
        apu_update_intx(s);
        break;
    case APU_REG_IRQ_STATUS:
        s->irq_status &= ~val;
        apu_update_intx(s);
        break;
    case APU_REG_IRQ_MASK:
        old = s->irq_mask;
        s->irq_mask = val & (((1u << s->num_cores) - 1) | APU_IRQ_ERROR);
        /* Newly enabled events that are pending are sent now. */
        apu_msix_send(s, s->irq_status & s->irq_mask & ~old);
        apu_update_intx(s);
        break;
    case APU_REG_CTRL:
        qatomic_set(&s->ctrl, val & APU_CTRL_TIME_ACCURATE);
        break;
    case APU_REG_TIME_SCALE:
        qatomic_set(&s->time_scale, MIN(MAX(val, 1), 1000000));
        break;
    case APU_REG_MMU_CTX_BASE_LO:
        qatomic_set(&s->mmu_ctx_base,
                    deposit64(qatomic_read(&s->mmu_ctx_base), 0, 32, val));
        break;
    case APU_REG_MMU_CTX_BASE_HI:
        qatomic_set(&s->mmu_ctx_base,
                    deposit64(qatomic_read(&s->mmu_ctx_base), 32, 32, val));
        break;
    case APU_REG_MMU_CTX_COUNT:
        if (val > APU_MAX_CTX) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "apu: %u contexts, at most %u; MMU off\n", val,
                          APU_MAX_CTX);
            val = 0;
        }
        qatomic_set(&s->mmu_ctx_count, val);
        break;
    case APU_REG_DBG_INJECT:
        apu_dbg_inject(s, val);
        break;
    case APU_REG_FW_ADDR_LO:
        s->fw_addr = deposit64(s->fw_addr, 0, 32, val);
        break;
    case APU_REG_FW_ADDR_HI:
        s->fw_addr = deposit64(s->fw_addr, 32, 32, val);
        break;
    case APU_REG_FW_SIZE:
        s->fw_size = val;
        break;
    case APU_REG_FW_CTRL:
        apu_fw_ctrl(s, val);
        break;
    case APU_REG_ID:
    case APU_REG_VERSION:
    case APU_REG_NUM_CORES:
    case APU_REG_FEATURES:
    case APU_REG_MAX_CONTEXTS:
    case APU_REG_OPS:
    case APU_REG_MMU_FAULT_ADDR_LO:
    case APU_REG_MMU_FAULT_ADDR_HI:
    case APU_REG_MMU_FAULT_INFO:
    case APU_REG_DBG_PENDING_LO:
    case APU_REG_DBG_PENDING_HI:
    case APU_REG_DBG_FW_PENDING:
    case APU_REG_FW_STATUS:
    case APU_REG_FW_ERROR:
    case APU_REG_FW_VERSION:
    case APU_REG_FW_ABI:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "apu: write to read-only register 0x%" HWADDR_PRIx "\n",
                      addr);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "apu: write to unknown register 0x%" HWADDR_PRIx "\n",
                      addr);
        break;
    }
}

static const MemoryRegionOps apu_mmio_ops = {
    .read = apu_mmio_read,
    .write = apu_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    /* Registers take aligned 32-bit accesses only; others fail the access. */
    .valid = {
        .min_access_size = 4,
        .max_access_size = 4,
        .unaligned = false,
    },
    .impl = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};

/* ---- QOM --------------------------------------------------------------- */

static void apu_stop_threads(ApuState *s)
{
    int i;

    for (i = 0; i < s->num_cores; i++) {
        ApuCore *c = &s->cores[i];

        qemu_mutex_lock(&c->lock);
        qatomic_set(&c->stop, true);
        qemu_cond_broadcast(&c->cond);
        qemu_mutex_unlock(&c->lock);
    }
    for (i = 0; i < s->num_cores; i++) {
        ApuCore *c = &s->cores[i];

        if (c->thread_started) {
            /*
             * A thread raising its last interrupt waits for the BQL,
             * which the caller holds: let it go for that while.
             */
            qemu_mutex_lock(&c->lock);
            while (!c->exited) {
                if (c->bql_wait && bql_locked()) {
                    qemu_mutex_unlock(&c->lock);
                    bql_unlock();
                    qemu_mutex_lock(&c->lock);
                    while (c->bql_wait) {
                        qemu_cond_wait(&c->cond, &c->lock);
                    }
                    qemu_mutex_unlock(&c->lock);
                    bql_lock();
                    qemu_mutex_lock(&c->lock);
                    continue;
                }
                qemu_cond_wait(&c->cond, &c->lock);
            }
            qemu_mutex_unlock(&c->lock);
            qemu_thread_join(&c->thread);
            c->thread_started = false;
        }
    }
    /*
     * Only now, with every thread gone: while the BQL was let go above, the
     * guest could still reach any core's registers (and their locks).
     */
    for (i = 0; i < s->num_cores; i++) {
        ApuCore *c = &s->cores[i];

        if (c->bh) {
            qemu_bh_delete(c->bh);
            c->bh = NULL;
        }
        qemu_cond_destroy(&c->cond);
        qemu_mutex_destroy(&c->lock);
    }
}

static void apu_realize(PCIDevice *pdev, Error **errp)
{
    ApuState *s = APU_PCI(pdev);
    DeviceState *dev = DEVICE(pdev);
    unsigned vectors;
    int i, cls;

    s->num_cores = s->big_cores + s->little_cores + s->tiny_cores;
    if (s->num_cores < 1 || s->num_cores > APU_MAX_CORES) {
        error_setg(errp, "apu: big-cores + little-cores + tiny-cores is %u; "
                   "the device has 1 to %d cores", s->num_cores,
                   APU_MAX_CORES);
        return;
    }
    vectors = s->shared_irq ? 1 : s->num_cores + 1;
    if (msix_init_exclusive_bar(pdev, vectors, 2, errp)) {
        return;
    }
    for (i = 0; i < vectors; i++) {
        msix_vector_use(pdev, i);
    }
    pci_config_set_interrupt_pin(pdev->config, 1);

    s->fw_bh = qemu_bh_new_guarded(apu_fw_boot_bh, s,
                                   &dev->mem_reentrancy_guard);
    s->irq_bh = qemu_bh_new_guarded(apu_irq_bh, s,
                                    &dev->mem_reentrancy_guard);
    qemu_mutex_init(&s->event_lock);

    for (i = 0; i < s->num_cores; i++) {
        ApuCore *c = &s->cores[i];
        char name[16];

        c->s = s;
        c->index = i;
        cls = i < s->big_cores ? APU_CLASS_BIG :
              i < s->big_cores + s->little_cores ? APU_CLASS_LITTLE :
              APU_CLASS_TINY;
        c->cls = &apu_classes[cls];
        qemu_mutex_init(&c->lock);
        qemu_cond_init(&c->cond);
        if (!s->threads) {
            c->bh = qemu_bh_new_guarded(apu_core_bh, c,
                                        &dev->mem_reentrancy_guard);
            continue;
        }
        snprintf(name, sizeof(name), "apu-core%d", i);
        qemu_thread_create(&c->thread, name, apu_core_thread, c,
                           QEMU_THREAD_JOINABLE);
        c->thread_started = true;
    }

    memory_region_init_io(&s->mmio, OBJECT(s), &apu_mmio_ops, s,
                          "apu-mmio", APU_BAR0_SIZE);
    pci_register_bar(pdev, 0,
                     PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64,
                     &s->mmio);
}

static void apu_exit(PCIDevice *pdev)
{
    ApuState *s = APU_PCI(pdev);

    apu_stop_threads(s);
    qemu_bh_delete(s->fw_bh);
    qemu_bh_delete(s->irq_bh);
    qemu_mutex_destroy(&s->event_lock);
    msix_uninit_exclusive_bar(pdev);
}

static void apu_reset_hold(Object *obj, ResetType type)
{
    ApuState *s = APU_PCI(obj);

    apu_reset(s);
    s->inject_refuse_fw = false;    /* a bus reset clears everything */
}

static const Property apu_properties[] = {
    DEFINE_PROP_BOOL("threads", ApuState, threads, true),
    DEFINE_PROP_UINT8("big-cores", ApuState, big_cores,
                      APU_DEFAULT_BIG_CORES),
    DEFINE_PROP_UINT8("little-cores", ApuState, little_cores,
                      APU_DEFAULT_LITTLE_CORES),
    DEFINE_PROP_UINT8("tiny-cores", ApuState, tiny_cores,
                      APU_DEFAULT_TINY_CORES),
    DEFINE_PROP_BOOL("shared-irq", ApuState, shared_irq, false),
};

/* Jobs run on host threads: their state does not migrate. */
static const VMStateDescription vmstate_apu = {
    .name = TYPE_APU_PCI,
    .unmigratable = 1,
};

static void apu_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = apu_realize;
    k->exit = apu_exit;
    k->vendor_id = APU_PCI_VENDOR_ID;
    k->device_id = APU_PCI_DEVICE_ID;
    k->revision = APU_PCI_REVISION;
    k->class_id = APU_PCI_CLASS_ACCEL;
    rc->phases.hold = apu_reset_hold;
    dc->desc = "APU neural processing unit (big, little and tiny cores)";
    dc->vmsd = &vmstate_apu;
    device_class_set_props(dc, apu_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static void apu_register_types(void)
{
    static InterfaceInfo interfaces[] = {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { },
    };
    static const TypeInfo apu_info = {
        .name          = TYPE_APU_PCI,
        .parent        = TYPE_PCI_DEVICE,
        .instance_size = sizeof(ApuState),
        .class_init    = apu_class_init,
        .interfaces    = interfaces,
    };

    type_register_static(&apu_info);
}

type_init(apu_register_types)
