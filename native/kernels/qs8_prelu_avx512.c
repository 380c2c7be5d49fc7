/* int8 PRELU microkernel, AVX-512: 16 elements per step in int32 lanes, both branches requantized
 * exactly (pe_requant16_avx512) and selected by the sign of v, masked tail. The requantized value
 * is clamped to [-512, 512] before the output offset is added: the same result as the scalar
 * kernel's unwrapped sum, since |output_offset| <= 128 (contract in qs8_prelu.h). */
#include "pe_requant_x86.h"
#include "qs8_prelu.h"

void pe_qs8_prelu_16x__avx512(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out,
                              const pe_prelu_params *p) {
  const __m512i ioff = _mm512_set1_epi32(p->input_offset), aoff = _mm512_set1_epi32(p->alpha_offset);
  const __m512i m1 = _mm512_set1_epi32(p->identity_multiplier), s1 = _mm512_set1_epi32(p->identity_shift);
  const __m512i m2 = _mm512_set1_epi32(p->alpha_multiplier), s2 = _mm512_set1_epi32(p->alpha_shift);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i lo = _mm512_set1_epi32(-512), hi = _mm512_set1_epi32(512);
  const __m512i ooff = _mm512_set1_epi32(p->output_offset);
  const __m512i qmin = _mm512_set1_epi32(-128), qmax = _mm512_set1_epi32(127);
  size_t i = 0;
  while (i < n) {
    const size_t cnt = n - i < 16 ? n - i : 16;
    const __mmask16 m = (__mmask16)(cnt == 16 ? 0xFFFFu : ((1u << cnt) - 1u));
    const __m512i v = _mm512_add_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, x + i)), ioff);
    const __m512i a = _mm512_add_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, alpha + i)), aoff);
    const __m512i rp = pe_requant16_avx512(v, m1, s1, zero, lo, hi);
    const __m512i rn = pe_requant16_avx512(_mm512_mullo_epi32(v, a), m2, s2, zero, lo, hi);
    __m512i r = _mm512_mask_blend_epi32(_mm512_cmplt_epi32_mask(v, zero), rp, rn);
    r = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(r, ooff), qmin), qmax);
    _mm_mask_storeu_epi8(out + i, m, _mm512_cvtepi32_epi8(r));
    i += cnt;
  }
}
