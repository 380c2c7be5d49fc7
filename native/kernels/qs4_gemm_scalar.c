/* The int4 GEMM layout's pack function and scalar twin (qs4_gemm.h). */
#include <string.h>

#include "conv.h"
#include "qs4_gemm.h"

static uint32_t round_up(uint32_t x, uint32_t m) { return (x + m - 1u) / m * m; }

uint32_t pe_qs4_gemm_packed_bytes(int32_t oc, int32_t k) {
  uint32_t ocp, kp8;
  if (oc < 1 || k < 1) return 0;
  ocp = round_up((uint32_t)oc, PE_GEMM_NR);
  kp8 = round_up((uint32_t)k, 8u);
  return 16u * ocp + ocp * kp8 / 2u;
}

int pe_qs4_gemm_pack(int32_t oc, int32_t k, const int8_t *w, const int32_t *bias, const int32_t *mult,
                     const int32_t *shift, int32_t input_offset, void *out) {
  const int32_t ocp = (int32_t)round_up((uint32_t)oc, PE_GEMM_NR), kp8 = (int32_t)round_up((uint32_t)k, 8u);
  int32_t *init = (int32_t *)out, *wsum = init + ocp, *m = wsum + ocp, *s = m + ocp;
  uint8_t *pw = (uint8_t *)(s + ocp);
  int32_t n, j;
  memset(out, 0, pe_qs4_gemm_packed_bytes(oc, k));
  for (n = 0; n < oc; ++n) {
    uint32_t sum = 0;
    for (j = 0; j < k; ++j) {
      const int32_t v = w[(size_t)n * k + j];
      if (v < -8 || v > 7) return -1;
      sum += (uint32_t)v;
    }
    wsum[n] = (int32_t)sum;
    init[n] = (int32_t)((bias != NULL ? (uint32_t)bias[n] : 0u) + (uint32_t)(input_offset - 128) * sum);
    m[n] = mult[n];
    s[n] = shift[n];
  }
  for (n = 0; n < oc; ++n) {
    const int32_t b = n / PE_GEMM_NR, lane = n % PE_GEMM_NR;
    for (j = 0; j < k; ++j) {
      const int32_t p = j / 8, high = (j % 8) / 4, jj = j % 4;
      uint8_t *byte = pw + ((size_t)b * (kp8 / 8) + p) * 64u + lane * 4 + jj;
      const uint8_t nib = (uint8_t)((uint8_t)w[(size_t)n * k + j] & 0x0Fu);
      *byte = (uint8_t)(*byte | (high ? (uint8_t)(nib << 4) : nib));
    }
  }
  return 0;
}

/* the int4 value in the low (high = 0) or high nibble of a byte */
static inline int32_t nibble(uint8_t byte, int high) {
  const int32_t v = high ? byte >> 4 : byte & 0x0F;
  return (v ^ 8) - 8;
}

void pe_qs4_gemm_1x16c8__scalar(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                const int8_t *w, const int32_t *init, const int32_t *mult,
                                const int32_t *shift, int32_t output_offset, int32_t act_min,
                                int32_t act_max, int8_t *c, size_t c_stride, const int32_t *rowadd) {
  const uint8_t *pw = (const uint8_t *)w;
  size_t r, n, g, j;
  for (r = 0; r < mr; ++r, a += a_stride, c += c_stride) {
    uint32_t acc[PE_GEMM_NR];
    for (n = 0; n < PE_GEMM_NR; ++n) acc[n] = (uint32_t)init[n] + (rowadd != NULL ? (uint32_t)rowadd[r] : 0u);
    for (g = 0; g < kp; g += PE_GEMM_KR) {
      const uint8_t *row = pw + g / 8u * 64u;
      const int high = (int)((g / 4u) & 1u);
      for (n = 0; n < PE_GEMM_NR; ++n)
        for (j = 0; j < PE_GEMM_KR; ++j)
          acc[n] += (uint32_t)(nibble(row[n * PE_GEMM_KR + j], high) * (int32_t)a[g + j]);
    }
    for (n = 0; n < nc; ++n)
      c[n] = (int8_t)pe_conv_requant32((int64_t)(int32_t)acc[n], 0, mult[n], shift[n], output_offset, act_min,
                                       act_max);
  }
}
