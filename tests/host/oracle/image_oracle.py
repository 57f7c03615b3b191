#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Expected outputs for tests/host/image_test.c, from references independent
of libapu's hal/src/image.c.

    image_oracle.py resize OUTDIR   resize cases
    image_oracle.py decode OUTDIR   picture files and their pixels

resize: writes OUTDIR/cases.txt, one case a line,
    NAME SRC_W SRC_H CHANNELS DST_W DST_H
and for each case NAME.src (the source pixels, HWC uint8), NAME.nearest
(Pillow's Image.resize((DST_W, DST_H), Image.NEAREST) of it) and
NAME.bilinear (tflite_bilinear() below). The cases: the test photos
(tests/data/models, decoded by Pillow) at the models' input sizes, tiny
images, and seeded random images of 1 to 4 channels, down and up.

decode: writes OUTDIR/decode.txt, one file a line,
    PATH WIDTH HEIGHT RGBFILE
where RGBFILE holds Pillow's decoding of PATH converted to RGB: the two
photos, and a binary PPM (P6) and PGM (P5) this script writes into OUTDIR
(parts of cat.bmp) with a header comment and odd sizes.

Run from the repository root (make check's host tier does), or set
APU_TOP. Needs python3-pil and python3-numpy (scripts/setup.sh).
"""
import os
import sys

import numpy as np
from PIL import Image

TOP = os.environ.get("APU_TOP", ".")
DATA = os.path.join(TOP, "tests", "data", "models")
PHOTOS = ("cat.bmp", "grace_hopper.bmp")

F32 = np.float32


def tflite_bilinear(src, dst_h, dst_w):
    """TFLite's reference_ops::ResizeBilinear<uint8_t> (the float template of
    tensorflow/lite/kernels/internal/reference/resize_bilinear.h) with
    half_pixel_centers=true, align_corners=false, written again from that
    source in numpy float32: every operation below is a float32 operation
    rounded on its own, in the order the C++ expression evaluates."""
    h, w, _ = src.shape
    sy = F32(h) / F32(dst_h)
    sx = F32(w) / F32(dst_w)

    def interp(n, scale, size):
        # ComputeInterpolationValues(): (value + 0.5f) * scale - 0.5f, then
        # lower = max(floor, 0), upper = min(ceil, size - 1). Not clamped.
        f = (np.arange(n).astype(F32) + F32(0.5)) * scale - F32(0.5)
        assert f.dtype == F32
        lo = np.maximum(np.floor(f).astype(np.int64), 0)
        hi = np.minimum(np.ceil(f).astype(np.int64), size - 1)
        return f, lo, hi

    fy, y0, y1 = interp(dst_h, sy, h)
    fx, x0, x1 = interp(dst_w, sx, w)
    dy = (fy - y0.astype(F32))[:, None, None]    # input_y - y0
    dx = (fx - x0.astype(F32))[None, :, None]
    wy = F32(1) - dy                             # 1 - (input_y - y0)
    wx = F32(1) - dx
    s = src.astype(F32)
    p00 = s[y0][:, x0]
    p10 = s[y1][:, x0]
    p01 = s[y0][:, x1]
    p11 = s[y1][:, x1]
    v = p00 * wy * wx + p10 * dy * wx + p01 * wy * dx + p11 * dy * dx + F32(0.5)
    assert v.dtype == F32
    # static_cast<uint8_t>: truncation toward zero (v is within [0, 256)).
    assert v.min() > -1 and v.max() < 256
    return np.trunc(v).astype(np.uint8)


MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def pil_nearest(src, dst_h, dst_w):
    h, w, c = src.shape
    im = Image.frombytes(MODES[c], (w, h), src.tobytes())
    out = im.resize((dst_w, dst_h), Image.NEAREST)
    return np.asarray(out, dtype=np.uint8).reshape(dst_h, dst_w, c)


def photo(name):
    with Image.open(os.path.join(DATA, name)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def resize_cases():
    cases = []
    cat = photo("cat.bmp")
    hopper = photo("grace_hopper.bmp")
    cases += [("cat_224", cat, 224, 224), ("cat_128", cat, 128, 128),
              ("hopper_224", hopper, 224, 224), ("hopper_128", hopper, 128, 128),
              ("cat_same", cat, cat.shape[0], cat.shape[1]),
              # up: 32x32 of the cat to the models' size (negative
              # coordinates along the first rows and columns)
              ("cat_up", cat[100:132, 200:232], 224, 224),
              ("hopper_wide", hopper, 150, 700)]
    tiny = np.array([[0, 100], [200, 50]], dtype=np.uint8)[:, :, None]
    cases += [("tiny_2x2_3x3", tiny, 3, 3), ("tiny_2x2_1x1", tiny, 1, 1),
              ("tiny_2x2_5x4", tiny, 4, 5)]
    rng = np.random.RandomState(20240601)
    shapes = [(5, 7, 3, 11, 19), (17, 13, 1, 4, 6), (9, 5, 4, 20, 5), (1, 9, 2, 3, 4),
              (200, 300, 3, 199, 301), (3, 3, 1, 2, 2), (4, 4, 3, 2, 2), (6, 10, 3, 6, 10),
              (64, 48, 3, 224, 224), (341, 512, 3, 7, 5), (33, 1, 1, 100, 3),
              (16, 16, 3, 48, 48), (255, 257, 1, 97, 89)]
    for i, (h, w, c, dh, dw) in enumerate(shapes):
        src = rng.randint(0, 256, size=(h, w, c)).astype(np.uint8)
        if i % 3 == 0:  # some with extreme values throughout
            src[::2] = 255
            src[1::3] = 0
        cases.append(("rand%d" % i, src, dh, dw))
    return cases


def write_resize(out):
    with open(os.path.join(out, "cases.txt"), "w") as f:
        for name, src, dh, dw in resize_cases():
            h, w, c = src.shape
            src = np.ascontiguousarray(src)
            src.tofile(os.path.join(out, name + ".src"))
            pil_nearest(src, dh, dw).tofile(os.path.join(out, name + ".nearest"))
            tflite_bilinear(src, dh, dw).tofile(os.path.join(out, name + ".bilinear"))
            f.write("%s %d %d %d %d %d\n" % (name, w, h, c, dw, dh))


def write_pnm(path, magic, pixels):
    h, w = pixels.shape[:2]
    with open(path, "wb") as f:
        f.write(b"%s\n# written by image_oracle.py\n%d %d\n255\n" % (magic, w, h))
        f.write(np.ascontiguousarray(pixels).tobytes())


def write_decode(out):
    files = [os.path.join(DATA, p) for p in PHOTOS]
    cat = photo("cat.bmp")
    ppm = os.path.join(out, "cat_part.ppm")
    write_pnm(ppm, b"P6", cat[10:211, 20:323])
    pgm = os.path.join(out, "cat_grey.pgm")
    write_pnm(pgm, b"P5", cat[50:149, 7:300, 1])
    files += [ppm, pgm]
    with open(os.path.join(out, "decode.txt"), "w") as f:
        for i, path in enumerate(files):
            with Image.open(path) as im:
                rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
            rgbfile = os.path.join(out, "decoded%d.rgb" % i)
            rgb.tofile(rgbfile)
            f.write("%s %d %d %s\n" % (path, rgb.shape[1], rgb.shape[0], rgbfile))


def main(argv):
    if len(argv) != 3 or argv[1] not in ("resize", "decode"):
        sys.stderr.write("usage: %s resize|decode OUTDIR\n" % argv[0])
        return 2
    if argv[1] == "resize":
        write_resize(argv[2])
    else:
        write_decode(argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
