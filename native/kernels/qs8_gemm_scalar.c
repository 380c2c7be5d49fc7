/* The packed int8 GEMM layout's pack function and scalar twin (qs8_gemm.h). */
#include <string.h>

#include "conv.h"
#include "qs8_gemm.h"

static uint32_t round_up(uint32_t x, uint32_t m) { return (x + m - 1u) / m * m; }

uint32_t pe_qs8_gemm_packed_bytes(int32_t oc, int32_t k) {
  const uint32_t ocp = round_up((uint32_t)oc, PE_GEMM_NR), kp = round_up((uint32_t)k, PE_GEMM_KR);
  if (oc < 1 || k < 1) return 0;
  return 16u * ocp + ocp * kp;
}

void pe_qs8_gemm_pack(int32_t oc, int32_t k, const int8_t *w, const int32_t *bias, const int32_t *mult,
                      const int32_t *shift, int32_t input_offset, void *out) {
  const int32_t ocp = (int32_t)round_up((uint32_t)oc, PE_GEMM_NR), kp = (int32_t)round_up((uint32_t)k, PE_GEMM_KR);
  int32_t *init = (int32_t *)out, *wsum = init + ocp, *m = wsum + ocp, *s = m + ocp;
  int8_t *pw = (int8_t *)(s + ocp);
  int32_t n, j;
  memset(out, 0, pe_qs8_gemm_packed_bytes(oc, k));
  for (n = 0; n < oc; ++n) {
    uint32_t sum = 0;
    for (j = 0; j < k; ++j) sum += (uint32_t)(int32_t)w[(size_t)n * k + j];
    wsum[n] = (int32_t)sum;
    init[n] = (int32_t)((bias != NULL ? (uint32_t)bias[n] : 0u) + (uint32_t)(input_offset - 128) * sum);
    m[n] = mult[n];
    s[n] = shift[n];
  }
  for (n = 0; n < oc; ++n) {
    const int32_t b = n / PE_GEMM_NR, lane = n % PE_GEMM_NR;
    for (j = 0; j < k; ++j) {
      const int32_t g = j / PE_GEMM_KR;
      pw[((size_t)b * (kp / PE_GEMM_KR) + g) * (PE_GEMM_NR * PE_GEMM_KR) + lane * PE_GEMM_KR + j % PE_GEMM_KR] =
          w[(size_t)n * k + j];
    }
  }
}

void pe_qs8_gemm_1x16c4__scalar(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                const int8_t *w, const int32_t *init, const int32_t *mult,
                                const int32_t *shift, int32_t output_offset, int32_t act_min,
                                int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd) {
  size_t r, n, g, j;
  for (r = 0; r < mr; ++r, a += a_stride, c += c_stride) {
    uint32_t acc[PE_GEMM_NR];
    const int8_t *wg = w;
    for (n = 0; n < PE_GEMM_NR; ++n) acc[n] = (uint32_t)init[n] + (rowadd != NULL ? (uint32_t)rowadd[r] : 0u);
    for (g = 0; g < kp; g += PE_GEMM_KR, wg += PE_GEMM_NR * PE_GEMM_KR)
      for (n = 0; n < PE_GEMM_NR; ++n)
        for (j = 0; j < PE_GEMM_KR; ++j) acc[n] += (uint32_t)((int32_t)wg[n * PE_GEMM_KR + j] * (int32_t)a[g + j]);
    for (n = 0; n < nc; ++n)
      c[n] = (int8_t)pe_conv_requant32((int64_t)(int32_t)acc[n], 0, mult[n], shift[n], output_offset, act_min,
                                       act_max);
  }
}

void pe_qs8_flip__scalar(uint8_t *dst, const int8_t *src, size_t n, uint8_t flip) {
  pe_qs8_flip_inline(dst, src, n, flip);
}
