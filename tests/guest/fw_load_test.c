// SPDX-License-Identifier: MIT
/*
 * Guest tests of the driver's firmware loading: with a missing or bad
 * apu/apu-fw.bin the probe fails cleanly with a message naming the reason,
 * no node appears, the module still unloads, and with the good image back
 * the device works again.
 *
 * Each test unloads apu.ko, installs a variant of the image, loads the
 * module, checks, and restores the good image and the module. Needs root,
 * insmod/rmmod/dmesg (busybox) and a writable /lib/firmware.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hw/apu_hw.h"
#include "hw/apu_fw.h"
#include "apu_guest.h"

#define FW_PATH "/lib/firmware/" APU_FW_NAME
#define NODE "/dev/accel/accel0"
#define MODULE "/lib/modules/apu.ko"

static unsigned char good[APU_FW_MAX_SIZE];
static size_t good_size;

static int write_file(const char *path, const void *buf, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -errno;
	ok = fwrite(buf, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

/* Does the kernel log since the last clear contain @text? */
static int dmesg_has(const char *text)
{
	char line[512];
	FILE *p = popen("dmesg", "r");
	int found = 0;

	if (!p)
		return 0;
	while (fgets(line, sizeof(line), p))
		if (strstr(line, text))
			found = 1;
	pclose(p);
	return found;
}

static void reseal(unsigned char *img)
{
	struct apu_fw_header h;

	memcpy(&h, img, sizeof(h));
	apu_fw_header_seal(&h);
	memcpy(img, &h, sizeof(h));
}

/* Open a file of accel0's debugfs directory (named after its bus id). */
static int open_debugfs(const char *name, int flags)
{
	char link[256], path[384], *base;
	ssize_t n = readlink("/sys/class/accel/accel0/device", link, sizeof(link) - 1);

	if (n < 0)
		return -1;
	link[n] = '\0';
	base = strrchr(link, '/');
	snprintf(path, sizeof(path), "/sys/kernel/debug/accel/%s/%s",
		 base ? base + 1 : link, name);
	return open(path, flags);
}

FIXTURE(fw)
{
	unsigned char *img;
	size_t size;
};

FIXTURE_SETUP(fw)
{
	FILE *f;

	if (!good_size) {
		f = fopen(FW_PATH, "rb");
		ASSERT_NE(NULL, f) TH_LOG("no %s", FW_PATH);
		good_size = fread(good, 1, sizeof(good), f);
		fclose(f);
		ASSERT_LT((size_t)APU_FW_HEADER_SIZE, good_size);
	}
	self->img = malloc(good_size);
	ASSERT_NE(NULL, self->img);
	memcpy(self->img, good, good_size);
	self->size = good_size;
	ASSERT_EQ(0, apu_sh("rmmod apu")) TH_LOG("apu.ko busy or not loaded");
	ASSERT_EQ(0, access(NODE, F_OK) == 0);
	apu_sh("dmesg -c >/dev/null");
}

FIXTURE_TEARDOWN(fw)
{
	int fd;

	free(self->img);
	apu_sh("rmmod apu 2>/dev/null");
	EXPECT_EQ(0, write_file(FW_PATH, good, good_size));
	apu_sh("dmesg -c >/dev/null");
	EXPECT_EQ(0, apu_sh("insmod " MODULE));
	EXPECT_TRUE(apu_node_appears(50));
	fd = open(NODE, O_RDWR);
	EXPECT_LE(0, fd);
	close(fd);
	EXPECT_TRUE(dmesg_has("firmware 0.1.0 running"));
}

/* Install @size bytes of self->img, load the module, expect no device. */
static void load_expect_refusal(struct __test_metadata *_metadata,
				FIXTURE_DATA(fw) *self, const char *message)
{
	ASSERT_EQ(0, write_file(FW_PATH, self->img, self->size));
	/* The module loads; only the probe fails. */
	ASSERT_EQ(0, apu_sh("insmod " MODULE));
	EXPECT_FALSE(apu_node_appears(5));
	EXPECT_TRUE(dmesg_has(message)) TH_LOG("no \"%s\" in the kernel log", message);
	EXPECT_EQ(0, apu_sh("rmmod apu"));
}

