/* SPDX-License-Identifier: MIT */
/* Version of the firmware this tree builds (firmware-stub/mkfw.c). */
#ifndef APU_FW_STUB_VERSION_H
#define APU_FW_STUB_VERSION_H

#define APU_FW_STUB_VERSION_MAJOR 0
#define APU_FW_STUB_VERSION_MINOR 1
#define APU_FW_STUB_VERSION_PATCH 0

#endif
