/* Requantize-and-store, AVX2: 8 lanes of pe_requant8_avx2, the tail through a padded copy. */
#include <string.h>

#include "pe_requant_x86.h"
#include "qs8_requant.h"

void pe_qs8_requant_8x__avx2(size_t n, const int32_t *acc, const int32_t *mult, const int32_t *shift,
                             int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *out) {
  const __m256i voff = _mm256_set1_epi32(output_offset);
  const __m256i vmin = _mm256_set1_epi32(act_min), vmax = _mm256_set1_epi32(act_max);
  size_t i = 0;
  for (; i < n; i += 8) {
    int32_t a[8] = {0}, m[8] = {0}, s[8] = {0};
    int8_t o[16];
    const size_t cnt = n - i < 8 ? n - i : 8;
    __m256i r;
    memcpy(a, acc + i, cnt * 4);
    memcpy(m, mult + i, cnt * 4);
    memcpy(s, shift + i, cnt * 4);
    r = pe_requant8_avx2(_mm256_loadu_si256((const __m256i *)a), _mm256_loadu_si256((const __m256i *)m),
                         _mm256_loadu_si256((const __m256i *)s), voff, vmin, vmax);
    _mm_storeu_si128((__m128i *)o, pe_pack16_s8_avx2(r, r));
    memcpy(out + i, o, cnt);
  }
}
