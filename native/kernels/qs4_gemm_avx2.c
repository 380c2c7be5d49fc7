/* int4-weight GEMM microkernel, AVX2: 4 rows x 16 channels over the packed N16K8 nibbles
 * (qs4_gemm.h). As the int8 AVX2 kernel (qs8_gemm_avx2.c: int16 products pairwise into int32 by
 * vpmaddwd, two passes of 8 channels); each 32-byte load of one pass holds two k-groups, split
 * in registers: low nibbles (and 0x0F), high nibbles (a 16-bit shift by 4, and 0x0F), each sign
 * extended as (v ^ 8) - 8, then widened to int16. */
#include <string.h>

#include "pe_requant_x86.h"
#include "qs4_gemm.h"

static inline __m256i bcast4(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm256_broadcastq_epi64(_mm_cvtepu8_epi16(_mm_cvtsi32_si128(v)));
}

static inline __m256i fold(__m256i lo, __m256i hi) {
  return _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo, hi), 0xD8);
}

static inline __m256i sext4(__m256i v) {
  const __m256i e = _mm256_set1_epi8(8);
  return _mm256_sub_epi8(_mm256_xor_si256(v, e), e);
}

void pe_qs4_gemm_4x16c8__avx2(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride, const int32_t *rowadd) {
  const uint8_t *a0 = a, *a1 = mr > 1 ? a0 + a_stride : a0, *a2 = mr > 2 ? a1 + a_stride : a1;
  const uint8_t *a3 = mr > 3 ? a2 + a_stride : a2;
  const __m256i voff = _mm256_set1_epi32(output_offset);
  const __m256i vmin = _mm256_set1_epi32(act_min), vmax = _mm256_set1_epi32(act_max);
  const __m256i mask = _mm256_set1_epi8(0x0F);
  __m256i out[4][2];
  int half;
  size_t k, r;
  for (half = 0; half < 2; ++half) {
    const int8_t *wp = w + half * 32;
    __m256i l0 = _mm256_setzero_si256(), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0;
    const __m256i vi = _mm256_loadu_si256((const __m256i *)(init + 8 * half));
    const __m256i vm = _mm256_loadu_si256((const __m256i *)(mult + 8 * half));
    const __m256i vs = _mm256_loadu_si256((const __m256i *)(shift + 8 * half));
#define PE_KGROUP(wv, kk)                                                                   \
  {                                                                                         \
    const __m256i wl = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(wv));                    \
    const __m256i wh = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(wv, 1));               \
    __m256i x = bcast4(a0 + (kk));                                                          \
    l0 = _mm256_add_epi32(l0, _mm256_madd_epi16(wl, x));                                    \
    h0 = _mm256_add_epi32(h0, _mm256_madd_epi16(wh, x));                                    \
    x = bcast4(a1 + (kk));                                                                  \
    l1 = _mm256_add_epi32(l1, _mm256_madd_epi16(wl, x));                                    \
    h1 = _mm256_add_epi32(h1, _mm256_madd_epi16(wh, x));                                    \
    x = bcast4(a2 + (kk));                                                                  \
    l2 = _mm256_add_epi32(l2, _mm256_madd_epi16(wl, x));                                    \
    h2 = _mm256_add_epi32(h2, _mm256_madd_epi16(wh, x));                                    \
    x = bcast4(a3 + (kk));                                                                  \
    l3 = _mm256_add_epi32(l3, _mm256_madd_epi16(wl, x));                                    \
    h3 = _mm256_add_epi32(h3, _mm256_madd_epi16(wh, x));                                    \
  }
    for (k = 0; k + 8 <= kp; k += 8, wp += 64) {
      const __m256i v = _mm256_loadu_si256((const __m256i *)wp);
      const __m256i lo = sext4(_mm256_and_si256(v, mask));
      const __m256i hi = sext4(_mm256_and_si256(_mm256_srli_epi16(v, 4), mask));
      PE_KGROUP(lo, k)
      PE_KGROUP(hi, k + 4)
    }
    if (k < kp) { /* a last lone k-group: low nibbles only */
      const __m256i lo = sext4(_mm256_and_si256(_mm256_loadu_si256((const __m256i *)wp), mask));
      PE_KGROUP(lo, k)
    }
#undef PE_KGROUP
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

/* One row x 16 channels (batch-1 FULLY_CONNECTED): the 4-row tile would compute three rows for
 * nothing. Each pair of k-groups is two 32-byte loads (channels 0-7, 8-15), split into nibbles;
 * the two k-groups go to independent accumulators. */
void pe_qs4_gemm_1x16c8__avx2(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride, const int32_t *rowadd) {
  const __m256i voff = _mm256_set1_epi32(output_offset);
  const __m256i vmin = _mm256_set1_epi32(act_min), vmax = _mm256_set1_epi32(act_max);
  const __m256i mask = _mm256_set1_epi8(0x0F);
  /* channels 0-3, 4-7, 8-11, 12-15: lanes hold pair sums */
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
  __m256i lo, hi;
  size_t k;
  (void)mr;
  (void)a_stride;
  (void)c_stride;
#define PE_MAC4(a0, a1, a2, a3, v0, v1, x)                                                           \
  a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(v0)), x));  \
  a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(v0, 1)), x)); \
  a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(v1)), x));  \
  a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(v1, 1)), x));
  for (k = 0; k + 8 <= kp; k += 8, w += 64) {
    const __m256i v0 = _mm256_loadu_si256((const __m256i *)w), v1 = _mm256_loadu_si256((const __m256i *)(w + 32));
    const __m256i x = bcast4(a + k), y = bcast4(a + k + 4);
    const __m256i l0 = sext4(_mm256_and_si256(v0, mask)), l1 = sext4(_mm256_and_si256(v1, mask));
    const __m256i h0 = sext4(_mm256_and_si256(_mm256_srli_epi16(v0, 4), mask));
    const __m256i h1 = sext4(_mm256_and_si256(_mm256_srli_epi16(v1, 4), mask));
    PE_MAC4(s0, s1, s2, s3, l0, l1, x)
    PE_MAC4(t0, t1, t2, t3, h0, h1, y)
  }
  if (k < kp) {
    const __m256i x = bcast4(a + k);
    const __m256i l0 = sext4(_mm256_and_si256(_mm256_loadu_si256((const __m256i *)w), mask));
    const __m256i l1 = sext4(_mm256_and_si256(_mm256_loadu_si256((const __m256i *)(w + 32)), mask));
    PE_MAC4(s0, s1, s2, s3, l0, l1, x)
  }
#undef PE_MAC4
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
