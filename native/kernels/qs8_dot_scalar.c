/* Row dot products, scalar twins (contract in qs8_dot.h). */
#include "qs8_dot.h"

void pe_qs8_dot_rows__scalar(size_t rows, size_t k, const int8_t *w, size_t w_stride, const int8_t *x,
                             int32_t x_zero_point, int32_t *out) {
  size_t r, c;
  for (r = 0; r < rows; ++r) {
    const int8_t *wr = w + r * w_stride;
    uint32_t acc = 0;
    for (c = 0; c < k; ++c) acc += (uint32_t)((int32_t)wr[c] * ((int32_t)x[c] - x_zero_point));
    out[r] = (int32_t)acc;
  }
}

void pe_qs16_dot_pairs__scalar(size_t rows, size_t k, const int16_t *a, const int16_t *b, size_t stride,
                               int32_t *out) {
  size_t r, c;
  for (r = 0; r < rows; ++r) {
    const int16_t *ar = a + r * stride, *br = b + r * stride;
    uint32_t acc = 0;
    for (c = 0; c < k; ++c) acc += (uint32_t)((int32_t)ar[c] * (int32_t)br[c]);
    out[r] = (int32_t)acc;
  }
}
