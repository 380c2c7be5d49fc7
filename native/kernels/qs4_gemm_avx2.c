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
