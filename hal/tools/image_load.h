/* SPDX-License-Identifier: MIT */
/*
 * Picture files for the tools: decode BMP, PNM (PPM/PGM), PNG, JPEG, TGA, GIF
 * (first frame), PSD, HDR and PIC into packed 8-bit RGB with stb_image
 * (Debian's libstb-dev: the declarations come from <stb/stb_image.h>, the
 * code from libstb, so a tool that includes this header links
 * `pkg-config --libs stb`; the Makefile does that for apu-run).
 *
 * A header of static inline functions rather than a .c file: every
 * hal/tools/NAME.c is built as a tool of its own.
 */
#ifndef APU_TOOLS_IMAGE_LOAD_H
#define APU_TOOLS_IMAGE_LOAD_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <stb/stb_image.h>

/*
 * Message of a failed tool_image_load() into @msg (@msg_len bytes, may be 0),
 * e.g. "cat.jpg: unknown image type".
 */
static inline void tool_image_msg(char *msg, size_t msg_len, const char *path,
				  const char *what)
{
	if (msg && msg_len)
		snprintf(msg, msg_len, "%s: %s", path, what);
}

/*
 * For a binary PNM (P5, P6), whether @f holds all its pixels: stb_image 2.27
 * does not notice a PNM cut short and leaves the missing pixels undefined.
 * True for anything else (stb_image judges it). Leaves @f rewound.
 */
static inline int tool_pnm_complete(FILE *f)
{
	unsigned long long v[3], need;
	long header, size;
	int c, i, ch;

	if (fgetc(f) != 'P' || ((c = fgetc(f)) != '5' && c != '6')) {
		rewind(f);
		return 1;
	}
	ch = c == '6' ? 3 : 1;
	c = fgetc(f);
	for (i = 0; i < 3; i++) {
		for (;;) {		/* white space and # comments */
			while (c == ' ' || (c >= '\t' && c <= '\r'))
				c = fgetc(f);
			if (c != '#')
				break;
			while (c != EOF && c != '\n' && c != '\r')
				c = fgetc(f);
		}
		if (c < '0' || c > '9') {
			rewind(f);
			return 1;	/* malformed: stb_image refuses it */
		}
		for (v[i] = 0; c >= '0' && c <= '9' && v[i] < (1ull << 32); c = fgetc(f))
			v[i] = v[i] * 10 + (unsigned long long)(c - '0');
	}
	/* The pixels start after one white space character past the maximum. */
	header = ftell(f);
	need = v[0] * v[1] * (unsigned long long)ch * (v[2] > 255 ? 2 : 1);
	size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
	rewind(f);
	if (header < 0 || size < 0 || v[0] >= (1ull << 32) || v[1] >= (1ull << 32))
		return 1;
	return (unsigned long long)(size - header) >= need;
}

/**
 * tool_image_load() - decode a picture file into 8-bit RGB
 * @path:    the file; its contents decide the format, not its name
 * @rgb:     set to @h rows of @w pixels of 3 bytes (R, G, B), rows packed,
 *           top row first; free it with tool_image_free()
 * @w, @h:   set to the picture's size
 * @msg:     on failure, a one-line reason naming @path (may be NULL)
 * @msg_len: size of @msg
 *
 * Grey pictures are expanded (R = G = B), alpha is dropped (not blended).
 * A binary PNM shorter than its header says is refused (stb_image 2.27 would
 * leave the missing pixels undefined).
 *
 * Return: 0; -EINVAL for NULL arguments or a file that is not a picture
 * stb_image can read (unknown format, corrupt, unsupported variant);
 * -ENOMEM when memory runs out; -EFBIG for a picture over stb_image's
 * limits; the fopen() error (-ENOENT, -EACCES, -EISDIR, ...) otherwise.
 * On failure *@rgb is NULL.
 */
static inline int tool_image_load(const char *path, uint8_t **rgb, unsigned int *w,
				  unsigned int *h, char *msg, size_t msg_len)
{
	const char *why;
	FILE *f;
	int x = 0, y = 0, n = 0, err;

	if (rgb)
		*rgb = NULL;
	if (!path || !rgb || !w || !h) {
		if (msg && msg_len)
			snprintf(msg, msg_len, "tool_image_load: bad arguments");
		return -EINVAL;
	}
	f = fopen(path, "rb");
	if (!f) {
		err = -errno;		/* negative here, as the analyzers see */
		if (err >= 0)
			err = -EIO;
		tool_image_msg(msg, msg_len, path, strerror(-err));
		return err;
	}
	/* fopen() succeeds on a directory; the read fails with EISDIR. */
	if (fgetc(f) == EOF && ferror(f)) {
		err = -errno;
		if (err >= 0)
			err = -EIO;
		fclose(f);
		tool_image_msg(msg, msg_len, path, strerror(-err));
		return err;
	}
	rewind(f);
	if (!tool_pnm_complete(f)) {
		fclose(f);
		tool_image_msg(msg, msg_len, path, "PNM file cut short");
		return -EINVAL;
	}
	*rgb = stbi_load_from_file(f, &x, &y, &n, 3);
	fclose(f);
	if (!*rgb) {
		why = stbi_failure_reason();
		if (!why)
			why = "cannot decode";
		tool_image_msg(msg, msg_len, path, why);
		if (!strcmp(why, "outofmem"))
			return -ENOMEM;
		if (!strcmp(why, "too large"))
			return -EFBIG;
		return -EINVAL;
	}
	if (x <= 0 || y <= 0) {		/* stb_image never does this */
		stbi_image_free(*rgb);
		*rgb = NULL;
		tool_image_msg(msg, msg_len, path, "empty picture");
		return -EINVAL;
	}
	*w = (unsigned int)x;
	*h = (unsigned int)y;
	return 0;
}

/* Free the pixels of tool_image_load() (NULL is fine). */
static inline void tool_image_free(uint8_t *rgb)
{
	stbi_image_free(rgb);
}

#endif /* APU_TOOLS_IMAGE_LOAD_H */
