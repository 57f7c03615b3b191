/*
 * qtests for the apu PCI device, on QEMU's libqos graph: each test consumes
 * the "apu" node (libqos/apu.c), so it runs on every machine whose graph
 * has a pci-bus (x86_64/pc, aarch64/virt, ...) and takes its guest memory
 * from the machine's allocator. A few need what only the x86 PC has (ACPI
 * hot-unplug, an NVMe peer) and are registered for x86 only.
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "libqos/qgraph.h"
#include "libqos/pci-pc.h"
#include "libqos/malloc-pc.h"
#include "libqos/apu.h"
#include "hw/pci/pci_regs.h"
#include "hw/apu_hw.h"
#include "hw/apu_fw.h"

#define APU_SLOT QAPU_SLOT
#define APU_DEVFN QAPU_DEVFN

/*
 * What a test works with: the device with BAR0 mapped and bus mastering
 * on, and the guest allocator its buffers, tables and rings come from.
 */
typedef struct ApuTest {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar bar;
    uint64_t bar_size;
    QGuestAllocator *alloc;
    uint64_t fw_gpa;            /* firmware images, see fw_boot() */
    /* apu_start()'s own machine (the hot-unplug race) */
    QGuestAllocator own_alloc;
} ApuTest;

/* The test's view of the graph's "apu" object. */
static void apu_from_graph(ApuTest *t, QApu *a, QGuestAllocator *alloc)
{
    memset(t, 0, sizeof(*t));
    t->qts = a->dev.bus->qts;
    t->bus = a->dev.bus;
    t->dev = &a->dev;
    t->bar = a->bar;
    t->bar_size = a->bar_size;
    t->alloc = alloc;
}

/*
 * A PC of its own, for the test that hot-unplugs the device (through
 * PIIX4's ACPI hotplug) and starts over again.
 */
static void apu_start(ApuTest *t)
{
    memset(t, 0, sizeof(*t));
    t->qts = qtest_init("-machine pc -nic none -vga none "
                        "-device apu,id=apu0,addr=04.0");
    t->bus = qpci_new_pc(t->qts, NULL);
    t->dev = qpci_device_find(t->bus, APU_DEVFN);
    g_assert_nonnull(t->dev);
    qpci_device_enable(t->dev);
    t->bar = qpci_iomap(t->dev, 0, &t->bar_size);
    pc_alloc_init(&t->own_alloc, t->qts, ALLOC_NO_FLAGS);
    t->alloc = &t->own_alloc;
}

static void apu_stop(ApuTest *t)
{
    alloc_destroy(&t->own_alloc);
    qpci_iounmap(t->dev, t->bar);
    g_free(t->dev);
    qpci_free_pc(t->bus);
    qtest_quit(t->qts);
}

/* A system reset clears the BARs: map BAR0 again afterwards. */
static void system_reset(ApuTest *t)
{
    qtest_system_reset(t->qts);
    qpci_iounmap(t->dev, t->bar);
    t->bar = qpci_iomap(t->dev, 0, NULL);
    qpci_device_enable(t->dev);
}

static uint32_t rd(ApuTest *t, uint64_t reg)
{
    return qpci_io_readl(t->dev, t->bar, reg);
}

static void wr(ApuTest *t, uint64_t reg, uint32_t val)
{
    qpci_io_writel(t->dev, t->bar, reg, val);
}

static void test_pci_identity(ApuTest *t)
{

    g_assert_cmphex(qpci_config_readw(t->dev, PCI_VENDOR_ID), ==,
                    APU_PCI_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(t->dev, PCI_DEVICE_ID), ==,
                    APU_PCI_DEVICE_ID);
    g_assert_cmphex(qpci_config_readb(t->dev, PCI_REVISION_ID), ==,
                    APU_PCI_REVISION);
    g_assert_cmphex(qpci_config_readw(t->dev, PCI_CLASS_DEVICE), ==,
                    APU_PCI_CLASS_ACCEL);
    /* BAR0 is a 64-bit memory BAR of the documented size. */
    g_assert_cmphex(qpci_config_readl(t->dev, PCI_BASE_ADDRESS_0) &
                    PCI_BASE_ADDRESS_MEM_TYPE_MASK, ==,
                    PCI_BASE_ADDRESS_MEM_TYPE_64);
    g_assert_cmpuint(t->bar_size, ==, APU_BAR0_SIZE);
}

static void test_id_version(ApuTest *t)
{
    uint32_t v;

    g_assert_cmphex(rd(t, APU_REG_ID), ==, APU_ID_MAGIC);
    v = rd(t, APU_REG_VERSION);
    g_assert_cmpuint(APU_VERSION_MAJOR(v), ==, APU_HW_VERSION_MAJOR);
    g_assert_cmpuint(APU_VERSION_MINOR(v), ==, APU_HW_VERSION_MINOR);
    g_assert_cmpuint(APU_VERSION_PATCH(v), ==, APU_HW_VERSION_PATCH);
    g_assert_cmphex(v >> 24, ==, 0);
}

static void test_read_only(ApuTest *t)
{

    wr(t, APU_REG_ID, 0xdeadbeef);
    wr(t, APU_REG_VERSION, 0xffffffff);
    g_assert_cmphex(rd(t, APU_REG_ID), ==, APU_ID_MAGIC);
    g_assert_cmphex(rd(t, APU_REG_VERSION), ==,
                    APU_VERSION(APU_HW_VERSION_MAJOR, APU_HW_VERSION_MINOR,
                                APU_HW_VERSION_PATCH));
}

static void test_scratch_and_reset(ApuTest *t)
{
    static const uint32_t patterns[] = {
        0xffffffff, 0x00000000, 0xa5a5a5a5, 0x5a5a5a5a, 0x12345678,
    };
    size_t i;

    g_assert_cmphex(rd(t, APU_REG_SCRATCH), ==, 0);
    for (i = 0; i < G_N_ELEMENTS(patterns); i++) {
        wr(t, APU_REG_SCRATCH, patterns[i]);
        g_assert_cmphex(rd(t, APU_REG_SCRATCH), ==, patterns[i]);
    }
    /*
     * A system reset returns the register to its reset value. It also
     * clears the BAR, so map it again and check the identity first: that
     * proves the zero is read from the device.
     */
    system_reset(t);
    g_assert_cmphex(rd(t, APU_REG_ID), ==, APU_ID_MAGIC);
    g_assert_cmphex(rd(t, APU_REG_SCRATCH), ==, 0);
}

/*
 * Whatever the guest does to undefined offsets or with the wrong access
 * size, the device keeps working: reads of holes are zero, writes to them
 * change nothing.
 */
static void test_bad_accesses(ApuTest *t)
{
    uint64_t off;

    wr(t, APU_REG_SCRATCH, 0x13579bdf);
    for (off = 0x20c; off < APU_BAR0_SIZE; off += 0x404) {
        off &= ~3ULL;
        /* Not a core's defined registers (0x121c: FP16_MACS_PER_CYCLE). */
        if (off >= APU_CORE_BASE(0) && off < APU_CORE_BASE(APU_MAX_CORES) &&
            (off - APU_CORE_BASE(0)) % 0x100 <= APU_CORE_POWER_ONS) {
            continue;
        }
        g_assert_cmphex(rd(t, off), ==, 0);
        wr(t, off, 0xffffffff);
        g_assert_cmphex(rd(t, off), ==, 0);
    }
    g_assert_cmphex(rd(t, APU_BAR0_SIZE - 4), ==, 0);
    /* Sub-word and unaligned accesses are refused by the bus. */
    qpci_io_writeb(t->dev, t->bar, APU_REG_SCRATCH, 0x00);
    qpci_io_writew(t->dev, t->bar, APU_REG_SCRATCH + 2, 0x0000);
    qpci_io_writel(t->dev, t->bar, APU_REG_SCRATCH + 1, 0);
    (void)qpci_io_readb(t->dev, t->bar, APU_REG_ID);
    (void)qpci_io_readw(t->dev, t->bar, APU_REG_ID + 2);
    /* A 64-bit access is split into two 32-bit ones. */
    qpci_io_writeq(t->dev, t->bar, 0x400, ~0ULL);
    g_assert_cmphex(rd(t, 0x400), ==, 0);
    g_assert_cmphex(rd(t, 0x404), ==, 0);
    g_assert_cmphex(qpci_io_readq(t->dev, t->bar, APU_REG_ID), ==,
                    ((uint64_t)APU_VERSION(APU_HW_VERSION_MAJOR,
                                           APU_HW_VERSION_MINOR,
                                           APU_HW_VERSION_PATCH) << 32) |
                    APU_ID_MAGIC);
    g_assert_cmphex(rd(t, APU_REG_SCRATCH), ==, 0x13579bdf);
    g_assert_cmphex(rd(t, APU_REG_ID), ==, APU_ID_MAGIC);
}

/* ---- firmware boot handshake ---------------------------------------- */

/* Where the tests put firmware images: a page of the guest's memory. */
static uint64_t fw_gpa(ApuTest *t)
{
    if (!t->fw_gpa) {
        t->fw_gpa = guest_alloc(t->alloc, 4096);
    }
    return t->fw_gpa;
}

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
    apu_fw_header_seal(&h);
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), payload, n);
    return sizeof(h) + n;
}

static void reseal_header(uint8_t *buf)
{
    apu_fw_header_seal((struct apu_fw_header *)buf);
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
    qtest_memwrite(t->qts, fw_gpa(t), img, len);
    return fw_boot_at(t, fw_gpa(t), size);
}

