/* int8 elementwise ADD/SUB microkernels (TFLite's quantized ADD, reference/add.h).
 *
 * Contract: for i in [0, n), with x = a[i * a_inc], y = b[i * b_inc] (inc 0: one broadcast value):
 *   s1  = MBQMSmallerThanOne((x + a_offset) << left_shift, a_mult, a_shift)
 *   s2  = MBQMSmallerThanOne((y + b_offset) << left_shift, b_mult, b_shift)
 *   out[i] = clamp(MBQMSmallerThanOne(s1 + sign * s2, out_mult, out_shift) + out_offset,
 *                  act_min, act_max)
 * with the parameter ranges the ADD/SUB check enforces (elementwise_scalar.c): every
 * intermediate fits int32, multipliers >= 0, shifts in [-31, 0]. Bit-identical to the scalar
 * ADD/SUB kernel.
 *
 * The qs16 kernels compute the same on int16 storage: TFLite's int16 ADD/SUB with general scales
 * (zero points 0, left_shift 15) is this arithmetic, and (v << 15) stays within 2^30.
 */
#ifndef PE_QS8_VADD_H
#define PE_QS8_VADD_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  int32_t left_shift;
  int32_t a_offset, a_mult, a_shift;
  int32_t b_offset, b_mult, b_shift;
  int32_t out_mult, out_shift, out_offset;
  int32_t act_min, act_max;
  int32_t sign; /* +1 ADD, -1 SUB */
} pe_qs8_vadd_params;

typedef void (*pe_qs8_vadd_fn)(size_t n, const int8_t *a, size_t a_inc, const int8_t *b, size_t b_inc,
                               int8_t *out, const pe_qs8_vadd_params *p);

typedef void (*pe_qs16_vadd_fn)(size_t n, const int16_t *a, size_t a_inc, const int16_t *b, size_t b_inc,
                                int16_t *out, const pe_qs8_vadd_params *p);

void pe_qs16_vadd__scalar(size_t n, const int16_t *a, size_t a_inc, const int16_t *b, size_t b_inc, int16_t *out,
                          const pe_qs8_vadd_params *p);
void pe_qs16_vadd_16x__avx2(size_t n, const int16_t *a, size_t a_inc, const int16_t *b, size_t b_inc, int16_t *out,
                            const pe_qs8_vadd_params *p);
void pe_qs16_vadd_16x__avx512(size_t n, const int16_t *a, size_t a_inc, const int16_t *b, size_t b_inc,
                              int16_t *out, const pe_qs8_vadd_params *p);
void pe_qs16_vadd_16x__neon(size_t n, const int16_t *a, size_t a_inc, const int16_t *b, size_t b_inc, int16_t *out,
                            const pe_qs8_vadd_params *p);

void pe_qs8_vadd__scalar(size_t n, const int8_t *a, size_t a_inc, const int8_t *b, size_t b_inc, int8_t *out,
                         const pe_qs8_vadd_params *p);
void pe_qs8_vadd_16x__avx2(size_t n, const int8_t *a, size_t a_inc, const int8_t *b, size_t b_inc, int8_t *out,
                           const pe_qs8_vadd_params *p);
void pe_qs8_vadd_16x__avx512(size_t n, const int8_t *a, size_t a_inc, const int8_t *b, size_t b_inc, int8_t *out,
                             const pe_qs8_vadd_params *p);
void pe_qs8_vadd_16x__neon(size_t n, const int8_t *a, size_t a_inc, const int8_t *b, size_t b_inc, int8_t *out,
                           const pe_qs8_vadd_params *p);

#endif
