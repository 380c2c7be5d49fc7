/* The scalar twin of the int8 row-sum microkernels (qs8_rowsum.h). */
#include "qs8_rowsum.h"

void pe_qs8_rowsum__scalar(size_t rows, size_t n, const int8_t *x, size_t stride, int32_t *acc) {
  size_t r, i;
  for (r = 0; r < rows; ++r) {
    const int8_t *row = x + r * stride;
    for (i = 0; i < n; ++i) acc[i] = (int32_t)((uint32_t)acc[i] + (uint32_t)(int32_t)row[i]);
  }
}