static void test_fw_registers(ApuTest *t)
{

    g_assert_cmphex(rd(t, APU_REG_FW_ABI), ==,
                    APU_FW_ABI(APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR));
    g_assert_cmpuint(rd(t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_OFF);
    g_assert_cmpuint(rd(t, APU_REG_FW_ERROR), ==, APU_FW_ERR_NONE);
    g_assert_cmpuint(rd(t, APU_REG_FW_VERSION), ==, 0);
    /* Read-only registers ignore writes. */
    wr(t, APU_REG_FW_STATUS, APU_FW_STATUS_READY);
    wr(t, APU_REG_FW_VERSION, 0x010203);
    wr(t, APU_REG_FW_ABI, 0);
    g_assert_cmpuint(rd(t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_OFF);
    g_assert_cmpuint(rd(t, APU_REG_FW_VERSION), ==, 0);
    g_assert_cmphex(rd(t, APU_REG_FW_ABI), ==,
                    APU_FW_ABI(APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR));
    /* Writing CTRL without the BOOT bit does nothing. */
    wr(t, APU_REG_FW_CTRL, 0xfffffffe);
    g_assert_cmpuint(rd(t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_OFF);
}

static void test_fw_boot_good(ApuTest *t)
{
    uint8_t img[256];
    size_t n = make_image(img, APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR,
                          APU_VERSION(2, 3, 4), "firmware payload");

    g_assert_cmpuint(fw_boot(t, img, n, n), ==, APU_FW_STATUS_READY);
    g_assert_cmpuint(rd(t, APU_REG_FW_ERROR), ==, APU_FW_ERR_NONE);
    g_assert_cmphex(rd(t, APU_REG_FW_VERSION), ==, APU_VERSION(2, 3, 4));

    /* A second boot while running is refused and changes nothing. */
    n = make_image(img, APU_FW_ABI_MAJOR, 0, APU_VERSION(9, 9, 9), "other");
    g_assert_cmpuint(fw_boot(t, img, n, n), ==, APU_FW_STATUS_READY);
    g_assert_cmphex(rd(t, APU_REG_FW_VERSION), ==, APU_VERSION(2, 3, 4));

    /* Reset stops the firmware; it boots again afterwards. */
    system_reset(t);
    g_assert_cmpuint(rd(t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_OFF);
    g_assert_cmpuint(rd(t, APU_REG_FW_VERSION), ==, 0);
    g_assert_cmpuint(rd(t, APU_REG_FW_SIZE), ==, 0);
    g_assert_cmpuint(fw_boot(t, img, n, n), ==, APU_FW_STATUS_READY);
    g_assert_cmphex(rd(t, APU_REG_FW_VERSION), ==, APU_VERSION(9, 9, 9));
}

/* APU_REG_RESET stops the firmware and clears the device, as a bus reset. */
static void test_reset_register(ApuTest *t)
{
    uint8_t img[256];
    size_t n = make_image(img, APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR,
                          APU_VERSION(1, 0, 0), "reset");

    g_assert_cmpuint(rd(t, APU_REG_RESET), ==, 0);
    wr(t, APU_REG_SCRATCH, 0x1234);
    g_assert_cmpuint(fw_boot(t, img, n, n), ==, APU_FW_STATUS_READY);
    /* Writes without the reset bit do nothing. */
    wr(t, APU_REG_RESET, 0xfffffffe);
    g_assert_cmpuint(rd(t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_READY);
    g_assert_cmphex(rd(t, APU_REG_SCRATCH), ==, 0x1234);

    wr(t, APU_REG_RESET, APU_RESET_DEVICE);
    g_assert_cmpuint(rd(t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_OFF);
    g_assert_cmpuint(rd(t, APU_REG_FW_VERSION), ==, 0);
    g_assert_cmpuint(rd(t, APU_REG_FW_SIZE), ==, 0);
    g_assert_cmpuint(rd(t, APU_REG_FW_ADDR_LO), ==, 0);
    g_assert_cmphex(rd(t, APU_REG_SCRATCH), ==, 0);
    g_assert_cmphex(rd(t, APU_REG_ID), ==, APU_ID_MAGIC);

    /* Reset while the boot is pending: the boot never completes. */
    qtest_memwrite(t->qts, fw_gpa(t), img, n);
    wr(t, APU_REG_FW_ADDR_LO, (uint32_t)fw_gpa(t));
    wr(t, APU_REG_FW_ADDR_HI, fw_gpa(t) >> 32);
    wr(t, APU_REG_FW_SIZE, n);
    wr(t, APU_REG_FW_CTRL, APU_FW_CTRL_BOOT);
    wr(t, APU_REG_RESET, APU_RESET_DEVICE);
    g_assert_cmpuint(rd(t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_OFF);
    g_assert_cmpuint(rd(t, APU_REG_FW_STATUS), ==, APU_FW_STATUS_OFF);

    g_assert_cmpuint(fw_boot(t, img, n, n), ==, APU_FW_STATUS_READY);
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
static void test_fw_refusals(ApuTest *t)
{
    uint8_t img[256];
    size_t i, n;

    for (i = 0; i < G_N_ELEMENTS(fw_cases); i++) {
        uint32_t size;

        n = make_image(img, APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR,
                       APU_VERSION(1, 0, 0), "payload of the image");
        size = n;
        fw_cases[i].spoil(img, &n, &size);
        if (g_test_verbose()) {
            g_test_message("case %s", fw_cases[i].name);
        }
        g_assert_cmpuint(fw_boot(t, img, n, size), ==, APU_FW_STATUS_ERROR);
        g_assert_cmpuint(rd(t, APU_REG_FW_ERROR), ==, fw_cases[i].error);
        g_assert_cmpuint(rd(t, APU_REG_FW_VERSION), ==, 0);
    }
    /* An older ABI minor is accepted. */
    n = make_image(img, APU_FW_ABI_MAJOR, 0, APU_VERSION(1, 2, 3), "ok");
    g_assert_cmpuint(fw_boot(t, img, n, n), ==, APU_FW_STATUS_READY);
    g_assert_cmphex(rd(t, APU_REG_FW_VERSION), ==, APU_VERSION(1, 2, 3));
}

/* The device reads through the bus: no bus mastering or no memory fails. */
static void test_fw_dma_errors(ApuTest *t)
{
    uint8_t img[256];
    size_t n = make_image(img, APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR,
                          APU_VERSION(1, 0, 0), "dma");
    uint16_t cmd;

    g_assert_cmpuint(fw_boot_at(t, 0xfffffff000000000ULL, n), ==,
                     APU_FW_STATUS_ERROR);
    g_assert_cmpuint(rd(t, APU_REG_FW_ERROR), ==, APU_FW_ERR_DMA);

    cmd = qpci_config_readw(t->dev, PCI_COMMAND);
    qpci_config_writew(t->dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
    g_assert_cmpuint(fw_boot(t, img, n, n), ==, APU_FW_STATUS_ERROR);
    g_assert_cmpuint(rd(t, APU_REG_FW_ERROR), ==, APU_FW_ERR_DMA);

    qpci_config_writew(t->dev, PCI_COMMAND, cmd);
    g_assert_cmpuint(fw_boot(t, img, n, n), ==, APU_FW_STATUS_READY);
}

/* ---- capabilities ------------------------------------------------------ */

/*
 * The device reports the core layout of @big, @little and @tiny cores, in
 * that order, each with its class's figures; past the last core, nothing.
 */
static void check_layout(ApuTest *t, int big, int little, int tiny)
{
    static const uint32_t macs[] = { 1024, 256, 64 };
    static const uint32_t mhz[] = { 1000, 800, 500 };
    static const uint32_t sram[] = { 1 << 20, 256 << 10, 64 << 10 };
    static const uint32_t fj[] = { 1000, 600, 350 };
    static const uint32_t idle_uw[] = { 20000, 5000, 500 };
    static const uint32_t bpc[] = { 64, 32, 16 };
    static const uint32_t fp16[] = { 512, 128, 16 };    /* docs/hw.md */
    int i, n = big + little + tiny;

    g_assert_cmpuint(rd(t, APU_REG_NUM_CORES), ==, n);
    for (i = 0; i < n; i++) {
        uint64_t b = APU_CORE_BASE(i);
        uint32_t want = i < big ? APU_CLASS_BIG :
                        i < big + little ? APU_CLASS_LITTLE : APU_CLASS_TINY;
        uint32_t c = rd(t, b + APU_CORE_CLASS);

        g_assert_cmpuint(c, ==, want);
        g_assert_cmpuint(rd(t, b + APU_CORE_MACS_PER_CYCLE), ==, macs[c]);
        g_assert_cmpuint(rd(t, b + APU_CORE_CLOCK_MHZ), ==, mhz[c]);
        g_assert_cmpuint(rd(t, b + APU_CORE_SRAM_BYTES), ==, sram[c]);
        g_assert_cmpuint(rd(t, b + APU_CORE_ENERGY_FJ_PER_MAC), ==, fj[c]);
        g_assert_cmpuint(rd(t, b + APU_CORE_IDLE_POWER_UW), ==, idle_uw[c]);
        g_assert_cmpuint(rd(t, b + APU_CORE_BYTES_PER_CYCLE), ==, bpc[c]);
        g_assert_cmpuint(rd(t, b + APU_CORE_FP16_MACS_PER_CYCLE), ==,
                         fp16[c]);
        g_assert_cmpuint(rd(t, b + APU_CORE_STATUS), ==, APU_CORE_IDLE);
    }
    for (; i < APU_MAX_CORES; i++) {
        g_assert_cmpuint(rd(t, APU_CORE_BASE(i) + APU_CORE_CLASS), ==, 0);
        g_assert_cmpuint(rd(t, APU_CORE_BASE(i) + APU_CORE_CLOCK_MHZ), ==, 0);
    }
}

static void test_capabilities(ApuTest *t)
{
    int i;

    check_layout(t, 2, 3, 1);
    g_assert_cmphex(rd(t, APU_REG_FEATURES), ==,
                    APU_FEATURE_MMU | APU_FEATURE_TIME_ACCURATE |
                    APU_FEATURE_FAULT_INJECT | APU_FEATURE_POWER_GATING |
                    APU_FEATURE_QUANT_OPS | APU_FEATURE_WRITE_LIST |
                    APU_FEATURE_INT4_WEIGHTS | APU_FEATURE_SPARSE_WEIGHTS |
                    APU_FEATURE_FP16);
    g_assert_cmpuint(rd(t, APU_REG_MAX_CONTEXTS), ==, 256);
    g_assert_cmphex(rd(t, APU_REG_OPS), ==,
                    (1 << APU_OP_CONV2D) | (1 << APU_OP_ADD) |
                    (1 << APU_OP_AVGPOOL) | (1 << APU_OP_MAXPOOL) |
                    (1 << APU_OP_LUT) | (1 << APU_OP_MUL));
    /*
     * Quantized ops came with firmware ABI 1.2, write lists with 1.3, int4
     * weights with 1.4, sparse weights with 1.5, fp16 with 1.6.
     */
    g_assert_cmphex(rd(t, APU_REG_FW_ABI), ==, APU_FW_ABI(1, 6));
    g_assert_cmpuint(rd(t, APU_REG_TIME_SCALE), ==, 1);
    for (i = 0; i < 6; i++) {
        uint64_t b = APU_CORE_BASE(i);
        uint32_t c = rd(t, b + APU_CORE_CLASS);

        /* Read-only. */
        wr(t, b + APU_CORE_CLASS, 7);
        wr(t, b + APU_CORE_RING_HEAD, 7);
        g_assert_cmpuint(rd(t, b + APU_CORE_CLASS), ==, c);
        g_assert_cmpuint(rd(t, b + APU_CORE_RING_HEAD), ==, 0);
    }
    /* Tiny idles lowest. */
    g_assert_cmpuint(rd(t, APU_CORE_BASE(5) + APU_CORE_IDLE_POWER_UW), <,
                     rd(t, APU_CORE_BASE(2) + APU_CORE_IDLE_POWER_UW));
    wr(t, APU_REG_NUM_CORES, 1);
    g_assert_cmpuint(rd(t, APU_REG_NUM_CORES), ==, 6);
}

/* ---- rings, MMU and jobs ------------------------------------------------ */

/*
 * Guest memory of the job tests, from the machine's allocator: the context
 * table, the MSI-X landing page, and a pool from which page tables and
 * mapped pages come through a bump allocator (mem_setup() starts it over);
 * each mapped range is physically contiguous, and the test remembers
 * where, to fill and read buffers by VA.
 */
#define PT_POOL_SIZE (112 * MiB)
#define RING_VA(c)  (0x10000000ULL + (c) * 0x10000)
#define DONE_VA(c)  (0x20000000ULL + (c) * 0x1000)
#define JOB_VA(c)   (0x40000000ULL + (c) * 0x1000000)

typedef struct Range {
    int asid;
    uint64_t va, pa, len;
} Range;

typedef struct Mem {
    ApuTest *t;
    uint64_t ctx;   /* context table */
    uint64_t msi;   /* MSI-X vector v writes 0xa0 + v to msi + 4 * v */
    uint64_t pool;  /* PT_POOL_SIZE bytes */
    uint64_t next;
    uint64_t root[2];
    Range ranges[128];
    int nranges;
    int ncores;     /* APU_REG_NUM_CORES */
} Mem;

static uint64_t pt_alloc(Mem *m, uint64_t len)
{
    uint64_t pa = m->next;

    len = ROUND_UP(len, 4096);
    m->next += len;
    g_assert_cmpuint(m->next, <=, m->pool + PT_POOL_SIZE);
    qtest_memset(m->t->qts, pa, 0, len);
    return pa;
}

static void map_page(Mem *m, int asid, uint64_t va, uint64_t pa, bool w)
{
    uint64_t table = m->root[asid];
    int level;

    for (level = 0; level < APU_MMU_LEVELS; level++) {
        int sh = APU_MMU_PAGE_SHIFT +
                 APU_MMU_LEVEL_BITS * (APU_MMU_LEVELS - 1 - level);
        uint64_t e = table + ((va >> sh) & 511) * 8;
        uint64_t pte = qtest_readq(m->t->qts, e);

        if (level == APU_MMU_LEVELS - 1) {
            qtest_writeq(m->t->qts, e, pa | APU_PTE_VALID |
                         (w ? APU_PTE_WRITE : 0));
            return;
        }
        if (!(pte & APU_PTE_VALID)) {
            pte = pt_alloc(m, 4096) | APU_PTE_VALID;
            qtest_writeq(m->t->qts, e, pte);
        }
        table = pte & APU_PTE_ADDR_MASK;
    }
}

static void map_range(Mem *m, int asid, uint64_t va, uint64_t len, bool w)
{
    uint64_t pa = pt_alloc(m, len), off;

    for (off = 0; off < len; off += 4096) {
        map_page(m, asid, va + off, pa + off, w);
    }
    g_assert(m->nranges < G_N_ELEMENTS(m->ranges));
    m->ranges[m->nranges++] = (Range){ asid, va, pa, len };
}

static uint64_t va2pa(Mem *m, int asid, uint64_t va)
{
    int i;

    for (i = 0; i < m->nranges; i++) {
        Range *r = &m->ranges[i];

        if (r->asid == asid && va >= r->va && va < r->va + r->len) {
            return r->pa + (va - r->va);
        }
    }
    g_assert_not_reached();
}

static void vwrite(Mem *m, int asid, uint64_t va, const void *p, size_t n)
{
    qtest_memwrite(m->t->qts, va2pa(m, asid, va), p, n);
}

static void vread(Mem *m, int asid, uint64_t va, void *p, size_t n)
{
    qtest_memread(m->t->qts, va2pa(m, asid, va), p, n);
}

/* Point core @c's ring at its buffer again and enable it (after a reset). */
static void core_ring_setup(Mem *m, int c, uint32_t ring_size)
{
    uint64_t b = APU_CORE_BASE(c);

    wr(m->t, b + APU_CORE_RING_BASE_LO, (uint32_t)RING_VA(c));
    wr(m->t, b + APU_CORE_RING_BASE_HI, RING_VA(c) >> 32);
    wr(m->t, b + APU_CORE_RING_SIZE, ring_size);
    wr(m->t, b + APU_CORE_CTRL, APU_CORE_CTRL_ENABLE);
}

/*
 * Program the device with the tables and rings mem_setup() built in
 * memory: again after a device reset, which clears the registers only.
 */
static void regs_setup(Mem *m, uint32_t ring_size)
{
    int c;

    wr(m->t, APU_REG_MMU_CTX_BASE_LO, (uint32_t)m->ctx);
    wr(m->t, APU_REG_MMU_CTX_BASE_HI, m->ctx >> 32);
    wr(m->t, APU_REG_MMU_CTX_COUNT, 2);
    g_assert_cmpuint(rd(m->t, APU_REG_MMU_CTX_COUNT), ==, 2);
    for (c = 0; c < m->ncores; c++) {
        core_ring_setup(m, c, ring_size);
    }
    wr(m->t, APU_REG_IRQ_MASK, 0xffffffff);
}

/* Program two address spaces (0: driver, 1: jobs) and the rings. */
static void mem_setup(Mem *m, uint32_t ring_size)
{
    int c;

    m->nranges = 0;
    m->next = m->pool;
    m->ncores = rd(m->t, APU_REG_NUM_CORES);
    g_assert_cmpint(m->ncores, >=, 1);
    g_assert_cmpint(m->ncores, <=, APU_MAX_CORES);
    qtest_memset(m->t->qts, m->ctx, 0, 4096);
    m->root[0] = pt_alloc(m, 4096);
    m->root[1] = pt_alloc(m, 4096);
    qtest_writeq(m->t->qts, m->ctx, m->root[0] | APU_CTX_VALID);
    qtest_writeq(m->t->qts, m->ctx + 16, m->root[1] | APU_CTX_VALID);
    for (c = 0; c < m->ncores; c++) {
        map_range(m, 0, RING_VA(c), ring_size * 64, false);
        map_range(m, 0, DONE_VA(c), 4096, true);
    }
    regs_setup(m, ring_size);
}

static void mem_start(Mem *m, ApuTest *t, uint32_t ring_size)
{
    memset(m, 0, sizeof(*m));
    m->t = t;
    m->ctx = guest_alloc(t->alloc, 4096);
    m->msi = guest_alloc(t->alloc, 4096);
    m->pool = guest_alloc(t->alloc, PT_POOL_SIZE);
    mem_setup(m, ring_size);
}

/*
 * A small conv job of context 1 for core @c, with @engine_out: the output
 * the firmware's engine (apu_conv2d(), the very code the device runs)
 * computes for it on the host. Comparing the device's output with it is a
 * plumbing check - the job's tensors went through the rings and the MMU,
 * the op ran on them and its output landed where it was asked to - not a
 * check of the arithmetic: a wrong engine would agree with itself. The
 * arithmetic is checked against independent references elsewhere:
 * engine_test (gemmlowp and naive loops), hal_xnnpack_test (XNNPACK),
 * and the model tests against TFLite's kernels and Arm NN.
 */
typedef struct ConvJob {
    ApuConvParams p;
    uint64_t cmd, in, w, mult, shift, out;
    uint32_t cmd_size;
    int8_t engine_out[8 * 8 * 24];
} ConvJob;

static void conv_job(Mem *m, int c, ConvJob *j, int seed, uint64_t out_w)
{
    ApuConvParams p = {
        9, 9, 16, 8, 8, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 3, -2, -128, 127,
        false, 0,
    };
    uint8_t cmd[16 + APU_OP_SIZE] = { 0 };
    struct apu_op_conv2d *op = (void *)(cmd + 16);
    int8_t in[9 * 9 * 16], w[24 * 3 * 3 * 16];
    int32_t mult[24], shift[24];
    uint64_t base = JOB_VA(c);
    size_t i;

    j->p = p;
    j->cmd = base;
    j->in = base + 0x1000;
    j->w = base + 0x3000;
    j->mult = base + 0x8000;
    j->shift = base + 0x9000;
    j->out = base + 0xa000;
    for (i = 0; i < sizeof(in); i++) {
        in[i] = (int8_t)(i * 7 + seed * 13);
    }
    for (i = 0; i < sizeof(w); i++) {
        w[i] = (int8_t)((i * 5 + seed) % 255 - 127);
    }
    /* Per-channel requantization: multipliers in [2^30, 2^31), shifts -11..-7. */
    for (i = 0; i < 24; i++) {
        mult[i] = (int32_t)(0x40000000u + (i * 0x2345678u) % 0x40000000u);
        shift[i] = -11 + (int)i / 5;
    }
    apu_conv2d(&p, in, w, NULL, mult, shift, j->engine_out);

    map_range(m, 1, j->cmd, 4096, false);
    map_range(m, 1, j->in, sizeof(in), false);
    map_range(m, 1, j->w, sizeof(w), false);
    map_range(m, 1, j->mult, 96, false);
    map_range(m, 1, j->shift, 96, false);
    map_range(m, 1, j->out, sizeof(j->engine_out), out_w);
    vwrite(m, 1, j->in, in, sizeof(in));
    vwrite(m, 1, j->w, w, sizeof(w));
    vwrite(m, 1, j->mult, mult, 96);
    vwrite(m, 1, j->shift, shift, 96);

    stl_le_p(cmd, APU_CMD_MAGIC);
    stw_le_p(cmd + 4, APU_CMD_VERSION);
    stw_le_p(cmd + 6, 1);
    stw_le_p(&op->opcode, APU_OP_CONV2D);
    stw_le_p(&op->in_h, 9);
    stw_le_p(&op->in_w, 9);
    stw_le_p(&op->in_c, 16);
    stw_le_p(&op->out_h, 8);
    stw_le_p(&op->out_w, 8);
    stw_le_p(&op->out_c, 24);
    stw_le_p(&op->k_h, 3);
    stw_le_p(&op->k_w, 3);
    stw_le_p(&op->stride_h, 1);
    stw_le_p(&op->stride_w, 1);
    stw_le_p(&op->dil_h, 1);
    stw_le_p(&op->dil_w, 1);
    stw_le_p(&op->pad_top, 1);
    stw_le_p(&op->pad_left, 1);
    stw_le_p(&op->groups, 1);
    stl_le_p(&op->in_zp, 3);
    stl_le_p(&op->out_zp, (uint32_t)-2);
    stl_le_p(&op->act_min, (uint32_t)-128);
    stl_le_p(&op->act_max, 127);
    stq_le_p(&op->input, j->in);
    stq_le_p(&op->weights, j->w);
    stq_le_p(&op->mult, j->mult);
    stq_le_p(&op->shift, j->shift);
    stq_le_p(&op->output, j->out);
    j->cmd_size = sizeof(cmd);
    vwrite(m, 1, j->cmd, cmd, sizeof(cmd));
}

/* Put a ring entry for @j at index @idx of core @c and ring the doorbell. */
static void submit(Mem *m, int c, uint32_t ring_size, uint32_t idx,
                   uint64_t cmd, uint32_t size, uint16_t asid, uint64_t seq)
{
    struct apu_ring_entry e = { 0 };

    stq_le_p(&e.cmdbuf, cmd);
    stl_le_p(&e.cmdbuf_size, size);
    stw_le_p(&e.asid, asid);
    stw_le_p(&e.flags, APU_RING_F_IRQ);
    stq_le_p(&e.seqno, seq);
    stq_le_p(&e.completion, DONE_VA(c) + (idx % 8) * 64);
    vwrite(m, 0, RING_VA(c) + (idx % ring_size) * 64, &e, sizeof(e));
    wr(m->t, APU_CORE_BASE(c) + APU_CORE_RING_TAIL, idx + 1);
}

/* Wait until core @c's head reaches @head (the core threads run freely). */
static bool wait_head(Mem *m, int c, uint32_t head)
{
    gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

    while (rd(m->t, APU_CORE_BASE(c) + APU_CORE_RING_HEAD) != head) {
        if (g_get_monotonic_time() > end) {
            return false;
        }
        g_usleep(1000);
    }
    return true;
}

static void read_done(Mem *m, int c, uint32_t idx, struct apu_completion *d)
{
    vread(m, 0, DONE_VA(c) + (idx % 8) * 64, d, sizeof(*d));
}

/*
 * Run entry @idx of core @c's ring to its end: submit it, wait until the
 * core took it, and read its completion record into *@d.
 */
static void run_job(Mem *m, int c, uint32_t ring_size, uint32_t idx,
                    uint64_t cmd, uint32_t size, uint16_t asid, uint64_t seq,
                    struct apu_completion *d)
{
    submit(m, c, ring_size, idx, cmd, size, asid, seq);
    g_assert_true(wait_head(m, c, idx + 1));
    read_done(m, c, idx, d);
}

static uint64_t model_cycles(Mem *m, int c, uint64_t macs, uint64_t bytes)
{
    uint64_t mpc = rd(m->t, APU_CORE_BASE(c) + APU_CORE_MACS_PER_CYCLE);
    uint64_t bpc = rd(m->t, APU_CORE_BASE(c) + APU_CORE_BYTES_PER_CYCLE);

    return MAX(DIV_ROUND_UP(macs, mpc), DIV_ROUND_UP(bytes, bpc)) + 200;
}

/*
 * One job on every core: completion, counters, IRQ, and the output equal
 * to the engine's on the host (a plumbing check, see conv_job()).
 */
static void test_job_every_core(ApuTest *t)
{
    static ConvJob j[APU_MAX_CORES];
    Mem m;
    uint32_t all;
    int c;

    mem_start(&m, t, 8);
    for (c = 0; c < m.ncores; c++) {
        conv_job(&m, c, &j[c], c, true);
    }
    for (c = 0; c < m.ncores; c++) {
        submit(&m, c, 8, 0, j[c].cmd, j[c].cmd_size, 1, 100 + c);
    }
    for (c = 0; c < m.ncores; c++) {
        uint64_t b = APU_CORE_BASE(c), macs = 8 * 8 * 24 * 9 * 16;
        struct apu_completion d;
        int8_t out[sizeof(j[c].engine_out)];

        g_assert_true(wait_head(&m, c, 1));
        read_done(&m, c, 0, &d);
        g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_OK);
        g_assert_cmpuint(ldq_le_p(&d.seqno), ==, 100 + c);
        g_assert_cmpuint(ldl_le_p(&d.op_index), ==, 1);
        g_assert_cmpuint(ldq_le_p(&d.macs), ==, macs);
        g_assert_cmpuint(ldq_le_p(&d.bytes_written), ==, sizeof(out));
        g_assert_cmpuint(ldq_le_p(&d.cycles), ==,
                         model_cycles(&m, c, macs,
                                      9 * 9 * 16 + 24 * 9 * 16 + sizeof(out) +
                                      12 * 24));
        vread(&m, 1, j[c].out, out, sizeof(out));
        g_assert_cmpmem(out, sizeof(out), j[c].engine_out, sizeof(out));
        g_assert_cmpuint(rd(m.t, b + APU_CORE_COMPLETED_SEQ_LO), ==, 100 + c);
        g_assert_cmpuint(rd(m.t, b + APU_CORE_JOBS_DONE), ==, 1);
        g_assert_cmpuint(rd(m.t, b + APU_CORE_BUSY_CYCLES_LO), ==,
                         ldq_le_p(&d.cycles));
        g_assert_cmpuint(rd(m.t, b + APU_CORE_STATUS), ==, APU_CORE_IDLE);
    }
    /* Each core's completion interrupt is pending; W1C clears it. */
    all = (1u << m.ncores) - 1;
    g_assert_cmphex(rd(m.t, APU_REG_IRQ_STATUS), ==, all);
    wr(m.t, APU_REG_IRQ_STATUS, 0x5);
    g_assert_cmphex(rd(m.t, APU_REG_IRQ_STATUS), ==, all & ~0x5u);
}

/*
 * Firmware ABI 1.2 through the device: one job of MAXPOOL, LUT and MUL
 * (input2 broadcast per channel), each op reading the one before; every
 * output against a naive loop here.
 */
static void test_quant_ops(ApuTest *t)
{
    enum { H = 6, W = 6, C = 20, OH = 3, OW = 3, N = OH * OW * C };
    int8_t in[H * W * C], pooled[N], looked[N], want[N], out[N];
    int8_t table[256], scale[C];
    uint8_t cmd[16 + 3 * APU_OP_SIZE] = { 0 };
    struct apu_op_avgpool *mp = (void *)(cmd + 16);
    struct apu_op_lut *lut = (void *)(cmd + 16 + APU_OP_SIZE);
    struct apu_op_mul *mul = (void *)(cmd + 16 + 2 * APU_OP_SIZE);
    uint64_t base = JOB_VA(5), cycles;
    uint64_t va_in = base + 0x1000, va_t = base + 0x2000;
    uint64_t va_s = base + 0x3000, va_p = base + 0x4000;
    uint64_t va_l = base + 0x5000, va_o = base + 0x6000;
    struct apu_completion d;
    int i, oy, ox, c, ky, kx;
    Mem m;

    for (i = 0; i < H * W * C; i++) {
        in[i] = (int8_t)(i * 37 + 11);
    }
    for (i = 0; i < 256; i++) {
        table[i] = (int8_t)(255 - i * 3);
    }
    for (i = 0; i < C; i++) {
        scale[i] = (int8_t)(i * 13 - 120);
    }
    /* 3x3, stride 2, padding 1: clipped windows; clamp to [-100, 100]. */
    for (oy = 0; oy < OH; oy++) {
        for (ox = 0; ox < OW; ox++) {
            for (c = 0; c < C; c++) {
                int v = -128;

                for (ky = 0; ky < 3; ky++) {
                    for (kx = 0; kx < 3; kx++) {
                        int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;

                        if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
                            v = MAX(v, in[(iy * W + ix) * C + c]);
                        }
                    }
                }
                pooled[(oy * OW + ox) * C + c] = MIN(MAX(v, -100), 100);
            }
        }
    }
    for (i = 0; i < N; i++) {
        int32_t v;

        looked[i] = table[pooled[i] + 128];
        v = apu_mbqm((looked[i] + 3) * (scale[i % C] - 5), 1 << 30, -6) + 2;
        want[i] = MIN(MAX(v, -128), 127);
    }

    mem_start(&m, t, 8);
    map_range(&m, 1, base, 4096, false);
    map_range(&m, 1, va_in, sizeof(in), false);
    map_range(&m, 1, va_t, 256, false);
    map_range(&m, 1, va_s, C, false);
    map_range(&m, 1, va_p, N, true);
    map_range(&m, 1, va_l, N, true);
    map_range(&m, 1, va_o, N, true);
    vwrite(&m, 1, va_in, in, sizeof(in));
    vwrite(&m, 1, va_t, table, 256);
    vwrite(&m, 1, va_s, scale, C);

    stl_le_p(cmd, APU_CMD_MAGIC);
    stw_le_p(cmd + 4, APU_CMD_VERSION);
    stw_le_p(cmd + 6, 3);
    stw_le_p(&mp->opcode, APU_OP_MAXPOOL);
    stw_le_p(&mp->in_h, H);
    stw_le_p(&mp->in_w, W);
    stw_le_p(&mp->channels, C);
    stw_le_p(&mp->out_h, OH);
    stw_le_p(&mp->out_w, OW);
    stw_le_p(&mp->k_h, 3);
    stw_le_p(&mp->k_w, 3);
    stw_le_p(&mp->stride_h, 2);
    stw_le_p(&mp->stride_w, 2);
    stw_le_p(&mp->pad_top, 1);
    stw_le_p(&mp->pad_left, 1);
    stl_le_p(&mp->act_min, (uint32_t)-100);
    stl_le_p(&mp->act_max, 100);
    stq_le_p(&mp->input, va_in);
    stq_le_p(&mp->output, va_p);
    stw_le_p(&lut->opcode, APU_OP_LUT);
    stl_le_p(&lut->count, N);
    stq_le_p(&lut->input, va_p);
    stq_le_p(&lut->table, va_t);
    stq_le_p(&lut->output, va_l);
    stw_le_p(&mul->opcode, APU_OP_MUL);
    stl_le_p(&mul->count, N);
    stl_le_p(&mul->in1_offset, 3);
    stl_le_p(&mul->in2_offset, (uint32_t)-5);
    stl_le_p(&mul->out_mult, 1 << 30);
    stl_le_p(&mul->out_shift, (uint32_t)-6);
    stl_le_p(&mul->out_zp, 2);
    stl_le_p(&mul->act_min, (uint32_t)-128);
    stl_le_p(&mul->act_max, 127);
    stl_le_p(&mul->in2_period, C);
    stq_le_p(&mul->input1, va_l);
    stq_le_p(&mul->input2, va_s);
    stq_le_p(&mul->output, va_o);
    vwrite(&m, 1, base, cmd, sizeof(cmd));

    run_job(&m, 5, 8, 0, base, sizeof(cmd), 1, 77, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_OK);
    g_assert_cmpuint(ldl_le_p(&d.op_index), ==, 3);
    vread(&m, 1, va_p, out, N);
    g_assert_cmpmem(out, N, pooled, N);
    vread(&m, 1, va_l, out, N);
    g_assert_cmpmem(out, N, looked, N);
    vread(&m, 1, va_o, out, N);
    g_assert_cmpmem(out, N, want, N);
    g_assert_cmpuint(ldq_le_p(&d.macs), ==, N * 9 + N + N);
    g_assert_cmpuint(ldq_le_p(&d.bytes_written), ==, 3 * N);
    cycles = model_cycles(&m, 5, N * 9, sizeof(in) + N) +
             model_cycles(&m, 5, N, 2 * N + 256) +
             model_cycles(&m, 5, N, 2 * N + C);
    g_assert_cmpuint(ldq_le_p(&d.cycles), ==, cycles);

    /* A bad broadcast period fails the op it is in, and nothing after. */
    stl_le_p(&mul->in2_period, 7);
    vwrite(&m, 1, base, cmd, sizeof(cmd));
    run_job(&m, 5, 8, 1, base, sizeof(cmd), 1, 78, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_BAD_PARAMS);
    g_assert_cmpuint(ldl_le_p(&d.op_index), ==, 2);
}

/*
 * Power gating: a core powered down takes no job and reads OFF; powered
 * up, it runs what its ring holds. A reset powers it up again.
 */
static void test_power_gating(ApuTest *t)
{
    static ConvJob j;
    uint64_t b = APU_CORE_BASE(3);
    struct apu_completion d;
    Mem m;

    mem_start(&m, t, 8);
    conv_job(&m, 3, &j, 3, true);
    g_assert_cmpuint(rd(m.t, b + APU_CORE_POWER), ==, APU_CORE_POWER_ON);
    g_assert_cmpuint(rd(m.t, b + APU_CORE_POWER_ONS), ==, 0);
    wr(m.t, b + APU_CORE_POWER, 0);
    g_assert_cmpuint(rd(m.t, b + APU_CORE_STATUS), ==, APU_CORE_OFF);
    submit(&m, 3, 8, 0, j.cmd, j.cmd_size, 1, 42);
    g_usleep(100 * 1000);
    g_assert_cmpuint(rd(m.t, b + APU_CORE_RING_HEAD), ==, 0);
    g_assert_cmpuint(rd(m.t, b + APU_CORE_STATUS), ==, APU_CORE_OFF);
    /* Other cores are not affected. */
    g_assert_cmpuint(rd(m.t, APU_CORE_BASE(2) + APU_CORE_STATUS), ==,
                     APU_CORE_IDLE);

    wr(m.t, b + APU_CORE_POWER, APU_CORE_POWER_ON);
    g_assert_true(wait_head(&m, 3, 1));
    read_done(&m, 3, 0, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_OK);
    g_assert_cmpuint(ldq_le_p(&d.seqno), ==, 42);
    g_assert_cmpuint(rd(m.t, b + APU_CORE_POWER_ONS), ==, 1);
    g_assert_cmpuint(rd(m.t, b + APU_CORE_STATUS), ==, APU_CORE_IDLE);

    wr(m.t, b + APU_CORE_POWER, 0);
    wr(m.t, APU_REG_RESET, APU_RESET_CORE(3));
    g_assert_cmpuint(rd(m.t, b + APU_CORE_POWER), ==, APU_CORE_POWER_ON);
    g_assert_cmpuint(rd(m.t, b + APU_CORE_POWER_ONS), ==, 0);
}

/* Many jobs through a small ring: wrap-around, order, the last seqno. */
static void test_ring_wraps(ApuTest *t)
{
    static ConvJob j;
    Mem m;
    uint32_t i;

    mem_start(&m, t, 2);
    conv_job(&m, 3, &j, 9, true);
    for (i = 0; i < 7; i++) {
        struct apu_completion d;

        run_job(&m, 3, 2, i, j.cmd, j.cmd_size, 1, 1000 + i, &d);
        g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_OK);
        g_assert_cmpuint(ldq_le_p(&d.seqno), ==, 1000 + i);
    }
    g_assert_cmpuint(rd(m.t, APU_CORE_BASE(3) + APU_CORE_JOBS_DONE), ==, 7);
    g_assert_cmpuint(rd(m.t, APU_CORE_BASE(3) + APU_CORE_COMPLETED_SEQ_LO),
                     ==, 1006);
    /* A bad ring size disables the ring. */
    wr(m.t, APU_CORE_BASE(3) + APU_CORE_RING_SIZE, 3);
    g_assert_cmpuint(rd(m.t, APU_CORE_BASE(3) + APU_CORE_RING_SIZE), ==, 0);
    wr(m.t, APU_CORE_BASE(3) + APU_CORE_RING_SIZE, 8192);
    g_assert_cmpuint(rd(m.t, APU_CORE_BASE(3) + APU_CORE_RING_SIZE), ==, 0);
}

/*
 * All six cores work at once, and every output equals the engine's on the
 * host (a plumbing check, see conv_job()).
 */
static void test_all_cores_at_once(ApuTest *t)
{
    static ConvJob j[APU_MAX_CORES];
    Mem m;
    int c, round, most_busy = 0;

    mem_start(&m, t, 8);
    for (c = 0; c < m.ncores; c++) {
        conv_job(&m, c, &j[c], c + 20, true);
    }
    /*
     * Time-accurate mode, scaled so that even a big core's job (about 420
     * modeled cycles at 1 GHz) lasts about 80 ms: far longer than the six
     * submissions take, so all the cores are seen busy together.
     */
    wr(m.t, APU_REG_TIME_SCALE, 200000);
    wr(m.t, APU_REG_CTRL, APU_CTRL_TIME_ACCURATE);
    for (round = 0; round < 2; round++) {
        for (c = 0; c < m.ncores; c++) {
            submit(&m, c, 8, round, j[c].cmd, j[c].cmd_size, 1, round);
        }
        for (;;) {
            int busy = 0, done = 0;

            for (c = 0; c < m.ncores; c++) {
                uint64_t b = APU_CORE_BASE(c);

                busy += rd(m.t, b + APU_CORE_STATUS) == APU_CORE_BUSY;
                done += rd(m.t, b + APU_CORE_RING_HEAD) == round + 1;
            }
            most_busy = MAX(most_busy, busy);
            if (done == m.ncores) {
                break;
            }
            g_usleep(2000);
        }
    }
    g_assert_cmpint(most_busy, ==, m.ncores);
    for (c = 0; c < m.ncores; c++) {
        int8_t out[sizeof(j[c].engine_out)];
        struct apu_completion d;

        read_done(&m, c, 1, &d);
        g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_OK);
        vread(&m, 1, j[c].out, out, sizeof(out));
        g_assert_cmpmem(out, sizeof(out), j[c].engine_out, sizeof(out));
    }
}

/* Time-accurate mode: a job completes no earlier than its scaled time. */
static void test_time_accurate(ApuTest *t)
{
    static ConvJob j;
    struct apu_completion d;
    uint64_t ns;
    gint64 t0, t1;
    Mem m;

    mem_start(&m, t, 8);
    conv_job(&m, 5, &j, 1, true);
    wr(m.t, APU_REG_TIME_SCALE, 100000);
    wr(m.t, APU_REG_CTRL, APU_CTRL_TIME_ACCURATE);
    t0 = g_get_monotonic_time();
    submit(&m, 5, 8, 0, j.cmd, j.cmd_size, 1, 1);
    g_assert_true(wait_head(&m, 5, 1));
    t1 = g_get_monotonic_time();
    read_done(&m, 5, 0, &d);
    /* Tiny core: 500 MHz. */
    ns = ldq_le_p(&d.cycles) * 1000 * 100000 / 500;
    g_assert_cmpint((t1 - t0) * 1000, >=, ns);
}

/* MMU faults end the job alone; the core keeps going. */
static void test_mmu_faults(ApuTest *t)
{
    static ConvJob j;
    struct apu_completion d;
    Mem m;

    mem_start(&m, t, 8);
    conv_job(&m, 0, &j, 2, false);          /* output read-only */
    run_job(&m, 0, 8, 0, j.cmd, j.cmd_size, 1, 1, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_MMU_FAULT);
    g_assert_cmphex(ldq_le_p(&d.fault_addr), ==, j.out);
    g_assert_cmphex(ldl_le_p(&d.fault_flags), ==,
                    APU_FAULT_WRITE | APU_FAULT_READ_ONLY);

    /* The same job in address space 0, where nothing of it is mapped. */
    run_job(&m, 0, 8, 1, j.cmd, j.cmd_size, 0, 2, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_MMU_FAULT);
    g_assert_cmphex(ldq_le_p(&d.fault_addr), ==, j.cmd);
    g_assert_cmphex(ldl_le_p(&d.fault_flags), ==, APU_FAULT_NOT_PRESENT);

    /* An address space past MMU_CTX_COUNT. */
    run_job(&m, 0, 8, 2, j.cmd, j.cmd_size, 7, 3, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_BAD_CONTEXT);
    g_assert_cmpuint(rd(m.t, APU_CORE_BASE(0) + APU_CORE_STATUS), ==,
                     APU_CORE_IDLE);

    /* A completion record the device cannot write: a device error. */
    {
        struct apu_ring_entry e = { 0 };

        stq_le_p(&e.cmdbuf, j.cmd);
        stl_le_p(&e.cmdbuf_size, j.cmd_size);
        stw_le_p(&e.asid, 1);
        stq_le_p(&e.seqno, 4);
        stq_le_p(&e.completion, 0x7000000);
        vwrite(&m, 0, RING_VA(0) + 3 * 64, &e, sizeof(e));
        wr(m.t, APU_REG_IRQ_STATUS, 0xffffffff);
        wr(m.t, APU_CORE_BASE(0) + APU_CORE_RING_TAIL, 4);
        while (rd(m.t, APU_CORE_BASE(0) + APU_CORE_STATUS) !=
               APU_CORE_ERROR) {
            g_usleep(1000);
        }
        while (!(rd(m.t, APU_REG_IRQ_STATUS) & APU_IRQ_ERROR)) {
            g_usleep(1000);
        }
        g_assert_cmphex(rd(m.t, APU_REG_MMU_FAULT_ADDR_LO), ==, 0x7000000);
        g_assert_cmphex(rd(m.t, APU_REG_MMU_FAULT_INFO), ==,
                        APU_MMU_FAULT_INFO(0, APU_FAULT_WRITE |
                                           APU_FAULT_NOT_PRESENT));
        g_assert_cmpuint(rd(m.t, APU_CORE_BASE(0) + APU_CORE_RING_HEAD),
                         ==, 3);
    }
}

/* MSI-X: core n's completion writes vector n's message. */
/*
 * Enable MSI-X, check the table has @nvec vectors, and point vector v at
 * m->msi + 4 * v with data 0xa0 + v.
 */
static void msix_setup(Mem *m, int nvec)
{
    int v;

    qpci_msix_enable(m->t->dev);
    g_assert_cmpuint(qpci_msix_table_size(m->t->dev), ==, nvec);
    for (v = 0; v < nvec; v++) {
        uint64_t e = m->t->dev->msix_table_off + v * 16;

        qpci_io_writel(m->t->dev, m->t->dev->msix_table_bar, e,
                       (uint32_t)(m->msi + v * 4));
        qpci_io_writel(m->t->dev, m->t->dev->msix_table_bar, e + 4,
                       (m->msi + v * 4) >> 32);
        qpci_io_writel(m->t->dev, m->t->dev->msix_table_bar, e + 8, 0xa0 + v);
        qpci_io_writel(m->t->dev, m->t->dev->msix_table_bar, e + 12, 0);
    }
    qtest_memset(m->t->qts, m->msi, 0, 64);
}

/* Wait (up to a second) for MSI-X vector @v's message; false if none. */
static bool wait_msi(Mem *m, int v)
{
    int i;

    for (i = 0; i < 1000 && !qtest_readl(m->t->qts, m->msi + v * 4); i++) {
        g_usleep(1000);
        (void)rd(m->t, APU_REG_IRQ_STATUS);   /* lets the main loop run */
    }
    return qtest_readl(m->t->qts, m->msi + v * 4) == 0xa0 + v;
}

static void test_msix(ApuTest *t)
{
    static ConvJob j;
    Mem m;

    mem_start(&m, t, 8);
    msix_setup(&m, 7);
    conv_job(&m, 4, &j, 3, true);
    wr(m.t, APU_REG_IRQ_MASK, 0);
    submit(&m, 4, 8, 0, j.cmd, j.cmd_size, 1, 1);
    g_assert_true(wait_head(&m, 4, 1));
    while (!(rd(m.t, APU_REG_IRQ_STATUS) & APU_IRQ_CORE(4))) {
        g_usleep(1000);
    }
    /* Masked: pending but not sent. */
    g_assert_cmpuint(qtest_readl(m.t->qts, m.msi + 16), ==, 0);
    /* Unmasking a pending event sends it. */
    wr(m.t, APU_REG_IRQ_MASK, APU_IRQ_CORE(4));
    g_assert_cmphex(qtest_readl(m.t->qts, m.msi + 16), ==, 0xa4);
    /* The next completion too. */
    qtest_writel(m.t->qts, m.msi + 16, 0);
    submit(&m, 4, 8, 1, j.cmd, j.cmd_size, 1, 2);
    g_assert_true(wait_head(&m, 4, 2));
    g_assert_true(wait_msi(&m, 4));
    g_assert_cmphex(qtest_readl(m.t->qts, m.msi), ==, 0);
}

/* Every kind of fault injection, and recovery by core reset. */
static void test_fault_injection(ApuTest *t)
{
    static ConvJob j;
    struct apu_completion d;
    uint8_t img[256];
    size_t n;
    Mem m;

    mem_start(&m, t, 8);
    conv_job(&m, 1, &j, 4, true);

    wr(m.t, APU_REG_DBG_INJECT, APU_DBG_INJECT(1, APU_INJECT_FAIL_JOB));
    g_assert_cmphex(rd(m.t, APU_REG_DBG_PENDING_LO), ==,
                    (1u << APU_INJECT_FAIL_JOB) << 8);
    run_job(&m, 1, 8, 0, j.cmd, j.cmd_size, 1, 1, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_INJECTED);
    g_assert_cmphex(rd(m.t, APU_REG_DBG_PENDING_LO), ==, 0);

    wr(m.t, APU_REG_DBG_INJECT, APU_DBG_INJECT(1, APU_INJECT_MMU_FAULT));
    run_job(&m, 1, 8, 1, j.cmd, j.cmd_size, 1, 2, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_MMU_FAULT);
    g_assert_cmphex(ldl_le_p(&d.fault_flags), ==, APU_FAULT_INJECTED);
    g_assert_cmphex(ldq_le_p(&d.fault_addr), ==, j.cmd);

    /* A lost interrupt: the job completes, its interrupt never comes. */
    wr(m.t, APU_REG_IRQ_STATUS, 0xffffffff);
    wr(m.t, APU_REG_DBG_INJECT, APU_DBG_INJECT(1, APU_INJECT_DROP_IRQ));
    run_job(&m, 1, 8, 2, j.cmd, j.cmd_size, 1, 3, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_OK);
    g_usleep(20000);
    g_assert_cmphex(rd(m.t, APU_REG_IRQ_STATUS) & APU_IRQ_CORE(1), ==, 0);
    submit(&m, 1, 8, 3, j.cmd, j.cmd_size, 1, 4);
    g_assert_true(wait_head(&m, 1, 4));
    while (!(rd(m.t, APU_REG_IRQ_STATUS) & APU_IRQ_CORE(1))) {
        g_usleep(1000);
    }

    /* A hung core: takes the job, never finishes; others carry on. */
    wr(m.t, APU_REG_DBG_INJECT, APU_DBG_INJECT(1, APU_INJECT_HANG_CORE));
    submit(&m, 1, 8, 4, j.cmd, j.cmd_size, 1, 5);
    while (rd(m.t, APU_CORE_BASE(1) + APU_CORE_STATUS) != APU_CORE_HUNG) {
        g_usleep(1000);
    }
    {
        static ConvJob k;

        conv_job(&m, 2, &k, 5, true);
        submit(&m, 2, 8, 0, k.cmd, k.cmd_size, 1, 77);
        g_assert_true(wait_head(&m, 2, 1));
    }
    g_usleep(20000);
    g_assert_cmpuint(rd(m.t, APU_CORE_BASE(1) + APU_CORE_RING_HEAD), ==, 4);
    g_assert_cmpuint(rd(m.t, APU_CORE_BASE(1) + APU_CORE_STATUS), ==,
                     APU_CORE_HUNG);
    /* Core reset: idle, ring cleared; set up again, it works. */
    wr(m.t, APU_REG_RESET, APU_RESET_CORE(1));
    g_assert_cmpuint(rd(m.t, APU_CORE_BASE(1) + APU_CORE_STATUS), ==,
                     APU_CORE_IDLE);
    g_assert_cmpuint(rd(m.t, APU_CORE_BASE(1) + APU_CORE_RING_SIZE), ==, 0);
    g_assert_cmpuint(rd(m.t, APU_CORE_BASE(1) + APU_CORE_JOBS_DONE), ==, 0);
    g_assert_cmpuint(rd(m.t, APU_CORE_BASE(2) + APU_CORE_JOBS_DONE), ==, 1);
    wr(m.t, APU_CORE_BASE(1) + APU_CORE_RING_BASE_LO, (uint32_t)RING_VA(1));
    wr(m.t, APU_CORE_BASE(1) + APU_CORE_RING_SIZE, 8);
    wr(m.t, APU_CORE_BASE(1) + APU_CORE_CTRL, APU_CORE_CTRL_ENABLE);
    run_job(&m, 1, 8, 0, j.cmd, j.cmd_size, 1, 6, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_OK);

    /* Refused firmware boot; armed across a device reset. */
    wr(m.t, APU_REG_DBG_INJECT, APU_DBG_INJECT(0, APU_INJECT_REFUSE_FW));
    g_assert_cmpuint(rd(m.t, APU_REG_DBG_FW_PENDING), ==, 1);
    wr(m.t, APU_REG_RESET, APU_RESET_DEVICE);
    g_assert_cmpuint(rd(m.t, APU_REG_DBG_FW_PENDING), ==, 1);
    n = make_image(img, APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR,
                   APU_VERSION(1, 0, 0), "inject");
    g_assert_cmpuint(fw_boot(m.t, img, n, n), ==, APU_FW_STATUS_ERROR);
    g_assert_cmpuint(rd(m.t, APU_REG_FW_ERROR), ==, APU_FW_ERR_INJECTED);
    g_assert_cmpuint(fw_boot(m.t, img, n, n), ==, APU_FW_STATUS_READY);

    /* Bad injections are ignored. */
    wr(m.t, APU_REG_DBG_INJECT, APU_DBG_INJECT(9, APU_INJECT_FAIL_JOB));
    wr(m.t, APU_REG_DBG_INJECT, APU_DBG_INJECT(0, 77));
    g_assert_cmphex(rd(m.t, APU_REG_DBG_PENDING_LO), ==, 0);
    g_assert_cmphex(rd(m.t, APU_REG_DBG_PENDING_HI), ==, 0);
}

/* Device reset while all cores are busy: everything idle, nothing hangs. */
static void test_reset_while_busy(ApuTest *t)
{
    static ConvJob j[6];
    Mem m;
    int c;

    mem_start(&m, t, 8);
    for (c = 0; c < 6; c++) {
        conv_job(&m, c, &j[c], c, true);
    }
    wr(m.t, APU_REG_TIME_SCALE, 1000000);
    wr(m.t, APU_REG_CTRL, APU_CTRL_TIME_ACCURATE);
    for (c = 0; c < 6; c++) {
        submit(&m, c, 8, 0, j[c].cmd, j[c].cmd_size, 1, 1);
    }
    wr(m.t, APU_REG_DBG_INJECT, APU_DBG_INJECT(5, APU_INJECT_HANG_CORE));
    g_usleep(20000);
    wr(m.t, APU_REG_RESET, APU_RESET_DEVICE);
    for (c = 0; c < 6; c++) {
        uint64_t b = APU_CORE_BASE(c);

        g_assert_cmpuint(rd(m.t, b + APU_CORE_STATUS), ==, APU_CORE_IDLE);
        g_assert_cmpuint(rd(m.t, b + APU_CORE_RING_HEAD), ==, 0);
        g_assert_cmpuint(rd(m.t, b + APU_CORE_CTRL), ==, 0);
    }
    g_assert_cmpuint(rd(m.t, APU_REG_MMU_CTX_COUNT), ==, 0);
    g_assert_cmpuint(rd(m.t, APU_REG_CTRL), ==, 0);
    g_assert_cmpuint(rd(m.t, APU_REG_TIME_SCALE), ==, 1);
    g_assert_cmphex(rd(m.t, APU_REG_IRQ_STATUS), ==, 0);
}

/*
 * A command buffer at @base (context 1) of one long convolution: a
 * @ih x @ih x 16 image, @k x @k kernels with "same" padding (most taps on
 * the edge path for a large @k), 16 output channels, its tensors after
 * it. Returns the size of the command buffer; *@macs is the op's work.
 */
static uint32_t long_conv_job(Mem *m, uint64_t base, int ih, int k,
                              uint64_t *macs)
{
    enum { IC = 16, OC = 16 };
    uint8_t cmd[16 + APU_OP_SIZE] = { 0 };
    struct apu_op_conv2d *op = (void *)(cmd + 16);
    size_t in_len = (size_t)ih * ih * IC, w_len = (size_t)OC * k * k * IC;
    g_autofree int8_t *in = g_malloc(in_len);
    g_autofree int8_t *w = g_malloc(w_len);
    int32_t mult[OC], shift[OC];
    uint64_t va_in = base + 0x100000, va_w = base + 0x200000;
    uint64_t va_m = base + 0x400000, va_s = base + 0x401000;
    uint64_t va_o = base + 0x500000;
    ApuConvParams p = {
        ih, ih, IC, ih, ih, OC, k, k, 1, 1, 1, 1, k / 2, k / 2, 1,
        0, 0, -128, 127, false, 0,
    };
    size_t i;

    g_assert_cmpuint(w_len, <=, va_m - va_w);
    g_assert_cmpuint(apu_conv_check(&p), ==, APU_STATUS_OK);
    *macs = apu_conv_macs(&p);
    for (i = 0; i < in_len; i++) {
        in[i] = (int8_t)(i * 7 + 3);
    }
    for (i = 0; i < w_len; i++) {
        w[i] = (int8_t)(i * 5 % 255 - 127);
    }
    for (i = 0; i < OC; i++) {
        mult[i] = 1 << 30;
        shift[i] = -12;
    }
    map_range(m, 1, base, 4096, false);
    map_range(m, 1, va_in, in_len, false);
    map_range(m, 1, va_w, w_len, false);
    map_range(m, 1, va_m, sizeof(mult), false);
    map_range(m, 1, va_s, sizeof(shift), false);
    map_range(m, 1, va_o, (uint64_t)ih * ih * OC, true);
    vwrite(m, 1, va_in, in, in_len);
    vwrite(m, 1, va_w, w, w_len);
    vwrite(m, 1, va_m, mult, sizeof(mult));         /* little-endian host */
    vwrite(m, 1, va_s, shift, sizeof(shift));
    stl_le_p(cmd, APU_CMD_MAGIC);
    stw_le_p(cmd + 4, APU_CMD_VERSION);
    stw_le_p(cmd + 6, 1);
    stw_le_p(&op->opcode, APU_OP_CONV2D);
    stw_le_p(&op->in_h, ih);
    stw_le_p(&op->in_w, ih);
    stw_le_p(&op->in_c, IC);
    stw_le_p(&op->out_h, ih);
    stw_le_p(&op->out_w, ih);
    stw_le_p(&op->out_c, OC);
    stw_le_p(&op->k_h, k);
    stw_le_p(&op->k_w, k);
    stw_le_p(&op->stride_h, 1);
    stw_le_p(&op->stride_w, 1);
    stw_le_p(&op->dil_h, 1);
    stw_le_p(&op->dil_w, 1);
    stw_le_p(&op->pad_top, k / 2);
    stw_le_p(&op->pad_left, k / 2);
    stw_le_p(&op->groups, 1);
    stl_le_p(&op->act_min, (uint32_t)-128);
    stl_le_p(&op->act_max, 127);
    stq_le_p(&op->input, va_in);
    stq_le_p(&op->weights, va_w);
    stq_le_p(&op->mult, va_m);
    stq_le_p(&op->shift, va_s);
    stq_le_p(&op->output, va_o);
    vwrite(m, 1, base, cmd, sizeof(cmd));
    return sizeof(cmd);
}

/*
 * A core reset does not wait for a long op (issue 15, defect 3): the reset
 * is an MMIO write, handled under the BQL, and used to wait for the op to
 * end, the guest frozen meanwhile. One legal convolution of 3.9 G MACs
 * (61x61 kernels over a 64x64 image, nearly every tap on the edge path:
 * seconds of the host's time) runs on core 0; a core reset in the middle
 * returns within half a second, drops the job (no completion, head 0), and
 * the core then runs a job as usual.
 */
static void test_reset_long_op(ApuTest *t)
{
    static ConvJob j;
    uint64_t base = JOB_VA(1), b = APU_CORE_BASE(0), macs;
    uint32_t cmd_size;
    struct apu_completion d;
    gint64 t0, t1, end;
    Mem m;

    mem_start(&m, t, 8);
    cmd_size = long_conv_job(&m, base, 64, 61, &macs);
    g_assert_cmpuint(macs, >, 3ull << 30);

    submit(&m, 0, 8, 0, base, cmd_size, 1, 77);
    end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (rd(m.t, b + APU_CORE_STATUS) != APU_CORE_BUSY) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
    g_usleep(20 * 1000);
    /* Still inside the op (over two seconds on a 2-core machine). */
    g_assert_cmpuint(rd(m.t, b + APU_CORE_STATUS), ==, APU_CORE_BUSY);
    g_assert_cmpuint(rd(m.t, b + APU_CORE_RING_HEAD), ==, 0);

    t0 = g_get_monotonic_time();
    wr(m.t, APU_REG_RESET, APU_RESET_CORE(0));
    t1 = g_get_monotonic_time();
    g_test_message("core reset during a 3.9 G MAC op took %" PRId64 " us",
                   t1 - t0);
    g_assert_cmpint(t1 - t0, <, G_USEC_PER_SEC / 2);
    g_assert_cmpuint(rd(m.t, b + APU_CORE_STATUS), ==, APU_CORE_IDLE);
    g_assert_cmpuint(rd(m.t, b + APU_CORE_RING_HEAD), ==, 0);
    g_assert_cmpuint(rd(m.t, b + APU_CORE_JOBS_DONE), ==, 0);
    read_done(&m, 0, 0, &d);
    g_assert_cmpuint(ldq_le_p(&d.seqno), ==, 0);    /* no completion */

    /* The core works afterwards. */
    core_ring_setup(&m, 0, 8);
    conv_job(&m, 0, &j, 4, true);
    run_job(&m, 0, 8, 0, j.cmd, j.cmd_size, 1, 78, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_OK);
    g_assert_cmpuint(ldq_le_p(&d.seqno), ==, 78);
}

/*
 * Core threads reach RAM only, through the very region they checked
 * (issue 15, defect 9). The device used to check that an address was RAM
 * on one translation and then access it with address_space_write(), which
 * translates again: a guest moving a BAR in between made a core thread
 * (which runs without the BQL) take the BQL and dispatch MMIO.
 *
 * An NVMe controller's persistent memory region (BAR 4) is RAM. Jobs of
 * convolutions whose 1024 output pixels (12 channels, the last four 0x5a)
 * are written one by one, every pixel's page mapped to the start of that
 * RAM, run while the test moves the APU's own BAR 0 on top of it and away
 * again, one config write each, over thousands of jobs. A pixel written
 * into BAR 0 would set SCRATCH (offset 8) to 0x5a5a5a5a. Every job ends
 * OK (it saw RAM) or with a bus fault at an output pixel (it saw the
 * BAR); SCRATCH stays 0; the flips really hit running jobs (bus faults);
 * and the device runs jobs afterwards.
 */
#define NVME_DEVFN QPCI_DEVFN(5, 0)
#define NVME_PMRCTL 0xe04

static void test_dma_bar_race(ApuTest *t)
{
    enum { NPIX = 1024, OC = 12, NOPS = 4 };
    static uint8_t cmd[16 + NOPS * APU_OP_SIZE];
    static ConvJob j;
    int8_t in[NPIX] = { 0 }, w[OC] = { 0 };
    int32_t bias[OC] = { 0 }, mult[OC], shift[OC];
    uint64_t base = JOB_VA(2), va_in = base + 0x100000;
    uint64_t va_w = base + 0x101000, va_b = base + 0x102000;
    uint64_t va_m = base + 0x103000, va_s = base + 0x104000;
    uint64_t va_o = base + 0x400000, fa;
    uint64_t pmr_pa, bar0, pmr_size;
    QPCIDevice *nvme;
    QPCIBar nbar;
    struct apu_completion d;
    int i, round, toggles = 0, faults = 0, oks = 0;
    gint64 start, end;
    Mem m;

    mem_start(&m, t, 8);
    nvme = qpci_device_find(m.t->bus, NVME_DEVFN);
    g_assert_nonnull(nvme);
    qpci_device_enable(nvme);
    nbar = qpci_iomap(nvme, 0, NULL);
    pmr_pa = qpci_iomap(nvme, 4, &pmr_size).addr;
    g_assert_cmpuint(pmr_size, ==, 1 << 20);
    g_assert_cmphex(pmr_pa >> 32, ==, 0);
    qpci_io_writel(nvme, nbar, NVME_PMRCTL, 1);     /* PMR on: RAM */
    qtest_writel(m.t->qts, pmr_pa, 0x12345678);
    g_assert_cmphex(qtest_readl(m.t->qts, pmr_pa), ==, 0x12345678);
    bar0 = qpci_config_readl(m.t->dev, PCI_BASE_ADDRESS_0) & ~0xfu;
    g_assert_cmphex(qpci_config_readl(m.t->dev, PCI_BASE_ADDRESS_1), ==, 0);

    /* Weights 0, bias 0x5a on channels 8-11, scale 1: 8 zeros, 4 x 0x5a. */
    for (i = 0; i < OC; i++) {
        bias[i] = i >= 8 ? 0x5a : 0;
        mult[i] = 1 << 30;
        shift[i] = 1;
    }
    map_range(&m, 1, base, sizeof(cmd), false);
    map_range(&m, 1, va_in, sizeof(in), false);
    map_range(&m, 1, va_w, sizeof(w), false);
    map_range(&m, 1, va_b, sizeof(bias), false);
    map_range(&m, 1, va_m, sizeof(mult), false);
    map_range(&m, 1, va_s, sizeof(shift), false);
    for (i = 0; i < NPIX; i++) {
        map_page(&m, 1, va_o + i * 4096ull, pmr_pa, true);
    }
    vwrite(&m, 1, va_in, in, sizeof(in));
    vwrite(&m, 1, va_w, w, sizeof(w));
    vwrite(&m, 1, va_b, bias, sizeof(bias));        /* little-endian host */
    vwrite(&m, 1, va_m, mult, sizeof(mult));
    vwrite(&m, 1, va_s, shift, sizeof(shift));
    stl_le_p(cmd, APU_CMD_MAGIC);
    stw_le_p(cmd + 4, APU_CMD_VERSION);
    stw_le_p(cmd + 6, NOPS);
    for (i = 0; i < NOPS; i++) {
        struct apu_op_conv2d *op = (void *)(cmd + 16 + i * APU_OP_SIZE);

        stw_le_p(&op->opcode, APU_OP_CONV2D);
        stw_le_p(&op->in_h, 1);
        stw_le_p(&op->in_w, NPIX);
        stw_le_p(&op->in_c, 1);
        stw_le_p(&op->out_h, 1);
        stw_le_p(&op->out_w, NPIX);
        stw_le_p(&op->out_c, OC);
        stw_le_p(&op->k_h, 1);
        stw_le_p(&op->k_w, 1);
        stw_le_p(&op->stride_h, 1);
        stw_le_p(&op->stride_w, 1);
        stw_le_p(&op->dil_h, 1);
        stw_le_p(&op->dil_w, 1);
        stw_le_p(&op->groups, 1);
        stw_le_p(&op->out_pitch, 4096);     /* one pixel per page */
        stl_le_p(&op->act_min, (uint32_t)-128);
        stl_le_p(&op->act_max, 127);
        stq_le_p(&op->input, va_in);
        stq_le_p(&op->weights, va_w);
        stq_le_p(&op->bias, va_b);
        stq_le_p(&op->mult, va_m);
        stq_le_p(&op->shift, va_s);
        stq_le_p(&op->output, va_o);
    }
    vwrite(&m, 1, base, cmd, sizeof(cmd));

    /* At least 1000 jobs, and more for three seconds. */
    start = g_get_monotonic_time();
    end = start + 60 * G_USEC_PER_SEC;
    for (round = 0; round < 1000 ||
         g_get_monotonic_time() < start + 3 * G_USEC_PER_SEC; round++) {
        submit(&m, 0, 8, round, base, sizeof(cmd), 1, round + 1);
        do {
            qpci_config_writel(m.t->dev, PCI_BASE_ADDRESS_0, (uint32_t)pmr_pa);
            qpci_config_writel(m.t->dev, PCI_BASE_ADDRESS_0, (uint32_t)bar0);
            toggles++;
            g_assert_cmpint(g_get_monotonic_time(), <, end);
        } while (rd(m.t, APU_CORE_BASE(0) + APU_CORE_RING_HEAD) !=
                 round + 1);
        read_done(&m, 0, round, &d);
        g_assert_cmpuint(ldq_le_p(&d.seqno), ==, round + 1);
        if (ldl_le_p(&d.status) == APU_STATUS_OK) {
            oks++;
            continue;
        }
        g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_MMU_FAULT);
        fa = ldq_le_p(&d.fault_addr);
        g_assert_cmphex(fa & 0xfff, ==, 0);
        g_assert_cmphex(fa - va_o, <, NPIX * 4096ull);
        g_assert_cmphex(ldl_le_p(&d.fault_flags), ==,
                        APU_FAULT_WRITE | APU_FAULT_BUS);
        faults++;
    }
    g_test_message("%d jobs: %d OK, %d bus faults; %d BAR flips", round,
                   oks, faults, toggles);
    g_assert_cmphex(rd(m.t, APU_REG_SCRATCH), ==, 0);
    g_assert_cmpint(faults, >, 0);
    /* The RAM holds the pixels. */
    g_assert_cmphex(qtest_readl(m.t->qts, pmr_pa + 4), ==, 0);
    g_assert_cmphex(qtest_readl(m.t->qts, pmr_pa + 8), ==, 0x5a5a5a5a);

    /* And the device runs jobs. */
    conv_job(&m, 1, &j, 5, true);
    run_job(&m, 1, 8, 0, j.cmd, j.cmd_size, 1, 9, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_OK);
    qpci_iounmap(nvme, nbar);
    g_free(nvme);
}

/* ---- core threads racing resets and unplug ------------------------------ */

/*
 * An independent reference for conv_job()'s convolution, for a test that
 * must not trust the device's engine (apu_conv2d()): naive loops, and
 * TFLite's reference requantization (MultiplyByQuantizedMultiplier with
 * its two roundings), written here from TFLite's definition.
 */
static int32_t ref_doubling_high_mul(int32_t a, int32_t b)
{
    int64_t ab = (int64_t)a * b;
    int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));

    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)((ab + nudge) / (1ll << 31));
}

static int32_t ref_divide_by_pot(int32_t x, int e)
{
    int32_t mask = (int32_t)((1ll << e) - 1);
    int32_t rem = x & mask, threshold = (mask >> 1) + (x < 0);

    return (x >> e) + (rem > threshold);
}

static void ref_conv(const ApuConvParams *p, const int8_t *in,
                     const int8_t *w, const int32_t *mult,
                     const int32_t *shift, int8_t *out)
{
    int oy, ox, oc, ky, kx, ic;

    g_assert(p->groups == 1 && p->w_zp == 0 && !p->single_rounding);
    for (oy = 0; oy < p->out_h; oy++) {
        for (ox = 0; ox < p->out_w; ox++) {
            for (oc = 0; oc < p->out_c; oc++) {
                int32_t acc = 0, v;

                for (ky = 0; ky < p->k_h; ky++) {
                    for (kx = 0; kx < p->k_w; kx++) {
                        int iy = oy * p->stride_h - p->pad_top +
                                 ky * p->dil_h;
                        int ix = ox * p->stride_w - p->pad_left +
                                 kx * p->dil_w;

                        if (iy < 0 || iy >= p->in_h ||
                            ix < 0 || ix >= p->in_w) {
                            continue;       /* padding: the zero point */
                        }
                        for (ic = 0; ic < p->in_c; ic++) {
                            acc += (in[(iy * p->in_w + ix) * p->in_c + ic] -
                                    p->in_zp) *
                                   w[((oc * p->k_h + ky) * p->k_w + kx) *
                                     p->in_c + ic];
                        }
                    }
                }
                v = ref_doubling_high_mul(
                        acc * (1 << MAX(shift[oc], 0)), mult[oc]);
                v = ref_divide_by_pot(v, MAX(-shift[oc], 0)) + p->out_zp;
                v = MIN(MAX(v, p->act_min), p->act_max);
                out[(oy * p->out_w + ox) * p->out_c + oc] = v;
            }
        }
    }
}

/*
 * Check conv_job() @j's output in memory against ref_conv() over the
 * tensors in memory (the ones the device read).
 */
static void check_conv_output(Mem *m, ConvJob *j)
{
    const ApuConvParams *p = &j->p;
    size_t in_len = p->in_h * p->in_w * p->in_c;
    size_t w_len = p->out_c * p->k_h * p->k_w * p->in_c;
    size_t out_len = p->out_h * p->out_w * p->out_c;
    g_autofree int8_t *in = g_malloc(in_len);
    g_autofree int8_t *w = g_malloc(w_len);
    g_autofree int8_t *out = g_malloc(out_len);
    g_autofree int8_t *ref = g_malloc(out_len);
    g_autofree int32_t *mult = g_new(int32_t, p->out_c);
    g_autofree int32_t *shift = g_new(int32_t, p->out_c);
    int i;

    vread(m, 1, j->in, in, in_len);
    vread(m, 1, j->w, w, w_len);
    vread(m, 1, j->mult, mult, p->out_c * 4);
    vread(m, 1, j->shift, shift, p->out_c * 4);
    for (i = 0; i < p->out_c; i++) {
        mult[i] = le32_to_cpu(mult[i]);
        shift[i] = le32_to_cpu(shift[i]);
    }
    ref_conv(p, in, w, mult, shift, ref);
    vread(m, 1, j->out, out, out_len);
    g_assert_cmpmem(out, out_len, ref, out_len);
}

#define RACE_RING 8
#define RACE_LONG_VA(c) (JOB_VA(c) + 0x800000)

typedef struct Race {
    ApuTest at;     /* its own PC, started over each iteration */
    Mem m;
    GRand *r;
    ConvJob j[6];
    uint32_t long_size;
    uint32_t tail[6];
    uint64_t seq;
    int doorbells, core_resets, dev_resets, master_flips, mode_flips;
    int busy_resets;        /* cores seen busy just before a reset */
} Race;

/* Queue up to @n jobs, short or long, on core @c; ring its doorbell. */
static void race_submit(Race *x, int c, int n)
{
    uint32_t head = rd(x->m.t, APU_CORE_BASE(c) + APU_CORE_RING_HEAD);

    /* Only entries the core is done with are rewritten. */
    while (n-- > 0 && x->tail[c] - head < RACE_RING) {
        if (g_rand_boolean(x->r)) {
            submit(&x->m, c, RACE_RING, x->tail[c], RACE_LONG_VA(c),
                   x->long_size, 1, ++x->seq);
        } else {
            submit(&x->m, c, RACE_RING, x->tail[c], x->j[c].cmd,
                   x->j[c].cmd_size, 1, ++x->seq);
        }
        x->tail[c]++;
        x->doorbells++;
    }
}

/* A reset is synchronous: a reset core is idle at once, its ring cleared. */
static void race_check_reset(Race *x, int c)
{
    uint64_t b = APU_CORE_BASE(c);

    g_assert_cmpuint(rd(x->m.t, b + APU_CORE_STATUS), ==, APU_CORE_IDLE);
    g_assert_cmpuint(rd(x->m.t, b + APU_CORE_RING_HEAD), ==, 0);
    g_assert_cmpuint(rd(x->m.t, b + APU_CORE_RING_TAIL), ==, 0);
    g_assert_cmpuint(rd(x->m.t, b + APU_CORE_RING_SIZE), ==, 0);
    g_assert_cmpuint(rd(x->m.t, b + APU_CORE_JOBS_DONE), ==, 0);
    x->tail[c] = 0;
}

/* A storm: doorbells, core and device resets, bus mastering, modes. */
static void race_storm(Race *x, int steps)
{
    QPCIDevice *dev = x->m.t->dev;
    uint16_t cmd = qpci_config_readw(dev, PCI_COMMAND);
    int step, c;

    for (step = 0; step < steps; step++) {
        int a = g_rand_int_range(x->r, 0, 100);
        uint32_t mask = 0, val = 0;

        if (a < 35) {
            race_submit(x, g_rand_int_range(x->r, 0, 6),
                        g_rand_int_range(x->r, 1, 4));
        } else if (a < 55) {
            /* One write resets several cores, in flight or not. */
            mask = g_rand_int_range(x->r, 1, 64);
            for (c = 0; c < 6; c++) {
                if (mask & (1u << c)) {
                    val |= APU_RESET_CORE(c);
                    x->busy_resets += rd(x->m.t, APU_CORE_BASE(c) +
                                         APU_CORE_STATUS) == APU_CORE_BUSY;
                }
            }
            wr(x->m.t, APU_REG_RESET, val);
            x->core_resets++;
            for (c = 0; c < 6; c++) {
                if (mask & (1u << c)) {
                    race_check_reset(x, c);
                    core_ring_setup(&x->m, c, RACE_RING);
                }
            }
        } else if (a < 62) {
            for (c = 0; c < 6; c++) {
                x->busy_resets += rd(x->m.t, APU_CORE_BASE(c) +
                                     APU_CORE_STATUS) == APU_CORE_BUSY;
            }
            wr(x->m.t, APU_REG_RESET, APU_RESET_DEVICE);
            x->dev_resets++;
            g_assert_cmpuint(rd(x->m.t, APU_REG_MMU_CTX_COUNT), ==, 0);
            for (c = 0; c < 6; c++) {
                race_check_reset(x, c);
            }
            regs_setup(&x->m, RACE_RING);
        } else if (a < 75) {
            /* Bus mastering off under running jobs: they fault. */
            qpci_config_writew(dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
            g_usleep(g_rand_int_range(x->r, 0, 2000));
            qpci_config_writew(dev, PCI_COMMAND, cmd);
            x->master_flips++;
        } else if (a < 85) {
            /* Time-accurate jobs wait milliseconds after their op. */
            wr(x->m.t, APU_REG_TIME_SCALE, g_rand_int_range(x->r, 1, 2000));
            wr(x->m.t, APU_REG_CTRL, g_rand_boolean(x->r) ?
               APU_CTRL_TIME_ACCURATE : 0);
            x->mode_flips++;
        } else {
            g_usleep(g_rand_int_range(x->r, 0, 3000));
        }
        /* QEMU answers after whatever happened. */
        g_assert_cmphex(rd(x->m.t, APU_REG_ID), ==, APU_ID_MAGIC);
    }
}

/*
 * Core threads racing resets and unplug (issue 15, device fuzzing).
 * threads=on, on the pc machine (ACPI hot-unplug). Each iteration keeps
 * the six cores busy with ring entries of small convolutions and of
 * long ones (59 M MACs: tens of milliseconds, polled for aborts inside),
 * in time-accurate mode or not, and races from the main loop, at delays
 * drawn from a seeded PRNG: doorbells, resets of sets of cores, device
 * resets, bus mastering off and on, mode and time-scale changes. After
 * every reset the reset cores are idle with their rings cleared at once
 * (the reset is synchronous), and after every step the device answers.
 * Then every core is reset under its jobs and runs a fresh convolution
 * whose output must equal ref_conv()'s over the tensors in memory.
 * Finally, with jobs in flight again, the device is hot-unplugged through
 * ACPI (unrealize joins the core threads mid-job): it leaves config
 * space, QEMU keeps running, and no job writes memory afterwards - or,
 * every other iteration, QEMU is quit with the jobs still running. Run
 * it under TSan and ASan+UBSan (make check-deep) to see the races.
 *
 * APU_QTEST_RACE_ITERS sets the iterations (4), APU_QTEST_RACE_SEED the
 * seed (else random; printed, to replay a failure).
 */
/*
 * Runs on PCs of its own (apu_start()), not on the graph's machine: each
 * iteration that hot-unplugs the device needs a fresh one.
 */
static void test_threads_race_resets_unplug(ApuTest *unused)
{
    const char *e = g_getenv("APU_QTEST_RACE_ITERS");
    int iters = e ? atoi(e) : 4, it, c;
    uint32_t seed;
    Race *x = g_new0(Race, 1);
    uint64_t macs;

    e = g_getenv("APU_QTEST_RACE_SEED");
    seed = e ? g_ascii_strtoull(e, NULL, 0) : g_random_int();
    g_test_message("seed %u (APU_QTEST_RACE_SEED=%u replays it), "
                   "%d iterations", seed, seed, iters);
    x->r = g_rand_new_with_seed(seed);
    for (it = 0; it < iters; it++) {
        bool unplug = it % 2 == 0, device_reset;
        uint8_t before[6][RACE_RING * 64], after[RACE_RING * 64];
        struct apu_completion d;
        int busy = 0;
        gint64 end;

        memset(x->tail, 0, sizeof(x->tail));
        x->doorbells = x->core_resets = x->dev_resets = 0;
        x->master_flips = x->mode_flips = x->busy_resets = 0;
        apu_start(&x->at);
        mem_start(&x->m, &x->at, RACE_RING);
        for (c = 0; c < 6; c++) {
            conv_job(&x->m, c, &x->j[c], it * 6 + c, true);
            x->long_size = long_conv_job(&x->m, RACE_LONG_VA(c), 32, 15,
                                         &macs);
            race_submit(x, c, RACE_RING);
        }
        race_storm(x, 60);

        /*
         * Every core reset under its jobs (one write, or a device reset),
         * then a fresh job on each: right, by the reference.
         */
        qpci_device_enable(x->m.t->dev);
        device_reset = g_rand_boolean(x->r);
        wr(x->m.t, APU_REG_RESET, device_reset ? APU_RESET_DEVICE
                                                : 0x3f * APU_RESET_CORE(0));
        for (c = 0; c < 6; c++) {
            race_check_reset(x, c);
        }
        if (device_reset) {
            regs_setup(&x->m, RACE_RING);
        } else {
            wr(x->m.t, APU_REG_CTRL, 0);
            for (c = 0; c < 6; c++) {
                core_ring_setup(&x->m, c, RACE_RING);
            }
        }
        for (c = 0; c < 6; c++) {
            qtest_memset(x->m.t->qts, va2pa(&x->m, 1, x->j[c].out), 0,
                         sizeof(x->j[c].engine_out));
            submit(&x->m, c, RACE_RING, 0, x->j[c].cmd, x->j[c].cmd_size,
                   1, 1000 + c);
        }
        for (c = 0; c < 6; c++) {
            g_assert_true(wait_head(&x->m, c, 1));
            read_done(&x->m, c, 0, &d);
            g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_OK);
            g_assert_cmpuint(ldq_le_p(&d.seqno), ==, 1000 + c);
            g_assert_cmpuint(rd(x->m.t, APU_CORE_BASE(c) +
                                APU_CORE_JOBS_DONE), ==, 1);
            check_conv_output(&x->m, &x->j[c]);
        }

        /* Jobs in flight again, and then the device goes. */
        x->tail[0] = x->tail[1] = x->tail[2] = 1;
        x->tail[3] = x->tail[4] = x->tail[5] = 1;
        wr(x->m.t, APU_REG_TIME_SCALE, g_rand_int_range(x->r, 1, 2000));
        wr(x->m.t, APU_REG_CTRL, g_rand_boolean(x->r) ?
           APU_CTRL_TIME_ACCURATE : 0);
        for (c = 0; c < 6; c++) {
            race_submit(x, c, RACE_RING);
        }
        end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
        while (!busy && g_get_monotonic_time() < end) {
            for (c = 0; c < 6; c++) {
                busy += rd(x->m.t, APU_CORE_BASE(c) + APU_CORE_STATUS) ==
                        APU_CORE_BUSY;
            }
        }
        g_assert_cmpint(busy, >, 0);
        g_usleep(g_rand_int_range(x->r, 0, 5000));
        g_test_message("iteration %d: %d doorbells, %d core resets, "
                       "%d device resets (%d busy cores reset), %d "
                       "bus-master flips, %d mode changes; %s with %d "
                       "cores busy", it, x->doorbells, x->core_resets,
                       x->dev_resets, x->busy_resets, x->master_flips,
                       x->mode_flips, unplug ? "unplug" : "quit", busy);
        if (!unplug) {
            apu_stop(x->m.t);
            continue;
        }
        qpci_unplug_acpi_device_test(x->m.t->qts, "apu0",
                                     APU_SLOT);
        g_assert_cmphex(qpci_config_readw(x->m.t->dev, PCI_VENDOR_ID), ==,
                        0xffff);
        /* The core threads are gone: nothing writes completions now. */
        for (c = 0; c < 6; c++) {
            vread(&x->m, 0, DONE_VA(c), before[c], sizeof(before[c]));
        }
        g_usleep(20000);
        for (c = 0; c < 6; c++) {
            vread(&x->m, 0, DONE_VA(c), after, sizeof(after));
            g_assert_cmpmem(after, sizeof(after), before[c],
                            sizeof(before[c]));
        }
        apu_stop(x->m.t);
    }
    g_rand_free(x->r);
    g_free(x);
}

/*
 * Whatever the guest writes, QEMU survives and the device recovers: random
 * values to every register (cores, MMU, doorbells, firmware, debug), with
 * rings and tables pointing into memory full of random bytes.
 */
static void test_random_guest(ApuTest *t)
{
    static ConvJob j;
    struct apu_completion d;
    uint8_t junk[4096];
    GRand *r = g_rand_new_with_seed(1234);
    uint64_t junk_pa;
    Mem m;
    int i, k;

    mem_start(&m, t, 8);
    junk_pa = guest_alloc(t->alloc, 64 * 4096);
    for (k = 0; k < 64; k++) {
        for (i = 0; i < sizeof(junk); i++) {
            junk[i] = g_rand_int(r);
        }
        qtest_memwrite(m.t->qts, junk_pa + k * 4096, junk, sizeof(junk));
    }
    for (i = 0; i < 3000; i++) {
        uint32_t off = g_rand_int_range(r, 0, 0x1700) & ~3u;
        uint32_t val = g_rand_int(r);

        switch (g_rand_int_range(r, 0, 4)) {
        case 0:     /* small values are the interesting ones */
            val &= 0xff;
            break;
        case 1:     /* addresses into the junk */
            val = (uint32_t)junk_pa + (val & 0x3fff8);
            break;
        }
        if (off == APU_REG_TIME_SCALE) {
            continue;   /* keeps time-accurate waits short */
        }
        wr(m.t, off, val);
        if (i % 100 == 0) {
            g_assert_cmphex(rd(m.t, APU_REG_ID), ==, APU_ID_MAGIC);
        }
    }
    g_assert_cmphex(rd(m.t, APU_REG_ID), ==, APU_ID_MAGIC);

    /* A device reset brings back a device that runs jobs. */
    wr(m.t, APU_REG_RESET, APU_RESET_DEVICE);
    mem_setup(&m, 8);
    conv_job(&m, 0, &j, 1, true);
    run_job(&m, 0, 8, 0, j.cmd, j.cmd_size, 1, 9, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_OK);
    g_rand_free(r);
}

/*
 * A core layout other than the default (device properties big-cores,
 * little-cores, tiny-cores, shared-irq): the device reports it, a job
 * runs on every core, and every core's completion interrupt arrives, on
 * its own MSI-X vector or, with @shared, on vector 0; so does a device
 * error (vector NUM_CORES, or 0).
 */
static void check_layout_jobs_irqs(ApuTest *t, int big, int little,
                                   int tiny, bool shared)
{
    static ConvJob j[APU_MAX_CORES];
    struct apu_ring_entry e = { 0 };
    struct apu_completion d;
    Mem m;
    int c, v, last;

    mem_start(&m, t, 8);
    check_layout(m.t, big, little, tiny);
    last = m.ncores - 1;
    msix_setup(&m, shared ? 1 : m.ncores + 1);
    for (c = 0; c < m.ncores; c++) {
        int8_t out[sizeof(j[c].engine_out)];

        v = shared ? 0 : c;
        conv_job(&m, c, &j[c], c + 40, true);
        qtest_memset(m.t->qts, m.msi, 0, 64);
        submit(&m, c, 8, 0, j[c].cmd, j[c].cmd_size, 1, 200 + c);
        g_assert_true(wait_head(&m, c, 1));
        g_assert_true(wait_msi(&m, v));
        g_assert_cmphex(rd(m.t, APU_REG_IRQ_STATUS), ==, APU_IRQ_CORE(c));
        wr(m.t, APU_REG_IRQ_STATUS, APU_IRQ_CORE(c));
        read_done(&m, c, 0, &d);
        g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_OK);
        g_assert_cmpuint(ldq_le_p(&d.seqno), ==, 200 + c);
        vread(&m, 1, j[c].out, out, sizeof(out));
        g_assert_cmpmem(out, sizeof(out), j[c].engine_out, sizeof(out));
    }
    /* The last core cannot write its completion record: a device error. */
    stq_le_p(&e.cmdbuf, j[last].cmd);
    stl_le_p(&e.cmdbuf_size, j[last].cmd_size);
    stw_le_p(&e.asid, 1);
    stq_le_p(&e.seqno, 1);
    stq_le_p(&e.completion, 0x7000000);
    vwrite(&m, 0, RING_VA(last) + 64, &e, sizeof(e));
    qtest_memset(m.t->qts, m.msi, 0, 64);
    wr(m.t, APU_CORE_BASE(last) + APU_CORE_RING_TAIL, 2);
    v = shared ? 0 : m.ncores;
    g_assert_true(wait_msi(&m, v));
    g_assert_cmphex(rd(m.t, APU_REG_IRQ_STATUS), ==, APU_IRQ_ERROR);
    g_assert_cmphex(rd(m.t, APU_REG_MMU_FAULT_INFO), ==,
                    APU_MMU_FAULT_INFO(last, APU_FAULT_WRITE |
                                       APU_FAULT_NOT_PRESENT));
}

