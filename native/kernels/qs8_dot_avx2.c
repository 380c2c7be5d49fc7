/* Row dot products, AVX2 (contract in qs8_dot.h): int8 rows four at a time against one
 * sign-extended, offset input vector of 16 (vpmaddwd into int32 lanes); int16 pairs 16 at a
 * time. Tails go through the scalar twin's arithmetic. */
#include <immintrin.h>
#include <string.h>

#include "qs8_dot.h"

static inline int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

static inline __m256i load16_s8(const int8_t *p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)p));
}

void pe_qs8_dot_rows_4x16__avx2(size_t rows, size_t k, const int8_t *w, size_t w_stride, const int8_t *x,
                                int32_t x_zero_point, int32_t *out) {
  const __m256i zp = _mm256_set1_epi16((int16_t)x_zero_point);
  const size_t kv = k & ~(size_t)15;
  size_t r = 0, c;
  for (; r + 4 <= rows; r += 4) {
    const int8_t *w0 = w + r * w_stride, *w1 = w0 + w_stride, *w2 = w1 + w_stride, *w3 = w2 + w_stride;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    uint32_t t0, t1, t2, t3;
    for (c = 0; c < kv; c += 16) {
      const __m256i xv = _mm256_sub_epi16(load16_s8(x + c), zp);
      a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(load16_s8(w0 + c), xv));
      a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(load16_s8(w1 + c), xv));
      a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(load16_s8(w2 + c), xv));
      a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(load16_s8(w3 + c), xv));
    }
    t0 = (uint32_t)hsum(a0);
    t1 = (uint32_t)hsum(a1);
    t2 = (uint32_t)hsum(a2);
    t3 = (uint32_t)hsum(a3);
    for (; c < k; ++c) {
      const int32_t xc = (int32_t)x[c] - x_zero_point;
      t0 += (uint32_t)((int32_t)w0[c] * xc);
      t1 += (uint32_t)((int32_t)w1[c] * xc);
      t2 += (uint32_t)((int32_t)w2[c] * xc);
      t3 += (uint32_t)((int32_t)w3[c] * xc);
    }
    out[r] = (int32_t)t0;
    out[r + 1] = (int32_t)t1;
    out[r + 2] = (int32_t)t2;
    out[r + 3] = (int32_t)t3;
  }
  for (; r < rows; ++r) {
    const int8_t *wr = w + r * w_stride;
    __m256i a = _mm256_setzero_si256();
    uint32_t t;
    for (c = 0; c < kv; c += 16)
      a = _mm256_add_epi32(a, _mm256_madd_epi16(load16_s8(wr + c), _mm256_sub_epi16(load16_s8(x + c), zp)));
    t = (uint32_t)hsum(a);
    for (; c < k; ++c) t += (uint32_t)((int32_t)wr[c] * ((int32_t)x[c] - x_zero_point));
    out[r] = (int32_t)t;
  }
}

void pe_qs16_dot_pairs_16__avx2(size_t rows, size_t k, const int16_t *a, const int16_t *b, size_t stride,
                                int32_t *out) {
  const size_t kv = k & ~(size_t)15;
  size_t r, c;
  for (r = 0; r < rows; ++r) {
    const int16_t *ar = a + r * stride, *br = b + r * stride;
    __m256i acc = _mm256_setzero_si256();
    uint32_t t;
    for (c = 0; c < kv; c += 16)
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(ar + c)),
                                                    _mm256_loadu_si256((const __m256i *)(const void *)(br + c))));
    t = (uint32_t)hsum(acc);
    for (; c < k; ++c) t += (uint32_t)((int32_t)ar[c] * (int32_t)br[c]);
    out[r] = (int32_t)t;
  }
}
