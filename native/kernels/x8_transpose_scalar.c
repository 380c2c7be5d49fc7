/* The scalar twin of the 1-byte TRANSPOSE microkernels (x8_transpose.h). */
#include "x8_transpose.h"

void pe_x8_transpose__scalar(size_t rows, size_t cols, const uint8_t *src, size_t src_stride, uint8_t *dst,
                             size_t dst_stride) {
  size_t r, i;
  for (r = 0; r < rows; ++r)
    for (i = 0; i < cols; ++i) dst[r * dst_stride + i] = src[r + i * src_stride];
}
