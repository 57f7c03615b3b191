/*
 * libqos driver node of the apu PCI device.
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "../libqtest.h"
#include "qemu/module.h"
#include "apu.h"

static void *apu_get_driver(void *obj, const char *interface)
{
    QApu *a = obj;

    if (!g_strcmp0(interface, "apu")) {
        return a;
    }
    if (!g_strcmp0(interface, "pci-device")) {
        return &a->dev;
    }
    fprintf(stderr, "%s not present in apu\n", interface);
    g_assert_not_reached();
}

static void apu_start_hw(QOSGraphObject *obj)
{
    QApu *a = (QApu *)obj;

    qpci_device_enable(&a->dev);
}

static void apu_destructor(QOSGraphObject *obj)
{
    QApu *a = (QApu *)obj;

    qpci_iounmap(&a->dev, a->bar);
}

static void *apu_create(void *pci_bus, QGuestAllocator *alloc, void *addr)
{
    QApu *a = g_new0(QApu, 1);

    qpci_device_init(&a->dev, pci_bus, addr);
    a->bar = qpci_iomap(&a->dev, 0, &a->bar_size);
    a->obj.get_driver = apu_get_driver;
    a->obj.start_hw = apu_start_hw;
    a->obj.destructor = apu_destructor;
    return &a->obj;
}

static void apu_register_nodes(void)
{
    QPCIAddress addr = { .devfn = QAPU_DEVFN };
    QOSGraphEdgeOptions opts = {
        .extra_device_opts = "id=apu0,addr=04.0",
    };

    add_qpci_address(&opts, &addr);
    qos_node_create_driver("apu", apu_create);
    qos_node_consumes("apu", "pci-bus", &opts);
    qos_node_produces("apu", "pci-device");
}

libqos_init(apu_register_nodes);
