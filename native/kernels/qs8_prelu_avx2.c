/* int8 PRELU microkernel, AVX2: 16 elements per step in two vectors of 8 int32 lanes, both
 * branches requantized exactly (pe_requant8_avx2) and selected by the sign of v; the last n % 16
 * elements through the scalar twin. The requantized value is clamped to [-512, 512] before the
 * output offset is added: the same result as the scalar kernel's unwrapped sum, since
 * |output_offset| <= 128 (contract in qs8_prelu.h). */
#include "pe_requant_x86.h"
#include "qs8_prelu.h"

void pe_qs8_prelu_16x__avx2(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out,
                            const pe_prelu_params *p) {
  const __m256i ioff = _mm256_set1_epi32(p->input_offset), aoff = _mm256_set1_epi32(p->alpha_offset);
  const __m256i m1 = _mm256_set1_epi32(p->identity_multiplier), s1 = _mm256_set1_epi32(p->identity_shift);
  const __m256i m2 = _mm256_set1_epi32(p->alpha_multiplier), s2 = _mm256_set1_epi32(p->alpha_shift);
  const __m256i zero = _mm256_setzero_si256();
  const __m256i lo = _mm256_set1_epi32(-512), hi = _mm256_set1_epi32(512);
  const __m256i ooff = _mm256_set1_epi32(p->output_offset);
  const __m256i qmin = _mm256_set1_epi32(-128), qmax = _mm256_set1_epi32(127);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i xb = _mm_loadu_si128((const __m128i *)(x + i)), ab = _mm_loadu_si128((const __m128i *)(alpha + i));
    __m256i r[2];
    int h;
    for (h = 0; h < 2; ++h) {
      const __m128i xh = h ? _mm_srli_si128(xb, 8) : xb, ah = h ? _mm_srli_si128(ab, 8) : ab;
      const __m256i v = _mm256_add_epi32(_mm256_cvtepi8_epi32(xh), ioff);
      const __m256i a = _mm256_add_epi32(_mm256_cvtepi8_epi32(ah), aoff);
      const __m256i rp = pe_requant8_avx2(v, m1, s1, zero, lo, hi);
      const __m256i rn = pe_requant8_avx2(_mm256_mullo_epi32(v, a), m2, s2, zero, lo, hi);
      const __m256i neg = _mm256_cmpgt_epi32(zero, v);
      r[h] = _mm256_blendv_epi8(rp, rn, neg);
      r[h] = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(r[h], ooff), qmin), qmax);
    }
    _mm_storeu_si128((__m128i *)(out + i), pe_pack16_s8_avx2(r[0], r[1]));
  }
  if (i < n) pe_qs8_prelu__scalar(n - i, x + i, alpha + i, out + i, p);
}
