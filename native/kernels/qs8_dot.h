/* Row dot-product microkernels: the integer SVDF's feature and time steps (sequence_drivers.c).
 *
 * Contracts, every sum wrapped mod 2^32 as TFLite's int32 accumulators:
 *   s8_rows:   out[r] = sum_{c < k} w[r * w_stride + c] * (x[c] - x_zero_point), r < rows
 *              (int8 w and x, x_zero_point in [-128, 127], so x - x_zero_point fits int16)
 *   s16_pairs: out[r] = sum_{c < k} a[r * stride + c] * b[r * stride + c], r < rows (int16)
 * Each SIMD variant gives the same int32 values as the scalar twin (the sums are exact mod 2^32
 * in any order; vpmaddwd's one overflowing pair, -32768 * -32768 twice, wraps the same way).
 */
#ifndef PE_QS8_DOT_H
#define PE_QS8_DOT_H

#include <stddef.h>
#include <stdint.h>

typedef void (*pe_qs8_dot_rows_fn)(size_t rows, size_t k, const int8_t *w, size_t w_stride, const int8_t *x,
                                   int32_t x_zero_point, int32_t *out);
typedef void (*pe_qs16_dot_pairs_fn)(size_t rows, size_t k, const int16_t *a, const int16_t *b, size_t stride,
                                     int32_t *out);

typedef struct {
  pe_qs8_dot_rows_fn s8_rows;
  pe_qs16_dot_pairs_fn s16_pairs;
} pe_qs8_dot_ukernel;

void pe_qs8_dot_rows__scalar(size_t rows, size_t k, const int8_t *w, size_t w_stride, const int8_t *x,
                             int32_t x_zero_point, int32_t *out);
void pe_qs16_dot_pairs__scalar(size_t rows, size_t k, const int16_t *a, const int16_t *b, size_t stride,
                               int32_t *out);
void pe_qs8_dot_rows_4x16__avx2(size_t rows, size_t k, const int8_t *w, size_t w_stride, const int8_t *x,
                                int32_t x_zero_point, int32_t *out);
void pe_qs16_dot_pairs_16__avx2(size_t rows, size_t k, const int16_t *a, const int16_t *b, size_t stride,
                                int32_t *out);
void pe_qs8_dot_rows_4x32__avx512(size_t rows, size_t k, const int8_t *w, size_t w_stride, const int8_t *x,
                                  int32_t x_zero_point, int32_t *out);
void pe_qs16_dot_pairs_32__avx512(size_t rows, size_t k, const int16_t *a, const int16_t *b, size_t stride,
                                  int32_t *out);

#endif
