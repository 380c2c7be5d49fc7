/* 16x8 window dot products, AVX2 (contract and exactness bound in qs16_dot.h): 16 elements per
 * step (the int8 weights widened with vpmovsxbw, vpmaddwd + vpaddd into int32 lanes), then one
 * 8-element step, then the last elements of a run in int64. */
#include <immintrin.h>
#include <string.h>

#include "qs16_dot.h"

static inline int64_t sum64(__m256i v) {
  const __m256i s = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)),
                                     _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
  const __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  return (int64_t)_mm_cvtsi128_si64(t) + (int64_t)_mm_extract_epi64(t, 1);
}

static inline __m256i w16(const int8_t *p) { return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p)); }
static inline __m128i w8(const int8_t *p) { return _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)p)); }
#define MAC(a, w, x) _mm256_add_epi32((a), _mm256_madd_epi16((w), (x)))
#define MAC8(a, w, x) _mm256_add_epi32((a), _mm256_zextsi128_si256(_mm_madd_epi16((w), (x))))

void pe_qs16_dot_4c__avx2(const pe_qs16_window *w, const int16_t *x, const int8_t *f, size_t f_stride,
                          size_t nc, int64_t *acc) {
  const int8_t *fs[4];
  const int32_t len = w->len;
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  int64_t s[4] = {0, 0, 0, 0};
  int32_t r, q, i, steps = 0;
  size_t j;
  for (j = 0; j < 4; ++j) fs[j] = f + (j < nc ? j : 0) * f_stride; /* missing filters repeat filter 0 */
  for (r = 0; r < w->rows; ++r)
    for (q = 0; q < w->runs; ++q) {
      const int16_t *xr = x + (ptrdiff_t)r * w->in_row + (ptrdiff_t)q * w->in_run;
      const ptrdiff_t off = (ptrdiff_t)r * w->f_row + (ptrdiff_t)q * w->f_run;
      const int8_t *g0 = fs[0] + off, *g1 = fs[1] + off, *g2 = fs[2] + off, *g3 = fs[3] + off;
      for (i = 0; i + 16 <= len; i += 16) {
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(xr + i));
        a0 = MAC(a0, w16(g0 + i), xv);
        a1 = MAC(a1, w16(g1 + i), xv);
        a2 = MAC(a2, w16(g2 + i), xv);
        a3 = MAC(a3, w16(g3 + i), xv);
        if (++steps == PE_QS16_DOT_FLUSH) {
          s[0] += sum64(a0);
          s[1] += sum64(a1);
          s[2] += sum64(a2);
          s[3] += sum64(a3);
          a0 = a1 = a2 = a3 = _mm256_setzero_si256();
          steps = 0;
        }
      }
      if (i + 8 <= len) {
        const __m128i xv = _mm_loadu_si128((const __m128i *)(xr + i));
        a0 = MAC8(a0, w8(g0 + i), xv);
        a1 = MAC8(a1, w8(g1 + i), xv);
        a2 = MAC8(a2, w8(g2 + i), xv);
        a3 = MAC8(a3, w8(g3 + i), xv);
        i += 8;
        if (++steps == PE_QS16_DOT_FLUSH) {
          s[0] += sum64(a0);
          s[1] += sum64(a1);
          s[2] += sum64(a2);
          s[3] += sum64(a3);
          a0 = a1 = a2 = a3 = _mm256_setzero_si256();
          steps = 0;
        }
      }
      for (; i < len; ++i) {
        const int32_t xi = xr[i];
        s[0] += (int32_t)g0[i] * xi;
        s[1] += (int32_t)g1[i] * xi;
        s[2] += (int32_t)g2[i] * xi;
        s[3] += (int32_t)g3[i] * xi;
      }
    }
  s[0] += sum64(a0);
  s[1] += sum64(a1);
  s[2] += sum64(a2);
  s[3] += sum64(a3);
  for (j = 0; j < nc; ++j) acc[j] = s[j];
}

/* depthwise: 8 channels per vector (int16 and int8 widened to int32, vpmulld), the last channels
   in int64 */
static inline void flush8(__m256i a, int64_t *acc) {
  _mm256_storeu_si256((__m256i *)acc, _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)acc),
                                                       _mm256_cvtepi32_epi64(_mm256_castsi256_si128(a))));
  _mm256_storeu_si256((__m256i *)(acc + 4),
                      _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)(acc + 4)),
                                       _mm256_cvtepi32_epi64(_mm256_extracti128_si256(a, 1))));
}

void pe_qs16_dw_px__avx2(const pe_qs16_taps *t, const int16_t *x, const int8_t *f, size_t nch, int64_t *acc) {
  size_t c = 0;
  int32_t r, k;
  for (; c + 8 <= nch; c += 8) {
    __m256i a = _mm256_setzero_si256();
    int32_t steps = 0;
    memset(acc + c, 0, 8 * sizeof(int64_t));
    for (r = 0; r < t->rows; ++r)
      for (k = 0; k < t->cols; ++k) {
        const int16_t *xp = x + (ptrdiff_t)r * t->in_row + (ptrdiff_t)k * t->in_col + (ptrdiff_t)c;
        const int8_t *fp = f + (ptrdiff_t)r * t->f_row + (ptrdiff_t)k * t->f_col + (ptrdiff_t)c;
        const __m256i xv = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)xp));
        const __m256i wv = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)fp));
        a = _mm256_add_epi32(a, _mm256_mullo_epi32(xv, wv));
        if (++steps == PE_QS16_DOT_FLUSH) {
          flush8(a, acc + c);
          a = _mm256_setzero_si256();
          steps = 0;
        }
      }
    flush8(a, acc + c);
  }
  if (c < nch) pe_qs16_dw_px__scalar(t, x + c, f + c, nch - c, acc + c);
}
