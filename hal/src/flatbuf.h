/* SPDX-License-Identifier: MIT */
/*
 * A bounds-checked reader of FlatBuffers (the TFLite model format), written
 * from the FlatBuffers binary format specification. Nothing is trusted:
 * every offset, length and vtable is checked against the buffer before it
 * is used, so a reader of any byte string ends with a value or an error,
 * never an access outside the buffer. Reading follows a fixed schema (no
 * recursion on the data), so offsets that point back (cycles) cannot make
 * it loop. Not installed; used by tflite.c.
 */
#ifndef APU_FLATBUF_H
#define APU_FLATBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fb {
	const uint8_t *p;
	size_t n;
};

/* A table: its position and its vtable, both checked. */
struct fb_table {
	const struct fb *fb;
	size_t pos;		/* the table's start (its soffset to the vtable) */
	size_t vt;		/* the vtable's start */
	uint16_t vt_size;	/* bytes of the vtable */
	uint16_t tbl_size;	/* bytes of the table's inline part */
};

/* A vector: element @i at elems + i * elem_size; checked to fit. */
struct fb_vec {
	const struct fb *fb;
	size_t elems;
	uint32_t len;
};

static inline bool fb_fits(const struct fb *fb, size_t off, size_t len)
{
	return off <= fb->n && fb->n - off >= len;
}

static inline uint16_t fb_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t fb_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t fb_rd64(const uint8_t *p)
{
	return (uint64_t)fb_rd32(p) | (uint64_t)fb_rd32(p + 4) << 32;
}

/* The table at @pos; -1 when it or its vtable lies outside the buffer. */
static inline int fb_table_at(const struct fb *fb, size_t pos, struct fb_table *t)
{
	int64_t vt;

	if (!fb_fits(fb, pos, 4))
		return -1;
	vt = (int64_t)pos - (int32_t)fb_rd32(fb->p + pos);
	if (vt < 0 || !fb_fits(fb, (size_t)vt, 4))
		return -1;
	t->fb = fb;
	t->pos = pos;
	t->vt = (size_t)vt;
	t->vt_size = fb_rd16(fb->p + t->vt);
	t->tbl_size = fb_rd16(fb->p + t->vt + 2);
	if (t->vt_size < 4 || (t->vt_size & 1) || !fb_fits(fb, t->vt, t->vt_size) ||
	    t->tbl_size < 4 || !fb_fits(fb, pos, t->tbl_size))
		return -1;
	return 0;
}

/*
 * The offset in the table of field @id that is @size bytes wide: 0 when the
 * field is absent (default value), -1 when it does not fit in the table.
 */
static inline int fb_field(const struct fb_table *t, unsigned int id, size_t size,
			   size_t *at)
{
	size_t slot = 4 + 2 * (size_t)id;
	uint16_t fo;

	if (slot + 2 > t->vt_size)
		return 0;
	fo = fb_rd16(t->fb->p + t->vt + slot);
	if (!fo)
		return 0;
	if (fo < 4 || (size_t)fo + size > t->tbl_size)
		return -1;
	*at = t->pos + fo;
	return 1;
}

/* Scalars; @def when absent; -1 on a malformed table. */
static inline int fb_u8(const struct fb_table *t, unsigned int id, uint8_t def, uint8_t *v)
{
	size_t at;
	int r = fb_field(t, id, 1, &at);

	*v = r > 0 ? t->fb->p[at] : def;
	return r < 0 ? -1 : 0;
}

static inline int fb_i32(const struct fb_table *t, unsigned int id, int32_t def, int32_t *v)
{
	size_t at;
	int r = fb_field(t, id, 4, &at);

	*v = r > 0 ? (int32_t)fb_rd32(t->fb->p + at) : def;
	return r < 0 ? -1 : 0;
}

static inline int fb_u32(const struct fb_table *t, unsigned int id, uint32_t def, uint32_t *v)
{
	size_t at;
	int r = fb_field(t, id, 4, &at);

	*v = r > 0 ? fb_rd32(t->fb->p + at) : def;
	return r < 0 ? -1 : 0;
}

