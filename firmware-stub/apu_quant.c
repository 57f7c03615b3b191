/*
 * Requantization arithmetic, bit-exact with TFLite's reference kernels
 * (gemmlowp's SaturatingRoundingDoublingHighMul and RoundingDivideByPOT).
 *
 * Overflowing int32 arithmetic in the C sources of TFLite wraps on every
 * machine it runs on; here it wraps by definition (unsigned arithmetic).
 *
 * Copyright (c) 2026 The apu authors
 *
 * SPDX-License-Identifier: MIT
 */

#include "hw/apu_fw.h"

int32_t apu_srdhm(int32_t a, int32_t b)
{
    int64_t ab, nudge;

    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    /* C division truncates toward zero, as gemmlowp relies on. */
    return (int32_t)((ab + nudge) / (1ll << 31));
}

int32_t apu_rdbpot(int32_t x, int exponent)
{
    int32_t mask = (int32_t)((1ll << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);

    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t apu_mbqm(int32_t acc, int32_t mult, int shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    int32_t x = (int32_t)((uint32_t)acc << left);

    return apu_rdbpot(apu_srdhm(x, mult), right);
}

int32_t apu_mbqm_single(int32_t acc, int32_t mult, int shift)
{
    int t = 31 - shift;
    int64_t round = 1ll << (t - 1);

    return (int32_t)(((int64_t)acc * mult + round) >> t);
}
