/* int8 PRELU microkernel, portable C: the scalar twin of the SIMD rows (contract in qs8_prelu.h). */
#include "pe_kernel.h"
#include "qs8_prelu.h"

void pe_qs8_prelu__scalar(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out, const pe_prelu_params *p) {
  size_t i;
  for (i = 0; i < n; ++i) out[i] = pe_qs8_prelu_one(p, x[i], alpha[i]);
}