static inline int fb_u64(const struct fb_table *t, unsigned int id, uint64_t def, uint64_t *v)
{
	size_t at;
	int r = fb_field(t, id, 8, &at);

	*v = r > 0 ? fb_rd64(t->fb->p + at) : def;
	return r < 0 ? -1 : 0;
}

static inline int fb_f32(const struct fb_table *t, unsigned int id, float def, float *v)
{
	size_t at;
	uint32_t u;
	int r = fb_field(t, id, 4, &at);

	if (r <= 0) {
		*v = def;
		return r;
	}
	u = fb_rd32(t->fb->p + at);
	memcpy(v, &u, sizeof(*v));
	return 0;
}

/* Where an offset field (table, vector, string) points: 0 absent, 1, -1. */
static inline int fb_ref(const struct fb_table *t, unsigned int id, size_t *target)
{
	size_t at;
	uint32_t off;
	int r = fb_field(t, id, 4, &at);

	if (r <= 0)
		return r;
	off = fb_rd32(t->fb->p + at);
	if (!off || !fb_fits(t->fb, at, (size_t)off) || at + off >= t->fb->n)
		return -1;
	*target = at + off;
	return 1;
}

/* A sub-table: 0 absent, 1, -1. */
static inline int fb_subtable(const struct fb_table *t, unsigned int id, struct fb_table *out)
{
	size_t pos;
	int r = fb_ref(t, id, &pos);

	if (r <= 0)
		return r;
	return fb_table_at(t->fb, pos, out) ? -1 : 1;
}

/* A vector of @elem_size-byte elements: 0 absent (empty), 1, -1. */
static inline int fb_vector(const struct fb_table *t, unsigned int id, size_t elem_size,
			    struct fb_vec *v)
{
	size_t pos;
	int r = fb_ref(t, id, &pos);

	v->fb = t->fb;
	v->elems = 0;
	v->len = 0;
	if (r <= 0)
		return r;
	if (!fb_fits(t->fb, pos, 4))
		return -1;
	v->len = fb_rd32(t->fb->p + pos);
	v->elems = pos + 4;
	if ((uint64_t)v->len * elem_size > t->fb->n - v->elems)
		return -1;
	return 1;
}

/* Element @i of a vector of tables. */
static inline int fb_vec_table(const struct fb_vec *v, uint32_t i, struct fb_table *out)
{
	size_t at = v->elems + 4 * (size_t)i;
	uint32_t off;

	if (i >= v->len)
		return -1;
	off = fb_rd32(v->fb->p + at);
	if (!off || !fb_fits(v->fb, at, (size_t)off))
		return -1;
	return fb_table_at(v->fb, at + off, out);
}

static inline int32_t fb_vec_i32(const struct fb_vec *v, uint32_t i)
{
	return (int32_t)fb_rd32(v->fb->p + v->elems + 4 * (size_t)i);
}

static inline int64_t fb_vec_i64(const struct fb_vec *v, uint32_t i)
{
	return (int64_t)fb_rd64(v->fb->p + v->elems + 8 * (size_t)i);
}

static inline float fb_vec_f32(const struct fb_vec *v, uint32_t i)
{
	uint32_t u = fb_rd32(v->fb->p + v->elems + 4 * (size_t)i);
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/* A string copied into @dst (NUL-terminated, cut to @size - 1): 0 or -1. */
static inline int fb_string(const struct fb_table *t, unsigned int id, char *dst, size_t size)
{
	struct fb_vec v;
	int r = fb_vector(t, id, 1, &v);
	size_t n;

	dst[0] = 0;
	if (r <= 0)
		return r;
	n = v.len < size - 1 ? v.len : size - 1;
	memcpy(dst, t->fb->p + v.elems, n);
	dst[n] = 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)dst[i] < 0x20 || (unsigned char)dst[i] >= 0x7f)
			dst[i] = '?';
	return 0;
}

#endif /* APU_FLATBUF_H */
