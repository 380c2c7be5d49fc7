/* Requantize-and-store microkernels: n int32 accumulators with per-element multipliers and
 * shifts to int8, TFLite's MultiplyByQuantizedMultiplier exactly:
 *   out[i] = clamp(mbqm(acc[i], mult[i], shift[i]) + output_offset, act_min, act_max)
 * (the sum wraps in int32 before the clamp, as in TFLite's reference kernels)
 * for mult[i] >= 0, shift[i] in [-31, 30], act_min <= act_max within int8. The vector forms
 * (pe_requant_x86.h) are what the GEMM, depthwise and ADD microkernels use; these functions
 * expose them whole, for drivers that accumulate elsewhere and for the C kernel test. */
#ifndef PE_QS8_REQUANT_H
#define PE_QS8_REQUANT_H

#include <stddef.h>
#include <stdint.h>

typedef void (*pe_qs8_requant_fn)(size_t n, const int32_t *acc, const int32_t *mult, const int32_t *shift,
                                  int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *out);

void pe_qs8_requant__scalar(size_t n, const int32_t *acc, const int32_t *mult, const int32_t *shift,
                            int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *out);
void pe_qs8_requant_8x__avx2(size_t n, const int32_t *acc, const int32_t *mult, const int32_t *shift,
                             int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *out);
void pe_qs8_requant_16x__avx512(size_t n, const int32_t *acc, const int32_t *mult, const int32_t *shift,
                                int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *out);
void pe_qs8_requant_16x__neon(size_t n, const int32_t *acc, const int32_t *mult, const int32_t *shift,
                              int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *out);

#endif
