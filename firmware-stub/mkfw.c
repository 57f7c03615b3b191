/*
 * mkfw: build apu-fw.bin, the APU firmware image.
 *
 *   mkfw [options] OUTPUT
 *     --payload FILE     payload bytes (default: a note naming the version)
 *     --version M.m.p    firmware version (default: this tree's, version.h)
 *     --abi M.m          firmware ABI (default: the device's, apu_hw.h)
 *     --build-id TEXT    up to 31 characters
 *
 * The options other than OUTPUT exist so tests can make images the device
 * must refuse (wrong ABI) next to the real one.
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/apu_hw.h"
#include "hw/apu_fw.h"
#include "hw/apu_le.h"
#include "version.h"

static int usage(void)
{
    fprintf(stderr, "usage: mkfw [--payload FILE] [--version M.m.p] "
            "[--abi M.m] [--build-id TEXT] OUTPUT\n");
    return 2;
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (!f) {
        return NULL;
    }
    n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc(n ? n : 1);
        if (buf && fread(buf, 1, n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *size = n;
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    unsigned int vmaj = APU_FW_STUB_VERSION_MAJOR;
    unsigned int vmin = APU_FW_STUB_VERSION_MINOR;
    unsigned int vpat = APU_FW_STUB_VERSION_PATCH;
    unsigned int amaj = APU_FW_ABI_MAJOR, amin = APU_FW_ABI_MINOR;
    const char *payload_path = NULL, *out = NULL, *build_id = "apu-fw-stub";
    struct apu_fw_header h;
    uint8_t *payload;
    size_t payload_size;
    char note[128];
    FILE *f;
    int i;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--payload") && i + 1 < argc) {
            payload_path = argv[++i];
        } else if (!strcmp(argv[i], "--version") && i + 1 < argc) {
            if (sscanf(argv[++i], "%u.%u.%u", &vmaj, &vmin, &vpat) != 3 ||
                vmaj > 255 || vmin > 255 || vpat > 255) {
                return usage();
            }
        } else if (!strcmp(argv[i], "--abi") && i + 1 < argc) {
            if (sscanf(argv[++i], "%u.%u", &amaj, &amin) != 2 ||
                amaj > 0xffff || amin > 0xffff) {
                return usage();
            }
        } else if (!strcmp(argv[i], "--build-id") && i + 1 < argc) {
            build_id = argv[++i];
            if (strlen(build_id) >= sizeof(h.build_id)) {
                return usage();
            }
        } else if (argv[i][0] != '-' && !out) {
            out = argv[i];
        } else {
            return usage();
        }
    }
    if (!out) {
        return usage();
    }

    if (payload_path) {
        payload = read_file(payload_path, &payload_size);
        if (!payload) {
            fprintf(stderr, "mkfw: cannot read %s: %s\n", payload_path,
                    strerror(errno));
            return 1;
        }
    } else {
        payload_size = snprintf(note, sizeof(note),
                                "apu firmware stub %u.%u.%u, ABI %u.%u\n",
                                vmaj, vmin, vpat, amaj, amin);
        payload = malloc(payload_size);
        if (!payload) {
            return 1;
        }
        memcpy(payload, note, payload_size);
    }
    if (payload_size > APU_FW_MAX_SIZE - APU_FW_HEADER_SIZE) {
        fprintf(stderr, "mkfw: payload of %zu bytes is too large\n",
                payload_size);
        free(payload);
        return 1;
    }

    memset(&h, 0, sizeof(h));
    apu_st32(&h.magic, APU_FW_MAGIC);
    apu_st32(&h.header_size, APU_FW_HEADER_SIZE);
    apu_st16(&h.abi_major, amaj);
    apu_st16(&h.abi_minor, amin);
    apu_st32(&h.fw_version, APU_VERSION(vmaj, vmin, vpat));
    apu_st32(&h.payload_size, payload_size);
    apu_st32(&h.payload_crc32, apu_fw_crc32(0, payload, payload_size));
    strncpy(h.build_id, build_id, sizeof(h.build_id) - 1);
    apu_fw_header_seal(&h);

    f = fopen(out, "wb");
    if (!f) {
        fprintf(stderr, "mkfw: cannot create %s: %s\n", out, strerror(errno));
        free(payload);
        return 1;
    }
    i = fwrite(&h, sizeof(h), 1, f) == 1 &&
        fwrite(payload, 1, payload_size, f) == payload_size;
    if (fclose(f) != 0 || !i) {
        fprintf(stderr, "mkfw: cannot write %s\n", out);
        remove(out);
        free(payload);
        return 1;
    }
    free(payload);
    return 0;
}
