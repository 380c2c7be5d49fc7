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

#include "elementwise.h" /* pe_prelu_params: the op's parameters are the kernels' */

/* One element: the formula above (the scalar kernels' arithmetic, in one place). */
static inline int8_t pe_qs8_prelu_one(const pe_prelu_params *p, int32_t x, int32_t alpha) {
  const int32_t v = x + p->input_offset;
  const int32_t r = v >= 0 ? pe_mbqm(v, p->identity_multiplier, p->identity_shift)
                           : pe_mbqm(v * (alpha + p->alpha_offset), p->alpha_multiplier, p->alpha_shift);
  const int64_t o = (int64_t)r + p->output_offset;
  return (int8_t)(o < INT8_MIN ? INT8_MIN : (o > INT8_MAX ? INT8_MAX : o));
}

typedef void (*pe_qs8_prelu_fn)(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out,
                                const pe_prelu_params *p);

void pe_qs8_prelu__scalar(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out, const pe_prelu_params *p);
void pe_qs8_prelu_16x__avx2(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out,
                            const pe_prelu_params *p);
void pe_qs8_prelu_16x__avx512(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out,
                              const pe_prelu_params *p);
void pe_qs8_prelu_16x__neon(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out,
                            const pe_prelu_params *p);

#endif
