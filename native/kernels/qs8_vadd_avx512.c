/* int8 ADD/SUB microkernel, AVX-512: 16 elements per step in 16 int32 lanes,
 * the three rescales in exact vector form (pe_requant16_avx512), masked tail. */
#include "pe_requant_x86.h"
#include "qs8_vadd.h"

static inline __m512i load16(const int8_t *p, size_t inc, __mmask16 m) {
  if (inc == 0) return _mm512_set1_epi32(*p);
  return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p));
}

void pe_qs8_vadd_16x__avx512(size_t n, const int8_t *a, size_t a_inc, const int8_t *b, size_t b_inc,
                             int8_t *out, const pe_qs8_vadd_params *p) {
  const __m512i aoff = _mm512_set1_epi32(p->a_offset), boff = _mm512_set1_epi32(p->b_offset);
  const __m128i ls = _mm_cvtsi32_si128(p->left_shift);
  const __m512i amul = _mm512_set1_epi32(p->a_mult), ash = _mm512_set1_epi32(p->a_shift);
  const __m512i bmul = _mm512_set1_epi32(p->b_mult), bsh = _mm512_set1_epi32(p->b_shift);
  const __m512i omul = _mm512_set1_epi32(p->out_mult), osh = _mm512_set1_epi32(p->out_shift);
  const __m512i ooff = _mm512_set1_epi32(p->out_offset);
  const __m512i vmin = _mm512_set1_epi32(p->act_min), vmax = _mm512_set1_epi32(p->act_max);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i imin = _mm512_set1_epi32(INT32_MIN), imax = _mm512_set1_epi32(INT32_MAX);
  size_t i = 0;
  while (i < n) {
    const size_t left = n - i;
    const size_t cnt = left < 16 ? left : 16;
    const __mmask16 m = (__mmask16)(cnt == 16 ? 0xFFFFu : ((1u << cnt) - 1u));
    const __m512i x = _mm512_sll_epi32(_mm512_add_epi32(load16(a + i * a_inc, a_inc, m), aoff), ls);
    const __m512i y = _mm512_sll_epi32(_mm512_add_epi32(load16(b + i * b_inc, b_inc, m), boff), ls);
    const __m512i s1 = pe_requant16_avx512(x, amul, ash, zero, imin, imax);
    const __m512i s2 = pe_requant16_avx512(y, bmul, bsh, zero, imin, imax);
    const __m512i raw = p->sign > 0 ? _mm512_add_epi32(s1, s2) : _mm512_sub_epi32(s1, s2);
    const __m512i r = pe_requant16_avx512(raw, omul, osh, ooff, vmin, vmax);
    _mm_mask_storeu_epi8(out + i, m, _mm512_cvtepi32_epi8(r));
    i += cnt;
  }
}

/* int16: the same steps on 16-bit loads and stores */
static inline __m512i load16_s16(const int16_t *p, size_t inc, __mmask16 m) {
  if (inc == 0) return _mm512_set1_epi32(*p);
  return _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(m, p));
}

void pe_qs16_vadd_16x__avx512(size_t n, const int16_t *a, size_t a_inc, const int16_t *b, size_t b_inc,
                              int16_t *out, const pe_qs8_vadd_params *p) {
  const __m512i aoff = _mm512_set1_epi32(p->a_offset), boff = _mm512_set1_epi32(p->b_offset);
  const __m128i ls = _mm_cvtsi32_si128(p->left_shift);
  const __m512i amul = _mm512_set1_epi32(p->a_mult), ash = _mm512_set1_epi32(p->a_shift);
  const __m512i bmul = _mm512_set1_epi32(p->b_mult), bsh = _mm512_set1_epi32(p->b_shift);
  const __m512i omul = _mm512_set1_epi32(p->out_mult), osh = _mm512_set1_epi32(p->out_shift);
  const __m512i ooff = _mm512_set1_epi32(p->out_offset);
  const __m512i vmin = _mm512_set1_epi32(p->act_min), vmax = _mm512_set1_epi32(p->act_max);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i imin = _mm512_set1_epi32(INT32_MIN), imax = _mm512_set1_epi32(INT32_MAX);
  size_t i = 0;
  while (i < n) {
    const size_t left = n - i;
    const size_t cnt = left < 16 ? left : 16;
    const __mmask16 m = (__mmask16)(cnt == 16 ? 0xFFFFu : ((1u << cnt) - 1u));
    const __m512i x = _mm512_sll_epi32(_mm512_add_epi32(load16_s16(a + i * a_inc, a_inc, m), aoff), ls);
    const __m512i y = _mm512_sll_epi32(_mm512_add_epi32(load16_s16(b + i * b_inc, b_inc, m), boff), ls);
    const __m512i s1 = pe_requant16_avx512(x, amul, ash, zero, imin, imax);
    const __m512i s2 = pe_requant16_avx512(y, bmul, bsh, zero, imin, imax);
    const __m512i raw = p->sign > 0 ? _mm512_add_epi32(s1, s2) : _mm512_sub_epi32(s1, s2);
    const __m512i r = pe_requant16_avx512(raw, omul, osh, ooff, vmin, vmax);
    _mm256_mask_storeu_epi16(out + i, m, _mm512_cvtepi32_epi16(r));
    i += cnt;
  }
}
