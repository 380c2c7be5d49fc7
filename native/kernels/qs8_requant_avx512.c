/* Requantize-and-store, AVX-512: 16 lanes of pe_rq16_prepare + pe_rq16_apply (the form the GEMM,
 * depthwise and ADD kernels use, so that the requantization test's every-shift and rounding-tie
 * cases check it), masked tail. */
#include "pe_requant_x86.h"
#include "qs8_requant.h"

void pe_qs8_requant_16x__avx512(size_t n, const int32_t *acc, const int32_t *mult, const int32_t *shift,
                                int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *out) {
  const __m512i voff = _mm512_set1_epi32(output_offset);
  const __m512i vmin = _mm512_set1_epi32(act_min), vmax = _mm512_set1_epi32(act_max);
  size_t i = 0;
  for (; i < n; i += 16) {
    const size_t cnt = n - i < 16 ? n - i : 16;
    const __mmask16 m = (__mmask16)(cnt == 16 ? 0xFFFFu : (1u << cnt) - 1u);
    const pe_rq16 q =
        pe_rq16_prepare(_mm512_maskz_loadu_epi32(m, mult + i), _mm512_maskz_loadu_epi32(m, shift + i), voff);
    const __m512i r = _mm512_min_epi32(_mm512_max_epi32(pe_rq16_apply(&q, _mm512_maskz_loadu_epi32(m, acc + i)), vmin), vmax);
    _mm_mask_storeu_epi8(out + i, m, _mm512_cvtepi32_epi8(r));
  }
}
