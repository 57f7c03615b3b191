/*
 * qtests for the apu PCI device: PCI identity and the BAR0 register block.
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "hw/pci/pci_regs.h"
#include "hw/apu_hw.h"
#include "hw/apu_fw.h"

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
    for (off = 0x20c; off < APU_BAR0_SIZE; off += 0x404) {
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
    qpci_io_writeq(t.dev, t.bar, 0x200, ~0ULL);
    g_assert_cmphex(rd(&t, 0x200), ==, 0);
    g_assert_cmphex(rd(&t, 0x204), ==, 0);
    g_assert_cmphex(qpci_io_readq(t.dev, t.bar, APU_REG_ID), ==,
                    ((uint64_t)APU_VERSION(APU_HW_VERSION_MAJOR,
                                           APU_HW_VERSION_MINOR,
                                           APU_HW_VERSION_PATCH) << 32) |
                    APU_ID_MAGIC);
    g_assert_cmphex(rd(&t, APU_REG_SCRATCH), ==, 0x13579bdf);
    g_assert_cmphex(rd(&t, APU_REG_ID), ==, APU_ID_MAGIC);
    apu_stop(&t);
}

/* ---- firmware boot handshake ---------------------------------------- */

#define FW_GPA 0x200000ULL

/* A valid image: header plus @payload; returns its size. */
static size_t make_image(uint8_t *buf, uint16_t abi_major, uint16_t abi_minor,
                         uint32_t version, const char *payload)
{
    struct apu_fw_header h = { 0 };
    size_t n = strlen(payload);

    h.magic = cpu_to_le32(APU_FW_MAGIC);
    h.header_size = cpu_to_le32(APU_FW_HEADER_SIZE);
    h.abi_major = cpu_to_le16(abi_major);
    h.abi_minor = cpu_to_le16(abi_minor);
    h.fw_version = cpu_to_le32(version);
    h.payload_size = cpu_to_le32(n);
    h.payload_crc32 = cpu_to_le32(apu_fw_crc32(0, payload, n));
    strcpy(h.build_id, "qtest");
    h.header_crc32 = cpu_to_le32(apu_fw_crc32(0, &h, sizeof(h)));
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), payload, n);
    return sizeof(h) + n;
}

static void reseal_header(uint8_t *buf)
{
    struct apu_fw_header *h = (struct apu_fw_header *)buf;

    h->header_crc32 = 0;
    h->header_crc32 = cpu_to_le32(apu_fw_crc32(0, h, sizeof(*h)));
}

/* Run the handshake with @size as the size register; returns FW_STATUS. */
static uint32_t fw_boot_at(ApuTest *t, uint64_t addr, uint32_t size)
{
    uint32_t st = APU_FW_STATUS_BOOTING;
    int i;

    wr(t, APU_REG_FW_ADDR_LO, (uint32_t)addr);
    wr(t, APU_REG_FW_ADDR_HI, addr >> 32);
    wr(t, APU_REG_FW_SIZE, size);
    g_assert_cmphex(rd(t, APU_REG_FW_ADDR_LO), ==, (uint32_t)addr);
    g_assert_cmphex(rd(t, APU_REG_FW_ADDR_HI), ==, addr >> 32);
    g_assert_cmphex(rd(t, APU_REG_FW_SIZE), ==, size);
    wr(t, APU_REG_FW_CTRL, APU_FW_CTRL_BOOT);
    for (i = 0; i < 1000 && st == APU_FW_STATUS_BOOTING; i++) {
        st = rd(t, APU_REG_FW_STATUS);
    }
    return st;
}

static uint32_t fw_boot(ApuTest *t, const uint8_t *img, size_t len,
                        uint32_t size)
{
    qtest_memwrite(t->qts, FW_GPA, img, len);
    return fw_boot_at(t, FW_GPA, size);
}

