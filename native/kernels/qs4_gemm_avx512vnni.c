/* int4-weight GEMM microkernel, AVX-512 VNNI: 8 rows x 16 channels, vpdpbusd over the packed
 * N16K8 nibbles (qs4_gemm.h). One 64-byte load holds two k-groups of the 16 channels; the low
 * nibbles (and 0x0F) and high nibbles (a 16-bit shift by 4, and 0x0F), each sign extended as
 * (v ^ 8) - 8, are the int8 kernel's two weight vectors (qs8_gemm_avx512vnni.c). */
#include <string.h>

#include "pe_requant_x86.h"
#include "qs4_gemm.h"

static inline __m512i bcast4(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

static inline __m512i sext4(__m512i v) {
  const __m512i e = _mm512_set1_epi8(8);
  return _mm512_sub_epi8(_mm512_xor_si512(v, e), e);
}

void pe_qs4_gemm_8x16c8__avx512vnni(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                    const int8_t *w, const int32_t *init, const int32_t *mult,
                                    const int32_t *shift, int32_t output_offset, int32_t act_min,
                                    int32_t act_max, int8_t *c, size_t c_stride, const int32_t *rowadd) {
  /* rows past mr repeat the last row (computed, never stored) */
  const uint8_t *a0 = a, *a1 = mr > 1 ? a0 + a_stride : a0, *a2 = mr > 2 ? a1 + a_stride : a1;
  const uint8_t *a3 = mr > 3 ? a2 + a_stride : a2, *a4 = mr > 4 ? a3 + a_stride : a3;
  const uint8_t *a5 = mr > 5 ? a4 + a_stride : a4, *a6 = mr > 6 ? a5 + a_stride : a5;
  const uint8_t *a7 = mr > 7 ? a6 + a_stride : a6;
  const __m512i vinit = _mm512_loadu_si512((const void *)init);
  __m512i c0 = vinit, c1 = vinit, c2 = vinit, c3 = vinit, c4 = vinit, c5 = vinit, c6 = vinit, c7 = vinit;
  const __m512i mask = _mm512_set1_epi8(0x0F);
  size_t k;
#define PE_KGROUP(vw, kk)                                 \
  c0 = _mm512_dpbusd_epi32(c0, bcast4(a0 + (kk)), vw);    \
  c1 = _mm512_dpbusd_epi32(c1, bcast4(a1 + (kk)), vw);    \
  c2 = _mm512_dpbusd_epi32(c2, bcast4(a2 + (kk)), vw);    \
  c3 = _mm512_dpbusd_epi32(c3, bcast4(a3 + (kk)), vw);    \
  c4 = _mm512_dpbusd_epi32(c4, bcast4(a4 + (kk)), vw);    \
  c5 = _mm512_dpbusd_epi32(c5, bcast4(a5 + (kk)), vw);    \
  c6 = _mm512_dpbusd_epi32(c6, bcast4(a6 + (kk)), vw);    \
  c7 = _mm512_dpbusd_epi32(c7, bcast4(a7 + (kk)), vw);
  for (k = 0; k + 8 <= kp; k += 8, w += 64) {
    const __m512i v = _mm512_loadu_si512((const void *)w);
    const __m512i lo = sext4(_mm512_and_si512(v, mask));
    const __m512i hi = sext4(_mm512_and_si512(_mm512_srli_epi16(v, 4), mask));
    PE_KGROUP(lo, k)
    PE_KGROUP(hi, k + 4)
  }
  if (k < kp) { /* a last lone k-group: low nibbles only */
    const __m512i lo = sext4(_mm512_and_si512(_mm512_loadu_si512((const void *)w), mask));
    PE_KGROUP(lo, k)
  }
#undef PE_KGROUP
  {
    __m512i acc[8];
    acc[0] = c0, acc[1] = c1, acc[2] = c2, acc[3] = c3, acc[4] = c4, acc[5] = c5, acc[6] = c6, acc[7] = c7;
    pe_gemm_tail8x16_avx512(acc, mr, nc, mult, shift, output_offset, act_min, act_max, rowadd, c, c_stride);
  }
}

/* One row x 16 channels (batch-1 FULLY_CONNECTED): the 8-row tile would compute seven rows for
 * nothing. The two k-groups of each load go to independent accumulators (int32 sums wrap, so the
 * order of the additions does not change the result). */
void pe_qs4_gemm_1x16c8__avx512vnni(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                    const int8_t *w, const int32_t *init, const int32_t *mult,
                                    const int32_t *shift, int32_t output_offset, int32_t act_min,
                                    int32_t act_max, int8_t *c, size_t c_stride, const int32_t *rowadd) {
  const __m512i mask = _mm512_set1_epi8(0x0F);
  __m512i c0 = _mm512_loadu_si512((const void *)init), c1 = _mm512_setzero_si512();
  const __mmask16 store = (__mmask16)((1u << nc) - 1u);
  size_t k;
  (void)mr;
  (void)a_stride;
  (void)c_stride;
  for (k = 0; k + 8 <= kp; k += 8, w += 64) {
    const __m512i v = _mm512_loadu_si512((const void *)w);
    c0 = _mm512_dpbusd_epi32(c0, bcast4(a + k), sext4(_mm512_and_si512(v, mask)));
    c1 = _mm512_dpbusd_epi32(c1, bcast4(a + k + 4), sext4(_mm512_and_si512(_mm512_srli_epi16(v, 4), mask)));
  }
  if (k < kp)
    c0 = _mm512_dpbusd_epi32(c0, bcast4(a + k), sext4(_mm512_and_si512(_mm512_loadu_si512((const void *)w), mask)));
  c0 = _mm512_add_epi32(c0, c1);
  if (rowadd != NULL) c0 = _mm512_add_epi32(c0, _mm512_set1_epi32(rowadd[0]));
  _mm512_mask_cvtepi32_storeu_epi8(
      c, store,
      pe_requant16_avx512(c0, _mm512_loadu_si512((const void *)mult), _mm512_loadu_si512((const void *)shift),
                          _mm512_set1_epi32(output_offset), _mm512_set1_epi32(act_min), _mm512_set1_epi32(act_max)));
}
