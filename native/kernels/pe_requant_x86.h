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
#include <stddef.h>
#include <stdint.h>

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
/* 16 lanes, as one 64-bit step per lane. With P = (acc << left) * mult (exact, 64-bit) and the
 * right shift r, TFLite's two roundings are one floor:
 *   y = SRDHM = floor((P + 2^30) / 2^31)                        (as pe_requant8_avx2)
 *   RoundingDivideByPOT(y, r) = floor((y + 2^(r-1) - [y < 0]) / 2^r)   for r >= 1 (y for r = 0):
 *     the remainder is rounded up from 2^(r-1) for y >= 0 and from 2^(r-1) + 1 for y < 0 (ties
 *     away from zero), and floor((floor(a / m) + b) / n) = floor((a + b m) / (m n)) for integer b,
 * so the result is floor((P + C - [P < -2^30] D) / 2^(31 + r)), C = 2^30 + 2^(30+r) and D = 2^31
 * for r >= 1, C = 2^30 and D = 0 for r = 0 ([y < 0] is [P + 2^30 < 0]). |P| < 2^62 and
 * C < 2^62: no 64-bit overflow. Per 16 lanes: a shift, two multiplies, two compares, two adds,
 * two masked subtracts, two arithmetic shifts and one merge (the left shift and the offset
 * add only where needed), with every per-channel term (pe_rq16) computed once per block. */
typedef struct {
  __m512i left;          /* max(shift, 0) per int32 lane */
  __m512i mult_e, mult_o; /* the multipliers of the even lanes (low halves) and odd lanes */
  __m512i c_e, c_o, d_e, d_o, s_e, s_o; /* C, D and 31 + r per 64-bit lane, even and odd */
  __m512i off;           /* the output offset, when not folded into C */
  int left_any;          /* some lane shifts left */
  int off_folded;        /* C includes off * 2^(31 + r) */
} pe_rq16;

/* The output offset folds into C as off * 2^(31 + r) when every lane has r <= 22 and
   |off| <= 128 (an int8 zero point; INT32_MIN's absolute value is itself, above 128): then
   |P| + C + |off| 2^(31 + r) < 2^62 + 2^61 + 2^61 stays inside int64, and the low 32 bits of
   the 64-bit result are q + off with int32 wrap-around, as TFLite adds it. */
static inline pe_rq16 pe_rq16_prepare(__m512i mult, __m512i shift, __m512i out_off) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i lo32 = _mm512_set1_epi64(0xFFFFFFFFll);
  const __m512i right = _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero);
  const __m512i r_e = _mm512_and_si512(right, lo32), r_o = _mm512_srli_epi64(right, 32);
  const __m512i one = _mm512_set1_epi64(1), half = _mm512_set1_epi64(1ll << 30), d = _mm512_set1_epi64(1ll << 31);
  const __mmask8 pe = _mm512_test_epi64_mask(r_e, r_e), po = _mm512_test_epi64_mask(r_o, r_o);
  pe_rq16 q;
  q.left = _mm512_max_epi32(shift, zero);
  q.left_any = _mm512_test_epi32_mask(q.left, q.left) != 0;
  q.mult_e = mult;
  q.mult_o = _mm512_srli_epi64(mult, 32);
  q.c_e = _mm512_mask_add_epi64(half, pe, half, _mm512_sllv_epi64(one, _mm512_add_epi64(r_e, _mm512_set1_epi64(30))));
  q.c_o = _mm512_mask_add_epi64(half, po, half, _mm512_sllv_epi64(one, _mm512_add_epi64(r_o, _mm512_set1_epi64(30))));
  q.d_e = _mm512_maskz_mov_epi64(pe, d);
  q.d_o = _mm512_maskz_mov_epi64(po, d);
  q.s_e = _mm512_add_epi64(r_e, _mm512_set1_epi64(31));
  q.s_o = _mm512_add_epi64(r_o, _mm512_set1_epi64(31));
  q.off = out_off;
  q.off_folded = _mm512_cmpgt_epi32_mask(right, _mm512_set1_epi32(22)) == 0 &&
                 _mm512_cmpgt_epu32_mask(_mm512_abs_epi32(out_off), _mm512_set1_epi32(128)) == 0;
  if (q.off_folded) {
    const __m512i off_e = _mm512_srai_epi64(_mm512_slli_epi64(out_off, 32), 32); /* sign-extended */
    const __m512i off_o = _mm512_srai_epi64(out_off, 32);
    q.c_e = _mm512_add_epi64(q.c_e, _mm512_sllv_epi64(off_e, q.s_e));
    q.c_o = _mm512_add_epi64(q.c_o, _mm512_sllv_epi64(off_o, q.s_o));
  }
  return q;
}

/* MultiplyByQuantizedMultiplier(acc) + the output offset per lane (int32 wrap-around), not
   clamped */
