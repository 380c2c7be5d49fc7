/* Scalar twin of the requantize-and-store microkernels (qs8_requant.h). */
#include "pe_kernel.h"
#include "qs8_requant.h"

void pe_qs8_requant__scalar(size_t n, const int32_t *acc, const int32_t *mult, const int32_t *shift,
                            int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *out) {
  size_t i;
  for (i = 0; i < n; ++i) {
    /* the offset wraps in int32 before the clamp, as in TFLite's reference kernels */
    const int32_t r = (int32_t)((uint32_t)pe_mbqm(acc[i], mult[i], shift[i]) + (uint32_t)output_offset);
    out[i] = (int8_t)(r < act_min ? act_min : (r > act_max ? act_max : r));
  }
}
