/* 16x8 GEMM, AVX2 (contract and exactness bound in qs16_gemm.h): up to 2 rows x 16 channels. A
 * k-group's 64 weight bytes widen (vpmovsxbw) to four vectors of 4 channels x 4 k in int16; int32
 * lane 2c holds the channel's pair (k0, k1), lane 2c + 1 its pair (k2, k3), against the row's 4
 * activations broadcast as one 64-bit word (vpmaddwd + vpaddd). At a flush each channel's two
 * lanes are gathered (vpshufd + vpermq) and added in int64. */
#include <immintrin.h>
#include <string.h>

#include "qs16_gemm.h"
#include "qs8_gemm.h"

/* c[0..3] += lane pairs of v (4 channels) */
static inline void flush4(__m256i v, int64_t *c) {
  const __m256i p = _mm256_permute4x64_epi64(_mm256_shuffle_epi32(v, _MM_SHUFFLE(3, 1, 2, 0)), _MM_SHUFFLE(3, 1, 2, 0));
  const __m256i s = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(p)),
                                     _mm256_cvtepi32_epi64(_mm256_extracti128_si256(p, 1)));
  _mm256_storeu_si256((__m256i *)c, _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)c), s));
}

static inline __m256i w16(const int8_t *p) { return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p)); }
static inline __m256i bcast(const int16_t *p) {
  int64_t q;
  memcpy(&q, p, 8);
  return _mm256_set1_epi64x(q);
}
#define MAC(a, w, x) _mm256_add_epi32((a), _mm256_madd_epi16((w), (x)))

void pe_qs16_gemm_2x16c4__avx2(size_t mr, size_t kp, const int16_t *a, size_t a_stride, const int8_t *w,
                               int64_t *acc) {
  const int16_t *a0 = a, *a1 = mr > 1 ? a + a_stride : a; /* a missing row repeats row 0, not stored */
  size_t g = 0;
  memset(acc, 0, mr * PE_GEMM_NR * sizeof(int64_t));
  while (g < kp) {
    const size_t end = kp - g > PE_QS16_GEMM_FLUSH * PE_GEMM_KR ? g + PE_QS16_GEMM_FLUSH * PE_GEMM_KR : kp;
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c02 = c00, c03 = c00;
    __m256i c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    for (; g < end; g += PE_GEMM_KR, w += PE_GEMM_NR * PE_GEMM_KR) {
      const __m256i w0 = w16(w), w1 = w16(w + 16), w2 = w16(w + 32), w3 = w16(w + 48);
      const __m256i x0 = bcast(a0 + g), x1 = bcast(a1 + g);
      c00 = MAC(c00, w0, x0);
      c01 = MAC(c01, w1, x0);
      c02 = MAC(c02, w2, x0);
      c03 = MAC(c03, w3, x0);
      c10 = MAC(c10, w0, x1);
      c11 = MAC(c11, w1, x1);
      c12 = MAC(c12, w2, x1);
      c13 = MAC(c13, w3, x1);
    }
    flush4(c00, acc);
    flush4(c01, acc + 4);
    flush4(c02, acc + 8);
    flush4(c03, acc + 12);
    if (mr > 1) {
      flush4(c10, acc + 16);
      flush4(c11, acc + 20);
      flush4(c12, acc + 24);
      flush4(c13, acc + 28);
    }
  }
}
