/* int8 GEMM microkernel, AVX2: 4 rows x 16 channels over the packed N16K4 layout (qs8_gemm.h).
 * Exact int16 arithmetic: activations (uint8, 0..255) and weights (int8) widened to int16 and
 * multiplied pairwise by vpmaddwd into int32 (never vpmaddubsw, whose int16 pair sums saturate).
 * Each int32 lane holds half of one channel's k-group; the halves are added at the end. The 16
 * channels go in two passes of 8 so that the 4 x 2 accumulators, 4 activation vectors and 2
 * weight vectors fit the 16 ymm registers. */
#include <string.h>

#include "pe_requant_x86.h"
#include "qs8_gemm.h"

/* 4 uint8 of a row as 4 int16, repeated in every 64-bit lane */
static inline __m256i bcast4(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm256_broadcastq_epi64(_mm_cvtepu8_epi16(_mm_cvtsi32_si128(v)));
}

/* 8 channels' sums from the pair lanes of channels 0-3 (lo) and 4-7 (hi) */
static inline __m256i fold(__m256i lo, __m256i hi) {
  return _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo, hi), 0xD8);
}

void pe_qs8_gemm_4x16c4__avx2(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd) {
  const uint8_t *a0 = a, *a1 = mr > 1 ? a0 + a_stride : a0, *a2 = mr > 2 ? a1 + a_stride : a1;
  const uint8_t *a3 = mr > 3 ? a2 + a_stride : a2;
  const __m256i voff = _mm256_set1_epi32(output_offset);
  const __m256i vmin = _mm256_set1_epi32(act_min), vmax = _mm256_set1_epi32(act_max);
  __m256i out[4][2];
  int half;
  size_t k, r;
  for (half = 0; half < 2; ++half) {
    const int8_t *wp = w + half * 32;
    __m256i l0 = _mm256_setzero_si256(), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0;
    const __m256i vi = _mm256_loadu_si256((const __m256i *)(init + 8 * half));
    const __m256i vm = _mm256_loadu_si256((const __m256i *)(mult + 8 * half));
    const __m256i vs = _mm256_loadu_si256((const __m256i *)(shift + 8 * half));
    for (k = 0; k < kp; k += 4, wp += 64) {
      const __m256i wl = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wp));
      const __m256i wh = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wp + 16)));
      __m256i x = bcast4(a0 + k);
      l0 = _mm256_add_epi32(l0, _mm256_madd_epi16(wl, x));
      h0 = _mm256_add_epi32(h0, _mm256_madd_epi16(wh, x));
      x = bcast4(a1 + k);
      l1 = _mm256_add_epi32(l1, _mm256_madd_epi16(wl, x));
      h1 = _mm256_add_epi32(h1, _mm256_madd_epi16(wh, x));
      x = bcast4(a2 + k);
      l2 = _mm256_add_epi32(l2, _mm256_madd_epi16(wl, x));
      h2 = _mm256_add_epi32(h2, _mm256_madd_epi16(wh, x));
      x = bcast4(a3 + k);
      l3 = _mm256_add_epi32(l3, _mm256_madd_epi16(wl, x));
      h3 = _mm256_add_epi32(h3, _mm256_madd_epi16(wh, x));
    }
#define PE_RADD(r) _mm256_set1_epi32(rowadd != NULL && mr > (r) ? rowadd[r] : 0)
    out[0][half] = pe_requant8_avx2(_mm256_add_epi32(_mm256_add_epi32(vi, PE_RADD(0)), fold(l0, h0)), vm, vs, voff, vmin, vmax);
    out[1][half] = pe_requant8_avx2(_mm256_add_epi32(_mm256_add_epi32(vi, PE_RADD(1)), fold(l1, h1)), vm, vs, voff, vmin, vmax);
    out[2][half] = pe_requant8_avx2(_mm256_add_epi32(_mm256_add_epi32(vi, PE_RADD(2)), fold(l2, h2)), vm, vs, voff, vmin, vmax);
    out[3][half] = pe_requant8_avx2(_mm256_add_epi32(_mm256_add_epi32(vi, PE_RADD(3)), fold(l3, h3)), vm, vs, voff, vmin, vmax);
