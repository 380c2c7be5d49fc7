/* int8 PRELU microkernels (TFLite's reference_ops::BroadcastPrelu4DSlow, integer form).
 *
 * Contract: for i in [0, n), with v = x[i] + input_offset and a = alpha[i] + alpha_offset:
 *   r = v >= 0 ? MBQM(v, identity_multiplier, identity_shift)
 *              : MBQM(v * a, alpha_multiplier, alpha_shift)
 *   out[i] = clamp(r + output_offset, -128, 127)        (the sum taken without wrapping)
 * with the ranges the PRELU check enforces (elementwise_scalar.c): |v|, |a| <= 255, multipliers
 * >= 0, shifts in [-31, 31]. The driver (elementwise_drivers.c) calls it on rows of the input
 * over which alpha does not broadcast (alpha per channel: one row per pixel). Bit-identical to
 * the scalar PRELU kernel. */
#ifndef PE_QS8_PRELU_H
#define PE_QS8_PRELU_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  int32_t input_offset, alpha_offset, output_offset;
  int32_t identity_multiplier, identity_shift;
  int32_t alpha_multiplier, alpha_shift;
} pe_qs8_prelu_params;

typedef void (*pe_qs8_prelu_fn)(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out,
                                const pe_qs8_prelu_params *p);

void pe_qs8_prelu__scalar(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out, const pe_qs8_prelu_params *p);
void pe_qs8_prelu_16x__avx2(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out,
                            const pe_qs8_prelu_params *p);
void pe_qs8_prelu_16x__avx512(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out,
                              const pe_qs8_prelu_params *p);
void pe_qs8_prelu_16x__neon(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out,
                            const pe_qs8_prelu_params *p);

#endif
