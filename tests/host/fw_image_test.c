// SPDX-License-Identifier: MIT
/*
 * Host tests of the firmware image: the CRC, the device-side checks
 * (firmware-stub/apu_fw_image.c, the same code QEMU runs at boot) and the
 * image builder mkfw. The builder is $APU_MKFW, or build/firmware-tools/mkfw.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hw/apu_hw.h"
#include "hw/apu_fw.h"
#include "hw/apu_le.h"
#include "version.h"

#define DEV_ABI APU_FW_ABI(APU_FW_ABI_MAJOR, APU_FW_ABI_MINOR)

static const char *mkfw(void)
{
	const char *p = getenv("APU_MKFW");

	return p ? p : "build/firmware-tools/mkfw";
}

/* Run mkfw with @args into @out; returns its exit status. */
static int run_mkfw(const char *args, const char *out)
{
	char cmd[1024];
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s %s 2>/dev/null", mkfw(), args, out);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static unsigned char *slurp(const char *path, size_t *size)
{
	static unsigned char buf[APU_FW_MAX_SIZE + 16];
	FILE *f = fopen(path, "rb");

	if (!f)
		return NULL;
	*size = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return buf;
}

/* The check, as an int for the harness's comparisons. */
static int chk(const void *img, size_t size, uint32_t abi, uint32_t *version)
{
	return (int)apu_fw_image_check(img, size, abi, version);
}

static void put32(unsigned char *p, uint32_t v)
{
	apu_st32(p, v);
}

static void reseal(unsigned char *img)
{
	struct apu_fw_header h;

	memcpy(&h, img, sizeof(h));
	apu_fw_header_seal(&h);
	memcpy(img, &h, sizeof(h));
}

TEST(crc32_known_vectors)
{
	EXPECT_EQ(0u, apu_fw_crc32(0, "", 0));
	EXPECT_EQ(0xcbf43926u, apu_fw_crc32(0, "123456789", 9));
	EXPECT_EQ(0x414fa339u,
		  apu_fw_crc32(0, "The quick brown fox jumps over the lazy dog", 43));
	/* Incremental use gives the same result as one call. */
	EXPECT_EQ(0xcbf43926u, apu_fw_crc32(apu_fw_crc32(0, "1234", 4), "56789", 5));
}

TEST(header_layout)
{
	EXPECT_EQ(64u, sizeof(struct apu_fw_header));
	EXPECT_EQ(0u, offsetof(struct apu_fw_header, magic));
	EXPECT_EQ(8u, offsetof(struct apu_fw_header, abi_major));
	EXPECT_EQ(12u, offsetof(struct apu_fw_header, fw_version));
	EXPECT_EQ(24u, offsetof(struct apu_fw_header, header_crc32));
	EXPECT_EQ(32u, offsetof(struct apu_fw_header, build_id));
}

FIXTURE(image)
{
	char dir[64];
	char path[128];
	unsigned char *img;
	size_t size;
};

FIXTURE_SETUP(image)
{
	strcpy(self->dir, "/tmp/apu-fw-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/apu-fw.bin", self->dir);
	ASSERT_EQ(0, run_mkfw("", self->path)) TH_LOG("cannot run %s", mkfw());
	self->img = slurp(self->path, &self->size);
	ASSERT_NE(NULL, self->img);
}

FIXTURE_TEARDOWN(image)
{
	unlink(self->path);
	rmdir(self->dir);
}

TEST_F(image, default_image_is_accepted)
{
	uint32_t version = 0;

	EXPECT_EQ(APU_FW_ERR_NONE,
		  chk(self->img, self->size, DEV_ABI, &version));
	EXPECT_EQ((uint32_t)APU_VERSION(APU_FW_STUB_VERSION_MAJOR,
					APU_FW_STUB_VERSION_MINOR,
					APU_FW_STUB_VERSION_PATCH), version);
	EXPECT_EQ(0, memcmp(self->img, "APUF", 4));
}

TEST_F(image, trailing_bytes_are_ignored)
{
	self->img[self->size] = 0x55;
	EXPECT_EQ(APU_FW_ERR_NONE,
		  chk(self->img, self->size + 1, DEV_ABI, NULL));
}

TEST_F(image, every_refusal_reason)
{
	const size_t crc_off = offsetof(struct apu_fw_header, header_crc32);
	unsigned char *img = self->img;
	size_t n = self->size;

	EXPECT_EQ(APU_FW_ERR_BAD_MAGIC, chk(img, 0, DEV_ABI, NULL));
	EXPECT_EQ(APU_FW_ERR_BAD_MAGIC, chk(img, 3, DEV_ABI, NULL));
	EXPECT_EQ(APU_FW_ERR_TRUNCATED, chk(img, 63, DEV_ABI, NULL));
	EXPECT_EQ(APU_FW_ERR_TRUNCATED, chk(img, n - 1, DEV_ABI, NULL));
	EXPECT_EQ(APU_FW_ERR_TOO_LARGE,
		  chk(img, APU_FW_MAX_SIZE + 1, DEV_ABI, NULL));
	/* An image for another device ABI. */
	EXPECT_EQ(APU_FW_ERR_ABI,
		  chk(img, n, APU_FW_ABI(APU_FW_ABI_MAJOR + 1, 0), NULL));

	img[0] ^= 1;
	EXPECT_EQ(APU_FW_ERR_BAD_MAGIC, chk(img, n, DEV_ABI, NULL));
	img[0] ^= 1;

	img[crc_off] ^= 1;
	EXPECT_EQ(APU_FW_ERR_BAD_HEADER, chk(img, n, DEV_ABI, NULL));
	img[crc_off] ^= 1;

	put32(img + offsetof(struct apu_fw_header, flags), 2);
	reseal(img);
	EXPECT_EQ(APU_FW_ERR_BAD_HEADER, chk(img, n, DEV_ABI, NULL));
	put32(img + offsetof(struct apu_fw_header, flags), 0);
	reseal(img);

	img[n - 1] ^= 0x80;
	EXPECT_EQ(APU_FW_ERR_BAD_CRC, chk(img, n, DEV_ABI, NULL));
	img[n - 1] ^= 0x80;

	/* A payload size past the end, even with a consistent header. */
	put32(img + offsetof(struct apu_fw_header, payload_size), 0xffffffc0);
	reseal(img);
	EXPECT_EQ(APU_FW_ERR_TRUNCATED, chk(img, n, DEV_ABI, NULL));
}

TEST_F(image, abi_rules)
{
	size_t n;

	/* Newer minor than the device: refused. Older minor: accepted. */
	ASSERT_EQ(0, run_mkfw("--abi 1.1", self->path));
	self->img = slurp(self->path, &n);
	EXPECT_EQ(APU_FW_ERR_ABI, chk(self->img, n,
						     APU_FW_ABI(1, 0), NULL));
	EXPECT_EQ(APU_FW_ERR_NONE, chk(self->img, n,
						      APU_FW_ABI(1, 3), NULL));
	ASSERT_EQ(0, run_mkfw("--abi 2.0", self->path));
	self->img = slurp(self->path, &n);
	EXPECT_EQ(APU_FW_ERR_ABI, chk(self->img, n,
						     APU_FW_ABI(1, 0), NULL));
	/* This device (ABI 1.6) still boots 1.0 to 1.5 images; not 1.7. */
	EXPECT_EQ(APU_FW_ABI(1, 6), DEV_ABI);
	ASSERT_EQ(0, run_mkfw("--abi 1.0", self->path));
	self->img = slurp(self->path, &n);
	EXPECT_EQ(APU_FW_ERR_NONE, chk(self->img, n, DEV_ABI, NULL));
	ASSERT_EQ(0, run_mkfw("--abi 1.1", self->path));
	self->img = slurp(self->path, &n);
	EXPECT_EQ(APU_FW_ERR_NONE, chk(self->img, n, DEV_ABI, NULL));
	ASSERT_EQ(0, run_mkfw("--abi 1.2", self->path));
	self->img = slurp(self->path, &n);
	EXPECT_EQ(APU_FW_ERR_NONE, chk(self->img, n, DEV_ABI, NULL));
	ASSERT_EQ(0, run_mkfw("--abi 1.3", self->path));
	self->img = slurp(self->path, &n);
	EXPECT_EQ(APU_FW_ERR_NONE, chk(self->img, n, DEV_ABI, NULL));
	ASSERT_EQ(0, run_mkfw("--abi 1.5", self->path));
	self->img = slurp(self->path, &n);
	EXPECT_EQ(APU_FW_ERR_NONE, chk(self->img, n, DEV_ABI, NULL));
	ASSERT_EQ(0, run_mkfw("--abi 1.7", self->path));
	self->img = slurp(self->path, &n);
	EXPECT_EQ(APU_FW_ERR_ABI, chk(self->img, n, DEV_ABI, NULL));
	/* mkfw's default is the tree's ABI. */
	ASSERT_EQ(0, run_mkfw("", self->path));
	self->img = slurp(self->path, &n);
	EXPECT_EQ(6, self->img[offsetof(struct apu_fw_header, abi_minor)]);
	EXPECT_EQ(1, self->img[offsetof(struct apu_fw_header, abi_major)]);
}

TEST_F(image, mkfw_options)
{
	char payload[128], args[256];
	uint32_t version;
	FILE *f;
	size_t n;

	snprintf(payload, sizeof(payload), "%s/payload", self->dir);
	f = fopen(payload, "wb");
	ASSERT_NE(NULL, f);
	fputs("0123456789abcdef", f);
	fclose(f);
	snprintf(args, sizeof(args), "--payload %s --version 3.4.5 --build-id t1", payload);
	ASSERT_EQ(0, run_mkfw(args, self->path));
	self->img = slurp(self->path, &n);
	EXPECT_EQ(64u + 16u, n);
	EXPECT_EQ(APU_FW_ERR_NONE, chk(self->img, n, DEV_ABI, &version));
	EXPECT_EQ((uint32_t)APU_VERSION(3, 4, 5), version);
	EXPECT_STREQ("t1", (char *)self->img + offsetof(struct apu_fw_header, build_id));
	unlink(payload);

	/* Bad arguments: usage error, no image written. */
	EXPECT_EQ(2, run_mkfw("--version 1.2", "/tmp/apu-fw-never"));
	EXPECT_EQ(2, run_mkfw("--version 256.0.0", "/tmp/apu-fw-never"));
	EXPECT_EQ(2, run_mkfw("--abi x", "/tmp/apu-fw-never"));
	EXPECT_EQ(2, run_mkfw("--build-id 0123456789012345678901234567890123", "/tmp/apu-fw-never"));
	EXPECT_EQ(1, run_mkfw("--payload /nonexistent", "/tmp/apu-fw-never"));
	EXPECT_NE(0, access("/tmp/apu-fw-never", F_OK));
}

TEST_HARNESS_MAIN
