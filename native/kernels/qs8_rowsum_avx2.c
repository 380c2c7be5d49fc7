/* int8 row sums on AVX2 (qs8_rowsum.h): 32 columns at a time, int16 partial sums over runs of
   up to 256 rows (exact), widened into the int32 sums. */
#include <immintrin.h>

#include "qs8_rowsum.h"

#define ROWSUM_RUN 256

void pe_qs8_rowsum_32x__avx2(size_t rows, size_t n, const int8_t *x, size_t stride, int32_t *acc) {
  size_t i = 0, r0, r;
  for (; i + 32 <= n; i += 32) {
    __m256i a0 = _mm256_loadu_si256((const __m256i *)(acc + i));
    __m256i a1 = _mm256_loadu_si256((const __m256i *)(acc + i + 8));
    __m256i a2 = _mm256_loadu_si256((const __m256i *)(acc + i + 16));
    __m256i a3 = _mm256_loadu_si256((const __m256i *)(acc + i + 24));
    for (r0 = 0; r0 < rows; r0 += ROWSUM_RUN) {
      const size_t r1 = rows - r0 < ROWSUM_RUN ? rows : r0 + ROWSUM_RUN;
      __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
      for (r = r0; r < r1; ++r) {
        const int8_t *p = x + r * stride + i;
        s0 = _mm256_add_epi16(s0, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p)));
        s1 = _mm256_add_epi16(s1, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + 16))));
      }
      a0 = _mm256_add_epi32(a0, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s0)));
      a1 = _mm256_add_epi32(a1, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s0, 1)));
      a2 = _mm256_add_epi32(a2, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s1)));
      a3 = _mm256_add_epi32(a3, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s1, 1)));
    }
    _mm256_storeu_si256((__m256i *)(acc + i), a0);
    _mm256_storeu_si256((__m256i *)(acc + i + 8), a1);
    _mm256_storeu_si256((__m256i *)(acc + i + 16), a2);
    _mm256_storeu_si256((__m256i *)(acc + i + 24), a3);
  }
  if (i < n) pe_qs8_rowsum__scalar(rows, n - i, x + i, stride, acc + i);
}