static void test_layout_one_core(ApuTest *t)
{
    check_layout_jobs_irqs(t, 0, 1, 0, false);
}

static void test_layout_eight_cores(ApuTest *t)
{
    check_layout_jobs_irqs(t, 3, 3, 2, false);
}

static void test_layout_shared_irq(ApuTest *t)
{
    check_layout_jobs_irqs(t, 2, 3, 1, true);
}

static void test_layout_shared_irq_eight(ApuTest *t)
{
    check_layout_jobs_irqs(t, 8, 0, 0, true);
}

/*
 * A layout of no cores, or more than 8, is refused at realize (device_add
 * on the PC, whose root bus takes hot-plugged devices).
 */
static void test_layout_refused(ApuTest *t)
{
    static const int bad[][3] = { { 0, 0, 0 }, { 5, 4, 0 }, { 2, 3, 255 } };
    QTestState *qts = t->qts;
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        QDict *resp = qtest_qmp(qts, "{'execute': 'device_add', 'arguments':"
                                " {'driver': 'apu', 'id': 'bad',"
                                " 'big-cores': %d, 'little-cores': %d,"
                                " 'tiny-cores': %d}}",
                                bad[i][0], bad[i][1], bad[i][2]);
        QDict *err = qdict_get_qdict(resp, "error");

        g_assert_nonnull(err);
        g_assert_nonnull(strstr(qdict_get_str(err, "desc"),
                                "the device has 1 to 8 cores"));
        qobject_unref(resp);
    }
}

