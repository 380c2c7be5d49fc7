/* int8 PRELU microkernel, portable C: the scalar twin of the SIMD rows (contract in qs8_prelu.h). */
#include "pe_kernel.h"
#include "qs8_prelu.h"

void pe_qs8_prelu__scalar(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out, const pe_qs8_prelu_params *p) {
  size_t i;
  for (i = 0; i < n; ++i) {
    const int32_t v = x[i] + p->input_offset;
    const int32_t r = v >= 0 ? pe_mbqm(v, p->identity_multiplier, p->identity_shift)
                             : pe_mbqm(v * (alpha[i] + p->alpha_offset), p->alpha_multiplier, p->alpha_shift);
    const int64_t o = (int64_t)r + p->output_offset;
    out[i] = (int8_t)(o < INT8_MIN ? INT8_MIN : (o > INT8_MAX ? INT8_MAX : o));
  }
}
