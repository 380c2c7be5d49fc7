/* 1-byte TRANSPOSE microkernels: one 2-D tile of the output.
 *
 * Contract: for r in [0, rows) and i in [0, cols):
 *   dst[r * dst_stride + i] = src[r + i * src_stride]
 * i.e. src holds `cols` runs of `rows` contiguous bytes, src_stride apart, and dst receives the
 * transposed tile, its rows dst_stride apart. Nothing outside those bytes is read or written;
 * src and dst do not overlap. The driver (shape_drivers.c) reduces a TRANSPOSE to such tiles
 * after merging the dims that stay contiguous, so NCHW -> NHWC with C channels is one tile of
 * HW x C (cols = C, dst_stride = C: C planes interleaved) and NHWC -> NCHW one tile of C x HW per
 * image (rows = C, src_stride = C: the pixels' bytes split into planes). The SIMD kernels have
 * shuffle paths for those two shapes with 2, 3 or 4 channels and 16x16 byte blocks for the
 * rest; every result is the scalar twin's, byte for byte. */
#ifndef PE_X8_TRANSPOSE_H
#define PE_X8_TRANSPOSE_H

#include <stddef.h>
#include <stdint.h>

typedef void (*pe_x8_transpose_fn)(size_t rows, size_t cols, const uint8_t *src, size_t src_stride,
                                   uint8_t *dst, size_t dst_stride);

typedef struct {
  pe_x8_transpose_fn fn;
} pe_x8_transpose_ukernel;

void pe_x8_transpose__scalar(size_t rows, size_t cols, const uint8_t *src, size_t src_stride, uint8_t *dst,
                             size_t dst_stride);
void pe_x8_transpose__avx2(size_t rows, size_t cols, const uint8_t *src, size_t src_stride, uint8_t *dst,
                           size_t dst_stride);
void pe_x8_transpose__avx512(size_t rows, size_t cols, const uint8_t *src, size_t src_stride, uint8_t *dst,
                             size_t dst_stride);
void pe_x8_transpose__neon(size_t rows, size_t cols, const uint8_t *src, size_t src_stride, uint8_t *dst,
                           size_t dst_stride);

#endif
