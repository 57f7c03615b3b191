/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * apu: firmware loading and boot (apu_fw.c).
 *
 * Copyright (c) 2026 The apu authors
 */
#ifndef __APU_FW_H__
#define __APU_FW_H__

struct apu_device;

int apu_fw_boot(struct apu_device *adev);

#endif /* __APU_FW_H__ */
