/*
 * apu: an emulated NPU with big, little and tiny int8 cores.
 *
 * This is the PCI front end of the device: its identity, the BAR0 register
 * block and the firmware boot handshake. The register map is defined once,
 * in apu_hw.h, which the guest driver and the firmware include too;
 * docs/hw.md and docs/firmware.md describe it.
 *
 * Nothing a guest writes may crash or hang QEMU: unknown registers read as
 * zero and ignore writes, read-only registers ignore writes, and both are
 * logged as guest errors.
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "hw/pci/pci_device.h"
#include "system/dma.h"
#include "migration/vmstate.h"
#include "qom/object.h"
#include "hw/apu_hw.h"
#include "hw/apu_fw.h"
#include "trace.h"

#define TYPE_APU_PCI "apu"
OBJECT_DECLARE_SIMPLE_TYPE(ApuState, APU_PCI)

struct ApuState {
    PCIDevice parent_obj;

    MemoryRegion mmio;
    uint32_t scratch;

    /* Firmware boot block. */
    uint64_t fw_addr;
    uint32_t fw_size;
    uint32_t fw_status;
    uint32_t fw_error;
    uint32_t fw_version;
    QEMUBH *fw_bh;
};

static const char *const apu_fw_err_names[] = {
    [APU_FW_ERR_NONE] = "none",
    [APU_FW_ERR_BAD_MAGIC] = "bad magic",
    [APU_FW_ERR_BAD_HEADER] = "bad header",
    [APU_FW_ERR_TRUNCATED] = "truncated",
    [APU_FW_ERR_BAD_CRC] = "bad CRC",
    [APU_FW_ERR_ABI] = "unsupported ABI",
    [APU_FW_ERR_TOO_LARGE] = "too large",
    [APU_FW_ERR_DMA] = "DMA error",
    [APU_FW_ERR_BUSY] = "busy",
};

static void apu_fw_fail(ApuState *s, uint32_t err)
{
    s->fw_status = APU_FW_STATUS_ERROR;
    s->fw_error = err;
    s->fw_version = 0;
    trace_apu_fw_boot_done(s->fw_status, err);
    qemu_log_mask(LOG_GUEST_ERROR, "apu: firmware refused: %s\n",
                  err < ARRAY_SIZE(apu_fw_err_names) ? apu_fw_err_names[err]
                                                     : "?");
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

/* The device's reset state; used by bus reset and by APU_REG_RESET. */
static void apu_reset(ApuState *s)
{
    qemu_bh_cancel(s->fw_bh);
    s->scratch = 0;
    s->fw_addr = 0;
    s->fw_size = 0;
    s->fw_status = APU_FW_STATUS_OFF;
    s->fw_error = APU_FW_ERR_NONE;
    s->fw_version = 0;
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

static uint32_t apu_hw_version(void)
{
    return APU_VERSION(APU_HW_VERSION_MAJOR, APU_HW_VERSION_MINOR,
                       APU_HW_VERSION_PATCH);
}

static uint64_t apu_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    ApuState *s = opaque;
    uint32_t val;

    switch (addr) {
    case APU_REG_ID:
        val = APU_ID_MAGIC;
        break;
    case APU_REG_VERSION:
        val = apu_hw_version();
        break;
    case APU_REG_SCRATCH:
        val = s->scratch;
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
    case APU_REG_FW_CTRL:
    case APU_REG_RESET:
        val = 0;
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
        val = 0;
        break;
    }
    trace_apu_mmio_read(addr, val);
    return val;
}

static void apu_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                           unsigned size)
{
    ApuState *s = opaque;

    trace_apu_mmio_write(addr, val);
    switch (addr) {
    case APU_REG_SCRATCH:
        s->scratch = val;
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
    case APU_REG_RESET:
        if (val & APU_RESET_DEVICE) {
            trace_apu_reset();
            apu_reset(s);
        }
        break;
    case APU_REG_ID:
    case APU_REG_VERSION:
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

static void apu_realize(PCIDevice *pdev, Error **errp)
{
    ApuState *s = APU_PCI(pdev);
    DeviceState *dev = DEVICE(pdev);

    s->fw_bh = qemu_bh_new_guarded(apu_fw_boot_bh, s,
                                   &dev->mem_reentrancy_guard);

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

    qemu_bh_delete(s->fw_bh);
}

static void apu_reset_hold(Object *obj, ResetType type)
{
    apu_reset(APU_PCI(obj));
}

static int apu_post_load(void *opaque, int version_id)
{
    ApuState *s = opaque;

    if (s->fw_status > APU_FW_STATUS_ERROR) {
        return -EINVAL;
    }
    /* A boot that was in flight is redone on the destination. */
    if (s->fw_status == APU_FW_STATUS_BOOTING) {
        qemu_bh_schedule(s->fw_bh);
    }
    return 0;
}

static const VMStateDescription vmstate_apu = {
    .name = TYPE_APU_PCI,
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = apu_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, ApuState),
        VMSTATE_UINT32(scratch, ApuState),
        VMSTATE_UINT64(fw_addr, ApuState),
        VMSTATE_UINT32(fw_size, ApuState),
        VMSTATE_UINT32(fw_status, ApuState),
        VMSTATE_UINT32(fw_error, ApuState),
        VMSTATE_UINT32(fw_version, ApuState),
        VMSTATE_END_OF_LIST()
    },
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
    dc->desc = "APU neural processing unit";
    dc->vmsd = &vmstate_apu;
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
