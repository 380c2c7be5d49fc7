/* 16x8 window dot products (int16 activations, int8 weights): the inner sums of TFLite's 16x8
 * CONV_2D and FULLY_CONNECTED (reference_integer_ops::ConvPerChannel<int16_t, int64_t> and
 * FullyConnected for int16), read from the op's own weights (generic layout) and input, driven
 * by conv16_drivers.c.
 *
 * Contract: a window is `rows` x `runs` runs of `len` elements; run (r, q) of the input starts at
 * x + r * in_row + q * in_run (int16 elements) and of filter j at f + j * f_stride + r * f_row +
 * q * f_run (bytes). For the nc filters j < nc (1 <= nc <= PE_QS16_DOT_NC),
 *   acc[j] = sum over the window of f[...] * x[...],  exactly (int64).
 * Taps in a convolution's zero padding are not in any run: int16 activations are symmetric
 * (zero point 0), so they add nothing, as in TFLite.
 *
 * Exactness of the SIMD variants: each int32 lane of a vector accumulator adds, per step, at most
 * two products (vpmaddwd / vpdpwssd pairs; NEON's smlal one), each of magnitude at most
 * 32768 * 128 = 2^22, so at most 2^23 per step. A lane takes at most PE_QS16_DOT_FLUSH = 128
 * steps before it is added into int64 and cleared: |lane| <= 128 * 2^23 = 2^30 < 2^31, so no
 * int32 sum ever wraps and the int64 totals are the exact sums in any order. (vpmaddwd's one
 * saturating case, both pairs -32768 * -32768, cannot occur: one factor is a widened int8.)
 */
#ifndef PE_QS16_DOT_H
#define PE_QS16_DOT_H

#include <stddef.h>
#include <stdint.h>

#define PE_QS16_DOT_NC 4
#define PE_QS16_DOT_FLUSH 128

typedef struct {
  int32_t rows, runs, len;
  int32_t in_row, in_run; /* int16 elements */
  int32_t f_row, f_run;   /* bytes */
} pe_qs16_window;

typedef void (*pe_qs16_dot_fn)(const pe_qs16_window *w, const int16_t *x, const int8_t *f, size_t f_stride,
                               size_t nc, int64_t *acc);

/* Depthwise (multiplier 1): the taps of one output pixel for nch consecutive channels,
 *   acc[c] = sum_{r < rows, k < cols} f[r * f_row + k * f_col + c] * x[r * in_row + k * in_col + c],
 * exactly, c < nch; x and f point at channel 0 of the first valid tap (strides in elements). Each
 * int32 lane adds one product (<= 2^22) per tap and is flushed into int64 every
 * PE_QS16_DOT_FLUSH taps, so the bound above holds here too. */
typedef struct {
  int32_t rows, cols;
  int32_t in_row, in_col, f_row, f_col;
} pe_qs16_taps;

typedef void (*pe_qs16_dw_fn)(const pe_qs16_taps *t, const int16_t *x, const int8_t *f, size_t nch, int64_t *acc);

typedef struct {
  pe_qs16_dot_fn fn;
  pe_qs16_dw_fn dw;
} pe_qs16_dot_ukernel;

void pe_qs16_dw_px__scalar(const pe_qs16_taps *t, const int16_t *x, const int8_t *f, size_t nch, int64_t *acc);
void pe_qs16_dw_px__avx2(const pe_qs16_taps *t, const int16_t *x, const int8_t *f, size_t nch, int64_t *acc);
void pe_qs16_dw_px__avx512(const pe_qs16_taps *t, const int16_t *x, const int8_t *f, size_t nch, int64_t *acc);
void pe_qs16_dw_px__neon(const pe_qs16_taps *t, const int16_t *x, const int8_t *f, size_t nch, int64_t *acc);

void pe_qs16_dot_4c__scalar(const pe_qs16_window *w, const int16_t *x, const int8_t *f, size_t f_stride,
                            size_t nc, int64_t *acc);
void pe_qs16_dot_4c__avx2(const pe_qs16_window *w, const int16_t *x, const int8_t *f, size_t f_stride,
                          size_t nc, int64_t *acc);
void pe_qs16_dot_4c__avx512(const pe_qs16_window *w, const int16_t *x, const int8_t *f, size_t f_stride,
                            size_t nc, int64_t *acc);
void pe_qs16_dot_4c__avx512vnni(const pe_qs16_window *w, const int16_t *x, const int8_t *f, size_t f_stride,
                                size_t nc, int64_t *acc);
void pe_qs16_dot_4c__neon(const pe_qs16_window *w, const int16_t *x, const int8_t *f, size_t f_stride,
                          size_t nc, int64_t *acc);

#endif
