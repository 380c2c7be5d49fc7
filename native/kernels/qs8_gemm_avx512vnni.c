/* int8 GEMM microkernel, AVX-512 VNNI: 8 rows x 16 channels, vpdpbusd (uint8 activations x int8
 * weights, exact int32 sums) over the packed N16K4 layout (qs8_gemm.h). */
#include <string.h>

#include "pe_requant_x86.h"
#include "qs8_gemm.h"

static inline __m512i bcast4(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

void pe_qs8_gemm_8x16c4__avx512vnni(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                    const int8_t *w, const int32_t *init, const int32_t *mult,
                                    const int32_t *shift, int32_t output_offset, int32_t act_min,
                                    int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd) {
  /* rows past mr repeat the last row (computed, never stored) */
  const uint8_t *a0 = a, *a1 = mr > 1 ? a0 + a_stride : a0, *a2 = mr > 2 ? a1 + a_stride : a1;
  const uint8_t *a3 = mr > 3 ? a2 + a_stride : a2, *a4 = mr > 4 ? a3 + a_stride : a3;
  const uint8_t *a5 = mr > 5 ? a4 + a_stride : a4, *a6 = mr > 6 ? a5 + a_stride : a5;
  const uint8_t *a7 = mr > 7 ? a6 + a_stride : a6;
  const __m512i vinit = _mm512_loadu_si512((const void *)init);
  __m512i c0 = vinit, c1 = vinit, c2 = vinit, c3 = vinit, c4 = vinit, c5 = vinit, c6 = vinit, c7 = vinit;
  size_t k;
  for (k = 0; k < kp; k += 4, w += 64) {
    const __m512i vw = _mm512_loadu_si512((const void *)w);
    c0 = _mm512_dpbusd_epi32(c0, bcast4(a0 + k), vw);
    c1 = _mm512_dpbusd_epi32(c1, bcast4(a1 + k), vw);
    c2 = _mm512_dpbusd_epi32(c2, bcast4(a2 + k), vw);
    c3 = _mm512_dpbusd_epi32(c3, bcast4(a3 + k), vw);
    c4 = _mm512_dpbusd_epi32(c4, bcast4(a4 + k), vw);
    c5 = _mm512_dpbusd_epi32(c5, bcast4(a5 + k), vw);
    c6 = _mm512_dpbusd_epi32(c6, bcast4(a6 + k), vw);
    c7 = _mm512_dpbusd_epi32(c7, bcast4(a7 + k), vw);
  }
  {
    __m512i acc[8];
    acc[0] = c0, acc[1] = c1, acc[2] = c2, acc[3] = c3, acc[4] = c4, acc[5] = c5, acc[6] = c6, acc[7] = c7;
    pe_gemm_tail8x16_avx512(acc, mr, nc, mult, shift, output_offset, act_min, act_max, rowadd, c, c_stride);
  }
}

/* One row x 16 channels: four independent accumulators over consecutive k-groups hide the
 * vpdpbusd latency (the 8-row tile would compute seven rows for nothing). int32 sums wrap, so
 * the order of the additions does not change the result. */
void pe_qs8_gemm_1x16c4__avx512vnni(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                    const int8_t *w, const int32_t *init, const int32_t *mult,
                                    const int32_t *shift, int32_t output_offset, int32_t act_min,
                                    int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd) {
  __m512i c0 = _mm512_loadu_si512((const void *)init), c1 = _mm512_setzero_si512(), c2 = c1, c3 = c1;
  const __mmask16 store = (__mmask16)((1u << nc) - 1u);
  size_t k = 0;
  (void)mr;
  (void)a_stride;
  (void)c_stride;
  for (; k + 16 <= kp; k += 16, w += 256) {
    c0 = _mm512_dpbusd_epi32(c0, bcast4(a + k), _mm512_loadu_si512((const void *)w));
    c1 = _mm512_dpbusd_epi32(c1, bcast4(a + k + 4), _mm512_loadu_si512((const void *)(w + 64)));
    c2 = _mm512_dpbusd_epi32(c2, bcast4(a + k + 8), _mm512_loadu_si512((const void *)(w + 128)));
    c3 = _mm512_dpbusd_epi32(c3, bcast4(a + k + 12), _mm512_loadu_si512((const void *)(w + 192)));
  }
  for (; k < kp; k += 4, w += 64) c0 = _mm512_dpbusd_epi32(c0, bcast4(a + k), _mm512_loadu_si512((const void *)w));
  c0 = _mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3));
  if (rowadd != NULL) c0 = _mm512_add_epi32(c0, _mm512_set1_epi32(rowadd[0]));
  _mm512_mask_cvtepi32_storeu_epi8(
      c, store,
      pe_requant16_avx512(c0, _mm512_loadu_si512((const void *)mult), _mm512_loadu_si512((const void *)shift),
                          _mm512_set1_epi32(output_offset), _mm512_set1_epi32(act_min), _mm512_set1_epi32(act_max)));
}

/* The panel's flip copy (qs8_gemm.h), 64 bytes at a time; copying, the tail is one overlapping
   vector ending at n, as in pe_qs8_flip__avx2, which takes the rest (short runs, in place). No
   masked stores: they are slow on some cores (Zen 4). */
void pe_qs8_flip__avx512(uint8_t *dst, const int8_t *src, size_t n, uint8_t flip) {
  const __m512i f = _mm512_set1_epi8((char)flip);
  size_t i = 0;
  for (; i + 64 <= n; i += 64)
    _mm512_storeu_si512((void *)(dst + i), _mm512_xor_si512(_mm512_loadu_si512((const void *)(src + i)), f));
  if (i == n) return;
  if ((const void *)dst != (const void *)src) {
    if (i > 0) {
      _mm512_storeu_si512((void *)(dst + n - 64), _mm512_xor_si512(_mm512_loadu_si512((const void *)(src + n - 64)), f));
      return;
    }
    if (n >= 32) { /* two overlapping halves: an im2col run of a 3 x 16-channel filter row, say */
      const __m256i f32 = _mm512_castsi512_si256(f);
      _mm256_storeu_si256((__m256i *)dst, _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)src), f32));
      _mm256_storeu_si256((__m256i *)(dst + n - 32),
                          _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(src + n - 32)), f32));
      return;
    }
  }
  pe_qs8_flip__avx2(dst + i, src + i, n - i, flip);
}
