/* 16x8 GEMM, AVX-512 (F + BW; contract and exactness bound in qs16_gemm.h): up to 8 rows x 16
 * channels. A k-group's 64 weight bytes widen (vpmovsxbw) to two vectors of 8 channels x 4 k in
 * int16; int32 lane 2c holds channel c's pair (k0, k1), lane 2c + 1 its pair (k2, k3), against
 * the row's 4 activations broadcast as one 64-bit word: vpmaddwd + vpaddd (vpdpwssd when built as
 * qs16_gemm_avx512vnni.c). Every PE_QS16_GEMM_FLUSH k-groups and at the end, each channel's two
 * lanes are added into its int64 sum. Also the int64 requantization (vpmullq, vpsravq). */
#include <immintrin.h>
#include <string.h>

#include "qs16_gemm.h"
#include "qs8_gemm.h"

#if defined(PE_QS16_VNNI)
#define MAC(a, w, x) _mm512_dpwssd_epi32((a), (w), (x))
#define PE_QS16_GEMM_AVX512 pe_qs16_gemm_8x16c4__avx512vnni
#else
#define MAC(a, w, x) _mm512_add_epi32((a), _mm512_madd_epi16((w), (x)))
#define PE_QS16_GEMM_AVX512 pe_qs16_gemm_8x16c4__avx512
#endif

/* c[0..7] += lane pairs of v (channels 0..7 of this half) */
static inline void flush_half(__m512i v, int64_t *c) {
  const __m512i even = _mm512_srai_epi64(_mm512_slli_epi64(v, 32), 32), odd = _mm512_srai_epi64(v, 32);
  _mm512_storeu_si512(c, _mm512_add_epi64(_mm512_loadu_si512(c), _mm512_add_epi64(even, odd)));
}

void PE_QS16_GEMM_AVX512(size_t mr, size_t kp, const int16_t *a, size_t a_stride, const int8_t *w,
                         int64_t *acc) {
  __m512i lo[8], hi[8];
  const int16_t *ar[8];
  size_t r, g = 0;
  for (r = 0; r < 8; ++r) ar[r] = a + (r < mr ? r : 0) * a_stride; /* missing rows repeat row 0, not stored */
  memset(acc, 0, mr * PE_GEMM_NR * sizeof(int64_t));
  while (g < kp) {
    const size_t end = kp - g > PE_QS16_GEMM_FLUSH * PE_GEMM_KR ? g + PE_QS16_GEMM_FLUSH * PE_GEMM_KR : kp;
    for (r = 0; r < 8; ++r) lo[r] = hi[r] = _mm512_setzero_si512();
    if (mr == 8) {
      for (; g < end; g += PE_GEMM_KR, w += PE_GEMM_NR * PE_GEMM_KR) {
        const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)w));
        const __m512i w1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(w + 32)));
        for (r = 0; r < 8; ++r) {
          int64_t q;
          __m512i x;
          memcpy(&q, ar[r] + g, 8);
          x = _mm512_set1_epi64(q);
          lo[r] = MAC(lo[r], w0, x);
          hi[r] = MAC(hi[r], w1, x);
        }
      }
    } else {
      for (; g < end; g += PE_GEMM_KR, w += PE_GEMM_NR * PE_GEMM_KR) {
        const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)w));
        const __m512i w1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(w + 32)));
        for (r = 0; r < mr; ++r) {
          int64_t q;
          __m512i x;
          memcpy(&q, ar[r] + g, 8);
          x = _mm512_set1_epi64(q);
          lo[r] = MAC(lo[r], w0, x);
          hi[r] = MAC(hi[r], w1, x);
        }
      }
    }
    for (r = 0; r < mr; ++r) {
      flush_half(lo[r], acc + r * PE_GEMM_NR);
      flush_half(hi[r], acc + r * PE_GEMM_NR + 8);
    }
  }
}

#if !defined(PE_QS16_VNNI)
/* pe_mbqm64 on 8 lanes: x clamped to +-(2^48 - 1), times the multiplier rounded to 16 bits,
   plus the rounding term, arithmetic shift right by 15 - shift (1..46), truncated to int32. */
static inline __m256i requant8(__m512i x, __m512i b, const int32_t *mult, const int32_t *shift, __mmask8 m) {
  const __m512i lim = _mm512_set1_epi64(((int64_t)1 << 48) - 1);
  const __m256i mu = _mm256_maskz_loadu_epi32(m, mult), sh = _mm256_maskz_loadu_epi32(m, shift);
  /* multiplier < 0x7FFF0000 ? (multiplier + 2^15) >> 16 : 0x7FFF */
  const __m256i red = _mm256_blendv_epi8(
      _mm256_set1_epi32(0x7FFF), _mm256_srai_epi32(_mm256_add_epi32(mu, _mm256_set1_epi32(1 << 15)), 16),
      _mm256_cmpgt_epi32(_mm256_set1_epi32(0x7FFF0000), mu));
  const __m512i total = _mm512_cvtepi32_epi64(_mm256_sub_epi32(_mm256_set1_epi32(15), sh));
  const __m512i round = _mm512_sllv_epi64(_mm512_set1_epi64(1), _mm512_sub_epi64(total, _mm512_set1_epi64(1)));
  __m512i v = _mm512_add_epi64(x, b);
  v = _mm512_min_epi64(_mm512_max_epi64(v, _mm512_sub_epi64(_mm512_setzero_si512(), lim)), lim);
  v = _mm512_add_epi64(_mm512_mullo_epi64(v, _mm512_cvtepi32_epi64(red)), round);
  return _mm512_cvtepi64_epi32(_mm512_srav_epi64(v, total));
}

void pe_qs16_requant64__avx512(size_t nc, const int64_t *acc, const int64_t *bias, const int32_t *mult,
                               const int32_t *shift, int32_t act_min, int32_t act_max, int16_t *out) {
  const __m256i lo = _mm256_set1_epi32(act_min), hi = _mm256_set1_epi32(act_max);
  size_t n;
  for (n = 0; n < nc; n += 8) {
    const __mmask8 m = nc - n >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (nc - n)) - 1u);
    const __m512i x = _mm512_maskz_loadu_epi64(m, acc + n);
    const __m512i b = bias != NULL ? _mm512_maskz_loadu_epi64(m, bias + n) : _mm512_setzero_si512();
    const __m256i y = _mm256_min_epi32(_mm256_max_epi32(requant8(x, b, mult + n, shift + n, m), lo), hi);
    _mm_mask_storeu_epi16(out + n, m, _mm256_cvtepi32_epi16(y));
  }
}
#endif