#undef PE_RADD
  }
  for (r = 0; r < mr; ++r, c += c_stride) {
    const __m128i v = pe_pack16_s8_avx2(out[r][0], out[r][1]);
    if (nc == 16) {
      _mm_storeu_si128((__m128i *)c, v);
    } else {
      int8_t tmp[16];
      _mm_storeu_si128((__m128i *)tmp, v);
      memcpy(c, tmp, nc);
    }
  }
}

/* One row x 16 channels (a single token, a batch-1 FULLY_CONNECTED): the 4-row tile would compute
 * three rows for nothing. Two independent accumulator pairs over alternate k-groups hide the
 * add latency; int32 sums wrap, so the order of the additions does not change the result. */
void pe_qs8_gemm_1x16c4__avx2(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd) {
  const __m256i voff = _mm256_set1_epi32(output_offset);
  const __m256i vmin = _mm256_set1_epi32(act_min), vmax = _mm256_set1_epi32(act_max);
  /* channels 0-3, 4-7, 8-11, 12-15: lanes hold pair sums */
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
  __m256i lo, hi;
  size_t k = 0;
  (void)mr;
  (void)a_stride;
  (void)c_stride;
  for (; k + 8 <= kp; k += 8, w += 128) {
    const __m256i x = bcast4(a + k), y = bcast4(a + k + 4);
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w)), x));
    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 16))), x));
    s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 32))), x));
    s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 48))), x));
    t0 = _mm256_add_epi32(t0, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 64))), y));
    t1 = _mm256_add_epi32(t1, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 80))), y));
    t2 = _mm256_add_epi32(t2, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 96))), y));
    t3 = _mm256_add_epi32(t3, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 112))), y));
  }
  if (k < kp) {
    const __m256i x = bcast4(a + k);
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w)), x));
    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 16))), x));
    s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 32))), x));
    s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 48))), x));
  }
  s0 = _mm256_add_epi32(s0, t0);
  s1 = _mm256_add_epi32(s1, t1);
  s2 = _mm256_add_epi32(s2, t2);
  s3 = _mm256_add_epi32(s3, t3);
  lo = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)init), fold(s0, s1));
  hi = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(init + 8)), fold(s2, s3));
  if (rowadd != NULL) {
    lo = _mm256_add_epi32(lo, _mm256_set1_epi32(rowadd[0]));
    hi = _mm256_add_epi32(hi, _mm256_set1_epi32(rowadd[0]));
  }
  lo = pe_requant8_avx2(lo, _mm256_loadu_si256((const __m256i *)mult), _mm256_loadu_si256((const __m256i *)shift),
                        voff, vmin, vmax);
  hi = pe_requant8_avx2(hi, _mm256_loadu_si256((const __m256i *)(mult + 8)),
                        _mm256_loadu_si256((const __m256i *)(shift + 8)), voff, vmin, vmax);
  {
    const __m128i v = pe_pack16_s8_avx2(lo, hi);
    if (nc == 16) {
      _mm_storeu_si128((__m128i *)c, v);
    } else {
      int8_t tmp[16];
      _mm_storeu_si128((__m128i *)tmp, v);
      memcpy(c, tmp, nc);
    }
  }
}

/* The panel's flip copy (qs8_gemm.h), 32 bytes at a time. Copying (dst and src apart), the tail
   is one overlapping vector or word ending at n (the bytes written twice get the same value); in
   place, the last bytes go one by one, as in the scalar twin. */
void pe_qs8_flip__avx2(uint8_t *dst, const int8_t *src, size_t n, uint8_t flip) {
  const __m256i f = _mm256_set1_epi8((char)flip);
  size_t i = 0;
  if (n >= 32) {
    for (; i + 32 <= n; i += 32)
      _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(src + i)), f));
    if (i == n) return;
    if ((const void *)dst != (const void *)src) {
      _mm256_storeu_si256((__m256i *)(dst + n - 32),
                          _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(src + n - 32)), f));
      return;
    }
  }
  if (n - i >= 16 && (const void *)dst != (const void *)src) {
    const __m128i f16 = _mm256_castsi256_si128(f);
    _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(_mm_loadu_si128((const __m128i *)(src + i)), f16));
    _mm_storeu_si128((__m128i *)(dst + n - 16), _mm_xor_si128(_mm_loadu_si128((const __m128i *)(src + n - 16)), f16));
    return;
  }
  pe_qs8_flip_inline(dst + i, src + i, n - i, flip);
}
