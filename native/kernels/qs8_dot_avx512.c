/* Row dot products, AVX-512 (F + BW; contract in qs8_dot.h): as the AVX2 kernels with 32
 * elements per step; the tail is one masked step, so no scalar loop is left. */
#include <immintrin.h>

#include "qs8_dot.h"

static inline __m512i load32_s8(const int8_t *p, __mmask32 m) {
  return _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p));
}

void pe_qs8_dot_rows_4x32__avx512(size_t rows, size_t k, const int8_t *w, size_t w_stride, const int8_t *x,
                                  int32_t x_zero_point, int32_t *out) {
  const __m512i zp = _mm512_set1_epi16((int16_t)x_zero_point);
  const size_t kv = k & ~(size_t)31;
  const __mmask32 tail = (__mmask32)(((uint64_t)1 << (k - kv)) - 1u);
  size_t r = 0, c;
  /* masked-off lanes load 0 for w, so whatever x - zp is there they add nothing */
  for (; r + 4 <= rows; r += 4) {
    const int8_t *w0 = w + r * w_stride, *w1 = w0 + w_stride, *w2 = w1 + w_stride, *w3 = w2 + w_stride;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (c = 0; c <= kv; c += 32) {
      const __mmask32 m = c < kv ? (__mmask32)0xFFFFFFFFu : tail;
      __m512i xv;
      if (m == 0) break;
      xv = _mm512_sub_epi16(load32_s8(x + c, m), zp);
      a0 = _mm512_add_epi32(a0, _mm512_madd_epi16(load32_s8(w0 + c, m), xv));
      a1 = _mm512_add_epi32(a1, _mm512_madd_epi16(load32_s8(w1 + c, m), xv));
      a2 = _mm512_add_epi32(a2, _mm512_madd_epi16(load32_s8(w2 + c, m), xv));
      a3 = _mm512_add_epi32(a3, _mm512_madd_epi16(load32_s8(w3 + c, m), xv));
    }
    out[r] = _mm512_reduce_add_epi32(a0);
    out[r + 1] = _mm512_reduce_add_epi32(a1);
    out[r + 2] = _mm512_reduce_add_epi32(a2);
    out[r + 3] = _mm512_reduce_add_epi32(a3);
  }
  for (; r < rows; ++r) {
    const int8_t *wr = w + r * w_stride;
    __m512i a = _mm512_setzero_si512();
    for (c = 0; c <= kv; c += 32) {
      const __mmask32 m = c < kv ? (__mmask32)0xFFFFFFFFu : tail;
      if (m == 0) break;
      a = _mm512_add_epi32(a, _mm512_madd_epi16(load32_s8(wr + c, m), _mm512_sub_epi16(load32_s8(x + c, m), zp)));
    }
    out[r] = _mm512_reduce_add_epi32(a);
  }
}

void pe_qs16_dot_pairs_32__avx512(size_t rows, size_t k, const int16_t *a, const int16_t *b, size_t stride,
                                  int32_t *out) {
  const size_t kv = k & ~(size_t)31;
  const __mmask32 tail = (__mmask32)(((uint64_t)1 << (k - kv)) - 1u);
  size_t r, c;
  for (r = 0; r < rows; ++r) {
    const int16_t *ar = a + r * stride, *br = b + r * stride;
    __m512i acc = _mm512_setzero_si512();
    for (c = 0; c <= kv; c += 32) {
      const __mmask32 m = c < kv ? (__mmask32)0xFFFFFFFFu : tail;
      if (m == 0) break;
      acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maskz_loadu_epi16(m, ar + c),
                                                    _mm512_maskz_loadu_epi16(m, br + c)));
    }
    out[r] = _mm512_reduce_add_epi32(acc);
  }
}
