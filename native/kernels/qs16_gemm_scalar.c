/* 16x8 GEMM over the int8 GEMM layout and the int64 requantization: scalar twins (contracts in
 * qs16_gemm.h). */
#include "conv.h"
#include "qs16_gemm.h"
#include "qs8_gemm.h"

void pe_qs16_gemm_1x16c4__scalar(size_t mr, size_t kp, const int16_t *a, size_t a_stride, const int8_t *w,
                                 int64_t *acc) {
  size_t r, n, g, j;
  for (r = 0; r < mr; ++r, a += a_stride) {
    int64_t *c = acc + r * PE_GEMM_NR;
    const int8_t *wg = w;
    for (n = 0; n < PE_GEMM_NR; ++n) c[n] = 0;
    for (g = 0; g < kp; g += PE_GEMM_KR, wg += PE_GEMM_NR * PE_GEMM_KR)
      for (n = 0; n < PE_GEMM_NR; ++n)
        for (j = 0; j < PE_GEMM_KR; ++j) c[n] += (int32_t)wg[n * PE_GEMM_KR + j] * (int32_t)a[g + j];
  }
}

void pe_qs16_requant64__scalar(size_t nc, const int64_t *acc, const int64_t *bias, const int32_t *mult,
                               const int32_t *shift, int32_t act_min, int32_t act_max, int16_t *out) {
  size_t n;
  for (n = 0; n < nc; ++n)
    out[n] = (int16_t)pe_conv_requant64(acc[n], bias != NULL ? bias[n] : 0, mult[n], shift[n], act_min, act_max);
}