/*
 * Int4 weights (firmware ABI 1.4) through the device: conv_job()'s job with
 * weights in [-8, 7], packed two per byte (element 2i in the low nibble)
 * and APU_OPF_WEIGHTS_INT4: the output of ref_conv() on the unpacked
 * values, half the weight bytes read and charged; with a weight zero point
 * the op fails with BAD_PARAMS and writes nothing.
 */
static void test_int4_weights(ApuTest *t)
{
    enum { NW = 24 * 3 * 3 * 16 };
    static ConvJob j;
    int8_t w[NW], in[9 * 9 * 16], want[8 * 8 * 24], out[8 * 8 * 24];
    uint8_t w4[NW / 2] = { 0 }, cmd[16 + APU_OP_SIZE];
    struct apu_op_conv2d *op = (void *)(cmd + 16);
    int32_t mult[24], shift[24];
    struct apu_completion d;
    uint64_t macs = 8 * 8 * 24 * 9 * 16;
    Mem m;
    size_t i;

    mem_start(&m, t, 8);
    conv_job(&m, 0, &j, 3, true);
    for (i = 0; i < NW; i++) {
        w[i] = (int8_t)((i * 7 + 3) % 16) - 8;
        w4[i / 2] |= (uint8_t)((w[i] & 0xf) << (i % 2 ? 4 : 0));
    }
    vwrite(&m, 1, j.w, w4, sizeof(w4));
    vread(&m, 1, j.in, in, sizeof(in));
    vread(&m, 1, j.mult, mult, sizeof(mult));
    vread(&m, 1, j.shift, shift, sizeof(shift));
    ref_conv(&j.p, in, w, mult, shift, want);
    vread(&m, 1, j.cmd, cmd, sizeof(cmd));
    stw_le_p(&op->flags, APU_OPF_WEIGHTS_INT4);
    vwrite(&m, 1, j.cmd, cmd, sizeof(cmd));
    run_job(&m, 0, 8, 0, j.cmd, j.cmd_size, 1, 7, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_OK);
    vread(&m, 1, j.out, out, sizeof(out));
    g_assert_cmpmem(out, sizeof(out), want, sizeof(want));
    g_assert_cmpuint(ldq_le_p(&d.bytes_read), ==,
                     sizeof(cmd) + sizeof(in) + sizeof(w4) + 8 * 24);
    g_assert_cmpuint(ldq_le_p(&d.cycles), ==,
                     model_cycles(&m, 0, macs, sizeof(in) + sizeof(w4) +
                                  sizeof(out) + 12 * 24));

    /* Int4 weights are symmetric: a weight zero point is refused. */
    memset(out, 0x5a, sizeof(out));
    vwrite(&m, 1, j.out, out, sizeof(out));
    stw_le_p(&op->w_zp, 1);
    vwrite(&m, 1, j.cmd, cmd, sizeof(cmd));
    run_job(&m, 0, 8, 1, j.cmd, j.cmd_size, 1, 8, &d);
    g_assert_cmpuint(ldl_le_p(&d.status), ==, APU_STATUS_BAD_PARAMS);
    g_assert_cmpuint(ldq_le_p(&d.bytes_written), ==, 0);
    vread(&m, 1, j.out, want, sizeof(want));
    g_assert_cmpmem(out, sizeof(out), want, sizeof(want));
}

