/*
 * libqos driver node of the apu PCI device.
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QGRAPH_APU_H
#define QGRAPH_APU_H

#include "qgraph.h"
#include "pci.h"

/* Where the node puts the device: -device apu,id=apu0,addr=04.0 */
#define QAPU_SLOT 4
#define QAPU_DEVFN QPCI_DEVFN(QAPU_SLOT, 0)

/*
 * The "apu" node consumes "pci-bus" (x86_64/pc, aarch64/virt, ...) and
 * produces itself and "pci-device". Once started, BAR0 is mapped at @bar
 * and memory decoding and bus mastering are on.
 */
typedef struct QApu {
    QOSGraphObject obj;
    QPCIDevice dev;
    QPCIBar bar;
    uint64_t bar_size;
} QApu;

#endif
