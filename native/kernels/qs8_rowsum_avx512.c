/* int8 row sums on AVX-512 (qs8_rowsum.h): 64 columns at a time (the last block under byte and
   dword masks), int16 partial sums over runs of up to 256 rows (exact), widened into the int32
   sums. */
#include <immintrin.h>

#include "qs8_rowsum.h"

#define ROWSUM_RUN 256

void pe_qs8_rowsum_64x__avx512(size_t rows, size_t n, const int8_t *x, size_t stride, int32_t *acc) {
  size_t i, r0, r;
  for (i = 0; i < n; i += 64) {
    const size_t w = n - i < 64 ? n - i : 64;
    const uint64_t bits = w == 64 ? ~(uint64_t)0 : (((uint64_t)1 << w) - 1);
    const __mmask32 b0 = (__mmask32)bits, b1 = (__mmask32)(bits >> 32);
    const __mmask16 m0 = (__mmask16)bits, m1 = (__mmask16)(bits >> 16), m2 = (__mmask16)(bits >> 32),
                    m3 = (__mmask16)(bits >> 48);
    __m512i a0 = _mm512_maskz_loadu_epi32(m0, acc + i);
    __m512i a1 = _mm512_maskz_loadu_epi32(m1, acc + i + 16);
    __m512i a2 = _mm512_maskz_loadu_epi32(m2, acc + i + 32);
    __m512i a3 = _mm512_maskz_loadu_epi32(m3, acc + i + 48);
    for (r0 = 0; r0 < rows; r0 += ROWSUM_RUN) {
      const size_t r1 = rows - r0 < ROWSUM_RUN ? rows : r0 + ROWSUM_RUN;
      __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
      if (w == 64) {
        for (r = r0; r < r1; ++r) {
          const int8_t *p = x + r * stride + i;
          s0 = _mm512_add_epi16(s0, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)p)));
          s1 = _mm512_add_epi16(s1, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(p + 32))));
        }
      } else {
        for (r = r0; r < r1; ++r) {
          const int8_t *p = x + r * stride + i;
          s0 = _mm512_add_epi16(s0, _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(b0, p)));
          s1 = _mm512_add_epi16(s1, _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(b1, p + 32)));
        }
      }
      a0 = _mm512_add_epi32(a0, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(s0)));
      a1 = _mm512_add_epi32(a1, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s0, 1)));
      a2 = _mm512_add_epi32(a2, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(s1)));
      a3 = _mm512_add_epi32(a3, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s1, 1)));
    }
    _mm512_mask_storeu_epi32(acc + i, m0, a0);
    _mm512_mask_storeu_epi32(acc + i + 16, m1, a1);
    _mm512_mask_storeu_epi32(acc + i + 32, m2, a2);
    _mm512_mask_storeu_epi32(acc + i + 48, m3, a3);
  }
}