/* ---- the tests on the graph --------------------------------------------- */

typedef struct ApuCase {
    const char *name;
    void (*fn)(ApuTest *t);
    const char *device_opts;    /* more -device apu properties */
    const char *args;           /* more command line: other devices */
    bool pc_only;               /* needs the PC: hot-unplug, NVMe */
} ApuCase;

#define NVME_PMR_ARGS "-object memory-backend-ram,id=pmr0,size=1M " \
                      "-device nvme,addr=05.0,serial=apu-qtest,pmrdev=pmr0"
/* The cores run in the main loop (the mode the fuzzer uses). */
#define THREADS_OFF "threads=off"
#define ONE_CORE "big-cores=0,little-cores=1,tiny-cores=0"
#define EIGHT_CORES "big-cores=3,little-cores=3,tiny-cores=2"
#define SHARED_IRQ "shared-irq=on"
#define EIGHT_BIG_SHARED "big-cores=8,little-cores=0,tiny-cores=0,shared-irq=on"

static const ApuCase apu_cases[] = {
    { "pci-identity", test_pci_identity },
    { "id-version", test_id_version },
    { "read-only", test_read_only },
    { "scratch-and-reset", test_scratch_and_reset },
    { "bad-accesses", test_bad_accesses },
    { "fw/registers", test_fw_registers },
    { "fw/boot-good", test_fw_boot_good },
    { "fw/refusals", test_fw_refusals },
    { "fw/dma-errors", test_fw_dma_errors },
    { "reset-register", test_reset_register },
    { "capabilities", test_capabilities },
    { "jobs/every-core", test_job_every_core },
    { "jobs/ring-wraps", test_ring_wraps },
    { "jobs/all-cores-at-once", test_all_cores_at_once },
    { "jobs/time-accurate", test_time_accurate },
    { "jobs/mmu-faults", test_mmu_faults },
    { "jobs/msix", test_msix },
    { "jobs/fault-injection", test_fault_injection },
    { "jobs/reset-while-busy", test_reset_while_busy },
    { "jobs/reset-long-op", test_reset_long_op },
    { "jobs/dma-bar-race", test_dma_bar_race, NULL, NVME_PMR_ARGS, true },
    { "jobs/threads-race-resets-unplug", test_threads_race_resets_unplug,
      NULL, NULL, true },
    { "jobs/power-gating", test_power_gating },
    { "jobs/quant-ops", test_quant_ops },
    { "jobs/int4-weights", test_int4_weights },
    { "random-guest", test_random_guest },
    /* threads=off: jobs, wrap-around, fault injection, resets the same */
    { "threads-off/every-core", test_job_every_core, THREADS_OFF },
    { "threads-off/ring-wraps", test_ring_wraps, THREADS_OFF },
    { "threads-off/fault-injection", test_fault_injection, THREADS_OFF },
    { "threads-off/reset-while-busy", test_reset_while_busy, THREADS_OFF },
    { "threads-off/random-guest", test_random_guest, THREADS_OFF },
    /* other core layouts */
    { "layout/one-core/irqs", test_layout_one_core, ONE_CORE },
    { "layout/one-core/every-core", test_job_every_core, ONE_CORE },
    { "layout/eight-cores/irqs", test_layout_eight_cores, EIGHT_CORES },
    { "layout/eight-cores/every-core", test_job_every_core, EIGHT_CORES },
    { "layout/eight-cores/all-cores-at-once", test_all_cores_at_once,
      EIGHT_CORES },
    { "layout/shared-irq/six-cores", test_layout_shared_irq, SHARED_IRQ },
    { "layout/shared-irq/eight-big", test_layout_shared_irq_eight,
      EIGHT_BIG_SHARED },
    { "layout/refused", test_layout_refused, NULL, NULL, true },
};

static void apu_run(void *obj, void *data, QGuestAllocator *alloc)
{
    const ApuCase *c = data;
    ApuTest t;

    apu_from_graph(&t, obj, alloc);
    c->fn(&t);
}

/*
 * Every test consumes "apu", on each machine that has it. 512 MiB of RAM:
 * what aarch64/virt's allocator hands out (the machine's default is less).
 */
static void apu_register_tests(void)
{
    const char *arch = qtest_get_arch();
    bool pc = !strcmp(arch, "x86_64") || !strcmp(arch, "i386");
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(apu_cases); i++) {
        const ApuCase *c = &apu_cases[i];
        g_autofree char *args = g_strdup_printf("-m 512M -nic none -vga none"
                                                " %s", c->args ?: "");
        QOSGraphTestOptions opts = {
            .arg = (void *)c,
            /* after_cmd_line: apu's -device ends with extra_device_opts */
            .edge.extra_device_opts = c->device_opts,
            .edge.after_cmd_line = args,
        };

        if (c->pc_only && !pc) {
            continue;
        }
        qos_add_test(c->name, "apu", apu_run, &opts);
    }
}

libqos_init(apu_register_tests);
