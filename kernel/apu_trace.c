// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: tracepoint definitions.
 *
 * Copyright (c) 2026 The apu authors
 */

#define CREATE_TRACE_POINTS
#include "apu_trace.h"
