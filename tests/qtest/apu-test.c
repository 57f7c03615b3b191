/*
 * qtests for the apu PCI device: PCI identity and the BAR0 register block.
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "hw/pci/pci_regs.h"
#include "hw/misc/apu_hw.h"

#define APU_DEVFN QPCI_DEVFN(4, 0)

typedef struct ApuTest {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar bar;
    uint64_t bar_size;
} ApuTest;

static void apu_start(ApuTest *t)
{
    t->qts = qtest_init("-machine q35 -nic none -vga none "
                       "-device apu,addr=04.0");
    t->bus = qpci_new_pc(t->qts, NULL);
    t->dev = qpci_device_find(t->bus, APU_DEVFN);
    g_assert_nonnull(t->dev);
    qpci_device_enable(t->dev);
    t->bar = qpci_iomap(t->dev, 0, &t->bar_size);
}

static void apu_stop(ApuTest *t)
{
    qpci_iounmap(t->dev, t->bar);
    g_free(t->dev);
    qpci_free_pc(t->bus);
    qtest_quit(t->qts);
}

static uint32_t rd(ApuTest *t, uint64_t reg)
{
    return qpci_io_readl(t->dev, t->bar, reg);
}

static void wr(ApuTest *t, uint64_t reg, uint32_t val)
{
    qpci_io_writel(t->dev, t->bar, reg, val);
}

static void test_pci_identity(void)
{
    ApuTest t;

    apu_start(&t);
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_VENDOR_ID), ==,
                    APU_PCI_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_DEVICE_ID), ==,
                    APU_PCI_DEVICE_ID);
    g_assert_cmphex(qpci_config_readb(t.dev, PCI_REVISION_ID), ==,
                    APU_PCI_REVISION);
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_CLASS_DEVICE), ==,
                    APU_PCI_CLASS_ACCEL);
    /* BAR0 is a 64-bit memory BAR of the documented size. */
    g_assert_cmphex(qpci_config_readl(t.dev, PCI_BASE_ADDRESS_0) &
                    PCI_BASE_ADDRESS_MEM_TYPE_MASK, ==,
                    PCI_BASE_ADDRESS_MEM_TYPE_64);
    g_assert_cmpuint(t.bar_size, ==, APU_BAR0_SIZE);
    apu_stop(&t);
}

static void test_id_version(void)
{
    ApuTest t;
    uint32_t v;

    apu_start(&t);
    g_assert_cmphex(rd(&t, APU_REG_ID), ==, APU_ID_MAGIC);
    v = rd(&t, APU_REG_VERSION);
    g_assert_cmpuint(APU_VERSION_MAJOR(v), ==, APU_HW_VERSION_MAJOR);
    g_assert_cmpuint(APU_VERSION_MINOR(v), ==, APU_HW_VERSION_MINOR);
    g_assert_cmpuint(APU_VERSION_PATCH(v), ==, APU_HW_VERSION_PATCH);
    g_assert_cmphex(v >> 24, ==, 0);
    apu_stop(&t);
}

static void test_read_only(void)
{
    ApuTest t;

    apu_start(&t);
    wr(&t, APU_REG_ID, 0xdeadbeef);
    wr(&t, APU_REG_VERSION, 0xffffffff);
    g_assert_cmphex(rd(&t, APU_REG_ID), ==, APU_ID_MAGIC);
    g_assert_cmphex(rd(&t, APU_REG_VERSION), ==,
                    APU_VERSION(APU_HW_VERSION_MAJOR, APU_HW_VERSION_MINOR,
                                APU_HW_VERSION_PATCH));
    apu_stop(&t);
}

static void test_scratch_and_reset(void)
{
    static const uint32_t patterns[] = {
        0xffffffff, 0x00000000, 0xa5a5a5a5, 0x5a5a5a5a, 0x12345678,
    };
    ApuTest t;
    size_t i;

    apu_start(&t);
    g_assert_cmphex(rd(&t, APU_REG_SCRATCH), ==, 0);
    for (i = 0; i < G_N_ELEMENTS(patterns); i++) {
        wr(&t, APU_REG_SCRATCH, patterns[i]);
        g_assert_cmphex(rd(&t, APU_REG_SCRATCH), ==, patterns[i]);
    }
    /*
     * A system reset returns the register to its reset value. It also
     * clears the BAR, so map it again and check the identity first: that
     * proves the zero is read from the device.
     */
    qtest_system_reset(t.qts);
    qpci_iounmap(t.dev, t.bar);
    t.bar = qpci_iomap(t.dev, 0, NULL);
    qpci_device_enable(t.dev);
    g_assert_cmphex(rd(&t, APU_REG_ID), ==, APU_ID_MAGIC);
    g_assert_cmphex(rd(&t, APU_REG_SCRATCH), ==, 0);
    apu_stop(&t);
}

/*
 * Whatever the guest does to undefined offsets or with the wrong access
 * size, the device keeps working: reads of holes are zero, writes to them
 * change nothing.
 */
static void test_bad_accesses(void)
{
    ApuTest t;
    uint64_t off;

    apu_start(&t);
    wr(&t, APU_REG_SCRATCH, 0x13579bdf);
    for (off = 0x0c; off < APU_BAR0_SIZE; off += 0x404) {
        off &= ~3ULL;
        g_assert_cmphex(rd(&t, off), ==, 0);
        wr(&t, off, 0xffffffff);
        g_assert_cmphex(rd(&t, off), ==, 0);
    }
    g_assert_cmphex(rd(&t, APU_BAR0_SIZE - 4), ==, 0);
    /* Sub-word and unaligned accesses are refused by the bus. */
    qpci_io_writeb(t.dev, t.bar, APU_REG_SCRATCH, 0x00);
    qpci_io_writew(t.dev, t.bar, APU_REG_SCRATCH + 2, 0x0000);
    qpci_io_writel(t.dev, t.bar, APU_REG_SCRATCH + 1, 0);
    (void)qpci_io_readb(t.dev, t.bar, APU_REG_ID);
    (void)qpci_io_readw(t.dev, t.bar, APU_REG_ID + 2);
    /* A 64-bit access is split into two 32-bit ones. */
    qpci_io_writeq(t.dev, t.bar, 0x100, ~0ULL);
    g_assert_cmphex(qpci_io_readq(t.dev, t.bar, APU_REG_ID), ==,
                    ((uint64_t)APU_VERSION(APU_HW_VERSION_MAJOR,
                                           APU_HW_VERSION_MINOR,
                                           APU_HW_VERSION_PATCH) << 32) |
                    APU_ID_MAGIC);
    g_assert_cmphex(rd(&t, APU_REG_SCRATCH), ==, 0x13579bdf);
    g_assert_cmphex(rd(&t, APU_REG_ID), ==, APU_ID_MAGIC);
    apu_stop(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/apu/pci-identity", test_pci_identity);
    qtest_add_func("/apu/id-version", test_id_version);
    qtest_add_func("/apu/read-only", test_read_only);
    qtest_add_func("/apu/scratch-and-reset", test_scratch_and_reset);
    qtest_add_func("/apu/bad-accesses", test_bad_accesses);
    return g_test_run();
}
