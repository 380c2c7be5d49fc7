/* int8 row-sum microkernels (MEAN over a contiguous run of axes, pool_scalar.c's pe_mean__rows).
 *
 * Contract: for i in [0, n):
 *   acc[i] = acc[i] + sum over r in [0, rows) of x[r * stride + i]
 * in wrapping int32 arithmetic (mod 2^32, as TFLite's int32 sums). Every SIMD kernel gives the
 * scalar twin's acc bit for bit: partial sums of at most 256 rows are exact in int16
 * (|sum| <= 256 * 128), then added to the int32 lanes, which wrap as the twin's do. */
#ifndef PE_QS8_ROWSUM_H
#define PE_QS8_ROWSUM_H

#include <stddef.h>
#include <stdint.h>

typedef void (*pe_qs8_rowsum_fn)(size_t rows, size_t n, const int8_t *x, size_t stride, int32_t *acc);

typedef struct {
  pe_qs8_rowsum_fn fn;
} pe_qs8_rowsum_ukernel;

void pe_qs8_rowsum__scalar(size_t rows, size_t n, const int8_t *x, size_t stride, int32_t *acc);
void pe_qs8_rowsum_32x__avx2(size_t rows, size_t n, const int8_t *x, size_t stride, int32_t *acc);
void pe_qs8_rowsum_64x__avx512(size_t rows, size_t n, const int8_t *x, size_t stride, int32_t *acc);
void pe_qs8_rowsum_16x__neon(size_t rows, size_t n, const int8_t *x, size_t stride, int32_t *acc);

#endif
