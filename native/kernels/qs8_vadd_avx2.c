/* int8 ADD/SUB microkernel, AVX2: 16 elements per step as two vectors of 8 int32 lanes, the
 * three rescales in exact vector form (pe_requant8_avx2); the tail goes to the scalar twin. */
#include <string.h>

#include "pe_requant_x86.h"
#include "qs8_vadd.h"

static inline __m256i load8(const int8_t *p, size_t inc) {
  int64_t v;
  if (inc == 0) return _mm256_set1_epi32(*p);
  memcpy(&v, p, 8);
  return _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(v));
}

void pe_qs8_vadd_16x__avx2(size_t n, const int8_t *a, size_t a_inc, const int8_t *b, size_t b_inc, int8_t *out,
                           const pe_qs8_vadd_params *p) {
  const __m256i aoff = _mm256_set1_epi32(p->a_offset), boff = _mm256_set1_epi32(p->b_offset);
  const __m128i ls = _mm_cvtsi32_si128(p->left_shift);
  const __m256i amul = _mm256_set1_epi32(p->a_mult), ash = _mm256_set1_epi32(p->a_shift);
  const __m256i bmul = _mm256_set1_epi32(p->b_mult), bsh = _mm256_set1_epi32(p->b_shift);
  const __m256i omul = _mm256_set1_epi32(p->out_mult), osh = _mm256_set1_epi32(p->out_shift);
  const __m256i ooff = _mm256_set1_epi32(p->out_offset);
  const __m256i vmin = _mm256_set1_epi32(p->act_min), vmax = _mm256_set1_epi32(p->act_max);
  const __m256i zero = _mm256_setzero_si256();
  const __m256i imin = _mm256_set1_epi32(INT32_MIN), imax = _mm256_set1_epi32(INT32_MAX);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i r[2];
    int h;
    for (h = 0; h < 2; ++h) {
      const __m256i x = _mm256_sll_epi32(_mm256_add_epi32(load8(a + (i + 8 * h) * a_inc, a_inc), aoff), ls);
      const __m256i y = _mm256_sll_epi32(_mm256_add_epi32(load8(b + (i + 8 * h) * b_inc, b_inc), boff), ls);
      const __m256i s1 = pe_requant8_avx2(x, amul, ash, zero, imin, imax);
      const __m256i s2 = pe_requant8_avx2(y, bmul, bsh, zero, imin, imax);
      const __m256i raw = p->sign > 0 ? _mm256_add_epi32(s1, s2) : _mm256_sub_epi32(s1, s2);
      r[h] = pe_requant8_avx2(raw, omul, osh, ooff, vmin, vmax);
    }
    _mm_storeu_si128((__m128i *)(out + i), pe_pack16_s8_avx2(r[0], r[1]));
  }
  if (i < n) pe_qs8_vadd__scalar(n - i, a + i * a_inc, a_inc, b + i * b_inc, b_inc, out + i, p);
}

/* int16: the same steps on 16-bit loads; the two clamped halves packed back to int16 */
static inline __m256i load8_s16(const int16_t *p, size_t inc) {
  if (inc == 0) return _mm256_set1_epi32(*p);
  return _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)p));
}

void pe_qs16_vadd_16x__avx2(size_t n, const int16_t *a, size_t a_inc, const int16_t *b, size_t b_inc, int16_t *out,
                            const pe_qs8_vadd_params *p) {
  const __m256i aoff = _mm256_set1_epi32(p->a_offset), boff = _mm256_set1_epi32(p->b_offset);
  const __m128i ls = _mm_cvtsi32_si128(p->left_shift);
  const __m256i amul = _mm256_set1_epi32(p->a_mult), ash = _mm256_set1_epi32(p->a_shift);
  const __m256i bmul = _mm256_set1_epi32(p->b_mult), bsh = _mm256_set1_epi32(p->b_shift);
  const __m256i omul = _mm256_set1_epi32(p->out_mult), osh = _mm256_set1_epi32(p->out_shift);
  const __m256i ooff = _mm256_set1_epi32(p->out_offset);
  const __m256i vmin = _mm256_set1_epi32(p->act_min), vmax = _mm256_set1_epi32(p->act_max);
  const __m256i zero = _mm256_setzero_si256();
  const __m256i imin = _mm256_set1_epi32(INT32_MIN), imax = _mm256_set1_epi32(INT32_MAX);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i r[2];
    int h;
    for (h = 0; h < 2; ++h) {
      const __m256i x = _mm256_sll_epi32(_mm256_add_epi32(load8_s16(a + (i + 8 * h) * a_inc, a_inc), aoff), ls);
      const __m256i y = _mm256_sll_epi32(_mm256_add_epi32(load8_s16(b + (i + 8 * h) * b_inc, b_inc), boff), ls);
      const __m256i s1 = pe_requant8_avx2(x, amul, ash, zero, imin, imax);
      const __m256i s2 = pe_requant8_avx2(y, bmul, bsh, zero, imin, imax);
      const __m256i raw = p->sign > 0 ? _mm256_add_epi32(s1, s2) : _mm256_sub_epi32(s1, s2);
      r[h] = pe_requant8_avx2(raw, omul, osh, ooff, vmin, vmax);
    }
    _mm256_storeu_si256((__m256i *)(out + i), _mm256_permute4x64_epi64(_mm256_packs_epi32(r[0], r[1]), 0xD8));
  }
  if (i < n) pe_qs16_vadd__scalar(n - i, a + i * a_inc, a_inc, b + i * b_inc, b_inc, out + i, p);
}