static void test_fw_registers(void)
{
    ApuTest t;

    apu_start(&t);
    g_assert_cmphex(rd(&t, APU_REG_FW_ABI), ==,
                    APU_FW_ABI(APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR));
    g_assert_cmpuint(rd(&t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_OFF);
    g_assert_cmpuint(rd(&t, APU_REG_FW_ERROR), ==, APU_FW_ERR_NONE);
    g_assert_cmpuint(rd(&t, APU_REG_FW_VERSION), ==, 0);
    /* Read-only registers ignore writes. */
    wr(&t, APU_REG_FW_STATUS, APU_FW_STATUS_READY);
    wr(&t, APU_REG_FW_VERSION, 0x010203);
    wr(&t, APU_REG_FW_ABI, 0);
    g_assert_cmpuint(rd(&t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_OFF);
    g_assert_cmpuint(rd(&t, APU_REG_FW_VERSION), ==, 0);
    g_assert_cmphex(rd(&t, APU_REG_FW_ABI), ==,
                    APU_FW_ABI(APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR));
    /* Writing CTRL without the BOOT bit does nothing. */
    wr(&t, APU_REG_FW_CTRL, 0xfffffffe);
    g_assert_cmpuint(rd(&t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_OFF);
    apu_stop(&t);
}

static void test_fw_boot_good(void)
{
    uint8_t img[256];
    size_t n = make_image(img, APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR,
                          APU_VERSION(2, 3, 4), "firmware payload");
    ApuTest t;

    apu_start(&t);
    g_assert_cmpuint(fw_boot(&t, img, n, n), ==, APU_FW_STATUS_READY);
    g_assert_cmpuint(rd(&t, APU_REG_FW_ERROR), ==, APU_FW_ERR_NONE);
    g_assert_cmphex(rd(&t, APU_REG_FW_VERSION), ==, APU_VERSION(2, 3, 4));

    /* A second boot while running is refused and changes nothing. */
    n = make_image(img, APU_FW_ABI_MAJOR, 0, APU_VERSION(9, 9, 9), "other");
    g_assert_cmpuint(fw_boot(&t, img, n, n), ==, APU_FW_STATUS_READY);
    g_assert_cmphex(rd(&t, APU_REG_FW_VERSION), ==, APU_VERSION(2, 3, 4));

    /* Reset stops the firmware; it boots again afterwards. */
    qtest_system_reset(t.qts);
    qpci_iounmap(t.dev, t.bar);
    t.bar = qpci_iomap(t.dev, 0, NULL);
    qpci_device_enable(t.dev);
    g_assert_cmpuint(rd(&t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_OFF);
    g_assert_cmpuint(rd(&t, APU_REG_FW_VERSION), ==, 0);
    g_assert_cmpuint(rd(&t, APU_REG_FW_SIZE), ==, 0);
    g_assert_cmpuint(fw_boot(&t, img, n, n), ==, APU_FW_STATUS_READY);
    g_assert_cmphex(rd(&t, APU_REG_FW_VERSION), ==, APU_VERSION(9, 9, 9));
    apu_stop(&t);
}

/* APU_REG_RESET stops the firmware and clears the device, as a bus reset. */
static void test_reset_register(void)
{
    uint8_t img[256];
    size_t n = make_image(img, APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR,
                          APU_VERSION(1, 0, 0), "reset");
    ApuTest t;

    apu_start(&t);
    g_assert_cmpuint(rd(&t, APU_REG_RESET), ==, 0);
    wr(&t, APU_REG_SCRATCH, 0x1234);
    g_assert_cmpuint(fw_boot(&t, img, n, n), ==, APU_FW_STATUS_READY);
    /* Writes without the reset bit do nothing. */
    wr(&t, APU_REG_RESET, 0xfffffffe);
    g_assert_cmpuint(rd(&t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_READY);
    g_assert_cmphex(rd(&t, APU_REG_SCRATCH), ==, 0x1234);

    wr(&t, APU_REG_RESET, APU_RESET_DEVICE);
    g_assert_cmpuint(rd(&t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_OFF);
    g_assert_cmpuint(rd(&t, APU_REG_FW_VERSION), ==, 0);
    g_assert_cmpuint(rd(&t, APU_REG_FW_SIZE), ==, 0);
    g_assert_cmpuint(rd(&t, APU_REG_FW_ADDR_LO), ==, 0);
    g_assert_cmphex(rd(&t, APU_REG_SCRATCH), ==, 0);
    g_assert_cmphex(rd(&t, APU_REG_ID), ==, APU_ID_MAGIC);

    /* Reset while the boot is pending: the boot never completes. */
    qtest_memwrite(t.qts, FW_GPA, img, n);
    wr(&t, APU_REG_FW_ADDR_LO, (uint32_t)FW_GPA);
    wr(&t, APU_REG_FW_SIZE, n);
    wr(&t, APU_REG_FW_CTRL, APU_FW_CTRL_BOOT);
    wr(&t, APU_REG_RESET, APU_RESET_DEVICE);
    g_assert_cmpuint(rd(&t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_OFF);
    g_assert_cmpuint(rd(&t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_OFF);

    g_assert_cmpuint(fw_boot(&t, img, n, n), ==, APU_FW_STATUS_READY);
    apu_stop(&t);
}

typedef struct FwCase {
    const char *name;
    uint32_t error;
    void (*spoil)(uint8_t *img, size_t *len, uint32_t *size);
} FwCase;

static void spoil_magic(uint8_t *img, size_t *len, uint32_t *size)
{
    img[0] ^= 0xff;
}

static void spoil_header_size(uint8_t *img, size_t *len, uint32_t *size)
{
    ((struct apu_fw_header *)img)->header_size = cpu_to_le32(48);
    reseal_header(img);
}

static void spoil_header_crc(uint8_t *img, size_t *len, uint32_t *size)
{
    ((struct apu_fw_header *)img)->build_id[3] ^= 1;
}

static void spoil_flags(uint8_t *img, size_t *len, uint32_t *size)
{
    ((struct apu_fw_header *)img)->flags = cpu_to_le32(1);
    reseal_header(img);
}

static void spoil_truncate(uint8_t *img, size_t *len, uint32_t *size)
{
    *size -= 1;
}

static void spoil_header_only(uint8_t *img, size_t *len, uint32_t *size)
{
    *size = APU_FW_HEADER_SIZE - 1;
}

static void spoil_empty(uint8_t *img, size_t *len, uint32_t *size)
{
    *size = 0;
}

static void spoil_payload(uint8_t *img, size_t *len, uint32_t *size)
{
    img[APU_FW_HEADER_SIZE + 2] ^= 0x40;
}

static void spoil_abi_major(uint8_t *img, size_t *len, uint32_t *size)
{
    ((struct apu_fw_header *)img)->abi_major =
        cpu_to_le16(APU_FW_ABI_MAJOR + 1);
    reseal_header(img);
}

static void spoil_abi_minor(uint8_t *img, size_t *len, uint32_t *size)
{
    ((struct apu_fw_header *)img)->abi_minor =
        cpu_to_le16(APU_FW_ABI_MINOR + 1);
    reseal_header(img);
}

static void spoil_too_large(uint8_t *img, size_t *len, uint32_t *size)
{
    *size = APU_FW_MAX_SIZE + 1;
}

static void spoil_huge(uint8_t *img, size_t *len, uint32_t *size)
{
    *size = 0xffffffff;
}

static const FwCase fw_cases[] = {
    { "bad magic", APU_FW_ERR_BAD_MAGIC, spoil_magic },
    { "header size", APU_FW_ERR_BAD_HEADER, spoil_header_size },
    { "header crc", APU_FW_ERR_BAD_HEADER, spoil_header_crc },
    { "flags", APU_FW_ERR_BAD_HEADER, spoil_flags },
    { "truncated", APU_FW_ERR_TRUNCATED, spoil_truncate },
    { "header only", APU_FW_ERR_TRUNCATED, spoil_header_only },
    { "empty", APU_FW_ERR_BAD_MAGIC, spoil_empty },
    { "payload crc", APU_FW_ERR_BAD_CRC, spoil_payload },
    { "abi major", APU_FW_ERR_ABI, spoil_abi_major },
    { "abi minor", APU_FW_ERR_ABI, spoil_abi_minor },
    { "too large", APU_FW_ERR_TOO_LARGE, spoil_too_large },
    { "huge size", APU_FW_ERR_TOO_LARGE, spoil_huge },
};

/*
 * Each bad image is refused with its reason; a refused device takes the
 * next boot, and finally boots a good image.
 */
static void test_fw_refusals(void)
{
    uint8_t img[256];
    ApuTest t;
    size_t i, n;

    apu_start(&t);
    for (i = 0; i < G_N_ELEMENTS(fw_cases); i++) {
        uint32_t size;

        n = make_image(img, APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR,
                       APU_VERSION(1, 0, 0), "payload of the image");
        size = n;
        fw_cases[i].spoil(img, &n, &size);
        if (g_test_verbose()) {
            g_test_message("case %s", fw_cases[i].name);
        }
        g_assert_cmpuint(fw_boot(&t, img, n, size), ==, APU_FW_STATUS_ERROR);
        g_assert_cmpuint(rd(&t, APU_REG_FW_ERROR), ==, fw_cases[i].error);
        g_assert_cmpuint(rd(&t, APU_REG_FW_VERSION), ==, 0);
    }
    /* An older ABI minor is accepted. */
    n = make_image(img, APU_FW_ABI_MAJOR, 0, APU_VERSION(1, 2, 3), "ok");
    g_assert_cmpuint(fw_boot(&t, img, n, n), ==, APU_FW_STATUS_READY);
    g_assert_cmphex(rd(&t, APU_REG_FW_VERSION), ==, APU_VERSION(1, 2, 3));
    apu_stop(&t);
}

/* The device reads through the bus: no bus mastering or no memory fails. */
static void test_fw_dma_errors(void)
{
    uint8_t img[256];
    size_t n = make_image(img, APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR,
                          APU_VERSION(1, 0, 0), "dma");
    uint16_t cmd;
    ApuTest t;

    apu_start(&t);
    g_assert_cmpuint(fw_boot_at(&t, 0xfffffff000000000ULL, n), ==,
                     APU_FW_STATUS_ERROR);
    g_assert_cmpuint(rd(&t, APU_REG_FW_ERROR), ==, APU_FW_ERR_DMA);

    cmd = qpci_config_readw(t.dev, PCI_COMMAND);
    qpci_config_writew(t.dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
    g_assert_cmpuint(fw_boot(&t, img, n, n), ==, APU_FW_STATUS_ERROR);
    g_assert_cmpuint(rd(&t, APU_REG_FW_ERROR), ==, APU_FW_ERR_DMA);

    qpci_config_writew(t.dev, PCI_COMMAND, cmd);
    g_assert_cmpuint(fw_boot(&t, img, n, n), ==, APU_FW_STATUS_READY);
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
    qtest_add_func("/apu/fw/registers", test_fw_registers);
    qtest_add_func("/apu/fw/boot-good", test_fw_boot_good);
    qtest_add_func("/apu/fw/refusals", test_fw_refusals);
    qtest_add_func("/apu/fw/dma-errors", test_fw_dma_errors);
    qtest_add_func("/apu/reset-register", test_reset_register);
    return g_test_run();
}
