// SPDX-License-Identifier: MIT
// Independent oracle for the requantization arithmetic: gemmlowp's own
// fixed-point functions (Debian's libgemmlowp-dev), which TFLite's
// reference kernels call. Exposed to the C tests with C linkage.
#include <cstdint>

#include <gemmlowp/fixedpoint/fixedpoint.h>

extern "C" {

int32_t oracle_srdhm(int32_t a, int32_t b)
{
	return gemmlowp::SaturatingRoundingDoublingHighMul(a, b);
}

int32_t oracle_rdbpot(int32_t x, int exponent)
{
	return gemmlowp::RoundingDivideByPOT(x, exponent);
}

// tflite::MultiplyByQuantizedMultiplier (reference_ops, "double rounding").
int32_t oracle_mbqm(int32_t x, int32_t mult, int shift)
{
	int left = shift > 0 ? shift : 0;
	int right = shift > 0 ? 0 : -shift;
	int32_t shifted = static_cast<int32_t>(static_cast<uint32_t>(x) << left);

	return gemmlowp::RoundingDivideByPOT(
		gemmlowp::SaturatingRoundingDoublingHighMul(shifted, mult), right);
}

}
