/* TFLite's requantization, exactly, on x86 vectors: for every lane
 *   clamp(MultiplyByQuantizedMultiplier(acc, mult, shift) + output_offset, act_min, act_max)
 * as pe_mbqm (pe_kernel.h) computes it: left shift with int32 wrap-around, the saturating
 * rounding doubling high multiply (its one saturating case, INT32_MIN * INT32_MIN, needs a
 * negative multiplier, which the kernels' checks refuse), and the rounding right shift.
 * The doubling high multiply's two roundings (toward zero after a nudge of +-2^30) are one
 * floor: trunc((ab + 2^30) / 2^31) for ab >= 0, and for ab < 0
 * ceil((ab + 1 - 2^30) / 2^31) = floor((ab + 2^30) / 2^31); so every lane is bits 31..62 of
 * the 64-bit ab + 2^30. The output offset is added with int32 wrap-around before the clamp, as
 * TFLite's reference kernels do (and pe_conv_requant32).
 * Included only by files compiled with the ISA's flags. */
#ifndef PE_REQUANT_X86_H
#define PE_REQUANT_X86_H

#include <immintrin.h>

#ifdef __AVX2__
/* 8 lanes. */
static inline __m256i pe_requant8_avx2(__m256i acc, __m256i mult, __m256i shift, __m256i out_off,
                                       __m256i vmin, __m256i vmax) {
  const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);
  const __m256i left = _mm256_max_epi32(shift, zero);
  const __m256i right = _mm256_max_epi32(_mm256_sub_epi32(zero, shift), zero);
  const __m256i x = _mm256_sllv_epi32(acc, left);
  const __m256i half = _mm256_set1_epi64x(1ll << 30);
  __m256i e = _mm256_add_epi64(_mm256_mul_epi32(x, mult), half);
  __m256i o = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(mult, 32)), half);
  __m256i srdhm, mask, rem, thr, q;
  /* SRDHM = trunc((ab + (ab >= 0 ? 2^30 : 1 - 2^30)) / 2^31) = floor((ab + 2^30) / 2^31) for every
     64-bit product ab: bits 31..62 of ab + 2^30 */
  e = _mm256_srli_epi64(e, 31);
  o = _mm256_slli_epi64(o, 1);
  srdhm = _mm256_blend_epi32(e, o, 0xAA);
  /* rounding divide by 2^right */
  mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, right), one);
  rem = _mm256_and_si256(srdhm, mask);
  thr = _mm256_sub_epi32(_mm256_srai_epi32(mask, 1), _mm256_cmpgt_epi32(zero, srdhm));
  q = _mm256_sub_epi32(_mm256_srav_epi32(srdhm, right), _mm256_cmpgt_epi32(rem, thr));
  q = _mm256_add_epi32(q, out_off);
  return _mm256_min_epi32(_mm256_max_epi32(q, vmin), vmax);
}

/* Two vectors of 8 int32 (already clamped to int8) -> 16 int8 in order. */
static inline __m128i pe_pack16_s8_avx2(__m256i lo, __m256i hi) {
  const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
  return _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}
#endif

#ifdef __AVX512F__
/* 16 lanes. */
static inline __m512i pe_requant16_avx512(__m512i acc, __m512i mult, __m512i shift, __m512i out_off,
                                          __m512i vmin, __m512i vmax) {
  const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
  const __m512i left = _mm512_max_epi32(shift, zero);
  const __m512i right = _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero);
  const __m512i x = _mm512_sllv_epi32(acc, left);
  const __m512i half = _mm512_set1_epi64(1ll << 30);
  __m512i e = _mm512_add_epi64(_mm512_mul_epi32(x, mult), half);
  __m512i o = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(mult, 32)), half);
  __m512i srdhm, mask, rem, thr, q;
  /* as pe_requant8_avx2: bits 31..62 of ab + 2^30 */
  e = _mm512_srli_epi64(e, 31);
  o = _mm512_slli_epi64(o, 1);
  srdhm = _mm512_mask_blend_epi32((__mmask16)0xAAAA, e, o);
  mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right), one);
  rem = _mm512_and_si512(srdhm, mask);
  thr = _mm512_srai_epi32(mask, 1);
  thr = _mm512_mask_add_epi32(thr, _mm512_cmplt_epi32_mask(srdhm, zero), thr, one);
  q = _mm512_srav_epi32(srdhm, right);
  q = _mm512_mask_add_epi32(q, _mm512_cmpgt_epi32_mask(rem, thr), q, one);
  q = _mm512_add_epi32(q, out_off);
  return _mm512_min_epi32(_mm512_max_epi32(q, vmin), vmax);
}
#endif

#endif
