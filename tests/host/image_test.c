// SPDX-License-Identifier: MIT
/*
 * Host tests of libapu's image resizing (hal/src/image.c) and the tools'
 * picture loader (hal/tools/image_load.h, stb_image).
 *
 * Expected values come from outside image.c: worked out by hand for tiny
 * images, and from tests/host/oracle/image_oracle.py (Pillow's NEAREST
 * itself; TFLite's uint8 bilinear formula written again in numpy float32;
 * Pillow's decoding of the pictures), run by the tests into a temporary
 * folder, on the photos of tests/data/models and on seeded random images.
 * Run from the repository root (as make check does). The Python is
 * $APU_PYTHON, or /usr/bin/python3 (Debian's, with python3-pil and
 * python3-numpy); a missing oracle fails the tests, it never skips them.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include <apu/apu_image.h>
#include "../../hal/tools/image_load.h"

#define ORACLE "tests/host/oracle/image_oracle.py"

static const char *python(void)
{
	const char *p = getenv("APU_PYTHON");

	if (p && *p)
		return p;
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

static void remove_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* Run the oracle's @mode into a new temporary folder @dir (64 bytes). */
static int run_oracle(const char *mode, char *dir)
{
	char cmd[512];
	int st;

	strcpy(dir, "/tmp/apu-image-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "%s %s %s %s", python(), ORACLE, mode, dir);
	st = system(cmd);
	st = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (st)
		remove_dir(dir);
	return st;
}

/* The whole of @path, which must hold exactly @size bytes; NULL otherwise. */
static uint8_t *slurp(const char *path, size_t size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t got;

	if (!f)
		return NULL;
	buf = malloc(size + 1);
	got = buf ? fread(buf, 1, size + 1, f) : 0;
	fclose(f);
	if (got != size) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Index of the first byte where @a and @b differ, or -1. */
static long first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

/* ---- arguments ------------------------------------------------------------ */

TEST(bad_arguments_are_refused)
{
	uint8_t src[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	uint8_t dst[12], before[12];
	int m;

	memset(dst, 0xa5, sizeof(dst));
	memcpy(before, dst, sizeof(dst));
	for (m = 0; m < 2; m++) {
		enum apu_resize mode = m ? APU_RESIZE_BILINEAR : APU_RESIZE_NEAREST;

		EXPECT_EQ(-EINVAL, apu_image_resize(NULL, 2, 2, 3, dst, 2, 2, mode));
		EXPECT_EQ(-EINVAL, apu_image_resize(src, 2, 2, 3, NULL, 2, 2, mode));
		EXPECT_EQ(-EINVAL, apu_image_resize(src, 0, 2, 3, dst, 2, 2, mode));
		EXPECT_EQ(-EINVAL, apu_image_resize(src, 2, 0, 3, dst, 2, 2, mode));
		EXPECT_EQ(-EINVAL, apu_image_resize(src, 2, 2, 0, dst, 2, 2, mode));
		EXPECT_EQ(-EINVAL, apu_image_resize(src, 2, 2, 3, dst, 0, 2, mode));
		EXPECT_EQ(-EINVAL, apu_image_resize(src, 2, 2, 3, dst, 2, 0, mode));
		/* Byte counts that overflow size_t, source or destination. */
		EXPECT_EQ(-EINVAL, apu_image_resize(src, INT32_MAX, INT32_MAX, UINT_MAX,
						    dst, 2, 2, mode));
		EXPECT_EQ(-EINVAL, apu_image_resize(src, 2, 2, UINT_MAX, dst, INT32_MAX,
						    INT32_MAX, mode));
		/* Sides over INT32_MAX. */
		EXPECT_EQ(-EINVAL, apu_image_resize(src, 2, 2, 3, dst, 1u << 31, 1, mode));
		EXPECT_EQ(-EINVAL, apu_image_resize(src, UINT_MAX, 1, 1, dst, 2, 2, mode));
	}
	EXPECT_EQ(-EINVAL, apu_image_resize(src, 2, 2, 3, dst, 2, 2, (enum apu_resize)2));
	EXPECT_EQ(-EINVAL, apu_image_resize(src, 2, 2, 3, dst, 2, 2, (enum apu_resize)-1));
	/* Nothing written on a refusal. */
	EXPECT_EQ(0, memcmp(before, dst, sizeof(dst)));
	/* And the same call with good arguments works. */
	EXPECT_EQ(0, apu_image_resize(src, 2, 2, 3, dst, 2, 2, APU_RESIZE_BILINEAR));
	EXPECT_EQ(0, memcmp(src, dst, sizeof(dst)));
}

/* ---- tiny images, expected values worked out by hand ---------------------- */

/*
 * Source [[0, 100], [200, 50]] (one channel).
 * NEAREST to 3x3: step 2/3, sample points 1/3, 1, 5/3 -> columns 0, 1, 1
 * (Pillow's sum 1/3 + 2/3 is exactly 1.0 in double).
 * BILINEAR to 3x3: step 2/3, coordinates -1/6, 1/2, 7/6: the outer rows and
 * columns are the source's edge pixels, the middle ones the means of their
 * neighbours rounded half up: (0 + 100) / 2 = 50, (200 + 50) / 2 = 125,
 * (0 + 200) / 2 = 100, (100 + 50) / 2 = 75, (0 + 100 + 200 + 50) / 4 = 87.5
 * -> 88.
 */
TEST(tiny_2x2_to_3x3_by_hand)
{
	const uint8_t src[4] = { 0, 100, 200, 50 };
	const uint8_t nearest[9] = { 0, 100, 100, 200, 50, 50, 200, 50, 50 };
	const uint8_t bilinear[9] = { 0, 50, 100, 100, 88, 75, 200, 125, 50 };
	uint8_t out[9];

	ASSERT_EQ(0, apu_image_resize(src, 2, 2, 1, out, 3, 3, APU_RESIZE_NEAREST));
	EXPECT_EQ(0, memcmp(nearest, out, 9));
	ASSERT_EQ(0, apu_image_resize(src, 2, 2, 1, out, 3, 3, APU_RESIZE_BILINEAR));
	EXPECT_EQ(0, memcmp(bilinear, out, 9)) {
		int i;

		for (i = 0; i < 9; i++)
			TH_LOG("bilinear[%d] = %u, expected %u", i, out[i], bilinear[i]);
	}
}

/*
 * 3x3 to 2x2. NEAREST: step 1.5, points 0.75, 2.25 -> rows/columns 0 and 2.
 * BILINEAR: step 1.5, coordinates 0.25 and 1.75 (exact in float), weights
 * 3/4 and 1/4 between rows (columns) 0 and 1, then 1/4 and 3/4 between 1 and
 * 2. The source is linear, 30 * row + 10 * column, so each output is that
 * function at its coordinates: 30 * 0.25 + 10 * 0.25 = 10,
 * 7.5 + 17.5 = 25, 52.5 + 2.5 = 55, 52.5 + 17.5 = 70 (exact: no rounding).
 */
TEST(tiny_3x3_to_2x2_by_hand)
{
	const uint8_t src[9] = { 0, 10, 20, 30, 40, 50, 60, 70, 80 };
	const uint8_t nearest[4] = { 0, 20, 60, 80 };
	const uint8_t bilinear[4] = { 10, 25, 55, 70 };
	uint8_t out[4];

	ASSERT_EQ(0, apu_image_resize(src, 3, 3, 1, out, 2, 2, APU_RESIZE_NEAREST));
	EXPECT_EQ(0, memcmp(nearest, out, 4));
	ASSERT_EQ(0, apu_image_resize(src, 3, 3, 1, out, 2, 2, APU_RESIZE_BILINEAR));
	EXPECT_EQ(0, memcmp(bilinear, out, 4)) {
		TH_LOG("bilinear %u %u %u %u, expected %u %u %u %u", out[0], out[1],
		       out[2], out[3], bilinear[0], bilinear[1], bilinear[2], bilinear[3]);
	}
}

/*
 * 4x4 RGB to 2x2: BILINEAR at coordinates 0.5 and 2.5 is the mean of each 2x2
 * block, rounded half up; NEAREST (points 1 and 3) its bottom right pixel.
 */
TEST(tiny_4x4_rgb_halved_by_hand)
{
	uint8_t src[4 * 4 * 3], out[2 * 2 * 3];
	unsigned int y, x, c;

	for (y = 0; y < 4; y++)
		for (x = 0; x < 4; x++)
			for (c = 0; c < 3; c++)
				src[(y * 4 + x) * 3 + c] = (uint8_t)(y * 60 + x * 5 + c * 2 + (x & y & 1));
	ASSERT_EQ(0, apu_image_resize(src, 4, 4, 3, out, 2, 2, APU_RESIZE_BILINEAR));
	for (y = 0; y < 2; y++)
		for (x = 0; x < 2; x++)
			for (c = 0; c < 3; c++) {
				unsigned int sum = 0, i, j;

				for (i = 0; i < 2; i++)
					for (j = 0; j < 2; j++)
						sum += src[((2 * y + i) * 4 + 2 * x + j) * 3 + c];
				EXPECT_EQ((sum + 2) / 4, out[(y * 2 + x) * 3 + c])
					TH_LOG("pixel %u,%u channel %u", y, x, c);
			}
	ASSERT_EQ(0, apu_image_resize(src, 4, 4, 3, out, 2, 2, APU_RESIZE_NEAREST));
	for (y = 0; y < 2; y++)
		for (x = 0; x < 2; x++)
			EXPECT_EQ(0, memcmp(&src[((2 * y + 1) * 4 + 2 * x + 1) * 3],
					    &out[(y * 2 + x) * 3], 3));
}

/* One pixel spreads everywhere; equal sizes copy, in both modes. */
TEST(one_pixel_and_identity)
{
	const uint8_t px[4] = { 7, 0, 255, 128 };
	uint8_t out[3 * 5 * 4], src[5 * 3 * 2];
	unsigned int i;
	int m;

	for (m = 0; m < 2; m++) {
		enum apu_resize mode = m ? APU_RESIZE_BILINEAR : APU_RESIZE_NEAREST;

		memset(out, 0x33, sizeof(out));
		ASSERT_EQ(0, apu_image_resize(px, 1, 1, 4, out, 5, 3, mode));
		for (i = 0; i < 15; i++)
			EXPECT_EQ(0, memcmp(px, &out[i * 4], 4));
		for (i = 0; i < sizeof(src); i++)
			src[i] = (uint8_t)(i * 37 + 11);
		ASSERT_EQ(0, apu_image_resize(src, 5, 3, 2, out, 5, 3, mode));
		EXPECT_EQ(0, memcmp(src, out, sizeof(src)));
	}
}

/* ---- against the oracle --------------------------------------------------- */

/* Each case of the oracle's cases.txt resized by @mode, compared with @ext. */
static void check_cases(struct __test_metadata *_metadata, enum apu_resize mode,
			const char *ext)
{
	char dir[64], path[256], name[64];
	unsigned int sw, sh, ch, dw, dh, n = 0;
	FILE *list;

	ASSERT_EQ(0, run_oracle("resize", dir))
		TH_LOG("%s %s failed: python3-pil and python3-numpy installed? (scripts/setup.sh)",
		       python(), ORACLE);
	snprintf(path, sizeof(path), "%s/cases.txt", dir);
	list = fopen(path, "r");
	ASSERT_NE(NULL, list);
	while (fscanf(list, "%63s %u %u %u %u %u", name, &sw, &sh, &ch, &dw, &dh) == 6) {
		size_t sbytes = (size_t)sw * sh * ch, dbytes = (size_t)dw * dh * ch;
		uint8_t *src, *want, *got;
		long at;

		snprintf(path, sizeof(path), "%s/%s.src", dir, name);
		src = slurp(path, sbytes);
		snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
		want = slurp(path, dbytes);
		got = malloc(dbytes);
		EXPECT_NE(NULL, src);
		EXPECT_NE(NULL, want);
		EXPECT_NE(NULL, got);
		if (src && want && got) {
			EXPECT_EQ(0, apu_image_resize(src, sw, sh, ch, got, dw, dh, mode));
			at = first_diff(want, got, dbytes);
			EXPECT_EQ(-1, at) {
				size_t px = (size_t)at / ch;

				TH_LOG("%s %s %ux%ux%u -> %ux%u: first difference at row %zu column %zu channel %zu: %u, expected %u",
				       name, ext, sw, sh, ch, dw, dh, px / dw, px % dw,
				       (size_t)at % ch, got[at], want[at]);
			}
		}
		free(src);
		free(want);
		free(got);
		n++;
	}
	fclose(list);
	EXPECT_LE(20u, n) TH_LOG("only %u cases in %s/cases.txt", n, dir);
	remove_dir(dir);
}

/* Pillow's Image.resize(size, Image.NEAREST): photos, tiny and random images. */
TEST(nearest_equals_pillow)
{
	check_cases(_metadata, APU_RESIZE_NEAREST, "nearest");
}

/* TFLite's uint8 RESIZE_BILINEAR (half-pixel centres), as the numpy oracle. */
TEST(bilinear_equals_tflite_formula)
{
	check_cases(_metadata, APU_RESIZE_BILINEAR, "bilinear");
}

/* Several threads at once give what one gives (no shared state). */
struct job {
	const uint8_t *src;
	uint8_t *dst;
	int ret;
};

static void *resize_job(void *arg)
{
	struct job *j = arg;
	int i;

	for (i = 0; i < 20 && !j->ret; i++)
		j->ret = apu_image_resize(j->src, 97, 61, 3, j->dst, 224, 224,
					  (i & 1) ? APU_RESIZE_NEAREST : APU_RESIZE_BILINEAR);
	return NULL;
}

TEST(threads_agree)
{
	static uint8_t src[61 * 97 * 3], one[224 * 224 * 3], dst[4][224 * 224 * 3];
	struct job jobs[4];
	pthread_t t[4];
	size_t i;
	int k;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)((i * 2654435761u) >> 13);
	/* The threads end on NEAREST (i = 19). */
	ASSERT_EQ(0, apu_image_resize(src, 97, 61, 3, one, 224, 224, APU_RESIZE_NEAREST));
	for (k = 0; k < 4; k++) {
		jobs[k] = (struct job){ src, dst[k], 0 };
		ASSERT_EQ(0, pthread_create(&t[k], NULL, resize_job, &jobs[k]));
	}
	for (k = 0; k < 4; k++) {
		ASSERT_EQ(0, pthread_join(t[k], NULL));
		EXPECT_EQ(0, jobs[k].ret);
		EXPECT_EQ(0, memcmp(one, dst[k], sizeof(one)));
	}
}

/* ---- the tools' picture loader -------------------------------------------- */

/* BMP (the photos), PPM and PGM: the same pixels as Pillow decodes. */
TEST(image_load_equals_pillow)
{
	char dir[64], path[256], file[256], rgbfile[256], msg[256];
	unsigned int w, h, ew, eh, n = 0;
	FILE *list;

	ASSERT_EQ(0, run_oracle("decode", dir))
		TH_LOG("%s %s failed: python3-pil and python3-numpy installed? (scripts/setup.sh)",
		       python(), ORACLE);
	snprintf(path, sizeof(path), "%s/decode.txt", dir);
	list = fopen(path, "r");
	ASSERT_NE(NULL, list);
	while (fscanf(list, "%255s %u %u %255s", file, &ew, &eh, rgbfile) == 4) {
		uint8_t *want = slurp(rgbfile, (size_t)ew * eh * 3), *rgb = NULL;
		int ret;

		msg[0] = 0;
		ret = tool_image_load(file, &rgb, &w, &h, msg, sizeof(msg));
		EXPECT_EQ(0, ret) TH_LOG("%s", msg);
		EXPECT_NE(NULL, want);
		if (!ret && want) {
			EXPECT_EQ(ew, w);
			EXPECT_EQ(eh, h);
			if (ew == w && eh == h)
				EXPECT_EQ(-1, first_diff(want, rgb, (size_t)w * h * 3))
					TH_LOG("%s: pixels differ from Pillow's", file);
		}
		tool_image_free(rgb);
		free(want);
		n++;
	}
	fclose(list);
	EXPECT_EQ(4u, n);
	remove_dir(dir);
}

TEST(image_load_errors)
{
	char dir[] = "/tmp/apu-image-XXXXXX", path[128], msg[256];
	uint8_t *rgb = (uint8_t *)1;
	unsigned int w = 0, h = 0;
	FILE *f;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing.bmp", dir);
	EXPECT_EQ(-ENOENT, tool_image_load(path, &rgb, &w, &h, msg, sizeof(msg)));
	EXPECT_EQ(NULL, rgb);
	EXPECT_NE(NULL, strstr(msg, "missing.bmp")) TH_LOG("message: %s", msg);
	EXPECT_EQ(-EISDIR, tool_image_load(dir, &rgb, &w, &h, msg, sizeof(msg)));
	/* Not a picture, and a PPM cut short. */
	snprintf(path, sizeof(path), "%s/junk.bmp", dir);
	f = fopen(path, "wb");
	ASSERT_NE(NULL, f);
	fputs("this is not a picture, whatever its name says\n", f);
	fclose(f);
	msg[0] = 0;
	EXPECT_EQ(-EINVAL, tool_image_load(path, &rgb, &w, &h, msg, sizeof(msg)));
	EXPECT_EQ(NULL, rgb);
	EXPECT_NE(NULL, strstr(msg, "junk.bmp")) TH_LOG("message: %s", msg);
	unlink(path);
	snprintf(path, sizeof(path), "%s/short.ppm", dir);
	f = fopen(path, "wb");
	ASSERT_NE(NULL, f);
	fputs("P6\n4 4\n255\nabcdef", f);
	fclose(f);
	EXPECT_EQ(-EINVAL, tool_image_load(path, &rgb, &w, &h, msg, sizeof(msg)));
	unlink(path);
	/* Bad arguments; a NULL message buffer is fine. */
	EXPECT_EQ(-EINVAL, tool_image_load(NULL, &rgb, &w, &h, msg, sizeof(msg)));
	EXPECT_EQ(-EINVAL, tool_image_load(path, NULL, &w, &h, NULL, 0));
	EXPECT_EQ(-EINVAL, tool_image_load(path, &rgb, NULL, &h, NULL, 0));
	EXPECT_EQ(-EINVAL, tool_image_load(path, &rgb, &w, NULL, NULL, 0));
	EXPECT_EQ(-ENOENT, tool_image_load(path, &rgb, &w, &h, NULL, 0));
	rmdir(dir);
}

TEST_HARNESS_MAIN
