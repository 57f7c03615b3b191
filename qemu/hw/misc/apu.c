/*
 * apu: an emulated NPU with big, little and tiny int8 cores.
 *
 * This is the PCI front end of the device: its identity and the BAR0
 * register block. The register map is defined once, in apu_hw.h, which the
 * guest driver and the firmware include too; docs/hw.md describes it.
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
#include "hw/pci/pci_device.h"
#include "migration/vmstate.h"
#include "qom/object.h"
#include "hw/misc/apu_hw.h"
#include "trace.h"

#define TYPE_APU_PCI "apu"
OBJECT_DECLARE_SIMPLE_TYPE(ApuState, APU_PCI)

struct ApuState {
    PCIDevice parent_obj;

    MemoryRegion mmio;
    uint32_t scratch;
};

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
    case APU_REG_ID:
    case APU_REG_VERSION:
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

    memory_region_init_io(&s->mmio, OBJECT(s), &apu_mmio_ops, s,
                          "apu-mmio", APU_BAR0_SIZE);
    pci_register_bar(pdev, 0,
                     PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64,
                     &s->mmio);
}

static void apu_reset_hold(Object *obj, ResetType type)
{
    ApuState *s = APU_PCI(obj);

    s->scratch = 0;
}

static const VMStateDescription vmstate_apu = {
    .name = TYPE_APU_PCI,
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, ApuState),
        VMSTATE_UINT32(scratch, ApuState),
        VMSTATE_END_OF_LIST()
    },
};

static void apu_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = apu_realize;
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