static inline __m512i pe_rq16_apply(const pe_rq16 *q, __m512i acc) {
  const __m512i neg = _mm512_set1_epi64(-(1ll << 30));
  const __m512i x = q->left_any ? _mm512_sllv_epi32(acc, q->left) : acc;
  __m512i e = _mm512_mul_epi32(x, q->mult_e), o = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), q->mult_o);
  const __mmask8 ne = _mm512_cmplt_epi64_mask(e, neg), no = _mm512_cmplt_epi64_mask(o, neg);
  e = _mm512_add_epi64(e, q->c_e);
  o = _mm512_add_epi64(o, q->c_o);
  e = _mm512_srav_epi64(_mm512_mask_sub_epi64(e, ne, e, q->d_e), q->s_e);
  o = _mm512_srav_epi64(_mm512_mask_sub_epi64(o, no, o, q->d_o), q->s_o);
  /* the odd lanes' results from the low halves of o's 64-bit lanes */
  e = _mm512_mask_shuffle_epi32(e, (__mmask16)0xAAAA, o, _MM_PERM_CDAB);
  return q->off_folded ? e : _mm512_add_epi32(e, q->off);
}

/* 16 lanes with their own multipliers and shifts, the terms computed per call (per-element
   multipliers; a loop over the same channels prepares them once: pe_rq16_prepare). */
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

#ifdef __AVX512BW__
/* Four rows of 16 requantized int32 lanes (pe_rq16_apply: offset added, not clamped) to int8,
 * clamped to [vmin, vmax] (int8 in every byte): row j's 16 bytes in 128-bit lane j of the
 * result. The saturating packs and the byte clamp give clamp(q, lo, hi) for any int32 q, since
 * lo and hi are int8: saturation is monotone and leaves [-128, 127] alone. */
static inline __m512i pe_pack4x16_s8(__m512i q0, __m512i q1, __m512i q2, __m512i q3, __m512i vmin,
                                     __m512i vmax) {
  /* packs work within 128-bit lanes: lane i of b holds channels 4i..4i+3 of q0, q1, q2, q3 */
  const __m512i b = _mm512_packs_epi16(_mm512_packs_epi32(q0, q1), _mm512_packs_epi32(q2, q3));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_min_epi8(_mm512_max_epi8(_mm512_permutexvar_epi32(order, b), vmin), vmax);
}

/* Rows 0 .. min(mr, 4) - 1 of a pe_pack4x16_s8 result: row j from 128-bit lane j, nc bytes
   (plain stores for all 16: masked stores are slow on some cores, Zen 4) */
static inline void pe_store4x16_s8(int8_t *c, size_t c_stride, size_t mr, size_t nc, __m512i b) {
  const __mmask16 m = (__mmask16)((1u << nc) - 1u);
  const __m128i r0 = _mm512_castsi512_si128(b), r1 = _mm512_extracti32x4_epi32(b, 1);
  const __m128i r2 = _mm512_extracti32x4_epi32(b, 2), r3 = _mm512_extracti32x4_epi32(b, 3);
  if (nc == 16) {
    _mm_storeu_si128((__m128i *)c, r0);
    if (mr > 1) _mm_storeu_si128((__m128i *)(c + c_stride), r1);
    if (mr > 2) _mm_storeu_si128((__m128i *)(c + 2 * c_stride), r2);
    if (mr > 3) _mm_storeu_si128((__m128i *)(c + 3 * c_stride), r3);
    return;
  }
  _mm_mask_storeu_epi8(c, m, r0);
  if (mr > 1) _mm_mask_storeu_epi8(c + c_stride, m, r1);
  if (mr > 2) _mm_mask_storeu_epi8(c + 2 * c_stride, m, r2);
  if (mr > 3) _mm_mask_storeu_epi8(c + 3 * c_stride, m, r3);
}

/* The end of an 8-row x 16-channel GEMM tile (qs8_gemm.h's contract): the rows' rowadd terms
   (uint8 weights; NULL: none), requantization with the block's 16 multipliers and shifts, and
   rows 0 .. mr - 1 stored, nc bytes each. */
static inline void pe_gemm_tail8x16_avx512(__m512i acc[8], size_t mr, size_t nc, const int32_t *mult,
                                          const int32_t *shift, int32_t output_offset, int32_t act_min,
                                          int32_t act_max, const int32_t *rowadd, int8_t *c, size_t c_stride) {
  const __m512i vmin = _mm512_set1_epi8((char)act_min), vmax = _mm512_set1_epi8((char)act_max);
  pe_rq16 q;
  size_t r;
  if (rowadd != NULL)
    for (r = 0; r < mr; ++r) acc[r] = _mm512_add_epi32(acc[r], _mm512_set1_epi32(rowadd[r]));
  q = pe_rq16_prepare(_mm512_loadu_si512((const void *)mult), _mm512_loadu_si512((const void *)shift),
                      _mm512_set1_epi32(output_offset));
  pe_store4x16_s8(c, c_stride, mr, nc,
                  pe_pack4x16_s8(pe_rq16_apply(&q, acc[0]), pe_rq16_apply(&q, acc[1]), pe_rq16_apply(&q, acc[2]),
                                 pe_rq16_apply(&q, acc[3]), vmin, vmax));
  if (mr > 4)
    pe_store4x16_s8(c + 4 * c_stride, c_stride, mr - 4, nc,
                    pe_pack4x16_s8(pe_rq16_apply(&q, acc[4]), pe_rq16_apply(&q, acc[5]),
                                   pe_rq16_apply(&q, acc[6]), pe_rq16_apply(&q, acc[7]), vmin, vmax));
}
#endif
#endif

#endif