TEST_F(fw, good_image_boots)
{
	char msg[64];

	ASSERT_EQ(0, write_file(FW_PATH, self->img, self->size));
	ASSERT_EQ(0, apu_sh("insmod " MODULE));
	EXPECT_TRUE(apu_node_appears(50));
	snprintf(msg, sizeof(msg), "firmware 0.1.0 running (ABI %d.%d)", APU_FW_ABI_MAJOR,
		 APU_FW_ABI_MINOR);
	EXPECT_TRUE(dmesg_has(msg)) TH_LOG("no \"%s\" in the kernel log", msg);
}

TEST_F(fw, missing_image)
{
	ASSERT_EQ(0, unlink(FW_PATH));
	ASSERT_EQ(0, apu_sh("insmod " MODULE));
	EXPECT_FALSE(apu_node_appears(5));
	EXPECT_TRUE(dmesg_has("cannot load firmware apu/apu-fw.bin: -2"));
	EXPECT_EQ(0, apu_sh("rmmod apu"));
}

TEST_F(fw, not_an_image)
{
	memcpy(self->img, "\x7f" "ELF", 4);
	load_expect_refusal(_metadata, self, "is not an APU firmware image");
}

TEST_F(fw, empty_file)
{
	self->size = 0;
	/* The firmware loader itself refuses an empty file. */
	load_expect_refusal(_metadata, self, "cannot load firmware apu/apu-fw.bin: -22");
}

TEST_F(fw, truncated)
{
	self->size -= 1;
	load_expect_refusal(_metadata, self, "truncated or too large");
}

TEST_F(fw, bad_payload_crc)
{
	self->img[self->size - 1] ^= 0x01;
	load_expect_refusal(_metadata, self,
			    "the device refused firmware apu/apu-fw.bin: payload CRC mismatch (4)");
}

TEST_F(fw, bad_header_crc)
{
	self->img[offsetof(struct apu_fw_header, build_id)] ^= 0x01;
	load_expect_refusal(_metadata, self,
			    "the device refused firmware apu/apu-fw.bin: bad header");
}

TEST_F(fw, unsupported_abi)
{
	char msg[64];

	self->img[offsetof(struct apu_fw_header, abi_major)] = APU_FW_ABI_MAJOR + 1;
	reseal(self->img);
	snprintf(msg, sizeof(msg), "has firmware ABI %d.%d", APU_FW_ABI_MAJOR + 1, APU_FW_ABI_MINOR);
	load_expect_refusal(_metadata, self, msg);
}

TEST_F(fw, newer_abi_minor)
{
	char msg[64];

	self->img[offsetof(struct apu_fw_header, abi_minor)] = APU_FW_ABI_MINOR + 1;
	reseal(self->img);
	snprintf(msg, sizeof(msg), "has firmware ABI %d.%d", APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR + 1);
	load_expect_refusal(_metadata, self, msg);
}

/*
 * The device's injected refusal: armed through debugfs, it survives the
 * driver's reset, so the next probe fails with its reason; the boot after
 * that works.
 */
TEST_F(fw, injected_refusal)
{
	int fd;

	ASSERT_EQ(0, write_file(FW_PATH, self->img, self->size));
	ASSERT_EQ(0, apu_sh("insmod " MODULE));
	ASSERT_TRUE(apu_node_appears(50));
	fd = open_debugfs("fault_inject", O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(9, write(fd, "refuse_fw", 9));
	close(fd);
	ASSERT_EQ(0, apu_sh("rmmod apu"));
	apu_sh("dmesg -c >/dev/null");
	ASSERT_EQ(0, apu_sh("insmod " MODULE));
	EXPECT_FALSE(apu_node_appears(5));
	EXPECT_TRUE(dmesg_has("refused by fault injection (9)"));
	EXPECT_EQ(0, apu_sh("rmmod apu"));
}

/* Load and unload with the good image, many times. */
TEST_F(fw, load_unload_cycles)
{
	int i;

	ASSERT_EQ(0, write_file(FW_PATH, self->img, self->size));
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(0, apu_sh("insmod " MODULE));
		ASSERT_TRUE(apu_node_appears(50));
		ASSERT_EQ(0, apu_sh("rmmod apu"));
	}
}

TEST_HARNESS_MAIN
